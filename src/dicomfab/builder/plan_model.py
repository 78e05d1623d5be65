"""The plan: a spec resolved into plain data, every patient, study, series and instance.

``dicomfab.builder.plan`` makes one from a spec (``make_plan``); everything after planning (the
IOD builders, the encoder, the writers, the scenarios) reads it. This module holds only the data,
so that those readers do not depend on the planner.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from dicomfab.builder.iods.base import IODTemplate
from dicomfab.builder.transfer import TransferSyntax
from dicomfab.builder.uids import UIDFactory, uid_name
from dicomfab.builder.vendors import Persona
from dicomfab.studyspec.models import Content, PixelOptions, Reference, Spec
from dicomfab.studyspec.tags import CoercedValue, TagRef
from dicomfab.studyspec.views import View


@dataclass
class PatientPlan:
    index: int
    path: str
    name: str
    patient_id: str
    birth_date: dt.date | None
    sex: str
    anatomy_seed: int
    studies: list[StudyPlan] = field(default_factory=list)


@dataclass
class StudyPlan:
    patient: PatientPlan
    index: int
    path: str
    role: str
    date: dt.date
    time: str
    uid: str
    description: str
    accession_number: str
    study_id: str
    series: list[SeriesPlan] = field(default_factory=list)

    @property
    def folder(self) -> str:
        """The study's folder under ``dicoms/`` (and its record's name under ``jsons/``): the
        StudyInstanceUID, or a safe name derived from it when it is not a valid UID."""
        return uid_name(self.uid)


@dataclass
class SeriesPlan:
    study: StudyPlan
    index: int
    path: str
    number: int
    uid: str
    description: str
    instances: list[InstancePlan] = field(default_factory=list)


@dataclass(frozen=True)
class Concatenation:
    """This instance's part of a Concatenation (PS3.3 C.7.6.16): ``frames`` frames from
    ``frame_offset`` (0-based) of the object the spec describes, which no instance holds whole."""

    uid: str  # ConcatenationUID, shared by the parts
    source_uid: str  # SOPInstanceUIDOfConcatenationSource: the object as one instance
    number: int  # InConcatenationNumber, 1-based
    total: int  # InConcatenationTotalNumber
    frame_offset: int  # ConcatenationFrameOffsetNumber
    frames: int  # the frames of this part
    total_frames: int  # the frames of the whole object


@dataclass
class InstancePlan:
    series: SeriesPlan
    index: int
    path: str
    number: int
    iod: IODTemplate
    view: View | None
    tags: dict[TagRef, CoercedValue]
    remove: list[TagRef]
    pixels: PixelOptions
    transfer_syntax: TransferSyntax
    sop_instance_uid: str
    file_name: str
    skip_writing: bool
    permissive: bool
    uids: UIDFactory
    # IOD constraints this permissive instance breaks on purpose, declared in the manifest:
    # {"what": reason, "at": spec path} (filled by constraints.check)
    defects: list[dict[str, str]] = field(default_factory=list)
    quality: float | None = None  # the least PSNR (dB) a lossy transfer syntax keeps
    truncate_pixel_data: float | None = None  # write only this fraction of the native Pixel Data
    # the vendor persona the spec names, when it covers this IOD (else None: generic equipment)
    vendor: Persona | None = None
    # what a derived IOD refers to, resolved once the whole plan exists (builder.references)
    reference_specs: list[Reference] | None = None
    references: list[ReferencedInstance] = field(default_factory=list)
    content: Content = field(default_factory=Content)
    concatenation: Concatenation | None = None  # one part of a concatenated object
    # encapsulated pixels with an Extended Offset Table, drawn, encoded and written frame by frame
    extended_offset_table: bool = False

    @property
    def frame_offset(self) -> int:
        """The number of frames of the whole object before this instance's first (0 unless
        concatenated)."""
        return self.concatenation.frame_offset if self.concatenation else 0

    @property
    def exposure_key(self) -> str:
        """What a persona's exposure (filter, kVp) is chosen by: the study and view, so that a
        view's For Processing and For Presentation images share theirs."""
        if self.view is None:
            return self.sop_instance_uid
        return f"{self.study.uid}/{self.view.name}"

    @property
    def study(self) -> StudyPlan:
        return self.series.study

    @property
    def patient(self) -> PatientPlan:
        return self.series.study.patient

    @property
    def laterality(self) -> str | None:
        return self.view.laterality if self.view else None

    @property
    def modality(self) -> str:
        """Modality (0008,0060) as the file has it: the spec's tag if it sets one (empty when it
        removes it); else MG for a breast view on an IOD that takes views (DX, CR); else the
        IOD's."""
        tag = modality_tag(self.tags)
        if tag is not None:
            return tag
        if any(ref.keyword == "Modality" for ref in self.remove):
            return ""
        if self.view is not None and self.iod.breast_views:
            return "MG"
        return self.iod.modality

    def uid(self, kind: str) -> str:
        """A further UID for this instance (e.g. ``uid("frame-of-reference")``)."""
        return self.uids.uid(
            kind, self.patient.index, self.study.index, self.series.index, self.index
        )

    def study_level_uid(self, kind: str) -> str:
        """A UID shared by the whole study (e.g. a frame of reference for all its views)."""
        return self.uids.uid(kind, self.patient.index, self.study.index)


@dataclass(frozen=True)
class ReferencedInstance:
    """An instance a derived object refers to: one of the plan's (``instance``), or one that is
    not in the dataset (``instance`` None; a ``references`` entry with its UIDs)."""

    sop_class_uid: str
    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    instance: InstancePlan | None = None
    path: str = ""  # the spec path of the references entry it comes from


@dataclass
class Plan:
    spec: Spec
    patients: list[PatientPlan]
    uid_namespace: str = ""  # the identity UIDs and generated IDs derive from (see uids.py)

    @property
    def studies(self) -> list[StudyPlan]:
        return [s for p in self.patients for s in p.studies]

    @property
    def instances(self) -> list[InstancePlan]:
        return [i for s in self.studies for se in s.series for i in se.instances]


def modality_tag(tags: dict[TagRef, CoercedValue]) -> str | None:
    """The Modality the spec's tags set (values joined with a backslash), or None."""
    return tag_text(tags, "Modality")


def tag_text(tags: dict[TagRef, CoercedValue], keyword: str) -> str | None:
    """The value the spec's tags set for ``keyword`` (values joined with a backslash), or None."""
    for ref, value in tags.items():
        if ref.keyword == keyword:
            values = value.value if isinstance(value.value, list) else [value.value]
            return "\\".join(str(v) for v in values if v is not None)
    return None
