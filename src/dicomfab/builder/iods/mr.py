"""MR Image IOD (PS3.3 A.4): an axial slice of a bilateral breast MR prior (3D T1 gradient echo).

Module table (M = mandatory, C = conditional, U = user option) and where each is built:
  Patient M, General Study M, General Series M, General Equipment M, General Image M,
  General Acquisition M, Image Pixel M, SOP Common M                        → builder.modules
  Frame of Reference M                                                      → _frame_of_reference
  Image Plane M                                                             → _image_plane
  MR Image M                                                                → _mr_image
  VOI LUT U                                                                → builder.modules.voi_lut
  Contrast/Bolus C (no contrast: a pre-contrast series), Overlay Plane U, Clinical Trial *,
  Patient Study, Device, Specimen, Common Instance Reference U              → not built
Each instance of a series is the next slice: ImagePositionPatient steps along the slice normal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicomfab.builder import modules as m
from dicomfab.builder.iods.base import IODTemplate, ValueCount
from dicomfab.builder.iods.breast import BREAST
from dicomfab.builder.pixels.image import PixelImage
from dicomfab.studyspec.models import PixelOptions

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan

MR = "1.2.840.10008.5.1.4.1.1.4"
REQUIRED = (
    m.REQUIRED_COMMON
    | m.REQUIRED_IMAGE_PIXEL
    | m.keywords(
        "PatientPosition FrameOfReferenceUID PositionReferenceIndicator Manufacturer "
        "InstanceNumber "
        "PixelSpacing ImageOrientationPatient ImagePositionPatient SliceThickness ImageType "
        "ScanningSequence SequenceVariant ScanOptions MRAcquisitionType RepetitionTime EchoTime "
        "EchoTrainLength"
    )
)
FIELD_OF_VIEW_MM = 340.0  # both breasts side by side
SLICE_MM = 1.5


def build(plan: InstancePlan, image: PixelImage | None) -> Dataset:
    assert image is not None
    ds = m.image_dataset(plan, image, MR, "MR")
    _mr_series(ds)
    _frame_of_reference(ds, plan)
    m.general_image(ds, plan)
    _image_plane(ds, plan, image)
    _mr_image(ds)
    m.voi_lut(ds, image)  # VOI LUT (C.11.2)
    return ds


# General Series (C.7.3.1): the parts specific to a breast MR series
def _mr_series(ds: Dataset) -> None:
    ds.PatientPosition = "HFP"  # prone, head first, breasts in the coil
    ds.BodyPartExamined = "BREAST"
    ds.ProtocolName = "BREAST 3D T1 FS"


# Frame of Reference (C.7.4.1): one per series (the patient does not move between slices)
def _frame_of_reference(ds: Dataset, plan: InstancePlan) -> None:
    ds.FrameOfReferenceUID = plan.study_level_uid(f"frame-of-reference-mr-{plan.series.index}")
    ds.PositionReferenceIndicator = ""


# Image Plane (C.7.6.2): axial slices, stepping superior with the instance number
def _image_plane(ds: Dataset, plan: InstancePlan, image: PixelImage) -> None:
    spacing = round(FIELD_OF_VIEW_MM / max(image.rows, image.columns), 6)
    ds.PixelSpacing = [spacing, spacing]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    x0 = round(-spacing * image.columns / 2, 4)
    y0 = round(-spacing * image.rows / 2, 4)
    z = round(-60 + SLICE_MM * plan.index, 4)
    ds.ImagePositionPatient = [x0, y0, z]
    ds.SliceThickness = SLICE_MM
    ds.SliceLocation = z


# MR Image (C.8.3.1) + General Image's anatomy (C.7.6.1)
def _mr_image(ds: Dataset) -> None:
    ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
    ds.ImageLaterality = "B"  # both breasts in the field of view
    ds.AnatomicRegionSequence = Sequence([m.code_item(*BREAST)])
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    ds.ScanningSequence = "GR"
    ds.SequenceVariant = ["SP", "SK"]
    ds.ScanOptions = "FS"
    ds.MRAcquisitionType = "3D"
    ds.SequenceName = "fl3d1"
    ds.AngioFlag = "N"
    ds.RepetitionTime = 4.5
    ds.EchoTime = 2.2
    ds.EchoTrainLength = 1
    ds.FlipAngle = 12
    ds.NumberOfAverages = 1
    ds.ImagingFrequency = 63.87
    ds.ImagedNucleus = "1H"
    ds.MagneticFieldStrength = 1.5
    ds.SpacingBetweenSlices = SLICE_MM
    ds.ReceiveCoilName = "BREAST16"
    ds.TransmitCoilName = "BODY"
    ds.InPlanePhaseEncodingDirection = "ROW"
    ds.PercentPhaseFieldOfView = 100
    ds.PixelBandwidth = 390


TEMPLATES = (
    IODTemplate(
        name="mr",
        title="MR Image",
        sop_class_uid=MR,
        modality="MR",
        build=build,
        summary="a breast MR prior: slices stepping along z",
        pixels=PixelOptions(
            rows=256,
            columns=256,
            bits_stored=12,
            bits_allocated=16,  # MR Image: BitsAllocated 16 only, whatever is stored
            pattern="auto",
            photometric="MONOCHROME2",
        ),
        aliases=("breast-mr", "mri"),
        required=REQUIRED,
        allowed_bits_stored=(1, 16),
        bits_allocated=(16,),  # MR Image Module: Enumerated Value 16
        breast_body_part=True,  # both breasts in the field of view
        value_counts={"ImageType": ValueCount(3, filled=3)},  # MR Image Module: value 3 set
    ),
)
