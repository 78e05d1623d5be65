"""References between images resolve inside the dataset, and breast images given as DX or CR are
breast images (views, laterality, anatomy) with the Modality the file and the manifest agree on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydicom
import pytest
import yaml

from dicomfab.builder.iods import registry
from dicomfab.builder.plan import make_plan
from dicomfab.errors import SpecError
from dicomfab.output.generate import GenerateResult
from dicomfab.studyspec.loading import parse_spec
from dicomtools import dciodvfy, dcmdump

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples" / "specs").glob("*.yaml"))
SMALL = {"rows": 64, "columns": 48}
REFERENCE_SEQUENCES = ("SourceImageSequence", "ReferencedImageSequence")


def _shrunk(node: Any) -> Any:
    """The spec with every image 64×48 (references do not depend on the image size)."""
    if isinstance(node, dict):
        out = {key: _shrunk(value) for key, value in node.items()}
        if isinstance(out.get("pixels"), dict):
            out["pixels"] = {**out["pixels"], **SMALL}
            if "frames" in out["pixels"]:
                out["pixels"]["frames"] = 3
        return out
    if isinstance(node, list):
        return [_shrunk(item) for item in node]
    return node


def _example(path: Path) -> dict[str, Any]:
    spec: dict[str, Any] = _shrunk(yaml.safe_load(path.read_text()))
    defaults = spec.setdefault("defaults", {})
    defaults["pixels"] = {**defaults.get("pixels", {}), **SMALL}
    return spec


def _datasets(result: GenerateResult) -> list[tuple[Path, pydicom.Dataset]]:
    files = [result.path / i.file for i in result.manifest.instances() if i.written]
    return [(f, pydicom.dcmread(f, stop_before_pixels=True)) for f in files]


def _references(ds: pydicom.Dataset) -> list[tuple[str, str, str]]:
    """(sequence, SOP Class UID, SOP Instance UID) of every image reference, nested ones too."""
    found: list[tuple[str, str, str]] = []
    for element in ds.iterall():
        if element.keyword in REFERENCE_SEQUENCES:
            for item in element.value:
                found.append(
                    (element.keyword, item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID)
                )
    return found


def _assert_references_resolve(result: GenerateResult) -> int:
    datasets = _datasets(result)
    present = {ds.SOPInstanceUID: ds.SOPClassUID for _, ds in datasets}
    count = 0
    for path, ds in datasets:
        for sequence, sop_class, sop_instance in _references(ds):
            assert sop_instance in present, f"{path.name}: {sequence} names {sop_instance}"
            assert present[sop_instance] == sop_class, f"{path.name}: {sequence} class"
            count += 1
    return count


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_reference_in_an_example_names_an_instance_of_the_dataset(
    make_dataset: Any, example: Path
) -> None:
    result = make_dataset(_example(example))
    _assert_references_resolve(result)
    for path, _ in _datasets(result):
        validation = dciodvfy(path)
        assert validation.errors == [], validation.output


def test_presentation_image_names_the_for_processing_image_of_its_view(make_dataset: Any) -> None:
    spec = {
        "seed": 3,
        "defaults": {"pixels": SMALL},
        "patients": [
            {
                "studies": [
                    {
                        "series": [
                            {"iod": "mg-presentation", "views": ["RCC", "LCC", "RMLO"]},
                            {"iod": "mg-processing", "views": ["LCC", "RCC"]},
                        ]
                    },
                    {"role": "prior", "series": [{"iod": "mg-processing", "views": ["RMLO"]}]},
                ]
            }
        ],
    }
    result = make_dataset(spec)
    assert _assert_references_resolve(result) == 2
    by_uid = {ds.SOPInstanceUID: ds for _, ds in _datasets(result)}
    for path, ds in _datasets(result):
        assert dciodvfy(path).errors == [], path
        if ds.PresentationIntentType != "FOR PRESENTATION":
            assert "SourceImageSequence" not in ds
            continue
        if ds.ViewPosition == "MLO":  # its For Processing image is in another study: no reference
            assert "SourceImageSequence" not in ds
            continue
        (item,) = ds.SourceImageSequence
        source = by_uid[item.ReferencedSOPInstanceUID]
        assert source.PresentationIntentType == "FOR PROCESSING"
        assert source.StudyInstanceUID == ds.StudyInstanceUID
        assert (source.ImageLaterality, source.ViewPosition) == (ds.ImageLaterality, "CC")
        (purpose,) = item.PurposeOfReferenceCodeSequence
        assert (purpose.CodeValue, purpose.CodingSchemeDesignator) == ("121358", "DCM")


def test_presentation_image_without_its_for_processing_image_names_none(
    make_dataset: Any,
) -> None:
    spec = {
        "seed": 4,
        "defaults": {"pixels": SMALL},
        "patients": [
            {
                "studies": [
                    {
                        "series": [
                            {"iod": "mg-presentation", "views": ["RCC"]},
                            {
                                "iod": "mg-processing",
                                "views": ["RCC"],
                                "instances": [{"skip_writing": True}],
                            },
                        ]
                    }
                ]
            }
        ],
    }
    datasets = _datasets(make_dataset(spec))
    assert len(datasets) == 1
    ((path, ds),) = datasets
    assert "SourceImageSequence" not in ds
    assert dciodvfy(path).errors == []


# ---------------------------------------------------------------- breast priors as DX or CR

BREAST_FORMS = {
    "views": {"views": ["RCC", "LMLO"]},
    "modality-mg": {"count": 2, "tags": {"Modality": "MG"}},
    "views-and-modality-mg": {"views": ["RCC", "LMLO"], "tags": {"Modality": "MG"}},
}
EXPECTED_VIEWS = {"views": ["RCC", "LMLO"], "modality-mg": ["RCC", "LCC"]}
VIEW_CODES = {"CC": "399162004", "MLO": "399368009"}


def _series_spec(series: dict[str, Any], seed: int = 5) -> dict[str, Any]:
    return {
        "seed": seed,
        "defaults": {"pixels": SMALL},
        "patients": [{"studies": [{"role": "prior", "series": [series]}]}],
    }


@pytest.mark.parametrize("form", list(BREAST_FORMS))
@pytest.mark.parametrize("iod", ["dx", "cr"])
def test_breast_prior_as_dx_or_cr_is_a_breast_image(make_dataset: Any, iod: str, form: str) -> None:
    result = make_dataset(_series_spec({"iod": iod, **BREAST_FORMS[form]}))
    (series,) = result.manifest.patients[0].studies[0].series
    assert series.modality == "MG"  # what the files say
    views = EXPECTED_VIEWS.get(form, ["RCC", "LMLO"])
    assert [i.view for i in series.instances] == views  # one image per view
    for entry, view in zip(series.instances, views, strict=True):
        path = result.path / entry.file
        validation = dciodvfy(path)
        assert validation.errors == [], validation.output
        # dciodvfy knows only the chest terms of ViewPosition (as for MG)
        assert all("ViewPosition" in w for w in validation.warnings), validation.output
        dump = dcmdump(path)
        assert "(0008,0060) CS [MG]" in dump and "(0018,0015) CS [BREAST]" in dump
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert ds.SOPClassUID == registry_uid(iod)
        assert (ds.ImageLaterality, ds.ViewPosition) == (view[0], view[1:])
        assert entry.laterality == view[0]
        (region,) = ds.AnatomicRegionSequence
        assert (region.CodeValue, region.CodingSchemeDesignator) == ("76752008", "SCT")
        assert ds.PatientOrientation[0] == ("P" if view[0] == "R" else "A")
        assert "Laterality" not in ds  # ImageLaterality says it (Laterality is 2C on its absence)
        if iod == "dx":  # DX Positioning: the view codes the Digital Mammography IOD uses
            (code,) = ds.ViewCodeSequence
            assert (code.CodeValue, code.CodingSchemeDesignator) == (VIEW_CODES[view[1:]], "SCT")
            assert code.ViewModifierCodeSequence == []
        else:  # no View Code Sequence in the CR IOD
            assert "ViewCodeSequence" not in ds


def registry_uid(name: str) -> str:
    template = registry.find(name)
    assert template is not None
    return template.sop_class_uid


def test_manifest_modality_is_what_each_file_says(make_dataset: Any) -> None:
    """Chest DX and CR stay chest images; breast views make MG unless the tags say otherwise."""
    series_specs = [
        {"iod": "dx", "count": 1},
        {"iod": "cr", "count": 1},
        {"iod": "dx", "views": ["RCC"]},
        {"iod": "cr", "count": 1, "tags": {"Modality": "MG"}},
        {"iod": "dx", "views": ["LCC"], "tags": {"Modality": "DX"}},
    ]
    spec = _series_spec(series_specs[0])
    spec["patients"][0]["studies"][0]["series"] = series_specs
    result = make_dataset(spec)
    found = []
    for series in result.manifest.patients[0].studies[0].series:
        (entry,) = series.instances
        path = result.path / entry.file
        assert dciodvfy(path).errors == [], path
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert series.modality == ds.Modality
        found.append((ds.Modality, ds.BodyPartExamined, ds.ImageLaterality, ds.ViewPosition))
    assert found == [
        ("DX", "CHEST", "U", "PA"),
        ("CR", "CHEST", "U", "PA"),
        ("MG", "BREAST", "R", "CC"),
        ("MG", "BREAST", "R", "CC"),
        ("DX", "BREAST", "L", "CC"),
    ]


def test_modality_the_iod_refuses_is_written_when_permissive_and_declared(
    make_dataset: Any,
) -> None:
    spec = _series_spec({"iod": "cr", "count": 1, "permissive": True, "tags": {"Modality": "CT"}})
    result = make_dataset(spec)
    (series,) = result.manifest.patients[0].studies[0].series
    (entry,) = series.instances
    assert pydicom.dcmread(result.path / entry.file, stop_before_pixels=True).Modality == "CT"
    assert series.modality == "CT"
    path = "patients[0].studies[0].series[0].tags.Modality"
    assert entry.defects == [
        {
            "what": "the Computed Radiography Image IOD allows Modality CR or MG, not 'CT'",
            "at": path,
        }
    ]
    clean = make_dataset(_series_spec({"iod": "cr", "count": 1}), out=result.path.parent / "c")
    assert clean.manifest.instances()[0].defects == []


@pytest.mark.parametrize("iod", ["sc", "mr"])
def test_views_on_an_iod_without_views_are_refused(iod: str) -> None:
    with pytest.raises(SpecError) as info:
        make_plan(parse_spec(_series_spec({"iod": iod, "views": ["RCC"]})))
    (issue,) = info.value.issues
    assert issue.path == "patients[0].studies[0].series[0].views"
    assert f"{iod} images have no mammography view" in issue.message
    assert "dx" in issue.message and "cr" in issue.message


@pytest.mark.parametrize(("iod", "modality"), [("dx", "CR"), ("cr", "DX")])
def test_modality_the_iod_refuses_on_a_breast_view_suggests_mg(iod: str, modality: str) -> None:
    spec = _series_spec({"iod": iod, "views": ["RCC"], "tags": {"Modality": modality}})
    with pytest.raises(SpecError) as info:
        make_plan(parse_spec(spec))
    (issue,) = info.value.issues
    assert issue.path == "patients[0].studies[0].series[0].tags.Modality"
    assert f"not '{modality}'" in issue.message
    assert issue.suggestion == "Modality: MG"


@pytest.mark.parametrize("iod", ["dx", "cr"])
def test_breast_prior_view_follows_its_laterality_and_view_position_tags(
    make_dataset: Any, iod: str
) -> None:
    """Tags that name the views in another order than the screening views: each file's view
    codes, orientation and manifest view follow its own ImageLaterality and ViewPosition (they
    used to follow the position in the series: an LMLO image said cranio-caudal)."""
    named = ["LMLO", "RCC", "LCC", "RMLO"]
    instances = [{"tags": {"ImageLaterality": v[0], "ViewPosition": v[1:]}} for v in named]
    series = {"iod": iod, "tags": {"Modality": "MG"}, "instances": instances}
    result = make_dataset(_series_spec(series))
    (entry,) = result.manifest.patients[0].studies[0].series
    assert [i.view for i in entry.instances] == named
    for instance, view in zip(entry.instances, named, strict=True):
        path = result.path / instance.file
        assert dciodvfy(path).errors == []
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert ds.PatientOrientation[0] == ("P" if view[0] == "R" else "A")
        if iod == "dx":
            (code,) = ds.ViewCodeSequence
            assert (code.CodeValue, code.CodingSchemeDesignator) == (VIEW_CODES[view[1:]], "SCT")
        else:
            assert "ViewCodeSequence" not in ds
