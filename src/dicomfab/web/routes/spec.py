"""Specs: the JSON Schema, validation, import (YAML, JSON, the old config) and export, and the
DICOM dictionary look-up of the wizard's tag fields."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import yaml
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from dicomfab.builder.plan import make_plan
from dicomfab.builder.schema import spec_schema
from dicomfab.errors import DicomfabError, SpecError
from dicomfab.output import legacy_export
from dicomfab.studyspec import legacy
from dicomfab.studyspec.documents import parse_document
from dicomfab.studyspec.loading import parse_spec
from dicomfab.web import dictionary
from dicomfab.web.errors import from_dicomfab
from dicomfab.web.limits import Nested
from dicomfab.web.routes.common import Answer, Context, Issue


class SpecBody(BaseModel):
    spec: Nested


class ImportBody(BaseModel):
    text: str
    filename: str = ""


class ExportBody(BaseModel):
    spec: Nested
    format: Literal["yaml", "json", "legacy"] = "yaml"


class PlanSummary(Answer):
    patients: int
    studies: int
    series: int
    instances: int


class Validation(Answer):
    """``summary`` is null when the spec is invalid; ``notes``: what the loader warned about."""

    ok: bool
    issues: list[Issue]
    summary: PlanSummary | None
    notes: list[str]


class Imported(Answer):
    spec: dict[str, Any]
    notes: list[str]


class Exported(Answer):
    """``notes`` only for the old config: what it could not keep as is."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=False)

    text: str
    notes: list[str] | None = None


class DictionaryEntry(Answer):
    keyword: str
    tag: str
    vr: str
    vm: str
    name: str


#: notes of the old config's converter worded for the UI (which has no ``--output``)
UI_NOTES = {
    legacy.OUTPUT_DIR_NOTE: (
        "outputDir is ignored: the dataset goes to the Output folder chosen under Generate"
    ),
}


def parse_text(text: str, filename: str) -> Any:
    """JSON or YAML text (by the file name's suffix; without one, JSON if it looks like JSON),
    read by the CLI's bounded loader (size, nesting, aliases)."""
    source = filename or "the imported text"
    as_json = filename.lower().endswith(".json") or (
        not filename and text.lstrip().startswith(("{", "["))
    )
    return parse_document(text, fmt="json" if as_json else "yaml", source=source)


def make_router(_ctx: Context) -> APIRouter:
    router = APIRouter()

    @router.get("/spec/schema", response_model=dict[str, Any])
    def schema() -> dict[str, Any]:
        """The spec's JSON Schema (``dicomfab schema``)."""
        return spec_schema()

    @router.post("/spec/validate", response_model=Validation)
    def validate(body: SpecBody) -> Validation:
        notes: list[str] = []
        try:
            plan = make_plan(parse_spec(body.spec, warn=notes.append))
        except DicomfabError as exc:
            issues = [Issue.model_validate(i) for i in from_dicomfab(exc)["issues"]]
            return Validation(ok=False, issues=issues, summary=None, notes=notes)
        summary = PlanSummary(
            patients=len(plan.patients),
            studies=len(plan.studies),
            series=sum(len(s.series) for s in plan.studies),
            instances=len(plan.instances),
        )
        return Validation(ok=True, issues=[], summary=summary, notes=notes)

    @router.post("/spec/import", response_model=Imported)
    def import_spec(body: ImportBody) -> Imported:
        source = body.filename or "the imported text"
        data = parse_text(body.text, body.filename)
        notes: list[str] = []
        if isinstance(data, dict) and legacy.is_legacy(data):
            notes.append("converted from the predecessor's power-customize format")
            try:
                data = legacy.convert(data, warn=notes.append)
            except SpecError as exc:
                raise SpecError(exc.issues, source=source) from None
        parse_spec(data, source=source)  # the same check as `dicomfab validate`
        return Imported(spec=data, notes=[UI_NOTES.get(n, n) for n in notes])

    @router.post("/spec/export", response_model=Exported, response_model_exclude_unset=True)
    def export_spec(body: ExportBody) -> Exported:
        if body.format == "legacy":  # the predecessor's power-customize JSON; 400 if lossy
            data, notes = legacy_export.export(parse_spec(body.spec, source="spec"))
            text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
            return Exported(text=text, notes=notes)
        if body.format == "json":
            return Exported(text=json.dumps(body.spec, indent=2, ensure_ascii=False) + "\n")
        return Exported(text=yaml.safe_dump(body.spec, sort_keys=False, allow_unicode=True))

    @router.get("/dictionary", response_model=list[DictionaryEntry])
    def lookup(
        q: str = "", limit: Annotated[int, Query(ge=1, le=200)] = 20
    ) -> list[dict[str, str]]:
        return dictionary.search(q, limit)

    return router
