"""The media layout: a dataset as a CD or USB stick presents it (PS3.10 / PS3.12 File-set).

The instances already written to ``dicoms/`` are moved into a File-set tree named by pydicom's
:class:`~pydicom.fileset.FileSet` under a ``DICOM`` folder
(``DICOM/PT000000/ST000000/SE000000/IM000000``: upper-case file ID components of at most 8
characters, no extension) with a ``DICOMDIR`` at the root holding PATIENT / STUDY /
SERIES / IMAGE records. FileSet stages a re-encoded copy of each instance (here of its header
only: the records need no pixels); the tree keeps dicomfab's own files instead (moved over
FileSet's copies), so the manifest's digests still hold. The File-set UID
and ID derive from the dataset's identity and seed, so the same spec and seed give the same tree.

With ``junk``, the files real media carries besides DICOM (``.DS_Store``, a zero-byte file,
``AUTORUN.INF``, a viewer ``VIEWER.EXE`` — text, not executable) are added and listed in the
manifest's ``extras``, which no check expects to be stored.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING

import pydicom
from pydicom import dcmread

from dicomfab.builder.plan_model import Plan
from dicomfab.builder.uids import UIDFactory
from dicomfab.errors import OutputError
from dicomfab.output.layouts import Layout as Layout  # re-exported: output.generate uses it
from dicomfab.output.manifest import Manifest
from dicomfab.output.paths import confined

if TYPE_CHECKING:  # loaded when a File-set is written, not with every ``generate``
    from pydicom.fileset import FileSet

MEDIA_FOLDER = "DICOM"  # the tree's top folder, as most media has it

#: name → content of the non-DICOM files real media carries (``junk``)
JUNK_FILES: dict[str, bytes] = {
    ".DS_Store": b"\x00\x00\x00\x01Bud1\x00\x00\x10\x00",
    "EMPTY.TXT": b"",
    "AUTORUN.INF": b"[autorun]\r\nopen=VIEWER.EXE\r\nlabel=DICOMFAB\r\n",
    "VIEWER.EXE": b"MZ dicomfab placeholder viewer: not a program\r\n",
}


def fileset_id(name: str) -> str:
    """The File-set ID (CS, at most 16 of A-Z 0-9 _ and space) made from the dataset name."""
    cleaned = "".join(c if c.isalnum() and c.isascii() else "_" for c in name.upper())
    return cleaned[:16] or "DICOMFAB"


def write_media(root: Path, plan: Plan, manifest: Manifest, *, junk: bool = False) -> None:
    """Turn ``root/dicoms`` into a File-set tree with a ``DICOMDIR`` at ``root``.

    Every written instance moves; its manifest ``file`` becomes its File ID path. Instances listed
    but not written stay out of the DICOMDIR."""
    fs = _fileset(root)
    fs.ID = fileset_id(plan.spec.name)
    uids = UIDFactory(plan.spec.seed, plan.spec.uid_root, namespace=plan.uid_namespace)
    fs.UID = uids.uid("fileset")  # type: ignore[assignment]
    written = [i for i in manifest.instances() if i.written]
    sources = {}
    try:
        for entry in written:
            sources[entry.sop_instance_uid] = confined(root, entry.file)
            try:  # the records need the header only: FileSet stages a copy without pixels
                fs.add(dcmread(sources[entry.sop_instance_uid], stop_before_pixels=True))
            except (ValueError, AttributeError) as exc:  # a record's Type 1 attribute missing
                raise OutputError(f"{entry.file} cannot go on media: {exc}") from exc
        fs.write(root)
    finally:
        _drop_stage(fs)
    file_ids = _into_folder(root, MEDIA_FOLDER)
    for sop_uid, file_id in file_ids.items():
        # dicomfab's bytes (moved: no copy), not FileSet's re-encoding of the header
        os.replace(sources[sop_uid], confined(root, *file_id.split("/")))
    for entry in written:
        entry.file = file_ids[entry.sop_instance_uid]
    shutil.rmtree(confined(root, "dicoms"))
    if junk:
        for name, content in JUNK_FILES.items():
            confined(root, name).write_bytes(content)
        manifest.extras = sorted(JUNK_FILES)


def _into_folder(root: Path, folder: str) -> dict[str, str]:
    """Move the File-set's tree into ``root/folder`` (as media from imaging centres has it) and
    rewrite the DICOMDIR to match: each record's Referenced File ID gains ``folder`` as its first
    component, and FileSet re-encodes the records (their offsets change) keeping its tree.
    Returns each instance's File ID path, by SOP Instance UID."""
    target = confined(root, folder)
    target.mkdir()
    dicomdir = pydicom.dcmread(confined(root, "DICOMDIR"))
    file_ids: dict[str, str] = {}
    for record in dicomdir.DirectoryRecordSequence:
        if "ReferencedFileID" not in record:
            continue
        value = record.ReferencedFileID  # a str for one component, else a MultiValue
        parts = [value] if isinstance(value, str) else [str(v) for v in value]
        top = confined(root, parts[0])
        if top.is_dir() and top.parent != target:
            top.rename(target / parts[0])
        record.ReferencedFileID = [folder, *parts]
        file_ids[record.ReferencedSOPInstanceUIDInFile] = "/".join([folder, *parts])
    # the tree as the DICOMDIR's offsets link it, files at the new IDs
    fs = _fileset(root, dicomdir)
    file_set_id = fs.ID
    fs.ID = None  # a change to the DICOMDIR itself: write() then rewrites only the DICOMDIR
    fs.ID = file_set_id
    fs.write(use_existing=True)
    _drop_stage(fs)
    return file_ids


def _fileset(root: Path, dicomdir: pydicom.Dataset | None = None) -> FileSet:
    """A FileSet that stages its copies inside ``root`` (the dataset's own unfinished folder),
    not in the system's temporary folder: dicomfab writes nowhere but where it was told. FileSet
    has no public way to choose, so its (still empty) stage is replaced."""
    from pydicom.fileset import FileSet

    fs = FileSet(dicomdir)
    fs._stage["t"].cleanup()
    fs._stage["t"] = TemporaryDirectory(prefix=".stage-", dir=root)
    fs._stage["path"] = Path(fs._stage["t"].name)
    return fs


def _drop_stage(fs: FileSet) -> None:
    """Remove the staging folder FileSet keeps (a copy of every instance): it has no public way
    to, and leaving it to the garbage collector warns."""
    stage = getattr(fs, "_stage", {})
    if "t" in stage:
        stage["t"].cleanup()
