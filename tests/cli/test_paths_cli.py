"""Hostile names through the command line: a spec can never make dicomfab write outside
``--output/<name>``. Every such spec is exit 2 with one line naming the field, in ``validate`` as in
``generate``, and nothing is written anywhere (the temporary root's parent is snapshotted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

Run = Callable[..., subprocess.CompletedProcess[str]]
SMALL = {"pixels": {"size": "small"}}


def _spec(**instance: Any) -> dict[str, Any]:
    return {
        "name": "ds",
        "defaults": SMALL,
        "patients": [{"studies": [{"series": [{"count": 1, "instances": [instance]}]}]}],
    }


def _study_spec(**study: Any) -> dict[str, Any]:
    return {"name": "ds", "defaults": SMALL, "patients": [{"studies": [study]}]}


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` (not following symlinks) with its size and mtime."""
    out: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            out[str(path.relative_to(folder))] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Path]:
    """``tmp_path/root`` (the working folder, with ``out/``), and a check on the way out that
    nothing changed in ``tmp_path``'s parent outside it. Deep ``..`` chains land in the parent."""
    root = tmp_path / "root"
    (root / "out").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "keep.txt").write_text("mine")
    parent = tmp_path.parent
    before = {
        k: v for k, v in _snapshot(parent).items() if not k.startswith(f"{tmp_path.name}/root")
    }
    yield root
    after = {
        k: v for k, v in _snapshot(parent).items() if not k.startswith(f"{tmp_path.name}/root")
    }
    assert after == before, set(after) ^ set(before)


def _write(folder: Path, spec: dict[str, Any]) -> Path:
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _rejected(proc: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text
    assert "error: " in proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, (fragment, proc.stderr)
    return proc.stderr


HOSTILE = {
    "relative file_name": (
        _spec(file_name="../../../outside/x.dcm"),
        "instances[0].file_name",
    ),
    "deep relative file_name": (
        _spec(file_name="../../../../../../outside/x.dcm"),
        "instances[0].file_name",
    ),
    "absolute file_name": (_spec(file_name="/tmp/dicomfab-abs-x.dcm"), "file_name"),
    "file_name ..": (_spec(file_name=".."), "file_name"),
    "file_name with NUL": (_spec(file_name="a\x00b.dcm"), "file_name"),
    "Windows device file_name": (_spec(file_name="NUL.dcm"), "file_name"),
    "study uid ../../..": (_study_spec(uid="../../.."), "studies[0].uid"),
    "series uid ../x": (
        _study_spec(series=[{"uid": "../../../outside", "count": 1}]),
        "series[0].uid",
    ),
    "sop_instance_uid ../../..": (_spec(sop_instance_uid="../../.."), "sop_instance_uid"),
    "sop_instance_uid deep": (
        _spec(sop_instance_uid="../../../../../../outside/evil"),
        "sop_instance_uid",
    ),
    "leading-zero study uid": (_study_spec(uid="1.2.03.4"), "studies[0].uid"),
    "name ..": ({"name": "..", "defaults": SMALL}, "name"),
    "name .": ({"name": ".", "defaults": SMALL}, "name"),
    "uid_root too long": ({"name": "ds", "uid_root": "1.2." + "3" * 50}, "uid_root"),
    "UI tag not a UID": (
        {"name": "ds", "defaults": {**SMALL, "tags": {"FrameOfReferenceUID": "1.2.3.04"}}},
        "FrameOfReferenceUID",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("command", ["validate", "generate", "generate --overwrite"])
def test_hostile_spec_is_refused_and_writes_nothing(
    sandbox: Path, cli: Run, monkeypatch: pytest.MonkeyPatch, case: str, command: str
) -> None:
    monkeypatch.chdir(sandbox)
    spec, field = HOSTILE[case]
    path = _write(sandbox, spec)
    (sandbox / "out" / "sentinel.txt").write_text("keep me")
    words = command.split()
    args = [*words, str(path)] if words[0] == "validate" else [*words, "-o", "out", "-c", path]
    proc = cli(*args)
    _rejected(proc, field)
    assert sorted(p.name for p in (sandbox / "out").iterdir()) == ["sentinel.txt"]
    assert (sandbox / "out" / "sentinel.txt").read_text() == "keep me"


def test_dot_names_with_overwrite_through_the_real_entry_point(sandbox: Path) -> None:
    """``name: .`` with --overwrite replaced the whole --output on main; ``..`` its parent."""
    (sandbox / "out" / "sentinel.txt").write_text("keep me")
    (sandbox / "beside.txt").write_text("keep me too")
    for name in (".", ".."):
        path = _write(sandbox, {"name": name, "defaults": SMALL})
        proc = subprocess.run(
            [sys.executable, "-m", "dicomfab", "generate", "-o", "out", "-c", path, "--overwrite"],
            capture_output=True,
            text=True,
            cwd=sandbox,
            timeout=120,
        )
        _rejected(proc, "name")
    assert (sandbox / "out" / "sentinel.txt").read_text() == "keep me"
    assert (sandbox / "beside.txt").read_text() == "keep me too"
    assert sorted(p.name for p in (sandbox / "out").iterdir()) == ["sentinel.txt"]


def test_legacy_custom_file_name_is_one_name(sandbox: Path, cli: Run) -> None:
    legacy_path = sandbox / "old.json"
    for bad in ("..", "CON", "x\x01.dcm"):
        legacy_path.write_text(
            json.dumps(
                {"current_study": {"count": 1, "images": [{"tags": {"CustomFileName": bad}}]}}
            )
        )
        proc = cli("generate", "-o", sandbox / "out", "--power-customize", legacy_path)
        _rejected(proc, "CustomFileName")
    assert not any((sandbox / "out").iterdir())
