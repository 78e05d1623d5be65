"""Wrappers around the external DICOM tools the tests use as independent readers:
dicom3tools' ``dciodvfy`` (the reference IOD validator) and DCMTK's ``dcmdump``.

They are required: .ci/run installs them, and a missing tool fails the test (never skips it).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


def require(tool: str) -> str:
    found = shutil.which(tool, path="/usr/bin:/usr/local/bin:/bin")
    if found is None:
        raise AssertionError(f"{tool} is not installed: run `make deps` (or .ci/run) first")
    return found


@dataclass(frozen=True)
class Validation:
    errors: list[str]
    warnings: list[str]
    output: str


DEFLATED = "1.2.840.10008.1.2.1.99"

#: HTJ2K transfer syntax → the JPEG 2000 one of the same kind (lossless only, or lossy allowed)
HTJ2K_AS_J2K = {
    "1.2.840.10008.1.2.4.201": "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.202": "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.203": "1.2.840.10008.1.2.4.91",
}


def _as_jpeg2000(path: Path, uid: str) -> Path:
    """A copy of ``path`` whose File Meta Information names ``uid``, its data set byte for byte.

    Debian's dicom3tools (2022) predates the HTJ2K transfer syntaxes (2023) and reads their
    encapsulated Pixel Data as native; HTJ2K encapsulation is JPEG 2000's (PS3.5 A.4), so the
    data set is validated under the JPEG 2000 UID of the same kind.
    """
    from io import BytesIO

    from pydicom.filebase import DicomFileLike
    from pydicom.filereader import read_file_meta_info
    from pydicom.filewriter import write_file_meta_info

    data = path.read_bytes()
    meta = read_file_meta_info(path)
    start = 132 + 12 + int(meta.FileMetaInformationGroupLength)  # preamble, DICM, (0002,0000)
    meta.TransferSyntaxUID = uid
    buffer = DicomFileLike(BytesIO())
    write_file_meta_info(buffer, meta, enforce_standard=True)
    copy = path.with_name(path.name + ".j2k")
    copy.write_bytes(data[:132] + buffer.parent.getvalue() + data[start:])
    return copy


def dciodvfy(path: Path, profile: str | None = None) -> Validation:
    """Run dciodvfy; return its error and warning lines.

    An HTJ2K file is validated as JPEG 2000 (see :func:`_as_jpeg2000`).

    Debian's dicom3tools build cannot read Deflated Explicit VR Little Endian (not even files
    DCMTK deflated); such a file is inflated by DCMTK's dcmconv first, so its content is still
    validated, and DCMTK itself has read the deflated original.
    """
    if DEFLATED.encode() in path.read_bytes()[:1024]:
        inflated = path.with_name(path.name + ".inflated")
        proc = subprocess.run(
            [require("dcmconv"), "+te", str(path), str(inflated)],
            capture_output=True,
            text=True,
            errors="replace",  # non-UTF-8 text in a file (on purpose) must not break the test
            timeout=120,
        )
        assert proc.returncode == 0, f"dcmconv could not inflate {path}:\n{proc.stderr}"
        try:
            return dciodvfy(inflated, profile)
        finally:
            inflated.unlink()
    head = path.read_bytes()[:1024]
    for htj2k, jpeg2000 in HTJ2K_AS_J2K.items():
        if htj2k.encode() in head:
            copy = _as_jpeg2000(path, jpeg2000)
            try:
                return dciodvfy(copy, profile)
            finally:
                copy.unlink()
    options = ["-profile", profile] if profile else []
    proc = subprocess.run(
        [require("dciodvfy"), "-new", *options, str(path)],
        capture_output=True,
        text=True,
        errors="replace",  # non-UTF-8 text in a file (on purpose) must not break the test
        timeout=300,
    )
    text = proc.stdout + proc.stderr
    errors = [line for line in text.splitlines() if line.startswith("Error")]
    warnings = [line for line in text.splitlines() if line.startswith("Warning")]
    return Validation(errors, warnings, text)


def dcmdump(path: Path) -> str:
    """dcmdump's text of a file; fails the test if DCMTK cannot read it."""
    proc = subprocess.run(
        [require("dcmdump"), "-q", "+L", "-Un", str(path)],  # +L long values; -Un UIDs as numbers
        capture_output=True,
        text=True,
        errors="replace",  # non-UTF-8 text in a file (on purpose) must not break the test
        timeout=120,
    )
    assert proc.returncode == 0, f"dcmdump could not read {path}:\n{proc.stderr}"
    return proc.stdout
