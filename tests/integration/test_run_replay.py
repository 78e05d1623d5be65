"""A run is credited only with what it sent, against a real Orthanc (PostgreSQL index) that
keeps its data between runs, as the products users test do.

Replaying a run (the same ``--seed``) sends the same UIDs again: the target already holds them
before ingest, so the second run cannot tell whether it stored anything. It must say so
(``pre-existing``) and not pass; a run with a fresh seed (the default) passes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from stack import OrthancStack

REPO = Path(__file__).resolve().parents[2]
ORTHANC_TOML = REPO / "examples" / "targets" / "orthanc-postgres.toml"
DICOMFAB = Path(sys.executable).with_name("dicomfab")
SCENARIO = "bits_consistent"
SEED = "5"  # no other integration test uses it: they share this Orthanc


def _env(stack: OrthancStack) -> dict[str, str]:
    return {
        **os.environ,
        "COLUMNS": "250",
        "ORTHANC_HOST": stack.host,
        "ORTHANC_DICOM_PORT": str(stack.dicom_port),
        "ORTHANC_AET": stack.ae_title,
        "PG_HOST": stack.pg_host,
        "PG_PORT": str(stack.pg_port),
        "DB_PW": stack.password,
    }


def _run(stack: OrthancStack, cwd: Path, *extra: str) -> tuple[int, str, Path]:
    """``dicomfab run`` of one scenario into the Orthanc target: exit code, console, run folder."""
    runs = cwd / "runs"
    cwd.mkdir(parents=True)
    done = subprocess.run(
        [str(DICOMFAB), "run", "--config", str(ORTHANC_TOML), "--target", "orthanc",
         "-s", SCENARIO, "--image-size", "small", "--runs-dir", str(runs), *extra],
        env=_env(stack), cwd=cwd, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done.returncode, done.stdout, run_dir


def _report(run_dir: Path) -> dict[str, Any]:
    data = json.loads((run_dir / "reports" / "report.json").read_text("utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.mark.slow
def test_a_replayed_seed_is_reported_pre_existing_and_a_fresh_seed_passes(
    orthanc_stack: OrthancStack, tmp_path: Path
) -> None:
    code, out, first = _run(orthanc_stack, tmp_path / "first", "--seed", SEED)
    assert code == 0, out
    assert _report(first)["summary"]["counts"]["pre_existing"] == 0

    code, out, again = _run(orthanc_stack, tmp_path / "again", "--seed", SEED)
    assert code == 1, out
    report = _report(again)
    summary = report["summary"]
    assert summary["passed"] is False and summary["seed"] == int(SEED)
    counts = summary["counts"]
    assert counts["instances"] == 8 and counts["pre_existing"] == 8
    assert counts["present"] == 0 and counts["passed"] == 0  # nothing credited as stored
    (scenario,) = report["scenarios"]
    assert scenario["status"] == "fail"
    assert {i["status"] for i in scenario["instances"]} == {"pre-existing"}
    note = "8 instances were already in the target before ingest"
    assert scenario["failures"][0].startswith(note)
    (case,) = ET.parse(again / "reports" / "junit.xml").getroot().iter("testcase")
    failure = case.find("failure")
    assert failure is not None and (failure.get("message") or "").startswith(note)
    assert note in (again / "reports" / "report.html").read_text("utf-8")
    assert "Pre-existing" in out and "0 of 1 scenarios met their expectations" in out
    assert f"seed {SEED} — replay with: " in out
    assert "pre-check: 8 of 8 instances already in the target" in (
        again / "logs" / "run.log"
    ).read_text("utf-8")

    code, out, fresh = _run(orthanc_stack, tmp_path / "fresh")
    assert code == 0, out
    summary = _report(fresh)["summary"]
    assert summary["passed"] is True and summary["seed"] != int(SEED)
    assert summary["counts"]["pre_existing"] == 0 and summary["counts"]["present"] == 8
