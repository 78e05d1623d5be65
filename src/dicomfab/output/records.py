"""The companion study record (``jsons/<current StudyInstanceUID>.json``) in the predecessor's
format: it plays the order / worklist entry the product reads beside the images.

Internal priors form a linked list in ``prior_study_data``, newest first; external priors are a
list. Values come from what was written into the files, so a record agrees with its images unless
a scenario makes them disagree on purpose.
"""

from __future__ import annotations

from typing import Any

from dicomfab.output.manifest import PatientEntry, StudyEntry


def _date_iso(da: str) -> str:
    return f"{da[:4]}-{da[4:6]}-{da[6:8]}" if len(da) == 8 else da


def study_record(patient: PatientEntry, study: StudyEntry) -> dict[str, Any]:
    instances = [i for se in study.series for i in se.instances]
    attrs = instances[0].attributes if instances else {}
    name = str(attrs.get("PatientName", patient.name))
    # a PN holds up to three component groups (alphabetic=ideographic=phonetic): the record's
    # first and last names come from the first, the alphabetic one
    alphabetic = name.split("=")[0]
    family, _, rest = alphabetic.partition("^")
    given = rest.split("^")[0]
    birth = str(attrs.get("PatientBirthDate", patient.birth_date or ""))
    return {
        "first_name": given,
        "last_name": family,
        "date_of_birth": _date_iso(birth.replace("-", "")),
        "patient_id": str(attrs.get("PatientID", patient.patient_id)),
        "study_id": str(attrs.get("StudyID", "")),
        "study_date": f"{_date_iso(study.date.replace('-', ''))}T00:00:00+00:00",
        "study_instance_uid": study.study_instance_uid,
        "accession_number": str(attrs.get("AccessionNumber", study.accession_number)),
        "study_description": str(attrs.get("StudyDescription", study.description)),
        "sop_instance_uids": [i.sop_instance_uid for i in instances],
        "prior_study_data": None,
        "external_priors": [],
    }


def current_study_records(patient: PatientEntry) -> dict[str, dict[str, Any]]:
    """One record per current study of ``patient``, keyed by its StudyInstanceUID."""
    by_date = sorted(patient.studies, key=lambda s: s.date, reverse=True)
    priors = [s for s in by_date if s.role == "prior"]
    externals = [s for s in by_date if s.role == "external_prior"]
    records: dict[str, dict[str, Any]] = {}
    for current in (s for s in patient.studies if s.role == "current"):
        record = study_record(patient, current)
        chain: dict[str, Any] | None = None
        for prior in reversed([p for p in priors if p.date <= current.date]):
            link = study_record(patient, prior)
            link["prior_study_data"] = chain
            chain = link
        record["prior_study_data"] = chain
        record["external_priors"] = [study_record(patient, e) for e in externals]
        records[current.study_instance_uid] = record
    return records
