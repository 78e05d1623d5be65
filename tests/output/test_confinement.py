"""Nothing outside the dataset's folder: the path helper, invalid UIDs under safe names, merge of a
hostile manifest, and symlinks planted in the output."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomfab import OutputError, generate, parse_spec
from dicomfab.builder.uids import uid_name
from dicomfab.output.merge import merge
from dicomfab.output.paths import component_problem, confined, is_safe_component, safe_component
from dicomfab.scenarios.generate import ScenarioRequest, generate_one
from dicomfab.studyspec.uid import uid_problem

SMALL = {"pixels": {"rows": 64, "columns": 48}}


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# ------------------------------------------------------------------ the helper


def test_confined_accepts_paths_inside(tmp_path: Path) -> None:
    assert (
        confined(tmp_path, "dicoms", "1.2.3", "a.dcm") == tmp_path.resolve() / "dicoms/1.2.3/a.dcm"
    )
    assert confined(tmp_path, "a/../b") == tmp_path.resolve() / "b"  # stays inside: allowed


@pytest.mark.parametrize(
    "parts",
    [("..",), ("dicoms", "../../x"), ("/etc/passwd",), ("dicoms", "/abs"), ("a", "..", "..", "b")],
)
def test_confined_refuses_paths_that_leave(tmp_path: Path, parts: tuple[str, ...]) -> None:
    with pytest.raises(OutputError, match="refusing to write"):
        confined(tmp_path / "root", *parts)


def test_confined_does_not_follow_a_symlink_out(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "dicoms").symlink_to(outside, target_is_directory=True)
    with pytest.raises(OutputError, match="leads outside"):
        confined(root, "dicoms", "x.dcm")
    (root / "inner").mkdir()
    (root / "alias").symlink_to(root / "inner", target_is_directory=True)
    assert confined(root, "alias", "x") == (root / "inner" / "x").resolve()  # inside: fine


_NAMES = ["dicoms", "file", "missing", "in_link", "out_link", "loop", "..", ".", "", "a/b", "x/.."]


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root holding a folder, a file, symlinks inside, outside and to themselves."""
    top = tmp_path_factory.mktemp("planted")
    root, outside = top / "root", top / "outside"
    (root / "dicoms" / "a" / "b").mkdir(parents=True)
    outside.mkdir()
    (root / "dicoms" / "file").write_bytes(b"")
    (root / "file").write_bytes(b"")
    for folder in (root, root / "dicoms"):
        (folder / "in_link").symlink_to(root / "dicoms", target_is_directory=True)
        (folder / "out_link").symlink_to(outside, target_is_directory=True)
        (folder / "loop").symlink_to(folder / "loop")
    return root


@given(st.lists(st.sampled_from(_NAMES), min_size=1, max_size=5))
@settings(max_examples=300, deadline=None)
def test_confined_agrees_with_a_full_resolve(planted: Path, parts: list[str]) -> None:
    """The short walk below the root (one lstat per name) gives what resolving the whole joined
    path gives: the same path inside, the same refusal outside."""
    base = planted.resolve()
    try:
        expected: Path | None = base.joinpath(*parts).resolve()
    except RuntimeError:  # a symlink loop
        expected = None
    if expected is not None and expected != base and not expected.is_relative_to(base):
        expected = None
    try:
        found: Path | None = confined(planted, *parts)
    except (OutputError, RuntimeError):
        found = None
    assert found == expected


def test_a_name_that_cannot_be_looked_at_gets_the_full_resolve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An lstat that fails otherwise than "not there" (a folder without search permission)
    leaves the decision to Path.resolve, as before the short walk."""
    (tmp_path / "dicoms").mkdir()
    real = os.lstat
    refused: list[str] = []

    def lstat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if str(path).endswith("/dicoms/x.dcm"):
            refused.append(str(path))
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", lstat)
    assert confined(tmp_path, "dicoms", "x.dcm") == tmp_path.resolve() / "dicoms" / "x.dcm"
    assert refused  # the short walk met it and handed over


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "a/b",
        "a\\b",
        "/abs",
        "a\x00b",
        "a\nb",
        "CON",
        "nul.dcm",
        "COM1.txt",
        "LPT9",
        " lead",
        "trail ",
        "dot.",
        "x" * 256,
        "é" * 128,
    ],
)
def test_unsafe_components(name: str) -> None:
    assert not is_safe_component(name)
    assert component_problem(name)
    with pytest.raises(OutputError):
        safe_component(name)


@pytest.mark.parametrize("name", ["IM000001", "a.dcm", "2.25.1234.dcm", "uid-0123abcd", "CONSOLE"])
def test_safe_components(name: str) -> None:
    assert safe_component(name) == name


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("1.2.3", True),
        ("0", True),
        ("0.1", True),
        ("1.2.0", True),
        ("", False),
        ("1.02", False),
        ("1..2", False),
        (".1", False),
        ("1.", False),
        ("1.2a", False),
        ("../..", False),
        ("1" * 64, True),
        ("1" * 65, False),
        ("1.2.3 ", False),
    ],
)
def test_one_uid_rule(value: str, ok: bool) -> None:
    assert (uid_problem(value) is None) is ok


def test_uid_name_is_the_uid_or_a_safe_digest() -> None:
    assert uid_name("1.2.3") == "1.2.3"
    bad = "../../../outside/evil"
    assert uid_name(bad) == "uid-" + hashlib.sha256(bad.encode()).hexdigest()[:16]
    assert is_safe_component(uid_name(bad))


# ------------------------------------------------------------------ invalid UIDs as defects


@pytest.mark.filterwarnings("ignore::UserWarning")  # reading deliberately broken files
def test_permissive_invalid_uids_are_written_under_safe_names(tmp_path: Path) -> None:
    """A permissive spec may write an invalid (even path-like) UID into the files; the folder and
    file names come from a digest of it and everything stays inside the dataset."""
    study_uid, sop_uid = "../../../outside/study", "../../../../outside/evil"
    spec = parse_spec(
        {
            "name": "ds",
            "defaults": SMALL,
            "patients": [
                {
                    "studies": [
                        {
                            "uid": study_uid,
                            "permissive": True,
                            "series": [
                                {
                                    "count": 1,
                                    "instances": [
                                        {"sop_instance_uid": sop_uid, "permissive": True}
                                    ],
                                }
                            ],
                        }
                    ]
                }
            ],
        }
    )
    (tmp_path / "out").mkdir()
    result = generate(spec, tmp_path / "out", workers=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ds"]
    folder, name = uid_name(study_uid), uid_name(sop_uid) + ".dcm"
    path = result.path / "dicoms" / folder / name
    ds = pydicom.dcmread(path)
    assert ds.StudyInstanceUID == study_uid and ds.SOPInstanceUID == sop_uid
    assert (result.path / "jsons" / f"{folder}.json").is_file()
    record = json.loads((result.path / "jsons" / f"{folder}.json").read_text())
    assert record["sop_instance_uids"] == [sop_uid]


@pytest.mark.filterwarnings("ignore::UserWarning")  # reading deliberately broken files
@pytest.mark.parametrize("scenario", ["uid_too_long", "uid_padding_space_or_bad_chars"])
def test_library_scenarios_with_invalid_uids_use_safe_file_names(
    tmp_path: Path, scenario: str
) -> None:
    result = generate_one(ScenarioRequest(scenario, {"image_size": "small"}, 0), tmp_path)
    invalid = [i for i in result.manifest.instances() if uid_problem(i.sop_instance_uid)]
    assert invalid, "the scenario declares invalid SOP Instance UIDs"
    for inst in invalid:
        assert Path(inst.file).name == uid_name(inst.sop_instance_uid) + ".dcm"
        ds = pydicom.dcmread(result.path / inst.file, force=True)
        assert ds.SOPInstanceUID == inst.sop_instance_uid  # the defect itself is kept


# ------------------------------------------------------------------ merge


def test_merge_refuses_a_manifest_that_points_outside(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = generate(parse_spec({"name": "a", "defaults": SMALL}), out, workers=1)
    manifest: dict[str, Any] = json.loads((result.path / "manifest.json").read_text())
    inst = manifest["patients"][0]["studies"][0]["series"][0]["instances"][0]
    inst["file"] = "dicoms/../../../../escaped.dcm"
    (result.path / "manifest.json").write_text(json.dumps(manifest))
    before = _tree(tmp_path)
    with pytest.raises(OutputError, match="outside"):
        merge([result.path], out / "merged")
    assert _tree(tmp_path) == before
    assert not (tmp_path.parent / "escaped.dcm").exists()


def test_merge_refuses_to_read_outside_its_dataset(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("not yours")
    out = tmp_path / "out"
    result = generate(parse_spec({"name": "a", "defaults": SMALL}), out, workers=1)
    manifest: dict[str, Any] = json.loads((result.path / "manifest.json").read_text())
    study = manifest["patients"][0]["studies"][0]
    study["record"] = "../../secret.txt"
    (result.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(OutputError, match="outside"):
        merge([result.path], out / "merged")
    assert not (out / "merged").exists()


# ------------------------------------------------------------------ symlinks in the output


def test_overwrite_replaces_a_planted_symlink_not_what_it_points_to(tmp_path: Path) -> None:
    """``out/ds`` is a symlink to a folder outside: --overwrite replaces the link itself (and
    leaves nothing behind); the folder it pointed to is untouched."""
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    (out / "ds").symlink_to(outside, target_is_directory=True)
    spec = parse_spec({"name": "ds", "defaults": SMALL})
    with pytest.raises(OutputError, match="exists"):
        generate(spec, out, workers=1)
    result = generate(spec, out, workers=1, overwrite=True)
    assert not (out / "ds").is_symlink() and (result.path / "manifest.json").is_file()
    assert sorted(p.name for p in out.iterdir()) == ["ds"]  # no leftover link or temp folder
    assert _tree(outside) == {"keep.txt"} and (outside / "keep.txt").read_text() == "mine"


def test_temporary_folder_name_cannot_be_planted(tmp_path: Path) -> None:
    """The temporary folder had a predictable name (``.ds.partial-<pid>``); a symlink planted there
    made the write fail. Now the name is unpredictable and a planted link is left alone."""
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (out / f".ds.partial-{os.getpid()}").symlink_to(outside, target_is_directory=True)
    result = generate(parse_spec({"name": "ds", "defaults": SMALL}), out, workers=1)
    assert (result.path / "manifest.json").is_file()
    assert not any(outside.iterdir())
