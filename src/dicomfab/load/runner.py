"""Run a load: send studies on an open-loop schedule and watch them become visible.

Three kinds of thread share one :class:`LoadState`:

* the main thread releases study ``i`` at its due time (``i * 60 / rate`` after the start) onto
  a queue and only waits otherwise (so Ctrl-C reaches it at once);
* ``associations`` sender threads, each with its own association, take the next released study,
  make it (:class:`~dicomfab.load.template.StudyMaker`) and send its instances with the direct
  P-DATA path (:mod:`dicomfab.targets._pdata`); a study that waits for a free sender is late,
  and its lateness is recorded: the schedule never slows down;
* one poller asks the verifier, once per ``poll`` seconds, about every instance of every study
  acknowledged and not yet seen (one ``observe()`` call): a study is visible when every one of
  its instances is observed, and only a study whose every instance was answered with success
  (or a warning) can be.

On a ``--dask`` worker (:class:`LoadShare`), only the worker's studies are released, from a
start the client hands out, and a stop from the client ends the load as Ctrl-C does.

A study with a failure status, an instance not sent, or a broken connection is failed (its
reasons in ``errors``), never credited. A target that cannot be associated with (down, wrong AE
title) or a verifier that fails stops the load: :attr:`LoadResult.fault`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dicomfab.errors import DicomfabError, TargetError
from dicomfab.load.records import StudyRecord
from dicomfab.load.schedule import Schedule
from dicomfab.load.template import LoadStudy, StudyMaker
from dicomfab.targets._dicomnet import DicomNode, abort
from dicomfab.targets.cstore import abort_and_wake
from dicomfab.targets.observations import Verifier

STOP_GRACE = 5.0  # seconds the threads get to end once stopped


@dataclass(frozen=True)
class LoadSettings:
    schedule: Schedule
    associations: int = 3
    poll: float = 0.5  # seconds between two observe() calls
    timeout: float = 60.0  # seconds to wait for visibility after the last acknowledgement
    dimse_timeout: float = 30.0


@dataclass
class LoadResult:
    records: list[StudyRecord]
    elapsed: float
    fault: str | None = None  # the target or the verifier failed: the load stopped
    interrupted: str | None = None  # "SIGINT" / "SIGTERM"
    polls: int = 0
    poll_seconds: float = 0.0

    @property
    def all_visible(self) -> bool:
        return all(r.state == "visible" for r in self.records)


class LoadState:
    """The records and the flags the threads share (a lock keeps them consistent)."""

    def __init__(self, records: list[StudyRecord]) -> None:
        self.records = records
        self.by_index = {r.index: r for r in records}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.fault: str | None = None
        self.live: set[Any] = set()  # open associations (aborted all at once on stop)
        self.start = time.monotonic()
        self.polls = 0
        self.poll_seconds = 0.0

    def now(self) -> float:
        return time.monotonic() - self.start

    def failed(self, reason: str) -> None:
        with self.lock:
            if self.fault is None:
                self.fault = reason
        self.stop.set()

    def abort_all(self) -> None:
        self.stop.set()
        with self.lock:
            live = list(self.live)
        abort_and_wake(live)

    def snapshot(self) -> list[StudyRecord]:
        with self.lock:
            return list(self.records)


class _Sender:
    """One sender thread's association and loop."""

    def __init__(
        self,
        node: DicomNode,
        maker: StudyMaker,
        state: LoadState,
        released: queue.Queue[int | None],
        settings: LoadSettings,
    ) -> None:
        self.node, self.maker, self.state = node, maker, state
        self.released, self.settings = released, settings
        self.assoc: Any = None
        self.msg_id = 0

    def _contexts(self) -> list[Any]:
        from pynetdicom import build_context

        wanted = {(t.sop_class_uid, t.transfer_syntax) for t in self.maker.template}
        return [build_context(sop, [ts]) for sop, ts in sorted(wanted)]

    def _association(self) -> Any:
        from dicomfab.targets import _pdata

        if self.assoc is not None and self.assoc.is_established:
            return self.assoc
        self.close()
        ae = self.node.ae(self.settings.dimse_timeout, 10.0)
        assoc = self.node.associate(ae, self._contexts())
        _pdata.hold(assoc)
        with self.state.lock:
            self.state.live.add(assoc)
        self.assoc = assoc
        return assoc

    def close(self, release: bool = False) -> None:
        assoc, self.assoc = self.assoc, None
        if assoc is None:
            return
        with self.state.lock:
            self.state.live.discard(assoc)
        try:
            if assoc.is_established:
                assoc.release() if release else abort(assoc)
        except Exception:  # the peer is gone: nothing to close
            pass

    def run(self, ready: _Latch) -> None:
        try:
            try:
                self._association()  # before the clock starts: study 0 is not late for it
            finally:
                ready.arrive()
            while not self.state.stop.is_set():
                try:
                    index = self.released.get(timeout=0.1)
                except queue.Empty:
                    continue
                if index is None:
                    break
                self.send(self.maker.study(index))
        except TargetError as exc:
            self.state.failed(str(exc))
        except Exception as exc:  # a bug must stop the load, not hang it
            self.state.failed(f"sender: {type(exc).__name__}: {exc}")
        finally:
            self.close(release=not self.state.stop.is_set())

    def send(self, study: LoadStudy) -> None:
        from dicomfab.targets import _pdata
        from dicomfab.targets.cstore import _describe_status

        state = self.state
        record = state.by_index[study.index]
        assoc = self._association()  # TargetError: the target is gone (stops the load)
        for k, instance in enumerate(study.instances):
            if state.stop.is_set():
                record.fail(state.now(), "stopped before every instance was sent")
                return
            context = assoc._get_valid_context(
                instance.sop_class_uid, instance.transfer_syntax, "scu", allow_conversion=False
            )
            self.msg_id = self.msg_id % 0xFFFF + 1
            if k == 0:
                record.sent_at = state.now()
            try:
                status = _pdata.send_c_store(
                    assoc, int(context.context_id or 1), instance.sop_class_uid,
                    instance.sop_instance_uid, instance.parts, self.msg_id,
                    self.settings.dimse_timeout,
                )  # fmt: skip
            except _pdata.SendFailed as exc:
                record.fail(state.now(), f"instance {k + 1}: the connection failed: {exc}")
                self.close()
                return
            if "Status" not in status:
                record.statuses.append(None)
                record.fail(state.now(), f"instance {k + 1}: no response (aborted or timed out)")
                self.close()
                return
            code = int(status.Status)
            record.statuses.append(code)
            outcome, meaning = _describe_status(code)
            if outcome == "failure":
                record.fail(state.now(), f"instance {k + 1}: status 0x{code:04X} {meaning}")
        if not record.errors:
            record.acked_at = state.now()


def _poll(verifier: Verifier, state: LoadState, interval: float) -> None:
    """Observe every acknowledged, not yet visible study's instances, once per ``interval``."""
    while not state.stop.wait(interval):
        pending = [r for r in state.snapshot() if r.state == "acknowledged"]
        if not pending:
            continue
        uids = [uid for r in pending for uid in r.sop_instance_uids]
        began = time.monotonic()
        try:
            seen = verifier.observe(uids)
        except DicomfabError as exc:
            state.failed(f"verifier: {exc}")
            return
        except Exception as exc:
            state.failed(f"verifier: {type(exc).__name__}: {exc}")
            return
        at = state.now()  # when the answer came: the study was visible by then
        with state.lock:
            state.polls += 1
            state.poll_seconds += time.monotonic() - began
            for r in pending:
                if all(uid in seen for uid in r.sop_instance_uids):
                    r.visible_at = at


def run_load(
    node: DicomNode,
    verifier: Verifier,
    maker: StudyMaker,
    settings: LoadSettings,
    on_tick: Callable[[LoadState], None] | None = None,
    share: LoadShare | None = None,
) -> LoadResult:
    """Send ``settings.schedule`` to ``node``, watch with ``verifier``; return what was
    measured. Interrupted (KeyboardInterrupt), every association is aborted, every thread ends,
    and the exception carries the result so far as ``load_result``. ``share``: only some of
    the schedule's studies, from a start time given from outside (a worker of ``--dask``)."""
    schedule = settings.schedule
    indices = list(range(schedule.studies)) if share is None else list(share.indices)
    records = []
    for i in indices:
        patient_id, accession, mapping = maker.identity(i)
        study_uid = mapping[str(maker.template[0].header.StudyInstanceUID)]
        sops = [mapping[str(t.header.SOPInstanceUID)] for t in maker.template]
        records.append(StudyRecord(i, study_uid, patient_id, accession, sops, due=schedule.due(i)))
    state = LoadState(records)
    released: queue.Queue[int | None] = queue.Queue()
    ready = _Latch(settings.associations)
    senders = [
        _Sender(node, maker, state, released, settings) for _ in range(settings.associations)
    ]
    threads = [
        threading.Thread(target=s.run, args=(ready,), name="dicomfab-load-send", daemon=True)
        for s in senders
    ]
    threads.append(
        threading.Thread(
            target=_poll, args=(verifier, state, settings.poll), name="dicomfab-load-poll",
            daemon=True,
        )
    )  # fmt: skip
    maker.study(0)  # warm up (imports, encoders) before the clock starts
    for thread in threads:
        thread.start()
    try:
        ready.wait(state.stop)
        state.start = time.monotonic() if share is None else share.start()
        _dispatch(state, schedule, indices, released, settings, on_tick, share)
    except KeyboardInterrupt as exc:
        _stop(state, threads)
        exc.load_result = _result(state)  # type: ignore[attr-defined]
        raise
    _stop(state, threads, released, len(senders))
    with state.lock:
        for r in state.records:
            if r.state == "acknowledged":
                r.fail(state.now(), f"not visible within {settings.timeout:g} s")
    return _result(state)


class LoadShare:
    """Part of a load run elsewhere (a ``--dask`` worker): which studies of the schedule, when
    the common start is (:meth:`start`, called once the associations are open: blocks until
    then, returns it on this process's monotonic clock), and whether the load was stopped."""

    def __init__(
        self, indices: list[int], start: Callable[[], float], stopped: Callable[[], bool]
    ) -> None:
        self.indices, self.start, self.stopped = indices, start, stopped


class _Latch:
    """Counts down to zero; :meth:`wait` returns then (in short, interruptible steps)."""

    def __init__(self, count: int) -> None:
        self.count, self.lock, self.done = count, threading.Lock(), threading.Event()

    def arrive(self) -> None:
        with self.lock:
            self.count -= 1
            if self.count <= 0:
                self.done.set()

    def wait(self, stop: threading.Event) -> None:
        while not self.done.wait(0.1) and not stop.is_set():
            pass


def _dispatch(
    state: LoadState,
    schedule: Schedule,
    indices: list[int],
    released: queue.Queue[int | None],
    settings: LoadSettings,
    on_tick: Callable[[LoadState], None] | None,
    share: LoadShare | None = None,
) -> None:
    """Release each study at its due time; then wait until every study is visible or failed,
    or ``timeout`` seconds passed since the last acknowledgement."""
    position, last_tick = 0, 0.0
    while not state.stop.is_set():
        if share is not None and share.stopped():
            raise KeyboardInterrupt  # the client stopped the load: the interrupted path
        now = state.now()
        due = schedule.due_by(now)
        while position < len(indices) and indices[position] < due:
            released.put(indices[position])
            position += 1
        if now - last_tick >= 0.25 and on_tick is not None:
            on_tick(state)
            last_tick = now
        if position == len(indices):
            records = state.snapshot()
            if all(r.state in ("visible", "failed") for r in records):
                break
            if all(r.state != "sending" and r.sent_at is not None for r in records):
                settled = max((r.acked_at or r.failed_at or 0.0) for r in records)
                if now - settled > settings.timeout:
                    break
        wait = 0.05
        if position < len(indices):
            wait = min(wait, max(0.0, schedule.due(indices[position]) - now))
        time.sleep(wait)
    if on_tick is not None:
        on_tick(state)


def _stop(
    state: LoadState,
    threads: list[threading.Thread],
    released: queue.Queue[int | None] | None = None,
    senders: int = 0,
) -> None:
    """End every thread: senders get a None each (a clean stop releases the associations);
    on a fault or an interruption every association is aborted first."""
    if released is not None and not state.stop.is_set():
        for _ in range(senders):
            released.put(None)
        for thread in threads[:senders]:
            thread.join(STOP_GRACE)
        state.stop.set()
    else:
        state.abort_all()
    deadline = time.monotonic() + STOP_GRACE
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def _result(state: LoadState) -> LoadResult:
    with state.lock:
        now = state.now()
        for r in state.records:
            if r.state in ("waiting", "sending"):
                r.fail(now, "not sent: the load stopped" if r.sent_at is None else "stopped")
        return LoadResult(
            list(state.records), now, state.fault, None, state.polls, state.poll_seconds
        )
