"""What every SR IOD here shares: the document modules around a content tree (PS3.3 C.17), the
evidence lists, and where a finding lies on its referenced image.

Not an IOD module (the registry does not list it): ``mammo_cad_sr``, ``tid1500_sr`` and
``vendor_ai_sr`` build their content trees (with highdicom's content items, imported lazily)
and hand the root container to ``document``. Everything here is derived from the plan, so the
same plan gives the same bytes (no highdicom document class: it stamps the wall clock).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicomfab.builder import modules as m
from dicomfab.builder import pixels
from dicomfab.builder.dataset import build_dataset
from dicomfab.builder.references import finding_centre
from dicomfab.builder.validation import writing_mode

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan, ReferencedInstance
    from dicomfab.studyspec.models import Finding

REQUIRED = m.REQUIRED_COMMON | m.keywords(
    "Manufacturer InstanceNumber CompletionFlag VerificationFlag ContentDate ContentTime "
    "ReferencedPerformedProcedureStepSequence PerformedProcedureCodeSequence ValueType "
    "ConceptNameCodeSequence ContinuityOfContent"
)
CONTENT_SEQUENCE = 0x0040A730
DEFAULT_SPACING_MM = 0.1  # when the referenced image's header names none (or it is foreign)
SPACINGS = ("PixelSpacing", "ImagerPixelSpacing", "NominalScannedPixelSpacing")


def document(plan: InstancePlan, root: Dataset, sop_class_uid: str, model: str) -> Dataset:
    """The SR document: Patient, General Study, SR Document Series, General Equipment (the CAD
    or AI system ``model``), SR Document General, SR Document Content (``root``, the root
    CONTAINER) and SOP Common."""
    ds = Dataset()
    m.sop_common(ds, plan, sop_class_uid)
    m.patient(ds, plan)
    m.general_study(ds, plan)
    _sr_document_series(ds, plan)
    m.general_equipment(ds, plan)
    if plan.vendor is None:
        ds.ManufacturerModelName = model
    _sr_document_general(ds, plan)
    for element in root:  # SR Document Content (C.17.3): the root item's attributes
        ds[element.tag] = element
    return ds


# SR Document Series (C.17.1)
def _sr_document_series(ds: Dataset, plan: InstancePlan) -> None:
    ds.Modality = "SR"
    ds.SeriesInstanceUID = plan.series.uid
    ds.SeriesNumber = plan.series.number
    ds.SeriesDescription = plan.series.description
    ds.SeriesDate = ds.StudyDate
    ds.SeriesTime = plan.study.time
    ds.ReferencedPerformedProcedureStepSequence = Sequence()


# SR Document General (C.17.2)
def _sr_document_general(ds: Dataset, plan: InstancePlan) -> None:
    ds.InstanceNumber = plan.number
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"  # a CAD or AI system, no accountable observer
    ds.PreliminaryFlag = "FINAL"
    ds.ContentDate = ds.StudyDate
    ds.ContentTime = m.content_time(plan)
    ds.PerformedProcedureCodeSequence = Sequence()
    current, other = evidence(plan)
    if current:
        ds.CurrentRequestedProcedureEvidenceSequence = current
    if other:
        ds.PertinentOtherEvidenceSequence = other


def contain(item: Dataset, children: list[Dataset]) -> None:
    """Set ``item``'s ContentSequence to ``children`` as a plain Sequence (highdicom's content
    items turn an assigned sequence into a ContentSequence, which refuses items without a
    concept name, such as TID 4020's image library entries)."""
    item[CONTENT_SEQUENCE] = DataElement(CONTENT_SEQUENCE, "SQ", Sequence(children))


def evidence(plan: InstancePlan) -> tuple[Sequence, Sequence]:
    """Hierarchical SOP Instance Reference items (C.17.2.1) for every reference: those of the
    document's own study (Current Requested Procedure Evidence), then the others (Pertinent
    Other Evidence), grouped by study and series in reference order."""
    current, other = Sequence(), Sequence()
    for item in hierarchical_references(plan.references):
        (current if item.StudyInstanceUID == plan.study.uid else other).append(item)
    return current, other


def hierarchical_references(references: list[ReferencedInstance]) -> list[Dataset]:
    """The Hierarchical SOP Instance Reference Macro (C.17.2.1) of ``references``: one item per
    study, its series under it, each series' instances under that, in the order named."""
    groups: dict[str, dict[str, list[ReferencedInstance]]] = {}
    for ref in references:
        groups.setdefault(ref.study_instance_uid, {}).setdefault(
            ref.series_instance_uid, []
        ).append(ref)
    studies: list[Dataset] = []
    for study_uid, series in groups.items():
        item = Dataset()
        item.StudyInstanceUID = study_uid
        item.ReferencedSeriesSequence = Sequence()
        for series_uid, refs in series.items():
            series_item = Dataset()
            series_item.SeriesInstanceUID = series_uid
            series_item.ReferencedSOPSequence = Sequence(
                [_sop_item(r.sop_class_uid, r.sop_instance_uid) for r in refs]
            )
            item.ReferencedSeriesSequence.append(series_item)
        studies.append(item)
    return studies


def _sop_item(sop_class_uid: str, sop_instance_uid: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = sop_class_uid
    item.ReferencedSOPInstanceUID = sop_instance_uid
    return item


@dataclass(frozen=True)
class Placed:
    """A finding placed on its referenced image: centre (column, row) in pixels, the outline's
    radius in pixels, and the frame it lies on (1-based; None for a single-frame image)."""

    finding: Finding
    reference: ReferencedInstance
    column: float
    row: float
    radius: float
    frame: int | None


def place(plan: InstancePlan, k: int, finding: Finding) -> Placed:
    """Where the ``k``-th finding of ``plan`` lies (its ``x``/``y`` when given, else a point in
    the breast derived from the plan's UIDs). The outline's radius is ``size_mm`` at the image's
    pixel spacing, at most a tenth of the image so that it stays near the breast."""
    reference = plan.references[finding.image]
    seed = zlib.crc32(f"{plan.sop_instance_uid}/finding/{k}".encode())
    row, column = finding_centre(reference, finding, seed)
    rows, columns, frames = _shape(reference)
    radius = finding.size_mm / 2 / _spacing_mm(reference)
    radius = max(1.0, min(radius, min(rows, columns) / 10))
    frame = (frames // 2 + 1) if frames > 1 else None
    return Placed(finding, reference, column, row, radius, frame)


def circle(placed: Placed) -> np.ndarray:
    """A CIRCLE's graphic data: the centre, then a point on the circle (column, row)."""
    return np.array(
        [[placed.column, placed.row], [placed.column + placed.radius, placed.row]],
        dtype=np.float32,
    )


def polygon(placed: Placed, corners: int = 8) -> np.ndarray:
    """A closed POLYLINE around the centre (first point repeated last)."""
    angles = np.linspace(0, 2 * np.pi, corners, endpoint=False)
    points = [
        [placed.column + placed.radius * np.cos(a), placed.row + placed.radius * np.sin(a)]
        for a in angles
    ]
    return np.array([*points, points[0]], dtype=np.float32)


def _shape(reference: ReferencedInstance) -> tuple[int, int, int]:
    if reference.instance is not None:
        image = pixels.render(reference.instance)
        if image is not None:
            return image.rows, image.columns, image.frames
    return 512, 512, 1


def _spacing_mm(reference: ReferencedInstance) -> float:
    """The referenced image's pixel spacing (mm, between rows) as its header states it (built
    in the image's own writing mode: a broken image is built as it is written); the default
    when the header has none, or none that reads as a positive number."""
    image = reference.instance
    if image is None:
        return DEFAULT_SPACING_MM
    with writing_mode(permissive=image.permissive):
        header = build_dataset(image, pixels.render(image))
    shared = header.get("SharedFunctionalGroupsSequence")
    measures = shared[0].get("PixelMeasuresSequence") if shared else None
    candidates = [header.get(k) for k in SPACINGS]
    if measures:
        candidates.append(measures[0].get("PixelSpacing"))
    for value in candidates:
        try:
            spacing = float(value[0]) if value else 0.0
        except (TypeError, ValueError, IndexError):
            continue
        if spacing > 0:
            return spacing
    return DEFAULT_SPACING_MM
