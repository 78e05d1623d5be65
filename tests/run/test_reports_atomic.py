"""Reports are written atomically: on a full disk an older report survives whole, nothing
half-written is left, and the run says so (exit 3) instead of losing its results.

The full disk is real: a small tmpfs mounted for the test (root only; skipped otherwise).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomfab.run import report
from dicomfab.run.checks import ScenarioResult


def _fill(folder: Path) -> None:
    """Write until the filesystem holding ``folder`` is full."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs, unmounted afterwards."""
    mount = tmp_path / "fs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_an_older_report_survives_a_full_disk(small_fs: Path) -> None:
    path = small_fs / "report.json"
    report.write_json([], path, run={"run folder": "old"})
    old = path.read_bytes()
    _fill(small_fs)
    results = [ScenarioResult(f"s{i}", f"s{i}", None, "sql " + "x" * 200) for i in range(50)]
    with pytest.raises(OSError):
        report.write_json(results, path, run={"run folder": "new"})
    assert path.read_bytes() == old
    junit = small_fs / "junit.xml"
    with pytest.raises(OSError):
        report.write_junit(results, junit)
    assert sorted(p.name for p in small_fs.iterdir()) == ["filler", "report.json"]


def test_run_on_a_full_report_disk_exits_3_and_keeps_the_old_reports(
    small_fs: Path, tmp_path: Path
) -> None:
    reports = small_fs / "reports"
    reports.mkdir()
    old = {"kind": "an older report"}
    (reports / "report.json").write_text(json.dumps(old), encoding="utf-8")
    _fill(small_fs)
    done = subprocess.run(
        [
            *(sys.executable, "-m", "dicomfab", "run", "-s", "bits_consistent"),
            *("--image-size", "small", "--runs-dir", str(tmp_path / "runs")),
            *("--report-dir", str(reports)),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "cannot write the reports" in done.stdout
    assert "No space left on device" in done.stdout
    assert json.loads((reports / "report.json").read_text(encoding="utf-8")) == old
    assert sorted(p.name for p in reports.iterdir()) == ["report.json"]
    # the run folder has what was done, and its log says the reports failed
    (log,) = (tmp_path / "runs").glob("*/logs/run.log")
    assert "cannot write the reports" in log.read_text(encoding="utf-8")


def test_disk_full_during_generate_names_the_run_folder_and_what_was_kept(
    small_fs: Path, tmp_path: Path
) -> None:
    runs = small_fs / "runs"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "dicomfab", "run", "-q", "-j", "1"),
            *("-s", "bits_consistent,pr_bits_mismatch", "--runs-dir", str(runs)),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    (run_dir,) = runs.iterdir()
    out = " ".join(done.stdout.split())
    assert "run stopped: generate:" in out and "No space left on device" in out
    assert "STOPPED during generate by an error" in out
    assert f"kept: 0 of 2 scenarios generated in {run_dir / 'generated'}" in out
    assert f"run folder: {run_dir}" in out
    assert not list((run_dir / "generated").glob(".*"))  # no half-written scenario
