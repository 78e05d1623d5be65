"""A toy DICOM importer, the kind of code a team tests with dicomfab: it reads every file of a
folder, rejects what it cannot use (not DICOM, no UIDs, an impossible Image Pixel description)
and indexes the rest in SQLite.

    python importer.py FOLDER INDEX.sqlite
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

SCHEMA = """\
CREATE TABLE IF NOT EXISTS instance (
    sop_instance_uid TEXT PRIMARY KEY,
    study_instance_uid TEXT NOT NULL,
    series_instance_uid TEXT NOT NULL,
    patient_id TEXT,
    path TEXT NOT NULL
)
"""


def create_index(db: Path) -> None:
    """An empty index (a fresh installation of the importer)."""
    with sqlite3.connect(db) as con:
        con.execute(SCHEMA)
    con.close()


def problem(path: Path) -> str | None:
    """Why this file cannot be imported, or None."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError) as exc:
        return f"not readable: {exc}"
    for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
        if not ds.get(keyword):
            return f"no {keyword}"
    allocated, stored, high = (ds.get(k) for k in ("BitsAllocated", "BitsStored", "HighBit"))
    if allocated is not None and allocated not in (1, 8, 16, 32):
        return f"BitsAllocated {allocated}"
    if None not in (allocated, stored, high) and not (stored <= allocated and high == stored - 1):
        return f"bits {allocated}/{stored}/{high} are impossible"
    return None


def import_folder(folder: Path, db: Path) -> dict[Path, str]:
    """Import every file under ``folder`` into ``db``: each file → "stored" or why rejected."""
    create_index(db)
    outcome: dict[Path, str] = {}
    with sqlite3.connect(db) as con:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            why = problem(path)
            if why is not None:
                outcome[path] = f"rejected: {why}"
                continue
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            con.execute(
                "INSERT OR REPLACE INTO instance VALUES (?, ?, ?, ?, ?)",
                (
                    str(ds.SOPInstanceUID),
                    str(ds.StudyInstanceUID),
                    str(ds.SeriesInstanceUID),
                    str(ds.get("PatientID", "")),
                    str(path),
                ),
            )
            outcome[path] = "stored"
    con.close()
    return outcome


if __name__ == "__main__":
    results = import_folder(Path(sys.argv[1]), Path(sys.argv[2]))
    for path, result in results.items():
        print(f"{path.name}: {result}")
