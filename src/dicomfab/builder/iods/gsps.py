"""Grayscale Softcopy Presentation State IOD (PS3.3 A.33.1): how to show the study's images.

Module table (M = mandatory, C = conditional, U = user option) and where each is built:
  Patient M, General Study M, Patient Study U, General Equipment M          → builder.modules
  Presentation Series M (Modality PR), Presentation State Identification M,
  Presentation State Relationship M, Displayed Area M, Graphic Annotation C,
  Graphic Layer C, Modality LUT C, Softcopy VOI LUT C, Softcopy Presentation LUT M → highdicom
  Presentation State Shutter C, Display Shutter C (rectangular)             → _shutter
  Spatial Transformation C, Overlay/Curve Activation C, Mask C, Bitmap Display Shutter C
                                                                            → not built
  SOP Common M                                                              → builder.modules
Content fields (the spec's ``content``):
  window: [centre, width] applied to every reference (default: each image's own window);
  annotation: a text on the first reference, anchored inside the breast (a point
    ``finding_centre`` picks), in a graphic layer with a circle around the anchor;
  shutter: true for a rectangular display shutter hiding a border of 1/20 of the image;
  findings: a circle per finding on the reference it names (``image``), sized by size_mm.
The references (default ``images``) must be single-frame grayscale images (refused at validate
otherwise); images of several sizes get a displayed area each. Their headers are built (and
pixels rendered) to hand to highdicom, which is imported lazily.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np
from pydicom.dataset import Dataset

from dicomfab.builder import modules as m
from dicomfab.builder.iods.base import IODTemplate
from dicomfab.builder.pixels.image import PixelImage
from dicomfab.studyspec.models import Finding

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan

GRAYSCALE_SOFTCOPY_PRESENTATION_STATE = "1.2.840.10008.5.1.4.1.1.11.1"
LABEL = "BREAST_REVIEW"
LAYER = "ANNOTATION"
FINDINGS_LAYER = "CAD_FINDINGS"
ANCHOR_RADIUS = 1 / 30  # of the image's columns: the circle around the annotation's anchor
SHUTTER_BORDER = 1 / 20  # of each side: what the rectangular shutter hides
PIXEL_SPACING_MM = 0.1  # when the reference carries none
REQUIRED = m.REQUIRED_COMMON | m.keywords(
    "Manufacturer InstanceNumber ContentLabel ContentDescription PresentationCreationDate "
    "PresentationCreationTime ContentCreatorName ReferencedSeriesSequence "
    "DisplayedAreaSelectionSequence PresentationLUTShape"
)


def build(plan: InstancePlan, image: PixelImage | None) -> Dataset:
    from highdicom.pr import GrayscaleSoftcopyPresentationState, SoftcopyVOILUTTransformation

    images = _referenced_datasets(plan)
    layers, annotations = _graphics(plan, images)
    first = images[0]
    # highdicom takes references of one size (one displayed area): hand it each at the first
    # one's size, then give every size its own displayed area (_displayed_areas)
    same_size = [_resized(ds, first.Rows, first.Columns) for ds in images]
    window = plan.content.window
    voi = (
        [SoftcopyVOILUTTransformation(window_center=window[0], window_width=window[1])]
        if window is not None
        else None
    )
    date = images[0].StudyDate or "20000101"
    time = m.content_time(plan)
    state = GrayscaleSoftcopyPresentationState(
        referenced_images=same_size,
        series_instance_uid=plan.series.uid,
        series_number=plan.series.number,
        sop_instance_uid=plan.sop_instance_uid,
        instance_number=plan.number,
        manufacturer=m.MANUFACTURER,
        manufacturer_model_name=m.MODEL,
        software_versions=m.SOFTWARE,
        device_serial_number=m.SERIAL,
        content_label=LABEL,
        content_description="Synthetic presentation of the breast images",
        graphic_layers=layers or None,
        graphic_annotations=annotations or None,
        voi_lut_transformations=voi,
        series_description=plan.series.description or None,
    )
    ds = Dataset()
    ds.update(state)  # a plain Dataset: no highdicom class travels into the writer
    m.sop_common(ds, plan, GRAYSCALE_SOFTCOPY_PRESENTATION_STATE)  # not the clock's time
    m.patient(ds, plan)
    m.general_study(ds, plan)
    m.general_equipment(ds, plan)
    ds.SeriesDate, ds.SeriesTime = date, plan.study.time
    ds.PresentationCreationDate, ds.PresentationCreationTime = date, time
    fix_contribution_times(ds, f"{date}{time}")
    sides = {str(image.get("ImageLaterality", "")) for image in images}
    ds.Laterality = sides.pop() if len(sides) == 1 else ""  # Type 2C: the images' common side
    _displayed_areas(ds, images)
    if plan.content.shutter:
        _shutter(ds, images[0])
    return ds


def check_references(plan: InstancePlan) -> list[tuple[str, str, str | None]]:
    """What a grayscale presentation state cannot apply to: an instance without pixels, a
    color image (that takes a Color Softcopy Presentation State), a multi-frame image (not built
    here). A finding on a reference the object lacks: dicomfab.builder.references."""
    problems: list[tuple[str, str, str | None]] = []
    for ref in plan.references:
        target = ref.instance
        if target is None:
            continue
        if target.iod.pixels is None:
            problems.append(
                (ref.path, f"{target.path} ({target.iod.name}) has no pixels to present", _HINT)
            )
        elif target.iod.multiframe:  # highdicom takes no Modality LUT from multi-frame images
            problems.append(
                (ref.path, f"{target.path} is multi-frame ({target.iod.name}): unsupported", _HINT)
            )
        elif target.pixels.photometric == "RGB":
            problems.append(
                (ref.path, f"{target.path} is a color (RGB) image, not a grayscale one", _HINT)
            )
    return problems


_HINT = "references naming single-frame grayscale images only (a view, series[E] of them)"


def _resized(ds: Dataset, rows: int, columns: int) -> Dataset:
    if (ds.Rows, ds.Columns) == (rows, columns):
        return ds
    out = copy.deepcopy(ds)  # a header (no PixelData): a shallow copy would share elements
    out.Rows, out.Columns = rows, columns
    return out


# Displayed Area (C.10.4): the whole image, one item per image size when the sizes differ
def _displayed_areas(ds: Dataset, images: list[Dataset]) -> None:
    sizes: dict[tuple[int, int], list[Dataset]] = {}
    for image in images:
        sizes.setdefault((int(image.Rows), int(image.Columns)), []).append(image)
    if len(sizes) == 1:
        return  # highdicom's single item applies to every image
    (template,) = ds.DisplayedAreaSelectionSequence
    items = []
    for (rows, columns), group in sizes.items():
        item = copy.deepcopy(template)
        item.DisplayedAreaBottomRightHandCorner = [columns, rows]
        item.ReferencedImageSequence = [_image_item(image) for image in group]
        items.append(item)
    ds.DisplayedAreaSelectionSequence = items


def _image_item(image: Dataset) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = image.SOPClassUID
    item.ReferencedSOPInstanceUID = image.SOPInstanceUID
    return item


def fix_contribution_times(ds: Dataset, when: str) -> None:
    """highdicom names itself in ContributingEquipmentSequence with the clock's time: the
    plan's time instead, so the same plan gives the same bytes."""
    for item in ds.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:
            item.ContributionDateTime = when


def _referenced_datasets(plan: InstancePlan) -> list[Dataset]:
    """The headers highdicom reads of the referenced images: built from their plans; a foreign
    reference gets a copy of the first planned image's header (its size, rescale and window)
    under the foreign UIDs (a bare stand-in when every reference is foreign)."""
    from dicomfab.builder import pixels
    from dicomfab.builder.dataset import build_dataset

    planned = {
        ref.sop_instance_uid: build_dataset(ref.instance, pixels.render(ref.instance))
        for ref in plan.references
        if ref.instance is not None
    }
    model = next(iter(planned.values()), None)
    out = []
    for ref in plan.references:
        if ref.sop_instance_uid in planned:
            out.append(planned[ref.sop_instance_uid])
            continue
        ds = copy.deepcopy(model) if model is not None else _stand_in(plan)
        ds.StudyInstanceUID = ref.study_instance_uid
        ds.SeriesInstanceUID = ref.series_instance_uid
        ds.SOPClassUID = ref.sop_class_uid
        ds.SOPInstanceUID = ref.sop_instance_uid
        out.append(ds)
    return out


def _stand_in(plan: InstancePlan) -> Dataset:
    ds = Dataset()
    m.patient(ds, plan)
    m.general_study(ds, plan)
    ds.SamplesPerPixel = 1
    ds.Rows = ds.Columns = 512
    return ds


def anchor(plan: InstancePlan) -> tuple[float, float]:
    """Where the annotation's text is anchored on the first reference: (column, row) in
    pixels, a point inside the breast derived from the plan's seed."""
    from dicomfab.builder.references import finding_centre

    row, column = finding_centre(plan.references[0], Finding(), _seed(plan, "annotation"))
    return column, row


def _seed(plan: InstancePlan, what: str) -> int:
    return plan.uids.number("gsps", what, plan.sop_instance_uid)


def _graphics(plan: InstancePlan, images: list[Dataset]) -> tuple[list[Any], list[Any]]:
    """The graphic layers and annotations: the text annotation with its circle, and a circle
    per finding, each on the image it lies on."""
    from highdicom.pr import GraphicAnnotation, GraphicLayer, GraphicObject, TextObject

    from dicomfab.builder.references import finding_centre

    layers: list[Any] = []
    annotations: list[Any] = []
    columns, rows = float(images[0].Columns), float(images[0].Rows)
    if plan.content.annotation:
        layer = GraphicLayer(LAYER, order=1, description="Reading annotation")
        x, y = anchor(plan)
        radius = columns * ANCHOR_RADIUS
        text = TextObject(
            plan.content.annotation,
            units="PIXEL",
            bounding_box=_box(x, y, radius, columns, rows),
            anchor_point=(x, y),
        )
        circle = _circle(GraphicObject, x, y, radius, columns)
        layers.append(layer)
        annotations.append(
            GraphicAnnotation([images[0]], layer, graphic_objects=[circle], text_objects=[text])
        )
    findings = plan.content.findings or []
    if findings:
        layer = GraphicLayer(FINDINGS_LAYER, order=2, description="CAD findings")
        layers.append(layer)
        for k, finding in enumerate(findings):
            image = images[finding.image]  # check_derived: the index is in range
            row, column = finding_centre(
                plan.references[finding.image], finding, _seed(plan, f"finding{k}")
            )
            radius = finding.size_mm / 2 / _spacing(image)
            circle = _circle(GraphicObject, column, row, radius, float(image.Columns))
            annotations.append(GraphicAnnotation([image], layer, graphic_objects=[circle]))
    return layers, annotations


def _circle(graphic_object: Any, x: float, y: float, radius: float, columns: float) -> Any:
    """A CIRCLE graphic object: its centre and a point on its perimeter, (column, row); the
    point lies inside the image (right of the centre if there is room, else left), so a
    circle wider than the image is cut to fit."""
    radius = min(radius, max(x, columns - x))
    edge = x + radius if x + radius <= columns else x - radius
    return graphic_object("CIRCLE", np.array([[x, y], [edge, y]]), units="PIXEL")


def _box(
    x: float, y: float, radius: float, columns: float, rows: float
) -> tuple[float, float, float, float]:
    """The text's bounding box: above the circle, within the image."""
    left = max(0.0, min(x - 4 * radius, columns - 8 * radius))
    top = max(0.0, y - 3 * radius)
    return (left, top, min(columns, left + 8 * radius), min(rows, top + 1.5 * radius))


def _spacing(image: Dataset) -> float:
    """mm per pixel of a referenced image (its (imager) pixel spacing, else 0.1 mm)."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = image.get(keyword)
        if value:
            return float(value[0])
    return PIXEL_SPACING_MM


# Presentation State Shutter (C.11.12) and Display Shutter (C.7.6.11): rectangular
def _shutter(ds: Dataset, image: Dataset) -> None:
    rows, columns = int(image.Rows), int(image.Columns)
    ds.ShutterShape = "RECTANGULAR"
    ds.ShutterLeftVerticalEdge = 1 + int(columns * SHUTTER_BORDER)
    ds.ShutterRightVerticalEdge = columns - int(columns * SHUTTER_BORDER)
    ds.ShutterUpperHorizontalEdge = 1 + int(rows * SHUTTER_BORDER)
    ds.ShutterLowerHorizontalEdge = rows - int(rows * SHUTTER_BORDER)
    ds.ShutterPresentationValue = 0  # black outside the shutter


TEMPLATES = (
    IODTemplate(
        name="gsps",
        title="Grayscale Softcopy Presentation State",
        sop_class_uid=GRAYSCALE_SOFTCOPY_PRESENTATION_STATE,
        modality="PR",
        build=build,
        summary="a window, a text annotation with a circle, a rectangular shutter and finding "
        "circles on its references",
        pixels=None,
        aliases=("pr", "presentation-state", "grayscale-softcopy-presentation-state"),
        required=REQUIRED,
        native_only=True,
        derived=True,
        content_fields=frozenset({"window", "annotation", "shutter", "findings"}),
        check_derived=check_references,
    ),
)
