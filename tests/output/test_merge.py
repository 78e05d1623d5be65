"""Merging datasets into one merged_dataset folder: layout, manifest, duplicates, conflicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dicomfab import OutputError, generate, parse_spec
from dicomfab.output.generate import GenerateResult
from dicomfab.output.manifest import Manifest
from dicomfab.output.merge import merge
from dicomfab.scenarios.generate import ScenarioRequest, generate_one


def _spec(name: str, seed: int, **tags: str) -> dict[str, Any]:
    return {
        "name": name,
        "seed": seed,
        "defaults": {"pixels": {"rows": 64, "columns": 48}, "tags": tags},
        "patients": [{"studies": [{"role": "current"}, {"role": "prior", "date": "-2y"}]}],
    }


def _make(spec: dict[str, Any], out: Path) -> GenerateResult:
    return generate(parse_spec(spec), out, workers=1)


def _sources(result: GenerateResult) -> dict[str, Path]:
    """Merged path → source file for every written file and record of a generated dataset."""
    out: dict[str, Path] = {}
    for patient in result.manifest.patients:
        for study in patient.studies:
            if study.record:
                out[f"jsons/{Path(study.record).name}"] = result.path / study.record
            for series in study.series:
                for inst in series.instances:
                    if inst.written:
                        rel = inst.file[inst.file.index("dicoms/") :]
                        out[rel] = result.path / inst.file
    return out


def _files(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    }


def test_two_datasets_merge_whole(tmp_path: Path) -> None:
    a = _make(_spec("a", 1), tmp_path / "out")
    b = _make(_spec("b", 2), tmp_path / "out")
    result = merge([a.path, b.path], tmp_path / "merged")

    expected = _sources(a) | _sources(b)
    assert len(expected) == len(_sources(a)) + len(_sources(b))
    assert _files(result.path) == set(expected)
    for rel, source in expected.items():
        assert (result.path / rel).read_bytes() == source.read_bytes()
        assert (result.path / rel).stat().st_nlink == 1  # copied, not linked
    assert result.files == 16 and result.records == 2
    assert result.bytes == sum(p.stat().st_size for p in expected.values())
    assert result.duplicates == [] and result.conflicts == [] and result.same_uid == []

    merged = json.loads((result.path / "manifest.json").read_text())
    assert merged["format"] == 1
    assert [d["name"] for d in merged["datasets"]] == ["a", "b"]
    for entry, source in zip(merged["datasets"], (a, b), strict=True):
        manifest = Manifest.model_validate(entry["manifest"])
        assert manifest.dataset == source.manifest.dataset
        for inst in manifest.instances():
            assert (result.path / inst.file).is_file()
    assert not list(tmp_path.glob(".merged*"))


def test_same_dataset_twice_reports_duplicates(tmp_path: Path) -> None:
    a = _make(_spec("a", 1), tmp_path / "out")
    result = merge([a.path, a.path], tmp_path / "merged")
    assert _files(result.path) == set(_sources(a))
    assert len(result.duplicates) == 8 + 1  # every file and the record
    assert result.same_uid == []
    assert len(result.manifest.datasets) == 2


def test_different_content_at_same_path_is_a_conflict(tmp_path: Path) -> None:
    # two different specs share UIDs only when they pin one uid_namespace
    pinned = {"uid_namespace": "one-site"}
    a = _make({**_spec("x", 5, InstitutionName="Site A"), **pinned}, tmp_path / "one")
    b = _make({**_spec("x", 5, InstitutionName="Site B"), **pinned}, tmp_path / "two")
    assert set(_sources(a)) == set(_sources(b))  # same UIDs, same paths
    target = tmp_path / "merged"
    with pytest.raises(OutputError) as caught:
        merge([a.path, b.path], target)
    message = str(caught.value)
    assert "conflicting" in message
    first = next(i.file for i in a.manifest.instances())
    assert first in message
    assert not target.exists()
    assert not list(tmp_path.glob(".merged*"))


def test_same_uid_under_two_paths_is_a_warning(tmp_path: Path) -> None:
    def spec(name: str, seed: int) -> dict[str, Any]:
        instance = {"view": "RCC", "sop_instance_uid": "2.25.1234"}
        study = {"role": "current", "series": [{"instances": [instance]}]}
        return {
            "name": name,
            "seed": seed,
            "defaults": {"pixels": {"rows": 64, "columns": 48}},
            "patients": [{"studies": [study]}],
        }

    a = _make(spec("a", 1), tmp_path / "out")
    b = _make(spec("b", 2), tmp_path / "out")
    result = merge([a.path, b.path], tmp_path / "merged")
    (warning,) = result.same_uid
    assert warning.sop_instance_uid == "2.25.1234"
    assert warning.first != warning.second
    assert result.files == 2 and result.duplicates == []


def test_dual_output_merges_both_parts(tmp_path: Path) -> None:
    dual = generate_one(ScenarioRequest("dual_output", {"image_size": "small"}), tmp_path / "out")
    assert (dual.path / "external_priors_only" / "manifest.json").is_file()
    result = merge([dual.path], tmp_path / "merged")
    sources = _sources(dual)
    assert any("external_priors_only/" in str(p) for p in sources.values())
    assert any("current_study_only/" in str(p) for p in sources.values())
    assert _files(result.path) == set(sources)
    for rel, source in sources.items():
        assert (result.path / rel).read_bytes() == source.read_bytes()
    (entry,) = result.manifest.datasets
    assert entry.name == "dual_output"
    assert all(i.file.startswith("dicoms/") for i in entry.manifest.instances())


def test_unwritten_files_are_skipped(tmp_path: Path) -> None:
    a = _make(_spec("a", 1), tmp_path / "out")
    manifest = Manifest.model_validate_json((a.path / "manifest.json").read_text())
    skipped = manifest.instances()[0]
    skipped.written = False
    (a.path / skipped.file).unlink()
    (a.path / "manifest.json").write_text(manifest.to_json())
    result = merge([a.path], tmp_path / "merged")
    assert result.files == 7
    assert not (result.path / skipped.file).exists()


def test_link_makes_hard_links(tmp_path: Path) -> None:
    a = _make(_spec("a", 1), tmp_path / "out")
    result = merge([a.path], tmp_path / "merged", link=True)
    for rel, source in _sources(a).items():
        assert (result.path / rel).stat().st_nlink >= 2
        assert (result.path / rel).samefile(source)


def test_existing_target_needs_overwrite(tmp_path: Path) -> None:
    a = _make(_spec("a", 1), tmp_path / "out")
    target = tmp_path / "merged"
    target.mkdir()
    with pytest.raises(OutputError, match="already exists"):
        merge([a.path], target)
    result = merge([a.path], target, overwrite=True)
    assert result.files == 8


def test_a_format_1_manifest_is_read_and_its_files_compared_byte_by_byte(tmp_path: Path) -> None:
    """Manifests before format 2 carry SHA-256 digests (header_sha256, pixel_sha256): still
    read, but those digests cannot be compared with BLAKE3 ones, so merge compares the bytes."""
    import hashlib

    a = _make(_spec("a", 1), tmp_path / "new")
    old = _make(_spec("a", 1), tmp_path / "old")
    data = json.loads((old.path / "manifest.json").read_text())
    data["format"] = 1
    for patient in data["patients"]:
        for study in patient["studies"]:
            for series in study["series"]:
                for inst in series["instances"]:
                    del inst["header_blake3"], inst["pixel_blake3"]
                    digest = hashlib.sha256((old.path / inst["file"]).read_bytes()).hexdigest()
                    inst["header_sha256"] = inst["pixel_sha256"] = digest  # what they held
    (old.path / "manifest.json").write_text(json.dumps(data, indent=2))
    loaded = Manifest.model_validate_json((old.path / "manifest.json").read_bytes())
    assert loaded.format == 1
    assert all(i.header_blake3 is None and i.pixel_blake3 is None for i in loaded.instances())

    result = merge([old.path, a.path], tmp_path / "merged")
    assert len(result.duplicates) == 8 + 1 and result.conflicts == []
    (old.path / a.manifest.instances()[0].file).write_bytes(b"changed")
    with pytest.raises(OutputError, match="conflicting"):
        merge([old.path, a.path], tmp_path / "merged2")
