"""The processes dicomfab starts are its own: each leads a session of its own (the terminal's
Ctrl-C reaches dicomfab only), and on every way out — done, failed, interrupted by SIGINT or
SIGTERM, the interpreter exiting — the child and everything it started are stopped. Real
processes (``/bin/sh``, ``sleep``, pynetdicom's qrscp), no mocks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomfab.errors import Interrupted, TargetError
from dicomfab.targets.command import CommandIngestor
from dicomfab.targets.embedded import EmbeddedPACS

SRC = Path(__file__).resolve().parents[2] / "src"


def _alive(marker: str) -> list[int]:
    """Live (not zombie) processes whose command line contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if marker in cmdline and stat[stat.rfind(")") + 2] != "Z":
            found.append(int(entry))
    return found


def _wait_for(predicate: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def marker() -> Iterator[str]:
    """A unique ``sleep`` duration to find our grandchildren by; any left over are killed."""
    seconds = f"{3000 + (os.getpid() * 7 + time.monotonic_ns()) % 5000}.{os.getpid() % 97}"
    yield f"sleep {seconds}"
    for pid in _alive(f"sleep {seconds}"):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def sigterm_raises() -> Iterator[None]:
    """SIGTERM raises :class:`Interrupted` in the main thread, as the CLI makes it do."""

    def handler(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    saved = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, saved)


def _signal_later(signum: int, when: float) -> threading.Thread:
    """Send ``signum`` to this process after ``when`` seconds (from another thread)."""

    def fire() -> None:
        time.sleep(when)
        os.kill(os.getpid(), signum)

    thread = threading.Thread(target=fire, daemon=True)
    thread.start()
    return thread


def test_sigint_stops_the_command_and_its_grandchildren_and_says_so(
    tmp_path: Path, marker: str
) -> None:
    log = tmp_path / "ingest.log"
    ingestor = CommandIngestor(
        ["/bin/sh", "-c", f"echo started; {marker} & {marker}"],
        folder=tmp_path,
        log_path=log,
        timeout=600,
    )
    thread = _signal_later(signal.SIGINT, 1.0)
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        ingestor.run()
    thread.join()

    assert time.monotonic() - start < 10
    assert _alive(marker) == []
    text = log.read_text("utf-8")
    assert "started" in text
    assert "# dicomfab was interrupted (SIGINT): stopped the command and everything it started" in (
        text
    )


@pytest.mark.usefixtures("sigterm_raises")
def test_the_log_names_sigterm_when_sigterm_interrupts_it(tmp_path: Path, marker: str) -> None:
    log = tmp_path / "ingest.log"
    ingestor = CommandIngestor(
        ["/bin/sh", "-c", f"{marker} & {marker}"], folder=tmp_path, log_path=log, timeout=600
    )
    thread = _signal_later(signal.SIGTERM, 1.0)
    with pytest.raises(Interrupted) as info:
        ingestor.run()
    thread.join()

    assert info.value.signum == signal.SIGTERM
    assert _alive(marker) == []
    assert "# dicomfab was interrupted (SIGTERM): stopped" in log.read_text("utf-8")


def test_a_grandchild_in_a_process_group_of_its_own_and_deaf_to_sigterm_is_stopped(
    tmp_path: Path, marker: str
) -> None:
    # bash's `set -m` puts each job in a process group of its own (same session); the ignored
    # SIGTERM is inherited: only SIGKILL ends them
    ingestor = CommandIngestor(
        ["/bin/bash", "-c", f"set -m; trap '' TERM; {marker} & {marker}"],
        folder=tmp_path,
        log_path=tmp_path / "ingest.log",
        timeout=1,
    )
    ingestor.term_grace = 1.0
    start = time.monotonic()
    with pytest.raises(TargetError, match="timed out after 1 s"):
        ingestor.run()

    assert time.monotonic() - start < 10
    assert _wait_for(lambda: _alive(marker) == [], 2.0), _alive(marker)


def test_processes_a_successful_command_left_behind_are_stopped(
    tmp_path: Path, marker: str
) -> None:
    log = tmp_path / "ingest.log"
    ingestor = CommandIngestor(
        ["/bin/sh", "-c", f"{marker} >/dev/null 2>&1 & echo imported"],
        folder=tmp_path,
        log_path=log,
        timeout=60,
    )

    result = ingestor.run()

    assert result.returncode == 0
    assert _alive(marker) == []
    text = log.read_text("utf-8")
    assert "imported" in text
    assert "# the ingest is over: stopped 1 process the command left running" in text


def test_a_failing_command_leaves_nothing_running(tmp_path: Path, marker: str) -> None:
    ingestor = CommandIngestor(
        ["/bin/sh", "-c", f"{marker} >/dev/null 2>&1 & echo boom; exit 4"],
        folder=tmp_path,
        log_path=tmp_path / "ingest.log",
        timeout=60,
    )

    with pytest.raises(TargetError, match="exited with 4: boom"):
        ingestor.run()

    assert _alive(marker) == []
    assert "# the ingest failed (ingest command exited with 4: boom): stopped 1 process" in (
        (tmp_path / "ingest.log").read_text("utf-8")
    )


def test_the_embedded_pacs_runs_in_a_session_of_its_own(tmp_path: Path) -> None:
    with EmbeddedPACS(tmp_path / "pacs") as pacs:
        process = pacs._process
        assert process is not None
        # the terminal's Ctrl-C goes to dicomfab's process group, not to the server's
        assert os.getsid(process.pid) == process.pid != os.getsid(0)
        assert os.getpgid(process.pid) != os.getpgid(0)
        pid = process.pid
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


def _python(code: str, tmp_path: Path) -> subprocess.Popen[str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code), encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


@pytest.mark.parametrize("how", ["exit", "sigterm"])
def test_the_last_resorts_stop_what_a_dying_interpreter_left(
    how: str, tmp_path: Path, marker: str
) -> None:
    """A Python process that ends without its ``finally`` blocks stopping the children: the
    interpreter exits while a worker thread still runs the command (atexit), or SIGTERM arrives
    and nobody installed a handler for it (the default would kill us on the spot)."""
    process = _python(
        f"""
        import sys, threading, time
        from pathlib import Path
        from dicomfab.targets import _children
        from dicomfab.targets.command import CommandIngestor

        ingestor = CommandIngestor(["/bin/sh", "-c", "{marker} & {marker}"],
                                   folder=Path({str(tmp_path)!r}), timeout=600,
                                   log_path=Path({str(tmp_path / "ingest.log")!r}))

        def watch():
            while not (_children.running() and
                       len(_children.session_members(_children.running()[0].pid)) == 3):
                time.sleep(0.05)  # sh and its two sleeps
            print("running", flush=True)
            sys.stdin.readline()  # the test has seen them

        if {how!r} == "exit":
            threading.Thread(target=ingestor.run, daemon=True).start()  # nobody waits for it
            watch()
            sys.exit(0)
        threading.Thread(target=watch, daemon=True).start()
        ingestor.run()  # SIGTERM arrives here
        """,
        tmp_path,
    )
    assert process.stdout is not None and process.stdin is not None
    assert process.stdout.readline().strip() == "running"
    assert len(_alive(marker)) == 3  # sh and its two sleeps
    if how == "sigterm":
        os.kill(process.pid, signal.SIGTERM)
    else:
        process.stdin.write("go\n")
        process.stdin.flush()
    process.wait(timeout=20)
    process.stdin.close()
    process.stdout.close()

    assert process.returncode == (0 if how == "exit" else -signal.SIGTERM)
    assert _wait_for(lambda: _alive(marker) == [], 5.0), _alive(marker)


def test_a_second_ctrl_c_while_waiting_for_the_grace_kills_at_once(
    tmp_path: Path, marker: str
) -> None:
    from dicomfab.targets import _children

    process = _children.spawn(["/bin/sh", "-c", f"trap '' TERM; {marker} & {marker}"])
    assert _wait_for(lambda: len(_alive(marker)) == 3)  # sh and its two sleeps
    thread = _signal_later(signal.SIGINT, 1.0)  # the user presses Ctrl-C again
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        _children.stop(process, grace=60)
    thread.join()

    assert time.monotonic() - start < 10  # not the 60 s grace
    assert _wait_for(lambda: _alive(marker) == [], 5.0), _alive(marker)
    assert process not in _children.running()
