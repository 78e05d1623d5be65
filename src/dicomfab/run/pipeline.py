"""One end-to-end run: generate → merge → pre-check → ingest → wait → verify → check → report.

    outcome = execute(RunRequest(scenarios, target=None, targets=load_targets(None)))
    outcome.exit_code  # 0 all met, 1 some scenario did not, 3 the target failed

Everything of a run stays in its folder (default ``./runs/<UTC timestamp>/``)::

    generated/<scenario>/   each scenario as generated (manifest, dicoms, jsons)
    merged_dataset/         every DICOM and JSON file in one folder, as the system ingests it
    logs/run.log            what happened, stage by stage (secrets masked)
    logs/…                  the ingest command's output, the embedded PACS's log
    embedded-pacs/          the embedded target's database and stored files
    reports/                report.json, junit.xml, report.html

Every run has a **run seed**: ``RunRequest.seed``, else the seed every scenario request shares,
else a fresh one (:func:`fresh_seed`); each scenario without a seed of its own is built with it
(mixed with its name). The seed is in the merged manifest (``run_seed``), ``run.log`` and every
report: the same seed replays the run (same UIDs), a fresh one gives new UIDs. Before ingest the
first verifier looks for the run's SOP Instance UIDs (``pre-check``): what the target already
holds was not sent by this run, and is reported ``pre-existing`` instead of being credited.

A target failure (cannot connect, command failed, tunnel refused, …) or a full disk stops the
run at that stage: the reports are still written, with the one-line reason, and nothing
generated is lost. An interruption (SIGINT, SIGTERM: a KeyboardInterrupt) does the same, then
goes on (re-raised, carrying ``outcome``, ``run_dir`` and ``stage``). Either way the reports say
so (not passed, interrupted, the stage), list every selected scenario not reached as ``not run``
with what the ingestor had sent and the system acknowledged for it, and exit 3 (a fault) or
128 + the signal (an interruption).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import signal
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from dicomfab.errors import DicomfabError, OutputError, SpecError, TargetError
from dicomfab.output.manifest import Manifest
from dicomfab.output.merge import MergedManifest, merge
from dicomfab.run import report
from dicomfab.run.checks import ScenarioResult, carried_uid, check, combine, not_run, strict
from dicomfab.run.connect import EMBEDDED, Session, open_target
from dicomfab.run.expect import Overrides, resolve, rule_issues
from dicomfab.run.links import LinkJudge, Relation, SamePatient, SamePatientMode, link_anchors
from dicomfab.run.prerun import check_run
from dicomfab.run.report import Stop
from dicomfab.scenarios import ScenarioRequest, generate_scenarios
from dicomfab.targets.config import Targets, Wait
from dicomfab.targets.observations import Observations, Verifier
from dicomfab.targets.receipt import Receipt

EXIT_PASSED, EXIT_FAILED, EXIT_TARGET = 0, 1, 3


class Progress(Protocol):
    """What a run tells whoever watches it (the CLI draws bars; tests record)."""

    def begin(self, stage: str, total: int | None = None) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def end(self, summary: str) -> None: ...


class QuietProgress:
    def begin(self, stage: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def end(self, summary: str) -> None:
        pass


@dataclass(frozen=True)
class RunRequest:
    scenarios: Sequence[ScenarioRequest]
    target: str | None = None
    targets: Targets = field(default_factory=lambda: Targets({}, set(), None))
    runs_dir: Path = Path("runs")
    run_dir: Path | None = None
    report_dir: Path | None = None
    workers: int | None = None
    executor: Executor | None = None  # generates instead of local processes (``--dask``)
    seed: int | None = None  # the run seed; None: the scenarios' shared seed, else a fresh one
    strict: bool = False  # a verdict not checked (e.g. links = "none") is a failure


def fresh_seed() -> int:
    """A new run seed: unpredictable, and an integer a user can type back (``--seed``)."""
    return secrets.randbelow(2**53)


def run_seed(request: RunRequest) -> int:
    """The seed of this run: the one asked for, else the one every scenario request carries,
    else a fresh one."""
    if request.seed is not None:
        return request.seed
    seeds = {r.seed for r in request.scenarios}
    shared = seeds.pop() if len(seeds) == 1 else None
    return shared if shared is not None else fresh_seed()


@dataclass
class RunOutcome:
    run_dir: Path
    report_dir: Path
    target: str
    results: list[ScenarioResult] = field(default_factory=list)
    error: str | None = None  # "ingest: …" when a stage failed
    stages: dict[str, float] = field(default_factory=dict)  # stage → seconds
    reports: list[Path] = field(default_factory=list)
    stop: Stop | None = None  # the run ended before checking: interrupted, or a stage failed
    report_error: str | None = None  # the reports could not be written (disk full, read-only)
    kept: str | None = None  # what the run folder holds when the run stopped early
    seed: int | None = None  # the run seed: ``dicomfab run --seed`` with it replays the run

    @property
    def passed(self) -> bool:
        return (
            self.error is None
            and self.stop is None
            and self.report_error is None
            and bool(self.results)
            and all(r.passed for r in self.results)
        )

    @property
    def exit_code(self) -> int:
        if self.stop is not None and self.stop.signal:
            return 128 + signal.Signals[self.stop.signal].value
        if self.error is not None or self.report_error is not None:
            return EXIT_TARGET
        return EXIT_PASSED if self.passed else EXIT_FAILED

    def to_dict(self, replay: str | None = None) -> dict[str, Any]:
        """The run as JSON data (``dicomfab run --json``, the UI's job result): where it went,
        its stages and reports, and the report summary; ``replay`` is the command that
        replays it."""
        return {
            "run_dir": str(self.run_dir),
            "report_dir": str(self.report_dir),
            "target": self.target,
            "exit_code": self.exit_code,
            "stages": self.stages,
            "reports": [str(p) for p in self.reports],
            "report_error": self.report_error,
            "kept": self.kept,
            **({"replay": replay} if replay else {}),
            **report.summary(self.results, self.error, self.stop, self.seed),
        }


def new_run_dir(runs_dir: Path, kind: str = "") -> Path:
    """``runs_dir/<UTC timestamp>[-kind]``, with ``-2``, ``-3``, … when two runs start in one
    second."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S") + (f"-{kind}" if kind else "")
    candidate, n = runs_dir / stamp, 1
    while True:
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            n += 1
            candidate = runs_dir / f"{stamp}-{n}"


def check_expect_names(expect: dict[str, dict[str, str]], where: str) -> None:
    """Every scenario a target's ``expect`` table names must exist and each of its rules be well
    formed (typos are caught early); see :mod:`dicomfab.run.prerun` for the whole check."""
    issues = rule_issues(expect, where)
    if issues:
        raise SpecError(issues)


class _Log:
    """``logs/run.log``: one timestamped line per event, secrets masked."""

    def __init__(self, path: Path, targets: Targets) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.targets = targets

    def __call__(self, line: str) -> None:
        """Append ``line``; a log that cannot be written (disk full) does not stop the run."""
        stamp = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
        try:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(f"{stamp} {self.targets.mask(line)}\n")
        except OSError:
            pass


def study_uids(merged: MergedManifest) -> list[str]:
    """Every study UID of the run: as planned, and as the files carry them (a scenario may write
    an instance under another study)."""
    found: dict[str, None] = {}
    for d in merged.datasets:
        for p in d.manifest.patients:
            for s in p.studies:
                found[s.study_instance_uid] = None
                for se in s.series:
                    for inst in se.instances:
                        other = inst.attributes.get("StudyInstanceUID")
                        if isinstance(other, str) and other:
                            found[other] = None
    return list(found)


def wait_until_stable(
    verifier: Verifier, uids: list[str], wait: Wait, progress: Progress
) -> tuple[Observations, str]:
    """Poll ``verifier`` until its count of found instances holds for ``wait.stable`` polls in
    a row, everything is found, or ``wait.timeout`` passes; return the last observation."""
    start = time.monotonic()
    counts: list[int] = []
    while True:
        observations = verifier.observe(uids)
        found = len(observations.instances)
        if counts:
            progress.advance(max(0, found - counts[-1]))
        else:
            progress.advance(found)
        counts.append(found)
        waited = time.monotonic() - start
        if found == len(uids):
            return observations, f"all {found} found after {waited:.1f} s"
        if len(counts) >= wait.stable and len(set(counts[-wait.stable :])) == 1:
            return observations, f"{found} of {len(uids)} found, stable after {waited:.1f} s"
        if waited + wait.interval > wait.timeout:
            return observations, (
                f"{found} of {len(uids)} found, still changing after {wait.timeout:g} s (timeout)"
            )
        time.sleep(wait.interval)


def files_to_ingest(merged_dir: Path, merged: MergedManifest | None = None) -> list[Path]:
    """Every file under ``dicoms/``: in the order of ``merged`` (each scenario's studies and
    instances as it lists them, as a modality sends them: arrival order then does not depend on
    the UIDs the seed drew), then any file it does not list, in path order."""
    every = sorted(p for p in (merged_dir / "dicoms").rglob("*") if p.is_file())
    if merged is None:
        return every
    listed = [merged_dir / i.file for i in merged.instances() if i.written]
    first = [p for p in dict.fromkeys(listed) if p.is_file()]
    known = set(first)
    return first + [p for p in every if p not in known]


class _Runner:
    def __init__(self, request: RunRequest, progress: Progress) -> None:
        self.request = request
        self.progress = progress
        if request.run_dir is not None:
            request.run_dir.mkdir(parents=True, exist_ok=False)
            self.root = request.run_dir.absolute()
        else:
            self.root = new_run_dir(request.runs_dir.absolute())
        self.reports = request.report_dir or self.root / "reports"
        self.log = _Log(self.root / "logs" / "run.log", request.targets)
        self.seed = run_seed(request)
        # each scenario without a seed of its own is built with the run seed
        self.scenarios = [
            r if r.seed is not None else replace(r, seed=self.seed) for r in request.scenarios
        ]
        self.outcome = RunOutcome(
            self.root, self.reports, request.target or EMBEDDED, seed=self.seed
        )
        self.merged: MergedManifest | None = None
        self.pre_existing: set[str] = set()  # SOP Instance UIDs the target held before ingest
        self.receipt: Receipt | None = None  # after a fault or interruption: what was done
        self.meta: dict[str, Any] = {}
        self.current = "generate"  # the stage running, named in an error

    @contextmanager
    def stage(self, name: str, total: int | None = None) -> Iterator[None]:
        self.current = name
        self.progress.begin(name, total)
        self.log(f"{name}: start")
        start = time.perf_counter()
        try:
            yield
        finally:
            self.outcome.stages[name] = round(time.perf_counter() - start, 3)

    def done(self, name: str, summary: str) -> None:
        self.log(f"{name}: {summary}")
        self.progress.end(summary)

    def run(self) -> RunOutcome:
        with self._library_logs():
            return self._run()

    @contextmanager
    def _library_logs(self) -> Iterator[None]:
        """pydicom's and pynetdicom's warnings about the (often deliberately broken) files go to
        ``logs/libraries.log`` instead of the console."""
        handler = logging.FileHandler(self.root / "logs" / "libraries.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        loggers = [logging.getLogger(name) for name in ("pydicom", "pynetdicom")]
        saved = [(lg.propagate, lg.level) for lg in loggers]
        for lg in loggers:
            lg.addHandler(handler)
            lg.propagate = False
            lg.setLevel(logging.WARNING)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield
        finally:
            for lg, (propagate, level) in zip(loggers, saved, strict=True):
                lg.removeHandler(handler)
                lg.propagate, lg.level = propagate, level
            handler.close()

    def _run(self) -> RunOutcome:
        started = dt.datetime.now(dt.UTC)
        self.meta = {
            "run folder": str(self.root),
            "target": self.outcome.target,
            "scenarios": str(len(self.request.scenarios)),
            "seed": str(self.seed),
            "started": started.strftime("%Y-%m-%d %H:%M:%S UTC"),
        }
        self.log(f"seed: {self.seed} (replay with --seed {self.seed})")
        self.current = "generate"
        try:
            self._generate()
            self._merge()
            self.current = "target"
            assert self.merged is not None
            with open_target(
                self.request.target,
                self.request.targets,
                self.root,
                folder=self.root / "merged_dataset",
                study_uids=study_uids(self.merged),
            ) as session:
                self.meta["target"] = f"{session.name}: {session.description}"
                self.log(f"target: {session.description}")
                self._pre_check(session)
                self._ingest(session)
                self._verify(session)
        except KeyboardInterrupt as exc:
            name = signal.Signals(getattr(exc, "signum", signal.SIGINT)).name
            self.outcome.stop = Stop(self.current, signal=name)
            self.receipt = self.receipt or _partial(exc)
            self.log(f"{self.current}: INTERRUPTED ({name})")
            exc.outcome, exc.run_dir, exc.stage = self.outcome, self.root, self.current  # type: ignore[attr-defined]
            raise
        except DicomfabError as exc:
            message = self.request.targets.mask(str(exc))
            self.outcome.error = f"{self.current}: {message}"
            self.outcome.stop = Stop(self.current, error=self.outcome.error)
            self.receipt = self.receipt or _partial(exc)
            self.log(f"{self.current}: FAILED: {message}")
            if not isinstance(exc, TargetError | OutputError):
                raise
        finally:
            elapsed = (dt.datetime.now(dt.UTC) - started).total_seconds()
            self.meta["duration"] = f"{elapsed:.1f} s"
            if self.outcome.stop is not None:
                self._stopped(self.outcome.stop)
            self._report()
        return self.outcome

    def _stopped(self, stop: Stop) -> None:
        """Every selected scenario without a result becomes ``not run``, with what the ingestor
        handled for its files; the run folder's contents are named."""
        manifests = self._manifests()
        done = {r.name for r in self.outcome.results}
        self.outcome.results += [
            not_run(r.name, stop.reason, manifests.get(r.name), self.receipt)
            for r in self.request.scenarios
            if r.name not in done
        ]
        total = len(self.request.scenarios)
        kept = f"{len(manifests)} of {total} scenarios generated in {self.root / 'generated'}"
        if self.merged is not None:
            kept += f", merged in {self.root / 'merged_dataset'}"
        if self.receipt is not None and self.receipt.results:
            counts = self.receipt.counts
            acknowledged = counts["success"] + counts["warning"]
            sent = sum(r.sent for r in self.receipt.results)
            kept += f"; {sent} files sent, {acknowledged} acknowledged by the target"
        self.outcome.kept = kept
        self.meta["stopped"] = stop.headline
        self.meta["kept"] = kept
        self.log(f"{stop.stage}: kept {kept}")

    def _manifests(self) -> dict[str, Manifest]:
        """Each generated scenario's manifest: from the merge, else from ``generated/``."""
        if self.merged is not None:
            return {
                d.manifest.scenario or d.manifest.dataset: d.manifest for d in self.merged.datasets
            }
        found: dict[str, Manifest] = {}
        folder = self.root / "generated"
        for path in sorted(folder.glob("*/manifest.json")) if folder.is_dir() else []:
            if path.parent.name.startswith("."):
                continue
            try:
                manifest = Manifest.model_validate_json(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            found[manifest.scenario or manifest.dataset] = manifest
        return found

    # --- stages ---------------------------------------------------------------------------

    def _generate(self) -> None:
        requests = self.scenarios
        with self.stage("generate", len(requests)):
            results = generate_scenarios(
                requests,
                self.root / "generated",
                workers=self.request.workers,
                progress=lambda _r: self.progress.advance(),
                executor=self.request.executor,
            )
        self.generated = [r.path for r in results]
        files = sum(r.files_written for r in results)
        size = sum(r.bytes_written for r in results)
        self.done(
            "generate", f"{len(results)} scenarios, {files} files, {size / 1e6:.1f} MB generated"
        )

    def _merge(self) -> None:
        with self.stage("merge"):
            result = merge(
                self.generated, self.root / "merged_dataset", link=True, run_seed=self.seed
            )
        self.merged = result.manifest
        dupes = len(result.duplicates)
        note = f", {dupes} identical files merged once" if dupes else ""
        self.done("merge", f"{result.files} DICOM + {result.records} JSON files merged{note}")

    def _uids(self) -> list[str]:
        """Every SOP Instance UID the run's files carry, once each, in manifest order."""
        assert self.merged is not None
        instances = self.merged.instances()
        return list(dict.fromkeys(carried_uid(i) for i in instances))

    def _pre_check(self, session: Session) -> None:
        """Look in the target for this run's UIDs before sending anything: what is found there
        was not stored by this run (a replayed seed, a UID collision) and is not credited."""
        uids = self._uids()
        with self.stage("pre-check", 1):
            found = session.verifiers[0].observe(uids)
            self.progress.advance()
        self.pre_existing = set(found.instances)
        if self.pre_existing:
            summary = (
                f"{len(self.pre_existing)} of {len(uids)} instances already in the target "
                "before ingest (replayed --seed or a UID collision): not credited"
            )
        else:
            summary = f"none of the {len(uids)} instances in the target before ingest"
        self.done("pre-check", summary)

    def _ingest(self, session: Session) -> None:
        files = files_to_ingest(self.root / "merged_dataset", self.merged)
        with self.stage("ingest", len(files)):
            receipt = session.ingestor.ingest(files, self.progress.advance)
        self.receipt = receipt
        if receipt.results:
            self.done("ingest", str(receipt))
        else:  # a command ingests the folder: only the verifier can tell what arrived
            self.done("ingest", f"{len(files)} files handed over in {receipt.elapsed:.1f} s")

    def _verify(self, session: Session) -> None:
        assert self.merged is not None
        manifests = [d.manifest for d in self.merged.datasets]
        uids = self._uids()
        with self.stage("wait", len(uids)):
            first, settled = wait_until_stable(
                session.verifiers[0], uids, session.wait, self.progress
            )
        self.meta["waiting"] = settled
        self.done("wait", settled)
        with self.stage("verify", len(session.verifiers)):
            observed = [first]
            self.progress.advance()
            for verifier in session.verifiers[1:]:
                observed.append(verifier.observe(uids))
                self.progress.advance()
        sources = ", ".join(f"{o.source} ({len(o.instances)} found)" for o in observed)
        self.done("verify", sources)
        pinned = {m.dataset: self._pinned(session, m.scenario or m.dataset, m) for m in manifests}
        links = self._link_judge(session)
        anchors = link_anchors(manifests)
        per_verifier = []
        for obs in observed:
            # one judge per verifier, not one per dataset: SamePatient.of reads every instance
            judge = SamePatient.of(obs, links) if isinstance(links, str) else links
            per_verifier.append(
                [
                    check(
                        m,
                        obs,
                        self.receipt,
                        session.policy,
                        pinned=pinned[m.dataset],
                        pre_existing=self.pre_existing,
                        links=judge,
                        anchors=anchors,
                        ingest=session.ingest_kind,
                    )
                    for m in manifests
                ]
            )
        results = combine(per_verifier)
        self.outcome.results = strict(results) if self.request.strict else results

    def _link_judge(self, session: Session) -> LinkJudge | SamePatientMode | None:
        """How this target's link expectations are judged; the product's own relation is asked
        once, in batches, for every study of the run."""
        if session.links == "none":
            self.log('links: not checked (links = "none")')
            return None
        if session.relation is None:
            return "same-patient-id" if session.links == "same-patient-id" else "same-patient"
        assert self.merged is not None
        with self.stage("links", 1):
            pairs = session.relation.pairs(study_uids(self.merged))
            self.progress.advance()
        self.done("links", f"{len(pairs.pairs)} pairs from {pairs.source}")
        return Relation(pairs)

    @staticmethod
    def _pinned(session: Session, name: str, manifest: Manifest) -> Overrides:
        rules = session.expect.get(name)
        return resolve(rules, manifest, where=f"expect.{name}") if rules else Overrides()

    def _report(self) -> None:
        """Write the three reports, each atomically; one that cannot be written (disk full,
        read-only) leaves any older one whole and is named in ``report_error`` (exit 3)."""
        names = [r.name for r in self.request.scenarios]
        results, error, stop = self.outcome.results, self.outcome.error, self.outcome.stop
        out, seed = self.reports, self.seed
        writers = (
            lambda: report.write_json(
                results, out / "report.json", run=self.meta, error=error, stop=stop, seed=seed
            ),
            lambda: report.write_junit(
                results, out / "junit.xml", error=error, scenarios=names, stop=stop, seed=seed
            ),
            lambda: self._html(out / "report.html"),
        )
        failures: list[str] = []
        for write in writers:
            try:
                self.outcome.reports.append(write())
            except OSError as exc:
                failures.append(f"{exc.filename or out}: {exc.strerror or exc}")
        if failures:
            self.outcome.report_error = f"cannot write the reports: {'; '.join(failures)}"
            self.log(self.outcome.report_error)
        else:
            self.log(f"reports: {out}")

    def _html(self, path: Path) -> Path:
        from dicomfab.run.html import write_html

        return write_html(
            self.outcome.results,
            path,
            dataset_root=self.root / "merged_dataset",
            title=f"dicomfab run {self.root.name}",
            meta=self.meta,
            error=self.outcome.error,
            stop=self.outcome.stop,
        )


def _partial(exc: BaseException) -> Receipt | None:
    """The receipt an ingestor attached to a fault or an interruption (what it had done)."""
    partial = getattr(exc, "partial", None)
    return partial if isinstance(partial, Receipt) else None


def execute(request: RunRequest, progress: Progress | None = None) -> RunOutcome:
    """Run every stage; a target failure is in the outcome (``error``), never raised. Bad input
    (unknown or broken target, a policy or expectation that does not fit the selected scenarios,
    a runs or report folder that cannot be written) raises before anything is generated."""
    check_run(request)
    return _Runner(request, progress or QuietProgress()).run()
