"""``dicomfab load --dask ADDRESS``: one load split over a Dask cluster's workers.

Worker ``w`` of ``N`` sends studies ``i ≡ w (mod N)`` with the same seed-derived identities as a
local load (the client generates the template once and sends its bytes: every worker sends the
same study ``i``), on the same schedule: study ``i`` is due ``i × 60 / rate`` seconds after a
common start. The client picks that start on its wall clock (``time.time()``) once every worker
has opened the target and its associations, and hands it to all of them; each worker measures
from it on its own wall clock, so the workers' clocks must agree (NTP) to well under the
latencies measured.

Each worker reaches the target itself (the target's configuration travels in the task's
arguments, in memory only: never written, never in a log or a repr), sends its studies, polls
its own verifier, and returns its records and an encoded HdrHistogram of its latencies; the
client merges them into one ``load.json``. The task never raises: an error comes back as a
(masked) message, since Dask would log a failed task's arguments.

Stopping: the client marks the load stopped on every worker (``client.run``), which then hand
in what they measured; a task cancelled (or whose client went away) stops by itself too. A
worker that leaves the cluster mid-load is a fault (exit 3) and its studies are "not measured".
"""

from __future__ import annotations

import signal
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dicomfab.errors import ClusterError, DicomfabError, Issue, SpecError, TargetError
from dicomfab.load.records import StudyRecord
from dicomfab.load.runner import LoadResult

READY_SECONDS = 300.0  # how long the workers get to open the target and their associations
START_LEAD = 0.5  # seconds from handing out the start time to the start itself
STOP_SECONDS = 15.0  # how long stopped workers get to hand in what they measured
POLL = 0.25  # seconds between two looks at the tasks and the cluster's workers


def check_target(target: Any, name: str | None) -> None:
    """Refuse, as bad input, what the workers could not load: the embedded PACS (it lives in
    this process) and a target that does not ingest with C-STORE or has no verifier."""
    if target is None:
        raise SpecError(
            [
                Issue(
                    "--dask",
                    "the embedded PACS lives in this process, out of the workers' reach: give a "
                    "--target from dicomfab.toml that every worker can reach",
                )
            ]
        )
    if target.ingest.kind != "cstore":
        raise SpecError(
            [Issue("--target", f"{name!r} does not ingest with C-STORE: load sends with C-STORE")]
        )
    if not target.verifiers:
        raise SpecError([Issue("--target", f"{name!r} has no verifier")])


# --- worker side (pickled by reference: the cluster runs this dicomfab version) ------------


@dataclass(frozen=True)
class ShareJob:
    """What one worker needs for its share of a load. ``targets`` holds secrets: it is left
    out of the repr (Dask prints a task's arguments in some logs)."""

    token: str
    worker: str
    position: int
    workers: int
    studies: int
    per_minute: float
    seed: int
    target: str
    associations: int | None
    poll: float
    timeout: float
    template: list[bytes] = field(repr=False)
    targets: Any = field(repr=False)  # dicomfab.targets.config.Targets, this target alone

    @property
    def indices(self) -> list[int]:
        return list(range(self.position, self.studies, self.workers))


_stops: dict[str, threading.Event] = {}
_stops_lock = threading.Lock()


def stop_shares(token: str) -> int:
    """Stop load ``token``'s share on this worker (run by ``client.run``); how many were."""
    with _stops_lock:
        event = _stops.get(token)
    if event is None:
        return 0
    event.set()
    return 1


def run_share(job: ShareJob) -> dict[str, Any]:
    """Send this worker's share of a load; return what it measured (never raises)."""
    stop = threading.Event()
    with _stops_lock:
        _stops[job.token] = stop
    try:
        return _run_share(job, stop)
    except BaseException as exc:  # Dask would log the arguments of a task that raises
        text = str(exc) or type(exc).__name__
        if not isinstance(exc, DicomfabError | TargetError):
            text = f"{type(exc).__name__}: {text}"
        bad_input = isinstance(exc, DicomfabError) and not isinstance(exc, TargetError)
        return {
            "worker": job.worker,
            "fault": job.targets.mask(text),
            "bad_input": bad_input,  # e.g. a seed used before: exit 2, as a local load
            "records": [],
        }
    finally:
        with _stops_lock:
            _stops.pop(job.token, None)


def _task_gone() -> Any:
    """A check whether the running task was cancelled (or its client left): Dask does not
    stop a running task's thread, so the task looks for itself."""
    try:
        from distributed import get_worker
        from distributed.worker import thread_state

        worker, key = get_worker(), thread_state.key
    except Exception:  # not on a worker (tests): never gone
        return lambda: False

    def gone() -> bool:
        task = worker.state.tasks.get(key)
        return task is None or task.state != "executing"

    return gone


def _scratch() -> str | None:
    """The worker's own local directory (``dask worker --local-directory``), else the system's
    temporary folder (not on a worker: tests). Dask removes a worker's directory when it closes
    and purges those of workers that died when the next one starts, so a worker killed mid-load
    leaves nothing of ours in the system's temporary folder."""
    try:
        from distributed import get_worker

        return str(get_worker().local_directory)
    except Exception:  # not on a worker
        return None


def _run_share(job: ShareJob, stop: threading.Event) -> dict[str, Any]:
    from dicomfab.load.job import check_fresh, sending_parts
    from dicomfab.load.report import latency_histogram
    from dicomfab.load.runner import LoadSettings, LoadShare, run_load
    from dicomfab.load.schedule import Schedule
    from dicomfab.load.template import StudyMaker, read_instance
    from dicomfab.run.connect import open_target

    gone = _task_gone()

    def stopped() -> bool:
        return stop.is_set() or gone()

    maker = StudyMaker([read_instance(data) for data in job.template], job.seed)
    indices = job.indices
    study_uid = str(maker.template[0].header.StudyInstanceUID)
    study_uids = [maker.identity(i)[2][study_uid] for i in indices]
    # logs and tunnels of the target go to a folder of ours on this worker, removed after
    with tempfile.TemporaryDirectory(prefix="dicomfab-load-", dir=_scratch()) as tmp:
        work = Path(tmp)
        with open_target(
            job.target, job.targets, work, folder=work, study_uids=study_uids
        ) as session:
            ingestor, verifier = sending_parts(session)
            associations = job.associations or ingestor.associations
            check_fresh(verifier, maker, indices)
            settings = LoadSettings(
                Schedule(job.studies, job.per_minute),
                associations=associations,
                poll=job.poll,
                timeout=job.timeout,
                dimse_timeout=ingestor.timeout,
            )
            share = LoadShare(indices, lambda: _wait_for_start(job, stopped), stopped)
            try:
                result = run_load(ingestor.node, verifier, maker, settings, share=share)
                interrupted = False
            except KeyboardInterrupt as exc:
                result = exc.load_result  # type: ignore[attr-defined]
                interrupted = True
    latencies = [r.latency for r in result.records if r.latency is not None]
    return {
        "worker": job.worker,
        "records": [r.fields() for r in result.records],
        "histogram": latency_histogram(latencies).encode(),
        "elapsed": result.elapsed,
        "fault": None if result.fault is None else job.targets.mask(result.fault),
        "interrupted": interrupted,
        "polls": result.polls,
        "poll_seconds": result.poll_seconds,
        "description": session.description,
        "associations": associations,
    }


def _wait_for_start(job: ShareJob, stopped: Any) -> float:
    """Say this worker is ready; wait for the common start (a ``time.time()`` the client
    hands out); return it on this process's monotonic clock."""
    from distributed import Queue, Variable

    Queue(_ready_name(job.token)).put(job.worker)
    start = Variable(_start_name(job.token))
    deadline = time.monotonic() + READY_SECONDS
    while True:
        if stopped() or time.monotonic() > deadline:
            raise KeyboardInterrupt
        try:
            epoch = start.get(timeout=0.5)
        except TimeoutError:
            continue
        if not isinstance(epoch, float):  # the client stopped before the start
            raise KeyboardInterrupt
        return time.monotonic() - (time.time() - epoch)


def _ready_name(token: str) -> str:
    return f"dicomfab-load-ready-{token}"


def _start_name(token: str) -> str:
    return f"dicomfab-load-start-{token}"


# --- client side ----------------------------------------------------------------------------


@dataclass
class _Share:
    name: str
    address: str
    job: ShareJob
    future: Any
    answer: dict[str, Any] | None = None
    lost: str | None = None  # why nothing came back


def run_on_cluster(
    client: Any,
    request: Any,
    template: list[bytes],
    maker: Any,
    config: dict[str, Any],
    outcome: Any,
) -> Any:
    """Run ``request`` (a :class:`~dicomfab.load.job.LoadRequest` with ``dask``) on the
    cluster ``client`` is connected to (:func:`~dicomfab.output.distributed.dask_client`);
    write the merged ``load.json``/``load.html`` into ``outcome``. Interrupted, the
    files are written (marked interrupted) and the KeyboardInterrupt goes on with
    ``load_outcome``, as :func:`dicomfab.load.job.run` does."""
    from dicomfab.load.job import finish
    from dicomfab.targets.config import Targets

    targets = request.targets
    name = request.target
    alone = Targets({name: targets.get(name)}, set(targets.secrets), None)
    token = uuid.uuid4().hex
    started = time.monotonic()
    workers = _workers(client)[: request.studies]  # a worker without a study stays idle
    config["dask"] = request.dask
    shares = []
    for position, (address, worker) in enumerate(workers):
        job = ShareJob(
            token, worker, position, len(workers), request.studies, request.per_minute,
            request.seed, name, request.associations, request.poll, request.timeout,
            template, alone,
        )  # fmt: skip
        future = client.submit(
            run_share, job, key=f"dicomfab-load-{token}-{position}", workers=[address],
            allow_other_workers=False, pure=False, retries=0,
        )  # fmt: skip
        shares.append(_Share(worker, address, job, future))
    try:
        _start(client, token, shares)
        _watch(client, shares)
    except KeyboardInterrupt as exc:
        _stop(client, token, shares)
        result, histogram, extra = _merge(shares, maker, request, time.monotonic() - started)
        result.interrupted = signal.Signals(getattr(exc, "signum", signal.SIGINT)).name
        result.fault = None  # interrupted says it (exit 130/143); "workers" says the rest
        _describe(config, shares, request)
        finish(outcome, config, result, histogram, extra)
        exc.load_outcome = outcome  # type: ignore[attr-defined]
        raise
    finally:
        _forget(client, token)
    for share in shares:  # bad input found by a worker: one error line, as a local load
        if share.answer and share.answer.get("bad_input"):
            raise DicomfabError(share.answer["fault"])
    result, histogram, extra = _merge(shares, maker, request, time.monotonic() - started)
    _describe(config, shares, request)
    finish(outcome, config, result, histogram, extra)
    return outcome


def _workers(client: Any) -> list[tuple[str, str]]:
    """(address, name) of every worker, in a stable order."""
    info = client.scheduler_info(n_workers=-1)["workers"]
    return sorted(
        ((address, str(w.get("name", address))) for address, w in info.items()),
        key=lambda pair: (pair[1], pair[0]),
    )


def _alive(client: Any) -> set[str]:
    try:
        return set(client.nthreads())
    except Exception as exc:
        from dicomfab.output.distributed import cluster_reason

        raise ClusterError(f"lost the Dask cluster: {cluster_reason(exc)}") from None


def _collect(client: Any, shares: list[_Share]) -> bool:
    """Take in the answers of finished tasks; mark the shares whose worker left. True when
    every share is settled."""
    alive: set[str] | None = None
    for share in shares:
        if share.answer is not None or share.lost is not None:
            continue
        if share.future.done():
            try:
                share.answer = share.future.result()
            except Exception as exc:  # cancelled, or the worker died while sending it back
                share.lost = f"worker {share.name} ({share.address}) failed: {type(exc).__name__}"
            continue
        if alive is None:
            alive = _alive(client)
        if share.address not in alive:
            share.lost = f"worker {share.name} ({share.address}) left the cluster mid-load"
            share.future.cancel()
    return all(s.answer is not None or s.lost is not None for s in shares)


def _start(client: Any, token: str, shares: list[_Share]) -> None:
    """Wait until every worker is ready (or settled: failed, lost), then hand out the start."""
    from distributed import Queue, Variable

    ready: set[str] = set()
    queue = Queue(_ready_name(token), client=client)
    waiting = {s.name for s in shares}
    while True:
        _collect(client, shares)
        settled = {s.name for s in shares if s.answer is not None or s.lost is not None}
        if ready | settled >= waiting:
            break
        try:
            ready.add(str(queue.get(timeout=POLL)))
        except TimeoutError:
            continue
    start: float | str = time.time() + START_LEAD
    if any(s.lost or (s.answer and s.answer.get("fault")) for s in shares):
        start = "stop"  # one worker could not even start: the others do not either
    Variable(_start_name(token), client=client).set(start)


def _watch(client: Any, shares: list[_Share]) -> None:
    while not _collect(client, shares):
        time.sleep(POLL)


def _stop(client: Any, token: str, shares: list[_Share]) -> None:
    """Stop every share; take in what the workers measured; cancel what does not answer."""
    from distributed import Variable

    try:
        Variable(_start_name(token), client=client).set("stop")
        client.run(stop_shares, token, on_error="return")
        deadline = time.monotonic() + STOP_SECONDS
        while not _collect(client, shares) and time.monotonic() < deadline:
            time.sleep(0.1)
    except Exception:  # the cluster went away: what did not answer is not measured
        pass
    for share in shares:
        if share.answer is None and share.lost is None:
            share.lost = f"worker {share.name} ({share.address}) did not report once stopped"
            share.future.cancel()


def _forget(client: Any, token: str) -> None:
    """Drop the load's start variable and ready queue from the scheduler."""
    from distributed import Queue, Variable

    try:
        Variable(_start_name(token), client=client).delete()
        Queue(_ready_name(token), client=client).close()
    except Exception:
        pass


def _merge(
    shares: list[_Share], maker: Any, request: Any, elapsed: float
) -> tuple[LoadResult, Any, dict[str, Any]]:
    """One result from every share's records; a share that did not report: its studies are
    not measured, and the load's fault says why."""
    from dicomfab.load.report import merged_histogram

    records: list[StudyRecord] = []
    faults: list[str] = []
    encoded: list[bytes] = []
    polls, poll_seconds, longest = 0, 0.0, 0.0
    rows = []
    for share in shares:
        answer = share.answer or {}
        fault = answer.get("fault")
        if share.lost is not None:
            faults.append(f"{share.lost}: its {len(share.job.indices)} studies were not measured")
        elif fault:
            faults.append(f"worker {share.name}: {fault}")
        got = {f["index"]: f for f in answer.get("records", [])}
        for i in share.job.indices:
            if i in got:
                record = StudyRecord(**got[i])
            else:
                record = _unmeasured(maker, i, request)
                record.not_measured(share.lost or f"worker {share.name} did not report it")
            record.worker = share.name
            records.append(record)
        if answer.get("histogram"):
            encoded.append(answer["histogram"])
        polls += int(answer.get("polls", 0))
        poll_seconds += float(answer.get("poll_seconds", 0.0))
        longest = max(longest, float(answer.get("elapsed", 0.0)))
        rows.append(
            {
                "name": share.name,
                "address": share.address,
                "studies": len(share.job.indices),
                "reported": share.answer is not None and share.lost is None,
                "fault": share.lost or fault,
            }
        )
    records.sort(key=lambda r: r.index)
    fault_text = "; ".join(faults) if faults else None
    result = LoadResult(records, longest or elapsed, fault_text, None, polls, poll_seconds)
    return result, merged_histogram(encoded), {"workers": rows}


def _unmeasured(maker: Any, i: int, request: Any) -> StudyRecord:
    from dicomfab.load.schedule import Schedule

    patient_id, accession, mapping = maker.identity(i)
    study_uid = mapping[str(maker.template[0].header.StudyInstanceUID)]
    sops = [mapping[str(t.header.SOPInstanceUID)] for t in maker.template]
    due = Schedule(request.studies, request.per_minute).due(i)
    return StudyRecord(i, study_uid, patient_id, accession, sops, due=due)


def _describe(config: dict[str, Any], shares: list[_Share], request: Any) -> None:
    """The target's description and the associations, as the workers reported them."""
    for share in shares:
        if share.answer and share.answer.get("description"):
            config["target_description"] = share.answer["description"]
            config["associations"] = share.answer.get("associations")
            config["associations_per"] = "worker"
            break
    else:
        config["associations"] = request.associations
