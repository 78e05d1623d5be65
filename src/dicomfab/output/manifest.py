"""manifest.json: every patient, study, series and instance generated, with its file and digests.

The manifest is the contract verification checks against. It holds no timestamps, so the same
spec and seed give a byte-identical manifest.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

MANIFEST_FORMAT = 2
"""2: the file digests are BLAKE3 (``header_blake3``, ``pixel_blake3``). Format 1 had SHA-256
(``header_sha256``, ``pixel_sha256``); such a manifest is still read, without its digests
(merge then compares those files byte by byte)."""

_FORMAT_1_DIGESTS = ("header_sha256", "pixel_sha256")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Copies(_Model):
    """This instance is one of a group of copies that share its SOP Instance UID; the system
    must keep the copy ``rule`` names (see ``run.checks``)."""

    group: str = Field(description="the group's selectors, e.g. current.first+current.last")
    rule: str = Field(description="one, first or second: which copy is stored (in manifest order)")


class NotObservable(_Model):
    """A part of a scenario's expectation that no index can show, and why (e.g. the outcome is
    in the pixels). ``ingest``: only on targets whose ingest is one of these kinds (e.g.
    ``command``: the product picks the arrival order); empty: on every target."""

    reason: str = Field(min_length=1)
    ingest: list[str] = Field(default_factory=list)

    def applies(self, ingest: str | None) -> bool:
        """Whether it holds for a target ingesting by ``ingest`` (None: unknown, so it does)."""
        return not self.ingest or ingest is None or ingest in self.ingest


class InstanceEntry(_Model):
    sop_instance_uid: str
    sop_class_uid: str
    iod: str
    instance_number: int
    view: str | None = None
    laterality: str | None = None
    transfer_syntax: str
    file: str = Field(description="path relative to the dataset folder")
    written: bool = Field(description="false when the spec asked to list it but write no file")
    size: int | None = None
    header_blake3: str | None = None
    pixel_blake3: str | None = None
    attributes: dict[str, Any] = Field(
        default_factory=dict, description="key attributes as written in the file"
    )
    expectation: str | None = None
    copies: Copies | None = Field(
        None, description="one of several copies of its SOP Instance UID (expect.copies)"
    )
    not_observable: NotObservable | None = Field(
        None, description="the scenario says no index can show this instance's outcome"
    )
    defects: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _drop_format_1_digests(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(key in data for key in _FORMAT_1_DIGESTS):
            return {k: v for k, v in data.items() if k not in _FORMAT_1_DIGESTS}
        return data


class SeriesEntry(_Model):
    series_instance_uid: str
    number: int
    modality: str = Field(description="Modality (0008,0060) as the files say (its first instance)")
    description: str
    instances: list[InstanceEntry] = Field(default_factory=list)


class StudyEntry(_Model):
    study_instance_uid: str
    role: str
    date: str
    accession_number: str
    description: str
    record: str | None = Field(
        None,
        description="companion record file: of a current study, or of the newest study of a "
        "patient without one",
    )
    expectation: str | None = None
    not_observable: NotObservable | None = Field(
        None, description="the scenario says no index can show this study's outcome"
    )
    series: list[SeriesEntry] = Field(default_factory=list)


class PatientEntry(_Model):
    patient_id: str
    name: str
    birth_date: str | None
    sex: str
    studies: list[StudyEntry] = Field(default_factory=list)


class Manifest(_Model):
    format: int = MANIFEST_FORMAT
    generator: str
    dataset: str
    seed: int
    uid_namespace: str | None = Field(
        None,
        description="the identity the UIDs and generated IDs derive from (with the seed): the "
        "spec's uid_namespace, or the digest of the spec; set it as uid_namespace to pin them",
    )
    scenario: str | None = None
    patients: list[PatientEntry] = Field(default_factory=list)
    extras: list[str] = Field(
        default_factory=list,
        description="files that are not DICOM (media junk: .DS_Store, AUTORUN.INF, …): no "
        "check expects them stored; absent from the JSON when there are none",
    )

    def instances(self) -> list[InstanceEntry]:
        return [
            i for p in self.patients for s in p.studies for se in s.series for i in se.instances
        ]

    def to_json(self) -> str:
        exclude = None if self.extras else {"extras"}  # older manifests stay byte-identical
        return self.model_dump_json(indent=2, exclude=exclude) + "\n"
