"""Deterministic UIDs: same dataset identity, seed and place in the spec ⇒ same UID; anything
else different ⇒ a different UID.

A dataset's *identity* is its spec's ``uid_namespace`` when it sets one (to keep UIDs stable
across edits), else a digest of the spec itself (:func:`dataset_identity`): two different specs
never share a UID, whatever their seeds. Without a root, a UID is ``2.25.`` + the decimal form of
a name-based (SHA-1, version 5) UUID of ``[identity, seed]/path`` (PS3.5 B.2). With an
organisation's root, the same 128-bit value is cut to the digits that fit in 64 characters.
"""

from __future__ import annotations

import hashlib
import json
import uuid

from dicomfab.studyspec.models import Spec
from dicomfab.studyspec.uid import is_uid

#: namespace for dicomfab's name-based UUIDs (itself a fixed, random UUID)
NAMESPACE = uuid.UUID("6f1c8c1e-3d1b-4b7e-9a55-2f0d6c1c9e4a")
MAX_LENGTH = 64
#: hex digits of the spec digest used as identity (128 bits)
_DIGEST_HEX = 32


def dataset_identity(spec: Spec) -> str:
    """What makes a dataset's UIDs and generated IDs its own: ``spec.uid_namespace`` if set, else
    a digest of the spec as canonical JSON (sorted keys, defaults left out, so neither the order
    of the model's fields nor a default written out changes it) without ``seed``,
    ``uid_namespace`` and ``records`` (the records' layout changes no file). Setting
    ``uid_namespace`` to this digest pins the same UIDs."""
    if spec.uid_namespace is not None:
        return spec.uid_namespace
    data = spec.model_dump(
        mode="json", exclude={"seed", "uid_namespace", "records"}, exclude_defaults=True
    )
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST_HEX]


class UIDFactory:
    """Makes UIDs for the places of one dataset. ``uid("study", 0, 1)`` names patient 0's study 1.
    ``namespace`` is the dataset's identity (:func:`dataset_identity`)."""

    def __init__(self, seed: int, root: str | None = None, *, namespace: str = "") -> None:
        self.seed = seed
        self.namespace = namespace
        self.root = root.rstrip(".") if root else None
        if self.root is not None and len(self.root) > MAX_LENGTH - 12:
            raise ValueError(f"UID root {root!r} is too long to leave room for unique suffixes")
        # JSON keeps any namespace text apart from the seed and the path that follow it
        self._prefix = json.dumps([namespace, seed], ensure_ascii=False) + "/"

    def number(self, *path: object) -> int:
        """The 128-bit value behind ``uid(*path)``."""
        name = self._prefix + "/".join(str(p) for p in path)
        return uuid.uuid5(NAMESPACE, name).int

    def uid(self, *path: object) -> str:
        number = self.number(*path)
        if self.root is None:
            return f"2.25.{number}"
        room = MAX_LENGTH - len(self.root) - 1
        digits = str(number)[:room].lstrip("0") or "1"
        return f"{self.root}.{digits}"

    def named(self, name: str, length: int | None = None) -> str:
        """A UID a spec refers to by ``name`` (``${uid:NAME}`` in a scenario), derived like the
        others. With ``length``, a UID of exactly that many characters made from it (cut, or
        extended by a component of derived digits): over 64 it is a deliberately invalid UID."""
        uid = self.uid("named", name)
        if length is None or length == len(uid):
            return uid
        if length < len(uid):
            cut = uid[:length]
            return cut if not cut.endswith(".") else cut[:-1] + "1"
        extra = length - len(uid)
        if extra == 1:
            return uid + "7"  # one more digit in the last component (never a leading zero)
        digits = ""
        while len(digits) < extra - 1:
            digits += str(self.number("named", name, "digits", len(digits)))
        return f"{uid}.{digits[: extra - 1]}"

    def named_number(self, name: str, digits: int) -> str:
        """A number of ``digits`` digits (no leading zero) derived like ``named(name)``: a bare
        counter where a UID belongs (``${num:NAME:N}``)."""
        text = ""
        while len(text) < digits:
            text += str(self.number("named", name, "number", len(text)))
        return str(int(text[0]) % 9 + 1) + text[1:digits]

    def named_hex(self, name: str) -> str:
        """The 32 hexadecimal digits of the UUID behind ``named(name)`` (``${uuid:NAME}``)."""
        return f"{self.number('named', name):032x}"


def uid_name(value: str) -> str:
    """The file or folder name for a UID: the UID itself if it is valid, else
    ``uid-<first 16 hex digits of its SHA-256>`` (an invalid UID is a declared defect written into
    the file; it never becomes a path, whatever it holds)."""
    if is_uid(value):
        return value
    return "uid-" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]
