"""Generated datasets for a test suite: a scenario or a spec, generated once per set of arguments
and reused (see the ``dicomfab_generate`` fixture of :mod:`dicomfab.pytest_plugin`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dicomfab.output.generate import GenerateResult, generate, iter_files
from dicomfab.output.manifest import Manifest
from dicomfab.scenarios.generate import generate_scenarios
from dicomfab.scenarios.selection import scenario_requests, with_image_size
from dicomfab.studyspec.loading import load_spec, parse_spec
from dicomfab.studyspec.models import Spec

SpecSource = str | Path | Mapping[str, Any] | Spec
"""A scenario name (``str``), a spec file (``Path``), a spec as data (a mapping) or a ``Spec``."""


@dataclass(frozen=True)
class GeneratedDataset:
    """One generated dataset: its folder, its manifest and its DICOM files."""

    path: Path  # <folder>/<dataset name>: dicoms/, jsons/, manifest.json
    manifest: Manifest
    files: list[Path]  # every DICOM file written, in manifest order
    result: GenerateResult

    @classmethod
    def from_result(cls, result: GenerateResult) -> GeneratedDataset:
        return cls(result.path, result.manifest, list(iter_files(result)), result)


def generate_dataset(
    source: SpecSource,
    output: Path,
    *,
    seed: int | None = None,
    set: Mapping[str, Any] | None = None,  # the parameters, as --set gives them
    image_size: str | None = None,
    sites: Path | None = None,
) -> GeneratedDataset:
    """Generate a scenario (by name, with its parameters: ``set`` as ``--set`` takes them,
    ``image_size`` where the scenario has one) or a spec into ``output``; ``seed`` replaces the
    scenario's or the spec's own. In one process (workers=1): a test suite runs its own
    workers."""
    if isinstance(source, str):
        overrides = dict(set or {})
        if image_size is not None and "image_size" not in overrides:
            overrides = with_image_size([source], overrides, image_size)
        (request,) = scenario_requests([source], overrides, seed, sites)
        (result,) = generate_scenarios([request], output, workers=1)
        return GeneratedDataset.from_result(result)
    if set or image_size is not None or sites is not None:
        raise TypeError("set, image_size and sites are scenario parameters: a spec has none")
    spec = _spec(source)
    if seed is not None:
        spec = spec.model_copy(update={"seed": seed})
    return GeneratedDataset.from_result(generate(spec, output, workers=1))


def _spec(source: Path | Mapping[str, Any] | Spec) -> Spec:
    if isinstance(source, Spec):
        return source
    if isinstance(source, Path):
        return load_spec(source)
    return parse_spec(dict(source), source="dicomfab_generate")


def cache_key(source: SpecSource, **options: Any) -> str:
    """The same arguments give the same key (a spec file by its resolved path)."""
    if isinstance(source, Spec):
        what: Any = ["spec", source.model_dump(mode="json")]
    elif isinstance(source, Path):
        what = ["file", str(source.resolve())]
    elif isinstance(source, str):
        what = ["scenario", source]
    else:
        what = ["spec", source]
    return json.dumps([what, options], sort_keys=True, default=str)


class DatasetCache:
    """Generate each distinct set of arguments once, each into a new folder from ``folder()``."""

    def __init__(self, folder: Callable[[], Path]) -> None:
        self._folder = folder
        self._done: dict[str, GeneratedDataset] = {}

    def __call__(
        self,
        source: SpecSource,
        *,
        seed: int | None = None,
        set: Mapping[str, Any] | None = None,
        image_size: str | None = None,
        sites: Path | None = None,
    ) -> GeneratedDataset:
        key = cache_key(source, seed=seed, set=dict(set or {}), image_size=image_size, sites=sites)
        if key not in self._done:
            self._done[key] = generate_dataset(
                source, self._folder(), seed=seed, set=set, image_size=image_size, sites=sites
            )
        return self._done[key]

    @property
    def generated(self) -> int:
        """How many datasets were generated (each distinct set of arguments once)."""
        return len(self._done)
