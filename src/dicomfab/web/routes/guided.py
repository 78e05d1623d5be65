"""The guided wizard's back end: a preview of what a spec will write (the resolved key tags of
each instance, from the real planner and dataset builder with the spec's seed) and a folder
picker confined to the allowed roots."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from dicomfab.builder.plan import make_plan
from dicomfab.builder.plan_model import InstancePlan
from dicomfab.studyspec.loading import parse_spec
from dicomfab.web.errors import bad_request
from dicomfab.web.limits import Nested
from dicomfab.web.paths import resolve_inside
from dicomfab.web.routes.common import Answer, Context

#: the attributes the preview shows of each instance, read from the dataset generate builds
PREVIEW_KEYWORDS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "IssuerOfPatientID",
    "AccessionNumber",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "StudyDate",
    "StudyDescription",
    "Modality",
    "ViewPosition",
    "ImageLaterality",
    "InstitutionName",
    "Manufacturer",
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PhotometricInterpretation",
)

#: sub-folders listed at most per folder (a picker, not a file manager)
MAX_FOLDERS = 500


class PreviewBody(BaseModel):
    spec: Nested
    limit: int = Field(64, ge=1, le=500, description="instances listed at most")


class PreviewInstance(Answer):
    """One instance: where it sits in the plan and the values its file will hold (null: the
    attribute is absent)."""

    path: str
    role: str
    study: int
    file: str
    written: bool
    lesion: str | None
    tags: dict[str, str | None]


class SpecPreview(Answer):
    """``truncated``: more instances than ``limit``; only the first are listed."""

    name: str
    seed: int | None
    patients: int
    studies: int
    instances: int
    truncated: bool
    rows: list[PreviewInstance]


class Folder(Answer):
    name: str
    path: str


class Folders(Answer):
    """The sub-folders of ``path`` (null: the allowed roots themselves); ``parent`` is null at a
    root."""

    path: str | None
    parent: str | None
    folders: list[Folder]
    truncated: bool


def _text(value: Any) -> str:
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def preview_row(inst: InstancePlan, study_index: int) -> PreviewInstance:
    """Build the instance's header as generate does and read the key attributes back: what is
    shown is what is written. The pixels are the lazy image of the Extended Offset Table path
    (same shape, type and bits, no frame drawn): the header builders read only those, and a
    preview must not draw a full-size mammogram, or a 65535 × 65535 one, per keystroke."""
    from dicomfab.builder import pixels
    from dicomfab.builder.dataset import build_dataset
    from dicomfab.builder.validation import writing_mode
    from dicomfab.output.generate import instance_relpath

    image = pixels.render(dataclasses.replace(inst, extended_offset_table=True))
    with writing_mode(permissive=inst.permissive):
        ds = build_dataset(inst, image)
    tags = {k: (_text(ds[k].value) if k in ds else None) for k in PREVIEW_KEYWORDS}
    return PreviewInstance(
        path=inst.path,
        role=inst.study.role,
        study=study_index,
        file=instance_relpath(inst),
        written=not inst.skip_writing,
        lesion=inst.pixels.drawn_lesion(),
        tags=tags,
    )


def sub_folders(folder: Path, roots: list[Path]) -> tuple[list[Folder], bool]:
    """The folders directly in ``folder`` whose real path (symlinks followed) stays inside a
    root; hidden ones left out."""
    real_roots = [r.resolve() for r in roots]
    found: list[Folder] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name.lower())
    except OSError as exc:
        raise bad_request("path", f"cannot list {folder} ({exc.strerror or exc})") from None
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if not entry.is_dir():
                continue
            real = Path(entry.path).resolve()
        except (OSError, RuntimeError):
            continue
        if not any(real.is_relative_to(r) for r in real_roots):
            continue
        if len(found) == MAX_FOLDERS:
            return found, True
        found.append(Folder(name=entry.name, path=str(real)))
    return found, False


def make_router(ctx: Context) -> APIRouter:
    router = APIRouter()
    roots = list(ctx.settings.roots)

    @router.post("/spec/preview", response_model=SpecPreview)
    def preview(body: PreviewBody) -> SpecPreview:
        """The first ``limit`` instances as generate will write them (the same planner, seed
        and dataset builder), nothing written."""
        spec = parse_spec(body.spec, source="spec")
        plan = make_plan(spec)
        instances = plan.instances
        study_numbers = {id(s): n for n, s in enumerate(plan.studies)}
        rows = [preview_row(i, study_numbers[id(i.study)]) for i in instances[: body.limit]]
        return SpecPreview(
            name=spec.name,
            seed=spec.seed,
            patients=len(plan.patients),
            studies=len(plan.studies),
            instances=len(instances),
            truncated=len(instances) > body.limit,
            rows=rows,
        )

    @router.get("/folders", response_model=Folders)
    def folders(path: Annotated[str | None, Query()] = None) -> Folders:
        """The folder picker: sub-folders of a folder inside the roots (the roots without
        ``path``)."""
        if not path:
            listed = [Folder(name=str(r), path=str(r.resolve())) for r in roots]
            return Folders(path=None, parent=None, folders=listed, truncated=False)
        folder = resolve_inside(path, roots, "path")
        if not folder.is_dir():
            raise bad_request("path", f"{folder} is not a folder")
        at_root = any(folder == r.resolve() for r in roots)
        parent = None if at_root else str(folder.parent)
        listed, truncated = sub_folders(folder, roots)
        return Folders(path=str(folder), parent=parent, folders=listed, truncated=truncated)

    return router
