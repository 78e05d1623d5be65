"""What every area of the API shares: the server's context, the error and job answers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dicomfab.run.connect import load_targets
from dicomfab.scenarios.params import parse_assignment
from dicomfab.scenarios.selection import flatten_parameters
from dicomfab.targets.config import Targets, find_config
from dicomfab.web.jobs import Job, JobRunner
from dicomfab.web.paths import resolve_inside
from dicomfab.web.settings import UISettings


class Answer(BaseModel):
    """An answer's shape: a field with a default is still always sent, so the OpenAPI document
    (and the generated TypeScript) marks it required."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class Issue(Answer):
    path: str
    message: str
    suggestion: str | None


class ErrorDetail(Answer):
    message: str
    issues: list[Issue]


class ErrorAnswer(Answer):
    """Every error (see :mod:`dicomfab.web.errors`)."""

    detail: ErrorDetail


#: the errors any route may answer, all in the one shape
ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "model": ErrorAnswer,
        "description": "400 bad input, 401 no or a wrong token, 403 another host or a "
        "cross-origin write, 404 no such thing, 409 the output exists, 413 the body is too "
        "large, 422 a spec, scenario, parameter or target at fault",
    },
    "5XX": {"model": ErrorAnswer, "description": "a bug (the server's log has the details)"},
}


class JobEvent(Answer):
    """``progress`` ``{stage, done, total}``, ``stage`` ``{stage, summary}``, ``done``
    ``{result}``, ``failed`` ``{error}``."""

    event: str
    data: dict[str, Any]


class GeneratedDataset(Answer):
    """One dataset a generate job wrote."""

    name: str
    path: str
    files: int
    bytes: int


class RunSummary(Answer):
    """A run report's ``summary`` (:func:`dicomfab.run.report.summary`)."""

    model_config = ConfigDict(extra="allow")

    passed: bool
    stopped: bool
    interrupted: bool
    signal: str | None
    stage: str | None
    error: str | None
    scenarios: int
    scenarios_passed: int
    scenarios_failed: int
    scenarios_not_run: int
    counts: dict[str, int]
    seed: int | None = None  # reports written before runs had a seed lack it


class RunResult(RunSummary):
    """A run job's result: ``dicomfab run --json`` plus the run's ``id`` (its folder's name)."""

    id: str
    run_dir: str
    report_dir: str
    target: str
    exit_code: int
    stages: dict[str, float]
    reports: list[str]
    report_error: str | None
    kept: str | None


class JobRow(Answer):
    """A job without its events (a queued one is ``running`` in stage ``queued``); a
    ``cancelled`` run's ``result`` is its summary, marked interrupted."""

    id: str
    kind: Literal["generate", "run"]
    state: Literal["running", "done", "failed", "cancelled"]
    stage: str
    done: int
    total: int | None
    result: list[GeneratedDataset] | RunResult | None
    error: str | None
    scenarios: list[str] = Field(description="the scenarios it works on (empty: a spec)")
    created: float = Field(description="when it was submitted (seconds since the epoch)")
    cancel_requested: bool


class JobState(JobRow):
    """A job with its events."""

    events: list[JobEvent]


class JobAnswer(Answer):
    """A job just submitted (status 202)."""

    job: JobState


@dataclass(frozen=True)
class Context:
    """What the routes of one server work with."""

    settings: UISettings
    jobs: JobRunner

    def inside(self, value: str | None, field: str, default: Path) -> Path:
        """``value`` (``default`` when empty) confined to the roots; a 400 naming ``field``."""
        given = str(default) if value in (None, "") else str(value)
        return resolve_inside(given, self.settings.roots, field)

    def config_file(self) -> Path | None:
        """The targets file in use (``--config``, else the one found), if any."""
        return find_config(self.settings.config)

    def targets(self) -> Targets:
        return load_targets(self.config_file())

    def submitted(self, job: Job) -> JobAnswer:
        return JobAnswer(job=JobState.model_validate(job.snapshot()))


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
