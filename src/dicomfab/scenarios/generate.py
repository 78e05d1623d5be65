"""Generating scenarios: each into ``<output>/<scenario name>/``, several at once on both cores."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dicomfab.output.atomic import partial_folders
from dicomfab.output.files import keeping
from dicomfab.output.generate import (
    GenerateResult,
    default_workers,
    generate,
    quiet_worker,
    stop_pool,
)
from dicomfab.scenarios.compose import Composed, compose, finish, mutated_files
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


_composed: dict[int, tuple[ScenarioRequest, Composed]] = {}
"""The scenarios ``generate_scenarios`` composed (to check them), by position: forked workers
inherit them and need not compose them again (a spec, its twin and two plans each)."""


def generate_one(
    request: ScenarioRequest, output: Path, composed: Composed | None = None, workers: int = 1
) -> GenerateResult:
    """Generate one scenario; ``composed`` is the request's composition when the caller has
    it already (composing plans the study twice: the cost of a small scenario)."""
    if composed is None:
        scenario = get(request.name)
        profiles = load_profiles(request.sites)
        composed = compose(scenario, request.overrides, profiles, seed=request.seed)
    done: Composed = composed
    with keeping(mutated_files(done)):  # broken after writing: no need to read them back
        return generate(
            done.spec,
            output,
            overwrite=request.overwrite,
            workers=workers,
            plan=done.plan,
            finish=lambda root, manifest: finish(done, root, manifest),
        )


def _generate_at(position: int, request: ScenarioRequest, output: Path) -> GenerateResult:
    """Worker-process entry: the request at ``position``, composed already if this process was
    forked from the one that composed it (``request`` tells a stale entry from a match)."""
    known = _composed.get(position)
    composed = known[1] if known is not None and known[0] == request else None
    return generate_one(request, output, composed)


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
    # fail fast: every scenario composes before any is written (and is generated as composed)
    composed = [compose(get(r.name), r.overrides, profiles[r.sites], seed=r.seed) for r in requests]
    workers = workers or default_workers()
    results: list[GenerateResult] = []
    if executor is not None:
        return _on(executor, requests, output, progress)
    if workers <= 1 or len(requests) < 2:
        for r, c in zip(requests, composed, strict=True):
            # one scenario alone gets the workers (its patients, or its views, split over them)
            results.append(generate_one(r, output, c, workers if len(requests) == 1 else 1))
            if progress:
                progress(results[-1])
        return results
    _composed.clear()
    _composed.update(enumerate(zip(requests, composed, strict=True)))
    # the costliest first, so that the last to finish are small ones and no core idles long
    order = sorted(range(len(requests)), key=lambda i: -_cost(composed[i]))
    futures: list[Future[GenerateResult]] = [Future()] * len(requests)
    try:
        pool = ProcessPoolExecutor(max_workers=workers, initializer=quiet_worker)
        # the workers start (fork) at the first submit, with ``_composed`` filled in
        for i in order:
            futures[i] = pool.submit(_generate_at, i, requests[i], output)
    finally:
        _composed.clear()
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


def _cost(composed: Composed) -> int:
    """A rough guess of the work of generating a scenario: its pixels, those of a compressed
    syntax weighted by the encoding (a lossy one searches its quality over several attempts),
    and a fixed part per instance."""
    total = 0
    for inst in composed.plan.instances:
        opts, syntax = inst.pixels, inst.transfer_syntax
        pixels = (opts.rows or 512) * (opts.columns or 512) * (opts.frames or 1)
        weight = 1 + (2 if syntax.compressed else 0) + (6 if syntax.lossy else 0)
        total += 200_000 + pixels * weight
    return total


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
