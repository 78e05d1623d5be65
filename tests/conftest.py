"""Shared fixtures: small specs that build fast, and a helper to generate them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from dicomfab import generate, parse_spec
from dicomfab.output.generate import GenerateResult

SMALL_MG = {"rows": 256, "columns": 208, "bits_stored": 12}


@pytest.fixture
def small_spec() -> dict[str, Any]:
    """One patient, a current and a prior 4-view MG study, small images."""
    return {
        "name": "small",
        "seed": 7,
        "defaults": {"pixels": dict(SMALL_MG)},
        "patients": [{"studies": [{"role": "current"}, {"role": "prior", "date": "-2y"}]}],
    }


@pytest.fixture
def make_dataset(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Generate a spec (a dict) into a fresh folder and return the result."""

    def run(spec: dict[str, Any], out: Path | None = None, **kwargs: Any) -> GenerateResult:
        return generate(parse_spec(spec), out or tmp_path / "out", **kwargs)

    return run
