"""What the background jobs do: the same library calls as ``dicomfab generate`` and
``dicomfab run``, reporting to a :class:`~dicomfab.web.jobs.JobProgress`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dicomfab.builder.plan_model import Plan
from dicomfab.output.generate import GenerateResult, generate
from dicomfab.run.pipeline import RunRequest, execute
from dicomfab.scenarios import ScenarioRequest, generate_scenarios
from dicomfab.studyspec.models import Spec
from dicomfab.targets.config import Targets
from dicomfab.web.jobs import JobProgress


def generated(result: GenerateResult) -> dict[str, Any]:
    """One entry of a generate job's result: ``{name, path, files, bytes}``."""
    return {
        "name": result.manifest.scenario or result.manifest.dataset,
        "path": str(result.path),
        "files": result.files_written,
        "bytes": result.bytes_written,
    }


def _totals(results: Sequence[GenerateResult]) -> str:
    files = sum(r.files_written for r in results)
    size = sum(r.bytes_written for r in results)
    return f"{len(results)} datasets, {files} files, {size / 1e6:.1f} MB written"


def generate_scenarios_job(
    requests: Sequence[ScenarioRequest], output: Path, workers: int | None
) -> Any:
    def work(progress: JobProgress) -> list[dict[str, Any]]:
        progress.begin("generate", len(requests))
        results = generate_scenarios(
            requests, output, workers=workers, progress=lambda _r: progress.advance()
        )
        progress.end(_totals(results))
        return [generated(r) for r in results]

    return work


def generate_spec_job(
    spec: Spec, plan: Plan, output: Path, overwrite: bool, workers: int | None
) -> Any:
    def work(progress: JobProgress) -> list[dict[str, Any]]:
        progress.begin("generate", len(plan.instances))
        result = generate(
            spec, output, overwrite=overwrite, workers=workers, plan=plan, progress=progress.advance
        )
        progress.end(_totals([result]))
        return [generated(result)]

    return work


def run_pipeline_job(
    requests: Sequence[ScenarioRequest],
    target: str | None,
    targets: Targets,
    runs_dir: Path,
    workers: int | None,
) -> Any:
    def work(progress: JobProgress) -> dict[str, Any]:
        request = RunRequest(requests, target, targets, runs_dir=runs_dir, workers=workers)
        try:
            outcome = execute(request, progress)
        except KeyboardInterrupt as exc:  # cancelled: the reports are written, marked interrupted
            stopped = getattr(exc, "outcome", None)
            if stopped is not None:
                exc.result = {"id": stopped.run_dir.name, **stopped.to_dict()}  # type: ignore[attr-defined]
            raise
        return {"id": outcome.run_dir.name, **outcome.to_dict()}

    return work
