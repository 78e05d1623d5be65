"""Digital X-Ray Image IOD (PS3.3 A.26), For Presentation: a chest PA radiograph.

Module table (M = mandatory, C = conditional, U = user option) and where each is built:
  Patient M, General Study M, General Series M, General Equipment M, General Image M,
  General Acquisition M, Image Pixel M, Acquisition Context M, SOP Common M   → builder.modules
  DX Series M                                                               → _dx_series
  DX Anatomy Imaged M, DX Image M                                           → _dx_image
  DX Detector M                                                             → _dx_detector
  VOI LUT C (For Presentation only; shall not be present For Processing)   → builder.modules.voi_lut
  DX Positioning U, X-Ray Acquisition Dose U                                → _dx_positioning
  Overlay Plane C (no graphic annotation), Frame of Reference U, Contrast/Bolus U,
  Display Shutter U, Device U, Intervention U, Specimen U, X-Ray Collimator U,
  X-Ray Tomo Acquisition U, X-Ray Generation U, X-Ray Filtration U, X-Ray Grid U,
  Image Histogram U                                                         → not built
Old breast priors were often stored as DX with Modality MG (the DX Series Module enumerates DX, PX,
IO and MG): an instance with a mammography view (``views: [RCC, LMLO]``), or with ``Modality: MG``
in its tags, is such a breast image — laterality, view codes and breast anatomy as in the Digital
Mammography IOD, Modality MG unless the tags say otherwise. Without either it is a chest PA image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicomfab.builder import modules as m
from dicomfab.builder.elements import assign
from dicomfab.builder.iods.base import IODTemplate
from dicomfab.builder.iods.breast import (
    breast_anatomy,
    breast_positioning,
    prior_exposure,
    view_code_sequence,
)
from dicomfab.builder.pixels.image import PixelImage
from dicomfab.studyspec.models import PixelOptions
from dicomfab.studyspec.views import SCREENING_VIEWS, View

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan

DX_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
CHEST = ("51185008", "SCT", "Chest")
POSTERO_ANTERIOR = ("399348003", "SCT", "postero-anterior")
# Type 1/2 attributes of the DX family (DX Series, DX Image, DX Anatomy Imaged, DX Detector), which
# the mammography IOD also meets (PS3.3 A.27); For Presentation adds the VOI window
REQUIRED_DX_FAMILY = (
    m.REQUIRED_COMMON
    | m.REQUIRED_IMAGE_PIXEL
    | m.keywords(
        "PresentationIntentType Manufacturer InstanceNumber PatientOrientation ImageType "
        "PixelIntensityRelationship PixelIntensityRelationshipSign RescaleIntercept RescaleSlope "
        "RescaleType PresentationLUTShape LossyImageCompression BurnedInAnnotation ImageLaterality "
        "AnatomicRegionSequence ImagerPixelSpacing DetectorType AcquisitionContextSequence"
    )
)
REQUIRED = REQUIRED_DX_FAMILY | m.keywords("WindowCenter WindowWidth")
PIXEL_SPACING_MM = 0.4  # 1024 px ≈ a 41 cm chest detector


def build(plan: InstancePlan, image: PixelImage | None) -> Dataset:
    assert image is not None
    ds = m.image_dataset(plan, image, DX_PRESENTATION, plan.modality)
    m.general_image(ds, plan)
    m.acquisition_context(ds)
    _dx_series(ds)
    _dx_image(ds, image, plan.view)
    _dx_detector(ds, plan.view)
    if plan.view is None:
        _dx_positioning(ds)
    else:
        _breast_positioning(ds, plan.view)
    m.voi_lut(ds, image, function="LINEAR")  # VOI LUT (C.11.2)
    return ds


# DX Series (C.8.11.1)
def _dx_series(ds: Dataset) -> None:
    assign(ds, "PresentationIntentType", "FOR PRESENTATION")
    assign(ds, "BodyPartExamined", "CHEST")


def dx_image(
    ds: Dataset, image: PixelImage, image_type: list[str], relationship: str, sign: int
) -> None:
    """The DX Image Module (C.8.11.3) of the DX family (DX, and mammography, A.27): image type,
    pixel intensity relationship and its sign (C.8.11.3.1.2: -1 when higher values mean less
    X-ray intensity, i.e. dense tissue is bright), an identity rescale, the Presentation LUT Shape
    the photometric interpretation calls for (C.8.11.3.1.3), uncompressed, no burned-in text."""
    assign(ds, "ImageType", image_type)
    assign(ds, "PixelIntensityRelationship", relationship)
    assign(ds, "PixelIntensityRelationshipSign", sign)
    m.identity_rescale(ds)
    inverse = image.photometric == "MONOCHROME1"  # IDENTITY is for MONOCHROME2 only
    assign(ds, "PresentationLUTShape", "INVERSE" if inverse else "IDENTITY")
    assign(ds, "LossyImageCompression", "00")
    assign(ds, "BurnedInAnnotation", "NO")


# DX Image (C.8.11.3) + DX Anatomy Imaged (C.8.11.2)
def _dx_image(ds: Dataset, image: PixelImage, view: View | None) -> None:
    # a breast view is drawn as a mammogram (dense tissue bright: sign -1)
    dx_image(ds, image, ["ORIGINAL", "PRIMARY"], "LOG", 1 if view is None else -1)
    if view is not None:
        breast_anatomy(ds, view)
        return
    assign(ds, "ImageLaterality", "U")  # unpaired anatomy
    assign(ds, "AnatomicRegionSequence", Sequence([m.code_item(*CHEST)]))
    assign(ds, "PatientOrientation", ["L", "F"])  # PA, displayed as if facing the patient


# DX Detector (C.8.11.4)
def _dx_detector(ds: Dataset, view: View | None) -> None:
    if view is None:  # a breast view's spacing comes with its exposure (prior_exposure)
        assign(ds, "ImagerPixelSpacing", [PIXEL_SPACING_MM, PIXEL_SPACING_MM])
    assign(ds, "DetectorType", "SCINTILLATOR")
    assign(ds, "DetectorID", "DFDET02")


# DX Positioning (C.8.11.5) + X-Ray Acquisition Dose (C.8.7.8), U
def _dx_positioning(ds: Dataset) -> None:
    assign(ds, "ViewPosition", "PA")
    assign(ds, "PositionerType", "COLUMN")  # a chest stand
    view = m.code_item(*POSTERO_ANTERIOR)
    assign(view, "ViewModifierCodeSequence", Sequence())
    assign(ds, "ViewCodeSequence", Sequence([view]))
    assign(ds, "DistanceSourceToDetector", 1800)
    assign(ds, "DistanceSourceToPatient", 1650)
    assign(ds, "KVP", 120)
    assign(ds, "Exposure", 2)
    assign(ds, "ExposureTime", 8)


# DX Positioning (C.8.11.5) of a breast view, with the mammography view codes (CID 4014)
def _breast_positioning(ds: Dataset, view: View) -> None:
    breast_positioning(ds, view)
    assign(ds, "ViewCodeSequence", view_code_sequence(view))
    prior_exposure(ds)
    assign(ds, "DistanceSourceToPatient", 640)


TEMPLATES = (
    IODTemplate(
        name="dx",
        title="Digital X-Ray Image - For Presentation",
        sop_class_uid=DX_PRESENTATION,
        modality="DX",
        build=build,
        summary="a chest PA image; with `views` or `Modality: MG` a breast prior (see below)",
        pixels=PixelOptions(
            rows=1024, columns=1024, bits_stored=12, pattern="auto", photometric="MONOCHROME2"
        ),
        aliases=("dx-presentation", "digital-x-ray"),
        required=REQUIRED,
        allowed_bits_stored=(6, 16),
        # DX Series: DX, PX, IO or MG (old breast priors were stored as DX with MG)
        modalities=("DX", "MG", "PX", "IO"),
        default_views=SCREENING_VIEWS,  # for Modality MG without views
        breast_views=True,
        view_modifier_type2=True,
    ),
)
