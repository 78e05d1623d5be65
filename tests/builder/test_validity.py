"""Valid means validated: every IOD × transfer syntax passes dciodvfy with no errors, DCMTK's
dcmdump reads it, and pydicom decodes the pixels (exactly, for lossless syntaxes)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from dicomfab import generate, parse_spec
from dicomfab.builder import transfer
from dicomfab.builder.iods import registry
from dicomtools import dciodvfy, dcmdump, require

ALL_TS = transfer.names()
COMMON_TS = [
    "explicit-le",
    "implicit-le",
    "explicit-be",
    "deflated",
    "rle",
    "jpeg-ls-lossless",
    "jpeg2000-lossless",
    "jpeg-lossless-sv1",
]
PIXEL_IODS = [t.name for t in registry.templates() if t.pixels is not None and not t.derived]
CASES = [("mg-presentation", ts) for ts in ALL_TS] + [
    (iod, ts) for iod in PIXEL_IODS if iod != "mg-presentation" for ts in COMMON_TS
]
NATIVE_TS = [name for name in ALL_TS if not transfer.get(name).compressed]
# derived objects (drawn from, or encoding their own pixels for, a mammogram of the study)
DERIVED_CASES = [
    *[("ai-sc", "", ts) for ts in NATIVE_TS],
    *[("seg", "binary", ts) for ts in [*NATIVE_TS, "jpeg2000-lossless"]],
    *[
        ("seg", "fractional", ts)
        for ts in [*NATIVE_TS, "rle", "jpeg-ls-lossless", "jpeg2000-lossless"]
    ],
]


def _spec(iod: str, ts: str) -> dict[str, Any]:
    template = registry.find(iod)
    assert template is not None and template.pixels is not None
    bits = 8 if ts == "jpeg-baseline" else min(12, template.allowed_bits_stored[1])
    pixels: dict[str, Any] = {"rows": 96, "columns": 80, "bits_stored": bits}
    if template.multiframe:
        pixels["frames"] = 3
    return {
        "name": f"{iod}-{ts}",
        "seed": 3,
        "defaults": {"iod": iod, "transfer_syntax": ts, "pixels": pixels},
        "patients": [{"studies": [{"series": [{"count": 1}]}]}],
    }


def _one_file(tmp: Path, spec: dict[str, Any]) -> Path:
    result = generate(parse_spec(spec), tmp, workers=1)
    (inst,) = result.manifest.instances()
    return result.path / inst.file


@pytest.mark.parametrize(("iod", "ts"), CASES, ids=[f"{i}-{t}" for i, t in CASES])
def test_iod_in_transfer_syntax_is_valid(tmp_path: Path, iod: str, ts: str) -> None:
    path = _one_file(tmp_path / "a", _spec(iod, ts))
    result = dciodvfy(path)
    assert result.errors == [], result.output
    dump = dcmdump(path)
    assert transfer.get(ts).uid in dump
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == transfer.get(ts).uid
    pixels = ds.pixel_array
    reference_spec = _spec(iod, "explicit-le")
    reference_spec["defaults"]["pixels"] = _spec(iod, ts)["defaults"]["pixels"]
    reference = pydicom.dcmread(_one_file(tmp_path / "b", reference_spec)).pixel_array
    assert pixels.shape == reference.shape
    if transfer.get(ts).lossy:
        error = np.abs(pixels.astype(np.int64) - reference.astype(np.int64)).mean()
        assert error < 0.05 * (1 << ds.BitsStored)
    else:
        assert np.array_equal(pixels, reference)


def _derived_file(tmp: Path, iod: str, segmentation: str, ts: str) -> Path:
    derived: dict[str, Any] = {"iod": iod, "transfer_syntax": ts}
    if segmentation:
        derived["content"] = {"segmentation": segmentation}
    spec = {
        "name": "derived",
        "seed": 3,
        "uid_namespace": "derived",  # the same patient and UIDs in every transfer syntax
        "defaults": {"pixels": {"rows": 96, "columns": 80}},
        "patients": [{"studies": [{"series": [{"iod": "mg", "views": ["RCC"]}, derived]}]}],
    }
    result = generate(parse_spec(spec), tmp, workers=1)
    *_, inst = result.manifest.instances()
    return result.path / inst.file


@pytest.mark.parametrize(
    ("iod", "segmentation", "ts"),
    DERIVED_CASES,
    ids=[f"{i}-{s}-{t}".replace("--", "-") for i, s, t in DERIVED_CASES],
)
def test_derived_object_in_transfer_syntax_is_valid(
    tmp_path: Path, iod: str, segmentation: str, ts: str
) -> None:
    path = _derived_file(tmp_path / "a", iod, segmentation, ts)
    result = dciodvfy(path)
    assert result.errors == [], result.output
    assert transfer.get(ts).uid in dcmdump(path)
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == transfer.get(ts).uid
    reference = pydicom.dcmread(_derived_file(tmp_path / "b", iod, segmentation, "explicit-le"))
    assert np.array_equal(ds.pixel_array, reference.pixel_array)  # every one is lossless


# derived objects without pixels of their own: reports, presentation states, key object notes
REPORTS = ["mammo-cad-sr", "tid1500-sr", "tid1500-enhanced-sr", "vendor-ai-sr", "gsps", "kos"]
REPORT_CASES = [(iod, ts) for iod in REPORTS for ts in NATIVE_TS]


@pytest.mark.parametrize(("iod", "ts"), REPORT_CASES, ids=[f"{i}-{t}" for i, t in REPORT_CASES])
def test_derived_report_in_transfer_syntax_is_valid(tmp_path: Path, iod: str, ts: str) -> None:
    path = _derived_file(tmp_path, iod, "", ts)
    result = dciodvfy(path)
    assert result.errors == [], result.output
    assert transfer.get(ts).uid in dcmdump(path)
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == transfer.get(ts).uid
    if ds.Modality in ("SR", "KO"):  # a second reader of the content tree
        proc = subprocess.run([require("dsrdump"), str(path)], capture_output=True, text=True)
        assert proc.returncode == 0 and "<" in proc.stdout, proc.stderr


def test_pdf_is_valid(tmp_path: Path) -> None:
    spec = {"defaults": {"iod": "pdf"}, "patients": [{"studies": [{"series": [{"count": 1}]}]}]}
    path = _one_file(tmp_path, spec)
    assert dciodvfy(path).errors == []
    dcmdump(path)
    assert pydicom.dcmread(path).EncapsulatedDocument.startswith(b"%PDF-")


@pytest.mark.parametrize("iod", ["mg-presentation", "mg-processing"])
def test_mammography_meets_the_ihe_mammo_profile(tmp_path: Path, iod: str) -> None:
    spec = _spec(iod, "explicit-le")
    # IHE MAMMO makes a presentation image's SourceImageSequence Type 1, and dicomfab names only
    # For Processing images the dataset holds: the study has both forms of each view
    other = "mg-processing" if iod == "mg-presentation" else "mg-presentation"
    spec["patients"][0]["studies"][0]["series"] = [
        {"views": ["RCC", "LMLO"]},
        {"iod": other, "views": ["RCC", "LMLO"]},
    ]
    result = generate(parse_spec(spec), tmp_path, workers=1)
    for inst in result.manifest.instances():
        validation = dciodvfy(result.path / inst.file, profile="IHEMammo")
        assert validation.errors == [], validation.output
        # the one warning left: dciodvfy knows only DX terms for ViewPosition, not ACR MQCM's
        assert all("ViewPosition" in w for w in validation.warnings), validation.warnings
