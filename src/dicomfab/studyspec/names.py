"""What makes a text one safe file or folder name. A spec's ``name`` and ``file_name`` are
checked with it when the spec is read; the writer (:mod:`dicomfab.output.paths`) checks every
name it is given with it again."""

from __future__ import annotations

import os
import re

MAX_COMPONENT_BYTES = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: names Windows reserves whatever the extension (CON, CON.txt, …); refused everywhere so that a
#: dataset copied to a Windows share stays writable there
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"COM{i}" for i in (*range(1, 10), "¹", "²", "³")]
    + [f"LPT{i}" for i in (*range(1, 10), "¹", "²", "³")]
)


def component_problem(text: str) -> str | None:
    """Why ``text`` is not one safe file or folder name (a phrase to follow "it"), or None."""
    if not isinstance(text, str) or text == "":
        return "is empty"
    if text in (".", ".."):
        return "is '.' or '..' (this folder or its parent), not a name"
    if "/" in text or "\\" in text:
        return "must be one name, without / or backslash"
    if _CONTROL.search(text):
        return "contains a NUL or control character"
    if text != text.strip() or text.endswith("."):
        return "must not start or end with a space, or end with a dot"
    if (stem := text.split(".")[0].upper().rstrip()) in _RESERVED:
        return f"is a device name Windows reserves ({stem})"
    if len(os.fsencode(text)) > MAX_COMPONENT_BYTES:
        return f"is longer than {MAX_COMPONENT_BYTES} bytes"
    return None
