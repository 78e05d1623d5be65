"""Run a verifier's queries over several workers (associations, HTTP connections) at once.

    results = run_parallel(jobs, work, workers, stop=abort_everything, name="cfind")

``work(slot, job)`` runs on worker ``slot`` (0 … workers-1; one worker never runs two jobs at
once, so a worker's own association or connection needs no lock). The results come back in the
order of ``jobs`` whatever order the workers finish in, so the caller merges them exactly as a
sequential loop would. The first failure stops the others taking new jobs; the failure of the
earliest job is raised (what a sequential loop would have raised first, as far as it got).
Interrupted (Ctrl-C, SIGTERM raised as an exception in the main thread), ``stop()`` is called
(it aborts what the workers wait on) and every worker thread is joined, bounded by
:data:`STOP_GRACE`, before the interruption goes on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

_Job = TypeVar("_Job")
_Result = TypeVar("_Result")

DEFAULT_PARALLEL = 4
"""Workers unless told: C-FIND and QIDO-RS verification of 10^4 instances against Orthanc on
2 cores (``benchmarks/verify.py``) gains little past 4."""
STOP_GRACE = 5.0  # seconds the workers get to end after ``stop()``


class _Failed:
    """A job that raised (kept with its job so the earliest one is raised)."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def run_parallel(
    jobs: Sequence[_Job],
    work: Callable[[int, _Job], _Result],
    workers: int,
    *,
    stop: Callable[[], None],
    name: str,
) -> list[_Result]:
    """``work(slot, job)`` for each job on ``workers`` threads; the results in job order."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if workers == 1 or len(jobs) <= 1:
        try:
            return [work(0, job) for job in jobs]
        except BaseException:
            stop()
            raise
    results: dict[int, _Result | _Failed] = {}
    lock = threading.Lock()
    halt = threading.Event()
    pending = iter(range(len(jobs)))

    def worker(slot: int) -> None:
        while not halt.is_set():
            with lock:
                index = next(pending, None)
            if index is None:
                return
            try:
                outcome: _Result | _Failed = work(slot, jobs[index])
            except BaseException as exc:
                outcome = _Failed(exc)
                halt.set()
            with lock:
                results[index] = outcome

    threads = [
        threading.Thread(target=worker, args=(slot,), name=f"dicomfab-{name}-{slot}", daemon=True)
        for slot in range(min(workers, len(jobs)))
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.1)  # short steps: a KeyboardInterrupt reaches the main thread
    except BaseException:
        halt.set()
        stop()
        deadline = time.monotonic() + STOP_GRACE
        for thread in threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
        raise
    failures = [results[i] for i in sorted(results) if isinstance(results[i], _Failed)]
    if failures:
        raise failures[0].exc  # type: ignore[union-attr]
    return [results[i] for i in range(len(jobs))]  # type: ignore[misc]
