"""Publish-time existence check: of two generates into the same ``--output/<name>``, one wins and
the other exits 2 ("another generate published it first"), instead of silently replacing it."""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
import yaml

from dicomfab import OutputError
from dicomfab.output import atomic
from dicomfab.output.atomic import atomic_folder, rename_noreplace


def _race(target: Path) -> None:
    """Two writers both pass the early check, the first publishes, then the second tries."""
    with ExitStack() as first_stack:
        first = first_stack.enter_context(atomic_folder(target))
        second_cm = atomic_folder(target)
        second = second_cm.__enter__()
        (first / "who").write_text("first")
        (second / "who").write_text("second")
        first_stack.close()  # the first publishes
        assert (target / "who").read_text() == "first"
        with pytest.raises(OutputError, match="another generate published it first"):
            second_cm.__exit__(None, None, None)
    assert (target / "who").read_text() == "first"
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no temp left


def test_second_publisher_loses_instead_of_replacing(tmp_path: Path) -> None:
    _race(tmp_path / "out" / "ds")


def test_second_publisher_loses_without_renameat2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where renameat2 is missing, a plain rename still refuses a non-empty folder."""
    monkeypatch.setattr(atomic, "_RENAMEAT2", None)
    _race(tmp_path / "out" / "ds")


def test_rename_noreplace_refuses_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").write_text("x")
    with pytest.raises(FileExistsError):
        rename_noreplace(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "b").read_text() == "x"


def test_overwrite_replaces_only_that_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "ds").mkdir(parents=True)
    (out / "ds" / "old").write_text("old")
    (out / "other").write_text("keep")
    with atomic_folder(out / "ds", overwrite=True) as temp:
        (temp / "new").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["ds", "other"]
    assert [p.name for p in (out / "ds").iterdir()] == ["new"]


def test_two_real_generates_into_one_output(tmp_path: Path) -> None:
    """Two ``dicomfab generate`` processes started together: exactly one exits 0; the other
    exits 2 with a clear message (whether it lost at the start or at publish time)."""
    spec = {
        "name": "ds",
        "defaults": {"pixels": {"size": "reduced"}},
        "patients": [{"studies": [{"series": [{"count": 6}]}]}],
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    argv = [sys.executable, "-m", "dicomfab", "generate", "-o", "out", "-c", "spec.yaml"]
    procs = [
        subprocess.Popen(
            [*argv, "--workers", "1"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    deadline = time.monotonic() + 300
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=max(1, deadline - time.monotonic()))
        results.append((proc.returncode, out, err))
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, _, err in results if code == 2)
    assert "already exists" in loser and "--overwrite" in loser and "Traceback" not in loser
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ds"]
    assert (tmp_path / "out" / "ds" / "manifest.json").is_file()
