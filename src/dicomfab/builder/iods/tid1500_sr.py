"""Comprehensive 3D SR (A.35.13) and Enhanced SR (A.35.2) with a TID 1500 Measurement Report.

Module table (M = mandatory, C = conditional, U = user option) and where each is built:
  Patient M, General Study M, General Equipment M, SOP Common M             → builder.modules
  SR Document Series M, SR Document General M (evidence of every reference) → sr_document
  SR Document Content M: TID 1500 Measurement Report (highdicom)            → _content
  Clinical Trial *, Patient Study U, Timezone U                             → not built
The report (highdicom's ``MeasurementReport``): the AI device as observer, procedure reported
Mammography, and one TID 1410 Planar ROI Measurements group per finding: its tracking identifier
and UID, finding type (mass or calcification cluster), Image Region (TID 1411: a CIRCLE around a
mass, a closed POLYLINE around a cluster, SELECTED FROM its image and frame), a Diameter (mm, the
finding's ``size_mm``) and a Probability (0-1). Coordinates are (column, row) in the referenced
image's pixels, inside its breast unless the spec's ``x``/``y`` say otherwise.
Without findings (``findings: []``) one TID 1501 group says Finding: None.
``tid1500-enhanced-sr`` is the same report as an Enhanced SR: its content is SCOORD only (no
SCOORD3D, no by-reference relationships), which Enhanced SR allows, so only the SOP Class differs.
``content.title`` picks the document title (CID 7021 meaning; any other text becomes a private
code 99DICOMFAB); ``content.findings`` defaults to one mass on the first reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydicom.dataset import Dataset
from pydicom.sr.coding import Code

from dicomfab.builder import modules as m
from dicomfab.builder.iods import sr_document as sr
from dicomfab.builder.iods.base import IODTemplate
from dicomfab.builder.iods.mammo_cad_sr import findings
from dicomfab.builder.pixels.image import PixelImage

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan

COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"
ENHANCED_SR = "1.2.840.10008.5.1.4.1.1.88.22"
ALGORITHM = "dicomfab synthetic AI"
TITLES = {  # CID 7021 Measurement Report Document Titles
    "imaging measurement report": Code("126000", "DCM", "Imaging Measurement Report"),
    "oncology measurement report": Code("126001", "DCM", "Oncology Measurement Report"),
}
PRIVATE_SCHEME = "99DICOMFAB"
NONE = Code("260413007", "SCT", "None")


def title_code(title: str | None) -> Code:
    """The document title: a CID 7021 code by its meaning, else a private code with the text."""
    if title is None:
        return TITLES["imaging measurement report"]
    return TITLES.get(title.strip().lower()) or Code("TITLE", PRIVATE_SCHEME, title.strip()[:64])


def build(plan: InstancePlan, image: PixelImage | None) -> Dataset:
    return sr.document(plan, _content(plan), COMPREHENSIVE_3D_SR, ALGORITHM)


def build_enhanced(plan: InstancePlan, image: PixelImage | None) -> Dataset:
    return sr.document(plan, _content(plan), ENHANCED_SR, ALGORITHM)


def _content(plan: InstancePlan) -> Dataset:
    from highdicom.sr import (
        DeviceObserverIdentifyingAttributes,
        MeasurementReport,
        ObservationContext,
        ObserverContext,
    )
    from pydicom.sr.codedict import codes

    device = DeviceObserverIdentifyingAttributes(
        uid=plan.study_level_uid(f"device {ALGORITHM}"),
        name=ALGORITHM,
        manufacturer_name=m.MANUFACTURER,
        model_name=ALGORITHM,
    )
    context = ObservationContext(
        observer_device_context=ObserverContext(
            observer_type=codes.cid270.Device, observer_identifying_attributes=device
        )
    )
    groups = [_group(plan, k, sr.place(plan, k, f)) for k, f in enumerate(findings(plan))]
    if not groups:  # TID 1500 (and highdicom) want a group: one saying there is no finding
        groups = [_no_finding(plan)]
    report = MeasurementReport(
        observation_context=context,
        procedure_reported=codes.SCT.Mammography,
        imaging_measurements=groups,
        title=title_code(plan.content.title),
    )
    root: Dataset = report[0]
    return root


def _group(plan: InstancePlan, k: int, placed: sr.Placed) -> Any:
    """TID 1410 Planar ROI Measurements and Qualitative Evaluations for one finding."""
    from highdicom.sr import (
        ImageRegion,
        Measurement,
        PlanarROIMeasurementsAndQualitativeEvaluations,
        SourceImageForRegion,
        TrackingIdentifier,
    )
    from pydicom.sr.codedict import codes

    mass = placed.finding.kind == "mass"
    ref = placed.reference
    region = ImageRegion(
        graphic_type="CIRCLE" if mass else "POLYLINE",
        graphic_data=sr.circle(placed) if mass else sr.polygon(placed),
        source_image=SourceImageForRegion(
            referenced_sop_class_uid=ref.sop_class_uid,
            referenced_sop_instance_uid=ref.sop_instance_uid,
            referenced_frame_numbers=[placed.frame] if placed.frame is not None else None,
        ),
    )
    return PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(
            uid=plan.uid(f"finding-{k}"), identifier=f"Finding {k + 1}"
        ),
        referenced_region=region,
        finding_type=codes.SCT.Mass if mass else codes.SCT.CalcificationCluster,
        measurements=[
            Measurement(
                name=codes.SCT.Diameter, value=placed.finding.size_mm, unit=codes.UCUM.Millimeter
            ),
            Measurement(
                name=codes.DCM.Probability,
                value=placed.finding.probability,
                unit=codes.UCUM.NoUnits,
            ),
        ],
    )


def _no_finding(plan: InstancePlan) -> Any:
    """A TID 1501 group for the whole study: qualitative evaluation Finding = None."""
    from highdicom.sr import (
        MeasurementsAndQualitativeEvaluations,
        QualitativeEvaluation,
        TrackingIdentifier,
    )
    from pydicom.sr.codedict import codes

    return MeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=plan.uid("no-finding"), identifier="Study"),
        qualitative_evaluations=[QualitativeEvaluation(name=codes.SCT.Finding, value=NONE)],
    )


TEMPLATES = (
    IODTemplate(
        name="tid1500-sr",
        title="Comprehensive 3D SR (TID 1500)",
        sop_class_uid=COMPREHENSIVE_3D_SR,
        modality="SR",
        build=build,
        summary="TID 1500 Measurement Report: per finding an image region, diameter and "
        "probability on the referenced images (highdicom)",
        pixels=None,
        aliases=("comprehensive-3d-sr", "measurement-report", "ai-sr"),
        required=sr.REQUIRED,
        native_only=True,
        derived=True,
        content_fields=frozenset({"findings", "title"}),
    ),
    IODTemplate(
        name="tid1500-enhanced-sr",
        title="Enhanced SR (TID 1500)",
        sop_class_uid=ENHANCED_SR,
        modality="SR",
        build=build_enhanced,
        summary="the TID 1500 Measurement Report of tid1500-sr as an Enhanced SR "
        "(SCOORD, no SCOORD3D; highdicom)",
        pixels=None,
        aliases=("enhanced-sr",),
        required=sr.REQUIRED,
        native_only=True,
        derived=True,
        content_fields=frozenset({"findings", "title"}),
    ),
)
