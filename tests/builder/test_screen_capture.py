"""RGB Secondary Capture: a workstation screen with the patient's name and ID drawn into its
pixels (catalogue J.93), valid in every uncompressed transfer syntax, and refused where it
cannot be written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from dicomfab import generate
from dicomfab.builder.pixels import screen
from dicomfab.builder.plan import make_plan
from dicomfab.errors import SpecError
from dicomfab.studyspec.loading import parse_spec
from dicomtools import dciodvfy


def _spec(ts: str = "explicit-le", name: str = "Doe^Jane", **pixels: Any) -> dict[str, Any]:
    return {
        "name": "screen",
        "seed": 4,
        "defaults": {
            "iod": "sc",
            "transfer_syntax": ts,
            "pixels": {"photometric": "RGB", "rows": 240, "columns": 320, **pixels},
        },
        "patients": [{"name": name, "studies": [{"series": [{"count": 1}]}]}],
    }


def _one(tmp_path: Path, spec: dict[str, Any]) -> Path:
    result = generate(parse_spec(spec), tmp_path, workers=1)
    (instance,) = result.manifest.instances()
    return result.path / instance.file


@pytest.mark.parametrize("ts", ["explicit-le", "implicit-le", "explicit-be", "deflated"])
def test_rgb_screen_capture_is_valid(tmp_path: Path, ts: str) -> None:
    path = _one(tmp_path, _spec(ts))
    assert dciodvfy(path).errors == []
    ds = pydicom.dcmread(path)
    assert (ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration) == (
        3,
        "RGB",
        0,
    )
    assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit) == (8, 8, 7)
    assert "WindowCenter" not in ds
    assert ds.pixel_array.shape == (240, 320, 3)


def test_the_text_is_in_the_pixels_and_deterministic(tmp_path: Path) -> None:
    """Same spec, same pixels; another patient (name, and with it the generated ID and birth
    date), other pixels — in the name's line of text among others."""
    first = pydicom.dcmread(_one(tmp_path / "a", _spec())).pixel_array
    again = pydicom.dcmread(_one(tmp_path / "b", _spec())).pixel_array
    other = pydicom.dcmread(_one(tmp_path / "c", _spec(name="Roe^Mary"))).pixel_array
    np.testing.assert_array_equal(first, again)
    changed = np.argwhere((first != other).any(axis=2))
    assert changed.size  # the name is drawn
    rows = set(changed[:, 0].tolist())
    name_line = range(20 * screen.SCALE, (20 + 13) * screen.SCALE)  # the second line of text
    assert rows & set(name_line)
    assert min(rows) >= name_line.start  # the header line is the same


def test_synthesize_draws_each_line() -> None:
    blank = screen.synthesize(1, 200, 300, ["TITLE"])
    text = screen.synthesize(1, 200, 300, ["TITLE", "DOE, JANE"])
    rows = np.argwhere((blank != text).any(axis=2))[:, 0]
    assert rows.size and rows.min() >= 20 * screen.SCALE


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"transfer_syntax": "jpeg2000-lossless"}, "RGB pixels are written uncompressed only"),
        ({"pixels": {"photometric": "RGB", "bits_stored": 12}}, "8 bits stored in 8 allocated"),
        ({"iod": "mg"}, "allows PhotometricInterpretation MONOCHROME1 or MONOCHROME2, not RGB"),
    ],
)
def test_rgb_where_it_cannot_be_written_is_refused(change: dict[str, Any], match: str) -> None:
    spec = _spec()
    spec["defaults"].update(change)
    with pytest.raises(SpecError, match=match):
        make_plan(parse_spec(spec))
