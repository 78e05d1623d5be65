"""Past runs: the folders of the runs directory that hold a ``reports/report.json``."""

from __future__ import annotations

import json
import re
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
