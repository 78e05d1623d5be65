"""The media layout: a dataset as a CD or USB stick presents it (PS3.10 / PS3.12 File-set).

The instances already written to ``dicoms/`` are moved into a File-set tree named by pydicom's
:class:`~pydicom.fileset.FileSet` (``PT000000/ST000000/SE000000/IM000000``: upper-case file IDs of
at most 8 characters, no extension) with a ``DICOMDIR`` at the root holding PATIENT / STUDY /
SERIES / IMAGE records. FileSet re-encodes each instance as it stages it; the tree keeps dicomfab's
own bytes instead (copied over FileSet's), so the manifest's digests still hold. The File-set UID
and ID derive from the dataset's identity and seed, so the same spec and seed give the same tree.

With ``junk``, the files real media carries besides DICOM (``.DS_Store``, a zero-byte file,
``AUTORUN.INF``, a viewer ``VIEWER.EXE`` — text, not executable) are added and listed in the
manifest's ``extras``, which no check expects to be stored.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

from pydicom import dcmread
from pydicom.fileset import FileSet

from dicomfab.builder.plan_model import Plan
from dicomfab.builder.uids import UIDFactory
from dicomfab.output.manifest import Manifest
from dicomfab.output.paths import confined

Layout = Literal["folders", "media"]
LAYOUTS: tuple[Layout, ...] = ("folders", "media")

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
    fs = FileSet()
    fs.ID = fileset_id(plan.spec.name)
    uids = UIDFactory(plan.spec.seed, plan.spec.uid_root, namespace=plan.uid_namespace)
    fs.UID = uids.uid("fileset")  # type: ignore[assignment]
    written = [i for i in manifest.instances() if i.written]
    sources = {}
    for entry in written:
        sources[entry.sop_instance_uid] = confined(root, entry.file)
        fs.add(dcmread(sources[entry.sop_instance_uid]))
    fs.write(root)
    file_ids: dict[str, str] = {}
    for instance in fs:  # reloaded from the DICOMDIR just written
        file_id = Path(instance.FileID)
        file_ids[instance.SOPInstanceUID] = file_id.as_posix()
        # dicomfab's bytes, not FileSet's re-encoding
        shutil.copyfile(sources[instance.SOPInstanceUID], confined(root, *file_id.parts))
    for entry in written:
        entry.file = file_ids[entry.sop_instance_uid]
    _drop_stage(fs)
    shutil.rmtree(confined(root, "dicoms"))
    if junk:
        for name, content in JUNK_FILES.items():
            confined(root, name).write_bytes(content)
        manifest.extras = sorted(JUNK_FILES)


def _drop_stage(fs: FileSet) -> None:
    """Remove the staging folder FileSet keeps (a copy of every instance, in the system's temporary
    folder): it has no public way to, and leaving it to the garbage collector warns."""
    stage = getattr(fs, "_stage", {})
    if "t" in stage:
        stage["t"].cleanup()
