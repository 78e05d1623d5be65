"""Builders for the DICOM modules most IODs share (PS3.3 C.7, C.12), one function per module.

Each takes the dataset being built and the instance plan, and adds the module's attributes. IOD
modules (``dicomfab.builder.iods.*``) start from ``image_dataset`` (the modules every image IOD has)
or call them one by one, then add their own modules.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicomfab.builder.demographics import age_string
from dicomfab.builder.elements import assign
from dicomfab.builder.pixels.image import PixelImage
from dicomfab.builder.vendors import header as vendor_header

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan


def keywords(text: str) -> frozenset[str]:
    """A set of DICOM keywords written as one space-separated string."""
    return frozenset(text.split())


# Type 1 and 2 attributes of the shared modules, for IODTemplate.required
REQUIRED_COMMON = keywords(
    "PatientName PatientID PatientBirthDate PatientSex "  # Patient
    "StudyInstanceUID StudyDate StudyTime ReferringPhysicianName StudyID AccessionNumber "
    "Modality SeriesInstanceUID SeriesNumber "  # General Series
    "SOPClassUID SOPInstanceUID"  # SOP Common
)
REQUIRED_IMAGE_PIXEL = keywords(
    "SamplesPerPixel PhotometricInterpretation Rows Columns BitsAllocated BitsStored HighBit "
    "PixelRepresentation PixelData"
)

MANUFACTURER = "DICOMFAB"
MODEL = "Synthetic Mammography Unit"
SOFTWARE = "dicomfab 0.1"
STATION = "DFAB01"
SERIAL = "DF-0001"


def code_item(value: str, scheme: str, meaning: str) -> Dataset:
    """A Code Sequence Macro item (PS3.3 Table 8.8-1)."""
    item = Dataset()
    assign(item, "CodeValue", value)
    assign(item, "CodingSchemeDesignator", scheme)
    assign(item, "CodeMeaning", meaning)
    return item


def _da(day: dt.date | None) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}" if day else ""


def content_time(plan: InstancePlan) -> str:
    """The study time plus a few seconds per instance, so instances have distinct times."""
    base = plan.study.time.ljust(6, "0")[:6]
    seconds = int(base[:2]) * 3600 + int(base[2:4]) * 60 + int(base[4:6])
    seconds = min(seconds + 30 * plan.series.index + 7 * plan.index + 60, 86399)
    return f"{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}"


# Patient (C.7.1.1)
def patient(ds: Dataset, plan: InstancePlan) -> None:
    p = plan.patient
    assign(ds, "PatientName", p.name)
    assign(ds, "PatientID", p.patient_id)
    assign(ds, "IssuerOfPatientID", "DICOMFAB")
    assign(ds, "PatientBirthDate", _da(p.birth_date))
    assign(ds, "PatientSex", p.sex)


# General Study (C.7.2.1) + Patient Study (C.7.2.2)
def general_study(ds: Dataset, plan: InstancePlan) -> None:
    s = plan.study
    assign(ds, "StudyInstanceUID", s.uid)
    assign(ds, "StudyDate", _da(s.date))
    assign(ds, "StudyTime", s.time)
    assign(ds, "ReferringPhysicianName", "")
    assign(ds, "StudyID", s.study_id)
    assign(ds, "AccessionNumber", s.accession_number)
    assign(ds, "StudyDescription", s.description)
    assign(ds, "PatientAge", age_string(plan.patient.birth_date, s.date))


# General Series (C.7.3.1)
def general_series(ds: Dataset, plan: InstancePlan, modality: str) -> None:
    se = plan.series
    assign(ds, "Modality", modality)
    assign(ds, "SeriesInstanceUID", se.uid)
    assign(ds, "SeriesNumber", se.number)
    assign(ds, "SeriesDescription", se.description)
    assign(ds, "SeriesDate", _da(plan.study.date))
    assign(ds, "SeriesTime", plan.study.time)


# General Equipment (C.7.5.1) — IHE MAMMO makes most of these Type 1; the unit is the vendor
# persona's when the plan applies one, else dicomfab's generic synthetic unit
def general_equipment(ds: Dataset, plan: InstancePlan) -> None:
    assign(ds, "Manufacturer", MANUFACTURER)
    assign(ds, "InstitutionName", "Synthetic Breast Centre")
    assign(ds, "InstitutionAddress", "1 Example Street, Testville")
    assign(ds, "StationName", STATION)
    assign(ds, "ManufacturerModelName", MODEL)
    assign(ds, "DeviceSerialNumber", SERIAL)
    assign(ds, "SoftwareVersions", SOFTWARE)
    if plan.vendor is not None:
        vendor_header.equipment(ds, plan.vendor)


# General Image (C.7.6.1) + General Acquisition (C.7.10.1)
def general_image(ds: Dataset, plan: InstancePlan) -> None:
    assign(ds, "InstanceNumber", plan.number)
    assign(ds, "ContentDate", _da(plan.study.date))
    assign(ds, "ContentTime", content_time(plan))
    assign(ds, "AcquisitionDate", _da(plan.study.date))
    assign(ds, "AcquisitionTime", content_time(plan))


def image_dataset(
    plan: InstancePlan, image: PixelImage, sop_class_uid: str, modality: str
) -> Dataset:
    """A new dataset with the modules every image IOD here starts from: SOP Common, Patient,
    General Study, General Series, General Equipment and Image Pixel (the order of assignment
    does not matter: a dataset is written in tag order)."""
    ds = Dataset()
    sop_common(ds, plan, sop_class_uid)
    patient(ds, plan)
    general_study(ds, plan)
    general_series(ds, plan, modality)
    general_equipment(ds, plan)
    image_pixel(ds, image)
    return ds


# Image Pixel (C.7.6.3) — everything but PixelData, which the encoder writes
def image_pixel(ds: Dataset, image: PixelImage) -> None:
    assign(ds, "SamplesPerPixel", image.samples)
    assign(ds, "PhotometricInterpretation", image.photometric)
    if image.samples > 1:
        assign(ds, "PlanarConfiguration", 0)  # R1 G1 B1 R2 G2 B2 …
    assign(ds, "Rows", image.rows)
    assign(ds, "Columns", image.columns)
    assign(ds, "BitsAllocated", image.bits_allocated)
    assign(ds, "BitsStored", image.bits_stored)
    assign(ds, "HighBit", image.high_bit)
    assign(ds, "PixelRepresentation", 0)


# Modality LUT (C.11.1), or the rescale of the DX Image Module (C.8.11.3): an identity rescale
def identity_rescale(ds: Dataset) -> None:
    assign(ds, "RescaleIntercept", 0)
    assign(ds, "RescaleSlope", 1)
    assign(ds, "RescaleType", "US")


# Acquisition Context (C.7.6.14)
def acquisition_context(ds: Dataset) -> None:
    assign(ds, "AcquisitionContextSequence", Sequence())


# SOP Common (C.12.1)
def sop_common(ds: Dataset, plan: InstancePlan, sop_class_uid: str) -> None:
    assign(ds, "SOPClassUID", sop_class_uid)
    assign(ds, "SOPInstanceUID", plan.sop_instance_uid)
    assign(ds, "InstanceCreationDate", _da(plan.study.date))
    assign(ds, "InstanceCreationTime", content_time(plan))


# Multi-frame Functional Groups (C.7.6.16): the concatenation attributes of one part
def concatenation(ds: Dataset, plan: InstancePlan) -> None:
    """ConcatenationUID … ConcatenationFrameOffsetNumber when ``plan`` is one part of a
    Concatenation; nothing otherwise."""
    part = plan.concatenation
    if part is None:
        return
    assign(ds, "ConcatenationUID", part.uid)
    assign(ds, "SOPInstanceUIDOfConcatenationSource", part.source_uid)
    assign(ds, "InConcatenationNumber", part.number)
    assign(ds, "InConcatenationTotalNumber", part.total)
    assign(ds, "ConcatenationFrameOffsetNumber", part.frame_offset)


# VOI LUT (C.11.2)
def voi_lut(
    ds: Dataset, image: PixelImage, *, function: str | None = None, explanation: str | None = None
) -> None:
    """A window covering the stored range, with the VOI LUT function and explanation if given."""
    center, width = window_for(image)
    assign(ds, "WindowCenter", center)
    assign(ds, "WindowWidth", width)
    if explanation is not None:
        assign(ds, "WindowCenterWidthExplanation", explanation)
    if function is not None:
        assign(ds, "VOILUTFunction", function)


def window_for(image: PixelImage) -> tuple[float, float]:
    """A VOI window covering the stored range (centre, width)."""
    top = float(2**image.bits_stored)
    return top / 2, top
