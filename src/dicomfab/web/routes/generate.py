"""Generating: scenarios (``dicomfab generate -s``) or a spec (``dicomfab generate SPEC``), as
background jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from dicomfab.builder.plan import make_plan
from dicomfab.scenarios.selection import expand_names, scenario_requests
from dicomfab.studyspec.loading import parse_spec
from dicomfab.web import tasks
from dicomfab.web.errors import conflict
from dicomfab.web.limits import Nested, bounded
from dicomfab.web.paths import child_inside
from dicomfab.web.routes.common import Context, JobAnswer, overrides_from


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


def refuse_existing(output: Path, names: list[str], overwrite: bool) -> None:
    """Each dataset folder ``output/<name>`` must stay inside ``output`` (a 400 naming
    ``name``), and must not exist unless ``overwrite`` (a 409)."""
    for name in names:
        folder = child_inside(output, name, "name")
        if not overwrite and (folder.exists() or folder.is_symlink()):
            raise conflict("output", f"{folder} exists (set overwrite to replace it)")


def make_router(ctx: Context) -> APIRouter:
    router = APIRouter()
    settings = ctx.settings

    @router.post("/generate", status_code=202, response_model=JobAnswer)
    def generate(body: GenerateBody) -> JobAnswer:
        output = ctx.inside(body.output, "output", settings.output_dir)
        names = expand_names(body.scenarios, ())
        requests = scenario_requests(
            names, overrides_from(body.params), body.seed, overwrite=body.overwrite
        )
        refuse_existing(output, names, body.overwrite)
        work = tasks.generate_scenarios_job(requests, output, settings.workers)
        return ctx.submitted(ctx.jobs.submit("generate", work))

    @router.post("/generate-spec", status_code=202, response_model=JobAnswer)
    def generate_spec(body: GenerateSpecBody) -> JobAnswer:
        output = ctx.inside(body.output, "output", settings.output_dir)
        spec = parse_spec(body.spec, source="spec")
        plan = make_plan(spec)
        refuse_existing(output, [spec.name], body.overwrite)
        work = tasks.generate_spec_job(spec, plan, output, body.overwrite, settings.workers)
        return ctx.submitted(ctx.jobs.submit("generate", work))

    return router
