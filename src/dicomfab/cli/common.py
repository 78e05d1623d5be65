"""Console helpers shared by the subcommands."""

from __future__ import annotations

import sys

from rich.console import Console

# a pipe or a CI log gets a wide console instead of rich's 80-column default
_WIDTH = None if sys.stdout.isatty() else 160
console = Console(highlight=False, width=_WIDTH)
console_err = Console(stderr=True, highlight=False, width=_WIDTH)


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"
