"""``dicomfab run``, ``targets`` and ``check`` as a user types them (embedded target)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dicomfab.targets.embedded import free_port

Run = Any  # the `cli` fixture (tests/cli/conftest.py)


def test_run_embedded_prints_json_summary(cli: Run, tmp_path: Path) -> None:
    result = cli("run", "-s", "bits_consistent", "--image-size", "small", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["exit_code"] == 0 and summary["scenarios"] == 1 and summary["passed"]
    run_dir = Path(summary["run_dir"])
    assert run_dir.parent == tmp_path / "runs"
    assert {Path(p).name for p in summary["reports"]} == {
        "report.json",
        "junit.xml",
        "report.html",
    }


def test_run_console_names_the_run_folder(cli: Run, tmp_path: Path) -> None:
    result = cli("run", "-s", "bits_consistent", "--image-size", "small", "--runs-dir", "r")
    assert result.returncode == 0, result.stderr
    assert "1 of 1 scenarios met their expectations" in result.stdout
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("run folder:")]
    run_dir = Path(line.split(":", 1)[1].strip())
    assert run_dir.parent == tmp_path / "r" and (run_dir / "reports/report.html").is_file()


def test_unknown_scenario_is_bad_input_and_runs_nothing(cli: Run, tmp_path: Path) -> None:
    result = cli("run", "-s", "pr_bits_mismatc")
    assert result.returncode == 2
    assert "pr_bits_mismatch" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_unknown_target_is_bad_input(cli: Run, tmp_path: Path) -> None:
    result = cli("run", "-s", "bits_consistent", "--target", "orthanc")
    assert result.returncode == 2 and "no such target" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_target_down_exits_3_with_one_line(cli: Run, tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "dicomfab.toml").write_text(
        "[targets.pacs]\n"
        f'ingest = {{ kind = "cstore", port = {port}, called_ae = "PACS" }}\n'
        'verify = { kind = "sql", profile = "embedded", url = "sqlite:///${INDEX}" }\n'
    )
    (tmp_path / ".env").write_text("INDEX=/nonexistent/instances.sqlite\n")
    result = cli("run", "-s", "bits_consistent", "--image-size", "small", "--target", "pacs")
    assert result.returncode == 3, result.stdout + result.stderr
    stopped = [line for line in result.stdout.splitlines() if line.startswith("run stopped:")]
    assert stopped and "ingest:" in stopped[0] and str(port) in stopped[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_targets_and_check_embedded(cli: Run) -> None:
    listed = json.loads(cli("targets", "--json").stdout)
    assert [t["name"] for t in listed["targets"]] == ["embedded"]
    checked = cli("check", "--json")
    assert checked.returncode == 0, checked.stdout
    probes = json.loads(checked.stdout)["probes"]
    assert len(probes) == 3 and all(p["ok"] for p in probes)


def test_check_reports_a_dead_target(cli: Run, tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "dicomfab.toml").write_text(
        "[targets.pacs]\n"
        f'ingest = {{ kind = "cstore", port = {port}, called_ae = "PACS" }}\n'
        f'verify = {{ kind = "cfind", port = {port}, called_ae = "PACS" }}\n'
    )
    result = cli("check", "--target", "pacs")
    assert result.returncode == 3
    assert "FAIL" in result.stdout and "Traceback" not in result.stdout + result.stderr
