"""Reports of a run's checks: ``report.json``, JUnit XML for CI, and a console table.

Every input is a :class:`~dicomfab.run.checks.ScenarioResult`, which holds manifest data and what
the verifier saw, nothing more: no environment, no connection strings with secrets, no
credentials ever go into a report.

A run that stopped before checking (interrupted by a signal, or a stage failed) is reported as
such: not passed, ``interrupted`` with the signal or the error and the stage, and every selected
scenario as ``not run`` (see :func:`dicomfab.run.checks.not_run`). Every report is written
atomically (:func:`write_atomically`): an older report is replaced whole or not at all.

Each report names the run's ``seed`` (``dicomfab run --seed N`` replays the run: same UIDs) and
each instance the target held before ingest (``pre-existing``: not credited, the scenario fails).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from dicomfab.run.checks import ScenarioResult, pre_existing_note

REPORT_FORMAT = 1


@dataclass(frozen=True)
class Stop:
    """Why a run ended before it checked its scenarios: a ``signal`` (``SIGINT``,
    ``SIGTERM``) or an ``error`` (a target fault, a full disk), during ``stage``."""

    stage: str
    signal: str | None = None
    error: str | None = None

    @property
    def headline(self) -> str:
        """``INTERRUPTED during ingest (SIGINT)``, or ``STOPPED during ingest by an error: …``
        for a fault."""
        if self.signal:
            return f"INTERRUPTED during {self.stage} ({self.signal})"
        return f"STOPPED during {self.stage} by an error: {self.error}"

    @property
    def reason(self) -> str:
        """What each scenario not reached says: ``not run: interrupted during ingest``."""
        if self.signal:
            return f"not run: interrupted during {self.stage}"
        return f"not run: the run stopped on an error during {self.stage}"


def overridden(declared: str, expected: str) -> str | None:
    """``reject→accept`` when the target's overrides (or pinned expectations) changed what the
    scenario declares; None when they did not."""
    return f"{declared}→{expected}" if declared != expected else None


def passed_by_override(result: ScenarioResult) -> int:
    """How many of ``result``'s instances passed only because the target expects another
    outcome than the scenario declares (``pr_bits_mismatch`` on a target that accepts what the
    scenario says it should reject)."""
    return sum(
        c.status == "pass" and overridden(c.declared_outcome, c.expected_outcome) is not None
        for c in result.instances
    )


def summary(
    results: Sequence[ScenarioResult],
    error: str | None = None,
    stop: Stop | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """Totals over every scenario; a run that stopped (``error``, ``stop``) or left a scenario
    not run did not pass. ``seed``: the run seed (``--seed`` replays the run)."""
    totals: dict[str, int] = {}
    for r in results:
        for key, n in r.counts.items():
            totals[key] = totals.get(key, 0) + n
    totals["passed_by_override"] = sum(passed_by_override(r) for r in results)
    not_run = sum(r.status == "not run" for r in results)
    failed = sum(r.status == "fail" for r in results)
    return {
        "passed": error is None and stop is None and failed == 0 and not_run == 0,
        "stopped": stop is not None,  # by a signal or a fault: what follows was not reached
        "interrupted": stop is not None and stop.signal is not None,
        "signal": stop.signal if stop else None,
        "stage": stop.stage if stop else None,
        "error": error,
        "scenarios": len(results),
        "scenarios_passed": len(results) - failed - not_run,
        "scenarios_failed": failed,
        "scenarios_not_run": not_run,
        "counts": totals,
        "seed": seed,
    }


def to_dict(
    results: Sequence[ScenarioResult],
    *,
    run: Mapping[str, Any] | None = None,
    error: str | None = None,
    stop: Stop | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    return {
        "format": REPORT_FORMAT,
        "kind": "dicomfab-run-report",
        "run": dict(run or {}),
        "summary": summary(results, error, stop, seed),
        "scenarios": [r.to_dict() for r in results],
    }


def write_atomically(path: Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder renamed over it:
    a reader, or a full disk, sees the old file or the new one, never half of one. An OSError
    (disk full, read-only) leaves the old file as it was and no temporary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return path


def write_json(
    results: Sequence[ScenarioResult],
    path: Path,
    *,
    run: Mapping[str, Any] | None = None,
    error: str | None = None,
    stop: Stop | None = None,
    seed: int | None = None,
) -> Path:
    """Write ``report.json``: the run (folder, target, times), the summary (with the run
    ``seed``, and the error or interruption that stopped the run if one did), every scenario
    and every instance check."""
    data = to_dict(results, run=run, error=error, stop=stop, seed=seed)
    return write_atomically(Path(path), json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _classname(result: ScenarioResult) -> str:
    return f"dicomfab.{result.category or result.dataset}"


def junit_tree(
    results: Sequence[ScenarioResult],
    suite: str = "dicomfab",
    *,
    error: str | None = None,
    scenarios: Sequence[str] = (),
    stop: Stop | None = None,
    seed: int | None = None,
) -> ET.ElementTree:
    """One ``<testsuite>`` (with a ``seed`` property when given), one ``<testcase>`` per
    scenario; a failed scenario carries a ``<failure>`` whose text is its record-level diff
    lines; every link verdict with its evidence, what could not be checked, and what the scenario
    says no index can show (``not observable: …``), go to ``<system-out>``. A scenario not run
    is ``<skipped>`` when a signal stopped the run, an ``<error>`` when a fault did. A run that
    stopped on ``error`` before checking gives each of ``scenarios`` without a result an
    ``<error>`` with that reason."""
    failures = sum(r.status == "fail" for r in results)
    not_run = [r for r in results if r.status == "not run"]
    skipped = len(not_run) if stop is not None and stop.signal else 0
    unchecked = [n for n in scenarios if n not in {r.name for r in results}] if error else []
    if error and not results and not unchecked:
        unchecked = ["run"]
    root = ET.Element(
        "testsuite",
        name=suite,
        tests=str(len(results) + len(unchecked)),
        failures=str(failures),
        errors=str(len(unchecked) + len(not_run) - skipped),
        skipped=str(skipped),
    )
    if seed is not None:
        properties = ET.SubElement(root, "properties")
        ET.SubElement(properties, "property", name="seed", value=str(seed))
    for name in unchecked:
        case = ET.SubElement(root, "testcase", name=name, classname=f"{suite}.run")
        ET.SubElement(case, "error", message=error or "", type="RunError").text = error
    for r in results:
        case = ET.SubElement(root, "testcase", name=r.name, classname=_classname(r))
        if r.not_run is not None:
            _not_run_case(case, r, error if skipped == 0 else None)
            continue
        counts = r.counts
        if not r.passed:
            message = failure_message(r)
            failure = ET.SubElement(case, "failure", message=message, type="ExpectationMismatch")
            failure.text = "\n".join(r.failures())
        out = [
            f"{counts['passed']} of {counts['instances']} instances as expected"
            + (f" (verifier: {r.source})" if r.source else "")
        ]
        out += [f"link verdict: {line}" for line in r.link_verdicts()]
        out += [line for line in r.not_checked() if line not in out]
        out += [f"not observable: {line}" for line in r.not_observable()]
        ET.SubElement(case, "system-out").text = "\n".join(out)
    ET.indent(root)
    return ET.ElementTree(root)


def failure_message(result: ScenarioResult) -> str:
    """A failed scenario in one line (its JUnit ``<failure>`` message): ``2 of 8 instances
    failed, 1 of 2 studies failed``, after the pre-existing note when there is one."""
    counts = result.counts
    message = f"{counts['failed']} of {counts['instances']} instances failed" + (
        f", {counts['studies_failed']} of {counts['studies']} studies failed"
        if counts["studies_failed"]
        else ""
    )
    if counts["pre_existing"]:
        message = f"{pre_existing_note(counts['pre_existing'])}; {message}"
    return message


def _not_run_case(case: ET.Element, result: ScenarioResult, error: str | None) -> None:
    reason = result.not_run or "not run"
    if error is None:
        ET.SubElement(case, "skipped", message=reason)
    else:
        ET.SubElement(case, "error", message=error, type="RunError").text = f"{reason}: {error}"
    d = result.delivery
    lines = [
        f"before the stop: {d['sent']} of its files were sent, "
        f"{d['acknowledged']} acknowledged by the system"
        if d["files"]
        else "before the stop: none of its files was sent"
    ] + [str(line) for line in result.delivered]
    ET.SubElement(case, "system-out").text = "\n".join(lines)


def write_junit(
    results: Sequence[ScenarioResult],
    path: Path,
    suite: str = "dicomfab",
    *,
    error: str | None = None,
    scenarios: Sequence[str] = (),
    stop: Stop | None = None,
    seed: int | None = None,
) -> Path:
    """Write JUnit XML for CI (see :func:`junit_tree`), atomically."""
    tree = junit_tree(results, suite, error=error, scenarios=scenarios, stop=stop, seed=seed)
    root = tree.getroot()
    assert root is not None
    return write_atomically(
        Path(path), ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
    )


def console_table(results: Sequence[ScenarioResult]) -> Table:
    """A rich table: one row per scenario, with its first difference when it failed."""
    total = summary(results)
    table = Table(
        title=f"{total['scenarios_passed']} of {total['scenarios']} scenarios passed"
        + (f", {total['scenarios_not_run']} not run" if total["scenarios_not_run"] else ""),
        show_lines=False,
    )
    table.add_column("Scenario")
    table.add_column("Category")
    table.add_column("Result")
    table.add_column("Instances", justify="right")
    table.add_column("Present", justify="right")
    table.add_column("Failed", justify="right")
    before = any(r.pre_existing for r in results)  # the column only when it says something
    if before:
        table.add_column("Pre-existing", justify="right")
    table.add_column("Links", justify="right")
    table.add_column("Not checked", justify="right")
    hidden = any(_not_observable(r) for r in results)  # the column only when it says something
    if hidden:
        table.add_column("Not observable", justify="right")
    table.add_column("First difference", overflow="fold")
    for r in results:
        c = r.counts
        lines = r.failures()
        first = lines[0] + (f" (+{len(lines) - 1} more)" if len(lines) > 1 else "") if lines else ""
        if r.not_run is not None:
            d = r.delivery
            first = r.not_run + (
                f" ({d['sent']} sent, {d['acknowledged']} acknowledged)" if d["files"] else ""
            )
        not_checked = c["not_checked"] + c["studies_not_checked"]
        result = (
            "[green]pass[/green]"
            if r.passed
            else "[yellow]not run[/yellow]"
            if r.not_run is not None
            else "[red]FAIL[/red]"
        )
        cells = [r.name, r.category or "", result, f"{c['passed']}/{c['instances']}"]
        cells += [str(c["present"]), str(c["failed"]) if c["failed"] else ""]
        if before:
            cells.append(str(c["pre_existing"]) if c["pre_existing"] else "")
        cells.append(f"{c['links_passed']}/{c['links']}" if c["links"] else "")
        cells.append(str(not_checked) if not_checked else "")
        if hidden:
            cells.append(str(_not_observable(r) or ""))
        cells.append(first)
        table.add_row(*cells)
    return table


def _not_observable(result: ScenarioResult) -> int:
    """How many of its instances and studies no index can show (see ``not_observable``)."""
    c = result.counts
    return c["not_observable"] + c["studies_not_observable"]
