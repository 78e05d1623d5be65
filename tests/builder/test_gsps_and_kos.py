"""The presentation state (gsps) and key object selection (kos) IODs: valid for each content
field and title, read by DCMTK (dcmdump, dsrdump), byte-identical when regenerated, referring
only to instances of their dataset, with the annotation anchored on the breast."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset

from dicomfab import SpecError, generate, parse_spec
from dicomfab.builder.iods.kos import TITLES
from dicomfab.output.generate import GenerateResult
from dicomtools import dciodvfy, dcmdump, require

PIXELS = {"rows": 128, "columns": 104, "bits_stored": 12}
GSPS_CONTENT: dict[str, dict[str, Any]] = {
    "window": {"window": [1800, 2400]},
    "annotation": {"annotation": "Mass, upper outer quadrant"},
    "shutter": {"shutter": True},
    "findings": {"findings": [{"kind": "mass"}, {"kind": "calcification_cluster", "image": 2}]},
    "defaults": {},
}


def _spec(iod: str, content: dict[str, Any], **derived: Any) -> dict[str, Any]:
    """The four views, then the derived object (in a series of its own)."""
    return {
        "name": iod,
        "seed": 5,
        "defaults": {"pixels": dict(PIXELS)},
        "patients": [
            {
                "studies": [
                    {
                        "series": [
                            {"description": "VIEWS"},
                            {"iod": iod, "content": content, **derived},
                        ]
                    }
                ]
            }
        ],
    }


def _generate(spec: dict[str, Any], out: Path) -> GenerateResult:
    return generate(parse_spec(spec), out, workers=1)


def _datasets(result: GenerateResult) -> list[tuple[Path, Dataset]]:
    paths = [result.path / inst.file for inst in result.manifest.instances()]
    return [(p, pydicom.dcmread(p)) for p in paths]


def _derived(result: GenerateResult, modality: str) -> tuple[Path, Dataset]:
    (found,) = [(p, ds) for p, ds in _datasets(result) if ds.Modality == modality]
    return found


def _referenced_uids(ds: Dataset) -> set[str]:
    """Every SOP Instance UID the object names, wherever it names one."""
    found: set[str] = set()

    def walk(item: Dataset) -> None:
        for element in item:
            if element.keyword == "ReferencedSOPInstanceUID":
                found.add(str(element.value))
            elif element.VR == "SQ":
                for child in element.value:
                    walk(child)

    walk(ds)
    return found


def _dsrdump(path: Path) -> str:
    proc = subprocess.run(
        [require("dsrdump"), "-q", str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"dsrdump could not read {path}:\n{proc.stderr}"
    return proc.stdout


@pytest.mark.parametrize("field", list(GSPS_CONTENT))
def test_gsps_is_valid_with_each_content_field(tmp_path: Path, field: str) -> None:
    result = _generate(_spec("gsps", GSPS_CONTENT[field]), tmp_path)
    path, ds = _derived(result, "PR")
    validation = dciodvfy(path)
    assert validation.errors == [], validation.output
    assert "1.2.840.10008.5.1.4.1.1.11.1" in dcmdump(path)  # DCMTK reads it
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.11.1"
    if field == "window":
        (voi,) = ds.SoftcopyVOILUTSequence
        assert (float(voi.WindowCenter), float(voi.WindowWidth)) == (1800, 2400)
    if field == "defaults":  # the images' own window
        image = next(d for _, d in _datasets(result) if d.Modality == "MG")
        centre = image["WindowCenter"]
        first = centre.value[0] if centre.VM > 1 else centre.value
        assert float(first) in {float(v.WindowCenter) for v in ds.SoftcopyVOILUTSequence}
    if field == "shutter":
        assert ds.ShutterShape == "RECTANGULAR"
        assert 1 <= ds.ShutterLeftVerticalEdge < ds.ShutterRightVerticalEdge <= PIXELS["columns"]
    else:
        assert "ShutterShape" not in ds
    if field == "findings":
        circles = [
            obj.GraphicType
            for ann in ds.GraphicAnnotationSequence
            for obj in ann.get("GraphicObjectSequence", [])
        ]
        assert circles == ["CIRCLE", "CIRCLE"]


def test_gsps_with_everything_is_valid(tmp_path: Path) -> None:
    content = {k: v for c in GSPS_CONTENT.values() for k, v in c.items()}
    path, ds = _derived(_generate(_spec("gsps", content), tmp_path), "PR")
    assert dciodvfy(path).errors == []
    assert len(ds.GraphicLayerSequence) == 2


@pytest.mark.parametrize("title", list(TITLES))
def test_kos_is_valid_for_each_title(tmp_path: Path, title: str) -> None:
    path, ds = _derived(_generate(_spec("kos", {"title": title}), tmp_path), "KO")
    validation = dciodvfy(path)
    assert validation.errors == [], validation.output
    value, scheme, meaning = TITLES[title]
    (concept,) = ds.ConceptNameCodeSequence
    assert (concept.CodeValue, concept.CodingSchemeDesignator) == (value, scheme)
    dump = _dsrdump(path)
    assert "Key Object Selection Document" in dump
    assert f'"{meaning}"' in dump
    assert dump.count("IMAGE:") == 4  # the four views


@pytest.mark.parametrize("iod", ["gsps", "kos"])
def test_references_are_instances_of_the_dataset(tmp_path: Path, iod: str) -> None:
    content = GSPS_CONTENT["annotation"] if iod == "gsps" else {"title": "rejected_for_quality"}
    spec = _spec(iod, content, references=["LCC", "series[0].instances[3]"])
    result = _generate(spec, tmp_path)
    datasets = _datasets(result)
    _, ds = _derived(result, "PR" if iod == "gsps" else "KO")
    by_uid = {str(d.SOPInstanceUID): d for _, d in datasets}
    named = _referenced_uids(ds)
    images = {u for u in named if u != ds.SOPInstanceUID}
    assert len(images) == 2
    assert images <= set(by_uid)  # every one is an instance of the dataset
    assert {str(by_uid[u].ViewPosition) for u in images} == {"CC", "MLO"}
    if iod == "kos":  # the evidence lists them by study and series
        (study,) = ds.CurrentRequestedProcedureEvidenceSequence
        assert study.StudyInstanceUID == ds.StudyInstanceUID
        listed = {
            str(sop.ReferencedSOPInstanceUID)
            for series in study.ReferencedSeriesSequence
            for sop in series.ReferencedSOPSequence
        }
        assert listed == images
        for series in study.ReferencedSeriesSequence:
            for sop in series.ReferencedSOPSequence:
                assert by_uid[sop.ReferencedSOPInstanceUID].SeriesInstanceUID == (
                    series.SeriesInstanceUID
                )


def test_annotation_anchor_lies_on_the_breast(tmp_path: Path) -> None:
    result = _generate(_spec("gsps", GSPS_CONTENT["annotation"]), tmp_path)
    _, ds = _derived(result, "PR")
    (annotation,) = ds.GraphicAnnotationSequence
    (text,) = annotation.TextObjectSequence
    assert text.UnformattedTextValue == "Mass, upper outer quadrant"
    column, row = (float(v) for v in text.AnchorPoint)
    (circle,) = annotation.GraphicObjectSequence
    assert [float(v) for v in circle.GraphicData[:2]] == [column, row]  # centred on the anchor
    (image,) = annotation.ReferencedImageSequence
    by_uid = {str(d.SOPInstanceUID): d for _, d in _datasets(result)}
    pixels = by_uid[image.ReferencedSOPInstanceUID].pixel_array
    assert pixels[int(row), int(column)] > 0  # tissue, not the background around the breast
    assert (pixels == 0).any()  # and the image has background to miss


@pytest.mark.parametrize("iod", ["gsps", "kos"])
def test_regeneration_is_byte_identical(tmp_path: Path, iod: str) -> None:
    content: dict[str, Any] = (
        {k: v for c in GSPS_CONTENT.values() for k, v in c.items()}
        if iod == "gsps"
        else {"title": "incorrect_worklist_entry"}
    )
    first = _derived(
        _generate(_spec(iod, content), tmp_path / "a"), "PR" if iod == "gsps" else "KO"
    )
    second = _derived(
        _generate(_spec(iod, content), tmp_path / "b"), "PR" if iod == "gsps" else "KO"
    )
    assert first[0].read_bytes() == second[0].read_bytes()


def test_foreign_reference_is_named_as_given(tmp_path: Path) -> None:
    foreign = {"sop_instance_uid": "1.2.826.0.1.3680043.10.1234.1"}
    spec = _spec("gsps", {}, references=["RCC", foreign])
    path, ds = _derived(_generate(spec, tmp_path), "PR")
    assert foreign["sop_instance_uid"] in _referenced_uids(ds)
    assert dciodvfy(path).errors == []


def test_bad_title_names_the_field_and_the_nearest_choice(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        _generate(_spec("kos", {"title": "rejected_quality"}), tmp_path)
    (issue,) = info.value.issues
    assert issue.path == "patients[0].studies[0].series[1].content.title"
    assert issue.suggestion == "rejected_for_quality"


def test_content_field_the_iod_does_not_read_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        _generate(_spec("kos", {"window": [100, 200]}), tmp_path)
    (issue,) = info.value.issues
    assert issue.path == "patients[0].studies[0].series[1].content.window"
    assert "title" in (issue.suggestion or "")


def test_gsps_on_images_of_two_sizes_has_a_displayed_area_each(tmp_path: Path) -> None:
    spec = _spec("gsps", {"findings": [{"image": 4}]})
    series = spec["patients"][0]["studies"][0]["series"]
    series.insert(1, {"views": ["RCC"], "pixels": {"rows": 64, "columns": 52}})
    path, ds = _derived(_generate(spec, tmp_path), "PR")
    assert dciodvfy(path).errors == []
    areas = {
        (
            tuple(int(v) for v in area.DisplayedAreaBottomRightHandCorner),
            len(area.ReferencedImageSequence),
        )
        for area in ds.DisplayedAreaSelectionSequence
    }
    assert areas == {((104, 128), 4), ((52, 64), 1)}
    (annotation,) = ds.GraphicAnnotationSequence  # the circle lies within the small image
    assert max(float(v) for v in annotation.GraphicObjectSequence[0].GraphicData[::2]) <= 52


@pytest.mark.parametrize(
    ("extra", "content", "problem"),
    [
        ({"iod": "dbt", "pixels": {"frames": 3}}, {}, "is multi-frame (dbt): unsupported"),
        (
            {"iod": "sc", "pixels": {"photometric": "RGB", "bits_stored": 8}},
            {},
            "is a color (RGB) image",
        ),
        ({"iod": "pdf"}, {}, "has no pixels"),
        (None, {"findings": [{"image": 4}]}, "has 4 references, not a references[4]"),
    ],
    ids=["multi-frame", "color", "no-pixels", "finding-image"],
)
def test_what_a_gsps_cannot_present_is_refused_at_validate(
    tmp_path: Path, extra: dict[str, Any] | None, content: dict[str, Any], problem: str
) -> None:
    spec = _spec("gsps", content)
    if extra is not None:
        spec["patients"][0]["studies"][0]["series"].insert(1, {"count": 1, **extra})
    with pytest.raises(SpecError) as info:
        _generate(spec, tmp_path)
    (issue,) = info.value.issues
    assert problem in issue.message
    assert ".references" in issue.path or ".content.findings[0].image" in issue.path


def test_kos_naming_images_of_three_studies_lists_each_under_its_study(tmp_path: Path) -> None:
    references = ["RCC", "studies[1].images", "studies[2].RCC"]
    spec = _spec("kos", {"title": "key_images"}, references=references)
    spec["patients"][0]["studies"] += [
        {"role": "prior", "date": "-2y"},
        {"role": "prior", "date": "-4y"},
    ]
    result = _generate(spec, tmp_path)
    path, ds = _derived(result, "KO")
    assert dciodvfy(path).errors == []
    listed = {
        str(study.StudyInstanceUID): {
            str(sop.ReferencedSOPInstanceUID)
            for series in study.ReferencedSeriesSequence
            for sop in series.ReferencedSOPSequence
        }
        for study in ds.CurrentRequestedProcedureEvidenceSequence
    }
    by_uid = {str(d.SOPInstanceUID): d for _, d in _datasets(result)}
    assert sorted(len(uids) for uids in listed.values()) == [1, 1, 4]
    for study_uid, uids in listed.items():  # each instance under the study it belongs to
        assert {str(by_uid[u].StudyInstanceUID) for u in uids} == {study_uid}
    assert len(_dsrdump(path).split("IMAGE:")) - 1 == 6


NATIVE = ["explicit-le", "implicit-le", "explicit-be", "deflated"]


@pytest.mark.parametrize("ts", NATIVE)
@pytest.mark.parametrize("iod", ["gsps", "kos"])
def test_every_native_transfer_syntax_is_valid(tmp_path: Path, iod: str, ts: str) -> None:
    content = GSPS_CONTENT["annotation"] if iod == "gsps" else {"title": "rejected_for_quality"}
    path, _ = _derived(
        _generate(_spec(iod, content, transfer_syntax=ts), tmp_path),
        "PR" if iod == "gsps" else "KO",
    )
    validation = dciodvfy(path)
    assert validation.errors == [], validation.output
    dcmdump(path)
    if iod == "kos":
        _dsrdump(path)
