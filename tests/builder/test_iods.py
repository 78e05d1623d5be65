"""Every registered IOD builds a valid instance: dciodvfy finds no errors, DCMTK reads it, and
pydicom reads back its SOP Class, Modality and pixels; then what particular IODs promise (DBT's
multi-frame geometry, the encapsulated PDF's bytes, the MR slice stack)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from dicomfab.builder.iods import registry
from dicomfab.builder.iods.base import IODTemplate
from dicomfab.builder.iods.pdf import pdf_bytes
from dicomfab.output.generate import GenerateResult
from dicomtools import dciodvfy, dcmdump, require

TEMPLATES = registry.templates()
# IODs whose default output also has no dciodvfy warnings (mg keeps the ViewPosition CC/MLO one)
NO_WARNINGS = {"dbt", "dx", "cr", "sc", "mr", "pdf"}
ROWS, COLUMNS, FRAMES = 40, 24, 3  # not square, so that a rows/columns swap shows


def _pixels(template: IODTemplate) -> dict[str, Any]:
    pixels: dict[str, Any] = {"rows": ROWS, "columns": COLUMNS}
    if template.multiframe:
        pixels["frames"] = FRAMES
    return pixels


def _spec(template: IODTemplate, **series: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {"iod": template.name}
    if template.pixels is not None:
        defaults["pixels"] = _pixels(template)
    return {
        "name": template.name,
        "seed": 11,
        "defaults": defaults,
        "patients": [{"studies": [{"series": [series or {"count": 1}]}]}],
    }


def _files(result: GenerateResult) -> list[Path]:
    return [result.path / inst.file for inst in result.manifest.instances()]


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.name for t in TEMPLATES])
def test_iod_instance_is_valid_and_reads_back(make_dataset: Any, template: IODTemplate) -> None:
    spec = _spec(template)
    if template.derived:  # it refers to images of its study: one comes first
        image = {"iod": "mg", "views": ["RCC"], "pixels": {"rows": ROWS, "columns": COLUMNS}}
        spec["patients"][0]["studies"][0]["series"].insert(0, image)
    path = _files(make_dataset(spec))[-1]

    validation = dciodvfy(path)
    assert validation.errors == [], validation.output
    if template.name in NO_WARNINGS:
        assert validation.warnings == [], validation.output
    assert "(0008,0016)" in dcmdump(path)

    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == template.sop_class_uid
    assert ds.file_meta.MediaStorageSOPClassUID == template.sop_class_uid
    assert ds.Modality == template.modality
    if template.pixels is None:
        assert "PixelData" not in ds
        return
    bits = template.pixels.bits_stored or 12
    allocated = template.pixels.bits_allocated or (8 if bits <= 8 else 16)
    pixels = ds.pixel_array
    expected = (FRAMES, ROWS, COLUMNS) if template.multiframe else (ROWS, COLUMNS)
    assert pixels.shape == expected
    assert pixels.dtype == (np.uint8 if allocated == 8 else np.uint16)
    assert (ds.BitsStored, ds.BitsAllocated, ds.HighBit) == (bits, allocated, bits - 1)
    assert int(pixels.max()) < 2**bits
    assert template.allowed_bits_stored[0] <= bits <= template.allowed_bits_stored[1]


def test_new_iods_are_registered_under_their_names_aliases_and_sop_classes() -> None:
    for key, name in [
        ("dbt", "dbt"),
        ("tomo", "dbt"),
        ("breast-tomosynthesis", "dbt"),
        ("1.2.840.10008.5.1.4.1.1.13.1.3", "dbt"),
        ("DX", "dx"),
        ("cr", "cr"),
        ("sc", "sc"),
        ("mr", "mr"),
        ("pdf", "pdf"),
        ("encapsulated-pdf", "pdf"),
        ("1.2.840.10008.5.1.4.1.1.104.1", "pdf"),
    ]:
        found = registry.find(key)
        assert found is not None and found.name == name, key
    dbt = registry.find("dbt")
    assert dbt is not None and dbt.breast and dbt.multiframe
    pdf = registry.find("pdf")
    assert pdf is not None and pdf.pixels is None and pdf.native_only


@pytest.mark.parametrize("name", ["dx", "cr", "sc"])
def test_old_breast_prior_with_modality_mg_stays_valid(make_dataset: Any, name: str) -> None:
    template = registry.find(name)
    assert template is not None
    spec = _spec(template)
    spec["defaults"]["tags"] = {"Modality": "MG"}
    (path,) = _files(make_dataset(spec))
    assert dciodvfy(path).errors == []
    assert pydicom.dcmread(path, stop_before_pixels=True).Modality == "MG"


# ---------------------------------------------------------------- Breast Tomosynthesis


def _dbt_study(make_dataset: Any) -> list[pydicom.Dataset]:
    """A current and a prior 4-view DBT study of one patient."""
    template = registry.find("dbt")
    assert template is not None
    spec = _spec(template)
    spec["patients"] = [{"studies": [{"role": "current"}, {"role": "prior"}]}]
    return [pydicom.dcmread(p) for p in _files(make_dataset(spec))]


def test_dbt_frames_views_and_frames_of_reference(make_dataset: Any) -> None:
    datasets = _dbt_study(make_dataset)
    assert len(datasets) == 8
    frames_of_reference: dict[tuple[str, str], str] = {}
    for ds in datasets:
        assert list(ds.ImageType) == ["ORIGINAL", "PRIMARY", "TOMOSYNTHESIS", "NONE"]
        assert ds.NumberOfFrames == FRAMES
        shared = ds.SharedFunctionalGroupsSequence[0]
        laterality = shared.FrameAnatomySequence[0].FrameLaterality
        assert laterality in ("R", "L")
        view = ds.ViewCodeSequence[0]
        assert view.CodingSchemeDesignator == "SCT"
        assert "ViewModifierCodeSequence" in view
        key = (ds.StudyInstanceUID, laterality)
        assert frames_of_reference.setdefault(key, ds.FrameOfReferenceUID) == ds.FrameOfReferenceUID
        per_frame = ds.PerFrameFunctionalGroupsSequence
        assert len(per_frame) == FRAMES
        assert [f.FrameContentSequence[0].InStackPositionNumber for f in per_frame] == [1, 2, 3]
        assert [list(f.FrameContentSequence[0].DimensionIndexValues) for f in per_frame] == [
            [1, 1],
            [1, 2],
            [1, 3],
        ]
    # one frame of reference per breast per study: 2 studies × 2 breasts, all different
    assert len(frames_of_reference) == 4
    assert len(set(frames_of_reference.values())) == 4


def test_dbt_slices_are_stacked_along_the_plane_normal(make_dataset: Any) -> None:
    for ds in _dbt_study(make_dataset)[:4]:
        shared = ds.SharedFunctionalGroupsSequence[0]
        cosines = np.array(shared.PlaneOrientationSequence[0].ImageOrientationPatient, float)
        row, column = cosines[:3], cosines[3:]
        assert np.isclose(np.linalg.norm(row), 1) and np.isclose(np.linalg.norm(column), 1)
        assert np.isclose(row @ column, 0)
        normal = np.cross(row, column)
        positions = np.array(
            [
                f.PlanePositionSequence[0].ImagePositionPatient
                for f in ds.PerFrameFunctionalGroupsSequence
            ],
            float,
        )
        steps = np.diff(positions, axis=0)
        thickness = float(shared.PixelMeasuresSequence[0].SliceThickness)
        assert np.allclose(np.abs(steps @ normal), thickness, atol=1e-3)
        assert np.allclose(np.linalg.norm(steps, axis=1), thickness, atol=1e-3)


def test_dbt_meets_ihe_dbt_profile(make_dataset: Any) -> None:
    """IHE DBT's extra Type 1 attributes (dose, contributing sources, operator) are all there.

    This dicom3tools build rejects every multi-frame ImageType under its IHE DBT ImageType check
    (only value 4 GENERATED_2D passes, which IHE reserves for single-frame generated 2D images),
    so that one message is not held against us.
    """
    template = registry.find("dbt")
    assert template is not None
    path = _files(make_dataset(_spec(template)))[0]
    proc = subprocess.run(
        [require("dciodvfy"), "-new", "-profile", "IHEDBT", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    text = proc.stdout + proc.stderr
    assert "IHEDBT" in text  # the profile was applied
    errors = [
        line
        for line in text.splitlines()
        if line.startswith("Error") and "Table 4.8.4.1.2.7-1" not in line
    ]
    assert errors == [], text


# ---------------------------------------------------------------- MR


def test_mr_series_is_a_stack_of_parallel_slices(make_dataset: Any) -> None:
    template = registry.find("mr")
    assert template is not None
    paths = _files(make_dataset(_spec(template, count=3)))
    datasets = [pydicom.dcmread(p, stop_before_pixels=True) for p in paths]
    assert len({ds.FrameOfReferenceUID for ds in datasets}) == 1
    assert len({ds.SeriesInstanceUID for ds in datasets}) == 1
    z = [float(ds.ImagePositionPatient[2]) for ds in datasets]
    assert np.allclose(np.diff(z), float(datasets[0].SliceThickness))
    for ds in datasets:
        assert ds.BodyPartExamined == "BREAST"
        assert list(ds.ImageOrientationPatient) == [1, 0, 0, 0, 1, 0]
    assert dciodvfy(paths[-1]).errors == []


# ---------------------------------------------------------------- Encapsulated PDF


def _check_pdf(pdf: bytes) -> None:
    """The cross-reference table points at every object, and the stream length is right."""
    assert pdf.startswith(b"%PDF-1.4\n") and pdf.endswith(b"%%EOF\n")
    start = int(pdf.rsplit(b"startxref\n", 1)[1].split()[0])
    table = pdf[start:].split(b"\n")
    assert table[0] == b"xref"
    first, count = map(int, table[1].split())
    assert first == 0
    entries = table[2 : 2 + count]
    assert entries[0] == b"0000000000 65535 f "
    for number, entry in enumerate(entries[1:], start=1):
        assert re.fullmatch(rb"\d{10} 00000 n ", entry), entry
        assert pdf[int(entry[:10]) :].startswith(b"%d 0 obj\n" % number)
    assert b"/Size %d " % count in pdf
    found = re.search(rb"/Length (\d+) >>\nstream\n", pdf)
    assert found is not None
    assert pdf[found.end() + int(found[1]) :].startswith(b"endstream")


def test_pdf_bytes_are_a_valid_deterministic_pdf() -> None:
    lines = ["dicomfab synthetic report", r"Patient: O(Brien)\Ann ^ José 李", "x"]
    pdf = pdf_bytes("Title (1)", lines)
    assert pdf == pdf_bytes("Title (1)", lines)
    _check_pdf(pdf)
    assert rb"(Patient: O\(Brien\)\\Ann ^ Jos" + "é".encode("latin-1") + b" ?) Tj" in pdf
    assert rb"/Title (Title \(1\))" in pdf


def test_pdf_instance_encapsulates_the_report(make_dataset: Any) -> None:
    template = registry.find("pdf")
    assert template is not None
    (path,) = _files(make_dataset(_spec(template)))
    ds = pydicom.dcmread(path)
    document = ds.EncapsulatedDocument
    assert len(document) % 2 == 0
    assert ds.EncapsulatedDocumentLength in (len(document), len(document) - 1)
    pdf = document[: ds.EncapsulatedDocumentLength]
    _check_pdf(pdf)
    assert b"(dicomfab synthetic report) Tj" in pdf
    assert str(ds.PatientID).encode() in pdf
    assert ds.MIMETypeOfEncapsulatedDocument == "application/pdf"
    assert ds.ConceptNameCodeSequence[0].CodingSchemeDesignator == "LN"
    assert ds.BurnedInAnnotation == "YES"
    assert ds.ConversionType == "WSD"
