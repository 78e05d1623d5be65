"""Ctrl-C and SIGTERM stop the real CLI within seconds, at every stage, and the reports say so.

Each test starts ``dicomfab`` as a subprocess in its own session (its own process group, as a
terminal or a CI runner would), waits until the stage has started (from ``logs/run.log`` or from
the files being written, never by sleeping blindly), signals the whole group, then checks: the
exit code (130 / 143), that it exited within 10 s, that no process of the group is left, no
traceback, and what the run folder and the reports say.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

STOP_WITHIN = 10.0  # seconds from the signal to the exit of the whole group
START_WITHIN = 600.0  # seconds for a stage to start on a busy machine


class Dicomfab:
    """``dicomfab ARGS`` in a new session, in ``cwd``."""

    def __init__(self, cwd: Path, *args: str | Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dicomfab", *map(str, args)],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.pgid = self.process.pid
        self.out = ""
        self.err = ""

    def wait_for(self, what: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + START_WITHIN
        while not ready():
            if self.process.poll() is not None:
                _, err = self.process.communicate()
                pytest.fail(f"dicomfab ended before {what} (code {self.process.returncode}): {err}")
            if time.monotonic() > deadline:
                pytest.fail(f"{what} did not happen within {START_WITHIN:g} s")
            time.sleep(0.05)

    def stop(self, sig: signal.Signals) -> int:
        """Signal the group; return the exit code once the process has exited (≤ 10 s)."""
        os.killpg(self.pgid, sig)
        signalled = time.monotonic()
        try:
            self.out, self.err = self.process.communicate(timeout=STOP_WITHIN)
        except subprocess.TimeoutExpired:
            pytest.fail(f"dicomfab was still running {STOP_WITHIN:g} s after {sig.name}")
        assert time.monotonic() - signalled < STOP_WITHIN
        return self.process.returncode

    def group_left(self) -> list[int]:
        """The processes still in the group (zombies aside) a short moment after the exit."""
        deadline = time.monotonic() + 3.0
        while True:
            left = _group_members(self.pgid)
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.1)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.communicate()


def _group_members(pgid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., Dicomfab]]:
    started: list[Dicomfab] = []

    def start(*args: str | Path) -> Dicomfab:
        started.append(Dicomfab(tmp_path, *args))
        return started[-1]

    yield start
    for run in started:
        run.kill()


def _run_dir(runs: Path) -> Path | None:
    found = sorted(runs.glob("*/logs/run.log")) if runs.is_dir() else []
    return found[0].parent.parent if found else None


def _stage_started(runs: Path, stage: str) -> Callable[[], bool]:
    def ready() -> bool:
        run_dir = _run_dir(runs)
        if run_dir is None:
            return False
        return f" {stage}: start" in (run_dir / "logs/run.log").read_text(encoding="utf-8")

    return ready


def _check_stopped_run(
    run: Dicomfab, runs: Path, code: int, stage: str, sig: signal.Signals, selected: list[str]
) -> dict:  # type: ignore[type-arg]
    assert code == 128 + sig.value, run.out + run.err
    assert run.group_left() == [], "processes of the run's group are still running"
    assert "Traceback" not in run.out + run.err, run.out + run.err
    assert f"interrupted ({sig.name})" in run.err
    run_dir = _run_dir(runs)
    assert run_dir is not None and str(run_dir) in run.err
    assert f"INTERRUPTED during {stage} ({sig.name})" in run.out
    data = json.loads((run_dir / "reports/report.json").read_text(encoding="utf-8"))
    summary = data["summary"]
    assert summary["passed"] is False and summary["interrupted"] is True
    assert summary["signal"] == sig.name and summary["stage"] == stage
    assert [s["name"] for s in data["scenarios"]] == selected
    assert {s["status"] for s in data["scenarios"]} == {"not run"}
    assert {s["not_run"] for s in data["scenarios"]} == {f"not run: interrupted during {stage}"}
    suite = ET.parse(run_dir / "reports/junit.xml").getroot()
    assert suite.get("tests") == str(len(selected)) == suite.get("skipped")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == selected
    for case in cases:
        skipped = case.find("skipped")
        assert skipped is not None
        assert skipped.get("message") == f"not run: interrupted during {stage}"
    page = (run_dir / "reports/report.html").read_text(encoding="utf-8")
    assert f"INTERRUPTED during {stage} ({sig.name})" in page
    assert not list(run_dir.glob("generated/.*"))  # nothing half-written is left
    return data


# ── generate ─────────────────────────────────────────────────────────────────────────────────

# full-size images: generating these takes minutes on two cores
HEAVY = [
    "bits_consistent",
    "aachen_no_images",
    "aachen_double_ingest",
    "accession_empty_or_colliding",
    "age_dob_studydate_inconsistent",
    "birthdate_empty_or_partial",
    "bits_stored_gt_allocated",
    "charset_chinese_korean",
]


def test_sigint_during_run_generate_stops_the_workers(
    launch: Callable[..., Dicomfab], tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    run = launch("run", "-q", "--runs-dir", runs, "-j", "2", "-s", ",".join(HEAVY))
    run.wait_for("generate", _stage_started(runs, "generate"))
    # the workers are writing: a half-written scenario folder exists
    run.wait_for("files", lambda: any(runs.glob("*/generated/.*/dicoms/*/*")))
    code = run.stop(signal.SIGINT)
    data = _check_stopped_run(run, runs, code, "generate", signal.SIGINT, HEAVY)
    assert "generated" in data["run"]["kept"]


def test_sigint_during_plain_generate_keeps_a_resumable_folder(
    launch: Callable[..., Dicomfab], tmp_path: Path
) -> None:
    """100 patients of full-size 4-view studies, two worker processes: interrupted while
    writing, no dataset appears; the hidden ``.big.partial`` folder stays for ``--resume`` (and
    nothing writes into it any more)."""
    spec = tmp_path / "big.yaml"
    spec.write_text(
        "name: big\nseed: 1\npatients:\n" + "  - studies: [{role: current}]\n" * 100,
        encoding="utf-8",
    )
    out = tmp_path / "out"
    run = launch("generate", "-q", "-o", out, "-c", spec, "-j", "2")
    run.wait_for("files", lambda: len(list(out.glob(".big.partial/dicoms/*/*"))) >= 2)
    code = run.stop(signal.SIGINT)
    assert code == 130, run.err
    assert "Traceback" not in run.out + run.err and "interrupted (SIGINT)" in run.err
    assert "--resume" in run.err
    assert run.group_left() == []
    files = sorted(out.rglob("*"))
    time.sleep(1.0)  # a worker left running would go on writing
    assert [p.name for p in out.iterdir()] == [".big.partial"]
    assert sorted(out.rglob("*")) == files


def test_sigterm_during_scenario_generate_leaves_no_partial_folder(
    launch: Callable[..., Dicomfab], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run = launch("generate", "-q", "-o", out, "-j", "2", "-s", ",".join(HEAVY))
    run.wait_for("files", lambda: any(out.glob(".*.partial-*/dicoms/*/*")))
    code = run.stop(signal.SIGTERM)
    assert code == 143, run.err
    assert "Traceback" not in run.out + run.err and "interrupted (SIGTERM)" in run.err
    assert run.group_left() == []
    time.sleep(1.0)
    assert not list(out.glob(".*")), "half-written scenario folders are left"
    for folder in out.iterdir():  # what is there was finished
        assert (folder / "manifest.json").is_file()


# ── ingest by C-STORE into the embedded target ───────────────────────────────────────────────

INGEST = ["bits_consistent", "aachen_no_images", "aachen_double_ingest"]


def _stored(runs: Path, n: int) -> Callable[[], bool]:
    """The embedded PACS has stored ``n`` files (the ingest is under way)."""

    def ready() -> bool:
        run_dir = _run_dir(runs)
        folder = run_dir / "embedded-pacs/instances" if run_dir else None
        return folder is not None and folder.is_dir() and len(list(folder.iterdir())) >= n

    return ready


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_cstore_ingest(
    launch: Callable[..., Dicomfab], tmp_path: Path, sig: signal.Signals
) -> None:
    runs = tmp_path / "runs"
    # a fresh seed each time: the order of the files varies, and with it where the abort
    # lands (mid-send aborts once made pynetdicom's reactor thread print a traceback)
    run = launch("run", "--runs-dir", runs, "-s", ",".join(INGEST))
    run.wait_for("ingest", _stage_started(runs, "ingest"))
    run.wait_for("stored instances", _stored(runs, 4))
    code = run.stop(sig)
    data = _check_stopped_run(run, runs, code, "ingest", sig, INGEST)
    # what was sent and acknowledged before the stop is in the report, per scenario
    acknowledged = sum(s["delivery"]["acknowledged"] for s in data["scenarios"])
    assert acknowledged >= 1
    for scenario in data["scenarios"]:
        for line in scenario["delivered"]:
            assert line["sent"] or line["ingest"]["outcome"] == "not sent"
