"""The routes of docs/web.md, one module per area, all under ``/api`` (the token is checked by
the security middleware). Every JSON answer has a pydantic model (``response_model``): FastAPI
checks what it sends, and the OpenAPI document (``/api/openapi.json``, committed as
web/openapi.json) is where the front end's TypeScript types come from.

Each route calls what the matching command calls: ``list``/``describe`` → the scenario library,
``schema``/``validate`` → the spec loader and planner, ``generate`` → ``generate_scenarios`` /
``generate``, ``run`` → the pipeline, ``targets`` → the targets file, ``inspect`` → the preview
reader. Bad input answers 400 (422 for a spec at fault, 409 when the output exists) with the
command line's message and every issue; free-form JSON fields have a bounded depth
(:mod:`dicomfab.web.limits`), every path is confined to the roots (:mod:`dicomfab.web.paths`).
"""

from __future__ import annotations

from fastapi import APIRouter

from dicomfab.web.jobs import JobRunner
from dicomfab.web.routes import about, files, generate, guided, jobs, runs, scenarios, spec
from dicomfab.web.routes.common import ERRORS, Context
from dicomfab.web.settings import UISettings

AREAS = (about, scenarios, spec, guided, generate, jobs, files, runs)


def make_router(settings: UISettings, runner: JobRunner) -> APIRouter:
    router = APIRouter(prefix="/api", responses=ERRORS)
    ctx = Context(settings, runner)
    for area in AREAS:
        router.include_router(area.make_router(ctx))
    return router
