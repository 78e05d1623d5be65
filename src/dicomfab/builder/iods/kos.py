"""Key Object Selection Document IOD (PS3.3 A.35.4): key images, or an IHE IOCM rejection note.

Module table (M = mandatory, C = conditional, U = user option) and where each is built:
  Patient M, General Study M, Patient Study U, General Equipment M          → builder.modules
  Key Object Document Series M (Modality KO)                                → highdicom
  Key Object Document M (CurrentRequestedProcedureEvidenceSequence)         → sr_document
  SR Document Content M (TID 2010, one IMAGE/COMPOSITE item per reference)  → highdicom
  SOP Common M                                                              → builder.modules
Content fields (the spec's ``content``):
  title: the document title, CID 7010 (PS3.16): key_images (113000, DCM, "Of Interest"; the
    default), or an IHE IOCM rejection note: rejected_for_quality (113001, "Rejected for Quality
    Reasons"), incorrect_worklist_entry (113038, "Incorrect Modality Worklist Entry"),
    retention_expired (113039, "Data Retention Policy Expired").
The references (default ``images``: every image of the study) are the selected objects, listed
again by study and series in CurrentRequestedProcedureEvidenceSequence (a foreign reference too:
a note may name an instance the dataset does not hold). Built with highdicom, imported lazily.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicomfab.builder import modules as m
from dicomfab.builder.iods.base import IODTemplate
from dicomfab.builder.iods.gsps import fix_contribution_times
from dicomfab.builder.iods.sr_document import hierarchical_references
from dicomfab.builder.pixels.image import PixelImage
from dicomfab.studyspec.models import Content

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan, ReferencedInstance

KEY_OBJECT_SELECTION = "1.2.840.10008.5.1.4.1.1.88.59"
#: content.title → the CID 7010 document title (PS3.16; pydicom's code dictionary agrees)
TITLES: dict[str, tuple[str, str, str]] = {
    "key_images": ("113000", "DCM", "Of Interest"),
    "rejected_for_quality": ("113001", "DCM", "Rejected for Quality Reasons"),
    "incorrect_worklist_entry": ("113038", "DCM", "Incorrect Modality Worklist Entry"),
    "retention_expired": ("113039", "DCM", "Data Retention Policy Expired"),
}
DEFAULT_TITLE = "key_images"
REQUIRED = m.REQUIRED_COMMON | m.keywords(
    "Manufacturer InstanceNumber ContentDate ContentTime ValueType ConceptNameCodeSequence "
    "ContinuityOfContent ContentTemplateSequence ContentSequence "
    "CurrentRequestedProcedureEvidenceSequence ReferencedPerformedProcedureStepSequence"
)


def check_content(content: Content) -> list[tuple[str, str, str | None]]:
    """Problems with ``content`` as a KOS reads it: (field, what is wrong, nearest choice)."""
    title = content.title
    if title is None or title in TITLES:
        return []
    nearest = difflib.get_close_matches(title, list(TITLES), n=1, cutoff=0.0)
    return [
        (
            "title",
            f"{title!r} is not a Key Object Selection title",
            nearest[0] if nearest else ", ".join(TITLES),
        )
    ]


def build(plan: InstancePlan, image: PixelImage | None) -> Dataset:
    from highdicom.ko import KeyObjectSelection, KeyObjectSelectionDocument
    from highdicom.sr import CodedConcept

    title = TITLES[plan.content.title or DEFAULT_TITLE]
    evidence = [_evidence_dataset(plan, ref) for ref in plan.references]
    content = KeyObjectSelection(document_title=CodedConcept(*title), referenced_objects=evidence)
    date, time = _content_date(plan), m.content_time(plan)
    document = KeyObjectSelectionDocument(
        evidence=evidence,
        content=content,
        series_instance_uid=plan.series.uid,
        series_number=plan.series.number,
        sop_instance_uid=plan.sop_instance_uid,
        instance_number=plan.number,
        manufacturer=m.MANUFACTURER,
        institution_name="Synthetic Breast Centre",
        content_date=date,
        content_time=time,
        series_description=plan.series.description or None,
    )
    ds = Dataset()
    ds.update(document)  # a plain Dataset: no highdicom class travels into the writer
    m.sop_common(ds, plan, KEY_OBJECT_SELECTION)  # fixed creation date/time, not the clock
    m.patient(ds, plan)
    m.general_study(ds, plan)
    m.general_equipment(ds, plan)
    ds.SeriesDate, ds.SeriesTime = date, plan.study.time
    ds.ContentDate, ds.ContentTime = date, time
    fix_contribution_times(ds, f"{date}{time}")
    evidence = hierarchical_references(plan.references)
    ds.CurrentRequestedProcedureEvidenceSequence = Sequence(evidence)
    return ds


def _evidence_dataset(plan: InstancePlan, ref: ReferencedInstance) -> Dataset:
    """What highdicom needs of a referenced instance (its UIDs; Rows/Columns make it an IMAGE
    item) and of the patient and study the document belongs to (its own, not the reference's).
    Every one is given the document's study: highdicom lists only that study's instances as
    evidence (and fails on others); hierarchical_references lists each under its own study
    instead."""
    ds = Dataset()
    m.patient(ds, plan)
    m.general_study(ds, plan)
    ds.SeriesInstanceUID = ref.series_instance_uid
    ds.SOPClassUID = ref.sop_class_uid
    ds.SOPInstanceUID = ref.sop_instance_uid
    target = ref.instance
    if target is None:  # a foreign instance: an image, as far as the document knows
        ds.Rows = ds.Columns = 1
    elif target.iod.pixels is not None:
        ds.Rows, ds.Columns = target.pixels.rows or 1, target.pixels.columns or 1
    return ds


def _content_date(plan: InstancePlan) -> str:
    day = plan.study.date
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


TEMPLATES = (
    IODTemplate(
        name="kos",
        title="Key Object Selection Document",
        sop_class_uid=KEY_OBJECT_SELECTION,
        modality="KO",
        build=build,
        summary="key images (Of Interest) or an IHE IOCM rejection note naming its references",
        pixels=None,
        aliases=("ko", "key-object-selection", "rejection-note"),
        required=REQUIRED,
        native_only=True,
        derived=True,
        content_fields=frozenset({"title"}),
        check_content=check_content,
    ),
)
