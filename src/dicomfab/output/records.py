"""The companion study record in the predecessor's format: it plays the order / worklist entry the
product reads beside the images.

One record per current study (``jsons/<its StudyInstanceUID>.json``): internal priors form a
linked list in ``prior_study_data``, newest first; external priors are a list in
``external_priors``, or (``records.external_priors: chain``, what the predecessor did for
power-customize configs) join the internal priors in that chain by date and leave the list empty.
A patient without a current study gets one record too, named after its newest study: its
top-level fields are empty and all its studies are in the chain (whatever the option says), as
the predecessor wrote it for its external-prior-only presets.

A record nested in another (a chain link, an external prior) has the same fields without
``external_priors``, in the same order (:data:`RECORD_FIELDS`, :data:`NESTED_FIELDS`). Values come
from what was written into the files, so a record agrees with its images unless a scenario makes
them disagree on purpose; an attribute that is empty or absent there is ``""``, as the predecessor
wrote it.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from dicomfab.output.manifest import PatientEntry, StudyEntry

ExternalPriors = Literal["list", "chain"]

#: a record's fields, in the order the predecessor wrote them
RECORD_FIELDS: tuple[str, ...] = (
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
)
#: the fields of a record inside another one (a prior in the chain, an external prior)
NESTED_FIELDS: tuple[str, ...] = RECORD_FIELDS[:-1]


def _date_iso(da: str) -> str:
    return f"{da[:4]}-{da[4:6]}-{da[6:8]}" if len(da) == 8 else da


def _text(value: Any) -> str:
    """A record value: ``""`` for an empty attribute (never ``"None"``), multiple values joined
    with a backslash as DICOM writes them."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "\\".join(_text(v) for v in value)
    return str(value)


def _file_attributes(study: StudyEntry) -> dict[str, Any] | None:
    """The key attributes of the study's first instance as built (also when its file was not
    written); ``None`` for a study without instances."""
    for series in study.series:
        for instance in series.instances:
            if instance.attributes:
                return instance.attributes
    return None


def planned_values(patient: PatientEntry, study: StudyEntry) -> dict[str, str]:
    """The record's fields as planned, before any tag a spec or a scenario writes into the files:
    what the order side knows of the patient and the study."""
    family, _, rest = patient.name.split("=")[0].partition("^")
    return {
        "first_name": rest.split("^")[0],
        "last_name": family,
        "date_of_birth": patient.birth_date or "",
        "patient_id": patient.patient_id,
        "study_date": f"{study.date}T00:00:00+00:00",
        "accession_number": study.accession_number,
        "study_description": study.description,
    }


def study_record(
    patient: PatientEntry, study: StudyEntry, *, nested: bool = False
) -> dict[str, Any]:
    """One study's record (``nested``: without ``external_priors``), its chain still empty."""
    instances = [i for se in study.series for i in se.instances]
    built = _file_attributes(study)
    if built is None:  # no instance: the record says what was planned
        attrs: dict[str, Any] = {
            "PatientName": patient.name,
            "PatientBirthDate": patient.birth_date or "",
            "PatientID": patient.patient_id,
            "AccessionNumber": study.accession_number,
            "StudyDescription": study.description,
        }
    else:
        attrs = built
    # a PN holds up to three component groups (alphabetic=ideographic=phonetic): the record's
    # first and last names come from the first, the alphabetic one
    alphabetic = _text(attrs.get("PatientName")).split("=")[0]
    family, _, rest = alphabetic.partition("^")
    record: dict[str, Any] = {
        "first_name": rest.split("^")[0],
        "last_name": family,
        "date_of_birth": _date_iso(_text(attrs.get("PatientBirthDate")).replace("-", "")),
        "patient_id": _text(attrs.get("PatientID")),
        "study_id": _text(attrs.get("StudyID")),
        "study_date": f"{_date_iso(study.date.replace('-', ''))}T00:00:00+00:00",
        "study_instance_uid": study.study_instance_uid,
        "accession_number": _text(attrs.get("AccessionNumber")),
        "study_description": _text(attrs.get("StudyDescription")),
        "sop_instance_uids": [i.sop_instance_uid for i in instances],
        "prior_study_data": None,
        "external_priors": [],
    }
    if nested:
        del record["external_priors"]
    return record


def empty_record() -> dict[str, Any]:
    """The top level of a record without a current study: every field empty."""
    record: dict[str, Any] = dict.fromkeys(RECORD_FIELDS, "")
    record.update(sop_instance_uids=[], prior_study_data=None, external_priors=[])
    return record


def _newest_first(studies: list[StudyEntry]) -> list[StudyEntry]:
    return sorted(studies, key=lambda s: s.date, reverse=True)  # stable: spec order on one day


def _chain(patient: PatientEntry, studies: list[StudyEntry]) -> dict[str, Any] | None:
    """``studies`` (newest first) as a linked list of nested records."""
    chain: dict[str, Any] | None = None
    for study in reversed(studies):
        link = study_record(patient, study, nested=True)
        link["prior_study_data"] = chain
        chain = link
    return chain


def _fill(
    record: dict[str, Any],
    patient: PatientEntry,
    older: list[StudyEntry],
    externals: list[StudyEntry],
    mode: ExternalPriors,
) -> dict[str, Any]:
    """Hang ``older`` (internal priors) and ``externals`` off ``record`` as ``mode`` says."""
    if mode == "chain":
        record["prior_study_data"] = _chain(patient, _newest_first([*older, *externals]))
        record["external_priors"] = []
    else:
        record["prior_study_data"] = _chain(patient, _newest_first(older))
        record["external_priors"] = [
            study_record(patient, e, nested=True) for e in _newest_first(externals)
        ]
    return record


def record_owner(patient: PatientEntry) -> StudyEntry | None:
    """The study whose StudyInstanceUID names the record of a patient without a current study:
    its newest study (the first of them in the spec on one day); ``None`` without studies."""
    if not patient.studies or any(s.role == "current" for s in patient.studies):
        return None
    return _newest_first(patient.studies)[0]


def patient_records(
    patient: PatientEntry, mode: ExternalPriors = "list"
) -> dict[str, dict[str, Any]]:
    """Every record of ``patient``, keyed by the StudyInstanceUID that names its file: one per
    current study, or one for a patient without a current study (:func:`record_owner`)."""
    priors = [s for s in patient.studies if s.role == "prior"]
    externals = [s for s in patient.studies if s.role == "external_prior"]
    owner = record_owner(patient)
    if owner is not None:
        # no current study to hang a list from: every study in the chain, as the predecessor did
        return {
            owner.study_instance_uid: _fill(empty_record(), patient, priors, externals, "chain")
        }
    records: dict[str, dict[str, Any]] = {}
    for current in (s for s in patient.studies if s.role == "current"):
        older = [p for p in priors if p.date <= current.date]
        # a chain holds older studies only; the list holds every external prior
        listed = externals if mode == "list" else [e for e in externals if e.date <= current.date]
        record = _fill(study_record(patient, current), patient, older, listed, mode)
        records[current.study_instance_uid] = record
    return records


def record_text(record: dict[str, Any]) -> str:
    """A record as its file holds it (indented UTF-8 JSON, one final newline)."""
    return json.dumps(record, indent=2, ensure_ascii=False) + "\n"
