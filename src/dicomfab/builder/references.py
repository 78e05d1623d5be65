"""What a derived object (SR, SEG, GSPS, KOS, AI capture) refers to: a spec's ``references``
resolved against the whole plan, once every instance of it exists.

A reference is relative to the referring instance's patient and study:

    [studies[S].] (images | VIEW | series[E] | series[E].instances[I])

``images`` is every image of the study (an instance of an IOD that is not derived), the default;
``VIEW`` the first image with that view (``RCC``); ``series[E]`` every instance of the study's
E-th series; ``studies[S].`` moves to the patient's S-th study (spec order). A mapping
(``ForeignReference``) names an instance that is not in the dataset.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from dicomfab.builder import pixels
from dicomfab.builder.plan_model import (
    InstancePlan,
    Plan,
    ReferencedInstance,
    StudyPlan,
)
from dicomfab.errors import shorten
from dicomfab.studyspec.models import Finding, ForeignReference, Reference
from dicomfab.studyspec.views import VIEWS

Fail = Callable[[str, str, str | None], None]

_REFERENCE = re.compile(
    r"^(?:studies\[(?P<study>\d+)\]\.)?"
    r"(?:(?P<images>images)|series\[(?P<series>\d+)\](?:\.instances\[(?P<instance>\d+)\])?"
    r"|(?P<view>[A-Z]+))$"
)
DEFAULT: list[Reference] = ["images"]
SYNTAX = "images, a view (RCC), series[E], series[E].instances[I], optionally after studies[S]."


def resolve(plan: Plan, fail: Fail) -> None:
    """Fill ``references`` of every derived instance of ``plan`` (reporting bad entries)."""
    resolve_instances(plan.instances, fail)


def resolve_instances(instances: list[InstancePlan], fail: Fail) -> None:
    """Fill ``references`` of every derived instance in ``instances``: a reference never
    leaves its patient, so one patient's instances at a time will do."""
    for instance in instances:
        if not instance.iod.derived:
            continue
        specs = instance.reference_specs if instance.reference_specs is not None else DEFAULT
        found: list[ReferencedInstance] = []
        for k, spec in enumerate(specs):
            path = f"{instance.path}.references[{k}]"
            found += _one(instance, spec, path, fail)
        unique = {r.sop_instance_uid: r for r in reversed(found)}  # the first of each UID
        instance.references = [r for r in found if unique[r.sop_instance_uid] is r]
        if not instance.references and not instance.permissive:
            fail(
                f"{instance.path}.references",
                f"a {instance.iod.title} refers to at least one instance, and these name none",
                "references: [images] with an image series in the study",
            )
        else:
            _check_findings(instance, fail)
            if instance.references and instance.iod.check_derived is not None:
                for where, problem, nearest in instance.iod.check_derived(instance):
                    fail(where, problem, nearest)


def _check_findings(instance: InstancePlan, fail: Fail) -> None:
    """Each finding's ``image`` is the index of one of the instance's references."""
    count = len(instance.references)
    for k, finding in enumerate(instance.content.findings or []):
        if count and finding.image >= count:
            fail(
                f"{instance.path}.content.findings[{k}].image",
                f"the object has {count} references, not a references[{finding.image}]",
                f"image: 0 to {count - 1}",
            )


def _one(
    instance: InstancePlan, spec: Reference, path: str, fail: Fail
) -> list[ReferencedInstance]:
    if isinstance(spec, ForeignReference):
        return [_foreign(instance, spec, path)]
    match = _REFERENCE.match(spec.strip())
    if match is None:
        fail(path, f"{shorten(spec)} is not a reference", SYNTAX)
        return []
    study = instance.study
    if match["study"] is not None:
        studies = instance.patient.studies
        s = int(match["study"])
        if s >= len(studies):
            fail(path, f"the patient has {len(studies)} studies, not a studies[{s}]", None)
            return []
        study = studies[s]
    targets = _targets(study, match, path, fail)
    if instance in targets:
        fail(path, "an object cannot refer to itself", None)
        return []
    return [_planned(t, path) for t in targets]


def _targets(study: StudyPlan, match: re.Match[str], path: str, fail: Fail) -> list[InstancePlan]:
    every = [i for se in study.series for i in se.instances]
    if match["images"]:
        return [i for i in every if not i.iod.derived]
    if match["view"] is not None:
        view = match["view"]
        if view not in VIEWS:
            fail(path, f"{view} is neither a view nor a reference", SYNTAX)
            return []
        hits = [i for i in every if i.view is not None and i.view.name == view]
        if not hits:
            fail(path, f"the study has no {view} image", None)
        return hits[:1]
    e = int(match["series"])
    if e >= len(study.series):
        fail(path, f"the study has {len(study.series)} series, not a series[{e}]", None)
        return []
    chosen = study.series[e].instances
    if match["instance"] is None:
        return list(chosen)
    i = int(match["instance"])
    if i >= len(chosen):
        fail(path, f"series[{e}] has {len(chosen)} instances, not an instances[{i}]", None)
        return []
    return [chosen[i]]


def _planned(target: InstancePlan, path: str) -> ReferencedInstance:
    return ReferencedInstance(
        sop_class_uid=target.iod.sop_class_uid,
        sop_instance_uid=target.sop_instance_uid,
        series_instance_uid=target.series.uid,
        study_instance_uid=target.study.uid,
        instance=target,
        path=path,
    )


def _foreign(instance: InstancePlan, spec: ForeignReference, path: str) -> ReferencedInstance:
    return ReferencedInstance(
        sop_class_uid=spec.sop_class_uid,
        sop_instance_uid=spec.sop_instance_uid,
        series_instance_uid=spec.series_instance_uid
        or instance.uids.uid("foreign-series", spec.sop_instance_uid),
        study_instance_uid=spec.study_instance_uid or instance.study.uid,
        path=path,
    )


def referenced_image(reference: ReferencedInstance) -> np.ndarray | None:
    """The (first) frame's pixels of a referenced instance of the plan: the middle slice of a
    multi-frame image; None for a foreign instance or one without pixels."""
    if reference.instance is None:
        return None
    image = pixels.render(reference.instance)
    if image is None:
        return None
    frames = image.frame_arrays()
    return frames[len(frames) // 2]


def finding_centre(
    reference: ReferencedInstance, finding: Finding, seed: int
) -> tuple[float, float]:
    """Where ``finding`` lies on ``reference``: (row, column) in pixels, centre of pixel (0, 0) at
    (0.5, 0.5). Its ``x``/``y`` when given; else a point inside the breast (a pixel of the image
    above background, with breast on all sides within a 1/40 of the image), derived from
    ``seed``; the middle of the image when there is no image to look at."""
    frame = referenced_image(reference)
    if frame is None:
        rows, columns = _size(reference)
        return ((finding.y or 0.5) * rows, (finding.x or 0.5) * columns)
    rows, columns = frame.shape[:2]
    if finding.x is not None and finding.y is not None:
        return (finding.y * rows, finding.x * columns)
    tissue = frame > 0 if frame.ndim == 2 else frame.any(axis=-1)
    margin = max(1, min(rows, columns) // 40)
    inner = tissue.copy()
    for axis in (0, 1):  # erode: breast also `margin` away in every direction
        for shift in (margin, -margin):
            inner &= np.roll(tissue, shift, axis=axis)
    candidates = np.argwhere(inner)
    if len(candidates) == 0:
        candidates = np.argwhere(tissue)
    if len(candidates) == 0:
        return (rows / 2, columns / 2)
    row, column = candidates[np.random.default_rng(seed).integers(len(candidates))]
    y = finding.y * rows if finding.y is not None else row + 0.5
    x = finding.x * columns if finding.x is not None else column + 0.5
    return (float(y), float(x))


def _size(reference: ReferencedInstance) -> tuple[int, int]:
    if reference.instance is None:
        return (512, 512)
    opts = reference.instance.pixels
    return (opts.rows or 512, opts.columns or 512)
