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
"""Workers unless told. Against Orthanc 1.10 on a loaded 2-core machine (``benchmarks/verify.py``,
1000 instances in 250 studies), 4 at once against 1: C-FIND 1.3-1.4 × (2.1 × over 10^4), QIDO-RS
1.5-2.2 ×; the machine's other load makes single passes vary more than that."""
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
    done = threading.Condition()
    running: set[int] = set()
    halt = threading.Event()
    pending = iter(range(len(jobs)))

    def worker(slot: int) -> None:
        try:
            while not halt.is_set():
                with done:
                    index = next(pending, None)
                if index is None:
                    return
                try:
                    outcome: _Result | _Failed = work(slot, jobs[index])
                except BaseException as exc:
                    outcome = _Failed(exc)
                    halt.set()
                with done:
                    results[index] = outcome
        finally:
            with done:
                running.discard(slot)
                done.notify_all()

    def wait(timeout: float | None) -> None:
        """Until every worker has ended (or ``timeout`` seconds have passed). Not Thread.join:
        a KeyboardInterrupt inside join() can leave CPython < 3.13 thinking a running thread
        has stopped."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with done:
            while running:
                left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
                if left <= 0:
                    return
                done.wait(left)  # short steps: a KeyboardInterrupt reaches the main thread

    count = min(workers, len(jobs))
    threads = [
        threading.Thread(target=worker, args=(slot,), name=f"dicomfab-{name}-{slot}", daemon=True)
        for slot in range(count)
    ]
    launched: list[int] = []  # slots whose start() was called (it may have been interrupted)
    try:
        for slot, thread in enumerate(threads):
            with done:
                running.add(slot)
            launched.append(slot)
            thread.start()
        wait(None)
    except BaseException:
        halt.set()
        stop()
        with done:  # a worker whose start() was never called never runs
            running.intersection_update(launched)
        wait(STOP_GRACE)
        for slot in launched:
            if threads[slot].ident is not None:
                threads[slot].join(0.5)  # past its last line: only its own exit is left
        raise
    failures = [results[i] for i in sorted(results) if isinstance(results[i], _Failed)]
    if failures:
        raise failures[0].exc  # type: ignore[union-attr]
    return [results[i] for i in range(len(jobs))]  # type: ignore[misc]
