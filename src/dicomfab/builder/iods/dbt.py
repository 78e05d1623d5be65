"""Breast Tomosynthesis Image IOD (PS3.3 A.55): a multi-frame stack of reconstructed DBT slices.

Module table (M = mandatory, C = conditional, U = user option) and where each is built:
  Patient M, General Study M, General Series M, General Equipment M, Image Pixel M,
  Acquisition Context M, SOP Common M                                       → builder.modules
  Enhanced Mammography Series M                                              → _enhanced_series
  Frame of Reference M                                                       → _frame_of_reference
  Enhanced General Equipment M (Type 1 model, serial, software)             → builder.modules
  Multi-frame Functional Groups M                                            → _functional_groups
  Multi-frame Dimension U                                                    → _dimensions
  X-Ray 3D Image M                                                           → _xray_3d_image
  Breast View M                                                              → breast.breast_view
  Synchronization C, Enhanced Contrast/Bolus C, Frame Extraction C           → not applicable
  Breast Tomosynthesis Contributing Sources U, Breast Tomosynthesis Acquisition U → _acquisition
  (the contributing source names the study's Breast Projection X-Ray images of the view, if any)
  Clinical Trial *, Patient Study, Device, Intervention, Specimen,
  X-Ray 3D Reconstruction, Image-Equipment Coordinate Relationship U        → not built
The Overlay Plane, Modality LUT, VOI LUT and Softcopy Presentation LUT modules shall not be used:
the rescale and window live in the functional groups. ImageType follows IHE DBT for slices:
ORIGINAL\\PRIMARY\\TOMOSYNTHESIS\\NONE (scenario-catalogue §1.5).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicomfab.builder import modules as m
from dicomfab.builder.elements import assign
from dicomfab.builder.iods.base import IODTemplate, ValueCount
from dicomfab.builder.iods.breast import BREAST, breast_view, projections_of
from dicomfab.builder.pixels.image import PixelImage
from dicomfab.builder.vendors import header as vendor_header
from dicomfab.studyspec.models import PixelOptions
from dicomfab.studyspec.views import SCREENING_VIEWS

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan
    from dicomfab.builder.vendors import Persona

DBT = "1.2.840.10008.5.1.4.1.1.13.1.3"
IMAGE_TYPE = ["ORIGINAL", "PRIMARY", "TOMOSYNTHESIS", "NONE"]
REQUIRED = (
    m.REQUIRED_COMMON
    | m.REQUIRED_IMAGE_PIXEL
    | m.keywords(
        "FrameOfReferenceUID PositionReferenceIndicator Manufacturer ManufacturerModelName "
        "DeviceSerialNumber SoftwareVersions AcquisitionContextSequence InstanceNumber "
        "ContentDate ContentTime NumberOfFrames SharedFunctionalGroupsSequence "
        "PerFrameFunctionalGroupsSequence "
        "ImageType PixelPresentation VolumetricProperties VolumeBasedCalculationTechnique "
        "ContentQualification BurnedInAnnotation LossyImageCompression PresentationLUTShape "
        "ViewCodeSequence BreastImplantPresent"
    )
)
PIXEL_SPACING_MM = 0.1  # reconstructed slices are typically 0.085–0.1 mm in plane
SLICE_SPACING_MM = 1.0  # …and 1 mm apart
BREAST_THICKNESS_MM = 52
PROJECTIONS = 15  # a ±7.5° sweep
SWEEP_DEGREES = 15.0
PROJECTION_BITS = 14

# PatientOrientation letters → LPS direction cosines (PS3.3 C.7.6.1.1.1)
_AXES = {
    "L": (1.0, 0.0, 0.0),
    "R": (-1.0, 0.0, 0.0),
    "P": (0.0, 1.0, 0.0),
    "A": (0.0, -1.0, 0.0),
    "H": (0.0, 0.0, 1.0),
    "F": (0.0, 0.0, -1.0),
}


def build(plan: InstancePlan, image: PixelImage | None) -> Dataset:
    assert image is not None
    ds = m.image_dataset(plan, image, DBT, "MG")
    _enhanced_series(ds)
    frame_of_reference(ds, plan)
    m.acquisition_context(ds)
    _functional_groups(ds, plan, image)
    dimensions(ds, plan)
    _xray_3d_image(ds)
    _acquisition(ds, plan, image)
    breast_view(ds, plan.view)  # Breast View (C.8.21.6)
    return ds


# Enhanced Mammography Series (C.8.11.10): Modality is MG (enumerated); no PPS to reference
def _enhanced_series(ds: Dataset) -> None:
    assign(ds, "Modality", "MG")


# Frame of Reference (C.7.4.1): one per breast per study, shared by its DBT views
def frame_of_reference(ds: Dataset, plan: InstancePlan) -> None:
    laterality = plan.laterality or "B"
    assign(ds, "FrameOfReferenceUID", plan.study_level_uid("frame-of-reference-" + laterality))
    assign(ds, "PositionReferenceIndicator", "")


def direction_cosines(plan: InstancePlan) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Row and column direction cosines, from the view's PatientOrientation."""
    letters = plan.view.patient_orientation if plan.view is not None else ["A", "R"]
    row, col = ([sum(c) for c in zip(*(_AXES[ch] for ch in word), strict=True)] for word in letters)
    return _unit(row), _unit(col)


def _unit(v: list[float] | tuple[float, ...]) -> tuple[float, ...]:
    norm = math.sqrt(sum(c * c for c in v))
    return tuple(round(c / norm, 6) + 0.0 for c in v)


def _cross(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


# Multi-frame Functional Groups (C.7.6.16)
def _functional_groups(ds: Dataset, plan: InstancePlan, image: PixelImage) -> None:
    assign(ds, "InstanceNumber", plan.number)
    assign(ds, "ContentDate", ds.StudyDate)
    assign(ds, "ContentTime", m.content_time(plan))
    assign(ds, "NumberOfFrames", image.frames)
    row, col = direction_cosines(plan)
    normal = _unit(_cross(row, col))

    shared = Dataset()
    # Pixel Measures (C.7.6.16.2.1)
    measures = Dataset()
    assign(measures, "PixelSpacing", list(pixel_spacing(plan)))
    assign(measures, "SliceThickness", _slice_spacing(plan))
    assign(shared, "PixelMeasuresSequence", Sequence([measures]))
    # Plane Orientation (Patient) (C.7.6.16.2.4)
    orientation = Dataset()
    assign(orientation, "ImageOrientationPatient", [*row, *col])
    assign(shared, "PlaneOrientationSequence", Sequence([orientation]))
    # Frame Anatomy (C.7.6.16.2.8)
    anatomy = Dataset()
    assign(anatomy, "AnatomicRegionSequence", Sequence([m.code_item(*BREAST)]))
    assign(anatomy, "FrameLaterality", plan.laterality or "B")
    assign(shared, "FrameAnatomySequence", Sequence([anatomy]))
    # Identity Pixel Value Transformation (C.7.6.16.2.9b)
    transform = Dataset()
    m.identity_rescale(transform)
    assign(shared, "PixelValueTransformationSequence", Sequence([transform]))
    # Frame VOI LUT With LUT (C.7.6.16.2.10b)
    voi = Dataset()
    if plan.vendor is not None:
        vendor_header.voi_lut(voi, plan.vendor, image.bits_stored)
    else:
        center, width = m.window_for(image)
        assign(voi, "WindowCenter", center)
        assign(voi, "WindowWidth", width)
        assign(voi, "WindowCenterWidthExplanation", "NORMAL")
        assign(voi, "VOILUTFunction", "LINEAR")
    assign(shared, "FrameVOILUTSequence", Sequence([voi]))
    assign(ds, "SharedFunctionalGroupsSequence", Sequence([shared]))

    acquired = f"{ds.StudyDate}{m.content_time(plan)}"
    m.concatenation(ds, plan)
    per_frame = []
    for index in range(plan.frame_offset, plan.frame_offset + image.frames):
        item = Dataset()
        # Frame Content (C.7.6.16.2.2)
        content = Dataset()
        assign(content, "FrameAcquisitionDateTime", acquired)
        assign(content, "FrameReferenceDateTime", acquired)
        assign(content, "FrameAcquisitionDuration", 3700)
        assign(content, "StackID", "1")
        assign(content, "InStackPositionNumber", index + 1)
        assign(content, "DimensionIndexValues", [1, index + 1])
        assign(item, "FrameContentSequence", Sequence([content]))
        # Plane Position (Patient) (C.7.6.16.2.3): slices stacked from the detector towards
        # the source, i.e. against the row × column normal (upwards for CC)
        position = Dataset()
        offset = -_slice_spacing(plan) * (index + 0.5)
        assign(position, "ImagePositionPatient", [round(c * offset, 4) + 0.0 for c in normal])
        assign(item, "PlanePositionSequence", Sequence([position]))
        # X-Ray 3D Frame Type (C.8.21.5.1): dciodvfy accepts it per frame only
        frame_type = Dataset()
        assign(frame_type, "FrameType", IMAGE_TYPE)
        image_description(frame_type)
        assign(item, "XRay3DFrameTypeSequence", Sequence([frame_type]))
        per_frame.append(item)
    assign(ds, "PerFrameFunctionalGroupsSequence", Sequence(per_frame))


def image_description(ds: Dataset) -> None:
    """Common CT/MR and Photoacoustic Image Description Macro (C.8.16.1)."""
    assign(ds, "PixelPresentation", "MONOCHROME")
    assign(ds, "VolumetricProperties", "VOLUME")
    assign(ds, "VolumeBasedCalculationTechnique", "NONE")


# Multi-frame Dimension (C.7.6.17): stack, then position in the stack
def dimensions(ds: Dataset, plan: InstancePlan) -> None:
    organization = plan.uid("dimension-organization")
    org = Dataset()
    assign(org, "DimensionOrganizationUID", organization)
    assign(ds, "DimensionOrganizationSequence", Sequence([org]))
    assign(ds, "DimensionOrganizationType", "3D")
    indices = []
    for pointer, description in (
        (0x00209056, "Stack ID"),
        (0x00209057, "In-Stack Position Number"),
    ):
        index = Dataset()
        assign(index, "DimensionOrganizationUID", organization)
        assign(index, "DimensionIndexPointer", pointer)
        assign(index, "FunctionalGroupPointer", 0x00209111)  # FrameContentSequence
        assign(index, "DimensionDescriptionLabel", description)
        indices.append(index)
    assign(ds, "DimensionIndexSequence", Sequence(indices))


# X-Ray 3D Image (C.8.21.1)
def _xray_3d_image(ds: Dataset) -> None:
    assign(ds, "ImageType", IMAGE_TYPE)
    image_description(ds)
    assign(ds, "ContentQualification", "PRODUCT")
    assign(ds, "BurnedInAnnotation", "NO")
    assign(ds, "LossyImageCompression", "00")
    assign(ds, "PresentationLUTShape", "IDENTITY")


# Breast Tomosynthesis Contributing Sources (C.8.21.2.2) + Breast Tomosynthesis Acquisition
# (C.8.21.3.2), both U; IHE DBT makes them (and the dose in them) Type 1. One item each: the
# projection series the slices were reconstructed from.
def _acquisition(ds: Dataset, plan: InstancePlan, image: PixelImage) -> None:
    assign(ds, "OperatorsName", "Radiographer^Synthetic")
    acquired = f"{ds.StudyDate}{m.content_time(plan)}"
    source = Dataset()
    # General Contributing Sources Macro: the unit that took the projections (this one)
    m.general_equipment(source, plan)
    del source.InstitutionName, source.InstitutionAddress
    assign(source, "AcquisitionDateTime", acquired)
    assign(source, "OperatorsName", ds.OperatorsName)
    # Contributing Image Sources Macro: the raw projections
    assign(source, "Rows", image.rows)
    assign(source, "Columns", image.columns)
    assign(source, "BitsStored", PROJECTION_BITS)
    assign(source, "LossyImageCompression", "00")
    # the detector
    assign(source, "DetectorType", "DIRECT")
    assign(source, "DetectorID", "DFDET01")
    assign(source, "DateOfLastDetectorCalibration", ds.StudyDate)
    assign(source, "TimeOfLastDetectorCalibration", "070000")
    assign(source, "DetectorElementSpacing", [PIXEL_SPACING_MM, PIXEL_SPACING_MM])
    if plan.vendor is not None:
        _vendor_detector(source, plan.vendor)
    _projection_references(source, plan)
    assign(ds, "ContributingSourcesSequence", Sequence([source]))

    acquisition = Dataset()
    assign(acquisition, "FieldOfViewShape", "RECTANGLE")
    spacing = pixel_spacing(plan)
    field = [round(image.rows * spacing[0], 2), round(image.columns * spacing[1], 2)]
    assign(acquisition, "FieldOfViewDimensionsInFloat", field)
    assign(acquisition, "FieldOfViewOrigin", [0, 0])
    assign(acquisition, "FieldOfViewRotation", 0)
    assign(acquisition, "FieldOfViewHorizontalFlip", "NO")
    assign(acquisition, "BodyPartThickness", BREAST_THICKNESS_MM)
    assign(acquisition, "CompressionForce", 120)
    assign(acquisition, "PaddleDescription", "24 x 30 SCREENING")
    assign(acquisition, "ExposureControlMode", "AUTOMATIC")
    assign(acquisition, "ExposureControlModeDescription", "AEC, tube voltage and current automatic")
    assign(acquisition, "HalfValueLayer", 0.52)
    assign(acquisition, "FocalSpots", 0.3)
    assign(acquisition, "DetectorTemperature", 30)
    assign(acquisition, "XRayReceptorType", "DIGITAL_DETECTOR")
    assign(acquisition, "DistanceSourceToDetector", 700)
    assign(acquisition, "DistanceSourceToPatient", 680)
    assign(acquisition, "EstimatedRadiographicMagnificationFactor", round(700 / 680, 4))
    assign(acquisition, "AnodeTargetMaterial", "TUNGSTEN")
    assign(acquisition, "FilterMaterial", "ALUMINUM")
    kvp: int | str = 30
    projection_count, sweep = PROJECTIONS, SWEEP_DEGREES
    persona = plan.vendor
    if persona is not None and persona.dbt is not None:
        assign(acquisition, "AnodeTargetMaterial", persona.exposure.anode)
        assign(acquisition, "FilterMaterial", persona.exposure.dbt_filter or "ALUMINUM")
        kvp = vendor_header.kvp_text(vendor_header.exposure(persona, plan.exposure_key)[1])
        projection_count, sweep = persona.dbt.projections, persona.dbt.angular_range
    assign(acquisition, "FilterType", "FLAT")
    assign(acquisition, "OrganDose", 1.6)
    assign(acquisition, "EntranceDoseInmGy", 7.1)
    projections = []
    for n in range(projection_count):
        projection = Dataset()
        assign(projection, "KVP", kvp)
        assign(projection, "XRayTubeCurrentInmA", 100.0)
        assign(projection, "ExposureTimeInms", 50.0)
        assign(projection, "ExposureInmAs", 5.0)
        assign(projection, "RelativeXRayExposure", 620)
        angle = -sweep / 2 + sweep * n / (projection_count - 1)
        assign(projection, "PositionerPrimaryAngle", round(angle, 3) + 0.0)
        projections.append(projection)
    assign(acquisition, "PerProjectionAcquisitionSequence", Sequence(projections))
    assign(ds, "XRay3DAcquisitionSequence", Sequence([acquisition]))


def _projection_references(source: Dataset, plan: InstancePlan) -> None:
    """General Contributing Sources Macro: the Breast Projection X-Ray images of the view the
    volume was reconstructed from, when the study holds them (nothing otherwise)."""
    projections = projections_of(plan)
    if not projections:
        return
    series_items = []
    for series_uid in dict.fromkeys(p.series.uid for p in projections):
        instances = []
        for projection in projections:
            if projection.series.uid != series_uid:
                continue
            instance = Dataset()
            assign(instance, "ReferencedSOPClassUID", projection.iod.sop_class_uid)
            assign(instance, "ReferencedSOPInstanceUID", projection.sop_instance_uid)
            assign(instance, "InstanceNumber", projection.number)
            instances.append(instance)
        item = Dataset()
        assign(item, "SeriesInstanceUID", series_uid)
        assign(item, "SeriesNumber", projections[0].series.number)
        assign(item, "ReferencedInstanceSequence", Sequence(instances))
        series_items.append(item)
    reference = Dataset()
    assign(reference, "StudyInstanceUID", plan.study.uid)
    assign(reference, "ReferencedSeriesSequence", Sequence(series_items))
    assign(source, "ContributingSOPInstancesReferenceSequence", Sequence([reference]))


def pixel_spacing(plan: InstancePlan) -> tuple[float, float]:
    """The reconstructed slices' PixelSpacing (row, column) in mm."""
    if plan.vendor is not None and plan.vendor.dbt is not None:
        return plan.vendor.dbt.spacing
    return PIXEL_SPACING_MM, PIXEL_SPACING_MM


def _slice_spacing(plan: InstancePlan) -> float:
    if plan.vendor is not None and plan.vendor.dbt is not None:
        return plan.vendor.dbt.slice_spacing_mm
    return SLICE_SPACING_MM


def _vendor_detector(source: Dataset, persona: Persona) -> None:
    """The persona's detector in a contributing source: its type, ID, element spacing (of the
    default format) and the bits of its raw projections."""
    assign(source, "DetectorType", persona.detector.type)
    # Type 1 here: a persona without a detector ID names the unit's serial number instead
    assign(source, "DetectorID", persona.detector.id or persona.device_serial_number)
    assign(source, "DetectorElementSpacing", list(persona.detector.formats[0].spacing))
    assign(source, "BitsStored", persona.bits_processing)


_PIXELS = PixelOptions(
    rows=1024, columns=832, bits_stored=10, frames=15, pattern="auto", photometric="MONOCHROME2"
)

TEMPLATES = (
    IODTemplate(
        name="dbt",
        title="Breast Tomosynthesis Image",
        sop_class_uid=DBT,
        modality="MG",
        build=build,
        summary=(
            "multi-frame functional groups, frame of reference per study and breast, IHE DBT "
            "attributes"
        ),
        pixels=_PIXELS,
        default_views=SCREENING_VIEWS,
        breast=True,
        multiframe=True,
        aliases=("tomo", "breast-tomosynthesis"),
        required=REQUIRED,
        allowed_bits_stored=(8, 16),
        concatenation=True,
        photometrics=("MONOCHROME2",),  # no MONOCHROME1 in Breast Tomosynthesis (dciodvfy)
        modalities=("MG",),
        frame_laterality=True,
        view_modifier_type2=True,
        # Breast Tomosynthesis Image Module (C.8.21.1): Enumerated Value NO (dciodvfy checks it)
        enumerated={"BurnedInAnnotation": ("NO",)},
        value_counts={"ImageType": ValueCount(4, 4)},  # X-Ray 3D Image Module: 4 values
    ),
)
