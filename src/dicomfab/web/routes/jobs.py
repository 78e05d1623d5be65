"""A background job: its state, and its events as a server-sent event stream."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Response
from fastapi.responses import StreamingResponse

from dicomfab.web.errors import not_found
from dicomfab.web.jobs import Job
from dicomfab.web.routes.common import Context, JobRow, JobState

HEARTBEAT = 15.0  # seconds between SSE comments on a quiet stream
_WAIT = 1.0  # seconds an SSE stream waits for an event before checking again

_STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the job's events (`id:`, `event:`, `data:` lines; see JobEvent)",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    204: {"description": "the job finished and every event was sent"},
}


def make_router(ctx: Context) -> APIRouter:
    router = APIRouter()

    def job_or_404(job_id: str) -> Job:
        job = ctx.jobs.get(job_id)
        if job is None:
            raise not_found(f"no job {job_id!r}")
        return job

    @router.get("/jobs", response_model=list[JobRow])
    def list_jobs() -> list[dict[str, Any]]:
        """Running and queued jobs and the last finished ones, newest first: what a reloaded
        page reattaches to."""
        return [job.listing() for job in ctx.jobs.listing()]

    @router.get("/jobs/{job_id}", response_model=JobState)
    def job_state(job_id: str) -> dict[str, Any]:
        return job_or_404(job_id).snapshot()

    @router.post("/jobs/{job_id}/cancel", status_code=202, response_model=JobRow)
    def cancel_job(job_id: str) -> dict[str, Any]:
        """Stop a job as Ctrl-C stops the command line: a run writes its reports, marked
        interrupted, and leaves no process behind; the job ends ``cancelled`` (its event
        stream says so). A finished job is left as it is."""
        job = job_or_404(job_id)
        ctx.jobs.cancel(job)
        return job.listing()

    @router.get(
        "/jobs/{job_id}/events",
        response_model=None,
        response_class=StreamingResponse,
        responses=_STREAM,
    )
    async def job_events(
        job_id: str, last_event_id: Annotated[str | None, Header()] = None
    ) -> Response | StreamingResponse:
        job = job_or_404(job_id)
        given = last_event_id or ""
        start = int(given) + 1 if given.isdigit() and len(given) <= 12 else 0
        if job.finished and start >= len(job.events):
            return Response(status_code=204)  # an EventSource does not reconnect after a 204
        return StreamingResponse(
            _stream(job, start),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return router


def _event(index: int, event: dict[str, Any]) -> str:
    data = json.dumps(event["data"], ensure_ascii=False)
    return f"id: {index}\nevent: {event['event']}\ndata: {data}\n\n"


async def _stream(job: Job, start: int) -> AsyncIterator[str]:
    """The job's events from ``start`` on, then new ones as they come, until done or failed;
    a comment line every :data:`HEARTBEAT` seconds keeps proxies from closing a quiet stream."""
    seen = start
    last = time.monotonic()
    yield ": stream of job events\n\n"
    while True:
        events, finished = await anyio.to_thread.run_sync(job.events_after, seen, _WAIT)
        for event in events:
            yield _event(seen, event)
            seen += 1
            last = time.monotonic()
        if finished:
            return
        if time.monotonic() - last >= HEARTBEAT:
            yield ": heartbeat\n\n"
            last = time.monotonic()
