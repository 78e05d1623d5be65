"""The structured reports a breast study gets back (Mammography CAD SR, a TID 1500 Measurement
Report, a vendor's private AI template): each valid (dciodvfy, DCMTK's SR reader), the same bytes
again, and its references and coordinates pointing at real breast pixels of the dataset."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from dicomfab import generate, parse_spec
from dicomfab.errors import SpecError
from dicomtools import dciodvfy, dcmdump, require

SR_IODS = ["mammo-cad-sr", "tid1500-sr", "tid1500-enhanced-sr", "vendor-ai-sr"]
SOP_CLASSES = {
    "mammo-cad-sr": "1.2.840.10008.5.1.4.1.1.88.50",
    "tid1500-sr": "1.2.840.10008.5.1.4.1.1.88.34",
    "tid1500-enhanced-sr": "1.2.840.10008.5.1.4.1.1.88.22",
    "vendor-ai-sr": "1.2.840.10008.5.1.4.1.1.88.33",
}
FINDINGS = [
    {"kind": "mass"},
    {"kind": "calcification_cluster", "image": 3, "probability": 0.42},
]


def _spec(iod: str, content: dict[str, Any] | None = None, **sr: Any) -> dict[str, Any]:
    """A 4-view study (series 0) and the SR after it (series 1), and a prior 4-view study."""
    series: dict[str, Any] = {"description": "AI RESULT", "iod": iod, **sr}
    series["content"] = {"findings": FINDINGS} if content is None else content
    return {
        "name": f"sr-{iod}",
        "seed": 11,
        "defaults": {"pixels": {"size": "small"}},
        "patients": [
            {
                "studies": [
                    {"series": [{"description": "SCREENING VIEWS"}, series]},
                    {"role": "prior", "date": "-2y"},
                ]
            }
        ],
    }


def _generate(tmp: Path, spec: dict[str, Any]) -> tuple[Path, dict[str, Dataset]]:
    """The SR's path and every file of the dataset by SOP Instance UID."""
    result = generate(parse_spec(spec), tmp, workers=1)
    files = {}
    report = None
    for inst in result.manifest.instances():
        path = result.path / inst.file
        ds = pydicom.dcmread(path)
        files[ds.SOPInstanceUID] = ds
        if ds.Modality == "SR":
            report = path
    assert report is not None
    return report, files


def _items(node: Dataset) -> list[Dataset]:
    """Every content item under ``node``, depth first."""
    found = []
    for item in node.get("ContentSequence", []):
        found.append(item)
        found += _items(item)
    return found


def _scoords(ds: Dataset) -> list[tuple[Dataset, Dataset]]:
    """(SCOORD item, the IMAGE item it is SELECTED FROM)."""
    pairs = []
    for item in _items(ds):
        if item.ValueType == "SCOORD":
            (image,) = [c for c in item.ContentSequence if c.ValueType == "IMAGE"]
            pairs.append((item, image))
    return pairs


def _dcmtk_reads(path: Path) -> None:
    """DCMTK's SR reader takes the document and finds nothing invalid in it."""
    for tool in ("dsrdump", "dsr2xml"):
        proc = subprocess.run([require(tool), str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "E: " not in proc.stderr, proc.stderr


def _evidence_uids(ds: Dataset) -> list[str]:
    uids = []
    for keyword in ("CurrentRequestedProcedureEvidenceSequence", "PertinentOtherEvidenceSequence"):
        for study in ds.get(keyword, []):
            for series in study.ReferencedSeriesSequence:
                uids += [s.ReferencedSOPInstanceUID for s in series.ReferencedSOPSequence]
    return uids


@pytest.mark.parametrize("iod", SR_IODS)
def test_sr_is_valid_and_read_by_dcmtk(tmp_path: Path, iod: str) -> None:
    path, _ = _generate(tmp_path, _spec(iod))
    result = dciodvfy(path)
    assert result.errors == [], result.output
    assert SOP_CLASSES[iod] in dcmdump(path)
    _dcmtk_reads(path)
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == SOP_CLASSES[iod]
    assert ds.Modality == "SR" and ds.ValueType == "CONTAINER"
    assert "SpecificCharacterSet" not in ds  # ASCII only, as the images


@pytest.mark.parametrize("iod", SR_IODS)
def test_sr_is_byte_identical_on_regeneration(tmp_path: Path, iod: str) -> None:
    first, _ = _generate(tmp_path / "a", _spec(iod))
    second, _ = _generate(tmp_path / "b", _spec(iod))
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("iod", SR_IODS)
def test_every_reference_is_an_instance_of_the_dataset(tmp_path: Path, iod: str) -> None:
    path, files = _generate(tmp_path, _spec(iod))
    ds = pydicom.dcmread(path)
    study = [f for f in files.values() if f.StudyInstanceUID == ds.StudyInstanceUID]
    images = {f.SOPInstanceUID for f in study if f.Modality != "SR"}
    assert len(images) == 4
    assert set(_evidence_uids(ds)) == images  # default references: every image of its study
    assert "PertinentOtherEvidenceSequence" not in ds
    for item in _items(ds):
        if item.ValueType == "IMAGE":
            ref = item.ReferencedSOPSequence[0]
            target = files[ref.ReferencedSOPInstanceUID]
            assert ref.ReferencedSOPClassUID == target.SOPClassUID


@pytest.mark.parametrize("iod", SR_IODS)
def test_finding_coordinates_lie_on_breast_pixels(tmp_path: Path, iod: str) -> None:
    path, files = _generate(tmp_path, _spec(iod))
    ds = pydicom.dcmread(path)
    pairs = _scoords(ds)
    assert pairs
    centres = []
    for scoord, image in pairs:
        target = files[image.ReferencedSOPSequence[0].ReferencedSOPInstanceUID]
        pixels = target.pixel_array
        data = np.asarray(scoord.GraphicData, dtype=float).reshape(-1, 2)
        column, row = data[0]  # POINT, or a CIRCLE's centre; a POLYLINE: its centroid
        if scoord.GraphicType == "POLYLINE":
            column, row = data[:-1].mean(axis=0)
        background = pixels[0, 0]  # the air around the breast (MONOCHROME1 inverts it)
        assert pixels[int(row), int(column)] != background, (scoord.GraphicType, row, column)
        assert (data[:, 0] >= 0).all() and (data[:, 1] >= 0).all()
        centres.append((target.get("ViewPosition"), target.ImageLaterality))
    # the second finding lies on the fourth reference (LMLO)
    assert ("MLO", "L") in centres


@pytest.mark.parametrize("iod", SR_IODS)
def test_content_findings_x_y_are_honoured(tmp_path: Path, iod: str) -> None:
    content = {"findings": [{"kind": "mass", "image": 1, "x": 0.25, "y": 0.5}]}
    path, files = _generate(tmp_path, _spec(iod, content))
    ds = pydicom.dcmread(path)
    scoord, image = _scoords(ds)[0]
    target = files[image.ReferencedSOPSequence[0].ReferencedSOPInstanceUID]
    column, row = scoord.GraphicData[:2]
    assert column == pytest.approx(0.25 * target.Columns)
    assert row == pytest.approx(0.5 * target.Rows)


@pytest.mark.parametrize("iod", SR_IODS)
def test_a_view_the_study_lacks_is_refused(tmp_path: Path, iod: str) -> None:
    with pytest.raises(
        SpecError, match=r"series\[1\]\.instances\[0\]\.references\[0\]: the study has no RXCCL"
    ):
        _generate(tmp_path, _spec(iod, references=["RXCCL"]))


@pytest.mark.parametrize("iod", SR_IODS)
def test_a_finding_on_a_reference_that_does_not_exist_is_refused(tmp_path: Path, iod: str) -> None:
    content = {"findings": [{"image": 4}]}
    with pytest.raises(SpecError, match=r"content\.findings\[0\]\.image"):
        _generate(tmp_path, _spec(iod, content))


def test_references_to_a_prior_are_pertinent_other_evidence(tmp_path: Path) -> None:
    path, files = _generate(
        tmp_path,
        _spec("mammo-cad-sr", {"findings": [{"image": 1}]}, references=["RCC", "studies[1].RCC"]),
    )
    ds = pydicom.dcmread(path)
    (current,) = ds.CurrentRequestedProcedureEvidenceSequence
    (other,) = ds.PertinentOtherEvidenceSequence
    assert current.StudyInstanceUID == ds.StudyInstanceUID
    assert other.StudyInstanceUID != ds.StudyInstanceUID
    prior = files[
        other.ReferencedSeriesSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
    ]
    assert prior.StudyInstanceUID == other.StudyInstanceUID
    assert dciodvfy(path).errors == []


def test_a_foreign_reference_is_evidence_but_not_in_the_dataset(tmp_path: Path) -> None:
    foreign = {"sop_instance_uid": "2.25.1234567"}
    path, files = _generate(tmp_path, _spec("tid1500-sr", {}, references=["RCC", foreign]))
    ds = pydicom.dcmread(path)
    uids = _evidence_uids(ds)
    assert "2.25.1234567" in uids and "2.25.1234567" not in files
    assert dciodvfy(path).errors == []


@pytest.mark.parametrize("iod", ["tid1500-sr", "tid1500-enhanced-sr"])
def test_tid1500_report_holds_one_measurement_group_per_finding(tmp_path: Path, iod: str) -> None:
    path, _ = _generate(tmp_path, _spec(iod, {"findings": FINDINGS, "title": "x"}))
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == SOP_CLASSES[iod]
    assert ds.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    assert ds.ConceptNameCodeSequence[0].CodeMeaning == "x"  # a private title
    groups = [i for i in _items(ds) if i.ConceptNameCodeSequence[0].CodeValue == "125007"]
    assert len(groups) == 2
    diameters = [
        i.MeasuredValueSequence[0].NumericValue
        for i in _items(ds)
        if i.ValueType == "NUM" and i.ConceptNameCodeSequence[0].CodeMeaning == "Diameter"
    ]
    assert diameters == [12, 12]


def test_vendor_template_is_not_tid1500(tmp_path: Path) -> None:
    path, _ = _generate(tmp_path, _spec("vendor-ai-sr", {"findings": FINDINGS}))
    ds = pydicom.dcmread(path)
    assert ds.ContentTemplateSequence[0].TemplateIdentifier != "1500"
    assert ds.ConceptNameCodeSequence[0].CodingSchemeDesignator == "99VENDOR"
    scores = {
        i.ConceptNameCodeSequence[0].CodeMeaning: float(i.MeasuredValueSequence[0].NumericValue)
        for i in _items(ds)
        if i.ValueType == "NUM"
    }
    assert scores == {"Case score": 87, "Right breast score": 87, "Left breast score": 42}


@pytest.mark.parametrize("iod", SR_IODS)
def test_a_finding_on_tomosynthesis_names_the_middle_frame(tmp_path: Path, iod: str) -> None:
    dbt = {
        "iod": "dbt",
        "views": ["RCC", "LMLO"],
        "pixels": {"rows": 120, "columns": 96, "frames": 5},
    }
    spec = {
        "name": "sr-dbt",
        "seed": 5,
        "patients": [
            {"studies": [{"series": [dbt, {"iod": iod, "content": {"findings": [{"image": 1}]}}]}]}
        ],
    }
    path, files = _generate(tmp_path, spec)
    assert dciodvfy(path).errors == []
    ((_, image), *_) = _scoords(pydicom.dcmread(path))
    ref = image.ReferencedSOPSequence[0]
    images = [uid for uid, ds in files.items() if ds.Modality != "SR"]  # RCC, LMLO
    assert ref.ReferencedSOPInstanceUID == images[1]
    assert ref.ReferencedFrameNumber == 3  # of 5: the frame finding_centre looked at


@pytest.mark.parametrize("iod", SR_IODS)
def test_no_findings_is_a_valid_report(tmp_path: Path, iod: str) -> None:
    path, _ = _generate(tmp_path, _spec(iod, {"findings": []}))
    assert dciodvfy(path).errors == []
    _dcmtk_reads(path)
    assert _scoords(pydicom.dcmread(path)) == []
