"""pytest fixtures for testing an importer (or a PACS) with dicomfab's scenarios; see
docs/pytest.md.

pytest loads this plugin (entry point ``pytest11: dicomfab``) in every session where dicomfab
is installed, so importing it must cost nothing: dicomfab's modules are imported by the
fixtures, when a test asks for one. It adds no option, hook or warning, and every name it
defines starts with ``dicomfab_``.
"""

from __future__ import annotations

import typing as _typing
from collections.abc import Callable as _Callable
from collections.abc import Iterator as _Iterator

import pytest as _pytest

if _typing.TYPE_CHECKING:
    from dicomfab.testing import DatasetCache, DicomfabOutcome, EmbeddedTarget


@_pytest.fixture(scope="session")
def dicomfab_generate(tmp_path_factory: _pytest.TempPathFactory) -> DatasetCache:
    """``dicomfab_generate(scenario or spec, image_size=, seed=, set=, sites=)`` → a
    :class:`~dicomfab.testing.GeneratedDataset` (``.path``, ``.manifest``, ``.files``):
    generated once per session (per xdist worker) for each distinct set of arguments, into
    pytest's temporary folder, and shared by every test that asks for the same."""
    from dicomfab.testing import DatasetCache

    return DatasetCache(lambda: tmp_path_factory.mktemp("dicomfab-dataset"))


@_pytest.fixture(scope="session")
def dicomfab_embedded_pacs(
    tmp_path_factory: _pytest.TempPathFactory,
) -> _Iterator[EmbeddedTarget]:
    """pynetdicom's qrscp on a free loopback port for the whole session (``.host``,
    ``.port``, ``.ae_title``, ``.database_path``; ``.target`` for ``dicomfab_run``), stopped
    at the end of the session."""
    from dicomfab.targets.embedded import EmbeddedPACS
    from dicomfab.testing import EmbeddedTarget

    with EmbeddedPACS(tmp_path_factory.mktemp("dicomfab-pacs")) as pacs:
        yield EmbeddedTarget(pacs)


@_pytest.fixture(scope="session")
def dicomfab_run(
    tmp_path_factory: _pytest.TempPathFactory,
) -> _Callable[..., DicomfabOutcome]:
    """``dicomfab_run(target, scenarios, image_size=, seed=, set=, sites=, workers=)`` →
    a :class:`~dicomfab.testing.DicomfabOutcome`: ``dicomfab run`` into a new folder of
    pytest's temporary folder; ``.scenarios[name].passed``, ``.assert_passed()``."""
    from dicomfab.testing import run

    def dicomfab_run(
        target: _typing.Any, scenarios: _typing.Any, **options: _typing.Any
    ) -> DicomfabOutcome:
        __tracebackhide__ = True
        folder = tmp_path_factory.mktemp("dicomfab-run") / "run"
        return run(target, scenarios, run_dir=folder, **options)

    return dicomfab_run
