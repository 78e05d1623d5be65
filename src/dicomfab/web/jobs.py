"""Background jobs (generate, run): one at a time in a worker thread, the others queued.

A job's events are append-only; listeners (the SSE endpoint) wait on the job's condition for
events past the last one they have seen. ``progress`` events are thinned out (at most one every
:data:`PROGRESS_INTERVAL` seconds per stage, plus the first and the last), the others are all
kept.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from dicomfab.errors import DicomfabError
from dicomfab.web.errors import clip

log = logging.getLogger(__name__)

Kind = Literal["generate", "run"]
State = Literal["running", "done", "failed"]
FINAL_EVENTS = ("done", "failed")
PROGRESS_INTERVAL = 0.25  # seconds


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
    cond: threading.Condition = field(default_factory=threading.Condition, repr=False)

    @property
    def finished(self) -> bool:
        return self.state != "running"

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
            }


class JobProgress:
    """The pipeline's ``Progress`` protocol (begin/advance/end), recorded as job events."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self._last = 0.0
        self._sent: tuple[str, int, int | None] | None = None

    def begin(self, stage: str, total: int | None = None) -> None:
        self.job.stage, self.job.done, self.job.total = stage, 0, total
        self._progress(force=True)

    def advance(self, n: int = 1) -> None:
        self.job.done += n
        self._progress(force=self.job.total is not None and self.job.done >= self.job.total)

    def end(self, summary: str) -> None:
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

    def submit(self, kind: Kind, work: Work) -> Job:
        job = Job(kind)
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

    def _loop(self) -> None:
        while True:
            job, work = self._queue.get()
            run_job(job, work)


def run_job(job: Job, work: Work) -> None:
    """Run ``work`` and finish ``job``: ``done`` with its result, or ``failed`` with the
    message (the command line's, for a DicomfabError)."""
    try:
        result = work(JobProgress(job))
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
        data = {"result": result} if state == "done" else {"error": error}
        job.events.append({"event": state, "data": data})
        job.cond.notify_all()
