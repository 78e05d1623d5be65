"""Reports of a run's checks: ``report.json``, JUnit XML for CI, and a console table.

Every input is a :class:`~dicomfab.run.checks.ScenarioResult`, which holds manifest data and what
the verifier saw, nothing more: no environment, no connection strings with secrets, no
credentials ever go into a report.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from dicomfab.run.checks import ScenarioResult

REPORT_FORMAT = 1


def summary(results: Sequence[ScenarioResult]) -> dict[str, Any]:
    """Totals over every scenario."""
    totals: dict[str, int] = {}
    for r in results:
        for key, n in r.counts.items():
            totals[key] = totals.get(key, 0) + n
    failed = sum(not r.passed for r in results)
    return {
        "passed": failed == 0,
        "scenarios": len(results),
        "scenarios_passed": len(results) - failed,
        "scenarios_failed": failed,
        "counts": totals,
    }


def to_dict(results: Sequence[ScenarioResult]) -> dict[str, Any]:
    return {
        "format": REPORT_FORMAT,
        "kind": "dicomfab-run-report",
        "summary": summary(results),
        "scenarios": [r.to_dict() for r in results],
    }


def write_json(results: Sequence[ScenarioResult], path: Path) -> Path:
    """Write ``report.json``: the run summary, every scenario and every instance check."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_dict(results), indent=2, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def _classname(result: ScenarioResult) -> str:
    return f"dicomfab.{result.category or result.dataset}"


def junit_tree(results: Sequence[ScenarioResult], suite: str = "dicomfab") -> ET.ElementTree:
    """One ``<testsuite>``, one ``<testcase>`` per scenario; a failed scenario carries a
    ``<failure>`` whose text is its record-level diff lines; what could not be checked (e.g.
    link / no-link) goes to ``<system-out>``."""
    failures = sum(not r.passed for r in results)
    root = ET.Element(
        "testsuite",
        name=suite,
        tests=str(len(results)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
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


def write_junit(results: Sequence[ScenarioResult], path: Path, suite: str = "dicomfab") -> Path:
    """Write JUnit XML for CI (see :func:`junit_tree`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    junit_tree(results, suite).write(path, encoding="utf-8", xml_declaration=True)
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
