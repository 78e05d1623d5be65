"""What an ingestor hands back: one result per file it was given, as data.

A protocol outcome (a C-STORE failure status, a file that could not be read) is a result here;
only infrastructure failures (cannot connect, association rejected) raise
:class:`~dicomfab.errors.TargetError`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

Outcome = Literal["success", "warning", "failure", "not sent"]
OUTCOMES: tuple[Outcome, ...] = ("success", "warning", "failure", "not sent")


@dataclass(frozen=True)
class InstanceResult:
    """The outcome for one file.

    ``sent`` is false when the file never left (unreadable, no accepted presentation context);
    ``status`` is the DIMSE status the system answered, or ``None`` when it did not answer
    (not sent, or the association broke while waiting); ``reason`` says why in words."""

    file: Path
    sop_instance_uid: str | None
    outcome: Outcome
    sent: bool
    status: int | None = None
    reason: str = ""

    @property
    def status_hex(self) -> str | None:
        return None if self.status is None else f"0x{self.status:04X}"

    def __str__(self) -> str:
        what = self.status_hex or "-"
        text = f"{self.outcome:<8} {what:<6} {self.sop_instance_uid or '?'} ({self.file.name})"
        return f"{text}: {self.reason}" if self.reason else text


@dataclass(frozen=True)
class Receipt:
    """Every file's result, in the order the files were given, and the wall time taken."""

    results: list[InstanceResult] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def counts(self) -> dict[Outcome, int]:
        found = Counter(r.outcome for r in self.results)
        return {o: found.get(o, 0) for o in OUTCOMES}

    @property
    def all_succeeded(self) -> bool:
        return all(r.outcome == "success" for r in self.results)

    @property
    def per_second(self) -> float:
        sent = sum(1 for r in self.results if r.sent)
        return sent / self.elapsed if self.elapsed > 0 else 0.0

    def __str__(self) -> str:
        counts = ", ".join(f"{n} {o}" for o, n in self.counts.items() if n)
        return f"{len(self.results)} files in {self.elapsed:.2f} s: {counts or 'nothing'}"


Progress = Callable[[int], None]
"""Called with the number of files just handled (from any thread)."""


class Ingestor(Protocol):
    """How data goes into a system under test: one verb."""

    def ingest(self, files: Sequence[Path], progress: Progress | None = None) -> Receipt: ...
