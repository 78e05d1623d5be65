"""The process starts with the garbage collector off and a command turns it back on once its
stack is imported, with what start-up built frozen: every command runs with it on."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dicomfab.cli.common import collect_from_here

SCRIPT = """
import atexit, gc, json, sys
from dicomfab import console

def report():
    state = {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}
    print(json.dumps(state), file=sys.stderr)

atexit.register(report)
sys.argv = ["dicomfab", *sys.argv[1:]]
console.run()
"""


def _state(tmp_path: Path, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    state: dict[str, object] = json.loads(done.stderr.strip().splitlines()[-1])
    return state


@pytest.mark.parametrize(
    "args",
    [
        ["generate", "-q", "-o", "out", "-s", "bits_consistent", "--set", "image_size=small"],
        ["list", "--json"],
    ],
    ids=["generate", "list"],
)
def test_the_command_runs_with_the_collector_on(tmp_path: Path, args: list[str]) -> None:
    state = _state(tmp_path, *args)
    assert state["enabled"] is True
    assert isinstance(state["frozen"], int) and state["frozen"] > 1000  # start-up, frozen


def test_collect_from_here_leaves_a_running_collector_alone() -> None:
    assert gc.isenabled()
    before = gc.get_freeze_count()
    collect_from_here()
    assert gc.isenabled() and gc.get_freeze_count() == before
