"""Every bad input of a run is exit 2 before anything is generated or sent (``run``, ``check``,
``targets``, ``list``), as a user meets it on the command line.

The configured target of these tests is a real one: an embedded PACS (pynetdicom's qrscp) that
the test starts, so that "nothing was sent" is checked on what it stored."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dicomfab.targets.embedded import EmbeddedPACS, free_port

Run = Any  # the `cli` fixture (tests/cli/conftest.py)
SCENARIO = "pr_bits_mismatch"  # a current and a prior 4-view study; a broken prior image


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPACS]:
    with EmbeddedPACS(tmp_path_factory.mktemp("pacs")) as server:
        yield server


def stored(pacs: EmbeddedPACS) -> list[Path]:
    return [p for p in pacs.storage_dir.rglob("*") if p.is_file()]


def write_target(folder: Path, pacs: EmbeddedPACS, extra: str = "") -> None:
    """``dicomfab.toml`` with target ``pacs`` (C-STORE in, SQL on its index out) and ``extra``."""
    index = f"sqlite:///{pacs.database_path}"
    (folder / "dicomfab.toml").write_text(
        "[targets.pacs]\n"
        f'ingest = {{ kind = "cstore", port = {pacs.port}, called_ae = "{pacs.ae_title}" }}\n'
        f'verify = {{ kind = "sql", profile = "embedded", url = "{index}" }}\n' + extra
    )


def assert_bad_input(result: Any, *fragments: str) -> str:
    """Exit 2, one ``error:`` message holding every fragment, no traceback."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in {result.stderr!r}"
    return str(result.stderr)


def assert_nothing_run(folder: Path, pacs: EmbeddedPACS | None = None) -> None:
    runs = folder / "runs"
    assert not runs.exists() or not any(runs.iterdir()), list(runs.iterdir())
    if pacs is not None:
        assert stored(pacs) == []


# ── 1. policy and expect are checked before generate ──────────────────────────────────────────


@pytest.mark.parametrize(
    ("table", "fragments"),
    [
        (
            'policy = { quarantin = "reject" }\n',
            ["targets.pacs.policy.quarantin", "did you mean quarantine?"],
        ),
        (
            'policy = { quarantine = "rejct" }\n',
            ["targets.pacs.policy.quarantine", "'rejct'", "did you mean reject?"],
        ),
        (
            f'[targets.pacs.expect]\n{SCENARIO} = {{ "prior.lst" = "accept" }}\n',
            [f"targets.pacs.expect.{SCENARIO}.prior.lst", "did you mean prior.last?"],
        ),
        (
            f'[targets.pacs.expect]\n{SCENARIO} = {{ "prior.last" = "acept" }}\n',
            [f"targets.pacs.expect.{SCENARIO}.prior.last", "did you mean accept?"],
        ),
        (
            f'[targets.pacs.expect]\n{SCENARIO} = {{ "prior.all" = "link" }}\n',
            [f"targets.pacs.expect.{SCENARIO}.prior.all", "a study outcome"],
        ),
        (
            f'[targets.pacs.expect]\n{SCENARIO} = {{ "prior[2]" = "accept" }}\n',
            [f"targets.pacs.expect.{SCENARIO}.prior[2]", "1 prior studies"],
        ),
        (
            f'[targets.pacs.expect]\n{SCENARIO} = {{ "current.RXCC" = "reject" }}\n',
            [f"targets.pacs.expect.{SCENARIO}.current.RXCC", "did you mean current.RCC?"],
        ),
        (
            '[targets.pacs.expect]\npr_bits_mismatc = { reject = "accept" }\n',
            ["targets.pacs.expect.pr_bits_mismatc", f"did you mean {SCENARIO}?"],
        ),
    ],
)
def test_policy_and_expect_typos_stop_the_run_before_generate(
    cli: Run, tmp_path: Path, pacs: EmbeddedPACS, table: str, fragments: list[str]
) -> None:
    write_target(tmp_path, pacs, table)
    result = cli("run", "-s", SCENARIO, "--image-size", "small", "--target", "pacs")
    assert_bad_input(result, "dicomfab.toml", *fragments)
    assert_nothing_run(tmp_path, pacs)


def test_an_expectation_for_a_scenario_not_selected_is_not_resolved(
    cli: Run, tmp_path: Path, pacs: EmbeddedPACS
) -> None:
    """Well formed, but naming a study the scenario does not have: only an error when that
    scenario runs."""
    write_target(tmp_path, pacs, f'[targets.pacs.expect]\n{SCENARIO} = {{ "prior[2]" = "warn" }}\n')
    result = cli("run", "-s", SCENARIO, "--image-size", "small", "--target", "pacs")
    assert_bad_input(result, f"targets.pacs.expect.{SCENARIO}.prior[2]")
    ran = cli("run", "-s", "bits_consistent", "--image-size", "small", "--target", "pacs", "--json")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert json.loads(ran.stdout)["passed"] is True


# ── 2. --tag / --category / --scenario typos ──────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["run", "-s", "bits_consistent", "--tag", "prir"], ["--tag prir", "did you mean prior?"]),
        (["run", "--tag", "prior", "--tag", "bitz"], ["--tag bitz", "did you mean bits?"]),
        (
            ["run", "-s", "bits_consistent", "--category", "pixel-encodin"],
            ["--category pixel-encodin", "did you mean pixel-encoding?"],
        ),
        (["run", "-s", "pr_bits_mismatc"], ["did you mean pr_bits_mismatch"]),
        (["list", "--tag", "prir"], ["--tag prir", "did you mean prior?"]),
        (["list", "--category", "pixel-encodin"], ["did you mean pixel-encoding?"]),
        (["generate", "-o", "out", "-s", "pr_bits_mismatc"], ["did you mean pr_bits_mismatch"]),
    ],
)
def test_unknown_tag_category_or_scenario_is_bad_input(
    cli: Run, tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    result = cli(*args, "--image-size", "small") if args[0] == "run" else cli(*args)
    assert_bad_input(result, *fragments)
    assert_nothing_run(tmp_path)
    assert not (tmp_path / "out").exists()


def test_known_tags_still_select(cli: Run) -> None:
    listed = cli("list", "--tag", "prior", "--category", "pixel-encoding", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert rows and all("prior" in r["tags"] and r["category"] == "pixel-encoding" for r in rows)


# ── 3. --runs-dir / --report-dir must be writable ─────────────────────────────────────────────


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody can write in, root included (``chattr +i`` when running as root)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() == 0:
        done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot make a read-only folder as root: {done.stderr!r}")
    else:
        folder.chmod(0o555)
    try:
        yield folder
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(folder)], check=False)
        folder.chmod(0o755)


@pytest.mark.parametrize("where", ["read-only", "read-only/runs", "a-file/runs"])
def test_runs_dir_that_cannot_be_written_is_bad_input(
    cli: Run, tmp_path: Path, read_only: Path, where: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    result = cli("run", "-s", "bits_consistent", "--image-size", "small", "--runs-dir", where)
    assert_bad_input(result, f"--runs-dir {where}", "cannot write there")
    assert list(read_only.iterdir()) == []


def test_report_dir_that_cannot_be_written_is_bad_input_before_the_run(
    cli: Run, tmp_path: Path, read_only: Path
) -> None:
    result = cli(
        "run", "-s", "bits_consistent", "--image-size", "small", "--report-dir", "read-only/r"
    )
    assert_bad_input(result, "--report-dir read-only/r", "cannot write there")
    assert_nothing_run(tmp_path)
    assert not (tmp_path / "runs").exists()  # created for the probe only, removed again


def test_writable_folders_are_created_and_used(cli: Run, tmp_path: Path) -> None:
    result = cli(
        "run",
        *("-s", "bits_consistent", "--image-size", "small", "--json"),
        *("--runs-dir", "new/runs", "--report-dir", "new/reports"),
    )
    assert result.returncode == 0, result.stderr
    reports = sorted(p.name for p in (tmp_path / "new/reports").iterdir())
    assert reports == ["junit.xml", "report.html", "report.json"]
    assert len(list((tmp_path / "new/runs").iterdir())) == 1


# ── 5. an unset ${VAR} breaks only its own target ─────────────────────────────────────────────


def broken_config(folder: Path, pacs: EmbeddedPACS) -> None:
    write_target(
        folder,
        pacs,
        "[targets.vendor]\n"
        'ingest = { kind = "command", command = ["import", "{folder}"] }\n'
        'verify = { kind = "sql", profile = "embedded", url = "sqlite:///${VENDOR_DB_PATH}" }\n',
    )


def test_targets_lists_a_broken_target_beside_the_others(
    cli: Run, tmp_path: Path, pacs: EmbeddedPACS, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VENDOR_DB_PATH", raising=False)
    broken_config(tmp_path, pacs)
    listed = cli("targets", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)["targets"]}
    assert set(rows) == {"embedded", "pacs", "vendor"}
    assert rows["pacs"]["problem"] is None and rows["pacs"]["ingest"].startswith("C-STORE")
    assert "targets.vendor.verify.url" in rows["vendor"]["problem"]
    assert "${VENDOR_DB_PATH} is not set" in rows["vendor"]["problem"]
    table = cli("targets")
    assert table.returncode == 0 and "BROKEN" in table.stdout and "VENDOR_DB_PATH" in table.stdout


def test_the_other_targets_still_check_and_run(
    cli: Run, tmp_path: Path, pacs: EmbeddedPACS, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VENDOR_DB_PATH", raising=False)
    broken_config(tmp_path, pacs)
    checked = cli("check", "--target", "pacs", "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    ran = cli("run", "-s", "bits_consistent", "--image-size", "small", "-t", "pacs", "--json")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    embedded = cli("check", "--json")
    assert embedded.returncode == 0, embedded.stdout + embedded.stderr


@pytest.mark.parametrize("command", ["run", "check"])
def test_selecting_the_broken_target_names_the_variable_and_the_field(
    cli: Run, tmp_path: Path, pacs: EmbeddedPACS, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.delenv("VENDOR_DB_PATH", raising=False)
    broken_config(tmp_path, pacs)
    before = stored(pacs)
    args = ["-s", "bits_consistent", "--image-size", "small"] if command == "run" else []
    result = cli(command, "--target", "vendor", *args)
    assert_bad_input(result, "targets.vendor.verify.url", "${VENDOR_DB_PATH} is not set")
    assert_nothing_run(tmp_path)
    assert stored(pacs) == before


def test_targets_exits_2_when_its_only_target_is_broken(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VENDOR_DB_PATH", raising=False)
    (tmp_path / "dicomfab.toml").write_text(
        "[targets.vendor]\n"
        'ingest = { kind = "cstore", port = 104, called_ae = "${VENDOR_AE}" }\n'
        'verify = { kind = "sql", profile = "embedded", url = "sqlite:///${VENDOR_DB_PATH}" }\n'
    )
    listed = cli("targets", "--json")
    assert listed.returncode == 2
    (vendor,) = [r for r in json.loads(listed.stdout)["targets"] if r["name"] == "vendor"]
    assert "${VENDOR_AE}" in vendor["problem"] and "(and 1 more)" in vendor["problem"]


# ── 6. check names each probe by its protocol ─────────────────────────────────────────────────


def test_check_labels_a_stow_probe_stow_rs(cli: Run, tmp_path: Path) -> None:
    port = free_port()
    root = f"http://127.0.0.1:{port}/dicom-web"
    (tmp_path / "dicomfab.toml").write_text(
        "[targets.web]\n"
        f'ingest = {{ kind = "stow", url = "{root}" }}\n'
        f'verify = {{ kind = "qido", url = "{root}" }}\n'
    )
    checked = cli("check", "--target", "web", "--json")
    assert checked.returncode == 3, checked.stdout + checked.stderr
    ingest, verify = json.loads(checked.stdout)["probes"]
    assert ingest["what"].startswith("STOW-RS ") and ingest["detail"].startswith("STOW-RS ")
    assert "QIDO" not in ingest["what"] + ingest["detail"]
    assert verify["what"].startswith("QIDO-RS ") and verify["detail"].startswith("QIDO-RS ")


def test_a_broken_embedded_redefinition_is_not_replaced_by_the_default(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``[targets.embedded]`` in the config is what a run without --target uses: when it is
    broken, the run says so instead of silently using the built-in PACS."""
    monkeypatch.delenv("LAB_PACS_PORT", raising=False)
    (tmp_path / "dicomfab.toml").write_text(
        "[targets.embedded]\n"
        'ingest = { kind = "cstore", port = "${LAB_PACS_PORT}", called_ae = "LAB" }\n'
        'verify = { kind = "cfind", port = 104, called_ae = "LAB" }\n'
    )
    result = cli("run", "-s", "bits_consistent", "--image-size", "small")
    assert_bad_input(result, "targets.embedded.ingest.port", "${LAB_PACS_PORT} is not set")
    assert_nothing_run(tmp_path)
