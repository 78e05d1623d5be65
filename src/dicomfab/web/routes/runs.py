"""Targets and runs: the targets file, starting a run (a background job), past runs and their
reports."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from dicomfab.run.connect import load_targets, target_rows
from dicomfab.run.pipeline import RunRequest
from dicomfab.run.prerun import check_run
from dicomfab.scenarios.selection import choose, scenario_requests, with_image_size
from dicomfab.web import runs, tasks
from dicomfab.web.limits import bounded
from dicomfab.web.routes.common import Answer, Context, JobAnswer, RunSummary, overrides_from
from dicomfab.web.security import REPORT_POLICY


class RunBody(BaseModel):
    scenarios: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    params: Annotated[dict[str, Any], bounded] = Field(default_factory=dict)
    seed: int | None = Field(None, ge=0)
    image_size: Literal["full", "reduced", "small"] | None = None
    target: str | None = None


class TargetRow(Answer):
    """A target as ``dicomfab targets --json`` shows it (secrets masked); ``problem``: why a
    broken one cannot be used."""

    name: str
    description: str
    ingest: str
    verify: list[str]
    problem: str | None


class TargetList(Answer):
    config: str | None
    targets: list[TargetRow]


class PastRun(Answer):
    """A run folder with a report (values missing from the report are null)."""

    id: str
    path: str
    started: str | None
    target: str | None
    passed: bool | None
    scenarios: int | None
    scenarios_failed: int | None
    error: str | None


class EvidenceReport(BaseModel):
    """One verifier's verdict on a record (:class:`dicomfab.run.checks.Evidence`)."""

    verifier: str
    status: str
    reason: str


class StudyReport(BaseModel):
    """One study's check (:class:`dicomfab.run.checks.StudyCheck`): one per study, whatever
    the number of verifiers; ``evidence`` holds each one's verdict when there were several."""

    model_config = ConfigDict(extra="allow")

    study_instance_uid: str
    role: str
    patient_id: str
    expected_outcome: str
    status: str
    reason: str
    evidence: list[EvidenceReport] = Field(default_factory=list)


class InstanceReport(BaseModel):
    """One instance's check (:class:`dicomfab.run.checks.InstanceCheck`): one per manifest
    entry, whatever the number of verifiers, as for :class:`StudyReport`."""

    model_config = ConfigDict(extra="allow")

    sop_instance_uid: str
    file: str
    label: str
    study_instance_uid: str
    declared_outcome: str
    expected_outcome: str
    written: bool
    expected_present: bool | None
    observed_present: bool
    mismatches: list[dict[str, str]]
    ingest: dict[str, Any] | None
    status: str
    reason: str
    passed: bool
    evidence: list[EvidenceReport] = Field(default_factory=list)
    copies: str | None = Field(
        None, description="one of several copies of its SOP Instance UID: the rule in force"
    )


class ScenarioReport(BaseModel):
    """One scenario of a run report (:meth:`dicomfab.run.checks.ScenarioResult.to_dict`);
    ``not_run``, ``delivery`` and ``delivered`` only for a scenario the run did not reach."""

    model_config = ConfigDict(extra="allow")

    name: str
    dataset: str
    scenario: str | None
    category: str | None
    source: str
    status: str
    passed: bool
    not_run: str | None = None
    delivery: dict[str, int] | None = None
    delivered: list[dict[str, Any]] | None = None
    overrides: dict[str, str]
    counts: dict[str, int]
    failures: list[str]
    not_checked: list[str]
    not_observable: list[str] = Field(
        default_factory=list,
        description="what the scenario says no index can show, with why: neither pass nor fail",
    )
    links: list[str] = Field(
        default_factory=list, description="every link / no-link verdict with its evidence"
    )
    studies: list[StudyReport]
    instances: list[InstanceReport]


class RunReport(BaseModel):
    """A run's ``report.json``, as written."""

    model_config = ConfigDict(extra="allow")

    format: int
    kind: str
    run: dict[str, Any]
    summary: RunSummary
    scenarios: list[ScenarioReport]


class NotCheckedGroup(Answer):
    """Records no verifier could decide, for one reason: named once with the verifiers that
    could not decide them."""

    reason: str
    verifiers: list[str]
    records: list[str]


class RunScenarioRow(Answer):
    """A scenario of a run without its records (:class:`ScenarioReport` minus ``studies`` and
    ``instances``), its not-checked records grouped, and its passes through overrides."""

    model_config = ConfigDict(extra="allow", json_schema_serialization_defaults_required=True)

    name: str
    dataset: str
    scenario: str | None
    category: str | None
    source: str
    status: str
    passed: bool
    not_run: str | None = None
    overrides: dict[str, str]
    counts: dict[str, int]
    failures: list[str]
    not_checked: list[str]
    not_observable: list[str] = Field(default_factory=list)
    links: list[str] = Field(default_factory=list)
    not_checked_groups: list[NotCheckedGroup]
    passed_by_override: int = Field(
        description="instances that passed because the target expects another outcome than "
        "the scenario declares"
    )


class RunOverview(Answer):
    """A run without its records: ``folder`` and ``generated`` relative to the first root."""

    id: str
    folder: str
    generated: str | None
    run: dict[str, Any]
    summary: RunSummary
    scenarios: list[RunScenarioRow]


class InstanceRecord(InstanceReport):
    """An instance's check with its file (``path``, relative to the first root, for
    /api/preview/*; null when not on disk) and ``override`` (``reject→accept``) when the
    target's expectation is not the scenario's."""

    path: str | None
    override: str | None


class ScenarioRecords(RunScenarioRow):
    """One scenario of a run, record by record."""

    studies: list[StudyReport]
    instances: list[InstanceRecord]
    delivered: list[dict[str, Any]] | None = None


_HTML: dict[int | str, dict[str, Any]] = {
    200: {"description": "the run's HTML report", "content": {"text/html": {}}}
}


def make_router(ctx: Context) -> APIRouter:
    router = APIRouter()
    settings = ctx.settings

    @router.get("/targets", response_model=TargetList)
    def list_targets() -> TargetList:
        path = ctx.config_file()
        rows = [TargetRow.model_validate(r) for r in target_rows(load_targets(path))]
        return TargetList(config=str(path) if path else None, targets=rows)

    @router.post("/runs", status_code=202, response_model=JobAnswer)
    def start_run(body: RunBody) -> JobAnswer:
        names = choose(tuple(body.scenarios), tuple(body.tags), None)
        overrides = overrides_from(body.params)
        if body.image_size and "image_size" not in overrides:
            overrides = with_image_size(names, overrides, body.image_size)
        runs_dir = settings.runs_dir
        requests = scenario_requests(names, overrides, body.seed)
        known = ctx.targets()
        # an unknown or broken target, a policy or expectation that does not fit these scenarios,
        # a runs folder that cannot be written: 400 now, not a failed job
        check_run(RunRequest(requests, body.target, known, runs_dir=runs_dir))
        work = tasks.run_pipeline_job(requests, body.target, known, runs_dir, settings.workers)
        return ctx.submitted(ctx.jobs.submit("run", work, [r.name for r in requests]))

    @router.get("/runs", response_model=list[PastRun])
    def list_runs() -> list[dict[str, Any]]:
        """Newest first."""
        return runs.past_runs(settings.runs_dir)

    @router.get(
        "/runs/{run_id}/report", response_model=RunReport, response_model_exclude_unset=True
    )
    def run_report(run_id: str) -> Any:
        path = runs.report_file(settings.runs_dir, run_id, "report.json")
        return json.loads(path.read_text(encoding="utf-8"))

    @router.get("/runs/{run_id}/overview", response_model=RunOverview)
    def run_overview(run_id: str) -> Any:
        """The run's summary and one row per scenario, without the records: light for the whole
        library; a scenario's records come from /runs/{run_id}/scenarios/{name}."""
        return runs.overview(settings.runs_dir, settings.roots[0], run_id)

    @router.get("/runs/{run_id}/scenarios/{name}", response_model=ScenarioRecords)
    def run_scenario(run_id: str, name: str) -> Any:
        return runs.scenario_records(settings.runs_dir, settings.roots[0], run_id, name)

    @router.get(
        "/runs/{run_id}/report.html",
        response_model=None,
        response_class=FileResponse,
        responses=_HTML,
    )
    def run_report_html(run_id: str) -> FileResponse:
        path = runs.report_file(settings.runs_dir, run_id, "report.html")
        # its own policy: the report's inline <style> and data: images, no script
        policy = {"Content-Security-Policy": REPORT_POLICY}
        return FileResponse(path, media_type="text/html; charset=utf-8", headers=policy)

    return router
