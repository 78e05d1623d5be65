"""Files a scenario breaks after writing them are kept in memory while they are written, not
read back from disk; the result is the same bytes as reading them back."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import pytest

from dicomfab.output import direct, files
from dicomfab.output.files import keeping, kept, write_bytes
from dicomfab.scenarios.generate import ScenarioRequest, generate_one

# the module (the package exports a function of the same name)
compose_module = importlib.import_module("dicomfab.scenarios.compose")


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with direct.written():
        write_bytes(path, data)


def test_only_the_named_files_are_kept_and_only_once(tmp_path: Path) -> None:
    big = bytes(range(256)) * 8192  # 2 MiB: the direct writer's path on Linux
    with keeping(["dicoms/study/a.dcm"]):
        _write(tmp_path / "study" / "a.dcm", big)
        _write(tmp_path / "study" / "b.dcm", b"other")
        _write(tmp_path / "elsewhere" / "a.dcm", b"same name, other folder")
        assert kept("dicoms/elsewhere/a.dcm") is None
        assert kept("dicoms/study/b.dcm") is None
        _write(tmp_path / "study" / "a.dcm", big[:100])  # written again: the last bytes
        assert kept("dicoms/study/a.dcm") == big[:100]
        assert kept("dicoms/study/a.dcm") is None  # handed over once
        _write(tmp_path / "study" / "a.dcm", big)
    assert kept("dicoms/study/a.dcm") is None  # forgotten on the way out
    assert (tmp_path / "study" / "a.dcm").read_bytes() == big
    _write(tmp_path / "study" / "a.dcm", b"x")
    assert not files._kept


def test_no_more_than_keep_bytes_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "KEEP_BYTES", 10)
    with keeping(["s/a", "s/b"]):
        _write(tmp_path / "s" / "a", b"123456")
        _write(tmp_path / "s" / "b", b"7890ab")  # 12 bytes in all: not kept
        assert (kept("s/a"), kept("s/b")) == (b"123456", None)


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_a_scenario_breaks_the_kept_bytes_as_it_would_the_files_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = ScenarioRequest("aachen_truncated_duplicates", {"image_size": "small"})
    taken: list[bool] = []
    take = compose_module.kept

    def spy(file: str) -> bytes | None:
        found = take(file)
        taken.append(found is not None)
        return found

    monkeypatch.setattr(compose_module, "kept", spy)
    with_kept = generate_one(request, tmp_path / "kept")
    assert taken and all(taken)  # every broken file came from memory
    monkeypatch.setattr(files, "KEEP_BYTES", 0)  # nothing kept: every one read back
    taken.clear()
    read_back = generate_one(request, tmp_path / "read")
    assert taken and not any(taken)
    assert _tree(with_kept.path) == _tree(read_back.path)
