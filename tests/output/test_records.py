"""The companion record stays what consumers parse: the predecessor's fields in its order, ``""``
for an absent value (never ``"None"``), one record for a dataset without a current study (empty
top level, its studies in the chain), and external priors chained by date for legacy configs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dicomfab import generate, parse_spec
from dicomfab.output.generate import GenerateResult
from dicomfab.output.manifest import Manifest, StudyEntry
from dicomfab.output.merge import merge
from dicomfab.scenarios import scenarios
from dicomfab.scenarios.generate import ScenarioRequest, generate_one
from dicomfab.scenarios.library import base_spec

# the predecessor's record, field by field in its order (shared/reference/predecessor.md, "The
# companion study JSON"); a record inside another one has the same fields but external_priors
TOP_LEVEL = [
    "first_name",
    "last_name",
    "date_of_birth",
    "patient_id",
    "study_id",
    "study_date",
    "study_instance_uid",
    "accession_number",
    "study_description",
    "sop_instance_uids",
    "prior_study_data",
    "external_priors",
]
NESTED = TOP_LEVEL[:-1]

SMALL = {"rows": 64, "columns": 64}
EXTERNAL_ONLY = sorted(
    n for n in scenarios() if n.startswith(("masc_ext_prior", "mammasoft_ext_prior"))
)
# scenarios that write empty (Type 2) patient or study attributes into some files
ABSENT_VALUES = [
    "missing_patient_id",
    "birthdate_empty_or_partial",
    "accession_empty_or_colliding",
    "prior_deidentified_date_shifted",
]


def _records(folder: Path) -> dict[str, dict[str, Any]]:
    """Every record under ``folder`` (sub-datasets too), by path; keys kept in file order."""
    return {
        str(p.relative_to(folder)): json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(folder.rglob("jsons/*.json"))
    }


def _nested(record: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every record inside ``record``: the chain, then the external priors (and their chains)."""
    inner = [record["prior_study_data"], *record.get("external_priors", [])]
    for child in inner:
        if child is not None:
            yield child
            yield from _nested(child)


def _chain(record: dict[str, Any]) -> list[str]:
    """The StudyInstanceUIDs down ``prior_study_data``, newest first."""
    uids, link = [], record["prior_study_data"]
    while link is not None:
        uids.append(link["study_instance_uid"])
        link = link["prior_study_data"]
    return uids


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _scenario(name: str, out: Path) -> GenerateResult:
    scenario = scenarios()[name]
    declared = set(scenario.parameters)
    if scenario.base:
        declared |= set(base_spec(scenario.base).parameters)
    small = {"image_size": "small"} if "image_size" in declared else {}
    return generate_one(ScenarioRequest(name, small), out)


def _newest_first(studies: list[StudyEntry]) -> list[str]:
    return [s.study_instance_uid for s in sorted(studies, key=lambda s: s.date, reverse=True)]


def _mixed_spec(**records: str) -> dict[str, Any]:
    """A current study, two internal priors and two external priors, dates interleaved."""
    spec: dict[str, Any] = {
        "seed": 3,
        "defaults": {"pixels": SMALL},
        "patients": [
            {
                "studies": [
                    {"date": "2024-06-01"},
                    {"role": "prior", "date": "2022-06-01"},
                    {"role": "external_prior", "date": "2023-01-15"},
                    {"role": "prior", "date": "2020-06-01"},
                    {"role": "external_prior", "date": "2021-02-01"},
                ]
            }
        ],
    }
    if records:
        spec["records"] = records
    return spec


@pytest.mark.parametrize("mode", ["list", "chain"])
def test_record_fields_and_their_order_are_the_predecessors(make_dataset: Any, mode: str) -> None:
    result = make_dataset(_mixed_spec(external_priors=mode))
    (record,) = _records(result.path).values()
    assert list(record) == TOP_LEVEL
    nested = list(_nested(record))
    assert len(nested) == 4  # both priors and both external priors, once each
    for inner in nested:
        assert list(inner) == NESTED, inner["study_instance_uid"]


def test_new_specs_list_external_priors_beside_the_chain(make_dataset: Any) -> None:
    result = make_dataset(_mixed_spec())
    (patient,) = result.manifest.patients
    (record,) = _records(result.path).values()
    assert _chain(record) == _newest_first([s for s in patient.studies if s.role == "prior"])
    assert [e["study_instance_uid"] for e in record["external_priors"]] == _newest_first(
        [s for s in patient.studies if s.role == "external_prior"]
    )


def test_chain_mode_puts_external_priors_into_the_chain_by_date(make_dataset: Any) -> None:
    result = make_dataset(_mixed_spec(external_priors="chain"))
    (patient,) = result.manifest.patients
    (record,) = _records(result.path).values()
    older = [s for s in patient.studies if s.role != "current"]
    assert _chain(record) == _newest_first(older)
    assert [s.date for s in older] != sorted((s.date for s in older), reverse=True)  # interleaved
    assert record["external_priors"] == []


def test_a_legacy_config_chains_its_external_priors_by_date(tmp_path: Path) -> None:
    image = {"tags": {"PatientID": "PID7", "PatientName": "Doe^Jane", "Rows": 64, "Columns": 64}}

    def study(description: str, date: str) -> dict[str, Any]:
        tags = {**image["tags"], "StudyDate": date}
        return {"description": description, "count": 1, "images": [{"tags": tags}]}

    old = {
        "outputDir": "ignored",
        "current_study": study("CURRENT", "20240601"),
        "internal_priors": [study("PRIOR A", "20220601"), study("PRIOR B", "20200601")],
        "external_priors": [study("OUTSIDE A", "20230115"), study("OUTSIDE B", "20210201")],
    }
    result = generate(parse_spec(old), tmp_path)
    (record,) = _records(result.path).values()
    descriptions, link = [], record["prior_study_data"]
    while link is not None:
        descriptions.append((link["study_date"][:10], link["study_description"]))
        link = link["prior_study_data"]
    assert descriptions == [
        ("2023-01-15", "OUTSIDE A"),
        ("2022-06-01", "PRIOR A"),
        ("2021-02-01", "OUTSIDE B"),
        ("2020-06-01", "PRIOR B"),
    ]
    assert record["external_priors"] == []
    assert list(record) == TOP_LEVEL and all(list(r) == NESTED for r in _nested(record))


def test_the_records_layout_changes_no_uid(make_dataset: Any, tmp_path: Path) -> None:
    listed = make_dataset(_mixed_spec(), tmp_path / "list")
    chained = make_dataset(_mixed_spec(external_priors="chain"), tmp_path / "chain")
    assert [i.sop_instance_uid for i in listed.manifest.instances()] == [
        i.sop_instance_uid for i in chained.manifest.instances()
    ]


def test_every_external_prior_only_scenario_writes_one_record(tmp_path: Path) -> None:
    # the predecessor's 12 (the 13 with dual_output's external_priors_only/), and the
    # variants that kept today's faults under new names (mammasoft_ext_prior_real_mr, …)
    assert len(EXTERNAL_ONLY) >= 12 and "masc_ext_prior" in EXTERNAL_ONLY
    for name in [*EXTERNAL_ONLY, "dual_output"]:
        result = _scenario(name, tmp_path / name)
        patients = Manifest.model_validate_json((result.path / "manifest.json").read_bytes())
        records = _records(result.path)
        if name == "dual_output":
            records = {k: v for k, v in records.items() if k.startswith("external_priors_only/")}
            studies = [s for s in patients.patients[0].studies if s.role == "external_prior"]
        else:
            studies = patients.patients[0].studies
        assert len(records) == 1, name
        ((path, record),) = records.items()
        newest = _newest_first(studies)
        # named after the newest study; the manifest names it on that study
        assert Path(path).stem == newest[0], name
        assert [s.record for s in studies if s.record] == [path], name
        assert list(record) == TOP_LEVEL, name
        assert {k: record[k] for k in TOP_LEVEL[:9]} == dict.fromkeys(TOP_LEVEL[:9], ""), name
        assert record["sop_instance_uids"] == [] and record["external_priors"] == [], name
        assert _chain(record) == newest, name
        assert all(list(r) == NESTED for r in _nested(record)), name


def test_merge_counts_the_record_of_an_external_prior_only_dataset(tmp_path: Path) -> None:
    result = _scenario("masc_ext_prior", tmp_path / "gen")
    merged = merge([result.path], tmp_path / "merged")
    assert merged.records == 1
    assert len(list((tmp_path / "merged" / "jsons").glob("*.json"))) == 1


@pytest.mark.parametrize("name", [*ABSENT_VALUES, *EXTERNAL_ONLY[:2]])
def test_an_absent_value_is_never_written_as_none(tmp_path: Path, name: str) -> None:
    result = _scenario(name, tmp_path)
    records = _records(result.path)
    assert records
    for path, record in records.items():
        assert "None" not in set(_strings(record)), path


def _only(result: GenerateResult) -> dict[str, Any]:
    (record,) = _records(result.path).values()
    return record


def test_records_keep_what_the_scenario_descriptions_promise(tmp_path: Path) -> None:
    # "PatientID present but empty … The prior and the study record still carry the patient's ID"
    result = _scenario("missing_patient_id", tmp_path / "a")
    record, (patient,) = _only(result), result.manifest.patients
    assert record["patient_id"] == patient.patient_id != ""
    assert record["prior_study_data"]["patient_id"] == patient.patient_id
    # "the study record has her birth date" (the files: empty, and the placeholder 19000101)
    result = _scenario("birthdate_empty_or_partial", tmp_path / "b")
    record, (patient,) = _only(result), result.manifest.patients
    assert patient.birth_date
    assert [r["date_of_birth"] for r in [record, *_nested(record)]] == [patient.birth_date] * 2
    # "AccessionNumber present but empty (Type 2) on every image, and so in the record"
    record = _only(_scenario("accession_empty_or_colliding", tmp_path / "c"))
    assert record["accession_number"] == ""
    assert record["external_priors"][0]["accession_number"] == "20220001234"
    # "an empty PatientBirthDate and AccessionNumber … the record lists the same identity"
    record = _only(_scenario("prior_deidentified_date_shifted", tmp_path / "d"))
    (external,) = record["external_priors"]
    assert (external["patient_id"], external["date_of_birth"]) == ("DEID0007", "")
    assert external["accession_number"] == ""
    # "The prior's entry in the study record keeps 0012345" (its images say 12345)
    record = _only(_scenario("patient_id_format_drift", tmp_path / "e"))
    assert [r["patient_id"] for r in [record, *_nested(record)]] == ["0012345", "0012345"]
    # "One patient (the study record: Doe^Jane)" whatever each system wrote into the images
    record = _only(_scenario("pn_format_variants", tmp_path / "f"))
    names = {(r["last_name"], r["first_name"]) for r in [record, *_nested(record)]}
    assert names == {("Doe", "Jane")}
