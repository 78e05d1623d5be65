"""The routes of docs/web.md (all under ``/api``; the token is checked by the middleware).

Each route calls what the matching command calls: ``list``/``describe`` → the scenario library,
``schema``/``validate`` → the spec loader and planner, ``generate`` → ``generate_scenarios`` /
``generate``, ``run`` → the pipeline, ``targets`` → the targets file, ``inspect`` → the preview
reader. Bad input answers 400 (422 for a spec at fault, 409 when the output exists) with the
command line's message and every issue; free-form JSON fields have a bounded depth
(:mod:`dicomfab.web.limits`), every path is confined to the roots (:mod:`dicomfab.web.paths`).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import yaml
from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field

from dicomfab._version import __version__
from dicomfab.builder.plan import make_plan
from dicomfab.builder.schema import spec_schema
from dicomfab.errors import DicomfabError, SpecError
from dicomfab.output import legacy_export
from dicomfab.run.connect import target_rows
from dicomfab.run.html import thumbnail_png
from dicomfab.run.pipeline import RunRequest
from dicomfab.run.prerun import check_run
from dicomfab.scenarios import compose, get, load_profiles, scenarios
from dicomfab.scenarios.compose import declared_parameters
from dicomfab.scenarios.params import parse_assignment
from dicomfab.scenarios.selection import (
    choose,
    expand_names,
    flatten_parameters,
    scenario_requests,
    scenario_row,
    with_image_size,
)
from dicomfab.studyspec import legacy
from dicomfab.studyspec.documents import parse_document
from dicomfab.studyspec.loading import parse_spec
from dicomfab.targets.config import Targets, find_config, load_targets
from dicomfab.web import dictionary, files, runs, tasks
from dicomfab.web.errors import bad_request, conflict, from_dicomfab, not_found
from dicomfab.web.header import header_rows
from dicomfab.web.jobs import Job, JobRunner
from dicomfab.web.limits import Nested, bounded
from dicomfab.web.paths import child_inside, resolve_inside
from dicomfab.web.security import REPORT_POLICY
from dicomfab.web.settings import UISettings

HEARTBEAT = 15.0  # seconds between SSE comments on a quiet stream
_WAIT = 1.0  # seconds an SSE stream waits for an event before checking again

ImageSize = Literal["full", "reduced", "small"]


class SpecBody(BaseModel):
    spec: Nested


class ImportBody(BaseModel):
    text: str
    filename: str = ""


class ExportBody(BaseModel):
    spec: Nested
    format: Literal["yaml", "json", "legacy"] = "yaml"


class GenerateBody(BaseModel):
    scenarios: list[str] = Field(min_length=1)
    params: Annotated[dict[str, Any], bounded] = Field(default_factory=dict)
    seed: int | None = Field(None, ge=0)
    output: str | None = None
    overwrite: bool = False


class GenerateSpecBody(BaseModel):
    spec: Nested
    output: str | None = None
    overwrite: bool = False


class RunBody(BaseModel):
    scenarios: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    params: Annotated[dict[str, Any], bounded] = Field(default_factory=dict)
    seed: int | None = Field(None, ge=0)
    image_size: ImageSize | None = None
    target: str | None = None


def overrides_from(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` as ``--set`` reads them: nested mappings flattened to dotted names, text
    values read as YAML (``--set rows=512`` gives 512)."""
    out: dict[str, Any] = {}
    for name, value in flatten_parameters(params).items():
        if isinstance(value, str):
            out.update([parse_assignment(f"{name}={value}")])
        else:
            out[name] = value
    return out


def parse_text(text: str, filename: str) -> Any:
    """JSON or YAML text (by the file name's suffix; without one, JSON if it looks like JSON),
    read by the CLI's bounded loader (size, nesting, aliases)."""
    source = filename or "the imported text"
    as_json = filename.lower().endswith(".json") or (
        not filename and text.lstrip().startswith(("{", "["))
    )
    return parse_document(text, fmt="json" if as_json else "yaml", source=source)


def job_answer(job: Job, response: Response) -> dict[str, Any]:
    response.status_code = 202
    return {"job": job.snapshot()}


def make_router(settings: UISettings, jobs: JobRunner) -> APIRouter:
    router = APIRouter(prefix="/api")
    roots = settings.roots

    def inside(value: str | None, field: str, default: Path) -> Path:
        return resolve_inside(str(default) if value in (None, "") else str(value), roots, field)

    def targets() -> Targets:
        return load_targets(find_config(settings.config))

    # ── about ──────────────────────────────────────────────────────────────────────────────

    @router.get("/info")
    def info() -> dict[str, Any]:
        config = find_config(settings.config)
        return {
            "version": __version__,
            "roots": [str(r) for r in roots],
            "output": str(settings.output_dir),
            "runs_dir": str(settings.runs_dir),
            "config": str(config) if config else None,
        }

    # ── the scenario library ───────────────────────────────────────────────────────────────

    @router.get("/scenarios")
    def list_scenarios() -> list[dict[str, Any]]:
        return [{**scenario_row(s), "why": " ".join(s.why.split())} for s in scenarios().values()]

    def scenario_or_404(name: str) -> Any:
        try:
            return get(name)
        except SpecError as exc:
            raise not_found(str(exc), exc.issues) from None

    @router.get("/scenarios/{name}")
    def describe(name: str) -> dict[str, Any]:
        scenario = scenario_or_404(name)
        data: dict[str, Any] = scenario.model_dump(mode="json")
        data["parameters"] = {
            k: p.model_dump(mode="json") for k, p in declared_parameters(scenario).items()
        }
        return data

    @router.get("/scenarios/{name}/spec")
    def scenario_spec(
        name: str, assignments: Annotated[list[str] | None, Query(alias="set")] = None
    ) -> dict[str, Any]:
        scenario = scenario_or_404(name)
        overrides = dict(parse_assignment(a) for a in assignments or [])
        composed = compose(scenario, overrides, load_profiles())
        return {"spec": composed.spec.model_dump(mode="json", exclude_unset=True)}

    @router.get("/sites")
    def sites() -> list[dict[str, Any]]:
        rows = []
        for name, profile in load_profiles().items():
            p = profile.patient
            rows.append(
                {
                    "name": name,
                    "description": profile.description,
                    "patient_name": p.name,
                    "birth_date": p.birth_date,
                    "patient_id": p.id,
                    "issuer": p.issuer,
                    "sex": p.sex,
                    "institution": profile.institution,
                    "manufacturer": profile.manufacturer,
                    "model": profile.model,
                    "station": profile.station,
                }
            )
        return rows

    # ── specs ──────────────────────────────────────────────────────────────────────────────

    @router.get("/spec/schema")
    def schema() -> dict[str, Any]:
        return spec_schema()

    @router.post("/spec/validate")
    def validate(body: SpecBody) -> dict[str, Any]:
        notes: list[str] = []
        try:
            plan = make_plan(parse_spec(body.spec, warn=notes.append))
        except DicomfabError as exc:
            issues = from_dicomfab(exc)["issues"]
            return {"ok": False, "issues": issues, "summary": None, "notes": notes}
        return {
            "ok": True,
            "issues": [],
            "summary": {
                "patients": len(plan.patients),
                "studies": len(plan.studies),
                "series": sum(len(s.series) for s in plan.studies),
                "instances": len(plan.instances),
            },
            "notes": notes,
        }

    @router.post("/spec/import")
    def import_spec(body: ImportBody) -> dict[str, Any]:
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
        return {"spec": data, "notes": notes}

    @router.post("/spec/export")
    def export_spec(body: ExportBody) -> dict[str, Any]:
        if body.format == "legacy":  # the predecessor's power-customize JSON; 400 if lossy
            data, notes = legacy_export.export(parse_spec(body.spec, source="spec"))
            text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
            return {"text": text, "notes": notes}
        if body.format == "json":
            return {"text": json.dumps(body.spec, indent=2, ensure_ascii=False) + "\n"}
        return {"text": yaml.safe_dump(body.spec, sort_keys=False, allow_unicode=True)}

    @router.get("/dictionary")
    def lookup(
        q: str = "", limit: Annotated[int, Query(ge=1, le=200)] = 20
    ) -> list[dict[str, str]]:
        return dictionary.search(q, limit)

    # ── generating ─────────────────────────────────────────────────────────────────────────

    def refuse_existing(output: Path, names: list[str], overwrite: bool) -> None:
        """Each dataset folder ``output/<name>`` must stay inside ``output`` (a 400 naming
        ``name``), and must not exist unless ``overwrite`` (a 409)."""
        for name in names:
            folder = child_inside(output, name, "name")
            if not overwrite and (folder.exists() or folder.is_symlink()):
                raise conflict("output", f"{folder} exists (set overwrite to replace it)")

    @router.post("/generate", status_code=202)
    def generate(body: GenerateBody, response: Response) -> dict[str, Any]:
        output = inside(body.output, "output", settings.output_dir)
        names = expand_names(body.scenarios, ())
        requests = scenario_requests(
            names, overrides_from(body.params), body.seed, overwrite=body.overwrite
        )
        refuse_existing(output, names, body.overwrite)
        work = tasks.generate_scenarios_job(requests, output, settings.workers)
        return job_answer(jobs.submit("generate", work), response)

    @router.post("/generate-spec", status_code=202)
    def generate_spec(body: GenerateSpecBody, response: Response) -> dict[str, Any]:
        output = inside(body.output, "output", settings.output_dir)
        spec = parse_spec(body.spec, source="spec")
        plan = make_plan(spec)
        refuse_existing(output, [spec.name], body.overwrite)
        work = tasks.generate_spec_job(spec, plan, output, body.overwrite, settings.workers)
        return job_answer(jobs.submit("generate", work), response)

    # ── jobs ───────────────────────────────────────────────────────────────────────────────

    def job_or_404(job_id: str) -> Job:
        job = jobs.get(job_id)
        if job is None:
            raise not_found(f"no job {job_id!r}")
        return job

    @router.get("/jobs/{job_id}")
    def job_state(job_id: str) -> dict[str, Any]:
        return job_or_404(job_id).snapshot()

    @router.get("/jobs/{job_id}/events", response_model=None)
    async def job_events(
        job_id: str, last_event_id: Annotated[str | None, Header()] = None
    ) -> Response | StreamingResponse:
        job = job_or_404(job_id)
        given = last_event_id or ""
        start = int(given) + 1 if given.isdigit() and len(given) <= 12 else 0
        if job.finished and start >= len(job.events):
            return Response(status_code=204)  # an EventSource does not reconnect after a 204
        return StreamingResponse(
            _stream(job, start),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    # ── results ────────────────────────────────────────────────────────────────────────────

    @router.get("/datasets")
    def list_datasets(output: str | None = None) -> list[dict[str, Any]]:
        return files.datasets(inside(output, "output", settings.output_dir))

    @router.get("/datasets/tree")
    def dataset_tree(path: str | None = None) -> dict[str, Any]:
        folder = inside(path, "path", settings.output_dir)
        if not folder.exists():
            raise bad_request("path", f"{folder} does not exist")
        return files.tree(folder)

    def existing_file(path: str) -> Path:
        file = resolve_inside(path, roots, "path")
        if not file.is_file():
            raise bad_request("path", f"{file} is not a file")
        return file

    @router.get("/preview/thumbnail", response_model=None)
    def thumbnail(path: str, size: Annotated[int, Query(ge=16, le=1024)] = 160) -> Response:
        file = existing_file(path)
        try:
            png = thumbnail_png(file, size)
        except Exception as exc:  # deliberately broken files are expected here
            raise bad_request("path", f"cannot preview {file.name}: {exc}") from None
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    @router.get("/preview/header")
    def header(path: str) -> dict[str, Any]:
        return header_rows(existing_file(path))

    # ── targets and runs ───────────────────────────────────────────────────────────────────

    @router.get("/targets")
    def list_targets() -> dict[str, Any]:
        path = find_config(settings.config)
        known = load_targets(path)
        rows = target_rows(known)
        return {"config": str(path) if path else None, "targets": rows}

    @router.post("/runs", status_code=202)
    def start_run(body: RunBody, response: Response) -> dict[str, Any]:
        names = choose(tuple(body.scenarios), tuple(body.tags), None)
        overrides = overrides_from(body.params)
        if body.image_size and "image_size" not in overrides:
            overrides = with_image_size(names, overrides, body.image_size)
        runs_dir = settings.runs_dir
        requests = scenario_requests(names, overrides, body.seed)
        known = targets()
        # an unknown or broken target, a policy or expectation that does not fit these scenarios,
        # a runs folder that cannot be written: 400 now, not a failed job
        check_run(RunRequest(requests, body.target, known, runs_dir=runs_dir))
        work = tasks.run_pipeline_job(requests, body.target, known, runs_dir, settings.workers)
        return job_answer(jobs.submit("run", work), response)

    @router.get("/runs")
    def list_runs() -> list[dict[str, Any]]:
        return runs.past_runs(settings.runs_dir)

    @router.get("/runs/{run_id}/report")
    def run_report(run_id: str) -> Any:
        path = runs.report_file(settings.runs_dir, run_id, "report.json")
        return json.loads(path.read_text(encoding="utf-8"))

    @router.get("/runs/{run_id}/report.html", response_model=None)
    def run_report_html(run_id: str) -> FileResponse:
        path = runs.report_file(settings.runs_dir, run_id, "report.html")
        # its own policy: the report's inline <style> and data: images, no script
        policy = {"Content-Security-Policy": REPORT_POLICY}
        return FileResponse(path, media_type="text/html; charset=utf-8", headers=policy)

    return router


def _event(index: int, event: dict[str, Any]) -> str:
    data = json.dumps(event["data"], ensure_ascii=False)
    return f"id: {index}\nevent: {event['event']}\ndata: {data}\n\n"


async def _stream(job: Job, start: int) -> AsyncIterator[str]:
    """The job's events from ``start`` on, then new ones as they come, until done or failed;
    a comment line every :data:`HEARTBEAT` seconds keeps proxies from closing a quiet stream."""
    seen = start
    last = time.monotonic()
    yield ": stream of job events\n\n"
    while True:
        events, finished = await anyio.to_thread.run_sync(job.events_after, seen, _WAIT)
        for event in events:
            yield _event(seen, event)
            seen += 1
            last = time.monotonic()
        if finished:
            return
        if time.monotonic() - last >= HEARTBEAT:
            yield ": heartbeat\n\n"
            last = time.monotonic()
