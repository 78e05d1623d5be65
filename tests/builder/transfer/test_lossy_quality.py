"""Lossy transfer syntaxes keep a PSNR target (the spec's ``quality``) whatever the image shows,
and write the compression ratio they achieved (PS3.3 C.7.6.1.1.5) in the file and the manifest."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.encaps import generate_frames

from dicomfab.builder import pixels, transfer
from dicomfab.builder.plan import make_plan
from dicomfab.builder.transfer.quality import DEFAULT_PSNR, MAX_RATIO, psnr
from dicomfab.errors import SpecError
from dicomfab.output.generate import generate
from dicomfab.studyspec.loading import parse_spec
from dicomtools import dciodvfy, require


def _spec(ts: str, pattern: str, bits: int, **settings: Any) -> dict[str, Any]:
    return {
        "name": f"{ts}-{pattern}-{bits}",
        "seed": 5,
        "defaults": {
            "iod": "sc",
            "transfer_syntax": ts,
            "pixels": {"rows": 64, "columns": 80, "bits_stored": bits, "pattern": pattern},
            **settings,
        },
        "patients": [{"studies": [{"series": [{"count": 1}]}]}],
    }


def _write(tmp: Path, spec: dict[str, Any]) -> tuple[pydicom.Dataset, np.ndarray, dict[str, Any]]:
    """Generate ``spec``'s one instance; return the file read back, the pixels it was made from
    (rendered from the same plan) and its manifest entry's attributes."""
    parsed = parse_spec(spec)
    (inst,) = make_plan(parsed).instances
    image = pixels.render(inst)
    assert image is not None
    result = generate(parsed, tmp, workers=1)
    (entry,) = result.manifest.instances()
    return pydicom.dcmread(result.path / entry.file), image.array, entry.attributes


CONTENT = [
    ("jpeg2000", "noise", 8),
    ("jpeg2000", "noise", 12),
    ("jpeg2000", "checkerboard", 12),
    ("jpeg2000", "checkerboard", 1),
    ("jpeg2000", "gradient", 1),
    ("jpeg2000", "gradient", 16),
    ("jpeg-baseline", "noise", 8),
    ("jpeg-baseline", "checkerboard", 8),
    ("jpeg-baseline", "gradient", 8),
    ("jpeg-extended", "noise", 12),
    ("jpeg-extended", "checkerboard", 12),
    ("jpeg-extended", "gradient", 12),
    ("htj2k", "noise", 12),
    ("htj2k", "checkerboard", 12),
    ("htj2k", "gradient", 16),
    ("htj2k", "gradient", 1),
]


@pytest.mark.parametrize(
    ("ts", "pattern", "bits"), CONTENT, ids=["-".join(map(str, c)) for c in CONTENT]
)
def test_default_quality_is_kept_whatever_the_content(
    tmp_path: Path, ts: str, pattern: str, bits: int
) -> None:
    ds, source, attributes = _write(tmp_path, _spec(ts, pattern, bits))
    assert ds.file_meta.TransferSyntaxUID == transfer.get(ts).uid
    achieved = psnr(source, ds.pixel_array, bits)
    assert achieved >= DEFAULT_PSNR == 45.0, f"{achieved:.1f} dB"
    assert dciodvfy(Path(ds.filename)).errors == []
    if transfer.get(ts).exact and achieved == float("inf"):  # reversible (JPEG 2000, HTJ2K)
        assert ds.LossyImageCompression == "00" and "LossyImageCompressionRatio" not in ds
        return
    # the ratio written is the one achieved: native bytes over the encoded frame's bytes
    (fragment,) = generate_frames(ds.PixelData, number_of_frames=1)
    ratio = source.nbytes / len(fragment)
    assert ds.LossyImageCompression == "01"
    assert float(ds.LossyImageCompressionRatio) == pytest.approx(ratio, rel=0.01)
    assert ds.LossyImageCompressionMethod == transfer.get(ts).lossy_method
    assert attributes["LossyImageCompressionRatio"] == ds.LossyImageCompressionRatio
    assert attributes["LossyImageCompression"] == "01"


@pytest.mark.parametrize(
    ("ts", "pattern", "bits"),
    [
        ("jpeg2000", "gradient", 8),
        ("jpeg-baseline", "gradient", 8),
        ("jpeg-extended", "noise", 12),
        ("htj2k", "gradient", 12),
    ],
)
def test_quality_trades_fidelity_for_size(tmp_path: Path, ts: str, pattern: str, bits: int) -> None:
    """A lower target compresses more; each level still reaches its own PSNR."""
    ratios = []
    for level, db in [("high", 45.0), ("low", 35.0), (30, 30.0)]:
        spec = _spec(ts, pattern, bits, quality=level)
        ds, source, _ = _write(tmp_path / str(level), spec)
        assert psnr(source, ds.pixel_array, bits) >= db
        ratios.append(float(ds.LossyImageCompressionRatio))
    assert ratios[0] < ratios[1] <= ratios[2], ratios  # (12-bit noise keeps 35 dB at IJG 1)


def test_same_spec_and_seed_give_the_same_bytes(tmp_path: Path) -> None:
    spec = _spec("jpeg2000", "noise", 12, quality="medium")
    first, _, _ = _write(tmp_path / "a", spec)
    second, _, _ = _write(tmp_path / "b", spec)
    assert Path(first.filename).read_bytes() == Path(second.filename).read_bytes()


def test_quality_is_set_per_series(tmp_path: Path) -> None:
    spec = _spec("jpeg2000", "gradient", 12)
    spec["patients"][0]["studies"][0]["series"] = [{"count": 1}, {"count": 1, "quality": 30}]
    plan = make_plan(parse_spec(spec))
    assert [i.quality for i in plan.instances] == [45.0, 30.0]


@pytest.mark.parametrize(
    ("quality", "match"),
    [(70, "less than or equal to 55"), (10, "greater than or equal to 20"), ("best", "'high'")],
)
def test_quality_out_of_range_is_refused(quality: Any, match: str) -> None:
    spec = _spec("jpeg2000", "gradient", 12)
    spec["patients"][0]["studies"][0]["series"][0]["quality"] = quality
    with pytest.raises(SpecError, match=match) as caught:
        make_plan(parse_spec(spec))
    assert "series[0].quality" in str(caught.value)


SERIES = "patients[0].studies[0].series[0]"


@pytest.mark.parametrize(
    ("defaults", "series", "path", "lossless"),
    [
        ({"transfer_syntax": "rle"}, {"quality": 40}, f"{SERIES}.quality", "rle"),
        (
            {},
            {"transfer_syntax": "j2k-lossless", "quality": "low"},
            f"{SERIES}.quality",
            "jpeg2000-lossless",
        ),
        ({"quality": "medium"}, {}, "defaults.quality", "explicit-le"),  # the default syntax
        ({"transfer_syntax": "rle", "quality": 40}, {}, "defaults.quality", "rle"),
    ],
)
def test_quality_on_a_lossless_syntax_is_refused(
    defaults: dict[str, Any], series: dict[str, Any], path: str, lossless: str
) -> None:
    """It used to be ignored without a word."""
    spec = _spec("jpeg2000", "gradient", 12)
    del spec["defaults"]["transfer_syntax"]
    spec["defaults"].update(defaults)
    spec["patients"][0]["studies"][0]["series"][0].update(series)
    with pytest.raises(SpecError) as caught:
        make_plan(parse_spec(spec))
    assert [str(issue) for issue in caught.value.issues] == [
        f"{path}: quality applies to lossy transfer syntaxes only, and {lossless} is lossless: "
        "remove quality, or choose a lossy transfer_syntax (jpeg2000 or jpeg-baseline or "
        "jpeg-extended or jpeg-ls-near-lossless or htj2k)"
    ]


def test_quality_above_a_lossless_choice_stays_for_the_lossy_ones() -> None:
    """Set where a lossy syntax is chosen, it is no error on a series that picks a lossless one."""
    spec = _spec("jpeg2000", "gradient", 12, quality="medium")
    spec["patients"][0]["studies"][0]["series"] = [
        {"count": 1},
        {"count": 1, "transfer_syntax": "rle"},
    ]
    plan = make_plan(parse_spec(spec))
    assert [i.quality for i in plan.instances] == [40.0, None]


def test_permissive_keeps_quality_on_a_lossless_syntax() -> None:
    spec = _spec("rle", "gradient", 12, quality=40, permissive=True)
    assert [i.quality for i in make_plan(parse_spec(spec)).instances] == [None]


def test_smooth_content_is_not_compressed_beyond_the_usual_rate(tmp_path: Path) -> None:
    """A smooth image would keep even a high PSNR at hundreds to one; the rate stays at most
    MAX_RATIO:1 of the stored bits (12 stored in 16 allocated: 13.3:1 of the native bytes)."""
    spec = _spec("jpeg2000", "gradient", 12, quality="low")
    spec["defaults"]["pixels"].update(rows=256, columns=256)
    ds, source, _ = _write(tmp_path, spec)
    assert float(ds.LossyImageCompressionRatio) <= MAX_RATIO * 16 / 12 * 1.01
    assert psnr(source, ds.pixel_array, 12) >= 35.0


def test_mr_in_jpeg_extended_is_valid_and_dcmtk_decodes_it(tmp_path: Path) -> None:
    """12-bit MR cannot be JPEG Baseline (8 bits); JPEG Extended (Process 2 & 4) holds it."""
    spec = _spec("jpeg-extended", "auto", 12)
    spec["defaults"].update(iod="mr", pixels={"size": "small"})
    ds, source, _ = _write(tmp_path, spec)
    path = Path(ds.filename)
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.51"
    assert (ds.BitsAllocated, ds.BitsStored) == (16, 12)
    assert dciodvfy(path).errors == []
    native = tmp_path / "native.dcm"
    proc = subprocess.run(
        [require("dcmdjpeg"), str(path), str(native)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert psnr(source, pydicom.dcmread(native).pixel_array, 12) >= DEFAULT_PSNR
    assert ds.LossyImageCompressionMethod == "ISO_10918_1"
