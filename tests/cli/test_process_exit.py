"""The process leaves without the interpreter's teardown only when nothing needs it: its exit
status, its atexit handlers and everything it printed are kept either way."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dicomfab.cli.process_exit import exit_code

SCRIPT = """
import atexit, sys, threading, time
from pathlib import Path
from dicomfab.cli.process_exit import exit_process

here = Path(sys.argv[1])
mode = sys.argv[2]


class Teardown:
    def __del__(self):  # runs when the interpreter tears the module down, not after os._exit
        (here / "teardown").write_text("ran")


kept = Teardown()
atexit.register(lambda: (here / "atexit").write_text("ran"))
if mode == "thread":  # a thread still working: shutdown must wait for it
    threading.Thread(
        target=lambda: (time.sleep(0.3), (here / "thread").write_text("done"))
    ).start()
if mode == "profiled":
    import cProfile

    cProfile.Profile().enable()
sys.stdout.write("x" * 100_000)  # buffered, no newline: must still reach the pipe
exit_process(int(sys.argv[3]))
"""


def _run(tmp_path: Path, mode: str, code: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), mode, str(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_quiet_process_skips_teardown_keeps_atexit_and_output(tmp_path: Path) -> None:
    done = _run(tmp_path, "quiet", 3)
    assert done.returncode == 3, done.stderr
    assert done.stdout == "x" * 100_000
    assert (tmp_path / "atexit").read_text() == "ran"
    assert not (tmp_path / "teardown").exists()  # the interpreter was not torn down


@pytest.mark.parametrize("mode", ["thread", "profiled"])
def test_busy_or_profiled_process_exits_the_ordinary_way(tmp_path: Path, mode: str) -> None:
    done = _run(tmp_path, mode, 0)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "x" * 100_000
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "teardown").read_text() == "ran"
    if mode == "thread":
        assert (tmp_path / "thread").read_text() == "done"


def test_exit_code_is_what_sys_exit_gives(capsys: pytest.CaptureFixture[str]) -> None:
    assert [exit_code(c) for c in (None, 0, 2, 130, 256 + 3, -1)] == [0, 0, 2, 130, 3, 255]
    assert exit_code("bad input") == 1
    assert capsys.readouterr().err == "bad input\n"


def test_the_command_line_exits_with_its_code(tmp_path: Path) -> None:
    """``python -m dicomfab`` goes through the fast exit: codes and output are intact."""
    ok = subprocess.run(
        [sys.executable, "-m", "dicomfab", "list", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.rstrip().endswith("]")  # the whole JSON list reached the pipe
    bad = subprocess.run(
        [sys.executable, "-m", "dicomfab", "generate", "-s", "no_such_scenario_x"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert "no_such_scenario_x" in bad.stderr
    assert not list(tmp_path.iterdir())  # nothing written
