"""What a verifier sees in a system under test: the instances it holds, with the attributes it
indexed them under, and for each of their studies the patient record it was filed under.
Verifiers return this as data; ``run.checks`` compares it with a manifest.

    Verifier.observe(sop_instance_uids) -> Observations
    observations.studies[study_uid].patient_id   # where that study landed
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ObservedInstance:
    """One instance as the system indexed it. Attributes a verifier cannot see are None."""

    sop_instance_uid: str
    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    patient_id: str | None = None
    patient_name: str | None = None
    accession_number: str | None = None
    modality: str | None = None
    sop_class_uid: str | None = None
    # tells apart copies that share a SOP Instance UID (see ``run.checks``)
    instance_number: str | None = None


KEYWORDS = {
    "sop_instance_uid": "SOPInstanceUID",
    "study_instance_uid": "StudyInstanceUID",
    "series_instance_uid": "SeriesInstanceUID",
    "patient_id": "PatientID",
    "patient_name": "PatientName",
    "accession_number": "AccessionNumber",
    "modality": "Modality",
    "sop_class_uid": "SOPClassUID",
    "instance_number": "InstanceNumber",
}
"""ObservedInstance field -> the DICOM keyword it holds."""


def observed(dataset: Any) -> ObservedInstance | None:
    """A data set (pydicom's, or any mapping by keyword) as an archive would index it: each
    value as text, an empty or missing one None; None without a SOP Instance UID."""
    values = _text_values(dataset, KEYWORDS)
    uid = values.pop("sop_instance_uid")
    return None if uid is None else ObservedInstance(uid, **values)


@dataclass(frozen=True)
class ObservedStudy:
    """One study and the patient record the system filed it under, as the system stores it:
    the patient key (PatientID + IssuerOfPatientID), the system's own patient entity where it
    has one (Orthanc's patient resource id; None where the system keeps no patient record or
    does not show it) and the patient attributes stored there. What a verifier cannot see is
    None."""

    study_instance_uid: str
    patient_id: str | None = None
    issuer_of_patient_id: str | None = None
    patient_entity: str | None = None
    patient_name: str | None = None
    patient_birth_date: str | None = None
    patient_sex: str | None = None


STUDY_KEYWORDS = {
    "study_instance_uid": "StudyInstanceUID",
    "patient_id": "PatientID",
    "issuer_of_patient_id": "IssuerOfPatientID",
    "patient_name": "PatientName",
    "patient_birth_date": "PatientBirthDate",
    "patient_sex": "PatientSex",
}
"""ObservedStudy field -> the DICOM keyword it holds (``patient_entity`` is no DICOM attribute)."""


def _text_values(dataset: Any, keywords: dict[str, str]) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for name, keyword in keywords.items():
        value = dataset.get(keyword)
        values[name] = (str(value).strip() or None) if value is not None else None
    return values


def observed_study(dataset: Any, patient_entity: str | None = None) -> ObservedStudy | None:
    """The study of a data set (pydicom's, or any mapping by keyword) and its patient attributes,
    each value as text, an empty or missing one None; None without a Study Instance UID."""
    values = _text_values(dataset, STUDY_KEYWORDS)
    uid = values.pop("study_instance_uid")
    if uid is None:
        return None
    return ObservedStudy(uid, patient_entity=patient_entity, **values)


def study_uids(instances: Iterable[ObservedInstance]) -> list[str]:
    """The Study Instance UIDs of ``instances``, each once, in order of first appearance."""
    return list(dict.fromkeys(i.study_instance_uid for i in instances if i.study_instance_uid))


def most_filed(
    candidates: Sequence[ObservedStudy], instances: Iterable[ObservedInstance]
) -> ObservedStudy | None:
    """Where a study landed when the system answers its UID under several patients (Orthanc
    files a Study Instance UID that arrives under a second PatientID as a second study under a
    second patient): the answer whose PatientID most of the study's found instances carry, the
    first answer on a tie (None: no answer)."""
    if not candidates:
        return None
    uid = candidates[0].study_instance_uid
    carried = Counter(i.patient_id for i in instances if i.study_instance_uid == uid)
    return max(candidates, key=lambda study: carried[study.patient_id])  # max keeps the first


def studies_from_instances(instances: Iterable[ObservedInstance]) -> dict[str, ObservedStudy]:
    """Where each study landed when the system shows no patient record of its own: under the
    PatientID (and name) of its first instance."""
    out: dict[str, ObservedStudy] = {}
    for inst in instances:
        uid = inst.study_instance_uid
        if uid is not None and uid not in out:
            out[uid] = ObservedStudy(
                uid, patient_id=inst.patient_id, patient_name=inst.patient_name
            )
    return out


def studies_of(
    instances: Iterable[ObservedInstance], studies: Iterable[ObservedStudy]
) -> dict[str, ObservedStudy]:
    """``studies`` (the first one of each UID wins) kept to those of ``instances``, by UID."""
    wanted = set(study_uids(instances))
    out: dict[str, ObservedStudy] = {}
    for study in studies:
        if study.study_instance_uid in wanted:
            out.setdefault(study.study_instance_uid, study)
    return out


@dataclass(frozen=True)
class Observations:
    """Every instance found, by SOP Instance UID, how it was looked up, and the studies of those
    instances by Study Instance UID (one entry each: where the study landed)."""

    instances: dict[str, ObservedInstance] = field(default_factory=dict)
    source: str = ""  # e.g. "sql sqlite:///…/instances.sqlite" or "c-find 127.0.0.1:11112"
    elapsed: float = 0.0
    studies: dict[str, ObservedStudy] = field(default_factory=dict)

    def __contains__(self, sop_instance_uid: object) -> bool:
        return sop_instance_uid in self.instances

    def get(self, sop_instance_uid: str) -> ObservedInstance | None:
        return self.instances.get(sop_instance_uid)


class Verifier(Protocol):
    """Looks in a system under test. One batched lookup for all UIDs, never one per instance."""

    def observe(self, sop_instance_uids: Iterable[str]) -> Observations: ...
