"""Computed Radiography Image IOD (PS3.3 A.2): a storage-phosphor chest PA radiograph.

Module table (M = mandatory, C = conditional, U = user option) and where each is built:
  Patient M, General Study M, General Series M, General Equipment M, General Image M,
  General Acquisition M, Image Pixel M, SOP Common M                        → builder.modules
  CR Series M                                                               → _cr_series
  CR Image M                                                                → _cr_image
  Modality LUT U (identity rescale)                         → builder.modules.identity_rescale
  VOI LUT U                                                                → builder.modules.voi_lut
  Clinical Trial *, Patient Study, Contrast/Bolus, Display Shutter, Device, Specimen,
  Overlay Plane, Common Instance Reference U                                → not built
Older breast priors came from CR plates with Modality MG: an instance with a mammography view
(``views: [RCC, LMLO]``), or with ``Modality: MG`` in its tags, is such a breast image — laterality,
breast anatomy as in the Digital Mammography IOD, Modality MG unless the tags say
otherwise. Without either it is a chest PA image. The General Series Module leaves Modality to
Defined Terms; dicomfab takes CR and MG (a plate radiograph or mammogram), others only permissive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydicom.dataset import Dataset

from dicomfab.builder import modules as m
from dicomfab.builder.iods.base import IODTemplate
from dicomfab.builder.iods.breast import breast_anatomy, prior_exposure
from dicomfab.builder.pixels.image import PixelImage
from dicomfab.studyspec.models import PixelOptions
from dicomfab.studyspec.views import SCREENING_VIEWS

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan

CR = "1.2.840.10008.5.1.4.1.1.1"
REQUIRED = (
    m.REQUIRED_COMMON
    | m.REQUIRED_IMAGE_PIXEL
    | m.keywords("BodyPartExamined ViewPosition Manufacturer InstanceNumber PatientOrientation")
)
PIXEL_SPACING_MM = 0.4  # 1024 px ≈ a 41 cm (14") cassette


def build(plan: InstancePlan, image: PixelImage | None) -> Dataset:
    assert image is not None
    ds = m.image_dataset(plan, image, CR, plan.modality)
    m.general_image(ds, plan)
    _cr_series(ds)
    _cr_image(ds, plan)
    if plan.view is not None:
        _breast(ds, plan)
    m.identity_rescale(ds)  # Modality LUT (C.11.1)
    m.voi_lut(ds, image)  # VOI LUT (C.11.2)
    return ds


# CR Series (C.8.1.1)
def _cr_series(ds: Dataset) -> None:
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"


# CR Image (C.8.1.2) + General Image's anatomy and orientation (C.7.6.1)
def _cr_image(ds: Dataset, plan: InstancePlan) -> None:
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.PatientOrientation = ["L", "F"]  # PA, displayed as if facing the patient
    ds.ImageLaterality = "U"
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    ds.KVP = 110
    ds.PlateID = f"PLATE{plan.index + 1:03d}"
    ds.DistanceSourceToDetector = 1800
    ds.ExposureTime = 10
    ds.XRayTubeCurrent = 250
    ds.Exposure = 3
    ds.ImagerPixelSpacing = [PIXEL_SPACING_MM, PIXEL_SPACING_MM]
    ds.PhosphorType = "BaFBr"


# A breast view instead of the chest: General Image's ImageLaterality (so no General Series
# Laterality, which is 2C on its absence), the CR Series ViewPosition (an ACR MQCM term, which
# dciodvfy warns about) and the breast anatomy codes the Digital Mammography IOD uses. The CR IOD
# has no View Code Sequence (no DX Positioning Module): the view is in ViewPosition and laterality.
def _breast(ds: Dataset, plan: InstancePlan) -> None:
    assert plan.view is not None
    breast_anatomy(ds, plan.view)
    ds.ViewPosition = plan.view.position
    prior_exposure(ds)
    ds.XRayTubeCurrent = 100


TEMPLATES = (
    IODTemplate(
        name="cr",
        title="Computed Radiography Image",
        sop_class_uid=CR,
        modality="CR",
        build=build,
        summary="a chest PA image; with `views` or `Modality: MG` a breast prior (see below)",
        pixels=PixelOptions(
            rows=1024, columns=1024, bits_stored=10, pattern="auto", photometric="MONOCHROME2"
        ),
        aliases=("computed-radiography",),
        required=REQUIRED,
        allowed_bits_stored=(1, 16),
        modalities=("CR", "MG"),
        default_views=SCREENING_VIEWS,  # for Modality MG without views
        breast_views=True,
        view_modifier_type2=True,
    ),
)
