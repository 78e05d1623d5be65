"""Scenarios that put studies on a CD/USB medium (``media:``): a File-set with a DICOMDIR in
``media/`` that dciodvfy, DCMTK and pydicom accept, the other studies flat, junk only as extras,
and a DICOMDIR that names a file the medium lacks (``media_dicomdir_missing_file``)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pydicom
import pytest

from dicomfab.errors import SpecError
from dicomfab.output.manifest import Manifest
from dicomfab.output.media import JUNK_FILES
from dicomfab.output.merge import merge
from dicomfab.scenarios import compose, scenarios
from dicomfab.scenarios.generate import ScenarioRequest, generate_one
from dicomfab.scenarios.model import Scenario
from dicomfab.scenarios.profiles import load_profiles
from dicomtools import dciodvfy, dcmdump, require

SMALL = {"image_size": "small"}


def _generate(name: str, out: Path) -> tuple[Path, Manifest]:
    result = generate_one(ScenarioRequest(name, SMALL), out)
    return result.path, result.manifest


def _images(dicomdir: Path) -> dict[str, str]:
    """SOP Instance UID → File ID path (relative to the medium) of each IMAGE record."""
    records = pydicom.dcmread(dicomdir).DirectoryRecordSequence
    return {
        r.ReferencedSOPInstanceUIDInFile: "/".join(r.ReferencedFileID)
        for r in records
        if r.DirectoryRecordType == "IMAGE"
    }


def _by_role(manifest: Manifest, role: str) -> list[Any]:
    return [
        i
        for p in manifest.patients
        for s in p.studies
        if s.role == role
        for se in s.series
        for i in se.instances
    ]


def test_pdi_media_import_puts_the_external_prior_on_a_valid_medium(tmp_path: Path) -> None:
    root, manifest = _generate("pdi_media_import", tmp_path)
    dicomdir = root / "media" / "DICOMDIR"
    assert dciodvfy(dicomdir).errors == []
    dump = dcmdump(dicomdir)
    for record in ("PATIENT", "STUDY", "SERIES", "IMAGE"):
        assert f"[{record}" in dump
    external = _by_role(manifest, "external_prior")
    assert len(external) == 4
    images = _images(dicomdir)
    # the DICOMDIR names exactly the external prior's files, at the manifest's paths
    assert {i.sop_instance_uid: i.file for i in external} == {
        uid: f"media/{file_id}" for uid, file_id in images.items()
    }
    for inst in external:
        assert inst.file.startswith("media/DICOM/PT000000/ST000000/SE000000/IM")
        assert pydicom.dcmread(root / inst.file).SOPInstanceUID == inst.sop_instance_uid
        assert dciodvfy(root / inst.file).errors == []
    for role in ("current", "prior"):  # the rest stays flat
        assert all(i.file.startswith("dicoms/") for i in _by_role(manifest, role))
    # the medium holds the File-set only: no record, no manifest, no junk unless asked
    on_medium = {p.relative_to(root / "media").as_posix() for p in (root / "media").rglob("*")}
    assert {p for p in on_medium if p.count("/") == 0} == {"DICOMDIR", "DICOM"}
    assert manifest.extras == []
    assert _dcmgpdir_images(root / "media", tmp_path) == 4


def _dcmgpdir_images(medium: Path, scratch: Path) -> int:
    """DCMTK's dcmgpdir builds its own DICOMDIR from the medium's tree (it refuses a File ID or
    an instance that cannot go on media): the number of its IMAGE records."""
    out = scratch / "dcmgpdir" / "DICOMDIR"
    out.parent.mkdir()
    proc = subprocess.run(
        [require("dcmgpdir"), "+r", "+id", str(medium), "+D", str(out), "DICOM"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return len(_images(out))


def test_junk_sits_on_the_medium_and_is_listed_as_extras(tmp_path: Path) -> None:
    root, manifest = _generate("media_junk_files", tmp_path)
    assert manifest.extras == sorted(f"media/{name}" for name in JUNK_FILES)
    for name, content in JUNK_FILES.items():
        assert (root / "media" / name).read_bytes() == content
    assert dciodvfy(root / "media" / "DICOMDIR").errors == []
    assert len(_images(root / "media" / "DICOMDIR")) == 4
    saved = Manifest.model_validate_json((root / "manifest.json").read_bytes())
    assert saved.extras == manifest.extras

    # merged for a run: the DICOM files only, never the DICOMDIR or the junk
    merged = merge([root], tmp_path / "merged")
    files = {p.name for p in (tmp_path / "merged").rglob("*") if p.is_file()}
    assert not files & {"DICOMDIR", *JUNK_FILES}
    assert merged.files == len([i for i in manifest.instances() if i.written]) == 12


def test_the_dicomdir_names_a_file_the_medium_lacks(tmp_path: Path) -> None:
    root, manifest = _generate("media_dicomdir_missing_file", tmp_path)
    dicomdir = root / "media" / "DICOMDIR"
    assert dciodvfy(dicomdir).errors == []  # the DICOMDIR itself is valid
    images = _images(dicomdir)
    assert len(images) == 4
    missing = [f for f in images.values() if not (root / "media" / f).exists()]
    assert missing == ["DICOM/PT000000/ST000000/SE000000/IM000003"]
    last = _by_role(manifest, "external_prior")[-1]
    assert (last.file, last.written, last.expectation) == (f"media/{missing[0]}", False, "exclude")
    assert images[last.sop_instance_uid] == missing[0]
    assert _dcmgpdir_images(root / "media", tmp_path) == 3  # DCMTK finds three files on it


def test_same_seed_same_medium(tmp_path: Path) -> None:
    def tree(root: Path) -> dict[str, str]:
        return {
            p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    one, _ = _generate("media_junk_files", tmp_path / "a")
    two, _ = _generate("media_junk_files", tmp_path / "b")
    assert tree(one) == tree(two)


def _scenario(**fields: Any) -> Scenario:
    base = scenarios()["pdi_media_import"].model_dump(exclude_unset=True)
    return Scenario.model_validate({**base, **fields})


def test_the_medium_holds_whole_studies(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"media\.studies\[0\].*whole studies"):
        compose(_scenario(media={"studies": ["external_prior.last"]}), SMALL, load_profiles())
    with pytest.raises(SpecError, match=r"media\.studies\[1\].*no patient 3"):
        compose(
            _scenario(media={"studies": ["prior", "patient[3].current"]}), SMALL, load_profiles()
        )


def test_media_and_datasets_do_not_combine() -> None:
    with pytest.raises(ValueError, match="media and datasets do not combine"):
        _scenario(datasets={"part": ["current"]})


def test_every_study_on_the_medium(tmp_path: Path) -> None:
    """Without ``studies``, the whole dataset goes on the medium and ``dicoms/`` is gone."""
    from dicomfab import generate
    from dicomfab.scenarios.compose import finish

    composed = compose(_scenario(media={}), SMALL, load_profiles())
    result = generate(
        composed.spec,
        tmp_path,
        workers=1,
        plan=composed.plan,
        finish=lambda root, manifest: finish(composed, root, manifest),
    )
    assert not (result.path / "dicoms").exists()
    images = _images(result.path / "media" / "DICOMDIR")
    assert len(images) == len(result.manifest.instances()) == 12
    assert all(i.file.startswith("media/DICOM/") for i in result.manifest.instances())


def test_an_instance_never_written_has_no_record_on_the_medium(tmp_path: Path) -> None:
    """``skip_writing`` (unlike a ``skip_file`` mutation, which runs after the DICOMDIR) leaves
    the instance out of the DICOMDIR; its entry keeps the planned path."""
    from dicomfab import generate
    from dicomfab.scenarios.compose import finish

    skipped = {"at": "external_prior.last", "what": "never written", "skip_writing": True}
    composed = compose(_scenario(defects=[skipped]), SMALL, load_profiles())
    result = generate(
        composed.spec,
        tmp_path,
        workers=1,
        plan=composed.plan,
        finish=lambda root, manifest: finish(composed, root, manifest),
    )
    last = _by_role(result.manifest, "external_prior")[-1]
    assert not last.written and last.file.startswith("dicoms/")
    assert len(_images(result.path / "media" / "DICOMDIR")) == 3
    assert last.sop_instance_uid not in _images(result.path / "media" / "DICOMDIR")
