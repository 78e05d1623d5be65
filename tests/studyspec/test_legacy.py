"""The predecessor's power-customize config: conversion rules, and a realistic config generated and
read back tag by tag."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom import config as pydicom_config

from dicomfab import Spec, SpecError, generate, make_plan, parse_spec
from dicomfab.studyspec import legacy
from dicomfab.studyspec.loading import load_spec
from dicomfab.studyspec.views import VIEWS

CREATOR = "DICOMFAB LEGACY"
SPECIAL = {
    "skip_writing",
    "CustomFileName",
    "force_bits_mismatch",
    "force_raw_dicom",
    "force_unsupported_dicom",
}
PATIENT = {
    "PatientName": "Doe^Jane",
    "PatientID": "PID0001",
    "PatientBirthDate": "19650412",
    "PatientSex": "F",
}
SMALL = {"Rows": 128, "Columns": 96}


def _image(**tags: Any) -> dict[str, Any]:
    return {"tags": {**PATIENT, **SMALL, **tags}}


def realistic_config() -> dict[str, Any]:
    current = {
        "StudyDate": "20240301",
        "AccessionNumber": "ACC1001",
        "StudyID": "S1",
        "BitsAllocated": 16,
        "BitsStored": 12,
    }
    prior = {"StudyDate": "20220301", "StudyDescription": "MAMMO PRIOR"}
    return {
        "outputDir": "C:/data/generated",
        "current_study": {
            "cancerous": True,
            "count": 4,
            "description": "MAMMO SCREENING BILATERAL",
            "images": [
                _image(ViewPosition="RCC", CustomFileName="current_rcc.dcm", **current),
                _image(
                    ViewPosition="LCC",
                    Private_0029_1010="legacy note",
                    InstitutionName="Old Site",
                    **current,
                ),
                _image(ViewPosition="RMLO", SOPInstanceUID="1.2.3.4.5.6", **current),
                _image(ViewPosition="LMLO", skip_writing=True, **current),
            ],
        },
        "internal_priors": [
            {
                "count": 2,
                "images": [
                    _image(ViewPosition="RCC", **prior),
                    _image(
                        ViewPosition="LCC",
                        force_bits_mismatch=True,
                        BitsAllocated=12,
                        BitsStored=15,
                        HighBit=14,
                        **prior,
                    ),
                ],
            }
        ],
        "external_priors": [
            {
                "description": "OUTSIDE MAMMO",
                "images": [
                    _image(
                        ViewPosition="CC",
                        InstitutionName="Elsewhere",
                        Private_0029_1012=42,
                        Private_0029_1013=[1.5, 2.5],
                        Private_0029_1014="x" * 80,
                    ),
                ],
            }
        ],
    }


@pytest.fixture
def lenient_reading() -> Iterator[None]:
    """Read deliberately invalid values back without pydicom's warnings."""
    previous = pydicom_config.settings.reading_validation_mode
    pydicom_config.settings.reading_validation_mode = pydicom_config.IGNORE
    try:
        yield
    finally:
        pydicom_config.settings.reading_validation_mode = previous


def _assert_tag(ds: pydicom.Dataset, key: str, value: Any, where: str) -> None:
    """One old tag, honoured in the file as the old tool would have written it."""
    if key == "ViewPosition" and value in VIEWS:  # laterality + view: the instance's view
        assert ds.ImageLaterality == VIEWS[value].laterality, where
        assert ds.ViewPosition == VIEWS[value].position, where
        assert ds.ViewCodeSequence[0].CodeValue == VIEWS[value].code, where
        return
    if key.startswith("Private_"):
        group, element = int(key[8:12], 16), int(key[13:17], 16)
        block = ds.private_block(group, CREATOR)
        elem = block[element & 0xFF]
        assert block.block_start == 0x1000, where  # the first block: same tag as before
        assert elem.tag == (group << 16) | element, where
        assert ds[group, 0x0010].value == CREATOR, where
        if isinstance(value, list):
            assert (elem.VR, list(elem.value)) == ("FD", value), where
        elif isinstance(value, int):
            assert (elem.VR, elem.value) == ("SL", value), where
        else:
            assert (elem.VR, elem.value) == ("LO" if len(value) <= 64 else "LT", value), where
        return
    actual = ds[key].value
    if isinstance(value, str):
        actual = str(actual)
    assert actual == value, f"{where}: {key} is {actual!r}, the old config says {value!r}"


def test_realistic_config_is_honoured_tag_by_tag(tmp_path: Path, lenient_reading: None) -> None:
    old = realistic_config()
    result = generate(parse_spec(copy.deepcopy(old)), tmp_path / "out")
    assert result.path.name == "power_customized_dataset"
    (patient,) = result.manifest.patients
    assert (patient.patient_id, patient.name, patient.birth_date, patient.sex) == (
        "PID0001",
        "Doe^Jane",
        "1965-04-12",
        "F",
    )
    current, prior, external = patient.studies
    assert [s.role for s in patient.studies] == ["current", "prior", "external_prior"]
    assert (current.date, current.description) == ("2024-03-01", "MAMMO SCREENING BILATERAL")
    assert current.accession_number == "ACC1001"
    assert (prior.date, prior.description) == ("2022-03-01", "MAMMO PRIOR")
    assert external.description == "OUTSIDE MAMMO"
    assert external.date < current.date

    old_studies = [old["current_study"], *old["internal_priors"], *old["external_priors"]]
    checked = 0
    for study, old_study in zip(patient.studies, old_studies, strict=True):
        (series,) = study.series
        assert len(series.instances) == len(old_study["images"])
        for inst, image in zip(series.instances, old_study["images"], strict=True):
            tags = image["tags"]
            path = result.path / inst.file
            if tags.get("skip_writing"):
                assert not inst.written and not path.exists()
                continue
            if "CustomFileName" in tags:
                assert path.name == tags["CustomFileName"]
            assert path.is_file()
            ds = pydicom.dcmread(path)
            assert ds.StudyInstanceUID == study.study_instance_uid
            for key, value in tags.items():
                if key not in SPECIAL:
                    _assert_tag(ds, key, value, f"{inst.file}")
                    checked += 1
    assert checked > 60

    # the bits mismatch is written exactly as given
    mismatch = pydicom.dcmread(result.path / prior.series[0].instances[1].file)
    assert (mismatch.BitsAllocated, mismatch.BitsStored, mismatch.HighBit) == (12, 15, 14)
    # the skipped instance is listed in the record, its file absent
    skipped = current.series[0].instances[3]
    record = json.loads((result.path / "jsons" / f"{current.study_instance_uid}.json").read_text())
    assert skipped.sop_instance_uid in record["sop_instance_uids"]
    assert len(record["sop_instance_uids"]) == 4
    assert "1.2.3.4.5.6" in record["sop_instance_uids"]
    assert (record["patient_id"], record["accession_number"]) == ("PID0001", "ACC1001")
    # as the old tool did: the external prior joins the internal one in the chain, by date
    chain, link = [], record["prior_study_data"]
    while link is not None:
        chain.append((link["study_date"][:10], link["study_description"]))
        link = link["prior_study_data"]
    assert chain == [(external.date, "OUTSIDE MAMMO"), (prior.date, "MAMMO PRIOR")]
    assert record["external_priors"] == []
    assert not (result.path / skipped.file).exists()


def test_converted_config_reads_as_a_spec() -> None:
    notes: list[str] = []
    data = legacy.convert(realistic_config(), warn=notes.append)
    spec = Spec.model_validate(data)
    current = spec.patients[0].studies[0]
    assert current.pixels is not None and current.pixels.lesion == "mass"
    assert current.series[0].count == 4
    assert [i.view for i in current.series[0].instances] == ["RCC", "LCC", "RMLO", "LMLO"]
    assert current.series[0].instances[2].sop_instance_uid == "1.2.3.4.5.6"
    bits = spec.patients[0].studies[1].series[0].instances[1]
    assert bits.permissive is True
    assert bits.tags == {**SMALL, "BitsAllocated": 12, "BitsStored": 15, "HighBit": 14}
    external = spec.patients[0].studies[2].series[0].instances[0].tags
    assert external["ViewPosition"] == "CC"  # no laterality: stays a tag
    assert external['(0029,"DICOMFAB LEGACY",12)'] == {"vr": "SL", "value": 42}
    assert external['(0029,"DICOMFAB LEGACY",13)'] == {"vr": "FD", "value": [1.5, 2.5]}
    assert external['(0029,"DICOMFAB LEGACY",14)'] == {"vr": "LT", "value": "x" * 80}
    assert any("outputDir is ignored" in n for n in notes)
    assert any("Private_0029_1010" in n and CREATOR in n for n in notes)


def _convert(**top: Any) -> dict[str, Any]:
    return legacy.convert(top)


def _instances(data: dict[str, Any], study: int = 0) -> list[dict[str, Any]]:
    instances: list[dict[str, Any]] = data["patients"][0]["studies"][study]["series"][0].get(
        "instances", []
    )
    return instances


def test_count_defaults_and_one_image_for_all() -> None:
    data = _convert(current_study={}, internal_priors=[{"images": [{}, {}]}])
    studies = data["patients"][0]["studies"]
    assert [s["series"][0]["count"] for s in studies] == [4, 2]
    data = _convert(current_study={"count": 3, "images": [{"tags": {"Modality": "MG"}}]})
    assert _instances(data) == [{"tags": {"Modality": "MG"}}] * 3


def test_more_images_than_count_is_an_error() -> None:
    with pytest.raises(SpecError, match=r"current_study\.count: 2 images for count 1"):
        _convert(current_study={"count": 1, "images": [{}, {}]})


def test_patient_attributes_lift_only_when_all_images_agree() -> None:
    pid = {"tags": {"PatientID": "A"}}
    data = _convert(current_study={"images": [pid]}, internal_priors=[{"images": [pid]}])
    assert data["patients"][0]["id"] == "A"
    assert _instances(data) == []
    # pr_pid_mismatch: the prior says otherwise, so every image keeps its own PatientID
    other = {"tags": {"PatientID": "B"}}
    data = _convert(current_study={"images": [pid]}, internal_priors=[{"images": [other]}])
    assert "id" not in data["patients"][0]
    assert _instances(data, 1) == [{"tags": {"PatientID": "B"}}]
    # an image without it: not lifted either (it gets the synthetic patient's value)
    data = _convert(current_study={"images": [pid, {}]})
    assert "id" not in data["patients"][0]


def test_study_attributes_lift_within_their_study() -> None:
    same = {"tags": {"StudyInstanceUID": "1.2.3", "StudyDate": "20200101"}}
    data = _convert(current_study={"images": [same, same]})
    study = data["patients"][0]["studies"][0]
    assert (study["uid"], study["date"]) == ("1.2.3", "20200101")
    # studyuid_mismatch: one image with its own StudyInstanceUID stays an instance tag
    odd = {"tags": {"StudyInstanceUID": "9.9.9"}}
    data = _convert(current_study={"images": [{}, odd]})
    assert "uid" not in data["patients"][0]["studies"][0]
    assert _instances(data)[1] == {"tags": {"StudyInstanceUID": "9.9.9"}}
    # an invalid StudyDate is no study date: it stays a tag, for the planner to judge
    bad = {"tags": {"StudyDate": "20241345"}}
    data = _convert(current_study={"images": [bad]})
    assert "date" not in data["patients"][0]["studies"][0]
    # StudyDescription contradicting the study's description stays on the images
    desc = {"tags": {"StudyDescription": "FROM TAG"}}
    data = _convert(current_study={"description": "FROM STUDY", "images": [desc]})
    assert data["patients"][0]["studies"][0]["description"] == "FROM STUDY"
    assert _instances(data) == [desc]


def test_forced_iods() -> None:
    data = _convert(
        current_study={
            "images": [
                {"tags": {"force_raw_dicom": True, "ViewPosition": "LMLO"}},
                {"force_unsupported_dicom": True, "tags": {"ViewPosition": "RCC"}},
            ]
        }
    )
    raw, pdf = _instances(data)
    assert raw == {"iod": "mg-processing", "view": "LMLO"}
    assert pdf == {"iod": "pdf", "tags": {"ViewPosition": "RCC"}}
    plan = make_plan(Spec.model_validate(data))
    assert [i.iod.name for i in plan.instances] == ["mg-processing", "pdf"]
    with pytest.raises(SpecError, match="exclude each other"):
        _convert(
            current_study={"images": [{"force_raw_dicom": True, "force_unsupported_dicom": True}]}
        )


def test_derived_bits_are_dropped_unless_forced() -> None:
    notes: list[str] = []
    image = {"tags": {"BitsStored": 12, "HighBit": 11, "PixelRepresentation": 1}}
    data = legacy.convert({"current_study": {"images": [image]}}, warn=notes.append)
    assert _instances(data) == [{"tags": {"BitsStored": 12}}]
    assert len(notes) == 1 and "PixelRepresentation 1 dropped" in notes[0]
    make_plan(Spec.model_validate(data))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", {"vr": "LO", "value": "text"}),
        ("y" * 65, {"vr": "LT", "value": "y" * 65}),
        (7, {"vr": "SL", "value": 7}),
        (2**40, {"vr": "SV", "value": 2**40}),
        (0.5, {"vr": "FD", "value": 0.5}),
        ([1, 2.5], {"vr": "FD", "value": [1.0, 2.5]}),
        (["a", "b"], {"vr": "LO", "value": ["a", "b"]}),
        (None, {"vr": "LO", "value": None}),
        ({"vr": "US", "value": 3}, {"vr": "US", "value": 3}),
    ],
)
def test_private_values_get_a_vr_from_their_type(value: Any, expected: dict[str, Any]) -> None:
    data = _convert(current_study={"images": [{"tags": {"Private_0009_0021": value}}]})
    # block byte 00 (< 10): mapped by the low byte all the same
    assert _instances(data) == [{"tags": {'(0009,"DICOMFAB LEGACY",21)': expected}}]


def test_private_key_problems() -> None:
    with pytest.raises(SpecError) as info:
        _convert(
            current_study={
                "images": [
                    {
                        "tags": {
                            "Private_0010_0010": "x",  # even group: not private
                            "Private_0029_1010": "a",
                            "Private_0029_1110": "b",  # same element after mapping
                            "Private_0029_1011": {"nested": 1},
                        }
                    }
                ]
            }
        )
    text = str(info.value)
    assert "Private_0010_0010: group 0010 is even" in text and "PatientName" in text
    assert "Private_0029_1110: Private_0029_1110 and another Private_ key both become" in text
    assert "current_study.images[0].tags.Private_0029_1011" in text


def test_unknown_keys_are_errors_with_a_suggestion() -> None:
    with pytest.raises(SpecError) as info:
        legacy.convert(
            {
                "outputDir": "x",
                "curent_study": {},
                "internal_priors": [
                    {
                        "cout": 2,
                        "images": [
                            {"tag": {}, "tags": {"PatientNmae": "X", "skip_writting": True}}
                        ],
                    }
                ],
            }
        )
    issues = {i.path: i for i in info.value.issues}
    assert issues["curent_study"].suggestion == "current_study"
    assert issues["internal_priors[0].cout"].suggestion == "count"
    assert issues["internal_priors[0].images[0].tag"].suggestion == "tags"
    assert issues["internal_priors[0].images[0].tags.PatientNmae"].suggestion == "PatientName"
    assert issues["internal_priors[0].images[0].tags.skip_writting"].message == (
        "unknown DICOM keyword"
    )
    # without any old key the file is read as a dicomfab spec, and still pointed at the old key
    with pytest.raises(SpecError) as info:
        parse_spec({"curent_study": {}})
    assert info.value.issues[0].suggestion == "current_study"


def test_wrong_types_name_their_path() -> None:
    with pytest.raises(SpecError) as info:
        legacy.convert(
            {
                "current_study": {"count": -1, "cancerous": "yes", "images": {}},
                "external_priors": {},
            }
        )
    paths = {i.path for i in info.value.issues}
    assert paths == {
        "current_study.count",
        "current_study.cancerous",
        "current_study.images",
        "external_priors",
    }


def test_dicomfab_fields_may_stand_beside_old_keys(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"seed": 5, "name": "old", "current_study": {"count": 1}}))
    spec = load_spec(path)
    assert (spec.seed, spec.name) == (5, "old")
    path.write_text(json.dumps({"current_study": {"images": [{"tags": {"PatientNmae": "X"}}]}}))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value) == (
        f"{path}: current_study.images[0].tags.PatientNmae: unknown DICOM keyword "
        "(did you mean PatientName?)"
    )
