"""Reports of a run's checks: ``report.json``, JUnit XML for CI, and a console table.

Every input is a :class:`~dicomfab.run.checks.ScenarioResult`, which holds manifest data and what
the verifier saw, nothing more: no environment, no connection strings with secrets, no
credentials ever go into a report.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from dicomfab.run.checks import ScenarioResult

REPORT_FORMAT = 1


def summary(results: Sequence[ScenarioResult], error: str | None = None) -> dict[str, Any]:
    """Totals over every scenario; a run that stopped on ``error`` did not pass."""
    totals: dict[str, int] = {}
    for r in results:
        for key, n in r.counts.items():
            totals[key] = totals.get(key, 0) + n
    failed = sum(not r.passed for r in results)
    return {
        "passed": error is None and failed == 0,
        "error": error,
        "scenarios": len(results),
        "scenarios_passed": len(results) - failed,
        "scenarios_failed": failed,
        "counts": totals,
    }


def to_dict(
    results: Sequence[ScenarioResult],
    *,
    run: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    return {
        "format": REPORT_FORMAT,
        "kind": "dicomfab-run-report",
        "run": dict(run or {}),
        "summary": summary(results, error),
        "scenarios": [r.to_dict() for r in results],
    }


def write_json(
    results: Sequence[ScenarioResult],
    path: Path,
    *,
    run: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> Path:
    """Write ``report.json``: the run (folder, target, times), the summary with the error that
    stopped the run if one did, every scenario and every instance check."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_dict(results, run=run, error=error), indent=2, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def _classname(result: ScenarioResult) -> str:
    return f"dicomfab.{result.category or result.dataset}"


def junit_tree(
    results: Sequence[ScenarioResult],
    suite: str = "dicomfab",
    *,
    error: str | None = None,
    scenarios: Sequence[str] = (),
) -> ET.ElementTree:
    """One ``<testsuite>``, one ``<testcase>`` per scenario; a failed scenario carries a
    ``<failure>`` whose text is its record-level diff lines; what could not be checked (e.g.
    link / no-link) goes to ``<system-out>``. A run that stopped on ``error`` before checking
    gives each of ``scenarios`` an ``<error>`` with that reason."""
    failures = sum(not r.passed for r in results)
    unchecked = [n for n in scenarios if n not in {r.name for r in results}] if error else []
    if error and not results and not unchecked:
        unchecked = ["run"]
    root = ET.Element(
        "testsuite",
        name=suite,
        tests=str(len(results) + len(unchecked)),
        failures=str(failures),
        errors=str(len(unchecked)),
        skipped="0",
    )
    for name in unchecked:
        case = ET.SubElement(root, "testcase", name=name, classname=f"{suite}.run")
        ET.SubElement(case, "error", message=error or "", type="RunError").text = error
    for r in results:
        case = ET.SubElement(root, "testcase", name=r.name, classname=_classname(r))
        counts = r.counts
        if not r.passed:
            lines = r.failures()
            message = f"{counts['failed']} of {counts['instances']} instances failed" + (
                f", {counts['studies_failed']} of {counts['studies']} studies failed"
                if counts["studies_failed"]
                else ""
            )
            failure = ET.SubElement(case, "failure", message=message, type="ExpectationMismatch")
            failure.text = "\n".join(lines)
        out = [
            f"{counts['passed']} of {counts['instances']} instances as expected"
            + (f" (verifier: {r.source})" if r.source else "")
        ]
        out += r.not_checked()
        ET.SubElement(case, "system-out").text = "\n".join(out)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(
    results: Sequence[ScenarioResult],
    path: Path,
    suite: str = "dicomfab",
    *,
    error: str | None = None,
    scenarios: Sequence[str] = (),
) -> Path:
    """Write JUnit XML for CI (see :func:`junit_tree`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = junit_tree(results, suite, error=error, scenarios=scenarios)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path


def console_table(results: Sequence[ScenarioResult]) -> Table:
    """A rich table: one row per scenario, with its first difference when it failed."""
    total = summary(results)
    table = Table(
        title=f"{total['scenarios_passed']} of {total['scenarios']} scenarios passed",
        show_lines=False,
    )
    table.add_column("Scenario")
    table.add_column("Category")
    table.add_column("Result")
    table.add_column("Instances", justify="right")
    table.add_column("Present", justify="right")
    table.add_column("Failed", justify="right")
    table.add_column("Not checked", justify="right")
    table.add_column("First difference", overflow="fold")
    for r in results:
        c = r.counts
        lines = r.failures()
        first = lines[0] + (f" (+{len(lines) - 1} more)" if len(lines) > 1 else "") if lines else ""
        not_checked = c["not_checked"] + c["studies_not_checked"]
        table.add_row(
            r.name,
            r.category or "",
            "[green]pass[/green]" if r.passed else "[red]FAIL[/red]",
            f"{c['passed']}/{c['instances']}",
            str(c["present"]),
            str(c["failed"]) if c["failed"] else "",
            str(not_checked) if not_checked else "",
            first,
        )
    return table
