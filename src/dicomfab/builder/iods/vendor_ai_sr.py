"""Comprehensive SR IOD (PS3.3 A.35.3) in a vendor's private AI template: valid, but not TID 1500.

Module table (M = mandatory, C = conditional, U = user option) and where each is built:
  Patient M, General Study M, General Equipment M, SOP Common M             → builder.modules
  SR Document Series M, SR Document General M (evidence of every reference) → sr_document
  SR Document Content M: the vendor's template (private codes 99VENDOR)     → _content
  Clinical Trial *, Patient Study U                                         → not built
What several breast AI products store: a root CONTAINER whose concept and template are the
vendor's own (coding scheme 99VENDOR, declared in CodingSchemeIdentificationSequence), the AI
device as observer, its algorithm version, a score (0-100) per breast the references show and one
for the case, and each finding as a coded lesion with its location (SCOORD POINT SELECTED FROM its
image). A TID 1500 consumer finds no Measurement Report in it: it can store and display the
document, and parses no measurement. ``content.title`` is the root concept's meaning
(default "Breast AI Analysis"); ``content.findings`` defaults to one mass on the first reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.sr.coding import Code

from dicomfab.builder.iods import sr_document as sr
from dicomfab.builder.iods.base import IODTemplate
from dicomfab.builder.iods.mammo_cad_sr import device_observer, findings, image_item
from dicomfab.builder.pixels.image import PixelImage

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan

COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
SCHEME = "99VENDOR"
ALGORITHM = "Example Vendor Breast AI"
VERSION = "3.2.1"
TEMPLATE = "VAI_BREAST_1"  # CS: no hyphen
DEFAULT_TITLE = "Breast AI Analysis"
NO_FINDING_SCORE = 5  # what the synthetic algorithm gives a breast without a finding
VERSION_CODE = Code("VAI-VER", SCHEME, "Algorithm version")
CASE_SCORE = Code("VAI-CASE", SCHEME, "Case score")
BREAST_SCORE = {
    "R": Code("VAI-SCORE-R", SCHEME, "Right breast score"),
    "L": Code("VAI-SCORE-L", SCHEME, "Left breast score"),
}
LESION = Code("VAI-LESION", SCHEME, "Lesion")
KINDS = {
    "mass": Code("VAI-MASS", SCHEME, "Suspicious mass"),
    "calcification_cluster": Code("VAI-CALC", SCHEME, "Suspicious calcifications"),
}
LOCATION = Code("VAI-LOC", SCHEME, "Lesion location")
SCORE_UNIT = Code("{score}", "UCUM", "score")


def build(plan: InstancePlan, image: PixelImage | None) -> Dataset:
    ds = sr.document(plan, _content(plan), COMPREHENSIVE_SR, ALGORITHM)
    scheme = Dataset()
    scheme.CodingSchemeDesignator = SCHEME
    scheme.CodingSchemeName = "Example Vendor AI codes"
    scheme.CodingSchemeResponsibleOrganization = "Example Vendor"
    ds.CodingSchemeIdentificationSequence = Sequence([scheme])
    return ds


def _content(plan: InstancePlan) -> Dataset:
    from highdicom.sr import (
        CodeContentItem,
        ContainerContentItem,
        ContentSequence,
        NumContentItem,
        ScoordContentItem,
        TextContentItem,
    )

    title = (plan.content.title or DEFAULT_TITLE).strip()[:64]
    root = ContainerContentItem(name=Code("VAI-REPORT", SCHEME, title), template_id=TEMPLATE)
    template = root.ContentTemplateSequence[0]
    template.MappingResource = SCHEME
    items: list[Any] = [*device_observer(plan, ALGORITHM)]
    items.append(TextContentItem(name=VERSION_CODE, value=VERSION, relationship_type="CONTAINS"))
    placed = [sr.place(plan, k, f) for k, f in enumerate(findings(plan))]
    scores: dict[str, int] = {}
    for ref in plan.references:
        if ref.instance is not None and ref.instance.view is not None:
            scores.setdefault(ref.instance.view.laterality, NO_FINDING_SCORE)
    for p in placed:
        view = p.reference.instance.view if p.reference.instance is not None else None
        if view is not None:
            score = round(p.finding.probability * 100)
            scores[view.laterality] = max(scores.get(view.laterality, 0), score)
    case = max(
        [NO_FINDING_SCORE, *scores.values(), *(round(p.finding.probability * 100) for p in placed)]
    )
    items.append(_score(NumContentItem, CASE_SCORE, case))
    for side in ("R", "L"):
        if side in scores:
            items.append(_score(NumContentItem, BREAST_SCORE[side], scores[side]))
    for p in placed:
        lesion = CodeContentItem(
            name=LESION, value=KINDS[p.finding.kind], relationship_type="CONTAINS"
        )
        location = ScoordContentItem(
            name=LOCATION,
            graphic_type="POINT",
            graphic_data=sr.circle(p)[:1],
            relationship_type="HAS PROPERTIES",
        )
        sr.contain(location, [image_item(p.reference, "SELECTED FROM", p.frame)])
        lesion.ContentSequence = ContentSequence([location])
        items.append(lesion)
    root.ContentSequence = ContentSequence(items)
    return root


def _score(num: Any, name: Code, value: int) -> Any:
    return num(name=name, value=value, unit=SCORE_UNIT, relationship_type="CONTAINS")


TEMPLATES = (
    IODTemplate(
        name="vendor-ai-sr",
        title="Comprehensive SR (vendor AI template)",
        sop_class_uid=COMPREHENSIVE_SR,
        modality="SR",
        build=build,
        summary="a breast AI result in a private template (99VENDOR codes, a score per breast, "
        "lesion locations): valid SR, not TID 1500",
        pixels=None,
        aliases=("comprehensive-sr", "private-ai-sr"),
        required=sr.REQUIRED,
        native_only=True,
        derived=True,
        content_fields=frozenset({"findings", "title"}),
    ),
)
