"""``dicomfab run``, ``targets`` and ``check`` as a user types them (embedded target)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
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
        'verify = { kind = "memory", store = "cli-target-down" }\n'
    )
    # an empty store the verifier can read: its lookup before ingest works, the ingest fails
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


# ── a fresh seed per run ─────────────────────────────────────────────────────────────────────


def _run_once(cli: Run, *extra: str) -> tuple[Path, str]:
    """``dicomfab run -s bits_consistent --image-size small`` on the embedded target: the run
    folder and the console's output."""
    result = cli("run", "-s", "bits_consistent", "--image-size", "small", *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("run folder:")]
    return Path(line.split(":", 1)[1].strip()), result.stdout


def _uids(run_dir: Path) -> tuple[int | None, dict[str, set[str]]]:
    """The merged manifest's ``run_seed`` and its SOP, Study and Series Instance UIDs."""
    merged = json.loads((run_dir / "merged_dataset/manifest.json").read_text(encoding="utf-8"))
    found: dict[str, set[str]] = {"sop": set(), "study": set(), "series": set()}
    for dataset in merged["datasets"]:
        for patient in dataset["manifest"]["patients"]:
            for study in patient["studies"]:
                found["study"].add(study["study_instance_uid"])
                for series in study["series"]:
                    found["series"].add(series["series_instance_uid"])
                    for inst in series["instances"]:
                        found["sop"].add(inst["sop_instance_uid"])
                        for key in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
                            kind = key.removesuffix("InstanceUID").lower()
                            if isinstance(inst["attributes"].get(key), str):
                                found[kind].add(inst["attributes"][key])
    return merged.get("run_seed"), found


def _seed_everywhere(run_dir: Path, console: str) -> int:
    """The run seed, checked to be the same in the merged manifest, report.json, junit.xml,
    report.html, run.log and the console's last line (with the command that replays it)."""
    seed, _ = _uids(run_dir)
    assert isinstance(seed, int)
    report = json.loads((run_dir / "reports/report.json").read_text(encoding="utf-8"))
    assert report["summary"]["seed"] == seed
    suite = ET.parse(run_dir / "reports/junit.xml").getroot()
    assert [(p.get("name"), p.get("value")) for p in suite.iter("property")] == [
        ("seed", str(seed))
    ]
    assert f"<th>seed</th><td>{seed}</td>" in (run_dir / "reports/report.html").read_text()
    assert f"seed: {seed}" in (run_dir / "logs/run.log").read_text()
    last = console.strip().splitlines()[-1]
    assert last == (
        f"seed {seed} — replay with: dicomfab run -s bits_consistent --image-size small "
        f"--seed {seed}"
    )
    return seed


def test_two_runs_share_no_uid_and_record_their_seeds(cli: Run) -> None:
    first, out1 = _run_once(cli)
    second, out2 = _run_once(cli)
    seeds = {_seed_everywhere(first, out1), _seed_everywhere(second, out2)}
    assert len(seeds) == 2
    a, b = _uids(first)[1], _uids(second)[1]
    for kind in ("sop", "study", "series"):
        assert a[kind] and b[kind] and not a[kind] & b[kind], kind


def test_the_same_seed_replays_a_run(cli: Run) -> None:
    first, out1 = _run_once(cli, "--seed", "5")
    second, out2 = _run_once(cli, "--seed", "5")
    assert _seed_everywhere(first, out1) == _seed_everywhere(second, out2) == 5
    assert _uids(first)[1] == _uids(second)[1]


def test_run_strict_reports_what_no_index_can_show_without_failing(cli: Run) -> None:
    """orientation_flipped's current LCC is marked not observable (the outcome is in the
    pixels): the console says so in its table and summary line, and --strict does not fail it."""
    args = ("run", "-s", "orientation_flipped", "--image-size", "small", "--strict")
    result = cli(*args, "--runs-dir", "r")
    assert result.returncode == 0, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "1 of 1 scenarios met their expectations" in out
    assert "· not observable on this target: 1 instance" in out
    assert "Not observable" in out
