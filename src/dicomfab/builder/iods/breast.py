"""Breast anatomy, views and positioning shared by the IODs that show a breast (MG and DBT, DX or
CR priors; MR takes the anatomy code).

The codes are those the Digital Mammography IOD uses: Anatomic Region CID 4013 (Breast, SCT
76752008) and View CID 4014 (SCT codes of ``dicomfab.studyspec.views``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicomfab.builder import modules as m
from dicomfab.builder.elements import assign
from dicomfab.studyspec.views import View

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan

BREAST = ("76752008", "SCT", "Breast")
BPXR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.13.1.4"  # Breast Projection X-Ray Image
BPXR_PROCESSING = "1.2.840.10008.5.1.4.1.1.13.1.5"
CRANIO_CAUDAL = ("399162004", "SCT", "cranio-caudal")
PRIOR_PIXEL_SPACING_MM = 0.1  # a DX or CR breast prior: 100 µm, as older detectors and plates


def view_code_sequence(view: View | None) -> Sequence:
    """ViewCodeSequence for ``view`` (cranio-caudal when None), with its Type 2
    ViewModifierCodeSequence present and empty."""
    item = m.code_item(view.code, "SCT", view.meaning) if view else m.code_item(*CRANIO_CAUDAL)
    assign(item, "ViewModifierCodeSequence", Sequence())
    return Sequence([item])


def breast_view(ds: Dataset, view: View | None) -> None:
    """What the Mammography Image Module (C.8.11.7) and the Breast View Module (C.8.21.6) share:
    the view's codes, no implant, the whole breast in the image."""
    assign(ds, "ViewCodeSequence", view_code_sequence(view))
    assign(ds, "BreastImplantPresent", "NO")
    assign(ds, "PartialView", "NO")


def breast_positioning(ds: Dataset, view: View | None) -> None:
    """DX Positioning (C.8.11.5) of a breast image: the ACR MQCM ViewPosition (dciodvfy knows
    only DX's chest terms and warns about CC, MLO, …), a mammographic positioner, tilted 45° for
    an oblique view."""
    if view is not None:
        assign(ds, "ViewPosition", view.position)
    assign(ds, "PositionerType", "MAMMOGRAPHIC")
    assign(ds, "PositionerPrimaryAngle", 45 if view is not None and view.oblique else 0)


def breast_anatomy(ds: Dataset, view: View | None) -> None:
    """ImageLaterality, AnatomicRegionSequence, BodyPartExamined and PatientOrientation of a
    breast image (both breasts, ``B``, when there is no view)."""
    assign(ds, "ImageLaterality", view.laterality if view else "B")
    assign(ds, "AnatomicRegionSequence", Sequence([m.code_item(*BREAST)]))
    assign(ds, "BodyPartExamined", "BREAST")
    assign(ds, "PatientOrientation", view.patient_orientation if view else ["A", "F"])


def prior_exposure(ds: Dataset) -> None:
    """The detector spacing and exposure of a breast prior taken as DX or CR (a mammography
    technique: low kV, short source-to-detector distance, long exposure)."""
    assign(ds, "ImagerPixelSpacing", [PRIOR_PIXEL_SPACING_MM, PRIOR_PIXEL_SPACING_MM])
    assign(ds, "KVP", 28)
    assign(ds, "DistanceSourceToDetector", 660)
    assign(ds, "ExposureTime", 1000)
    assign(ds, "Exposure", 100)


def projections_of(plan: InstancePlan) -> list[InstancePlan]:
    """The Breast Projection X-Ray images (For Presentation first, then For Processing) of the
    same view in the same study as ``plan`` (a tomosynthesis volume): the projections it was
    reconstructed from, when the study holds them."""
    if plan.view is None:
        return []
    found = [
        other
        for series in plan.study.series
        for other in series.instances
        if other.iod.sop_class_uid in (BPXR_PRESENTATION, BPXR_PROCESSING)
        and other.view == plan.view
        and not other.skip_writing
    ]
    return sorted(found, key=lambda other: other.iod.sop_class_uid != BPXR_PRESENTATION)
