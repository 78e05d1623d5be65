"""A plain-text table for long listings (``dicomfab list``): aligned columns, the widest ones
wrapped to fit the terminal. Rendering the library's 200-odd rows with rich's Table costs more
than the rest of ``dicomfab list`` together; this costs next to nothing, greps well and reads
the same in a terminal, a pipe and a CI log."""

from __future__ import annotations

import re
import shutil
import sys
import textwrap
from collections.abc import Sequence

GAP = "  "
NARROWEST = 8  # a column is never wrapped narrower than this
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _clean(text: str) -> str:
    """Control characters (a terminal escape in a site file, a newline) shown, never sent."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def width() -> int:
    """The terminal's width; 160 for a pipe or a CI log (as the rich console's)."""
    if not sys.stdout.isatty():
        return 160
    return shutil.get_terminal_size((100, 24)).columns


def fit(natural: list[int], room: int, floors: list[int] | None = None) -> list[int]:
    """Column widths that fit ``room``: the widest column gives up a character at a time until
    the row fits, first down to its ``floors`` (its longest word: names stay whole), then down
    to :data:`NARROWEST`."""
    widths = list(natural)
    room -= len(GAP) * (len(widths) - 1)
    for floor in (floors or [NARROWEST] * len(widths), [NARROWEST] * len(widths)):
        while sum(widths) > room:
            shrinkable = [i for i, w in enumerate(widths) if w > max(floor[i], NARROWEST)]
            if not shrinkable:
                break
            widths[max(shrinkable, key=lambda i: widths[i])] -= 1
    return widths


def render(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], room: int) -> str:
    """``title``, a header line and the rows, each cell wrapped within its column's width."""
    cells = [[_clean(c) for c in row] for row in rows]
    natural = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(columns)]
    floors = [
        max([0, *(len(word) for row in cells for word in row[i].split())])
        for i in range(len(columns))
    ]
    widths = fit(natural, room, floors)
    widths = [max(w, len(name)) for w, name in zip(widths, columns, strict=True)]
    lines = [title, _line([c.upper() for c in columns], widths)]
    for row in cells:
        wrapped = [textwrap.wrap(c, w) or [""] for c, w in zip(row, widths, strict=True)]
        for k in range(max(map(len, wrapped))):
            lines.append(_line([w[k] if k < len(w) else "" for w in wrapped], widths))
    return "\n".join(lines)


def _line(values: list[str], widths: list[int]) -> str:
    return GAP.join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()
