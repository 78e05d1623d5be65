"""Where a derived object's findings lie on the one image it marks (a SEG's mask, an AI capture's
outlines): the image, each finding's centre and radius in pixels, and a disc drawn from them.

A SEG and an AI capture of the same references place a finding at the same point: its centre
comes from ``references.finding_centre`` with a seed derived from the referenced instance and the
finding's index, not from the object that marks it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from pydicom.dataset import Dataset

from dicomfab.builder import modules as m
from dicomfab.builder.plan_model import InstancePlan, ReferencedInstance
from dicomfab.studyspec.models import Finding

DEFAULT_SPACING_MM = 0.1  # when the image carries none (a foreign stand-in)
MAX_RADIUS = 1 / 6  # of the image's shorter side: a lesion stays a lesion on a small image
SOFT_EDGE = 0.25  # fractional masks fall from 1 to 0 between (1 - this) and (1 + this) × radius


@dataclass(frozen=True)
class Placed:
    """One finding on the marked image: centre (row, column; pixel (0, 0)'s centre at 0.5, 0.5),
    radius in pixels, and its half-height in slices for a multi-frame image (0 for one frame)."""

    finding: Finding
    number: int  # 1-based: the SEG's segment number
    row: float
    column: float
    radius: float
    slices: float


def findings(plan: InstancePlan) -> list[Finding]:
    """The findings a SEG or AI capture marks: the spec's, or one mass inside the breast."""
    return list(plan.content.findings or []) or [Finding()]


def marked_index(plan: InstancePlan) -> int:
    """Which of the object's references it marks: the one its first finding names."""
    return findings(plan)[0].image


def _a(title: str) -> str:
    return f"an {title}" if title[:1] in "AEIOU" else f"a {title}"


def problems(plan: InstancePlan, *, foreign: bool) -> list[tuple[str, str, str | None]]:
    """What stops ``plan`` marking one image: findings on another reference, or (unless
    ``foreign``) a reference that is not in the dataset. (spec path, problem, nearest choice)."""
    found: list[tuple[str, str, str | None]] = []
    listed = findings(plan)
    index = listed[0].image
    for k, finding in enumerate(listed):
        path = f"{plan.path}.content.findings[{k}].image"
        if finding.image >= len(plan.references):
            continue  # dicomfab.builder.references says so, for every derived IOD
        if finding.image != index:
            found.append(
                (
                    path,
                    f"{_a(plan.iod.title)} marks one image; findings[0] names reference "
                    f"[{index}], this one [{finding.image}]",
                    f"image: {index}",
                )
            )
    if index < len(plan.references):
        ref = plan.references[index]
        image = ref.instance
        if image is not None and (
            image.iod.derived or image.iod.pixels is None or image.pixels.photometric == "RGB"
        ):
            found.append(
                (
                    ref.path or f"{plan.path}.references",
                    f"{_a(plan.iod.title)} marks a greyscale image, not {_a(image.iod.title)} "
                    f"({image.path})",
                    "a view (RCC) or series[E].instances[I] of images",
                )
            )
        elif image is None and not foreign:
            found.append(
                (
                    ref.path or f"{plan.path}.references",
                    f"{_a(plan.iod.title)} is drawn from an image of the dataset, "
                    "not a foreign one",
                    "a view (RCC) or series[E].instances[I]",
                )
            )
    return found


def seed(plan: InstancePlan, ref: ReferencedInstance, k: int) -> int:
    """The seed that places finding ``k`` on ``ref`` (shared by every object marking it)."""
    return plan.uids.number("finding", ref.sop_instance_uid, k)


def spacing(source: Dataset) -> tuple[float, float, float]:
    """(row, column, slice) spacing in mm of an image header: PixelSpacing, ImagerPixelSpacing
    or the shared Pixel Measures; the slice spacing of a multi-frame image (else 1)."""
    measures = Dataset()
    shared = source.get("SharedFunctionalGroupsSequence")
    if shared and "PixelMeasuresSequence" in shared[0]:
        measures = shared[0].PixelMeasuresSequence[0]
    for holder, keyword in (
        (source, "PixelSpacing"),
        (source, "ImagerPixelSpacing"),
        (measures, "PixelSpacing"),
    ):
        value = holder.get(keyword)
        if value and len(value) == 2 and float(value[0]) > 0 and float(value[1]) > 0:
            row, column = float(value[0]), float(value[1])
            break
    else:
        row = column = DEFAULT_SPACING_MM
    between = measures.get("SpacingBetweenSlices") or measures.get("SliceThickness") or 1.0
    return row, column, float(between) if float(between) > 0 else 1.0


def place(plan: InstancePlan, ref: ReferencedInstance, source: Dataset) -> list[Placed]:
    """Every finding of ``plan`` on ``ref`` (whose header is ``source``), numbered from 1."""
    from dicomfab.builder.references import finding_centre

    rows, columns = int(source.Rows), int(source.Columns)
    row_mm, column_mm, slice_mm = spacing(source)
    frames = int(source.get("NumberOfFrames", 1) or 1)
    placed = []
    for k, finding in enumerate(findings(plan)):
        row, column = finding_centre(ref, finding, seed(plan, ref, k))
        half_mm = finding.size_mm / 2
        radius = min(half_mm / ((row_mm + column_mm) / 2), min(rows, columns) * MAX_RADIUS)
        slices = half_mm / slice_mm if frames > 1 else 0.0
        placed.append(Placed(finding, k + 1, row, column, max(radius, 1.0), slices))
    return placed


def disc(
    shape: tuple[int, int], lesion: Placed, scale: float = 1.0, soft: bool = False
) -> np.ndarray:
    """A float32 mask of ``shape``: 1 inside a disc of ``scale`` × the lesion's radius, 0 outside;
    ``soft`` falls linearly to 0 across the edge (a probability map's fuzzy rim)."""
    rows, columns = shape
    yy, xx = np.ogrid[:rows, :columns]
    distance = np.hypot(yy + 0.5 - lesion.row, xx + 0.5 - lesion.column)
    radius = lesion.radius * scale
    if not soft:
        return (distance <= radius).astype(np.float32)
    inner, outer = radius * (1 - SOFT_EDGE), radius * (1 + SOFT_EDGE)
    return np.clip((outer - distance) / (outer - inner), 0.0, 1.0).astype(np.float32)


def middle_frame(source: Dataset) -> int:
    """The slice a finding lies on (0-based): the middle one, as ``referenced_image`` shows."""
    return int(source.get("NumberOfFrames", 1) or 1) // 2


def shown(plan: InstancePlan, ref: ReferencedInstance) -> ReferencedInstance:
    """The reference whose pixels and geometry place the findings: ``ref``; for a foreign one
    (not in the dataset) the first image of the object's study, as if it were that image with
    other UIDs (so that only the references differ from an object marking that image), or
    ``ref`` itself when the study has no image."""
    if ref.instance is not None:
        return ref
    for series in plan.study.series:
        for image in series.instances:
            if not image.iod.derived and image.iod.pixels is not None:
                return replace(ref, instance=image, sop_instance_uid=image.sop_instance_uid)
    return ref


def source_dataset(plan: InstancePlan, ref: ReferencedInstance) -> Dataset:
    """The header of the marked image, as its file has it (built from its plan). A foreign
    reference's is the header of the image ``shown`` picks with the foreign UIDs, or, in a
    study without images, a 512 × 512 stand-in (``references.finding_centre``'s size)."""
    from dicomfab.builder import pixels
    from dicomfab.builder.dataset import build_dataset
    from dicomfab.builder.validation import writing_mode

    image = shown(plan, ref).instance
    if image is not None:
        with writing_mode(permissive=image.permissive):
            ds = build_dataset(image, pixels.render(image))
        if ref.instance is None:
            ds.StudyInstanceUID = ref.study_instance_uid
            ds.SeriesInstanceUID = ref.series_instance_uid
            ds.SOPClassUID = ref.sop_class_uid
            ds.SOPInstanceUID = ref.sop_instance_uid
        return ds
    ds = Dataset()
    m.patient(ds, plan)
    m.general_study(ds, plan)
    ds.StudyInstanceUID = ref.study_instance_uid
    ds.SeriesInstanceUID = ref.series_instance_uid
    ds.SOPClassUID = ref.sop_class_uid
    ds.SOPInstanceUID = ref.sop_instance_uid
    ds.Modality = "MG"
    ds.PatientOrientation = ["P", "L"]
    ds.SamplesPerPixel, ds.Rows, ds.Columns = 1, 512, 512
    return ds
