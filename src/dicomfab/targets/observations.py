"""What a verifier sees in a system under test: the instances it holds, with the attributes it
indexed them under. Verifiers return this as data; ``run.checks`` compares it with a manifest.

    Verifier.observe(sop_instance_uids) -> Observations
"""

from __future__ import annotations

from collections.abc import Iterable
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


KEYWORDS = {
    "sop_instance_uid": "SOPInstanceUID",
    "study_instance_uid": "StudyInstanceUID",
    "series_instance_uid": "SeriesInstanceUID",
    "patient_id": "PatientID",
    "patient_name": "PatientName",
    "accession_number": "AccessionNumber",
    "modality": "Modality",
    "sop_class_uid": "SOPClassUID",
}
"""ObservedInstance field -> the DICOM keyword it holds."""


def observed(dataset: Any) -> ObservedInstance | None:
    """A data set (pydicom's, or any mapping by keyword) as an archive would index it: each
    value as text, an empty or missing one None; None without a SOP Instance UID."""
    values: dict[str, str | None] = {}
    for name, keyword in KEYWORDS.items():
        value = dataset.get(keyword)
        values[name] = (str(value).strip() or None) if value is not None else None
    uid = values.pop("sop_instance_uid")
    return None if uid is None else ObservedInstance(uid, **values)


@dataclass(frozen=True)
class Observations:
    """Every instance found, by SOP Instance UID, and how it was looked up."""

    instances: dict[str, ObservedInstance] = field(default_factory=dict)
    source: str = ""  # e.g. "sql sqlite:///…/instances.sqlite" or "c-find 127.0.0.1:11112"
    elapsed: float = 0.0

    def __contains__(self, sop_instance_uid: object) -> bool:
        return sop_instance_uid in self.instances

    def get(self, sop_instance_uid: str) -> ObservedInstance | None:
        return self.instances.get(sop_instance_uid)


class Verifier(Protocol):
    """Looks in a system under test. One batched lookup for all UIDs, never one per instance."""

    def observe(self, sop_instance_uids: Iterable[str]) -> Observations: ...
