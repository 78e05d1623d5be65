"""A small job is written in this process, a larger one by worker processes: chosen by the
job's work (instances and pixels), never changing the bytes."""

from __future__ import annotations

import hashlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from dicomfab import generate, parse_spec
from dicomfab.builder.plan import make_plan
from dicomfab.builder.plan_model import Plan
from dicomfab.output import generate as generate_module
from dicomfab.output.generate import small_job


def _sizes(plan: Plan) -> list[tuple[int, int]]:
    return [
        (1, sum(len(se.instances) for s in p.studies for se in s.series)) for p in plan.patients
    ]


def _small(spec: dict[str, Any], start: int = 0) -> bool:
    plan = make_plan(parse_spec(spec))
    return small_job(_sizes(plan), start, lambda i: plan.patients[i])


def _two_studies(pixels: dict[str, Any], count: int = 1) -> dict[str, Any]:
    studies = [{"role": "current"}, {"role": "prior", "date": "-2y"}]
    return {"defaults": {"pixels": pixels}, "patients": [{"count": count, "studies": studies}]}


def test_small_images_are_a_small_job_full_size_ones_are_not() -> None:
    assert _small(_two_studies({"size": "small"}))  # 8 instances of 256 px
    assert not _small(_two_studies({}))  # 8 full-field mammograms (8.5 Mpx each)
    assert not _small(_two_studies({"size": "small"}, count=4))  # 32 instances
    assert _small(_two_studies({}), start=1)  # resumed past its only patient: nothing left


def test_encoded_pixels_weigh_more() -> None:
    native = _two_studies({"rows": 1024, "columns": 832})
    encoded = {**native, "defaults": {**native["defaults"], "transfer_syntax": "jpeg2000-lossless"}}
    assert _small(native)
    assert not _small(encoded)


@pytest.mark.parametrize("limit", [0, generate_module.SMALL_JOB], ids=["pool", "in-process"])
def test_either_way_the_bytes_are_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    spec = parse_spec({**_two_studies({"size": "small"}), "name": "d", "seed": 5})
    reference = generate(spec, tmp_path / "one", workers=1)
    started: list[int] = []

    class Pool(ProcessPoolExecutor):  # the real pool, counted
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            started.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(generate_module, "SMALL_JOB", limit)
    monkeypatch.setattr(generate_module, "ProcessPoolExecutor", Pool)
    other = generate(spec, tmp_path / "two", workers=2)
    assert len(started) == (1 if limit == 0 else 0)

    def digests(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    assert digests(reference.path) == digests(other.path)
