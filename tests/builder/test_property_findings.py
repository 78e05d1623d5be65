"""What the property test (tests/test_properties_dicom.py) found: specs ``validate`` accepted
and ``generate`` wrote with dciodvfy errors. Each is now refused at validate with the field's
path, or written validly; ``permissive: true`` still writes the invalid value on purpose."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydicom
import pytest

from dicomfab import SpecError, generate, make_plan, parse_spec
from dicomtools import dciodvfy

STUDY = "patients[0].studies[0]"
CC = {"CodeValue": "399162004", "CodingSchemeDesignator": "SCT", "CodeMeaning": "cranio-caudal"}


def spec_of(
    patient: dict[str, Any], study: dict[str, Any], defaults: dict[str, Any]
) -> dict[str, Any]:
    study = {"series": [{"count": 1}], **study}
    defaults = {"pixels": {"rows": 32, "columns": 32}, **defaults}
    return {"defaults": defaults, "patients": [{**patient, "studies": [study]}]}


def refusal(spec: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        make_plan(parse_spec(spec))
    return {issue.path: issue.message for issue in info.value.issues}


def errors_of_the_one_file(tmp_path: Path, spec: dict[str, Any]) -> list[str]:
    result = generate(parse_spec(spec), tmp_path, workers=1)
    (inst,) = result.manifest.instances()
    return dciodvfy(result.path / inst.file).errors


def test_fields_longer_than_their_attributes_vr_are_refused(tmp_path: Path) -> None:
    spec = spec_of(
        {"id": "X" * 70},
        {"accession_number": "ACC-12345678901234567", "study_id": "STUDY-ID-0123456789"},
        {},
    )
    issues = refusal(spec)
    assert "maximum length of 64 allowed for VR LO" in issues["patients[0].id"]
    assert "maximum length of 16 allowed for VR SH" in issues[f"{STUDY}.accession_number"]
    assert "maximum length of 16 allowed for VR SH" in issues[f"{STUDY}.study_id"]
    assert "PatientID" in issues["patients[0].id"]
    # permissive writes it as asked, on purpose
    spec["defaults"]["permissive"] = True
    errors = errors_of_the_one_file(tmp_path, spec)
    assert any("PatientID" in e for e in errors), errors


def test_view_codes_get_an_empty_modifier_sequence_only_where_it_is_type2(
    tmp_path: Path,
) -> None:
    """ViewModifierCodeSequence is Type 2 in mammography (an empty one is added) but Type 3 in
    SC and MR (1-n items when present: none is added)."""
    for iod, modifiers in (("mg", 1), ("sc", 0), ("mr", 0)):
        spec = spec_of({}, {}, {"iod": iod, "tags": {"ViewCodeSequence": [CC]}})
        result = generate(parse_spec(spec), tmp_path / iod, workers=1)
        (inst,) = result.manifest.instances()
        ds = pydicom.dcmread(result.path / inst.file)
        assert (
            len([e for e in ds.ViewCodeSequence[0] if e.keyword == "ViewModifierCodeSequence"])
            == modifiers
        )
        assert dciodvfy(result.path / inst.file).errors == [], iod


@pytest.mark.parametrize("iod", ["sc", "mr"])
def test_an_empty_type3_modifier_sequence_is_refused(iod: str) -> None:
    item = {**CC, "ViewModifierCodeSequence": []}
    spec = spec_of({}, {}, {"iod": iod, "tags": {"ViewCodeSequence": [item]}})
    issues = refusal(spec)
    assert (
        "at least one item" in issues["defaults.tags.ViewCodeSequence[0].ViewModifierCodeSequence"]
    )


def test_secondary_capture_keeps_its_type2_manufacturer() -> None:
    spec = spec_of({}, {}, {"iod": "sc", "remove_tags": ["Manufacturer"]})
    issues = refusal(spec)
    assert any("Manufacturer is required" in m for m in issues.values()), issues


@pytest.mark.parametrize("iod", ["mr", "sc", "cr"])
def test_window_width_is_not_left_out_alone(tmp_path: Path, iod: str) -> None:
    """WindowWidth is Type 1C when WindowCenter is present (C.11.2): one alone is refused, at
    the remove_tags the user wrote; both together are left out validly."""
    spec = spec_of({}, {}, {"iod": iod, "remove_tags": ["WindowWidth"]})
    issues = refusal(spec)
    assert "come together" in issues["defaults.remove_tags"], issues
    spec["defaults"]["remove_tags"] = ["WindowWidth", "WindowCenter"]
    assert errors_of_the_one_file(tmp_path, spec) == []


@pytest.mark.parametrize("iod", ["mr", "sc"])
def test_a_breast_image_without_image_laterality_needs_laterality(tmp_path: Path, iod: str) -> None:
    """MR and SC images are of the breasts (a paired part): without ImageLaterality, Laterality
    is Type 2C (General Series). Refused alone; valid with Laterality given."""
    spec = spec_of({}, {}, {"iod": iod, "remove_tags": ["ImageLaterality"]})
    issues = refusal(spec)
    assert "needs Laterality" in issues["defaults.remove_tags"], issues
    spec["defaults"]["tags"] = {"Laterality": "R"}
    assert errors_of_the_one_file(tmp_path, spec) == []


def test_the_default_repertoire_holds_ascii_only() -> None:
    """ISO_IR 6 is ASCII: a name it cannot hold is refused at validate (pydicom's codec for it
    is Latin-1, which let 'Ø' through and wrote an invalid character)."""
    spec = spec_of({"name": "Øvergård^Åse"}, {}, {"tags": {"SpecificCharacterSet": "ISO_IR 6"}})
    issues = refusal(spec)
    assert "cannot encode" in issues["patients[0].name"], issues


@pytest.mark.parametrize("iod", ["mg", "dbt", "dx", "cr", "sc", "mr"])
def test_laterality_is_refused_beside_image_laterality(iod: str) -> None:
    """Laterality (Type 2C) may not be present when the image has ImageLaterality (or DBT's
    FrameLaterality): dciodvfy "Attribute present when condition unsatisfied"."""
    spec = spec_of({}, {}, {"iod": iod, "tags": {"Laterality": "R"}})
    issues = refusal(spec)
    assert "allowed only" in issues["defaults.tags.Laterality"], issues
