"""What the spec itself refuses (issue 10): an empty file, impossible times and dates, one UID for
two studies, several values for a VM 1 attribute, text the chosen character set cannot hold. Each
is refused with the path of the field, unless ``permissive: true`` asks for it on purpose."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from dicomfab import SpecError, load_spec, parse_spec
from dicomfab.builder.plan import make_plan
from dicomfab.builder.plan_model import Plan

SMALL = {"pixels": {"rows": 64, "columns": 64}}


def _issues(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        make_plan(parse_spec(data))
    return {i.path: i.message for i in info.value.issues}


def _plan(data: dict[str, Any]) -> Plan:
    return make_plan(parse_spec(data))


def _studies(*studies: dict[str, Any], **patient: Any) -> dict[str, Any]:
    return {"defaults": SMALL, "patients": [{**patient, "studies": list(studies)}]}


# ------------------------------------------------------------------ 1. an empty spec file


@pytest.mark.parametrize(
    ("suffix", "text"),
    [
        (".yaml", ""),
        (".yaml", "   \n\t\n"),
        (".yaml", "# only a comment\n"),
        (".yml", "\n# a\n# b\n"),
        (".json", ""),
        (".json", " \n\n"),
        (".yaml", "~\n"),  # a document that is only null is empty too
        (".yaml", "null  # nothing\n"),
        (".yml", "---\n...\n"),
        (".yaml", "--- ~\n"),
        (".json", "null"),
    ],
)
def test_an_empty_spec_file_is_refused(tmp_path: Path, suffix: str, text: str) -> None:
    path = tmp_path / f"study{suffix}"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value) == f"{path}: is empty: write {{}} to ask for the default study"
    path.write_text("{}\n")  # the way to ask for the default study
    assert len(make_plan(load_spec(path)).instances) == 4


def _cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    """``dicomfab ARGS`` in this process: (exit code, stderr)."""
    from dicomfab.cli import main

    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    code = info.value.code
    return code if isinstance(code, int) else 1, capsys.readouterr().err


def test_validate_exits_2_on_an_empty_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    code, err = _cli(capsys, "validate", path)
    assert code == 2
    assert err.strip() == f"error: {path}: is empty: write {{}} to ask for the default study"


# ------------------------------------------------------------------ 2. times


@pytest.mark.parametrize(
    ("time", "reason"),
    [
        ("25:00:00", "hour 25"),
        ("12:60:00", "minute 60"),
        ("12:30:61", "second 61"),
        ("1230000", "not a time"),
    ],
)
def test_a_study_time_that_is_no_time_is_refused(time: str, reason: str) -> None:
    found = _issues(_studies({"time": time}))
    assert reason in found["patients[0].studies[0].time"]
    # permissive writes it as given
    (study,) = _plan(_studies({"time": time, "permissive": True})).studies
    assert study.time == time.replace(":", "")
    # and the valid forms of TM pass
    for good in ["12:30:00", "123000", "23:59:59", "0930", "07", "120000.123"]:
        (study,) = _plan(_studies({"time": good})).studies
        assert study.time == good.replace(":", "")


def test_a_study_time_tag_out_of_range_is_refused_unless_permissive() -> None:
    data = _studies({"tags": {"StudyTime": "250000"}})
    assert "hour 25" in _issues(data)["patients[0].studies[0].tags.StudyTime"]
    data["defaults"] = {**SMALL, "permissive": True}
    _plan(data)


def test_a_time_the_builder_cannot_count_from_is_refused_even_when_permissive() -> None:
    assert "not a time" in _issues(_studies({"time": "noon"}))["patients[0].studies[0].time"]
    found = _issues(_studies({"time": "noon", "permissive": True}))
    assert "not even with permissive" in found["patients[0].studies[0].time"]


# ------------------------------------------------------------------ 3. dates and study UIDs


@pytest.mark.parametrize("role", ["prior", "external_prior"])
def test_a_prior_after_the_current_study_is_refused(role: str) -> None:
    found = _issues(_studies({"date": "2024-05-01"}, {"role": role, "date": "+30d"}))
    message = found["patients[0].studies[1].date"]
    assert "2024-05-31" in message and "after the current study (2024-05-01)" in message
    # on the current day or before is fine
    plan = _plan(
        _studies({"date": "2024-05-01"}, {"role": "prior", "date": "current"}, {"role": "prior"})
    )
    assert [s.date for s in plan.studies] == [
        dt.date(2024, 5, 1),
        dt.date(2024, 5, 1),
        dt.date(2022, 5, 1),  # the second prior's default: two years before
    ]
    # permissive writes a later "prior" on purpose
    plan = _plan(
        _studies({"date": "2024-05-01"}, {"role": role, "date": "+30d", "permissive": True})
    )
    assert plan.studies[1].date == dt.date(2024, 5, 31)


def test_a_study_before_the_birth_date_is_refused() -> None:
    found = _issues(_studies({"date": "2024-05-01"}, birth_date="2024-06-01"))
    assert "before the patient's birth date 2024-06-01" in found["patients[0].studies[0].date"]
    # a study whose date is the default is reported at the birth date the user wrote
    found = _issues({"reference_date": "2024-05-01", "patients": [{"birth_date": "2030-01-01"}]})
    assert "before the patient's birth date" in found["patients[0].birth_date"]


def test_two_studies_with_one_uid_are_refused_at_the_second() -> None:
    data = {
        "defaults": SMALL,
        "patients": [
            {"studies": [{"uid": "1.2.3"}, {"role": "prior", "uid": "1.2.4"}]},
            {"studies": [{"uid": "1.2.3"}]},
        ],
    }
    found = _issues(data)
    assert list(found) == ["patients[1].studies[0].uid"]
    assert "already the UID of patients[0].studies[0]" in found["patients[1].studies[0].uid"]
    data["patients"][1]["studies"][0]["permissive"] = True
    assert [s.uid for s in _plan(data).studies] == ["1.2.3", "1.2.4", "1.2.3"]


# ------------------------------------------------------------------ 4. PatientAge


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        ("2024-01-01", "2024-01-01", "000D"),
        ("2024-01-01", "2024-01-28", "027D"),
        ("2024-01-01", "2024-02-10", "005W"),  # 40 days
        ("2024-01-01", "2024-03-31", "012W"),
        ("2024-01-01", "2024-04-01", "003M"),
        ("2024-01-01", "2025-12-31", "023M"),
        ("2024-01-01", "2026-01-01", "002Y"),
        ("1960-07-30", "2024-07-29", "063Y"),
        ("1960-07-30", "2024-07-30", "064Y"),
    ],
)
def test_patient_age_uses_the_unit_modalities_use(birth: str, on: str, age: str) -> None:
    from dicomfab.builder.demographics import age_string

    assert age_string(dt.date.fromisoformat(birth), dt.date.fromisoformat(on)) == age


def test_a_40_day_old_patient_is_005w_in_the_file(tmp_path: Path) -> None:
    import pydicom

    from dicomfab import generate

    data = _studies({"date": "2024-02-10", "series": [{"count": 1}]}, birth_date="2024-01-01")
    result = generate(parse_spec(data), tmp_path / "out")
    (path,) = (result.path / "dicoms").rglob("*.dcm")
    assert pydicom.dcmread(path).PatientAge == "005W"


def test_no_age_for_a_study_before_birth_when_permissive() -> None:
    from dicomfab.builder.demographics import age_string

    assert age_string(dt.date(2024, 6, 1), dt.date(2024, 5, 1)) == ""


# ------------------------------------------------------------------ 6. value multiplicity


def test_several_values_for_a_vm_1_attribute_are_refused() -> None:
    data = {"defaults": {**SMALL, "tags": {"ReferringPhysicianName": ["A^B", "C^D"]}}}
    message = _issues(data)["defaults.tags.ReferringPhysicianName"]
    assert "VM 1" in message and "2 values" in message
    data = {"defaults": {**SMALL, "tags": {"ReferringPhysicianName": "A^B\\C^D"}}}
    assert "VM 1" in _issues(data)["defaults.tags.ReferringPhysicianName"]
    # an attribute whose VM allows several values takes them
    _plan({"defaults": {**SMALL, "tags": {"OtherPatientIDs": ["X1", "X2"]}}})
    # permissive writes several on purpose
    data = {
        "defaults": {**SMALL, "permissive": True, "tags": {"ReferringPhysicianName": ["A", "B"]}}
    }
    (inst,) = _plan({**data, "patients": [{"studies": [{"series": [{"count": 1}]}]}]}).instances
    assert [v.value for v in inst.tags.values()] == [["A", "B"]]


@pytest.mark.parametrize(
    ("keyword", "value", "vm"),
    [
        ("ImageType", ["ORIGINAL"], "2-n"),  # found by the property test: dciodvfy refuses it
        ("ImageType", "ORIGINAL", "2-n"),
        ("PixelSpacing", [0.1, 0.1, 0.1], "2"),
        ("ImageOrientationPatient", [1, 0, 0, 0, 1], "6"),
        ("DisplayedAreaTopLeftHandCorner", [1, 2, 3], "2"),
    ],
)
def test_a_number_of_values_the_vm_does_not_allow_is_refused(
    keyword: str, value: object, vm: str
) -> None:
    data = {"defaults": {**SMALL, "tags": {keyword: value}}}
    message = _issues(data)[f"defaults.tags.{keyword}"]
    assert f"has VM {vm}" in message and "permissive: true" in message, message
    # permissive writes it on purpose
    data["defaults"]["permissive"] = True
    _plan({**data, "patients": [{"studies": [{"series": [{"count": 1}]}]}]})


def test_the_numbers_of_values_the_vm_allows_are_accepted() -> None:
    tags = {
        "ImageType": ["ORIGINAL", "PRIMARY", "", "X"],
        "PixelSpacing": [0.1, 0.1],
        "OtherPatientIDs": "X1",
        "ReferringPhysicianName": "",  # empty: no value at all
    }
    _plan({"defaults": {**SMALL, "tags": tags}})


def test_a_patient_name_with_a_backslash_is_refused_unless_permissive() -> None:
    data = {"defaults": SMALL, "patients": [{"name": "Doe^Jane\\Roe^Ann"}]}
    message = _issues(data)["patients[0].name"]
    assert "PatientName has VM 1" in message
    data["patients"][0]["permissive"] = True
    assert _plan(data).patients[0].name == "Doe^Jane\\Roe^Ann"


# ------------------------------------------------------------------ 7. character sets


@pytest.mark.parametrize(
    ("where", "text", "path"),
    [
        ("name", "Yamada^Hanako=山田^花子", "patients[0].name"),
        ("name", "Smith–Jones^Ann", "patients[0].name"),
        ("tag", "Smith–Jones^Ann", "defaults.tags.ReferringPhysicianName"),
        ("item", "山田", "defaults.tags.OtherPatientIDsSequence[0].PatientID"),
    ],
)
def test_text_the_character_set_cannot_encode_is_refused(where: str, text: str, path: str) -> None:
    tags: dict[str, Any] = {"SpecificCharacterSet": "ISO_IR 100"}
    patient: dict[str, Any] = {}
    if where == "name":
        patient["name"] = text
    elif where == "item":
        tags["OtherPatientIDsSequence"] = [{"PatientID": text, "IssuerOfPatientID": "X"}]
    else:
        tags["ReferringPhysicianName"] = text
    found = _issues({"defaults": {**SMALL, "tags": tags}, "patients": [patient]})
    assert "'ISO_IR 100'" in found[path] and "cannot encode" in found[path]
    assert "ISO_IR 192" in found[path]
    # what the character set holds passes, and so does anything in UTF-8
    latin1 = {"SpecificCharacterSet": "ISO_IR 100", "StudyDescription": "Mammographie bilatérale"}
    _plan({"defaults": {**SMALL, "tags": latin1}, "patients": [{"name": "Müller^Jürgen"}]})
    utf8 = {"SpecificCharacterSet": "ISO_IR 192"}
    _plan({"defaults": {**SMALL, "tags": utf8}, "patients": [{"name": "Yamada^Hanako=山田^花子"}]})


def test_an_unencodable_name_is_exit_2_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(
        "defaults: {tags: {SpecificCharacterSet: ISO_IR 100}, pixels: {rows: 64, columns: 64}}\n"
        "patients: [{name: 'Yamada^Hanako=山田^花子'}]\n",
        encoding="utf-8",
    )
    for command in (["validate", path], ["generate", "--config", path, "-o", tmp_path / "o"]):
        code, err = _cli(capsys, *command)
        assert code == 2, err
        assert "patients[0].name" in err and "ISO_IR 100" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
