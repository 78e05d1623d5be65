"""Deterministic UIDs: same seed and place in the spec ⇒ same UID; different places ⇒ different.

Without a root, a UID is ``2.25.`` + the decimal form of a name-based (SHA-1, version 5) UUID of
``seed/path`` (PS3.5 B.2). With an organisation's root, the same 128-bit value is cut to the digits
that fit in 64 characters.
"""

from __future__ import annotations

import hashlib
import uuid

from dicomfab.spec.uid import is_uid

#: namespace for dicomfab's name-based UUIDs (itself a fixed, random UUID)
NAMESPACE = uuid.UUID("6f1c8c1e-3d1b-4b7e-9a55-2f0d6c1c9e4a")
MAX_LENGTH = 64


class UIDFactory:
    """Makes UIDs for the places of one spec. ``uid("study", 0, 1)`` names patient 0's study 1."""

    def __init__(self, seed: int, root: str | None = None) -> None:
        self.seed = seed
        self.root = root.rstrip(".") if root else None
        if self.root is not None and len(self.root) > MAX_LENGTH - 12:
            raise ValueError(f"UID root {root!r} is too long to leave room for unique suffixes")

    def uid(self, *path: object) -> str:
        name = f"{self.seed}/" + "/".join(str(p) for p in path)
        number = uuid.uuid5(NAMESPACE, name).int
        if self.root is None:
            return f"2.25.{number}"
        room = MAX_LENGTH - len(self.root) - 1
        digits = str(number)[:room].lstrip("0") or "1"
        return f"{self.root}.{digits}"


def uid_name(value: str) -> str:
    """The file or folder name for a UID: the UID itself if it is valid, else
    ``uid-<first 16 hex digits of its SHA-256>`` (an invalid UID is a declared defect written into
    the file; it never becomes a path, whatever it holds)."""
    if is_uid(value):
        return value
    return "uid-" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]
