"""Background jobs (generate, run): one at a time in a worker thread, the others queued.

A job's events are append-only; listeners (the SSE endpoint) wait on the job's condition for
events past the last one they have seen. ``progress`` events are thinned out (at most one every
:data:`PROGRESS_INTERVAL` seconds per stage, plus the first and the last), the others are all
kept.

A job can be cancelled (:meth:`JobRunner.cancel`): a queued one never starts; a running one is
stopped as Ctrl-C stops the command line, by an :class:`~dicomfab.errors.Interrupted` raised in
the job's thread at its next progress call, or, when none comes within :data:`CANCEL_GRACE`
seconds (a stage blocked in a long wait), injected into that thread once. The work's own
``except KeyboardInterrupt`` / ``finally`` blocks then clean up (worker processes, the
embedded PACS) and a run writes its reports, marked interrupted; the job ends ``cancelled``.
"""

from __future__ import annotations

import ctypes
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from dicomfab.errors import DicomfabError, Interrupted
from dicomfab.web.errors import clip

log = logging.getLogger(__name__)

Kind = Literal["generate", "run"]
State = Literal["running", "done", "failed", "cancelled"]
FINAL_EVENTS = ("done", "failed", "cancelled")
PROGRESS_INTERVAL = 0.25  # seconds
CANCEL_GRACE = 2.0  # seconds a running job has to reach a progress call before it is interrupted
RECENT = 20  # finished jobs GET /api/jobs still lists


@dataclass
class Job:
    kind: Kind
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: State = "running"
    stage: str = "queued"
    done: int = 0
    total: int | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    result: Any = None
    error: str | None = None
    scenarios: list[str] = field(default_factory=list)  # what the job works on, for the job list
    created: float = field(default_factory=time.time)
    cancel_requested: bool = False
    cond: threading.Condition = field(default_factory=threading.Condition, repr=False)
    # the thread running the work, while it runs (None before and after): where to interrupt
    _thread: int | None = field(default=None, repr=False)
    _interrupted: bool = field(default=False, repr=False)

    @property
    def finished(self) -> bool:
        return self.state != "running"

    def check_cancel(self) -> None:
        """Raise :class:`Interrupted` in the job's own thread once a cancel was asked (a progress
        call from a helper thread of the work is left alone: the job's thread gets it)."""
        with self.cond:
            if (
                not self.cancel_requested
                or self._interrupted
                or self._thread != threading.get_ident()
            ):
                return
            self._interrupted = True
        raise Interrupted(2)

    def interrupt_now(self) -> None:
        """Inject :class:`Interrupted` into the job's thread, unless the job reached a progress
        call (and raised there) or finished meanwhile: at most once per job."""
        with self.cond:
            if self._thread is None or self._interrupted or self.finished:
                return
            self._interrupted = True
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(self._thread), ctypes.py_object(Interrupted)
            )

    def emit(self, event: str, data: dict[str, Any]) -> None:
        with self.cond:
            self.events.append({"event": event, "data": data})
            self.cond.notify_all()

    def events_after(self, seen: int, timeout: float) -> tuple[list[dict[str, Any]], bool]:
        """Events from index ``seen`` on, waiting up to ``timeout`` s for one; and whether the
        job is finished (no more will come)."""
        with self.cond:
            if len(self.events) <= seen and not self.finished:
                self.cond.wait(timeout)
            return self.events[seen:], self.finished

    def snapshot(self) -> dict[str, Any]:
        with self.cond:
            return {
                "id": self.id,
                "kind": self.kind,
                "state": self.state,
                "stage": self.stage,
                "done": self.done,
                "total": self.total,
                "events": list(self.events),
                "result": self.result,
                "error": self.error,
                "scenarios": list(self.scenarios),
                "created": self.created,
                "cancel_requested": self.cancel_requested,
            }

    def listing(self) -> dict[str, Any]:
        """The job without its events: a row of GET /api/jobs."""
        row = self.snapshot()
        del row["events"]
        return row


class JobProgress:
    """The pipeline's ``Progress`` protocol (begin/advance/end), recorded as job events."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self._last = 0.0
        self._sent: tuple[str, int, int | None] | None = None

    def begin(self, stage: str, total: int | None = None) -> None:
        self.job.check_cancel()
        self.job.stage, self.job.done, self.job.total = stage, 0, total
        self._progress(force=True)

    def advance(self, n: int = 1) -> None:
        self.job.check_cancel()
        self.job.done += n
        self._progress(force=self.job.total is not None and self.job.done >= self.job.total)

    def end(self, summary: str) -> None:
        self.job.check_cancel()
        self._progress(force=True)
        self.job.emit("stage", {"stage": self.job.stage, "summary": summary})

    def _progress(self, *, force: bool) -> None:
        job = self.job
        current = (job.stage, job.done, job.total)
        now = time.monotonic()
        if current != self._sent and (force or now - self._last >= PROGRESS_INTERVAL):
            self._last, self._sent = now, current
            job.emit("progress", {"stage": job.stage, "done": job.done, "total": job.total})


Work = Callable[[JobProgress], Any]


class JobRunner:
    """Runs submitted work one job at a time, in submission order, in a daemon thread."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self._queue: queue.Queue[tuple[Job, Work]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, kind: Kind, work: Work, scenarios: list[str] | None = None) -> Job:
        job = Job(kind, scenarios=list(scenarios or []))
        with self._lock:
            self.jobs[job.id] = job
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="dicomfab-jobs", daemon=True
                )
                self._thread.start()
        self._queue.put((job, work))
        return job

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def listing(self) -> list[Job]:
        """Every running or queued job and the :data:`RECENT` last finished ones, newest
        first."""
        with self._lock:
            jobs = sorted(self.jobs.values(), key=lambda j: j.created, reverse=True)
        finished = [j for j in jobs if j.finished][:RECENT]
        return [j for j in jobs if not j.finished or j in finished]

    def cancel(self, job: Job) -> None:
        """Ask ``job`` to stop (see the module's docstring); nothing for a finished job."""
        with job.cond:
            if job.finished or job.cancel_requested:
                return
            job.cancel_requested = True
            job.emit("cancelling", {"stage": job.stage})
        timer = threading.Timer(CANCEL_GRACE, job.interrupt_now)
        timer.daemon = True
        timer.start()

    def _loop(self) -> None:
        while True:
            job, work = self._queue.get()
            try:
                run_job(job, work)
            except BaseException:  # an interruption that came too late: the job is finished
                log.exception("job %s", job.id)


def run_job(job: Job, work: Work) -> None:
    """Run ``work`` and finish ``job``: ``done`` with its result, ``failed`` with the message
    (the command line's, for a DicomfabError), or ``cancelled`` (with what the work attached
    to the interruption as ``result``, if anything)."""
    with job.cond:
        if job.cancel_requested:  # cancelled while queued: never started
            job.state, job.error = "cancelled", "cancelled before it started"
            job.events.append({"event": "cancelled", "data": {"error": job.error, "result": None}})
            job.cond.notify_all()
            return
        job._thread = threading.get_ident()
    try:
        try:
            result = work(JobProgress(job))
        finally:
            with job.cond:
                job._thread = None
    except KeyboardInterrupt as exc:
        _finish(job, "cancelled", result=getattr(exc, "result", None), error="cancelled")
    except DicomfabError as exc:
        _fail(job, str(exc))
    except Exception as exc:  # a bug (MemoryError, RecursionError too): keep the server up
        log.exception("job %s failed", job.id)
        _fail(job, f"internal error: {type(exc).__name__}: {exc}")
    else:
        _finish(job, "done", result=result)


def _fail(job: Job, message: str) -> None:
    _finish(job, "failed", error=clip(message))


def _finish(job: Job, state: State, *, result: Any = None, error: str | None = None) -> None:
    """Set the final state and append the final event at once: a listener that sees the job
    finished has its last event too."""
    with job.cond:
        job.state, job.result, job.error = state, result, error
        data: dict[str, Any] = {"result": result} if state == "done" else {"error": error}
        if state == "cancelled":
            data["result"] = result
        job.events.append({"event": state, "data": data})
        job.cond.notify_all()
