"""The journal of a generate in progress: one line per finished patient, in patient order, and
the manifest streamed from it at the end.

Each line is the patient's manifest entry as manifest.json will hold it (indented JSON), itself
as one JSON string, so that writing manifest.json needs no model in memory: header, the entries
one after the other, footer. A line is appended only once the patient's files and records are
written, so the journal is always a list of finished patients; a generate stopped half-way
(Ctrl-C, SIGTERM, a crash) leaves at worst a torn last line, which :meth:`Journal.recover` drops.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from dicomfab.output.manifest import Manifest, PatientEntry
from dicomfab.output.paths import confined

JOURNAL = "journal.jsonl"


@dataclass
class Totals:
    """What a summary needs of the patients done, without keeping them."""

    patients: int = 0
    studies: int = 0
    instances: int = 0
    files: int = 0
    bytes: int = 0

    def merge(self, other: Totals) -> None:
        self.patients += other.patients
        self.studies += other.studies
        self.instances += other.instances
        self.files += other.files
        self.bytes += other.bytes

    def add_entry(self, entry: PatientEntry) -> None:
        self.patients += 1
        for study in entry.studies:
            self.studies += 1
            for series in study.series:
                for instance in series.instances:
                    self.instances += 1
                    if instance.written:
                        self.files += 1
                        self.bytes += instance.size or 0

    def add(self, entry: dict[str, Any]) -> None:
        self.patients += 1
        for study in entry["studies"]:
            self.studies += 1
            for series in study["series"]:
                for instance in series["instances"]:
                    self.instances += 1
                    if instance["written"]:
                        self.files += 1
                        self.bytes += instance["size"] or 0


def entry_text(entry: PatientEntry) -> str:
    """A patient's entry as manifest.json indents it (a patient is an item of ``patients``)."""
    return entry.model_dump_json(indent=2)


def _finished(root: Path, entry: dict[str, Any]) -> bool:
    """Whether every file the entry names is on disk (each instance with its size)."""
    try:
        for study in entry["studies"]:
            if study["record"] is not None and not confined(root, study["record"]).is_file():
                return False
            for series in study["series"]:
                for instance in series["instances"]:
                    if instance["written"]:
                        path = confined(root, instance["file"])
                        if path.stat().st_size != instance["size"]:
                            return False
    except (OSError, KeyError, TypeError, ValueError):
        return False
    return True


class Journal:
    """``<root>/journal.jsonl``: appended to by the parent process only."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / JOURNAL
        self._file: IO[str] | None = None

    def recover(self) -> tuple[int, Totals]:
        """Keep the leading patients whose files are all there (the rest will be written
        again); returns how many, and their totals."""
        totals = Totals()
        keep = 0  # bytes of the journal that stay
        if self.path.exists():
            with open(self.path, "rb") as journal:
                for raw in journal:
                    try:
                        entry = json.loads(json.loads(raw))
                    except ValueError:
                        break
                    if not raw.endswith(b"\n") or not _finished(self.root, entry):
                        break
                    totals.add(entry)
                    keep += len(raw)
            os.truncate(self.path, keep)
        return totals.patients, totals

    def append(self, text: str) -> None:
        """One finished patient's entry (:func:`entry_text`), the next in patient order."""
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        self._file.write(json.dumps(text, ensure_ascii=False) + "\n")
        self._file.flush()  # a line is whole in the file before the next patient is reported

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def entries(self) -> Iterator[str]:
        """Every entry's text, in order."""
        self.close()
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as journal:
            for line in journal:
                yield json.loads(line)

    def manifest(self, header: Manifest) -> Manifest:
        """The whole manifest in memory (for the small datasets that need it: media, scenarios)."""
        patients = [PatientEntry.model_validate_json(text) for text in self.entries()]
        return header.model_copy(update={"patients": patients})

    def write_manifest(self, header: Manifest, path: Path) -> None:
        """``header`` with the journal's patients, byte for byte what ``to_json`` would write."""
        head, marker, tail = header.to_json().partition('"patients": []')
        assert marker, "the manifest header has no patients list"
        with open(path, "w", encoding="utf-8") as out:
            out.write(head + '"patients": [')
            first = True
            for text in self.entries():
                out.write("\n" if first else ",\n")
                out.write("    " + text.replace("\n", "\n    "))
                first = False
            out.write("]" if first else "\n  ]")
            out.write(tail)

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


class MemoryJournal(Journal):
    """The entries in a list, no file (nothing to recover): for a generate that cannot be
    resumed and reads its whole manifest back at the end anyway (a scenario, a medium), where a
    file per dataset, written, read back and deleted, cost more than the entries' memory."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self._entries: list[str] = []

    def recover(self) -> tuple[int, Totals]:
        return 0, Totals()

    def append(self, text: str) -> None:
        self._entries.append(text)

    def entries(self) -> Iterator[str]:
        yield from self._entries

    def remove(self) -> None:
        self._entries.clear()
