"""Mammography CAD SR IOD (PS3.3 A.35.5): a CAD system's findings on the study's images (TID 4000).

Module table (M = mandatory, C = conditional, U = user option) and where each is built:
  Patient M, General Study M, General Equipment M, SOP Common M             → builder.modules
  SR Document Series M, SR Document General M (evidence of every reference) → sr_document
  SR Document Content M: TID 4000 Mammography CAD Document Root             → _content
  Clinical Trial *, Patient Study U                                         → not built
The content tree: the CAD device as observer (TID 1002), an Image Library with every referenced
image (its laterality and view), the CAD Processing and Findings Summary holding one Individual
Impression/Recommendation per finding (TID 4003) with its Single Image Finding (TID 4006: mass or
calcification cluster, Certainty of Finding in %, its Center as an SCOORD POINT and its Outline as
a CIRCLE (mass) or closed POLYLINE (cluster), each SELECTED FROM its image), and the Summaries of
Detections (succeeded) and Analyses (not attempted). Coordinates are (column, row) in the
referenced image's pixels, inside its breast unless the spec's ``x``/``y`` say otherwise.
``content.findings`` defaults to one mass on the first reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydicom.dataset import Dataset
from pydicom.sr.coding import Code

from dicomfab.builder import modules as m
from dicomfab.builder.iods import sr_document as sr
from dicomfab.builder.iods.base import IODTemplate
from dicomfab.builder.pixels.image import PixelImage
from dicomfab.studyspec.models import Finding

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan, ReferencedInstance

MAMMOGRAPHY_CAD_SR = "1.2.840.10008.5.1.4.1.1.88.50"
ALGORITHM = "dicomfab synthetic CAD"
DEFAULT_FINDINGS = [Finding()]  # one mass on the first reference
# PS3.16 codes (pydicom's dictionary writes some meanings with a zero-width space: not here)
REPORT = Code("111036", "DCM", "Mammography CAD Report")
PROCESSING_SUMMARY = Code("111017", "DCM", "CAD Processing and Findings Summary")
WITH_FINDINGS = Code("111242", "DCM", "All algorithms succeeded; with findings")
WITHOUT_FINDINGS = Code("111241", "DCM", "All algorithms succeeded; without findings")
IMPRESSION = Code("111034", "DCM", "Individual Impression/Recommendation")
PRESENTATION_REQUIRED = Code(
    "111150", "DCM", "Presentation Required: Rendering device is expected to present"
)
SUMMARY_OF_DETECTIONS = Code("111064", "DCM", "Summary of Detections")
SUMMARY_OF_ANALYSES = Code("111065", "DCM", "Summary of Analyses")
SUCCEEDED = Code("111222", "DCM", "Succeeded")
NOT_ATTEMPTED = Code("111225", "DCM", "Not Attempted")


def findings(plan: InstancePlan) -> list[Finding]:
    return list(plan.content.findings if plan.content.findings is not None else DEFAULT_FINDINGS)


def build(plan: InstancePlan, image: PixelImage | None) -> Dataset:
    return sr.document(plan, _content(plan), MAMMOGRAPHY_CAD_SR, ALGORITHM)


def _content(plan: InstancePlan) -> Dataset:
    """The root CONTAINER of TID 4000, with its content tree."""
    from highdicom.sr import CodeContentItem, ContainerContentItem, ContentSequence

    root = ContainerContentItem(name=REPORT, template_id="4000")
    root.ContentTemplateSequence[0].MappingResource = "DCMR"
    items: list[Any] = [*device_observer(plan)]
    items.append(_image_library(plan))
    placed = [sr.place(plan, k, f) for k, f in enumerate(findings(plan))]
    summary = CodeContentItem(
        name=PROCESSING_SUMMARY,
        value=WITH_FINDINGS if placed else WITHOUT_FINDINGS,
        relationship_type="CONTAINS",
    )
    if placed:  # an item without children has no ContentSequence
        summary.ContentSequence = ContentSequence([_impression(p) for p in placed])
    items.append(summary)
    items.append(
        CodeContentItem(
            name=SUMMARY_OF_DETECTIONS,
            value=SUCCEEDED,
            relationship_type="CONTAINS",
        )
    )
    items.append(
        CodeContentItem(
            name=SUMMARY_OF_ANALYSES,
            value=NOT_ATTEMPTED,
            relationship_type="CONTAINS",
        )
    )
    root.ContentSequence = ContentSequence(items)
    return root


def device_observer(plan: InstancePlan, name: str = ALGORITHM) -> list[Any]:
    """TID 1002 Observer Context for the CAD or AI device ``name`` (its UID derived from the
    study and the name)."""
    from highdicom.sr import DeviceObserverIdentifyingAttributes, ObserverContext
    from pydicom.sr.codedict import codes

    device = DeviceObserverIdentifyingAttributes(
        uid=plan.study_level_uid(f"device {name}"),
        name=name,
        manufacturer_name=m.MANUFACTURER,
        model_name=name,
    )
    context = ObserverContext(
        observer_type=codes.cid270.Device, observer_identifying_attributes=device
    )
    return list(context)


def _image_library(plan: InstancePlan) -> Any:
    """TID 4020 CAD Image Library: an IMAGE entry (no concept name) per reference, with the
    laterality and view of an image that has them."""
    from highdicom.sr import CodeContentItem, ContainerContentItem
    from pydicom.sr.codedict import codes

    library = ContainerContentItem(name=codes.DCM.ImageLibrary, relationship_type="CONTAINS")
    entries = []
    for ref in plan.references:
        entry = image_item(ref, "CONTAINS")
        view = ref.instance.view if ref.instance is not None else None
        if view is not None:
            side = codes.SCT.RightBreast if view.laterality == "R" else codes.SCT.LeftBreast
            sr.contain(
                entry,
                [
                    CodeContentItem(
                        name=codes.DCM.ImageLaterality,
                        value=side,
                        relationship_type="HAS ACQ CONTEXT",
                    ),
                    CodeContentItem(
                        name=codes.DCM.ImageView,
                        value=Code(view.code, "SCT", view.meaning),
                        relationship_type="HAS ACQ CONTEXT",
                    ),
                ],
            )
        entries.append(entry)
    sr.contain(library, entries)
    return library


def image_item(ref: ReferencedInstance, relationship: str, frame: int | None = None) -> Dataset:
    """An IMAGE content item naming ``ref`` (and its frame), without a concept name (as the
    image library entries and SELECTED FROM targets of TID 4020 and 4006 have none): a plain
    dataset, in a plain Sequence (highdicom's ContentSequence wants names)."""
    from highdicom.sr import ImageContentItem
    from pydicom.sr.codedict import codes

    item = ImageContentItem(
        name=codes.SCT.Source,  # highdicom wants one; TID 4000 has none
        referenced_sop_class_uid=ref.sop_class_uid,
        referenced_sop_instance_uid=ref.sop_instance_uid,
        referenced_frame_numbers=frame,
        relationship_type=relationship,
    )
    plain = Dataset()
    plain.update(item)
    del plain.ConceptNameCodeSequence
    return plain


def _impression(placed: sr.Placed) -> Any:
    """TID 4003 Individual Impression/Recommendation holding one TID 4006 Single Image Finding."""
    from highdicom.sr import (
        CodeContentItem,
        ContainerContentItem,
        ContentSequence,
        NumContentItem,
        ScoordContentItem,
    )
    from pydicom.sr.codedict import codes

    intent = PRESENTATION_REQUIRED
    impression = ContainerContentItem(name=IMPRESSION, relationship_type="INFERRED FROM")
    mass = placed.finding.kind == "mass"
    finding = CodeContentItem(
        name=codes.DCM.SingleImageFinding,
        value=codes.SCT.Mass if mass else codes.SCT.CalcificationCluster,
        relationship_type="CONTAINS",
    )
    center = ScoordContentItem(
        name=codes.DCM.Center,
        graphic_type="POINT",
        graphic_data=sr.circle(placed)[:1],
        relationship_type="HAS PROPERTIES",
    )
    outline = ScoordContentItem(
        name=codes.DCM.Outline,
        graphic_type="CIRCLE" if mass else "POLYLINE",
        graphic_data=sr.circle(placed) if mass else sr.polygon(placed),
        relationship_type="HAS PROPERTIES",
    )
    for scoord in (center, outline):
        sr.contain(scoord, [image_item(placed.reference, "SELECTED FROM", placed.frame)])
    finding.ContentSequence = ContentSequence(
        [
            CodeContentItem(
                name=codes.DCM.RenderingIntent, value=intent, relationship_type="HAS CONCEPT MOD"
            ),
            NumContentItem(
                name=codes.DCM.CertaintyOfFinding,
                value=round(placed.finding.probability * 100, 2),
                unit=codes.UCUM.Percent,
                relationship_type="HAS PROPERTIES",
            ),
            center,
            outline,
        ]
    )
    impression.ContentSequence = ContentSequence(
        [
            CodeContentItem(
                name=codes.DCM.RenderingIntent, value=intent, relationship_type="HAS CONCEPT MOD"
            ),
            finding,
        ]
    )
    return impression


TEMPLATES = (
    IODTemplate(
        name="mammo-cad-sr",
        title="Mammography CAD SR",
        sop_class_uid=MAMMOGRAPHY_CAD_SR,
        modality="SR",
        build=build,
        summary="TID 4000: image library, masses and calcification clusters with their centre "
        "and outline on the referenced images, CAD processing summary",
        pixels=None,
        aliases=("cad-sr", "mammography-cad-sr"),
        required=sr.REQUIRED,
        native_only=True,
        derived=True,
        content_fields=frozenset({"findings"}),
    ),
)
