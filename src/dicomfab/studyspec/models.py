"""The spec: a declarative description of what to generate (the "power customize" config).

    Spec ─ defaults (Settings)
         └ patients[] ─ studies[] (role current / prior / external_prior) ─ series[] ─ instances[]

Every level carries the same inheritable ``Settings`` (IOD, vendor persona, tags, tags to remove,
pixel options, transfer syntax, permissive switch); a deeper level overrides a shallower one; tags
merge by key.
Everything has a default, so ``{}`` is a valid spec: one patient, one current 4-view mammogram.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from dicomfab.errors import shorten
from dicomfab.studyspec.names import component_problem
from dicomfab.studyspec.uid import uid_problem, uid_root_problem
from dicomfab.studyspec.views import VIEWS

Role = Literal["current", "prior", "external_prior"]
Pattern = Literal["auto", "mammo", "gradient", "noise", "checkerboard", "blank"]
QualityLevel = Literal["high", "medium", "low"]  # the dB of each: dicomfab.builder.transfer.quality
DateValue = dt.date | str


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PixelOptions(_Model):
    """Synthetic pixel data. Unset fields come from the shallower level, then from the IOD."""

    rows: Annotated[int, Field(ge=1, le=65535)] | None = None
    columns: Annotated[int, Field(ge=1, le=65535)] | None = None
    bits_stored: Annotated[int, Field(ge=1, le=16)] | None = Field(
        None, description="BitsStored; BitsAllocated is 8 up to 8 bits, else 16 (unless set)"
    )
    bits_allocated: Literal[8, 16] | None = None
    frames: Annotated[int, Field(ge=1, le=2000)] | None = Field(
        None, description="NumberOfFrames, for multi-frame IODs (breast tomosynthesis)"
    )
    concatenation: Annotated[int, Field(ge=1, le=2000)] | None = Field(
        None,
        description="split a multi-frame object (dbt, bpxr) into a Concatenation of instances "
        "of at most this many frames each (PS3.3 7.5.1, C.7.6.16); unset or >= frames: one",
    )
    pattern: Pattern | None = Field(
        None, description="auto: a mammogram for breast views, a gradient phantom otherwise"
    )
    calcifications: bool | None = Field(None, description="add bright calcification specks")
    lesion: Literal["mass", "calcifications", "none"] | None = Field(
        None,
        description="a lesion in a synthetic mammogram: mass (a spiculated mass), calcifications "
        "(a cluster of specks, as calcifications: true) or none",
    )
    photometric: Literal["MONOCHROME1", "MONOCHROME2", "RGB"] | None = Field(
        None,
        description="RGB (Secondary Capture only, 8 bits, uncompressed): a screen capture with "
        "the patient's name, ID and study date drawn into the pixels",
    )
    size: Literal["full", "reduced", "small"] | None = Field(
        None,
        description="scale the IOD's default rows × columns: full (as a unit writes them), "
        "reduced (half) or small (longest side 256); explicit rows/columns win",
    )

    def drawn_lesion(self) -> str | None:
        """The lesion a synthetic mammogram gets: ``lesion`` when set (``none``: no lesion),
        else calcifications when ``calcifications`` is true."""
        if self.lesion is not None:
            return None if self.lesion == "none" else self.lesion
        return "calcifications" if self.calcifications else None

    def merged(self, deeper: PixelOptions | None) -> PixelOptions:
        if deeper is None:
            return self
        data = self.model_dump()
        data.update(deeper.model_dump(exclude_none=True))
        return PixelOptions(**data)


class ForeignReference(_Model):
    """An instance a derived object refers to that is not in the dataset (on purpose: an SR
    citing an image nobody sent). Unset UIDs are derived from the SOP Instance UID."""

    sop_instance_uid: str
    sop_class_uid: str = Field(
        "1.2.840.10008.5.1.4.1.1.1.2", description="default: Digital Mammography For Presentation"
    )
    series_instance_uid: str | None = None
    study_instance_uid: str | None = Field(
        None, description="default: the referring object's own study"
    )


Reference = str | ForeignReference
"""A reference in a spec: a selector string (``dicomfab.builder.references``) or a foreign
instance."""


class Finding(_Model):
    """A finding a CAD or AI object reports on one of its referenced images."""

    kind: Literal["mass", "calcification_cluster"] = "mass"
    image: Annotated[int, Field(ge=0)] = Field(
        0, description="which of the object's references the finding lies on (its index)"
    )
    x: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None,
        description="centre column as a fraction of Columns (default: a point inside the breast "
        "of the referenced image, derived from the seed)",
    )
    y: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None, description="centre row as a fraction of Rows (default: as x)"
    )
    size_mm: Annotated[float, Field(gt=0, le=200)] = Field(12.0, description="diameter in mm")
    probability: Annotated[float, Field(ge=0, le=1)] = Field(
        0.87, description="the CAD or AI system's certainty (0–1)"
    )


class Content(_Model):
    """What a derived object says (SR, SEG, GSPS, KOS, AI capture). Each IOD reads the fields it
    lists in docs/iods.md; a field an IOD does not read is refused at validate. Unset fields come
    from the shallower level, then from the IOD."""

    findings: list[Finding] | None = Field(
        None, description="CAD/AI findings: masses and calcification clusters on the references"
    )
    title: str | None = Field(
        None,
        description="the document title: for KOS key_images, rejected_for_quality, "
        "incorrect_worklist_entry or retention_expired (the IHE rejection notes); for SR a "
        "report title",
    )
    window: tuple[float, float] | None = Field(
        None, description="GSPS window centre and width applied to the references"
    )
    annotation: str | None = Field(None, description="GSPS text annotation on the image")
    shutter: bool | None = Field(None, description="GSPS: a rectangular display shutter")
    segmentation: Literal["binary", "fractional"] | None = Field(
        None, description="SEG: one bit per pixel, or 8-bit probabilities"
    )
    source_frames: list[Annotated[int, Field(ge=1)]] | None = Field(
        None,
        description="SEG: the frames (1-based) of the segmented multi-frame image it covers "
        "(default: those around the finding); past its NumberOfFrames only when permissive",
    )

    def merged(self, deeper: Content | None) -> Content:
        if deeper is None:
            return self
        data = self.model_dump()
        data.update(deeper.model_dump(exclude_none=True))
        return Content(**data)


class Settings(_Model):
    """What every level of a spec may set; deeper levels override shallower ones."""

    iod: str | None = Field(
        None,
        # the JSON schema (dicomfab.builder.schema) lists the names the IOD registry knows
        description="IOD to build: a name or alias from `dicomfab list iods`, or a SOP Class UID",
    )
    vendor: str | None = Field(
        None,
        # the JSON schema (dicomfab.builder.schema) lists the personas the builder knows
        description="vendor persona (`dicomfab list vendors`): the unit whose equipment, detector, "
        "exposure, windows and private blocks the images of the IODs it covers carry; other IODs "
        "stay generic. Default: dicomfab's generic synthetic unit",
    )
    tags: dict[str, Any] = Field(
        default_factory=dict,
        description="DICOM attributes by keyword, (gggg,eeee) or private "
        '(gggg,"CREATOR",ee); values per VR, lists for multiple values, '
        "lists of mappings for sequences, null for present-but-empty, {vr, value} to force a VR",
    )
    remove_tags: list[str] = Field(
        default_factory=list, description="attributes to leave out (needs permissive if required)"
    )
    pixels: PixelOptions | None = None
    transfer_syntax: str | None = Field(
        None, description="name (explicit-le, jpeg2000-lossless, …) or UID; see `dicomfab schema`"
    )
    quality: Annotated[float, Field(ge=20, le=55)] | QualityLevel | None = Field(
        None,
        description="for lossy transfer syntaxes (jpeg2000, jpeg-baseline): the least PSNR in dB "
        "(20–55, peak 2**BitsStored-1) each frame keeps, or high (45, the default), medium (40) "
        "or low (35); the compression is chosen from each frame's content",
    )
    offset_table: Literal["basic", "extended"] | None = Field(
        None,
        description="encapsulated Pixel Data's offset table (lossless compressed transfer "
        "syntaxes): basic (the default) or extended: an Extended Offset Table (7FE0,0001/0002) "
        "and an empty Basic Offset Table, the frames encoded and written one at a time; objects "
        "whose native pixels exceed 4 GiB get the extended one whatever this says",
    )
    permissive: bool | None = Field(
        None,
        description="write values exactly as given, even when invalid (for broken scenarios)",
    )
    references: list[Reference] | None = Field(
        None,
        description="what a derived object (SR, SEG, GSPS, KOS, AI capture) refers to, in this "
        "patient: images (every image of its study, the default), a view (RCC), "
        "series[E] or series[E].instances[I] of its study, any of them after studies[S]. for "
        "another study, or {sop_instance_uid: ...} for an instance not in the dataset",
    )
    content: Content | None = Field(
        None, description="what a derived object says: findings, title, window, … (per IOD)"
    )


class InstanceSpec(Settings):
    view: str | None = Field(None, description="mammography view, e.g. RCC, LMLO, RXCCL")
    file_name: str | None = Field(None, description="file name instead of <SOPInstanceUID>.dcm")
    skip_writing: bool = Field(False, description="list it in the records, but write no file")
    sop_instance_uid: str | None = None
    truncate_pixel_data: Annotated[float, Field(gt=0, lt=1)] | None = Field(
        None,
        description="write only this fraction of the native Pixel Data value, the header still "
        "describing the whole image (a corrupt image on purpose: needs permissive)",
    )

    @field_validator("view")
    @classmethod
    def _known_view(cls, value: str | None) -> str | None:
        return _check_view(value)

    @field_validator("file_name")
    @classmethod
    def _one_file_name(cls, value: str | None) -> str | None:
        return _check_component(value)

    @field_validator("sop_instance_uid")
    @classmethod
    def _uid(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _check_uid(value, info.data.get("permissive"))


class SeriesSpec(Settings):
    description: str | None = None
    number: int | None = None
    uid: str | None = None
    views: list[str] | None = Field(None, description="one instance per view, in this order")
    count: Annotated[int, Field(ge=0, le=100000)] | None = Field(
        None, description="number of instances (default: one per view, or the IOD's default)"
    )
    instances: list[InstanceSpec] = Field(
        default_factory=list, description="per-instance settings, matched to instances by position"
    )

    @field_validator("views")
    @classmethod
    def _known_views(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        return [_check_view(v) or v for v in value]

    @field_validator("uid")
    @classmethod
    def _uid(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _check_uid(value, info.data.get("permissive"))


class StudySpec(Settings):
    role: Role = "current"
    date: DateValue | None = Field(
        None,
        description="YYYY-MM-DD, or relative to the current study: -2y, -18m, -1y6m, -30d",
    )
    time: str | None = Field(None, description="HH:MM:SS")
    description: str | None = None
    accession_number: str | None = None
    study_id: str | None = None
    uid: str | None = None
    series: list[SeriesSpec] = Field(default_factory=list)

    @field_validator("uid")
    @classmethod
    def _uid(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _check_uid(value, info.data.get("permissive"))


class PatientSpec(Settings):
    count: int = Field(
        1,
        ge=1,
        le=100_000_000,
        description="how many patients this entry stands for: each gets the synthetic name, ID "
        "and birth date of its place, as that many separate entries would (an explicit id with "
        "count > 1 needs permissive: true)",
    )
    name: str | None = Field(None, description="PatientName, Family^Given")
    id: str | None = Field(None, description="PatientID")
    birth_date: DateValue | None = None
    sex: Literal["F", "M", "O", ""] | None = None
    studies: list[StudySpec] = Field(default_factory=list)


class RecordOptions(_Model):
    """How the companion records are laid out (they change no DICOM file)."""

    external_priors: Literal["list", "chain"] = Field(
        "list",
        description="list: external priors in each record's external_priors, newest first; "
        "chain: in prior_study_data with the internal priors, by date, and external_priors "
        "empty (what the predecessor wrote for power-customize configs, which are read so)",
    )


class Spec(_Model):
    """A whole dataset: ``name`` is its folder, ``seed`` makes it reproducible."""

    version: Literal[1] = 1
    name: str = Field(
        "power_customized_dataset",
        pattern=r"^[A-Za-z0-9._-]+$",
        description="the dataset's folder under --output: one name (not . or ..)",
    )
    seed: int = Field(0, ge=0)
    uid_root: str | None = Field(
        None,
        description="your organisation's UID root (at most 40 characters, to leave room for the "
        "generated part); default 2.25.<UUID derived from the spec and the seed>",
    )
    uid_namespace: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="pins UIDs and generated IDs across edits of the spec: UIDs, PatientIDs and "
        "accession numbers derive from it and the seed (default: a digest of the spec, so that "
        "different specs never share one; the manifest records the one used)",
    )
    reference_date: dt.date | None = Field(
        None, description="date of current studies that give none (default: derived from seed)"
    )
    defaults: Settings = Field(default_factory=Settings)
    records: RecordOptions = Field(
        default_factory=RecordOptions, description="the companion records' layout"
    )
    patients: list[PatientSpec] = Field(default_factory=lambda: [PatientSpec()])

    @field_validator("name")
    @classmethod
    def _one_folder_name(cls, value: str) -> str:
        return _check_component(value, "folder name") or value

    @field_validator("uid_root")
    @classmethod
    def _uid_root(cls, value: str | None) -> str | None:
        if value is not None and (problem := uid_root_problem(value)):
            raise ValueError(f"{shorten(value)} is not a UID root: {problem}")
        return value


def _check_component(value: str | None, what: str = "file name") -> str | None:
    """A file or folder name must be one safe path component (no folder, no ``..``, …)."""
    if value is not None and (problem := component_problem(value)):
        raise ValueError(f"{shorten(value)} is not a {what}: it {problem}")
    return value


def _check_uid(value: str | None, permissive: bool | None) -> str | None:
    """A UID field holds a valid UID, unless ``permissive: true`` is set on the same level: then
    the invalid UID is a declared defect, written into the files but never used as a name."""
    if value is None or permissive:
        return value
    if problem := uid_problem(value):
        raise ValueError(
            f"{shorten(value)} is not a valid UID: {problem} "
            "(set permissive: true on this level to write it on purpose)"
        )
    return value


def _check_view(value: str | None) -> str | None:
    if value is None:
        return None
    upper = value.upper()
    if upper not in VIEWS:
        import difflib

        near = difflib.get_close_matches(upper, list(VIEWS), n=1)
        hint = f"; did you mean {near[0]}?" if near else ""
        raise ValueError(f"unknown view {shorten(value)} (known: {', '.join(VIEWS)}){hint}")
    return upper
