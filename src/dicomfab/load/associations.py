"""How many parallel C-STORE associations a target wants (``dicomfab check --associations``).

A warm-up burst at one association, then a short burst of synthetic MG instances at each k of
:func:`ladder` (1, 2, 3, 4, 6, 8 …): k associations are opened first (not timed), then k
threads take the next instance from one shared list and send it on their own association with
the direct P-DATA path (:mod:`dicomfab.targets._pdata`); the step's rate is the instances
answered with success (or a warning) ÷ the time from the first byte to the last answer. The
ladder stops at the first step whose gain over the previous one is under 5 % (or whose rate
fell, or that had errors); the recommendation is the smallest k within 95 % of the best rate
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


def recommend(steps: Sequence[Step]) -> int | None:
    """The smallest k whose rate reaches :data:`NEAR_BEST` of the best one, among the measured
    steps without errors (None when there is none, or nothing was stored)."""
    clean = [s for s in measured(steps) if not s.errors]
    if not clean:
        return None
    best = max(s.rate for s in clean)
    if best <= 0:
        return None
    return min(s.k for s in clean if s.rate >= NEAR_BEST * best)


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
    stopped: str | None = None  # why the ladder ended before max_k
    fault: str | None = None  # the target failed (cannot associate): exit 3
    interrupted: str | None = None  # "SIGINT" / "SIGTERM"

    @property
    def recommended(self) -> int | None:
        return recommend(self.steps)

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
    on_step: Callable[[Step, Measurement], None] | None = None,
    on_start: Callable[[Measurement], None] | None = None,
) -> Measurement:
    """Run the warm-up and the ladder against ``node``, each k ``repeat`` times (its rate the
    median; a burst with errors ends the repeats). A target that cannot be associated with
    ends it with ``fault``; interrupted, the KeyboardInterrupt carries the measurement so far
    (the steps completed) as ``measurement``."""
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
    plan = [(1, max(1, studies // 2), True)]
    plan += [(k, studies_for_step(studies, k, len(template)), False) for k in ladder(max_k)]
    try:
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
            result.stopped = stop_reason(result.steps)
            if result.stopped is not None or result.fault is not None:
                break
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
