"""Secondary Capture Image IOD (PS3.3 A.8.1): a digitised film prior or a screenshot.

Module table (M = mandatory, C = conditional, U = user option) and where each is built:
  Patient M, General Study M, General Series M, General Equipment U, General Image M,
  General Acquisition M, Image Pixel M, SOP Common M                        → builder.modules
  SC Equipment M (ConversionType DF: digitised film)                       → sc_equipment
  SC Image M                                                                → _sc_image
  VOI LUT U                                                                → builder.modules.voi_lut
  Clinical Trial *, Patient Study, Device, Specimen, Overlay Plane, Modality LUT,
  ICC Profile, Common Instance Reference U                                  → not built
Modality is OT; a spec may set ``tags: {Modality: MG, ConversionType: WSD}`` and so on.
With ``photometric: RGB`` the image is a workstation screen capture (8 bits, three samples) with
the patient's name, ID and study date drawn into its pixels (builder.pixels.screen).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydicom.dataset import Dataset

from dicomfab.builder import modules as m
from dicomfab.builder.iods.base import IODTemplate
from dicomfab.builder.pixels.image import PixelImage
from dicomfab.studyspec.models import PixelOptions

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan

SC = "1.2.840.10008.5.1.4.1.1.7"
REQUIRED = (
    m.REQUIRED_COMMON
    | m.REQUIRED_IMAGE_PIXEL
    | m.keywords("ConversionType InstanceNumber PatientOrientation Manufacturer")
)
FILM_PIXEL_SPACING_MM = 0.5  # the film digitiser's sampling, at the film plane


def build(plan: InstancePlan, image: PixelImage | None) -> Dataset:
    assert image is not None
    ds = m.image_dataset(plan, image, SC, "OT")
    ds.BodyPartExamined = "BREAST"  # a paired part: ImageLaterality B meets Laterality's 2C
    sc_equipment(ds)
    m.general_image(ds, plan)
    _sc_image(ds, plan)
    if image.samples == 1:
        m.voi_lut(ds, image)  # VOI LUT (C.11.2): grayscale only
    return ds


# SC Equipment (C.8.6.1)
def sc_equipment(
    ds: Dataset, conversion_type: str = "DF", model: str = "Synthetic Film Digitizer"
) -> None:
    """SC Equipment (C.8.6.1) of dicomfab's synthetic capture device."""
    ds.ConversionType = conversion_type
    ds.SecondaryCaptureDeviceManufacturer = m.MANUFACTURER
    ds.SecondaryCaptureDeviceManufacturerModelName = model
    ds.SecondaryCaptureDeviceSoftwareVersions = m.SOFTWARE


# SC Image (C.8.6.2) + General Image (C.7.6.1)
def _sc_image(ds: Dataset, plan: InstancePlan) -> None:
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.PatientOrientation = ""
    ds.ImageLaterality = "B"  # a film sheet with both breasts' views on it
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    ds.DateOfSecondaryCapture = ds.ContentDate
    ds.TimeOfSecondaryCapture = m.content_time(plan)
    ds.NominalScannedPixelSpacing = [FILM_PIXEL_SPACING_MM, FILM_PIXEL_SPACING_MM]
    ds.PixelSpacing = [FILM_PIXEL_SPACING_MM, FILM_PIXEL_SPACING_MM]


TEMPLATES = (
    IODTemplate(
        name="sc",
        title="Secondary Capture Image",
        sop_class_uid=SC,
        modality="OT",
        build=build,
        summary="ConversionType DF (digitised film)",
        pixels=PixelOptions(
            rows=512, columns=512, bits_stored=8, pattern="auto", photometric="MONOCHROME2"
        ),
        aliases=("secondary-capture", "digitized-film"),
        required=REQUIRED,
        allowed_bits_stored=(1, 16),
        breast_body_part=True,  # a film sheet with both breasts' views on it
        photometrics=("MONOCHROME1", "MONOCHROME2", "RGB"),  # RGB: a screen capture
    ),
)
