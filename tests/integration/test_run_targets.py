"""``dicomfab run`` / ``targets`` / ``check`` as a user runs them: the CLI in a subprocess, the
repository's example targets (examples/targets/*.toml) with hosts, ports and secrets from the
environment, against the session's real Orthanc 1.10 + PostgreSQL and private OpenSSH servers.

Then the faults a user meets (target down, wrong AE title, wrong URL, a failing import command,
a sentinel never written, SSH refused, database unreachable or the wrong password, a query
missing a parameter, a typo in the config): each is one clear line, exit code 3 (2 for bad
config), no traceback, and a run folder that keeps what was generated plus reports that say
why the run stopped.

Every test uses its own ``--seed``: other test files store into the same Orthanc."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from pathlib import Path

import pytest
from sshd import SSHServer, generate_key
from stack import OrthancStack, free_port

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "targets"
ORTHANC_TOML = EXAMPLES / "orthanc-postgres.toml"
PRODUCT_TOML = EXAMPLES / "command-product.toml"
DICOMFAB = Path(sys.executable).with_name("dicomfab")

PARTNER = "Partner Clinic 42"
BOLUS2_PASSWORD = "bolus2-s3cret-do-not-log"
# clean scenarios whose expectations hold on Orthanc under the examples' policy
SCENARIOS = "bits_consistent,pr_bits_mismatch"
ONE = "bits_consistent"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    run_dir: Path | None  # the run folder under --runs-dir (None: none was made)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def report(self) -> dict[str, object]:
        assert self.run_dir is not None, self.output
        data = json.loads((self.run_dir / "reports" / "report.json").read_text("utf-8"))
        assert isinstance(data, dict)
        return data


@pytest.fixture
def env(
    orthanc_stack: OrthancStack, sshd: SSHServer, bastion_sshd: SSHServer, tmp_path: Path
) -> dict[str, str]:
    """The environment the example targets read: the session's Orthanc, PostgreSQL and SSH."""
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"{sshd.known_hosts_line}\n{bastion_sshd.known_hosts_line}\n")
    return {
        **os.environ,
        "COLUMNS": "250",  # no wrapped table rows in the captured output
        "ORTHANC_HOST": orthanc_stack.host,
        "ORTHANC_DICOM_PORT": str(orthanc_stack.dicom_port),
        "ORTHANC_HTTP_PORT": str(orthanc_stack.orthanc.http_port),
        "ORTHANC_AET": orthanc_stack.ae_title,
        "PG_HOST": orthanc_stack.pg_host,
        "PG_PORT": str(orthanc_stack.pg_port),
        "DB_PW": orthanc_stack.password,
        "SSH_TARGET": sshd.target,
        "SSH_BASTION": bastion_sshd.target,
        "SSH_KEY": str(sshd.client_key),
        "SSH_KNOWN_HOSTS": str(known_hosts),
        "BOLUS2_PARTNER_NAME": PARTNER,
        "BOLUS2_PASSWORD": BOLUS2_PASSWORD,
    }


def dicomfab(
    *args: str | Path, env: dict[str, str], cwd: Path, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DICOMFAB), *map(str, args)],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def run(
    config: Path, target: str, seed: int, env: dict[str, str], cwd: Path, scenarios: str = ONE
) -> Result:
    """``dicomfab run`` of ``scenarios`` (small images) into ``cwd/runs``."""
    cwd.mkdir(parents=True, exist_ok=True)
    runs = cwd / "runs"
    done = dicomfab(
        "run", "--config", config, "--target", target, "-s", scenarios,
        "--image-size", "small", "--seed", str(seed), "--runs-dir", runs, "-q",
        env=env, cwd=cwd,
    )  # fmt: skip
    made = sorted(p for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []
    assert len(made) <= 1, made
    return Result(done.returncode, done.stdout, done.stderr, made[0] if made else None)


def text_files(root: Path) -> Iterator[tuple[Path, str]]:
    """Every file under ``root`` that decodes as UTF-8 text (DICOM files are skipped)."""
    for path in sorted(root.rglob("*")):
        if path.is_file():
            try:
                yield path, path.read_text("utf-8")
            except UnicodeDecodeError:
                continue


def assert_nowhere(secret: str, result: Result) -> None:
    """``secret`` is in neither stdout/stderr nor any text file of the run folder."""
    assert secret not in result.output
    assert result.run_dir is not None
    checked = 0
    for path, content in text_files(result.run_dir):
        assert secret not in content, f"{secret!r} leaked into {path}"
        checked += 1
    assert checked >= 5  # logs, reports, manifests at least


def junit_cases(run_dir: Path) -> list[ET.Element]:
    root = ET.parse(run_dir / "reports" / "junit.xml").getroot()
    return list(root.iter("testcase"))


def assert_passed(result: Result, scenarios: str) -> dict[str, object]:
    """Exit 0, report.json passed, one JUnit testcase per scenario without failures, the HTML
    report names every scenario."""
    names = scenarios.split(",")
    assert result.returncode == 0, result.output
    assert "Traceback" not in result.output
    assert result.run_dir is not None
    report = result.report()
    summary = report["summary"]
    assert isinstance(summary, dict)
    assert summary["passed"] is True, summary
    assert not summary.get("error")
    cases = junit_cases(result.run_dir)
    assert sorted(c.get("name", "") for c in cases) == sorted(names)
    for case in cases:
        assert case.find("failure") is None and case.find("error") is None, ET.tostring(case)
    html = (result.run_dir / "reports" / "report.html").read_text("utf-8")
    for name in names:
        assert name in html
    return report


def assert_fault(result: Result, *words: str) -> str:
    """The target-failure contract: exit 3, one ``run stopped: <stage>: <reason>`` line with
    ``words`` (any of them when a word is a tuple), no traceback, the reason in report.json /
    junit.xml / report.html, and what was generated kept. Returns the reason."""
    out = result.output
    assert result.returncode == 3, out
    assert "Traceback" not in out, out
    stopped = [line for line in out.splitlines() if line.startswith("run stopped: ")]
    assert len(stopped) == 1, out
    reason = stopped[0].removeprefix("run stopped: ")
    for word in words:
        assert word in reason, f"{word!r} not in {reason!r}"
    assert result.run_dir is not None
    summary = result.report()["summary"]
    assert isinstance(summary, dict)
    assert summary["passed"] is False
    assert summary["error"] == reason
    errors = list(ET.parse(result.run_dir / "reports" / "junit.xml").getroot().iter("error"))
    assert errors and all(e.get("message") == reason for e in errors)
    html = (result.run_dir / "reports" / "report.html").read_text("utf-8")
    assert escape(reason) in html
    assert any((result.run_dir / "generated").rglob("*.dcm"))
    assert any((result.run_dir / "merged_dataset").rglob("*.dcm"))
    return reason


def product_toml(tmp_path: Path, command: str, timeout: float | None = None) -> Path:
    """A copy of the example's ``product`` target with another import ``command``."""
    text = PRODUCT_TOML.read_text("utf-8")
    text, n = re.subn(r"(?ms)^command = \[.*?^\]\n", f"command = {command}\n", text)
    assert n == 1
    if timeout is not None:
        text, n = re.subn(r"(?m)^timeout = 600$", f"timeout = {timeout:g}", text)
        assert n == 1
    path = tmp_path / "product.toml"
    path.write_text(text, encoding="utf-8")
    return path


def sql_toml(tmp_path: Path, params: str | None) -> Path:
    """The ``orthanc`` target with a hand-written query instead of the profile."""
    query = (
        "SELECT value AS sop_instance_uid FROM dicomidentifiers "
        "WHERE taggroup = 8 AND tagelement = 24 AND value IN :uids AND :flag = 1"
    )
    extra = f", params = {params}" if params else ""
    text = ORTHANC_TOML.read_text("utf-8")
    text, n = re.subn(
        r'(?m)^verify = \{ kind = "sql", profile = "orthanc-postgres", (url = "[^"]*") \}$',
        lambda m: f'verify = {{ kind = "sql", query = "{query}", {m[1]}{extra} }}',
        text,
    )
    assert n == 1
    path = tmp_path / "sql.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ── the example targets, end to end ─────────────────────────────────────────────────────────


def test_orthanc_cstore_and_sql(env: dict[str, str], tmp_path: Path) -> None:
    result = run(ORTHANC_TOML, "orthanc", 7101, env, tmp_path, SCENARIOS)

    assert_passed(result, SCENARIOS)
    assert result.run_dir is not None and (result.run_dir / "logs" / "run.log").is_file()
    assert_nowhere(env["DB_PW"], result)


def test_orthanc_dicomweb_stow_with_qido_and_cfind(env: dict[str, str], tmp_path: Path) -> None:
    result = run(ORTHANC_TOML, "orthanc-dicomweb", 7102, env, tmp_path, SCENARIOS)

    report = assert_passed(result, SCENARIOS)
    scenarios = report["scenarios"]
    assert isinstance(scenarios, list) and len(scenarios) == 2
    for scenario in scenarios:
        source = str(scenario["source"]).lower()
        assert "qido-rs" in source and "c-find" in source, source


def test_command_product_through_an_ssh_tunnel(env: dict[str, str], tmp_path: Path) -> None:
    result = run(PRODUCT_TOML, "product", 7103, env, tmp_path, SCENARIOS)

    assert_passed(result, SCENARIOS)
    assert result.run_dir is not None
    log = (result.run_dir / "logs" / "ingest.log").read_text("utf-8")
    assert f"imported for {PARTNER}" in log
    assert_nowhere(BOLUS2_PASSWORD, result)
    assert_nowhere(env["DB_PW"], result)


def test_targets_lists_the_examples_masked(env: dict[str, str], tmp_path: Path) -> None:
    done = dicomfab("targets", "--config", ORTHANC_TOML, "--json", env=env, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert env["DB_PW"] not in done.stdout + done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)["targets"]}
    assert {"orthanc", "orthanc-dicomweb"} <= set(rows)
    sql = rows["orthanc"]["verify"][0]
    assert sql.startswith("SQL orthanc-postgres postgresql+psycopg://orthanc:***@"), sql
    assert rows["orthanc-dicomweb"]["ingest"].startswith("STOW-RS http://")


@pytest.mark.parametrize(
    ("config", "target"), [(ORTHANC_TOML, "orthanc"), (PRODUCT_TOML, "product")]
)
def test_check_every_part_answers(
    config: Path, target: str, env: dict[str, str], tmp_path: Path
) -> None:
    done = dicomfab(
        "check", "--config", config, "--target", target, "--json", env=env, cwd=tmp_path
    )

    assert done.returncode == 0, done.stdout + done.stderr
    probes = json.loads(done.stdout)["probes"]
    assert len(probes) >= 2
    assert all(p["ok"] for p in probes), probes
    assert "Traceback" not in done.stdout + done.stderr
    assert env["DB_PW"] not in done.stdout + done.stderr


# ── faults: one clear line, exit 3, the run folder kept ─────────────────────────────────────


def test_target_down(env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "ORTHANC_DICOM_PORT": str(free_port())}

    reason = assert_fault(run(ORTHANC_TOML, "orthanc", 7201, env, tmp_path))

    assert reason.startswith("ingest: ")
    assert "refused" in reason.lower() or "cannot connect" in reason.lower(), reason

    check = dicomfab(
        "check", "--config", ORTHANC_TOML, "--target", "orthanc", env=env, cwd=tmp_path
    )
    assert check.returncode == 3, check.stdout + check.stderr
    assert "Traceback" not in check.stdout + check.stderr
    row = next(line for line in check.stdout.splitlines() if "C-ECHO" in line or "C-STORE" in line)
    assert "FAIL" in row, check.stdout


def test_wrong_called_ae_title(env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "ORTHANC_AET": "WRONGAE"}

    reason = assert_fault(run(ORTHANC_TOML, "orthanc", 7202, env, tmp_path), "ingest: ")

    assert "reject" in reason.lower(), reason


def test_stow_to_a_port_nobody_listens_on(env: dict[str, str], tmp_path: Path) -> None:
    # only the STOW-RS URL moves: the verifiers (QIDO-RS, C-FIND) answer the lookup before ingest
    stow = 'ingest = { kind = "stow", url = "http://${ORTHANC_HOST}:${ORTHANC_HTTP_PORT}/'
    text = ORTHANC_TOML.read_text("utf-8")
    assert text.count(stow) == 1
    config = tmp_path / "stow.toml"
    config.write_text(text.replace(stow, stow.replace("${ORTHANC_HTTP_PORT}", str(free_port()))))

    reason = assert_fault(run(config, "orthanc-dicomweb", 7203, env, tmp_path), "ingest: ")

    assert "refused" in reason.lower() or "cannot connect" in reason.lower(), reason


def test_import_command_exits_non_zero(env: dict[str, str], tmp_path: Path) -> None:
    config = product_toml(tmp_path, '["/bin/sh", "-c", "echo boom >&2; exit 3"]')

    reason = assert_fault(run(config, "product", 7204, env, tmp_path), "ingest: ", "exited with 3")

    assert "boom" in reason


def test_sentinel_never_written(env: dict[str, str], tmp_path: Path) -> None:
    config = product_toml(tmp_path, '["/bin/true"]', timeout=2)

    assert_fault(run(config, "product", 7205, env, tmp_path), "ingest: ", "timed out")


def test_ssh_key_not_authorized(env: dict[str, str], tmp_path: Path) -> None:
    key = generate_key(tmp_path / "stranger_ed25519", "not-authorized")
    env = {**env, "SSH_KEY": str(key)}

    assert_fault(run(PRODUCT_TOML, "product", 7206, env, tmp_path), "Permission denied")


def test_unknown_ssh_host_key(env: dict[str, str], tmp_path: Path) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    env = {**env, "SSH_KNOWN_HOSTS": str(empty)}

    assert_fault(run(PRODUCT_TOML, "product", 7207, env, tmp_path), "Host key verification failed")


def test_database_unreachable(env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "PG_PORT": str(free_port())}

    reason = assert_fault(
        run(ORTHANC_TOML, "orthanc", 7208, env, tmp_path), "pre-check: ", "SQL verification"
    )

    assert "refused" in reason.lower() or "connect" in reason.lower(), reason


def test_database_wrong_password(env: dict[str, str], tmp_path: Path) -> None:
    wrong = "wrong-pw-4711"
    env = {**env, "DB_PW": wrong}

    result = run(ORTHANC_TOML, "orthanc", 7209, env, tmp_path)

    assert_fault(result, "password authentication failed")
    assert_nowhere(wrong, result)


def test_query_missing_a_parameter_then_given(env: dict[str, str], tmp_path: Path) -> None:
    config = sql_toml(tmp_path, None)
    missing = run(config, "orthanc", 7210, env, tmp_path / "a")

    assert_fault(missing, "pre-check: ", "'flag'")
    check = dicomfab(
        "check", "--config", config, "--target", "orthanc", "--json", env=env, cwd=tmp_path
    )
    assert check.returncode == 3, check.stdout + check.stderr
    assert "Traceback" not in check.stdout + check.stderr
    sql = json.loads(check.stdout)["probes"][-1]
    assert not sql["ok"] and "'flag'" in sql["detail"], sql

    given = run(sql_toml(tmp_path, "{flag = 1}"), "orthanc", 7211, env, tmp_path / "b")
    assert_passed(given, ONE)


def test_unknown_key_in_a_target_is_bad_input(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "typo.toml"
    config.write_text(ORTHANC_TOML.read_text("utf-8").replace("\nverify = ", "\nverfy = ", 1))

    result = run(config, "orthanc", 7212, env, tmp_path)

    assert result.returncode == 2, result.output
    assert "Traceback" not in result.output
    assert f"error: {config}: " in result.output
    assert "targets.orthanc.verfy: unknown key (did you mean verify?)" in result.output
    assert not (tmp_path / "runs").exists()
