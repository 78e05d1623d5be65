"""How many parallel C-STORE associations a target wants (``dicomfab check --associations``).

First a probe (:func:`probe_concurrency`, no data sent): associations are opened one at a time,
up to ``max_k``, and after each opening every one of them answers a C-ECHO. A target serves a
limited number of associations at once (Orthanc: ``DicomThreadsCount``, 4 by default; a
single-process SCP: one): one more than that is accepted but not served, and its C-ECHO waits
for a thread to come free (Orthanc: about 1 s), or it is not accepted at all. The last count
whose every C-ECHO came back promptly is the number the target serves at once; the ladder does
not go beyond it (a step past it measures the waiting).

Then a warm-up burst at one association, then a short burst of synthetic MG instances at each k of
:func:`ladder` (1, 2, 3, 4, 6, 8 …): k associations are opened first (not timed), then k
threads take the next instance from one shared list and send it on their own association with
the direct P-DATA path (:mod:`dicomfab.targets._pdata`); the step's rate is the instances
answered with success (or a warning) ÷ the time from the first byte to the last answer. The
ladder stops at the first step whose gain over the previous one is under 5 % (or whose rate
fell, or that had errors; bounded by the probe's count, it only stops for errors); the
recommendation is the smallest k within 95 % of the best rate, or, when the probe found the
number the target serves at once and that count reaches 95 % of the best rate, that number
(:func:`recommend`).

The instances are the load mode's template study (:mod:`dicomfab.load.template`: generated
once, pixels reused as encoded) with fresh UIDs derived from a seed, under one clearly marked
patient (:data:`PATIENT_NAME`, a PatientID starting with :data:`PATIENT_ID_PREFIX`). Nothing is
deleted afterwards: the target keeps what it was sent.
"""

from __future__ import annotations

import copy
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dicomfab.errors import TargetError

PATIENT_NAME = "DICOMFAB^ASSOCIATION^CHECK"
PATIENT_ID_PREFIX = "DFCHECK"
STUDY_DESCRIPTION = "dicomfab check --associations"
NAMESPACE = "dicomfab-check"  # keeps the check's UIDs apart from a load's with the same seed
MIN_GAIN = 0.05  # a step that adds less than this over the previous one ends the ladder
NEAR_BEST = 0.95  # the recommendation: the smallest k reaching this share of the best rate
STOP_GRACE = 5.0  # seconds the sending threads get to end once the step is aborted
LADDER = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
PROBE_TIMEOUT = 5.0  # seconds an association request or a C-ECHO of the probe may take
STALL_SECONDS = 0.25  # a C-ECHO slower than this plus STALL_FACTOR × its time with one
STALL_FACTOR = 5.0  # association open waited for the target to serve its association
QUIET = 0.05  # seconds the probe's associations idle before each of its C-ECHOs


@dataclass(frozen=True)
class Step:
    """One step: ``k`` associations, ``sent`` instances offered, ``ok`` answered with success
    or a warning, ``errors`` not (failure status, no answer, not sent), in ``seconds``; with
    ``--repeat`` it sums several bursts and ``rounds`` holds each burst's rate."""

    k: int
    sent: int
    ok: int
    errors: int
    seconds: float
    warmup: bool = False
    first_error: str | None = None
    rounds: tuple[float, ...] = ()

    @property
    def rate(self) -> float:
        """Instances per second answered with success or a warning: the median of the
        bursts' rates when the step was repeated."""
        if len(self.rounds) > 1:
            return statistics.median(self.rounds)
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self, gain: float | None) -> dict[str, Any]:
        return {
            "associations": self.k,
            "instances": self.sent,
            "ok": self.ok,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "instances_per_s": round(self.rate, 2),
            "rounds": [round(r, 2) for r in self.rounds] or [round(self.rate, 2)],
            "gain": None if gain is None else round(gain, 4),
            "warmup": self.warmup,
            "first_error": self.first_error,
        }


def ladder(max_k: int) -> list[int]:
    """The association counts to try: 1, 2, 3, 4, 6, 8, 12 … up to ``max_k`` (always ending at
    ``max_k``)."""
    if max_k < 1:
        raise ValueError("max_k must be at least 1")
    ks = [k for k in LADDER if k <= max_k]
    return ks if ks[-1] == max_k else [*ks, max_k]


def measured(steps: Sequence[Step]) -> list[Step]:
    """The steps that count (the warm-up does not)."""
    return [s for s in steps if not s.warmup]


def gains(steps: Sequence[Step]) -> list[float | None]:
    """Each measured step's gain over the one before (None for the first, or after a zero rate)."""
    found: list[float | None] = []
    previous: Step | None = None
    for step in measured(steps):
        rate = previous.rate if previous is not None else 0.0
        found.append(step.rate / rate - 1.0 if rate > 0 else None)
        previous = step
    return found


def stop_reason(steps: Sequence[Step]) -> str | None:
    """Why the ladder ends after the last of ``steps`` (None: go on to the next k)."""
    if not steps:
        return None
    if steps[-1].errors:
        return "errors"
    done = measured(steps)
    if len(done) < 2:
        return None
    gain = gains(done)[-1]
    if gain is None:
        return None
    if gain < 0:
        return "rate fell"
    if gain < MIN_GAIN:
        return f"gain under {MIN_GAIN:.0%}"
    return None


def recommend(steps: Sequence[Step], served: int | None = None) -> int | None:
    """The smallest k whose rate reaches :data:`NEAR_BEST` of the best one, among the measured
    steps without errors (None when there is none, or nothing was stored); but ``served``, the
    number of associations the target serves at once, when its step reaches that share too.

    Why ``served``: such a target serves each association on a thread of its own, and with
    fewer associations than threads one of them idles while the others wait on the target's
    database. Against Orthanc + PostgreSQL (4 DICOM threads) a burst at k = 3 and at k = 4 came
    within 5 % of each other, but over a whole load 4 sustained 0.95-1.04 of the storescu
    ceiling and 3 only 0.90-0.93 (``benchmarks/load.py``, 2026-12-07)."""
    clean = [s for s in measured(steps) if not s.errors]
    if not clean:
        return None
    best = max(s.rate for s in clean)
    if best <= 0:
        return None
    near = [s.k for s in clean if s.rate >= NEAR_BEST * best]
    return served if served in near else min(near)


def stalled(seconds: float, alone: float) -> bool:
    """Whether a C-ECHO that took ``seconds`` waited for the target to serve its association,
    given ``alone``, the C-ECHO time with one association open (a slow network's round trip
    raises the bar)."""
    return seconds >= STALL_SECONDS + STALL_FACTOR * alone


@dataclass(frozen=True)
class Concurrency:
    """What :func:`probe_concurrency` found: ``served``, the number of associations the target
    serves at once (None: not measured, see ``reason``); ``limited``: association
    ``served + 1`` waited or was refused (False: all ``served`` tried were served);
    ``slowest``: the slowest C-ECHO (seconds) with 1, 2 … associations open."""

    served: int | None
    limited: bool
    slowest: tuple[float, ...] = ()
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "served": self.served,
            "limited": self.limited,
            "slowest_echo_s": [round(t, 4) for t in self.slowest],
            "reason": self.reason,
        }


def probe_concurrency(node: Any, max_k: int, timeout: float = PROBE_TIMEOUT) -> Concurrency:
    """Open up to ``max_k`` associations (Verification only), one at a time; after each
    opening, once the others are idle (:data:`QUIET` s), send two C-ECHOs on the newest one
    (:data:`QUIET` s apart). Stop at the first count where one waited (:func:`stalled`) or the
    association was not had. Every association is released (aborted when interrupted) before
    this returns.

    Why the newest, after a pause: a target whose N threads take associations in turn
    (Orthanc's DICOM server: a thread waits up to 1 s for the next command of the association
    it holds before it moves on to the next one) holds the N oldest while they idle, and the
    newest one's request waits for a thread to give up an idle association (0.6 s measured
    with 5 open against Orthanc's 4 threads). C-ECHOs sent in quick succession, or all at once,
    keep every thread moving and never wait."""
    from pynetdicom import build_context

    from dicomfab.targets._dicomnet import abort, pause_reactor

    contexts = [build_context("1.2.840.10008.1.1")]
    held: list[Any] = []
    slowest: list[float] = []
    finished = False

    def echo(assoc: Any) -> float | str:
        """Seconds to the answer, or why there was none."""
        time.sleep(QUIET)
        start = time.perf_counter()
        try:
            pause_reactor(assoc)
            status = assoc.send_c_echo()
        except (RuntimeError, ValueError) as exc:  # no accepted context, a closed association
            return str(exc)
        if "Status" not in status:
            return f"no answer within {timeout:g} s"
        return time.perf_counter() - start

    try:
        for k in range(1, max_k + 1):
            ae = node.ae(timeout, timeout)
            # an idle association must outlive the probe (pynetdicom aborts one that saw no
            # traffic for network_timeout: the first ones idle while the later ones are tried)
            ae.network_timeout = None
            try:
                held.append(node.associate(ae, contexts))
            except TargetError as exc:
                finished = True
                if k == 1:
                    return Concurrency(None, False, (), f"no association: {exc}")
                return Concurrency(k - 1, True, tuple(slowest), f"association {k}: {exc}")
            answers = [echo(held[-1]), echo(held[-1])]
            failed = next((a for a in answers if isinstance(a, str)), None)
            if failed is not None:
                finished = True
                if k == 1:
                    return Concurrency(None, False, (), f"C-ECHO not answered: {failed}")
                return Concurrency(k - 1, True, tuple(slowest), f"with {k} open, C-ECHO: {failed}")
            slowest.append(max(a for a in answers if isinstance(a, float)))
            if stalled(slowest[-1], slowest[0]):
                finished = True
                return Concurrency(
                    k - 1, True, tuple(slowest),
                    f"with {k} open, a C-ECHO waited {slowest[-1]:.2f} s "
                    f"({slowest[0] * 1000:.0f} ms with one)",
                )  # fmt: skip
        finished = True
        return Concurrency(max_k, False, tuple(slowest), None)
    finally:
        for assoc in held:
            try:
                if finished and assoc.is_established:
                    assoc.release()
                else:
                    abort(assoc)
            except Exception:  # the peer is gone: nothing to close
                pass


# ── the check's studies ─────────────────────────────────────────────────────────────────────


def _digits(number: int, length: int) -> str:
    return str(number % 10**length).rjust(length, "0")


def check_maker(template: list[Any], seed: int) -> Any:
    """A :class:`~dicomfab.load.template.StudyMaker` whose studies all belong to one marked
    patient (:data:`PATIENT_NAME`, PatientID ``DFCHECK…``) and whose UIDs come from
    ``seed`` in the check's own namespace."""
    from dicomfab.builder.uids import UIDFactory
    from dicomfab.load.template import StudyMaker, TemplateInstance

    class CheckMaker(StudyMaker):
        def __init__(self) -> None:
            marked = []
            for t in template:
                header = copy.deepcopy(t.header)
                header.PatientName = PATIENT_NAME
                header.StudyDescription = STUDY_DESCRIPTION
                marked.append(TemplateInstance(t.file_meta, header, t.tail))
            super().__init__(marked, seed)
            self.uids = UIDFactory(seed, namespace=NAMESPACE)
            self.patient_id = PATIENT_ID_PREFIX + _digits(self.uids.number("patient"), 12)

        def identity(self, i: int) -> tuple[str, str, dict[str, str]]:
            mapping = {old: self.uids.uid("study", i, old) for old in self._old}
            accession = "DC" + _digits(self.uids.number("accession", i), 14)
            return self.patient_id, accession, mapping

    return CheckMaker()


# ── one burst ───────────────────────────────────────────────────────────────────────────────


class _Burst:
    """The instances of one step and what the sending threads found, behind one lock."""

    def __init__(self, instances: list[Any]) -> None:
        self.instances = instances
        self.next = 0
        self.ok = 0
        self.failed = 0
        self.first_error: str | None = None
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def take(self) -> Any:
        with self.lock:
            if self.stop.is_set() or self.next >= len(self.instances):
                return None
            self.next += 1
            return self.instances[self.next - 1]

    def done(self, error: str | None) -> None:
        with self.lock:
            if error is None:
                self.ok += 1
                return
            self.failed += 1
            if self.first_error is None:
                self.first_error = error


def _send_all(assoc: Any, burst: _Burst, timeout: float) -> None:
    """Send instances from ``burst`` on ``assoc`` until none is left; a broken association
    ends this thread (the others take the rest)."""
    from dicomfab.targets import _pdata
    from dicomfab.targets.cstore import _describe_status

    msg_id = 0
    while (instance := burst.take()) is not None:
        msg_id = msg_id % 0xFFFF + 1
        try:
            context = assoc._get_valid_context(
                instance.sop_class_uid, instance.transfer_syntax, "scu", allow_conversion=False
            )
            status = _pdata.send_c_store(
                assoc, int(context.context_id or 1), instance.sop_class_uid,
                instance.sop_instance_uid, instance.parts, msg_id, timeout,
            )  # fmt: skip
        except _pdata.SendFailed as exc:
            burst.done(f"the connection failed: {exc}")
            return
        except Exception as exc:  # no accepted context, a closed association: this one is over
            burst.done(f"{type(exc).__name__}: {exc}")
            return
        if "Status" not in status:
            burst.done("no response (aborted or timed out)")
            return
        outcome, meaning = _describe_status(int(status.Status))
        burst.done(f"status 0x{int(status.Status):04X} {meaning}" if outcome == "failure" else None)


def run_step(
    node: Any, contexts: list[Any], instances: list[Any], k: int, timeout: float, warmup: bool
) -> Step:
    """Send ``instances`` over ``k`` associations (opened before the clock starts, released
    after it stops). Interrupted, every association is aborted and every thread ends (bounded)
    before the interruption goes on."""
    from dicomfab.targets import _pdata
    from dicomfab.targets.cstore import abort_and_wake

    burst = _Burst(instances)
    assocs: list[Any] = []
    threads: list[threading.Thread] = []
    try:
        for _ in range(k):  # TargetError: the target refuses (stops the ladder)
            assoc = node.associate(node.ae(timeout, 10.0), contexts)
            _pdata.hold(assoc)
            assocs.append(assoc)
        threads = [
            threading.Thread(
                target=_send_all, args=(assoc, burst, timeout), name="dicomfab-check-send",
                daemon=True,
            )
            for assoc in assocs
        ]  # fmt: skip
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.1)
        seconds = time.perf_counter() - start
    except BaseException:
        burst.stop.set()
        abort_and_wake(assocs)
        deadline = time.monotonic() + STOP_GRACE
        for thread in threads:
            if thread.ident is not None:
                thread.join(max(0.0, deadline - time.monotonic()))
        raise
    for assoc in assocs:
        try:
            if assoc.is_established:
                assoc.release()
        except Exception:  # the peer is gone: nothing to release
            pass
    first_error = burst.first_error
    errors = len(instances) - burst.ok  # failures, and what no association was left to send
    if errors and first_error is None:
        first_error = "not sent: every association broke"
    return Step(k, len(instances), burst.ok, errors, seconds, warmup, first_error)


# ── the ladder ──────────────────────────────────────────────────────────────────────────────


@dataclass
class Measurement:
    """What ``dicomfab check --associations`` measured (so far, when stopped early)."""

    seed: int
    patient_id: str
    studies: int  # per step
    instances_per_study: int
    instance_bytes: int  # the template's average encoded instance size
    steps: list[Step] = field(default_factory=list)
    concurrency: Concurrency | None = None  # the probe's (None: not run)
    stopped: str | None = None  # why the ladder ended before max_k
    fault: str | None = None  # the target failed (cannot associate): exit 3
    interrupted: str | None = None  # "SIGINT" / "SIGTERM"

    @property
    def served(self) -> int | None:
        """How many associations the target serves at once, when the probe found its limit."""
        found = self.concurrency
        return found.served if found is not None and found.limited else None

    @property
    def recommended(self) -> int | None:
        return recommend(self.steps, self.served)

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        rows = []
        step_gains = iter(gains(self.steps))
        for step in self.steps:
            rows.append(step.as_dict(None if step.warmup else next(step_gains)))
        return {
            "seed": self.seed,
            "patient_name": PATIENT_NAME,
            "patient_id": self.patient_id,
            "studies_per_step": self.studies,
            "instances_per_study": self.instances_per_study,
            "instance_bytes": self.instance_bytes,
            "concurrency": None if self.concurrency is None else self.concurrency.as_dict(),
            "steps": rows,
            "stopped": self.stopped,
            "recommended": self.recommended,
            "errors": self.errors,
            "fault": self.fault,
            "interrupted": self.interrupted,
        }


def combine(bursts: Sequence[Step]) -> Step:
    """One step from the repeated bursts of one k: counts and time summed, each burst's rate
    kept (the step's rate is their median, which one noisy burst cannot move)."""
    first = next((b.first_error for b in bursts if b.first_error), None)
    return Step(
        bursts[0].k, sum(b.sent for b in bursts), sum(b.ok for b in bursts),
        sum(b.errors for b in bursts), sum(b.seconds for b in bursts), bursts[0].warmup, first,
        tuple(b.rate for b in bursts),
    )  # fmt: skip


def studies_for_step(studies: int, k: int, per_study: int) -> int:
    """``studies``, raised so that each of ``k`` associations gets two instances at least."""
    return max(studies, -(-2 * k // per_study))


def measure(
    node: Any,
    maker: Any,
    *,
    max_k: int,
    studies: int,
    timeout: float,
    repeat: int = 1,
    probe: bool = True,
    on_step: Callable[[Step, Measurement], None] | None = None,
    on_start: Callable[[Measurement], None] | None = None,
) -> Measurement:
    """Run the probe (:func:`probe_concurrency`, unless ``probe`` is False), the warm-up and
    the ladder against ``node``, each k ``repeat`` times (its rate the median; a burst with
    errors ends the repeats). A target that cannot be associated with ends it with ``fault``;
    interrupted, the KeyboardInterrupt carries the measurement so far (the steps completed) as
    ``measurement``."""
    from pynetdicom import build_context

    template = maker.template
    result = Measurement(
        seed=maker.seed,
        patient_id=maker.identity(0)[0],
        studies=studies,
        instances_per_study=len(template),
        instance_bytes=sum(len(t.tail) for t in template) // len(template),
    )
    wanted = sorted({(t.sop_class_uid, t.transfer_syntax) for t in template})
    contexts = [build_context(sop, [ts]) for sop, ts in wanted]
    if on_start is not None:
        on_start(result)
    next_study = 0
    try:
        if probe:
            result.concurrency = probe_concurrency(node, max_k)
        bounded = result.served  # the ladder ends there, whatever the gains
        plan = [(1, max(1, studies // 2), True)]
        plan += [
            (k, studies_for_step(studies, k, len(template)), False)
            for k in ladder(bounded or max_k)
        ]
        for k, count, warmup in plan:
            bursts: list[Step] = []
            for _ in range(1 if warmup else repeat):
                instances = [
                    instance
                    for i in range(next_study, next_study + count)
                    for instance in maker.study(i).instances
                ]
                next_study += count
                try:
                    bursts.append(run_step(node, contexts, instances, k, timeout, warmup))
                except TargetError as exc:
                    result.fault = str(exc)
                    break
                if bursts[-1].errors:
                    break
            if not bursts:
                break
            step = combine(bursts)
            result.steps.append(step)
            if on_step is not None:
                on_step(step, result)
            reason = stop_reason(result.steps)
            if reason == "errors" or not bounded:
                result.stopped = reason
            if result.stopped is not None or result.fault is not None:
                break
        if bounded and result.stopped is None and result.fault is None:
            result.stopped = f"the target serves {bounded} associations at once"
    except KeyboardInterrupt as exc:
        exc.measurement = result  # type: ignore[attr-defined]
        raise
    return result


def check_target(
    name: str | None,
    targets: Any,
    workdir: Any,
    *,
    max_k: int,
    studies: int,
    image_size: str,
    seed: int,
    repeat: int = 1,
    on_step: Callable[[Step, Measurement], None] | None = None,
    on_start: Callable[[Measurement], None] | None = None,
) -> Measurement:
    """Open target ``name`` (its C-STORE part), make the template under ``workdir`` and
    :func:`measure`. A target whose ingest is not C-STORE is bad input (SpecError)."""
    from dicomfab.errors import Issue, SpecError
    from dicomfab.load.template import generate_template
    from dicomfab.run.connect import open_target
    from dicomfab.targets.cstore import CStoreIngestor

    maker = check_maker(generate_template(image_size, workdir), seed)
    with open_target(name, targets, workdir, folder=workdir) as session:
        ingestor = session.ingestor
        if not isinstance(ingestor, CStoreIngestor):
            raise SpecError([Issue("--target", not_cstore(session.name))])
        return measure(
            ingestor.node, maker, max_k=max_k, studies=studies, timeout=ingestor.timeout,
            repeat=repeat, on_step=on_step, on_start=on_start,
        )  # fmt: skip


def not_cstore(name: str) -> str:
    return (
        f"{name!r} does not ingest with C-STORE: --associations measures C-STORE associations only"
    )
