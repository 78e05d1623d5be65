"""Segmentation IOD (PS3.3 A.51): a CAD/AI mask of the findings on one mammogram or DBT object.

Module table (M = mandatory, C = conditional, U = user option) and where each is built:
  Patient M, General Study M, Patient Study U, General Equipment M, SOP Common M → builder.modules
  Segmentation Series M, Enhanced General Equipment M, General Image M, Image Pixel M,
  Segmentation Image M, Multi-frame Functional Groups M, Multi-frame Dimension M,
  Common Instance Reference M, Frame of Reference C (the source's, when it has one)
                                                                            → highdicom
  Clinical Trial *, Specimen U, Palette Color Lookup Table C, ICC Profile C → not built
Content fields (the spec's ``content``):
  findings: one segment per finding, a disc of size_mm (over the image's pixel spacing, at
    most a sixth of its shorter side) at the finding's centre; on a DBT object a ball over the
    slices around the middle one (the slice the finding lies on); default: one mass inside the
    breast. Every finding names the same reference (its ``image``): the one image segmented.
  source_frames: the 1-based frames of a multi-frame source the SEG covers (each finding's disc
    drawn on each of them); default: the slices around the finding. A frame past the source's
    NumberOfFrames is refused unless the instance is permissive: then the SEG is built on that
    frame modulo NumberOfFrames and its ReferencedFrameNumber set to the one asked (it dangles).
  segmentation: binary (default: 1 bit per pixel) or fractional (a probability map with a soft
    rim, scaled by the finding's probability; MaximumFractionalValue 255).
The segmented image's header is built from its plan and handed to highdicom (imported lazily),
which writes the frames, the per-frame Derivation Image references and the Pixel Data; a
mammogram has no frame of reference, so its SEG has one frame and no plane positions. A foreign
reference (not in the dataset, on purpose) is segmented as if it were the study's first image
with the foreign UIDs: only the references differ from a SEG of that image.
Transfer syntaxes: the uncompressed ones; highdicom encodes fractional frames in RLE, JPEG-LS or
JPEG 2000 lossless, binary (1-bit) frames in JPEG 2000 lossless only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from dicomfab.builder import lesions
from dicomfab.builder import modules as m
from dicomfab.builder.iods.base import IODTemplate
from dicomfab.builder.pixels.image import PixelImage

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan

SEGMENTATION = "1.2.840.10008.5.1.4.1.1.66.4"
MODEL = "Synthetic Lesion Segmenter"
MAX_FRACTIONAL_VALUE = 255
BINARY_SYNTAXES = ("jpeg2000-lossless",)  # the compressed ones highdicom encodes 1-bit frames in
CATEGORY = ("49755003", "SCT", "Morphologically Abnormal Structure")
TYPES = {
    "mass": ("4147007", "SCT", "Mass"),
    "calcification_cluster": ("129769006", "SCT", "Calcification Cluster"),
}
BREAST = ("76752008", "SCT", "Breast")
AI = ("123110", "DCM", "Artificial Intelligence")  # CID 7162 Surface Processing Algorithm Family
REQUIRED = m.REQUIRED_COMMON | m.keywords(
    "Manufacturer InstanceNumber ContentLabel SegmentationType SegmentSequence "
    "SharedFunctionalGroupsSequence PerFrameFunctionalGroupsSequence NumberOfFrames "
    "ReferencedSeriesSequence DimensionIndexSequence"
)


def build(plan: InstancePlan, image: PixelImage | None) -> Dataset:
    from highdicom.seg import Segmentation

    ref = plan.references[lesions.marked_index(plan)]
    source = lesions.source_dataset(plan, ref)
    placed = lesions.place(plan, lesions.shown(plan, ref), source)
    fractional = plan.content.segmentation == "fractional"
    ts = plan.transfer_syntax  # highdicom encodes the frames of a compressed one
    asked = [f - 1 for f in plan.content.source_frames or []]
    covered, masks = _masks(source, placed, fractional, _stand_ins(source, asked))
    positions = _plane_positions(source, covered)
    if positions is None and len(covered) != int(source.get("NumberOfFrames", 1) or 1):
        full = np.zeros((int(source.NumberOfFrames), *masks.shape[1:]), dtype=masks.dtype)
        full[covered] = masks  # no positions to match frames by: one mask frame per source frame
        masks = full
    date, time = f"{plan.study.date:%Y%m%d}", m.content_time(plan)
    seg = Segmentation(
        source_images=[source],
        pixel_array=masks,
        segmentation_type="FRACTIONAL" if fractional else "BINARY",
        segment_descriptions=[_segment(p) for p in placed],
        series_instance_uid=plan.series.uid,
        series_number=plan.series.number,
        sop_instance_uid=plan.sop_instance_uid,
        instance_number=plan.number,
        manufacturer=m.MANUFACTURER,
        manufacturer_model_name=MODEL,
        software_versions=m.SOFTWARE,
        device_serial_number=m.SERIAL,
        max_fractional_value=MAX_FRACTIONAL_VALUE,
        content_label="LESIONS",
        content_description="Synthetic CAD segmentation of the findings",
        series_description=plan.series.description or None,
        content_date=date,
        content_time=time,
        transfer_syntax_uid=ts.uid if ts.compressed else ExplicitVRLittleEndian,
        plane_positions=positions,
    )
    ds = Dataset()
    ds.update(seg)  # a plain Dataset: no highdicom class travels into the writer
    m.sop_common(ds, plan, SEGMENTATION)  # the plan's creation date and time, not the clock's
    m.patient(ds, plan)
    m.general_study(ds, plan)
    ds.SeriesDate, ds.SeriesTime = date, plan.study.time
    _deterministic(ds, plan, f"{date}{time}")
    _dangle(ds, dict(zip(_stand_ins(source, asked), asked, strict=True)))
    if "FrameOfReferenceUID" not in ds and "PatientOrientation" in source:
        ds.PatientOrientation = source.PatientOrientation  # General Image: Type 2C without one
    return ds


def _stand_ins(source: Dataset, asked: list[int]) -> list[int]:
    """The valid 0-based frames the SEG is built on for the ``asked`` ones: a frame past the
    source's end is built on that frame modulo the source's frames (frame 12 of 8 on frame 4),
    and its reference rewritten afterwards (see _dangle)."""
    frames = int(source.get("NumberOfFrames", 1) or 1)
    return [f % frames for f in asked]


def _dangle(ds: Dataset, numbers: dict[int, int]) -> None:
    """Set each per-frame source ReferencedFrameNumber built on a stand-in to the asked frame."""
    moved = {s + 1: a + 1 for s, a in numbers.items() if s != a}
    if not moved:
        return
    for item in ds.get("PerFrameFunctionalGroupsSequence", []):
        for derivation in item.get("DerivationImageSequence", []):
            for source in derivation.get("SourceImageSequence", []):
                number = source.get("ReferencedFrameNumber")
                if number is not None and int(number) in moved:
                    source.ReferencedFrameNumber = moved[int(number)]


def _masks(
    source: Dataset, placed: list[lesions.Placed], fractional: bool, only: list[int]
) -> tuple[list[int], np.ndarray]:
    """The source frames (0-based) the findings cover and, for those only, (frames, rows,
    columns, segments): each finding's disc (a ball across DBT slices); fractional masks are
    probabilities (0–1), binary ones 0/1 (uint8). Only covered frames are drawn: a DBT object
    has dozens of clinical-size slices, and a mask of them all would take gigabytes. ``only``:
    the frames asked (content.source_frames) instead of those around the findings."""
    rows, columns = int(source.Rows), int(source.Columns)
    frames = int(source.get("NumberOfFrames", 1) or 1)
    middle = lesions.middle_frame(source)
    scales: dict[int, dict[int, float]] = {}  # frame → segment → disc scale
    for s, lesion in enumerate(placed):
        for frame in range(frames):
            dz = 0.0 if frames == 1 else (frame - middle) / max(lesion.slices, 0.5)
            if abs(dz) < 1:
                scales.setdefault(frame, {})[s] = float(np.sqrt(1 - dz * dz))
    if only:  # content.source_frames: each finding's full disc on each frame asked
        scales = {frame: dict.fromkeys(range(len(placed)), 1.0) for frame in only}
    covered = sorted(scales) or [middle]
    dtype = np.float32 if fractional else np.uint8
    out = np.zeros((len(covered), rows, columns, len(placed)), dtype=dtype)
    for n, frame in enumerate(covered):
        for s, scale in scales.get(frame, {}).items():
            lesion = placed[s]
            disc = lesions.disc((rows, columns), lesion, scale, soft=fractional)
            out[n, :, :, s] = disc * lesion.finding.probability if fractional else disc > 0
    return covered, out


def _plane_positions(source: Dataset, covered: list[int]) -> list[Any] | None:
    """The covered frames' plane positions of a multi-frame source (highdicom then matches each
    mask frame to its source frame); None for a single frame (the mask is the image)."""
    from highdicom import PlanePositionSequence

    if int(source.get("NumberOfFrames", 1) or 1) == 1 or "FrameOfReferenceUID" not in source:
        return None
    per_frame = source.PerFrameFunctionalGroupsSequence
    return [
        PlanePositionSequence.from_sequence(per_frame[f].PlanePositionSequence) for f in covered
    ]


def _segment(lesion: lesions.Placed) -> Any:
    from highdicom import AlgorithmIdentificationSequence
    from highdicom.seg import SegmentAlgorithmTypeValues, SegmentDescription
    from highdicom.sr import CodedConcept

    kind = lesion.finding.kind
    label = f"{kind.replace('_', ' ').capitalize()} {lesion.number}"
    return SegmentDescription(
        segment_number=lesion.number,
        segment_label=label,
        segmented_property_category=CodedConcept(*CATEGORY),
        segmented_property_type=CodedConcept(*TYPES[kind]),
        algorithm_type=SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=AlgorithmIdentificationSequence(
            name=MODEL, family=CodedConcept(*AI), version=m.SOFTWARE
        ),
        anatomic_regions=[CodedConcept(*BREAST)],
    )


def _deterministic(ds: Dataset, plan: InstancePlan, when: str) -> None:
    """highdicom stamps a random Dimension Organization UID and the clock's time on the
    contributing equipment: the plan's instead, so the same plan gives the same bytes."""
    dimension = plan.uid("dimension-organization")
    for item in ds.get("DimensionOrganizationSequence", []):
        item.DimensionOrganizationUID = dimension
    for item in ds.get("DimensionIndexSequence", []):
        item.DimensionOrganizationUID = dimension
    for item in ds.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:
            item.ContributionDateTime = when


def check(plan: InstancePlan) -> list[tuple[str, str, str | None]]:
    """Findings on one image; a binary SEG (1 bit per pixel) in JPEG 2000 only of the
    compressed syntaxes (highdicom encodes no other for BINARY)."""
    found = lesions.problems(plan, foreign=True)
    found.extend(_frame_problems(plan))
    ts = plan.transfer_syntax
    binary = plan.content.segmentation != "fractional"
    if binary and ts.compressed and ts.name not in BINARY_SYNTAXES:
        found.append(
            (
                f"{plan.path}.transfer_syntax",
                f"a binary SEG is written uncompressed or in {', '.join(BINARY_SYNTAXES)}, "
                f"not in {ts.name} (content.segmentation: fractional is, too)",
                BINARY_SYNTAXES[0],
            )
        )
    return found


def _frame_problems(plan: InstancePlan) -> list[tuple[str, str, str | None]]:
    """content.source_frames within the segmented image's frames (past them only permissive)."""
    asked = plan.content.source_frames or []
    index = lesions.marked_index(plan)
    if not asked or index >= len(plan.references):
        return []
    image = plan.references[index].instance
    frames = (image.pixels.frames or 1) if image is not None else 1
    found: list[tuple[str, str, str | None]] = []
    if len(set(asked)) != len(asked):
        found.append((f"{plan.path}.content.source_frames", "names a frame twice", None))
    past = [k for k, f in enumerate(asked) if f > frames]
    if past and not plan.permissive:
        k = past[0]
        found.append(
            (
                f"{plan.path}.content.source_frames[{k}]",
                f"frame {asked[k]} is past the segmented image's {frames} frame(s) "
                "(a dangling reference: only with permissive: true)",
                f"{frames}",
            )
        )
    if past and len({(f - 1) % frames for f in asked}) != len(asked):
        found.append(
            (
                f"{plan.path}.content.source_frames",
                f"a frame past the image's {frames} is built on that frame modulo {frames}, "
                "which is asked too",
                None,
            )
        )
    return found


TEMPLATES = (
    IODTemplate(
        name="seg",
        title="Segmentation",
        sop_class_uid=SEGMENTATION,
        modality="SEG",
        build=build,
        summary="a binary or fractional mask of the findings on one image (highdicom)",
        pixels=None,
        aliases=("segmentation",),
        required=REQUIRED,
        compressed_syntaxes=("rle", "jpeg-ls-lossless", "jpeg2000-lossless"),
        derived=True,
        content_fields=frozenset({"findings", "segmentation", "source_frames"}),
        check_derived=check,
    ),
)
