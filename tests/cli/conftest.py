"""The ``cli`` fixture: run ``dicomfab ARGS`` in this process, as a user would in a shell."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from dicomfab.console import main

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """``dicomfab ARGS`` in this process, in ``tmp_path``; returns what ``run`` returns."""
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str | Path) -> subprocess.CompletedProcess[str]:
        argv = [str(a) for a in args]
        with pytest.raises(SystemExit) as info:
            main(argv)
        out, err = capsys.readouterr()
        code = info.value.code
        return subprocess.CompletedProcess(argv, code if isinstance(code, int) else 1, out, err)

    return invoke
