"""AI Secondary Capture (Secondary Capture Image IOD, PS3.3 A.8.1): an AI result on a mammogram.

The findings are outlined and the verdict burned into the pixels.
Module table (M = mandatory, C = conditional, U = user option) and where each is built:
  Patient M, General Study M, General Series M, General Equipment U, General Image M,
  General Acquisition M, Image Pixel M, SOP Common M                        → builder.modules
  SC Equipment M (ConversionType WSD: workstation)                         → iods.sc.sc_equipment
  SC Image M, General Image's Source Image Sequence and derivation          → _derived_image
  Clinical Trial *, Patient Study, Device, Specimen, Overlay Plane, Modality LUT, VOI LUT,
  ICC Profile, Common Instance Reference U                                  → not built
Content fields (the spec's ``content``):
  findings: an outline per finding (yellow: a mass, cyan: a calcification cluster) of size_mm
    at the finding's centre, the same place a SEG of the same image marks; default: one mass
    inside the breast. Every finding names the same reference (its ``image``): the captured one.
The pixels are the referenced image (the middle slice of a DBT object) windowed to 8 bits, grey
in RGB, the same size, with "AI score NN%" (the highest probability), the maker, "NOT FOR
DIAGNOSIS" and the patient's name, ID and study date in the top-left corner: BurnedInAnnotation
YES (the capture identifies the patient). Modality OT (``tags`` may say MG); 8-bit RGB, written
uncompressed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicomfab.builder import lesions
from dicomfab.builder import modules as m
from dicomfab.builder.iods.base import IODTemplate
from dicomfab.builder.iods.sc import SC, sc_equipment
from dicomfab.builder.pixels.capture import MODEL
from dicomfab.builder.pixels.image import PixelImage
from dicomfab.studyspec.models import PixelOptions

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan

SOURCE_FOR_PROCESSING = ("121322", "DCM", "Source image for image processing operation")
REQUIRED = (
    m.REQUIRED_COMMON
    | m.REQUIRED_IMAGE_PIXEL
    | m.keywords(
        "ConversionType InstanceNumber PatientOrientation Manufacturer BurnedInAnnotation "
        "SourceImageSequence"
    )
)


def build(plan: InstancePlan, image: PixelImage | None) -> Dataset:
    assert image is not None
    ds = m.image_dataset(plan, image, SC, "OT")
    sc_equipment(ds, "WSD", MODEL)
    m.general_image(ds, plan)
    _derived_image(ds, plan)
    return ds


# SC Image (C.8.6.2) + General Image (C.7.6.1): what the capture is derived from
def _derived_image(ds: Dataset, plan: InstancePlan) -> None:
    ref = plan.references[lesions.marked_index(plan)]
    source = ref.instance
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.PatientOrientation = ""
    ds.BodyPartExamined = "BREAST"
    laterality = source.laterality if source is not None else None
    ds.ImageLaterality = laterality or "B"
    ds.BurnedInAnnotation = "YES"  # the patient's name, ID and study date are in the pixels
    ds.LossyImageCompression = "00"
    ds.DateOfSecondaryCapture = ds.ContentDate
    ds.TimeOfSecondaryCapture = m.content_time(plan)
    ds.DerivationDescription = (
        "AI result screen: the referenced image windowed to 8 bits, findings outlined, "
        "verdict burned in"
    )
    item = Dataset()
    item.ReferencedSOPClassUID = ref.sop_class_uid
    item.ReferencedSOPInstanceUID = ref.sop_instance_uid
    frames = source.pixels.frames if source is not None and source.iod.multiframe else None
    if frames:
        item.ReferencedFrameNumber = frames // 2 + 1  # the middle slice, shown
    item.PurposeOfReferenceCodeSequence = Sequence([m.code_item(*SOURCE_FOR_PROCESSING)])
    ds.SourceImageSequence = Sequence([item])


def check(plan: InstancePlan) -> list[tuple[str, str, str | None]]:
    return lesions.problems(plan, foreign=False)


TEMPLATES = (
    IODTemplate(
        name="ai-sc",
        title="AI Secondary Capture",
        sop_class_uid=SC,
        modality="OT",
        build=build,
        summary="an RGB AI result screen of one referenced mammogram, text burned in",
        pixels=PixelOptions(bits_stored=8, photometric="RGB"),
        aliases=("ai-capture",),
        required=REQUIRED,
        allowed_bits_stored=(8, 8),
        breast_body_part=True,
        photometrics=("RGB",),
        bits_allocated=(8,),
        derived=True,
        content_fields=frozenset({"findings"}),
        check_derived=check,
    ),
)
