"""dicomfab in a test suite: generated datasets, runs against a target, verdicts that fail a
test with the record-level diff. The pytest fixtures over these are in
:mod:`dicomfab.pytest_plugin` (``dicomfab_generate``, ``dicomfab_embedded_pacs``,
``dicomfab_run``); the functions work without pytest too."""

from __future__ import annotations

from dicomfab.testing.datasets import DatasetCache, GeneratedDataset, generate_dataset
from dicomfab.testing.runs import (
    DicomfabOutcome,
    EmbeddedTarget,
    RunTarget,
    embedded_target,
    run,
)

__all__ = [
    "DatasetCache",
    "DicomfabOutcome",
    "EmbeddedTarget",
    "GeneratedDataset",
    "RunTarget",
    "embedded_target",
    "generate_dataset",
    "run",
]
