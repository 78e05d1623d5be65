"""What a UID is (PS3.5 9.1): the one check used for spec fields, ``uid_root`` and UI tag values.

Digits and dots, at most 64 characters, no empty component, no leading zero in a component of
more than one digit. A value that fails it is written only as a declared defect (``permissive``),
and never becomes a file or folder name (see :func:`dicomfab.builder.uids.uid_name`).
"""

from __future__ import annotations

import re

from dicomfab.errors import shorten

MAX_LENGTH = 64
#: longest ``uid_root``: root + "." + 23 generated digits (≈ 76 bits, unique per place) ≤ 64
MAX_ROOT_LENGTH = 40
_CHARS = re.compile(r"[0-9.]*")


def uid_problem(value: object) -> str | None:
    """Why ``value`` is not a UID, or None if it is one."""
    if not isinstance(value, str):
        return f"a UID is text, not {type(value).__name__}"
    if value == "":
        return "a UID is not empty"
    if len(value) > MAX_LENGTH:
        return f"a UID has at most {MAX_LENGTH} characters, this one {len(value)}"
    if not _CHARS.fullmatch(value):
        bad = next(c for c in value if c not in "0123456789.")
        return f"a UID holds only digits and dots, not {bad!r}"
    for component in value.split("."):
        if component == "":
            return "a UID has no empty component (no leading, trailing or double dot)"
        if len(component) > 1 and component.startswith("0"):
            return f"a UID component has no leading zero ({shorten(component)})"
    return None


def is_uid(value: object) -> bool:
    """True if ``value`` is a valid UID."""
    return uid_problem(value) is None


def uid_root_problem(value: str) -> str | None:
    """Why ``value`` cannot be a ``uid_root``, or None."""
    problem = uid_problem(value)
    if problem is not None:
        return problem
    if len(value) > MAX_ROOT_LENGTH:
        return (
            f"a uid_root has at most {MAX_ROOT_LENGTH} characters, to leave room for the "
            f"generated part (root + '.' + suffix ≤ {MAX_LENGTH}); this one has {len(value)}"
        )
    return None
