"""Generating scenarios: each into ``<output>/<scenario name>/``, several at once on both cores."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dicomfab.output.atomic import partial_folders
from dicomfab.output.generate import (
    GenerateResult,
    default_workers,
    generate,
    quiet_worker,
    stop_pool,
)
from dicomfab.scenarios.compose import compose, finish
from dicomfab.scenarios.library import get
from dicomfab.scenarios.profiles import load_profiles


@dataclass(frozen=True)
class ScenarioRequest:
    """What to generate: a scenario name, parameter overrides, seed, where, and how."""

    name: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    sites: Path | None = None
    overwrite: bool = False


def generate_one(request: ScenarioRequest, output: Path) -> GenerateResult:
    scenario = get(request.name)
    composed = compose(scenario, request.overrides, load_profiles(request.sites), seed=request.seed)
    return generate(
        composed.spec,
        output,
        overwrite=request.overwrite,
        workers=1,
        plan=composed.plan,
        finish=lambda root, manifest: finish(composed, root, manifest),
    )


def generate_scenarios(
    requests: Sequence[ScenarioRequest],
    output: Path,
    *,
    workers: int | None = None,
    progress: Callable[[GenerateResult], None] | None = None,
    executor: Executor | None = None,
) -> list[GenerateResult]:
    """Generate every request (validated first, so a bad one stops all before anything is
    written); scenarios are spread over ``workers`` processes.

    Interrupted (or on an error), the scenarios already generated stay in ``output``; the
    workers are stopped at once and the half-written folders of the ones they were generating
    are removed.

    ``executor`` (e.g. a Dask cluster's, :mod:`dicomfab.output.distributed`) generates the
    scenarios instead of a local process pool, each whole on one of its workers, which must
    all see ``output``; stopped, it lets the scenarios already started finish."""
    profiles = {r.sites: load_profiles(r.sites) for r in requests}
    for r in requests:  # fail fast: every scenario composes before any is written
        compose(get(r.name), r.overrides, profiles[r.sites], seed=r.seed)
    workers = workers or default_workers()
    results: list[GenerateResult] = []
    if executor is not None:
        return _on(executor, requests, output, progress)
    if workers <= 1 or len(requests) < 2:
        for r in requests:
            results.append(generate_one(r, output))
            if progress:
                progress(results[-1])
        return results
    pool = ProcessPoolExecutor(max_workers=workers, initializer=quiet_worker)
    futures = [pool.submit(generate_one, r, output) for r in requests]
    try:
        for future in futures:
            results.append(future.result())
            if progress:
                progress(results[-1])
    except BaseException:
        for pid in stop_pool(pool):
            for partial in partial_folders(output, pid):
                shutil.rmtree(partial, ignore_errors=True)
        raise
    pool.shutdown()
    return results


def _on(
    executor: Executor,
    requests: Sequence[ScenarioRequest],
    output: Path,
    progress: Callable[[GenerateResult], None] | None,
) -> list[GenerateResult]:
    # absolute: a worker has its own working folder
    futures = [executor.submit(generate_one, r, output.absolute()) for r in requests]
    results: list[GenerateResult] = []
    try:
        for future in futures:
            result = future.result()
            results.append(replace(result, path=output / result.path.name))
            if progress:
                progress(results[-1])
    except BaseException:  # a scenario being written publishes or removes its own folder
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    return results
