"""``dicomfab run`` stopped by a signal leaves nothing of its own behind: not the import command
nor its grandchildren, not the SSH tunnel's clients, not the temporary ssh_config.

The run is a real CLI process in a session of its own; the test sends what a terminal sends
(SIGINT to the whole process group) or what a CI cancel sends (SIGTERM to the main process
only), during the ingest by command and during the wait for a verifier that reads the
session's PostgreSQL through the private sshd fixtures (target behind a bastion). Every process
the run started is recorded before the signal (walking /proc from the run's pid); afterwards
none may be alive, and no process may remain in the run's process group or session."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path

import pytest
from sshd import SSHServer
from stack import OrthancStack

from dicomfab.targets.observations import ObservedInstance

DICOMFAB = Path(sys.executable).with_name("dicomfab")
SCENARIO = "bits_consistent"


# --- processes ------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int, int, int, int] | None:
    """(state, ppid, pgid, sid, start time) of ``pid``, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def _all() -> dict[int, tuple[str, int, int, int, int]]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                found[int(entry)] = stat
    return found


def descendants(root: int) -> dict[int, int]:
    """Every live process below ``root``: pid → start time (to tell a reused pid)."""
    table = _all()
    children: dict[int, list[int]] = {}
    for pid, (_, ppid, *_rest) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: dict[int, int] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if table[pid][0] != "Z":
            found[pid] = table[pid][4]
        todo.extend(children.get(pid, []))
    return found


def left_over(run_pid: int, started: dict[int, int]) -> list[str]:
    """What is still alive of the run: the processes it had started, and anything in its
    process group or session."""
    left = []
    for pid, (state, _, pgid, sid, start) in _all().items():
        if state == "Z":
            continue
        if started.get(pid) == start or run_pid in (pgid, sid):
            left.append(f"{pid} {_cmdline(pid)}")
    return left


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    cwd: Path
    tmp: Path
    started: dict[int, int] | None = None  # what it had started when it was interrupted

    @property
    def run_dir(self) -> Path | None:
        runs = self.cwd / "runs"
        made = sorted(p for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []
        return made[0] if made else None

    def log(self, name: str) -> str:
        run_dir = self.run_dir
        path = run_dir / "logs" / name if run_dir else None
        return path.read_text("utf-8", errors="replace") if path and path.is_file() else ""

    def output(self) -> str:
        return "".join(
            (self.cwd / name).read_text("utf-8", errors="replace") for name in ("out", "err")
        )


@pytest.fixture
def start_run(tmp_path: Path) -> Iterator[Callable[[Path, str, dict[str, str]], Run]]:
    runs: list[Run] = []

    def start(config: Path, target: str, env: dict[str, str]) -> Run:
        cwd = tmp_path / "cwd"
        tmp = tmp_path / "tmp"  # the run's TMPDIR: where a temporary ssh_config would stay
        cwd.mkdir()
        tmp.mkdir()
        with (cwd / "out").open("wb") as out, (cwd / "err").open("wb") as err:
            process = subprocess.Popen(
                [
                    str(DICOMFAB), "run", "--config", str(config), "--target", target,
                    "-s", SCENARIO, "--image-size", "small", "--seed", "9301",
                    "--runs-dir", str(cwd / "runs"), "-q",
                ],
                cwd=cwd, env={**env, "TMPDIR": str(tmp)}, stdin=subprocess.DEVNULL,
                stdout=out, stderr=err, start_new_session=True,
            )  # fmt: skip
        run = Run(process, cwd, tmp)
        runs.append(run)
        return run

    yield start
    for run in runs:  # a failed test must not leave a run, or what it started, behind
        if run.process.poll() is None:
            os.killpg(run.process.pid, signal.SIGKILL)
            run.process.wait()
        for line in left_over(run.process.pid, run.started or {}):
            os.kill(int(line.split()[0]), signal.SIGKILL)


def wait_for(run: Run, ready: Callable[[], bool], what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert run.process.poll() is None, f"the run ended before {what}:\n{run.output()}"
        assert time.monotonic() < deadline, f"no {what} within {timeout:g} s:\n{run.output()}"
        time.sleep(0.2)


def interrupt(run: Run, how: str) -> tuple[int, dict[int, int]]:
    """Record what the run started, send the signal, and wait (at most 10 s) for the exit."""
    started = run.started = descendants(run.process.pid)
    assert started
    if how == "SIGINT to the group":
        os.killpg(run.process.pid, signal.SIGINT)
    else:
        os.kill(run.process.pid, signal.SIGTERM)
    try:
        code = run.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running 10 s after {how}:\n{run.output()}")
    return code, started


def assert_stopped_cleanly(run: Run, how: str, code: int, started: dict[int, int]) -> None:
    expected = 130 if how == "SIGINT to the group" else 143
    assert code == expected, f"exit {code}:\n{run.output()}"
    assert "Traceback" not in run.output()
    time.sleep(0.5)  # what was killed last is reaped
    assert left_over(run.process.pid, started) == []
    assert sorted(p.name for p in run.tmp.iterdir()) == []  # no ssh_config, no known_hosts copy
    assert run.run_dir is not None
    data = json.loads((run.run_dir / "reports" / "report.json").read_text("utf-8"))
    assert data["summary"]["interrupted"] is True
    assert data["summary"]["passed"] is False


HOW = ["SIGINT to the group", "SIGTERM to the main process"]


# --- during the ingest by command ---------------------------------------------------------------


@pytest.mark.parametrize("how", HOW)
def test_an_interrupted_ingest_stops_the_command_and_its_grandchildren(
    how: str, start_run: Callable[[Path, str, dict[str, str]], Run], tmp_path: Path
) -> None:
    marker = f"sleep {7000 + os.getpid() % 1000}.{len(how)}"
    # an empty index: the verifier's lookup before ingest finds nothing, the ingest goes on
    index = tmp_path / "instances.sqlite"
    with contextlib.closing(sqlite3.connect(index)) as db:
        db.execute(f"CREATE TABLE instance ({', '.join(f.name for f in fields(ObservedInstance))})")
        db.commit()
    config = tmp_path / "slow.toml"
    config.write_text(
        f"""
[targets.slow]
description = "an importer that starts a helper and never finishes"
ingest = {{ kind = "command", command = ["/bin/sh", "-c", "echo importing; {marker} & {marker}"], sentinel = "{{folder}}/done.txt", timeout = 600 }}
verify = {{ kind = "sql", profile = "embedded", url = "sqlite:///{index}" }}
""",  # noqa: E501
        encoding="utf-8",
    )
    run = start_run(config, "slow", dict(os.environ))
    wait_for(
        run,
        lambda: (
            "importing" in run.log("ingest.log")
            and sum(marker in _cmdline(p) for p in descendants(run.process.pid)) == 3
        ),
        "import command with its two sleeps",
    )

    code, started = interrupt(run, how)

    assert_stopped_cleanly(run, how, code, started)
    log = run.log("ingest.log")
    name = "SIGINT" if code == 130 else "SIGTERM"  # dicomfab stopped the command: the log says why
    assert f"# dicomfab was interrupted ({name}): stopped the command" in log, log


# --- during the wait, through an SSH tunnel with a jump host ----------------------------------


@pytest.mark.parametrize("how", HOW)
def test_an_interrupted_wait_stops_the_ssh_tunnel_and_removes_its_config(
    how: str,
    start_run: Callable[[Path, str, dict[str, str]], Run],
    orthanc_stack: OrthancStack,
    sshd: SSHServer,
    bastion_sshd: SSHServer,
    tmp_path: Path,
) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"{sshd.known_hosts_line}\n{bastion_sshd.known_hosts_line}\n")
    config = tmp_path / "tunnel.toml"
    # the command hands nothing over: the verifier never finds the data, the counts never
    # settle (stable = 1000 polls), and the wait would last 10 minutes
    config.write_text(
        """
[targets.tunnelled]
description = "SQL through an SSH tunnel via a bastion; data that never arrives"
ingest = { kind = "command", command = ["/bin/sh", "-c", "touch '{folder}/done.txt'"], sentinel = "{folder}/done.txt", timeout = 60 }
wait = { timeout = 600, interval = 0.5, stable = 1000 }

[targets.tunnelled.verify]
kind = "sql"
profile = "orthanc-postgres"
url = "postgresql+psycopg://${PG_USER}:${DB_PW}@${PG_HOST}:${PG_PORT}/${PG_DB}"
ssh = { target = "${SSH_TARGET}", bastion = "${SSH_BASTION}", key = "${SSH_KEY}", known_hosts = "${SSH_KNOWN_HOSTS}" }
""",  # noqa: E501
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "PG_USER": orthanc_stack.user,
        "DB_PW": orthanc_stack.password,
        "PG_HOST": orthanc_stack.pg_host,
        "PG_PORT": str(orthanc_stack.pg_port),
        "PG_DB": orthanc_stack.database,
        "SSH_TARGET": sshd.target,
        "SSH_BASTION": bastion_sshd.target,
        "SSH_KEY": str(sshd.client_key),
        "SSH_KNOWN_HOSTS": str(known_hosts),
    }
    run = start_run(config, "tunnelled", env)

    def waiting_through_the_tunnel() -> bool:
        ssh = [p for p in descendants(run.process.pid) if _cmdline(p).startswith("/usr/bin/ssh")]
        return "wait: start" in run.log("run.log") and len(ssh) == 2  # the client and its jump

    wait_for(run, waiting_through_the_tunnel, "wait stage through the tunnel")
    assert any(run.tmp.glob("dicomfab-ssh-*/ssh_config"))  # where the config lives meanwhile
    time.sleep(2)  # a few polls through the tunnel

    code, started = interrupt(run, how)

    assert_stopped_cleanly(run, how, code, started)
