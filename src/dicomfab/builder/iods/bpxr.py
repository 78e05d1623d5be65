"""Breast Projection X-Ray Image IOD (PS3.3 A.74), For Presentation and For Processing: a sweep.

The projections a tomosynthesis unit takes on its way over the breast, one frame per tube angle
(the Breast Tomosynthesis Image, ``dbt``, is the volume reconstructed from them: same frame of
reference; a DBT names the projections of its view when the study holds them).

Module table (M = mandatory, C = conditional, U = user option) and where each is built:
  Patient M, General Study M, General Series M, General Equipment M, Image Pixel M,
  Acquisition Context M, SOP Common M                                       → builder.modules
  Enhanced Mammography Series M (Modality MG)                                → _build
  Frame of Reference M (one per study and breast, the DBT's)          → dbt.frame_of_reference
  Enhanced General Equipment M                                               → builder.modules
  Enhanced Mammography Image M (C.8.31.1; tube on an arc, detector still)   → _projection_image
  Multi-frame Functional Groups M                                            → _functional_groups
  Multi-frame Dimension M (one dimension: the tube's primary angle)          → _dimensions
  Breast View M                                                              → breast.breast_view
  Enhanced Contrast/Bolus C, Synchronization C, Frame Extraction C           → not applicable
  Clinical Trial *, Patient Study, Device, Intervention U                    → not built
Functional groups (A.74-2): shared Frame Anatomy, Identity Pixel Value Transformation, Frame VOI
LUT (dciodvfy wants it For Processing too), Derivation Image (empty, For Presentation), X-Ray
Frame Pixel Data Properties, Field of View, Collimator, Breast X-Ray Detector, Geometry and
Acquisition Dose (per projection); per frame Frame Content, Irradiation Event Identification,
Breast X-Ray Positioner (the primary angle, over the sweep) and Isocenter Reference System.
dciodvfy (2022) knows the IOD; it warns that TOMO_PROJ, the Breast View Module's Image Type value
3 for a projection, is not among its X-Ray Frame Type terms.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicomfab.builder import modules as m
from dicomfab.builder.iods import dbt
from dicomfab.builder.iods.base import IODTemplate, ValueCount
from dicomfab.builder.iods.breast import BPXR_PRESENTATION, BPXR_PROCESSING, BREAST, breast_view
from dicomfab.builder.pixels.image import PixelImage
from dicomfab.builder.vendors import header as vendor_header
from dicomfab.studyspec.models import PixelOptions
from dicomfab.studyspec.views import SCREENING_VIEWS

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan

SOP_CLASSES = frozenset({BPXR_PRESENTATION, BPXR_PROCESSING})
IMAGE_TYPE = ["ORIGINAL", "PRIMARY", "TOMO_PROJ", "NONE"]  # C.8.21.6.1.1: a projection
DETECTOR_SPACING_MM = 0.1
SOURCE_TO_DETECTOR_MM = 700.0
ISOCENTER_ABOVE_DETECTOR_MM = 40.0  # the sweep turns about a point inside the breast
ISOCENTER_ABOVE_SUPPORT_MM = 20.0
FRAME_DURATION_MS = 50.0
ERECT = ("10904000", "SCT", "orthostatic")  # CID 19 Patient Orientation
FRAME_MAS = 5.0
REQUIRED = (
    m.REQUIRED_COMMON
    | m.REQUIRED_IMAGE_PIXEL
    | m.keywords(
        "FrameOfReferenceUID PositionReferenceIndicator Manufacturer ManufacturerModelName "
        "DeviceSerialNumber SoftwareVersions AcquisitionContextSequence InstanceNumber "
        "ContentDate ContentTime NumberOfFrames SharedFunctionalGroupsSequence "
        "PerFrameFunctionalGroupsSequence ImageType PresentationIntentType "
        "BurnedInAnnotation LossyImageCompression ViewCodeSequence BreastImplantPresent"
    )
)


def _build(plan: InstancePlan, image: PixelImage | None, *, for_presentation: bool) -> Dataset:
    assert image is not None
    uid = BPXR_PRESENTATION if for_presentation else BPXR_PROCESSING
    ds = m.image_dataset(plan, image, uid, "MG")
    ds.Modality = "MG"  # Enhanced Mammography Series (C.8.11.10)
    dbt.frame_of_reference(ds, plan)
    m.acquisition_context(ds)
    _projection_image(ds, plan, image, for_presentation)
    _functional_groups(ds, plan, image, for_presentation)
    _dimensions(ds, plan)
    breast_view(ds, plan.view)  # Breast View (C.8.21.6)
    ds.OperatorsName = "Radiographer^Synthetic"
    return ds


def build_presentation(plan: InstancePlan, image: PixelImage | None) -> Dataset:
    return _build(plan, image, for_presentation=True)


def build_processing(plan: InstancePlan, image: PixelImage | None) -> Dataset:
    return _build(plan, image, for_presentation=False)


# Enhanced Mammography Image (C.8.11.x): the sweep's acquisition, as a whole
def _projection_image(
    ds: Dataset, plan: InstancePlan, image: PixelImage, for_presentation: bool
) -> None:
    ds.ImageType = IMAGE_TYPE
    ds.PresentationIntentType = "FOR PRESENTATION" if for_presentation else "FOR PROCESSING"
    ds.PositionerMotion = "ROTATION_CONT"  # the tube moves on an arc, exposing as it goes
    ds.TypeOfDetectorMotion = "STATIONARY"
    ds.PositionerType = "MAMMOGRAPHIC"
    ds.ContentQualification = "PRODUCT"
    ds.AcquisitionDateTime = f"{ds.StudyDate}{m.content_time(plan)}"
    ds.AcquisitionDuration = round(_sweep_frames(plan, image) * FRAME_DURATION_MS / 1000, 3)
    # Digital X-Ray Detector Macro
    ds.DetectorType = "DIRECT"
    ds.DetectorID = "DFDET01"
    ds.DetectorElementSpacing = [DETECTOR_SPACING_MM, DETECTOR_SPACING_MM]
    ds.DateOfLastDetectorCalibration = ds.StudyDate
    ds.TimeOfLastDetectorCalibration = "070000"
    if plan.vendor is not None:
        ds.DetectorType = plan.vendor.detector.type
        ds.DetectorID = plan.vendor.detector.id or plan.vendor.device_serial_number
    kvp: int | str = 30
    ds.AnodeTargetMaterial = "TUNGSTEN"
    persona = plan.vendor
    if persona is not None and persona.dbt is not None:
        ds.AnodeTargetMaterial = persona.exposure.anode
        kvp = vendor_header.kvp_text(vendor_header.exposure(persona, plan.exposure_key)[1])
    ds.KVP = kvp
    ds.ExposureInmAs = round(_sweep_frames(plan, image) * FRAME_MAS, 2)
    ds.FocalSpots = 0.3
    ds.BodyPartThickness = dbt.BREAST_THICKNESS_MM
    ds.CompressionForce = 120
    ds.PaddleDescription = "24 x 30 SCREENING"
    ds.ExposureControlMode = "AUTOMATIC"
    ds.ExposureControlModeDescription = "AEC, tube voltage and current automatic"
    ds.PatientOrientation = plan.view.patient_orientation if plan.view else ["A", "F"]
    # Patient Orientation Macro (C.7.6.16.x): standing at the unit (CID 19)
    ds.PatientOrientationCodeSequence = Sequence([m.code_item(*ERECT)])
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    ds.OrganDose = 1.6
    ds.EntranceDoseInmGy = 7.1
    ds.PresentationLUTShape = "IDENTITY"


def _sweep_frames(plan: InstancePlan, image: PixelImage) -> int:
    """The projections of the whole sweep (more than ``image`` holds when concatenated)."""
    return plan.concatenation.total_frames if plan.concatenation else image.frames


def sweep_angles(plan: InstancePlan, frames: int) -> list[float]:
    """The tube's primary angle of each projection, evenly over the unit's sweep (±7.5° unless
    the vendor persona says otherwise)."""
    sweep = dbt.SWEEP_DEGREES
    if plan.vendor is not None and plan.vendor.dbt is not None:
        sweep = plan.vendor.dbt.angular_range
    if frames == 1:
        return [0.0]
    return [round(-sweep / 2 + sweep * n / (frames - 1), 3) + 0.0 for n in range(frames)]


# Multi-frame Functional Groups (C.7.6.16) for the Breast Projection X-Ray Image
def _functional_groups(
    ds: Dataset, plan: InstancePlan, image: PixelImage, for_presentation: bool
) -> None:
    ds.InstanceNumber = plan.number
    ds.ContentDate = ds.StudyDate
    ds.ContentTime = m.content_time(plan)
    ds.NumberOfFrames = image.frames

    shared = Dataset()
    anatomy = Dataset()  # Frame Anatomy (C.7.6.16.2.8)
    anatomy.AnatomicRegionSequence = Sequence([m.code_item(*BREAST)])
    anatomy.FrameLaterality = plan.laterality or "B"
    shared.FrameAnatomySequence = Sequence([anatomy])
    transform = Dataset()  # Pixel Value Transformation (C.7.6.16.2.9)
    m.identity_rescale(transform)
    shared.PixelValueTransformationSequence = Sequence([transform])
    # Frame VOI LUT (C.7.6.16.2.10): dciodvfy requires it For Processing too
    voi = Dataset()
    if plan.vendor is not None and for_presentation:
        vendor_header.voi_lut(voi, plan.vendor, image.bits_stored)
    else:
        voi.WindowCenter, voi.WindowWidth = m.window_for(image)
        voi.WindowCenterWidthExplanation = "NORMAL"
        voi.VOILUTFunction = "LINEAR"
    shared.FrameVOILUTSequence = Sequence([voi])
    if for_presentation:  # Derivation Image (Type 2): an original image, derived from none
        shared.DerivationImageSequence = Sequence()
    properties = Dataset()  # X-Ray Frame Pixel Data Properties
    properties.FrameType = IMAGE_TYPE
    properties.PixelIntensityRelationship = "LOG" if for_presentation else "LIN"
    properties.PixelIntensityRelationshipSign = -1 if for_presentation else 1
    properties.ImagerPixelSpacing = [DETECTOR_SPACING_MM, DETECTOR_SPACING_MM]
    properties.GeometricalProperties = "UNIFORM"
    properties.ImageProcessingApplied = "NONE" if not for_presentation else "DIGITAL_SUBTR"
    shared.FramePixelDataPropertiesSequence = Sequence([properties])
    width, height = image.columns * DETECTOR_SPACING_MM, image.rows * DETECTOR_SPACING_MM
    field = Dataset()  # X-Ray Field of View: the whole detector
    field.FieldOfViewShape = "RECTANGLE"
    field.FieldOfViewDimensionsInFloat = [round(height, 2), round(width, 2)]
    field.FieldOfViewOrigin = [0.0, 0.0]
    field.FieldOfViewRotation = "0"
    field.FieldOfViewHorizontalFlip = "NO"
    shared.FieldOfViewSequence = Sequence([field])
    collimator = Dataset()  # X-Ray Collimator: open to the detector's edges
    collimator.CollimatorShape = "RECTANGULAR"
    collimator.CollimatorLeftVerticalEdge = 0
    collimator.CollimatorRightVerticalEdge = image.columns - 1
    collimator.CollimatorUpperHorizontalEdge = 0
    collimator.CollimatorLowerHorizontalEdge = image.rows - 1
    shared.CollimatorShapeSequence = Sequence([collimator])
    detector = Dataset()  # Breast X-Ray Detector: stationary under the breast
    detector.DetectorPrimaryAngle = 0
    detector.DetectorSecondaryAngle = 0
    shared.DetectorPositionSequence = Sequence([detector])
    geometry = Dataset()  # Breast X-Ray Geometry
    geometry.DistanceSourceToDetector = SOURCE_TO_DETECTOR_MM
    geometry.DistanceSourceToPatient = SOURCE_TO_DETECTOR_MM - ISOCENTER_ABOVE_DETECTOR_MM
    geometry.DistanceSourceToIsocenter = SOURCE_TO_DETECTOR_MM - ISOCENTER_ABOVE_DETECTOR_MM
    geometry.EstimatedRadiographicMagnificationFactor = round(
        SOURCE_TO_DETECTOR_MM / (SOURCE_TO_DETECTOR_MM - dbt.BREAST_THICKNESS_MM / 2), 4
    )
    shared.XRayGeometrySequence = Sequence([geometry])
    dose = Dataset()  # Breast X-Ray Acquisition Dose, per projection
    dose.ExposureTimeInms = FRAME_DURATION_MS
    dose.ExposureInmAs = FRAME_MAS
    dose.OrganDose = round(1.6 / _sweep_frames(plan, image), 4)
    dose.EntranceDoseInmGy = round(7.1 / _sweep_frames(plan, image), 4)
    shared.XRayAcquisitionDoseSequence = Sequence([dose])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])

    acquired = f"{ds.StudyDate}{m.content_time(plan)}"
    m.concatenation(ds, plan)
    angles = sweep_angles(plan, _sweep_frames(plan, image))
    per_frame = []
    for index in range(plan.frame_offset, plan.frame_offset + image.frames):
        angle = angles[index]
        item = Dataset()
        content = Dataset()  # Frame Content (C.7.6.16.2.2)
        content.FrameAcquisitionDateTime = acquired
        content.FrameReferenceDateTime = acquired
        content.FrameAcquisitionDuration = FRAME_DURATION_MS
        content.DimensionIndexValues = [index + 1]
        item.FrameContentSequence = Sequence([content])
        event = Dataset()  # Irradiation Event Identification: one exposure per projection
        event.IrradiationEventUID = plan.uid(f"irradiation-event-{index + 1}")
        item.IrradiationEventIdentificationSequence = Sequence([event])
        positioner = Dataset()  # Breast X-Ray Positioner: the tube's angle in the sweep
        positioner.PositionerPrimaryAngle = angle
        positioner.PositionerSecondaryAngle = 0
        item.PositionerPositionSequence = Sequence([positioner])
        isocenter = Dataset()  # Breast X-Ray Isocenter Reference System
        isocenter.XRaySourceIsocenterPrimaryAngle = angle
        isocenter.XRaySourceIsocenterSecondaryAngle = 0.0
        isocenter.BreastSupportIsocenterPrimaryAngle = 0.0
        isocenter.BreastSupportIsocenterSecondaryAngle = 0.0
        isocenter.DetectorIsocenterPrimaryAngle = 0.0
        isocenter.DetectorIsocenterSecondaryAngle = 0.0
        if not for_presentation:
            isocenter.BreastSupportXPositionToIsocenter = 0.0
            isocenter.BreastSupportYPositionToIsocenter = 0.0
            isocenter.BreastSupportZPositionToIsocenter = -ISOCENTER_ABOVE_SUPPORT_MM
            isocenter.DetectorXPositionToIsocenter = 0.0
            isocenter.DetectorYPositionToIsocenter = 0.0
            isocenter.DetectorZPositionToIsocenter = -ISOCENTER_ABOVE_DETECTOR_MM
            width = image.columns * DETECTOR_SPACING_MM
            height = image.rows * DETECTOR_SPACING_MM
            isocenter.DetectorActiveAreaTLHCPosition = [-width / 2, height / 2, 0.0]
            isocenter.DetectorActiveAreaOrientation = [1.0, 0.0, 0.0, 0.0, -1.0, 0.0]
        item.IsocenterReferenceSystemSequence = Sequence([isocenter])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)


# Multi-frame Dimension (C.7.6.17): the projection's place in the sweep
def _dimensions(ds: Dataset, plan: InstancePlan) -> None:
    organization = plan.uid("dimension-organization")
    org = Dataset()
    org.DimensionOrganizationUID = organization
    ds.DimensionOrganizationSequence = Sequence([org])
    index = Dataset()
    index.DimensionOrganizationUID = organization
    index.DimensionIndexPointer = 0x00181510  # PositionerPrimaryAngle
    index.FunctionalGroupPointer = 0x00189405  # PositionerPositionSequence
    index.DimensionDescriptionLabel = "Positioner Primary Angle"
    ds.DimensionIndexSequence = Sequence([index])


_PIXELS = PixelOptions(
    rows=1024, columns=832, bits_stored=12, frames=15, pattern="auto", photometric="MONOCHROME2"
)

TEMPLATES = (
    IODTemplate(
        name="bpxr",
        title="Breast Projection X-Ray Image - For Presentation",
        sop_class_uid=BPXR_PRESENTATION,
        modality="MG",
        build=build_presentation,
        summary="one frame per tube angle of the sweep, same frame of reference as the DBT",
        pixels=_PIXELS,
        default_views=SCREENING_VIEWS,
        breast=True,
        multiframe=True,
        aliases=("bpxr-presentation", "breast-projection", "tomo-projections"),
        required=REQUIRED,
        allowed_bits_stored=(8, 16),
        concatenation=True,
        photometrics=("MONOCHROME2",),
        modalities=("MG",),
        frame_laterality=True,
        view_modifier_type2=True,
        value_counts={"ImageType": ValueCount(4, 4)},
    ),
    IODTemplate(
        name="bpxr-processing",
        title="Breast Projection X-Ray Image - For Processing",
        sop_class_uid=BPXR_PROCESSING,
        modality="MG",
        build=build_processing,
        summary="the raw projections: 14 bits, linear (LIN), the isocenter positions",
        pixels=_PIXELS.model_copy(update={"bits_stored": 14}),
        default_views=SCREENING_VIEWS,
        breast=True,
        multiframe=True,
        aliases=("bpxr-raw", "breast-projection-processing"),
        required=REQUIRED,
        allowed_bits_stored=(8, 16),
        concatenation=True,
        photometrics=("MONOCHROME2",),
        modalities=("MG",),
        frame_laterality=True,
        view_modifier_type2=True,
        value_counts={"ImageType": ValueCount(4, 4)},
    ),
)
