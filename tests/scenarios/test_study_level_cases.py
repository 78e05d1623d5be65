"""Study-level edge cases whose point is across files (the twin test sees each file alone): one
study under two patients, a corrected re-send, a study across midnight, two modalities in one
accession — each as its description says."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from dicomfab.errors import SpecError
from dicomfab.output.manifest import Manifest
from dicomfab.scenarios import compose, scenarios
from dicomfab.scenarios.generate import ScenarioRequest, generate_one
from dicomfab.scenarios.model import Scenario
from dicomfab.scenarios.profiles import load_profiles

SMALL = {"image_size": "small"}


def _files(name: str, out: Path) -> tuple[Path, Manifest, dict[str, list[Dataset]]]:
    """The dataset, its manifest, and its files by study role (patient index, role)."""
    result = generate_one(ScenarioRequest(name, SMALL), out)
    by_role: dict[str, list[Dataset]] = {}
    for index, patient in enumerate(result.manifest.patients):
        for study in patient.studies:
            for series in study.series:
                for inst in series.instances:
                    ds = pydicom.dcmread(result.path / inst.file)
                    by_role.setdefault(f"{index}.{study.role}", []).append(ds)
    return result.path, result.manifest, by_role


def test_patient_merge_split_sends_one_study_under_two_patients(tmp_path: Path) -> None:
    root, manifest, files = _files("patient_merge_split", tmp_path)
    a, b = files["0.current"], files["1.current"]
    assert [ds.SOPInstanceUID for ds in a] == [ds.SOPInstanceUID for ds in b]
    assert {ds.StudyInstanceUID for ds in a + b} == {
        manifest.patients[0].studies[0].study_instance_uid
    }
    assert len({ds.SeriesInstanceUID for ds in a + b}) == 1
    assert {ds.PatientID for ds in a} == {"MS-100231"} and {ds.PatientID for ds in b} == {
        "MS-100784"
    }
    assert [int(ds.InstanceNumber) for ds in a + b] == [1, 2, 3, 4, 5, 6, 7, 8]
    # both priors are their own patient's, with their own UIDs
    assert files["0.prior"][0].PatientID == "MS-100231"
    assert files["1.prior"][0].PatientID == "MS-100784"
    assert files["0.prior"][0].StudyInstanceUID != files["1.prior"][0].StudyInstanceUID
    # the order side (one record for the study) is the corrected one: patient B's
    (record,) = (root / "jsons").glob(f"{a[0].StudyInstanceUID}.json")
    assert json.loads(record.read_text())["patient_id"] == "MS-100784"


def test_corrected_resend_carries_the_first_uids_and_the_fixed_demographics(
    tmp_path: Path,
) -> None:
    _root, _manifest, files = _files("corrected_resend_same_uids", tmp_path)
    first, again = files["0.current"][:4], files["0.current"][4:]
    assert [ds.SOPInstanceUID for ds in first] == [ds.SOPInstanceUID for ds in again]
    assert {(str(ds.PatientName), ds.PatientBirthDate) for ds in first} == {
        ("Lindgreen^Maria", "19600512")
    }
    assert {(str(ds.PatientName), ds.PatientBirthDate) for ds in again} == {
        ("Lindgren^Maria", "19600521")
    }


def test_a_study_across_midnight_keeps_its_study_date(tmp_path: Path) -> None:
    _root, _manifest, files = _files("study_spanning_midnight", tmp_path)
    current = files["0.current"]
    assert len({ds.StudyInstanceUID for ds in current}) == 1
    assert {(ds.StudyDate, ds.StudyTime) for ds in current} == {("20240314", "235700")}
    assert [ds.ContentDate for ds in current] == ["20240314", "20240314", "20240315", "20240315"]
    assert [ds.SeriesDate for ds in current] == ["20240314", "20240314", "20240315", "20240315"]
    assert all(ds.AcquisitionDateTime[:8] == ds.ContentDate for ds in current)


def test_mixed_modality_accession_is_one_study_one_accession(tmp_path: Path) -> None:
    _root, _manifest, files = _files("mixed_modality_accession", tmp_path)
    current = files["0.current"]
    assert [ds.Modality for ds in current] == ["MG"] * 4 + ["MR"] * 4
    assert {(ds.StudyInstanceUID, ds.AccessionNumber) for ds in current} == {
        (current[0].StudyInstanceUID, "ACC-MIX-5521")
    }
    assert len({ds.SeriesInstanceUID for ds in current}) == 2


def test_study_uid_needs_a_study_selector() -> None:
    data = scenarios()["patient_merge_split"].model_dump(exclude_unset=True)
    data["defects"][0]["at"] = "patient[1].current.0"
    with pytest.raises(SpecError, match=r"defects\[0\]\.study_uid.*selects instances"):
        compose(Scenario.model_validate(data), SMALL, load_profiles())


def test_a_defect_with_only_content_is_applied() -> None:
    """A defect whose only change is ``content`` (or ``references``) reaches the spec: here the
    MG image refuses it, naming the path (it was once dropped without a word)."""
    data = scenarios()["pr_bits_mismatch"].model_dump(exclude_unset=True)
    data["defects"] = [{"at": "current.last", "what": "a title", "content": {"title": "x"}}]
    with pytest.raises(SpecError, match=r"instances\[3\]\.content\.title"):
        compose(Scenario.model_validate(data), SMALL, load_profiles())
