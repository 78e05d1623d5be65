"""Expectation checks: a dataset's manifest against what a verifier found, record by record.

    check(manifest, observations, receipt=None, overrides=None) -> ScenarioResult

The rule, per instance (after the target's ``overrides`` map outcome → outcome):

- ``accept``, ``normalise``, ``warn``, ``exclude`` must be **present** in the index (``exclude``
  is stored but not analysed);
- ``reject`` and ``quarantine`` must be **absent** (a quarantined instance is held outside the
  index; a target can override that policy, e.g. ``{"quarantine": "accept"}``);
- a file that was never written (``written: false``) cannot be present, whatever its outcome;
- a present instance must be indexed under the Study, Series and Patient ID its file carries
  (the manifest's ``attributes``); an attribute the verifier cannot see (``None``) is skipped.

A study expected to ``link`` / ``no-link`` is judged against its scenario's current study (see
:mod:`dicomfab.run.links`): by the patient record each was filed under (``same-patient``, from the
verifier's :attr:`~dicomfab.targets.observations.Observations.studies`), or by the product's own
relation (a :class:`~dicomfab.run.links.Relation`). The verdict's reason is the evidence. Only a
target with ``links = "none"``, a study with no current study to judge it against, or a verifier
that shows no patient record leave it ``not checked``, never a pass (``--strict`` makes that a
failure: :func:`strict`).

An expectation the scenario marks ``not_observable`` (its outcome is in the pixels, or depends
on the order in which the product itself picked the files) is ``not observable``, with the
scenario's reason and what the index showed: never a pass or a fail, and not a failure under
``--strict`` (it is a property of the scenario, not an undecided check). A mark that names ingest
kinds holds only on targets that ingest that way; a target's own rule for that record (its
``expect`` table) says what its index shows, so the record is checked as usual. What the index
does show against any outcome still fails: an instance indexed under other UIDs or another
patient, or one the target held before ingest (``pre-existing``).

Only what this run sent is credited: an instance whose UID the target already held before ingest
(``pre_existing``: a replayed seed, or a UID collision with other data) is ``pre-existing``,
whatever its outcome. Such an instance is never passed nor counted as present, and its scenario
does not pass (its first failure line says why). Other study outcomes are decided by the
study's instance checks. The receipt, when given, only adds the ingest outcome to each record.

A protocol outcome is data: nothing here raises for a failed check.

A run with several verifiers (e.g. SQL and C-FIND) checks each scenario once per verifier, then
:func:`combine` makes one verdict per instance and per study: the worst status of the verifiers,
a reason naming the verifiers that agree (``… (sql, c-find agree)``) or giving each one's reason
when they disagree (``sql: …; c-find: … — verifiers disagree``), and each verifier's
:class:`Evidence`.

A scenario a run selected but never checked (the run was interrupted, or a stage failed, before
verification) is a :func:`not_run` result: status ``not run``, never passed, with what the
ingestor had sent and the system acknowledged for its files before the stop.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import PurePath
from typing import Any, Final, Literal

from dicomfab.errors import DicomfabError, TargetError
from dicomfab.output.manifest import InstanceEntry, Manifest, NotObservable
from dicomfab.output.merge import MergedManifest
from dicomfab.run import copies
from dicomfab.run.expect import Overrides
from dicomfab.run.links import (
    LINK_OUTCOMES,
    Anchor,
    LinkJudge,
    SamePatient,
    SamePatientMode,
    decide,
    link_anchors,
)
from dicomfab.scenarios.library import get as get_scenario
from dicomfab.scenarios.model import STUDY_OUTCOMES
from dicomfab.targets.observations import Observations, ObservedInstance
from dicomfab.targets.receipt import InstanceResult, Receipt

Status = Literal["pass", "fail", "not checked", "pre-existing", "not observable"]
ScenarioStatus = Literal["pass", "fail", "not run"]
ACKNOWLEDGED = ("success", "warning")  # the system answered that it took the instance

PRESENT_OUTCOMES = ("accept", "normalise", "warn", "exclude")
ABSENT_OUTCOMES = ("reject", "quarantine")
NOT_AN_INSTANCE_OUTCOME = "not checked: link / no-link say nothing of an instance"
PRE_EXISTING: Final = "pre-existing"
NOT_OBSERVABLE: Final = "not observable"
NOT_OBSERVABLE_HERE: Final = "not observable on this target"  # how its reasons begin
NOT_PASSED = ("fail", PRE_EXISTING)  # statuses that keep a scenario from passing

# (label in diff lines, ObservedInstance field, manifest attribute keyword)
COMPARED: tuple[tuple[str, str, str], ...] = (
    ("study UID", "study_instance_uid", "StudyInstanceUID"),
    ("series UID", "series_instance_uid", "SeriesInstanceUID"),
    ("patient ID", "patient_id", "PatientID"),
)


@dataclass(frozen=True)
class Mismatch:
    """An attribute the system indexed differently from the file's header."""

    attribute: str  # e.g. "study UID"
    keyword: str  # e.g. "StudyInstanceUID"
    expected: str
    observed: str

    def __str__(self) -> str:
        return f"{self.attribute} {self.observed} ≠ expected {self.expected}"


@dataclass(frozen=True)
class Ingest:
    """What the ingestor said about this file (from the receipt)."""

    outcome: str
    status: str | None = None  # DIMSE status as 0xNNNN
    reason: str = ""

    def __str__(self) -> str:
        text = f"ingest {self.outcome}" + (f" {self.status}" if self.status else "")
        return f"{text}: {self.reason}" if self.reason else text


@dataclass(frozen=True)
class Delivered:
    """One file of a scenario that was not checked, as the ingestor reported it before the run
    stopped: sent or not, and what the system answered."""

    file: str
    sop_instance_uid: str | None
    ingest: Ingest
    sent: bool

    @property
    def acknowledged(self) -> bool:
        return self.ingest.outcome in ACKNOWLEDGED

    def __str__(self) -> str:
        return f"{self.sop_instance_uid or '?'} ({PurePath(self.file).name}): {self.ingest}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "acknowledged": self.acknowledged}


@dataclass(frozen=True)
class Evidence:
    """What one verifier of several concluded about a record (see :func:`combine`)."""

    verifier: str  # e.g. "sql", "c-find"
    status: Status
    reason: str

    def __str__(self) -> str:
        return f"{self.verifier}: {self.reason}"


@dataclass(frozen=True)
class InstanceCheck:
    sop_instance_uid: str
    file: str
    label: str  # e.g. "prior LMLO"
    study_instance_uid: str
    declared_outcome: str  # as the scenario declares it
    expected_outcome: str  # after the target's overrides
    written: bool
    expected_present: bool | None  # None: the outcome says nothing about presence
    observed_present: bool
    mismatches: list[Mismatch] = field(default_factory=list)
    ingest: Ingest | None = None
    status: Status = "pass"
    reason: str = ""
    # each verifier's verdict when several checked it (empty with one verifier)
    evidence: tuple[Evidence, ...] = ()
    # one of several copies of its SOP Instance UID: the rule in force (one, first, second)
    copies: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def diff_lines(self) -> list[str]:
        """One line per difference, e.g. ``prior LMLO 2.25.… expected absent (reject), found in
        the index``; empty when the check passed."""
        if self.status not in NOT_PASSED:
            return []
        head = f"{self.label} {self.sop_instance_uid}"
        if self.status == PRE_EXISTING or _disagree(self.evidence):
            return [f"{head} {self.reason}"]
        if self.copies is not None:  # its reason says which copy the system holds
            return [f"{head} {self.reason}" + (f" [{self.ingest}]" if self.ingest else "")]
        lines: list[str] = []
        if self.expected_present is not None and self.expected_present != self.observed_present:
            why = self.expected_outcome if self.written else f"{self.expected_outcome}, not written"
            if self.expected_present:
                lines.append(f"{head} expected present ({why}), not found in the index")
            else:
                lines.append(f"{head} expected absent ({why}), found in the index")
        lines.extend(f"{head} {m}" for m in self.mismatches)
        if self.evidence and lines:
            lines[-1] += f" ({_agreeing(self.evidence)})"
        if self.ingest is not None and lines:
            lines[-1] += f" [{self.ingest}]"
        return lines or [f"{head} {self.reason}"]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["passed"] = self.passed
        return out


@dataclass(frozen=True)
class StudyCheck:
    study_instance_uid: str
    role: str
    patient_id: str
    expected_outcome: str
    status: Status
    reason: str
    evidence: tuple[Evidence, ...] = ()  # as for InstanceCheck.evidence

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ScenarioResult:
    """Every check for one dataset (one scenario) against one system."""

    dataset: str
    scenario: str | None
    category: str | None
    source: str  # where the verifier looked
    instances: list[InstanceCheck] = field(default_factory=list)
    studies: list[StudyCheck] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)
    not_run: str | None = None  # why it was not checked, e.g. "not run: interrupted during ingest"
    delivered: list[Delivered] = field(default_factory=list)  # only for a scenario not run

    @property
    def name(self) -> str:
        return self.scenario or self.dataset

    @property
    def passed(self) -> bool:
        if self.not_run is not None:
            return False
        statuses = [c.status for c in self.instances] + [s.status for s in self.studies]
        return not any(s in NOT_PASSED for s in statuses)

    @property
    def pre_existing(self) -> int:
        """How many of its instances the target held before this run ingested anything."""
        return self.counts["pre_existing"]

    @property
    def status(self) -> ScenarioStatus:
        if self.not_run is not None:
            return "not run"
        return "pass" if self.passed else "fail"

    @property
    def delivery(self) -> dict[str, int]:
        """Of the files handed to the ingestor before the run stopped: how many were sent, how
        many the system acknowledged (success or warning), how many it refused."""
        return {
            "files": len(self.delivered),
            "sent": sum(d.sent for d in self.delivered),
            "acknowledged": sum(d.acknowledged for d in self.delivered),
            "failed": sum(d.ingest.outcome == "failure" for d in self.delivered),
        }

    @property
    def counts(self) -> dict[str, int]:
        """Counts per instance and per study: one record each, whatever the number of
        verifiers (see :func:`combine`)."""
        inst = [c.status for c in self.instances]
        studies = [s.status for s in self.studies]
        ours = [c for c in self.instances if c.status != PRE_EXISTING]
        return {
            "instances": len(inst),
            "passed": sum(status == "pass" for status in inst),
            "failed": sum(status == "fail" for status in inst),
            "not_checked": sum(status == "not checked" for status in inst),
            "pre_existing": sum(status == PRE_EXISTING for status in inst),
            # present: stored by this run (what was there before ingest is not credited)
            "present": sum(c.observed_present for c in ours),
            "absent": sum(not c.observed_present for c in ours),
            "mismatches": sum(len(c.mismatches) for c in self.instances),
            "studies": len(studies),
            "studies_failed": sum(status == "fail" for status in studies),
            "studies_not_checked": sum(status == "not checked" for status in studies),
            "not_observable": inst.count(NOT_OBSERVABLE),
            "studies_not_observable": studies.count(NOT_OBSERVABLE),
            **self.link_counts,
        }

    @property
    def link_counts(self) -> dict[str, int]:
        """The ``link`` / ``no-link`` verdicts: how many, passed, failed, not checked."""
        links = [s.status for s in self.studies if s.expected_outcome in LINK_OUTCOMES]
        return {
            "links": len(links),
            "links_passed": links.count("pass"),
            "links_failed": links.count("fail"),
            "links_not_checked": links.count("not checked"),
            "links_not_observable": links.count(NOT_OBSERVABLE),
        }

    def failures(self) -> list[str]:
        """Every record-level diff line, instances first, then failed studies; when the target
        held some of its instances before ingest, a line saying so comes first."""
        lines = [pre_existing_note(self.pre_existing)] if self.pre_existing else []
        lines += [line for c in self.instances for line in c.diff_lines()]
        lines += [
            f"{s.role} study {s.study_instance_uid}: {s.reason}"
            for s in self.studies
            if s.status in NOT_PASSED
        ]
        return lines

    def link_verdicts(self) -> list[str]:
        """One line per ``link`` / ``no-link`` expectation, whatever its status, with its
        evidence: ``prior study 2.25.… (link): pass — prior filed under patient P-1, …``."""
        return [
            f"{s.role} study {s.study_instance_uid} ({s.expected_outcome}): {s.status} — {s.reason}"
            for s in self.studies
            if s.expected_outcome in LINK_OUTCOMES
        ]

    def not_checked(self) -> list[str]:
        lines = [
            f"{c.label} {c.sop_instance_uid}: {c.reason}"
            for c in self.instances
            if c.status == "not checked"
        ]
        lines += [
            f"{s.role} study {s.study_instance_uid} ({s.expected_outcome}): {s.reason}"
            for s in self.studies
            if s.status == "not checked"
        ]
        return lines

    def not_observable(self) -> list[str]:
        """One line per record the scenario says no index can show, with why."""
        lines = [
            f"{c.label} {c.sop_instance_uid}: {c.reason}"
            for c in self.instances
            if c.status == NOT_OBSERVABLE
        ]
        lines += [
            f"{s.role} study {s.study_instance_uid} ({s.expected_outcome}): {s.reason}"
            for s in self.studies
            if s.status == NOT_OBSERVABLE
        ]
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dataset": self.dataset,
            "scenario": self.scenario,
            "category": self.category,
            "source": self.source,
            "status": self.status,
            "passed": self.passed,
            **(
                {
                    "not_run": self.not_run,
                    "delivery": self.delivery,
                    "delivered": [d.to_dict() for d in self.delivered],
                }
                if self.not_run is not None
                else {}
            ),
            "overrides": dict(self.overrides),
            "counts": self.counts,
            "failures": self.failures(),
            "not_checked": self.not_checked(),
            "not_observable": self.not_observable(),
            "links": self.link_verdicts(),
            "studies": [s.to_dict() for s in self.studies],
            "instances": [c.to_dict() for c in self.instances],
        }


def _worst(checks: Iterable[InstanceCheck | StudyCheck | Evidence]) -> Status:
    statuses = {c.status for c in checks}
    order: tuple[Status, ...] = ("fail", PRE_EXISTING, "not checked", NOT_OBSERVABLE)
    return next((s for s in order if s in statuses), "pass")


def pre_existing_note(count: int) -> str:
    """Why a scenario with instances found before ingest does not pass."""
    were = "instance was" if count == 1 else "instances were"
    return (
        f"{count} {were} already in the target before ingest: this run cannot tell whether it "
        "stored them (replayed --seed or a UID collision)"
    )


# ── helpers ──────────────────────────────────────────────────────────────────────────────────


def _validate_overrides(overrides: Mapping[str, str] | None) -> dict[str, str]:
    out = dict(overrides or {})
    bad = [
        f"{k} → {v}" for k, v in out.items() if k not in STUDY_OUTCOMES or v not in STUDY_OUTCOMES
    ]
    if bad:
        raise TargetError(
            f"unknown outcome in expectation overrides: {', '.join(bad)} "
            f"(known: {', '.join(STUDY_OUTCOMES)})"
        )
    return out


def carried_uid(entry: InstanceEntry) -> str:
    """The SOP Instance UID the file carries (what a system indexes it under): a scenario may
    write another one than planned (the manifest's ``sop_instance_uid``)."""
    carried = entry.attributes.get("SOPInstanceUID")
    if isinstance(carried, str) and carried.strip():
        return _text(carried)
    return entry.sop_instance_uid


def _text(value: Any) -> str:
    return str(value).rstrip(" \x00")


def _mismatches(entry: InstanceEntry, seen: ObservedInstance) -> list[Mismatch]:
    found: list[Mismatch] = []
    for label, attr, keyword in COMPARED:
        observed = getattr(seen, attr)
        expected = entry.attributes.get(keyword)
        if observed is None or expected is None:  # not seen by that verifier, or not in the file
            continue
        if _text(observed) != _text(expected):
            found.append(Mismatch(label, keyword, _text(expected), _text(observed)))
    return found


class _ReceiptIndex:
    """Find an instance's receipt line by the end of its file path, else by SOP Instance UID."""

    def __init__(self, receipt: Receipt | None) -> None:
        self.results = list(receipt.results) if receipt else []
        self.by_uid: dict[str, InstanceResult] = {}
        for r in self.results:
            if r.sop_instance_uid:
                self.by_uid.setdefault(r.sop_instance_uid, r)
        self.by_tail: dict[int, dict[tuple[str, ...], InstanceResult]] = {}

    def _tails(self, n: int) -> dict[tuple[str, ...], InstanceResult]:
        if n not in self.by_tail:
            found: dict[tuple[str, ...], InstanceResult] = {}
            for r in self.results:
                parts = PurePath(r.file).parts
                if len(parts) >= n:
                    found.setdefault(parts[-n:], r)
            self.by_tail[n] = found
        return self.by_tail[n]

    def find(self, entry: InstanceEntry) -> InstanceResult | None:
        if not self.results:
            return None
        parts = PurePath(entry.file).parts
        hit = self._tails(len(parts)).get(parts) if parts else None
        return hit or self.by_uid.get(entry.sop_instance_uid)


def _ingest(result: InstanceResult | None) -> Ingest | None:
    if result is None:
        return None
    return Ingest(result.outcome, result.status_hex, result.reason)


def _label(role: str, entry: InstanceEntry) -> str:
    what = entry.view or f"{entry.iod} #{entry.instance_number}"
    return f"{role} {what}"


def _outcomes(
    entry: InstanceEntry, overrides: Mapping[str, str], pinned: Overrides
) -> tuple[str, str]:
    """The instance's outcome as the scenario declares it, and as this target expects it."""
    declared = entry.expectation or "accept"
    expected = pinned.instances.get(entry.sop_instance_uid) or overrides.get(declared, declared)
    return declared, expected


def _check_instance(
    entry: InstanceEntry,
    role: str,
    study_uid: str,
    observations: Observations,
    ingest: Ingest | None,
    overrides: Mapping[str, str],
    pinned: Overrides,
    pre_existing: Collection[str],
    ingest_kind: str | None = None,
) -> InstanceCheck:
    declared, expected = _outcomes(entry, overrides, pinned)
    carried = carried_uid(entry)
    seen = observations.get(carried)
    present = seen is not None
    before = carried in pre_existing
    # a record that was there before ingest is not this run's: its attributes prove nothing
    mismatches = _mismatches(entry, seen) if seen is not None and not before else []
    want: bool | None
    status: Status
    if expected in PRESENT_OUTCOMES:
        want = entry.written
    elif expected in ABSENT_OUTCOMES:
        want = False
    else:
        want = None
    if before:
        status = PRE_EXISTING
        reason = f"was already in the target before ingest ({expected}): not credited"
    elif want is None:
        status, reason = "not checked", f"{expected}: {NOT_AN_INSTANCE_OUTCOME}"
    elif want != present:
        status = "fail"
        where = "found in the index" if present else "not found in the index"
        reason = f"expected {'present' if want else 'absent'} ({expected}), {where}"
        if not entry.written:
            reason += " (file not written)"
    elif mismatches:
        status, reason = "fail", "; ".join(str(m) for m in mismatches)
    else:
        status = "pass"
        reason = f"{'present' if present else 'absent'} as expected ({expected})"
        if not entry.written:
            reason += ", file not written"
    if declared != expected:
        reason += f" [target expects {expected}, scenario declares {declared}]"
    mark = _mark(entry.not_observable, entry.sop_instance_uid in pinned.instances, ingest_kind)
    if mark is not None and status != PRE_EXISTING:
        want = None  # the index cannot say whether it should be there
        if mismatches:  # misfiled: a fault whatever the outcome
            status = "fail"
            reason = "; ".join(str(m) for m in mismatches) + f" ({NOT_OBSERVABLE_HERE} otherwise)"
        else:
            status, reason = NOT_OBSERVABLE, _unobservable(mark, reason)
    return InstanceCheck(
        sop_instance_uid=carried,
        file=entry.file,
        label=_label(role, entry),
        study_instance_uid=study_uid,
        declared_outcome=declared,
        expected_outcome=expected,
        written=entry.written,
        expected_present=want,
        observed_present=present,
        mismatches=mismatches,
        ingest=ingest,
        status=status,
        reason=reason,
    )


# ── copies: instances that share one SOP Instance UID ───────────────────────────────────────


def _copy_groups(manifest: Manifest) -> dict[str, list[InstanceEntry]]:
    """Each ``expect.copies`` group's entries, in manifest order (the order they were sent)."""
    groups: dict[str, list[InstanceEntry]] = {}
    for entry in manifest.instances():
        if entry.copies is not None:
            groups.setdefault(entry.copies.group, []).append(entry)
    return groups


def _check_copy(
    entry: InstanceEntry,
    role: str,
    study_uid: str,
    observations: Observations,
    ingest: Ingest | None,
    overrides: Mapping[str, str],
    pinned: Overrides,
    pre_existing: Collection[str],
    *,
    groups: Mapping[str, Sequence[InstanceEntry]],
) -> InstanceCheck:
    """One copy of a group sharing a SOP Instance UID, by the group's rule (the scenario's, or
    the one the target pins): see :mod:`dicomfab.run.copies`."""
    assert entry.copies is not None
    members = list(groups.get(entry.copies.group) or [entry])
    mine = next(i for i, m in enumerate(members) if m is entry)
    carried = carried_uid(entry)
    declared, expected = _outcomes(entry, overrides, pinned)
    rule = pinned.copies.get(entry.copies.group) or entry.copies.rule
    seen = observations.get(carried)
    numbers = [copies.instance_number(m.attributes.get("InstanceNumber")) for m in members]
    held = copies.instance_number(seen.instance_number) if seen is not None else None
    found = copies.verdict(rule, mine, numbers, seen is not None, held)
    status: Status = found.status
    reason, want, present = found.reason, found.want, found.present
    if carried in pre_existing:
        status, present = PRE_EXISTING, False
        reason = "was already in the target before ingest: not credited"
    mismatches = _mismatches(entry, seen) if seen is not None and present else []
    if status == "pass" and mismatches:
        status, reason = "fail", "; ".join(str(m) for m in mismatches)
    reason += f" (copies: {rule})"
    if rule != entry.copies.rule:
        reason += f" [target expects {rule}, scenario declares {entry.copies.rule}]"
    return InstanceCheck(
        sop_instance_uid=carried,
        file=entry.file,
        label=_label(role, entry),
        study_instance_uid=study_uid,
        declared_outcome=declared,
        expected_outcome=expected,
        written=entry.written,
        expected_present=want,
        observed_present=present,
        mismatches=mismatches,
        ingest=ingest,
        status=status,
        reason=reason,
        copies=rule,
    )


def _study_check(
    uid: str,
    role: str,
    patient_id: str,
    outcome: str,
    checks: list[InstanceCheck],
    link: tuple[Status, str] | None = None,
    mark: NotObservable | None = None,
) -> StudyCheck:
    """A study's verdict: its link verdict (``link``, for a link outcome), else decided by its
    instances' checks; ``not observable`` when the scenario marks it (``mark``) or when none of
    its instances' outcomes is observable."""
    before = sum(c.status == PRE_EXISTING for c in checks)
    if before:
        reason = f"{before} of {len(checks)} instances were in the target before ingest ({outcome})"
        return StudyCheck(uid, role, patient_id, outcome, PRE_EXISTING, reason)
    hidden = sum(c.status == NOT_OBSERVABLE for c in checks)
    if link is not None:
        if mark is not None:
            return StudyCheck(
                uid, role, patient_id, outcome, NOT_OBSERVABLE, _unobservable(mark, link[1])
            )
        return StudyCheck(uid, role, patient_id, outcome, link[0], link[1])
    failed = sum(c.status == "fail" for c in checks)
    if failed:
        reason = f"{failed} of {len(checks)} instances failed ({outcome})"
        return StudyCheck(uid, role, patient_id, outcome, "fail", reason)
    reason = f"decided by its {len(checks)} instance checks ({outcome})"
    if mark is not None:
        return StudyCheck(
            uid, role, patient_id, outcome, NOT_OBSERVABLE, _unobservable(mark, reason)
        )
    if checks and hidden == len(checks):
        reason = f"{NOT_OBSERVABLE_HERE}: as are all {len(checks)} of its instances ({outcome})"
        return StudyCheck(uid, role, patient_id, outcome, NOT_OBSERVABLE, reason)
    if hidden:
        reason = (
            f"decided by its {len(checks) - hidden} observable instance checks ({outcome}; "
            f"{hidden} not observable)"
        )
    return StudyCheck(uid, role, patient_id, outcome, "pass", reason)


def _mark(
    mark: NotObservable | None, pinned: bool, ingest_kind: str | None
) -> NotObservable | None:
    """The scenario's mark when it holds here: not for a record the target pins an outcome on
    (its ``expect`` says what its index shows), nor on an ingest kind the mark does not name."""
    if mark is None or pinned or not mark.applies(ingest_kind):
        return None
    return mark


def _unobservable(mark: NotObservable, shown: str) -> str:
    """``not observable on this target: <why> (the index: <what the check saw>)``."""
    return f"{NOT_OBSERVABLE_HERE}: {mark.reason} (the index: {shown})"


def _category(manifest: Manifest) -> str | None:
    if not manifest.scenario:
        return None
    try:
        return get_scenario(manifest.scenario).category
    except DicomfabError:
        return None


# ── public ───────────────────────────────────────────────────────────────────────────────────


def check(
    manifest: Manifest,
    observations: Observations,
    receipt: Receipt | None = None,
    overrides: Mapping[str, str] | None = None,
    *,
    pinned: Overrides | None = None,
    category: str | None = None,
    pre_existing: Collection[str] = frozenset(),
    links: LinkJudge | SamePatientMode | None = "same-patient",
    anchors: Mapping[str, Sequence[Anchor]] | None = None,
    ingest: str | None = None,
) -> ScenarioResult:
    """Check one dataset's manifest against what a verifier observed. ``overrides`` maps a
    declared outcome to the target's (e.g. ``{"quarantine": "accept"}``); ``pinned`` (from
    :func:`dicomfab.run.expect.resolve`) sets this scenario's own policy and outcomes per study
    and instance; ``category`` defaults to the scenario's category from the library, when the
    manifest names a known scenario; ``pre_existing``: the SOP Instance UIDs the target held
    before this run's ingest (each such instance is ``pre-existing``, never credited).

    ``links`` judges link expectations: ``"same-patient"`` or ``"same-patient-id"`` (from
    ``observations.studies``: see :class:`~dicomfab.run.links.SamePatient`), a
    :class:`~dicomfab.run.links.Relation`, or None (the target does not check links);
    ``anchors`` (:func:`~dicomfab.run.links.link_anchors` of every manifest of the run) gives
    each study's current studies, by default from this manifest alone.

    ``ingest``: the target's ingest kind (``cstore``, ``command``, …), for the scenario's
    ``not_observable`` marks that hold only for some kinds; None (unknown): every mark holds."""
    pinned = pinned or Overrides()
    judge = SamePatient.of(observations, links) if isinstance(links, str) else links
    anchors = anchors if anchors is not None else link_anchors([manifest])
    policy = {**_validate_overrides(overrides), **_validate_overrides(pinned.policy)}
    index = _ReceiptIndex(receipt)
    groups = _copy_groups(manifest)
    instances: list[InstanceCheck] = []
    studies: list[StudyCheck] = []
    for patient in manifest.patients:
        for study in patient.studies:
            uid = study.study_instance_uid
            mine = [
                _check_copy(
                    inst,
                    study.role,
                    uid,
                    observations,
                    _ingest(index.find(inst)),
                    policy,
                    pinned,
                    pre_existing,
                    groups=groups,
                )
                if inst.copies
                else _check_instance(
                    inst,
                    study.role,
                    uid,
                    observations,
                    _ingest(index.find(inst)),
                    policy,
                    pinned,
                    pre_existing,
                    ingest,
                )
                for series in study.series
                for inst in series.instances
            ]
            instances.extend(mine)
            declared = study.expectation or "accept"
            outcome = pinned.studies.get(uid) or policy.get(declared, declared)
            link = None
            if outcome in LINK_OUTCOMES:
                link = decide(outcome, study.role, uid, anchors.get(uid, ()), judge)
            mark = _mark(study.not_observable, uid in pinned.studies, ingest)
            studies.append(
                _study_check(uid, study.role, patient.patient_id, outcome, mine, link, mark)
            )
    return ScenarioResult(
        dataset=manifest.dataset,
        scenario=manifest.scenario,
        category=category if category is not None else _category(manifest),
        source=observations.source,
        instances=instances,
        studies=studies,
        overrides=policy,
    )


def not_run(
    name: str,
    reason: str,
    manifest: Manifest | None = None,
    receipt: Receipt | None = None,
) -> ScenarioResult:
    """A selected scenario the run did not check. ``manifest`` (when it was generated) and
    ``receipt`` (what the ingestor handled before the stop, possibly partial) give what was
    sent and acknowledged for its files."""
    delivered: list[Delivered] = []
    if manifest is not None and receipt is not None and receipt.results:
        index = _ReceiptIndex(receipt)
        for entry in manifest.instances():
            found = index.find(entry)
            if found is not None:
                ingest = _ingest(found)
                assert ingest is not None
                delivered.append(Delivered(entry.file, found.sop_instance_uid, ingest, found.sent))
    return ScenarioResult(
        dataset=manifest.dataset if manifest is not None else name,
        scenario=name,
        category=_category(manifest) if manifest is not None else _scenario_category(name),
        source="",
        not_run=reason,
        delivered=delivered,
    )


def _scenario_category(name: str) -> str | None:
    try:
        return get_scenario(name).category
    except DicomfabError:
        return None


STRICT = " — a failure under --strict"


def strict(results: Sequence[ScenarioResult]) -> list[ScenarioResult]:
    """``results`` with every ``not checked`` verdict made a failure (``--strict``): a run that
    cannot decide a verdict does not pass."""

    def hard(check: Any) -> Any:
        if check.status != "not checked":
            return check
        return replace(check, status="fail", reason=check.reason + STRICT)

    return [
        replace(r, instances=[hard(c) for c in r.instances], studies=[hard(s) for s in r.studies])
        for r in results
    ]


def check_merged(
    merged: MergedManifest | Iterable[Manifest],
    observations: Observations,
    receipt: Receipt | None = None,
    overrides: Mapping[str, str] | None = None,
) -> list[ScenarioResult]:
    """One :class:`ScenarioResult` per dataset of a merged manifest (or per manifest given)."""
    manifests = (
        [d.manifest for d in merged.datasets] if isinstance(merged, MergedManifest) else merged
    )
    return [check(m, observations, receipt, overrides) for m in manifests]


def _disagree(evidence: Sequence[Evidence]) -> bool:
    """Whether the verifiers came to different verdicts (status or reason)."""
    return len({(e.status, e.reason) for e in evidence}) > 1


def _agreeing(evidence: Sequence[Evidence]) -> str:
    """``sql, c-find agree``: the verifiers behind a verdict they share."""
    return f"{', '.join(e.verifier for e in evidence)} agree"


def verdicts(evidence: Sequence[Evidence]) -> str:
    """``sql: pass, c-find: fail``: each verifier's status, in the run's order."""
    return ", ".join(f"{e.verifier}: {e.status}" for e in evidence)


def _verdict(evidence: Sequence[Evidence]) -> str:
    """One reason line from every verifier's: ``present as expected (accept) (sql, c-find
    agree)``, or each verifier's reason then ``— verifiers disagree``."""
    if _disagree(evidence):
        return "; ".join(str(e) for e in evidence) + " — verifiers disagree"
    return f"{evidence[0].reason} ({_agreeing(evidence)})"


def _evidence(
    kinds: Sequence[str], checks: Sequence[InstanceCheck | StudyCheck]
) -> tuple[Evidence, ...]:
    return tuple(Evidence(k, c.status, c.reason) for k, c in zip(kinds, checks, strict=True))


def _combine_instances(kinds: Sequence[str], checks: Sequence[InstanceCheck]) -> InstanceCheck:
    """One record for one manifest entry: the worst status, present when one verifier found
    it, every distinct mismatch."""
    first = checks[0]
    if any((c.file, c.sop_instance_uid) != (first.file, first.sop_instance_uid) for c in checks):
        raise ValueError(f"verifiers checked different instances in place of {first.file}")
    evidence = _evidence(kinds, checks)
    return replace(
        first,
        observed_present=any(c.observed_present for c in checks),
        mismatches=list(dict.fromkeys(m for c in checks for m in c.mismatches)),
        status=_worst(checks),
        reason=_verdict(evidence),
        evidence=evidence,
    )


def _combine_studies(kinds: Sequence[str], checks: Sequence[StudyCheck]) -> StudyCheck:
    first = checks[0]
    if any(c.study_instance_uid != first.study_instance_uid for c in checks):
        raise ValueError(f"verifiers checked different studies in place of {first.role}")
    evidence = _evidence(kinds, checks)
    return replace(first, status=_worst(checks), reason=_verdict(evidence), evidence=evidence)


def _verifier_names(results: Sequence[ScenarioResult]) -> list[str]:
    """Each verifier's kind from its source (``sql``, ``c-find``); a kind used twice is
    numbered (``sql``, ``sql#2``)."""
    names: list[str] = []
    for r in results:
        kind = r.source.split(" ", 1)[0]
        n = sum(name.split("#", 1)[0] == kind for name in names)
        names.append(f"{kind}#{n + 1}" if n else kind)
    return names


def combine(per_verifier: Sequence[Sequence[ScenarioResult]]) -> list[ScenarioResult]:
    """One result per dataset from several verifiers' results (same datasets, same order, each
    from :func:`check` of the same manifest): one record per instance (per manifest entry, so
    two entries sharing a UID stay apart) and per study, in manifest order, with the worst
    status of its verifiers and each verifier's verdict in ``evidence``."""
    if len(per_verifier) == 1:
        return list(per_verifier[0])
    combined: list[ScenarioResult] = []
    for results in zip(*per_verifier, strict=True):
        kinds = _verifier_names(results)
        instances = zip(*(r.instances for r in results), strict=True)
        studies = zip(*(r.studies for r in results), strict=True)
        combined.append(
            replace(
                results[0],
                source=" + ".join(r.source for r in results),
                instances=[_combine_instances(kinds, c) for c in instances],
                studies=[_combine_studies(kinds, s) for s in studies],
            )
        )
    return combined


__all__ = [
    "NOT_OBSERVABLE",
    "NOT_PASSED",
    "PRE_EXISTING",
    "Delivered",
    "Evidence",
    "Ingest",
    "InstanceCheck",
    "Mismatch",
    "ScenarioResult",
    "StudyCheck",
    "check",
    "check_merged",
    "combine",
    "not_run",
    "pre_existing_note",
    "strict",
    "verdicts",
]
