"""Tomosynthesis slices over 2000 pixels on request (catalogue I.84), and the pixel cache that
keeps a study of such objects from staying in memory at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from dicomfab import generate
from dicomfab.builder import pixels
from dicomfab.builder.plan import make_plan
from dicomfab.scenarios import compose, scenarios
from dicomfab.scenarios.profiles import load_profiles
from dicomfab.studyspec.loading import parse_spec
from dicomtools import dciodvfy


def test_dbt_large_object_writes_clinical_size_slices_on_request(tmp_path: Path) -> None:
    params = {"image_size": "small", "frames": 2, "dbt_rows": 2816, "dbt_columns": 2304}
    composed = compose(scenarios()["dbt_large_object"], params, load_profiles())
    result = generate(composed.spec, tmp_path, workers=1, plan=composed.plan)
    tomo = [i for i in result.manifest.instances() if i.sop_class_uid.endswith(".13.1.3")]
    assert len(tomo) == 4
    path = result.path / tomo[0].file
    assert dciodvfy(path).errors == []
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert (ds.Rows, ds.Columns, ds.NumberOfFrames) == (2816, 2304, 2)
    assert path.stat().st_size > 2 * 2816 * 2304 * 2


def _plan(frames: int, rows: int = 256, columns: int = 208) -> Any:
    spec = {
        "seed": 1,
        "defaults": {"iod": "dbt", "pixels": {"rows": rows, "columns": columns, "frames": frames}},
        "patients": [{"studies": [{"series": [{"views": ["RCC", "LCC"]}]}]}],
    }
    return make_plan(parse_spec(spec))


def test_an_image_over_the_cache_budget_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = _plan(frames=3)
    monkeypatch.setattr(pixels, "_cache", type(pixels._cache)())
    one_object = 3 * 256 * 208 * 2
    monkeypatch.setattr(pixels, "_CACHE_BYTES", one_object)
    first = pixels.render(plan.instances[0])
    assert first is not None and first.array.nbytes == one_object
    assert pixels.render(plan.instances[0]) is first  # within the budget: cached
    second = pixels.render(plan.instances[1])  # the other breast: the first makes room
    assert second is not None and list(pixels._cache.values()) == [second]
    monkeypatch.setattr(pixels, "_CACHE_BYTES", one_object - 1)
    pixels._cache.clear()
    again = pixels.render(plan.instances[0])
    assert again is not None and not pixels._cache  # over the budget: drawn, not kept
    np.testing.assert_array_equal(again.array, first.array)  # and the same pixels
