"""Digital Mammography X-Ray Image IOD (PS3.3 A.27), For Presentation and For Processing.

Module table (M = mandatory, C = conditional, U = user option) and where each is built:
  Patient M, General Study M, General Series M, General Equipment M, General Image M,
  General Acquisition M, Image Pixel M, Acquisition Context M, SOP Common M   → builder.modules
  DX Series M, Mammography Series M                                         → _dx_series
  DX Anatomy Imaged M, DX Image M, DX Detector M, Mammography Image M       → _dx_image, …
  VOI LUT C (For Presentation only; shall not be present For Processing)   → builder.modules.voi_lut
  DX Positioning U, X-Ray Acquisition Dose U                                → _dx_positioning
IHE MAMMO's stricter types (scenario-catalogue §1.4) are honoured where they cost nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicomfab.builder import modules as m
from dicomfab.builder.elements import assign
from dicomfab.builder.iods.base import IODTemplate
from dicomfab.builder.iods.breast import breast_anatomy, breast_positioning, breast_view
from dicomfab.builder.iods.dx import REQUIRED_DX_FAMILY, dx_image
from dicomfab.builder.pixels.image import PixelImage
from dicomfab.builder.vendors import header as vendor_header
from dicomfab.studyspec.models import PixelOptions
from dicomfab.studyspec.views import SCREENING_VIEWS

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan

MG_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
MG_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.2.1"
REQUIRED = REQUIRED_DX_FAMILY | m.keywords("PositionerType OrganExposed ViewCodeSequence")
# the VOI LUT Module's attributes (C.11.2), which a For Processing image shall not have
VOI_LUT = m.keywords(
    "WindowCenter WindowWidth WindowCenterWidthExplanation VOILUTFunction VOILUTSequence"
)
PIXEL_SPACING_MM = 0.07  # a typical full-field digital mammography detector
_WINDOW = ("WindowCenter", "WindowWidth", "WindowCenterWidthExplanation")


def _build(plan: InstancePlan, image: PixelImage | None, *, for_presentation: bool) -> Dataset:
    assert image is not None
    ds = m.image_dataset(plan, image, MG_PRESENTATION if for_presentation else MG_PROCESSING, "MG")
    m.general_image(ds, plan)
    m.acquisition_context(ds)
    _dx_series(ds, for_presentation)
    _dx_image(ds, plan, image, for_presentation)
    _dx_detector(ds, plan, image)
    _mammography_image(ds, plan)
    _dx_positioning(ds, plan)
    if for_presentation:  # VOI LUT (C.11.2)
        if plan.vendor is not None:
            own = any(ref.keyword in _WINDOW for ref in plan.tags)
            vendor_header.voi_lut(ds, plan.vendor, image.bits_stored, first_only=own)
        else:
            m.voi_lut(ds, image, function="LINEAR", explanation="NORMAL")
        _source_image(ds, plan)
    assign(ds, "OperatorsName", "Radiographer^Synthetic")  # IHE MAMMO: Type 1
    return ds


# General Image > Source Image Sequence (Type 3): IHE MAMMO wants a presentation image to name
# the For Processing image it was made from; only one the dataset holds is named (a reference to
# an image that was never sent dangles), so without one the sequence is left out
FOR_PROCESSING_PREDECESSOR = ("121358", "DCM", "For Processing predecessor")  # CID 7202


def _source_image(ds: Dataset, plan: InstancePlan) -> None:
    source = for_processing_source(plan)
    if source is None:
        return
    item = Dataset()
    assign(item, "ReferencedSOPClassUID", source.iod.sop_class_uid)
    assign(item, "ReferencedSOPInstanceUID", source.sop_instance_uid)
    purpose = Sequence([m.code_item(*FOR_PROCESSING_PREDECESSOR)])
    assign(item, "PurposeOfReferenceCodeSequence", purpose)
    assign(item, "SpatialLocationsPreserved", "YES")
    assign(ds, "SourceImageSequence", Sequence([item]))


def for_processing_source(plan: InstancePlan) -> InstancePlan | None:
    """The For Processing image of the same view in the same study that ``plan`` (a For
    Presentation image) was made from: the first one written, in spec order; None if none is."""
    if plan.view is None:
        return None
    for series in plan.study.series:
        for other in series.instances:
            if (
                other.iod.sop_class_uid == MG_PROCESSING
                and other.view == plan.view
                and not other.skip_writing
            ):
                return other
    return None


# DX Series (C.8.11.1) + Mammography Series (C.8.11.6)
def _dx_series(ds: Dataset, for_presentation: bool) -> None:
    intent = "FOR PRESENTATION" if for_presentation else "FOR PROCESSING"
    assign(ds, "PresentationIntentType", intent)


# DX Image (C.8.11.3) + DX Anatomy Imaged (C.8.11.2)
def _dx_image(ds: Dataset, plan: InstancePlan, image: PixelImage, for_presentation: bool) -> None:
    # the synthetic presentation images draw dense tissue bright (sign -1), stored MONOCHROME2
    # or inverted MONOCHROME1; For Processing images keep the detector's linear response
    relationship, sign = ("LOG", -1) if for_presentation else ("LIN", 1)
    dx_image(ds, image, ["ORIGINAL", "PRIMARY", ""], relationship, sign)
    inverse = image.photometric == "MONOCHROME1"
    padding = (1 << image.bits_stored) - 1 if inverse else 0  # the air around
    assign(ds, "PixelPaddingValue", padding)
    breast_anatomy(ds, plan.view)


# DX Detector (C.8.11.4)
def _dx_detector(ds: Dataset, plan: InstancePlan, image: PixelImage) -> None:
    if plan.vendor is not None:
        vendor_header.detector(ds, plan.vendor, image.rows, image.columns)
    else:
        assign(ds, "ImagerPixelSpacing", [PIXEL_SPACING_MM, PIXEL_SPACING_MM])
        assign(ds, "DetectorType", "DIRECT")
        assign(ds, "DetectorID", "DFDET01")
    assign(ds, "DateOfLastDetectorCalibration", ds.StudyDate)


# Mammography Image (C.8.11.7); its PositionerType MAMMOGRAPHIC is set with the positioning
def _mammography_image(ds: Dataset, plan: InstancePlan) -> None:
    assign(ds, "OrganExposed", "BREAST")
    breast_view(ds, plan.view)


# DX Positioning (C.8.11.5) + X-Ray Acquisition Dose (C.8.7.8), U, IHE MAMMO Type 1 subset
def _dx_positioning(ds: Dataset, plan: InstancePlan) -> None:
    breast_positioning(ds, plan.view)
    assign(ds, "CompressionForce", 120)
    assign(ds, "BodyPartThickness", 52)
    assign(ds, "EstimatedRadiographicMagnificationFactor", round(660 / 640, 4))
    assign(ds, "DistanceSourceToDetector", 660)
    assign(ds, "DistanceSourceToPatient", 640)
    assign(ds, "KVP", 29)
    assign(ds, "Exposure", 120)
    assign(ds, "ExposureTime", 1200)
    assign(ds, "RelativeXRayExposure", 850)
    assign(ds, "FilterMaterial", "RHODIUM")
    assign(ds, "AnodeTargetMaterial", "TUNGSTEN")
    if plan.vendor is not None:  # the unit's anode, one of its filters, a kVp in its range
        filter_material, kvp = vendor_header.exposure(plan.vendor, plan.exposure_key)
        assign(ds, "FilterMaterial", filter_material)
        assign(ds, "KVP", vendor_header.kvp_text(kvp))
        assign(ds, "AnodeTargetMaterial", plan.vendor.exposure.anode)
    assign(ds, "EntranceDoseInmGy", 6.2)
    assign(ds, "OrganDose", 1.4)


def build_presentation(plan: InstancePlan, image: PixelImage | None) -> Dataset:
    return _build(plan, image, for_presentation=True)


def build_processing(plan: InstancePlan, image: PixelImage | None) -> Dataset:
    return _build(plan, image, for_presentation=False)


_PIXELS = PixelOptions(
    rows=3328, columns=2560, bits_stored=12, pattern="auto", photometric="MONOCHROME2"
)

TEMPLATES = (
    IODTemplate(
        name="mg-presentation",
        title="Digital Mammography X-Ray Image - For Presentation",
        sop_class_uid=MG_PRESENTATION,
        modality="MG",
        build=build_presentation,
        summary=(
            "VOI LUT window, IHE MAMMO attributes (dose, equipment; Source Image Sequence "
            "when the study has the For Processing image of the view)"
        ),
        pixels=_PIXELS,
        default_views=SCREENING_VIEWS,
        breast=True,
        aliases=("mg", "mammo", "mammography"),
        required=REQUIRED | {"WindowCenter", "WindowWidth"},
        allowed_bits_stored=(6, 16),
        modalities=("MG",),  # Mammography Series: Enumerated Value MG
        view_modifier_type2=True,
    ),
    IODTemplate(
        name="mg-processing",
        title="Digital Mammography X-Ray Image - For Processing",
        sop_class_uid=MG_PROCESSING,
        modality="MG",
        build=build_processing,
        summary="no VOI LUT (the IOD forbids it)",
        pixels=_PIXELS.model_copy(update={"bits_stored": 14}),
        default_views=SCREENING_VIEWS,
        breast=True,
        aliases=("mg-raw", "raw"),
        required=REQUIRED,
        allowed_bits_stored=(6, 16),
        modalities=("MG",),
        view_modifier_type2=True,
        forbidden=VOI_LUT,  # A.27: VOI LUT shall not be present For Processing
    ),
)
