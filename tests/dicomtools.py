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


def dciodvfy(path: Path, profile: str | None = None) -> Validation:
    """Run dciodvfy; return its error and warning lines.

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
