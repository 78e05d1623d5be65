"""The result browser: the datasets of an output folder, a folder as a tree, a file's
thumbnail and header."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import ConfigDict, Field

from dicomfab.errors import Issue
from dicomfab.run.html import thumbnail_png
from dicomfab.web import files
from dicomfab.web.errors import bad_request, not_found
from dicomfab.web.header import header_rows
from dicomfab.web.paths import resolve_inside
from dicomfab.web.routes.common import Answer, Context


class DatasetRow(Answer):
    """A dataset as ``dicomfab summary`` counts it."""

    name: str
    path: str
    scenario: str | None
    patients: int
    studies: int
    instances: int
    files: int
    bytes: int


class ImageLabel(Answer):
    """What a dataset's manifest says about one file: whose image it is and which view."""

    patient_name: str
    patient_id: str
    study_instance_uid: str
    study_date: str
    study_description: str
    role: str = Field(description="current, prior or external_prior")
    series_description: str
    modality: str
    iod: str
    view: str | None
    laterality: str | None
    instance_number: int


class TreeNode(Answer):
    """A file or a folder; ``size`` of a folder: its files' total. ``truncated`` only on a
    folder cut short (too many files or too deep). In a dataset folder, a study folder has a
    ``label`` (patient, role, date, description) and a file its manifest lists an ``image``."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=False)

    name: str
    path: str
    kind: Literal["dir", "file"]
    size: int
    children: list[TreeNode]
    truncated: bool = False
    label: str | None = None
    image: ImageLabel | None = None


class HeaderElement(Answer):
    tag: str
    keyword: str
    vr: str
    value: str
    depth: int


class Header(Answer):
    path: str
    elements: list[HeaderElement]


_PNG: dict[int | str, dict[str, Any]] = {
    200: {"description": "a PNG, windowed server-side", "content": {"image/png": {}}}
}


def make_router(ctx: Context) -> APIRouter:
    router = APIRouter()
    settings = ctx.settings

    @router.get("/datasets", response_model=list[DatasetRow])
    def list_datasets(output: str | None = None) -> list[dict[str, Any]]:
        folder = ctx.inside(output, "output", settings.output_dir)
        if not folder.is_dir():  # not "no datasets": the folder is not there at all
            what = "is not a folder" if folder.exists() else "does not exist"
            raise not_found(f"{folder} {what}", [Issue("output", f"{folder} {what}")])
        return files.datasets(folder)

    @router.get("/datasets/tree", response_model=TreeNode, response_model_exclude_unset=True)
    def dataset_tree(path: str | None = None) -> dict[str, Any]:
        folder = ctx.inside(path, "path", settings.output_dir)
        if not folder.exists():
            raise bad_request("path", f"{folder} does not exist")
        return files.tree(folder)

    def existing_file(path: str) -> Path:
        file = resolve_inside(path, settings.roots, "path")
        if not file.is_file():
            raise bad_request("path", f"{file} is not a file")
        return file

    @router.get("/preview/thumbnail", response_model=None, response_class=Response, responses=_PNG)
    def thumbnail(path: str, size: Annotated[int, Query(ge=16, le=1024)] = 160) -> Response:
        file = existing_file(path)
        try:
            png = thumbnail_png(file, size)
        except Exception as exc:  # deliberately broken files are expected here
            raise bad_request("path", f"cannot preview {file.name}: {exc}") from None
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    @router.get("/preview/header", response_model=Header)
    def header(path: str) -> dict[str, Any]:
        return header_rows(existing_file(path))

    return router
