"""The open-loop schedule of a load: study ``i`` is due at ``t0 + i * 60 / rate``, whatever
happened to the ones before (a sender that falls behind records how late each study went out;
it never slows the schedule down)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(min|m|s|sec|h|hour))?\s*$")
_PER_MINUTE = {None: 1.0, "min": 1.0, "m": 1.0, "s": 60.0, "sec": 60.0, "h": 1 / 60, "hour": 1 / 60}


def parse_rate(text: str) -> float:
    """Studies per minute from ``"120/min"``, ``"2/s"``, ``"600/h"`` or ``"120"`` (per minute).
    Raise ValueError for anything else, or a rate that is not positive."""
    match = _RATE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a rate: write e.g. 120/min, 2/s or 600/h")
    rate = float(match.group(1)) * _PER_MINUTE[match.group(2)]
    if rate <= 0:
        raise ValueError(f"{text!r}: the rate must be above zero")
    return rate


@dataclass(frozen=True)
class Schedule:
    """``studies`` studies at ``per_minute`` studies a minute, from offset 0."""

    studies: int
    per_minute: float

    @property
    def interval(self) -> float:
        return 60.0 / self.per_minute

    def due(self, i: int) -> float:
        """Seconds after the start when study ``i`` is due."""
        return i * self.interval

    def due_by(self, elapsed: float) -> int:
        """How many studies are due ``elapsed`` seconds after the start."""
        if elapsed < 0:
            return 0
        return min(self.studies, math.floor(elapsed / self.interval + 1e-9) + 1)

    @property
    def span(self) -> float:
        """Seconds from the first study's due time to the last one's."""
        return self.due(self.studies - 1) if self.studies else 0.0


def studies_for(studies: int | None, per_minute: float, duration: float | None) -> int:
    """How many studies a load sends: ``studies``, or as many as are due within ``duration``
    seconds at the rate (the smaller when both are given)."""
    if studies is None and duration is None:
        raise ValueError("give --studies or --duration")
    counts = []
    if studies is not None:
        counts.append(studies)
    if duration is not None:
        counts.append(max(1, math.ceil(duration * per_minute / 60.0 - 1e-9)))
    return min(counts)
