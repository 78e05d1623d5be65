"""Look-up of DICOM attributes for the wizard's tag fields, from pydicom's data dictionary."""

from __future__ import annotations

import re
from functools import cache

from pydicom.datadict import DicomDictionary

_TAG_CHARS = re.compile(r"[\s(),]")
_HEX = re.compile(r"^[0-9a-f]{1,8}$")


@cache
def _entries() -> list[dict[str, str]]:
    """Every current attribute (retired ones and command-group elements left out)."""
    rows = []
    for tag, (vr, vm, name, retired, keyword) in sorted(DicomDictionary.items()):
        if retired or not keyword or tag >> 16 == 0:
            continue
        rows.append(
            {
                "keyword": keyword,
                "tag": f"({tag >> 16:04X},{tag & 0xFFFF:04X})",
                "vr": vr,
                "vm": vm,
                "name": name,
            }
        )
    return rows


def search(query: str, limit: int = 20) -> list[dict[str, str]]:
    """Best matches first: the exact keyword, keywords starting with ``query`` (shorter first),
    keywords or names containing it, then tags starting with it (``0010,0010``, ``00100010``)."""
    q = query.strip().lower()
    if not q or limit <= 0:
        return []
    hex_q = _TAG_CHARS.sub("", q)
    hex_q = hex_q if _HEX.match(hex_q) else ""
    ranked: list[tuple[int, int, str, dict[str, str]]] = []
    for row in _entries():
        keyword = row["keyword"].lower()
        if keyword == q:
            rank = 0
        elif keyword.startswith(q):
            rank = 1
        elif q in keyword or q in row["name"].lower():
            rank = 2
        elif hex_q and _TAG_CHARS.sub("", row["tag"]).lower().startswith(hex_q):
            rank = 3
        else:
            continue
        ranked.append((rank, len(keyword) if rank == 1 else 0, row["tag"], row))
    ranked.sort(key=lambda r: r[:3])
    return [row for *_, row in ranked[:limit]]
