"""Past runs: the folders of the runs directory that hold a ``reports/report.json``."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from dicomfab.web.errors import not_found

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def past_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """Newest first (run folders are named by their UTC start time)."""
    rows = []
    folders = sorted(runs_dir.iterdir(), reverse=True) if runs_dir.is_dir() else []
    for folder in folders:
        try:
            path = report_file(runs_dir, folder.name, "report.json")
        except HTTPException:  # not a run, or its report leads outside the runs folder
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            run, summary = data.get("run", {}), data.get("summary", {})
        except (OSError, ValueError, AttributeError):
            continue
        rows.append(
            {
                "id": folder.name,
                "path": str(folder),
                "started": run.get("started"),
                "target": run.get("target"),
                "passed": summary.get("passed"),
                "scenarios": summary.get("scenarios"),
                "scenarios_failed": summary.get("scenarios_failed"),
                "error": summary.get("error"),
            }
        )
    return rows


def report_file(runs_dir: Path, run_id: str, name: str) -> Path:
    """``<runs_dir>/<run_id>/reports/<name>``, symlinks followed, when it is a file inside
    ``runs_dir``; 404 otherwise (no such run, no such report, or a link leading elsewhere)."""
    missing = not_found(f"no run {run_id!r} with a {name} in {runs_dir}")
    if not _RUN_ID.match(run_id):
        raise missing
    try:
        path = (runs_dir / run_id / "reports" / name).resolve()
        inside = path.is_relative_to(runs_dir.resolve()) and path.is_file()
    except (OSError, RuntimeError):  # a symlink loop, say
        inside = False
    if not inside:
        raise missing
    return path


# ── one run's records (the Runs page's results, scenario by scenario) ────────────────────────

_cache: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}
_cache_lock = threading.Lock()
_RECORDS = ("studies", "instances", "delivered")


def load_report(path: Path) -> dict[str, Any]:
    """``report.json`` parsed, kept while the file is unchanged (a 148-scenario report is read
    once, not once per expanded scenario)."""
    stat = path.stat()
    key = (stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        hit = _cache.get(path)
        if hit is not None and hit[0] == key:
            return hit[1]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict):
        raise not_found(f"{path} is not a readable run report")
    with _cache_lock:
        if len(_cache) >= 8:
            _cache.clear()
        _cache[path] = (key, data)
    return data


def _kinds(source: str) -> list[str]:
    """The verifiers of a scenario's ``source`` (``sql sqlite:///… + c-find 127.0.0.1:…``)."""
    return [part.strip().split(" ", 1)[0] for part in source.split(" + ") if part.strip()]


def _without_agreement(reason: str) -> str:
    """A reason without its ``(sql, c-find agree)`` tail: one line for every verifier."""
    return re.sub(r" \([^()]*\bagree\)$", "", reason)


def not_checked_groups(scenario: dict[str, Any]) -> list[dict[str, Any]]:
    """The scenario's records no verifier could decide, grouped by reason and by the verifiers
    that could not decide them: one line per group naming them, each record counted once (as
    the HTML report counts them)."""
    kinds = _kinds(str(scenario.get("source", "")))
    groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    records = [
        (f"{c.get('label')} {c.get('sop_instance_uid')}", c) for c in _list(scenario, "instances")
    ]
    records += [
        (f"{s.get('role')} study {s.get('study_instance_uid')} ({s.get('expected_outcome')})", s)
        for s in _list(scenario, "studies")
    ]
    for name, record in records:
        if record.get("status") != "not checked":
            continue
        evidence = [e for e in record.get("evidence") or [] if e.get("status") == "not checked"]
        if evidence:
            reason = str(evidence[0].get("reason", ""))
            verifiers = tuple(str(e.get("verifier")) for e in evidence)
        else:
            reason, verifiers = _without_agreement(str(record.get("reason", ""))), tuple(kinds)
        groups.setdefault((reason, verifiers), []).append(name)
    return [
        {"reason": reason, "verifiers": list(verifiers), "records": names}
        for (reason, verifiers), names in groups.items()
    ]


def _list(scenario: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = scenario.get(key)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _passed_by_override(scenario: dict[str, Any]) -> int:
    return sum(
        c.get("status") == "pass" and c.get("declared_outcome") != c.get("expected_outcome")
        for c in _list(scenario, "instances")
    )


def scenario_row(scenario: dict[str, Any]) -> dict[str, Any]:
    """A scenario of the report without its records, with its grouped not-checked lines and
    its count of passes through the target's overrides."""
    row = {k: v for k, v in scenario.items() if k not in _RECORDS}
    row["not_checked_groups"] = not_checked_groups(scenario)
    row["passed_by_override"] = _passed_by_override(scenario)
    return row


def relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it (what the UI shows and sends back)."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def overview(runs_dir: Path, root: Path, run_id: str) -> dict[str, Any]:
    """A run without its records: the run, its summary, one row per scenario, and where its
    data is (relative to ``root``)."""
    data = load_report(report_file(runs_dir, run_id, "report.json"))
    scenarios = _list(data, "scenarios")
    summary = dict(data.get("summary") or {})
    counts = dict(summary.get("counts") or {})
    counts.setdefault("passed_by_override", sum(_passed_by_override(s) for s in scenarios))
    summary["counts"] = counts
    folder = runs_dir / run_id
    run = dict(data.get("run") or {})
    kept, absolute = run.get("kept"), run.get("run folder")
    if isinstance(kept, str) and isinstance(absolute, str) and absolute:
        # what a stopped run kept, with the run folder as the UI names it (relative to the root)
        run["kept"] = kept.replace(absolute, relative(folder, root))
    return {
        "id": run_id,
        "folder": relative(folder, root),
        "generated": relative(folder / "generated", root)
        if (folder / "generated").is_dir()
        else None,
        "run": run,
        "summary": summary,
        "scenarios": [scenario_row(s) for s in scenarios],
    }


def scenario_records(runs_dir: Path, root: Path, run_id: str, name: str) -> dict[str, Any]:
    """One scenario of a run with every record; each instance with ``path`` (its file,
    relative to ``root``, for the thumbnail and header routes; null when not on disk) and
    ``override`` (``reject→accept`` when the target's expectation changed the scenario's)."""
    data = load_report(report_file(runs_dir, run_id, "report.json"))
    found = next((s for s in _list(data, "scenarios") if s.get("name") == name), None)
    if found is None:
        raise not_found(f"no scenario {name!r} in run {run_id!r}")
    merged = runs_dir / run_id / "merged_dataset"
    instances = []
    for c in _list(found, "instances"):
        file = merged / str(c.get("file", ""))
        inside = file.resolve().is_relative_to(merged.resolve())
        declared, expected = c.get("declared_outcome"), c.get("expected_outcome")
        instances.append(
            {
                **c,
                "path": relative(file, root) if inside and file.is_file() else None,
                "override": f"{declared}→{expected}" if declared != expected else None,
            }
        )
    return {
        **scenario_row(found),
        "studies": _list(found, "studies"),
        "instances": instances,
        **({"delivered": found["delivered"]} if "delivered" in found else {}),
    }
