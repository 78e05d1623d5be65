"""Multi-frame Grayscale Byte and Word SC Image IODs (PS3.3 A.8.3, A.8.4): a stack of frames.

Units once exchanged legacy tomosynthesis as such Secondary Capture stacks.

Module table (M = mandatory, C = conditional, U = user option) and where each is built:
  Patient M, General Study M, General Series M, General Equipment U, General Image M,
  Image Pixel M, SOP Common M                                               → builder.modules
  SC Equipment M (ConversionType WSD: workstation)                          → sc.sc_equipment
  Multi-frame M (FrameIncrementPointer → Slice Location Vector)             → _multi_frame
  SC Multi-frame Image M (identity rescale and Presentation LUT)            → _sc_multiframe_image
  SC Multi-frame Vector C (the vector the pointer names)                    → _multi_frame
  VOI LUT C (MONOCHROME2 with a window)                                → builder.modules.voi_lut
  Cine C (only for Frame Time pointers), Frame Pointers U, Clinical Trial *, Patient Study,
  Device, Specimen, ICC Profile, Common Instance Reference U, Frame Extraction C → not built
The Image Pixel module is fixed by the IOD: MONOCHROME2, unsigned; Byte: 8 bits in 8, Word: 9–16
bits in 16. Modality is OT; a spec may set ``tags: {Modality: MG}`` and so on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydicom.dataset import Dataset
from pydicom.tag import Tag

from dicomfab.builder import modules as m
from dicomfab.builder.iods.base import IODTemplate
from dicomfab.builder.iods.sc import sc_equipment
from dicomfab.builder.pixels.image import PixelImage
from dicomfab.studyspec.models import PixelOptions

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan

SC_MULTIFRAME_BYTE = "1.2.840.10008.5.1.4.1.1.7.2"
SC_MULTIFRAME_WORD = "1.2.840.10008.5.1.4.1.1.7.3"
REQUIRED = (
    m.REQUIRED_COMMON
    | m.REQUIRED_IMAGE_PIXEL
    | m.keywords(
        "ConversionType InstanceNumber PatientOrientation NumberOfFrames FrameIncrementPointer "
        "BurnedInAnnotation PresentationLUTShape RescaleIntercept RescaleSlope RescaleType"
    )
)
SLICE_SPACING_MM = 1.0  # between frames, in Slice Location Vector


def build(plan: InstancePlan, image: PixelImage | None) -> Dataset:
    assert image is not None
    ds = m.image_dataset(plan, image, plan.iod.sop_class_uid, "OT")
    ds.BodyPartExamined = "BREAST"  # a paired part: ImageLaterality B meets Laterality's 2C
    sc_equipment(ds, "WSD", "Synthetic Workstation")
    m.general_image(ds, plan)
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.PatientOrientation = ""
    ds.ImageLaterality = "B"  # the spec's tags name one breast (R, L) where the frames show one
    ds.LossyImageCompression = "00"
    ds.DateOfSecondaryCapture = ds.ContentDate
    ds.TimeOfSecondaryCapture = m.content_time(plan)
    _multi_frame(ds, image)
    _sc_multiframe_image(ds)
    m.voi_lut(ds, image)  # VOI LUT (C.11.2)
    return ds


# Multi-frame (C.7.6.6) + SC Multi-frame Vector (C.8.6.4)
def _multi_frame(ds: Dataset, image: PixelImage) -> None:
    ds.NumberOfFrames = image.frames
    ds.FrameIncrementPointer = Tag("SliceLocationVector")
    ds.SliceLocationVector = [round(f * SLICE_SPACING_MM, 1) for f in range(image.frames)]


# SC Multi-frame Image (C.8.6.3)
def _sc_multiframe_image(ds: Dataset) -> None:
    ds.BurnedInAnnotation = "NO"
    ds.PresentationLUTShape = "IDENTITY"
    m.identity_rescale(ds)


def _template(name: str, title: str, uid: str, bits: tuple[int, int]) -> IODTemplate:
    high = bits[1]
    return IODTemplate(
        name=name,
        title=title,
        sop_class_uid=uid,
        modality="OT",
        build=build,
        summary="ConversionType WSD, frames along Slice Location Vector",
        pixels=PixelOptions(
            rows=512,
            columns=512,
            bits_stored=8 if high == 8 else 12,
            frames=8,
            pattern="auto",
            photometric="MONOCHROME2",
        ),
        multiframe=True,
        aliases=(f"secondary-capture-multiframe-{name.rsplit('-', 1)[1]}",),
        required=REQUIRED,
        allowed_bits_stored=bits,
        photometrics=("MONOCHROME2",),
        bits_allocated=(8,) if high == 8 else (16,),
        enumerated={"PresentationLUTShape": ("IDENTITY",)},
        breast_body_part=True,  # BodyPartExamined BREAST, ImageLaterality B unless the tags say
    )


TEMPLATES = (
    _template(
        "sc-multiframe-byte",
        "Multi-frame Grayscale Byte Secondary Capture Image",
        SC_MULTIFRAME_BYTE,
        (8, 8),
    ),
    _template(
        "sc-multiframe-word",
        "Multi-frame Grayscale Word Secondary Capture Image",
        SC_MULTIFRAME_WORD,
        (9, 16),
    ),
)
