"""Tag keys and tag values of a spec: parse, check against the DICOM dictionary, coerce per VR.

A tag key is one of
  - a keyword:                 ``PatientName``
  - a public tag:              ``(0010,0010)`` or ``00100010``
  - a private element:         ``(0029,"SIEMENS CSA HEADER",10)`` — group, Private Creator,
                               element offset inside the creator's block (DCMTK private.dic style)

A tag value is a JSON/YAML scalar or list (multi-valued), a list of mappings for a sequence,
``null`` for a present-but-empty element, or ``{"vr": "LO", "value": ...}`` to name the VR
explicitly (needed for private elements the dictionary does not know).
"""

from __future__ import annotations

import base64
import datetime as dt
import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydicom import config as pydicom_config
from pydicom.datadict import (
    dictionary_has_tag,
    dictionary_VM,
    dictionary_VR,
    get_private_entry,
    keyword_dict,
    keyword_for_tag,
    tag_for_keyword,
)
from pydicom.tag import BaseTag, Tag
from pydicom.valuerep import validate_value

from dicomfab.errors import SHORT, Issue, SpecError, shorten, shorten_text
from dicomfab.studyspec.dates import time_problem
from dicomfab.studyspec.uid import uid_problem

_PUBLIC_PAREN = re.compile(r"^\(\s*([0-9A-Fa-f]{4})\s*,\s*([0-9A-Fa-f]{4})\s*\)$")
_PUBLIC_FLAT = re.compile(r"^(?:0x)?([0-9A-Fa-f]{4})([0-9A-Fa-f]{4})$")
_PRIVATE = re.compile(r'^\(\s*([0-9A-Fa-f]{4})\s*,\s*"([^"]{1,64})"\s*,\s*([0-9A-Fa-f]{2})\s*\)$')
_LEGACY_PRIVATE = re.compile(r"^Private_([0-9A-Fa-f]{4})_([0-9A-Fa-f]{4})$")

#: VRs whose value is text
TEXT_VRS = frozenset(
    (
        "AE",
        "AS",
        "CS",
        "DA",
        "DS",
        "DT",
        "IS",
        "LO",
        "LT",
        "PN",
        "SH",
        "ST",
        "TM",
        "UC",
        "UI",
        "UR",
        "UT",
    )
)
BINARY_VRS = frozenset(("OB", "OD", "OF", "OL", "OV", "OW", "UN"))
NUMBER_VRS = frozenset(("FL", "FD", "SL", "SS", "UL", "US", "SV", "UV"))
KNOWN_VRS = TEXT_VRS | BINARY_VRS | NUMBER_VRS | {"AT", "SQ"}
#: the largest finite 32-bit float
_FL_MAX = 3.4028234663852886e38


@dataclass(frozen=True)
class TagRef:
    """A resolved tag key. For a private element ``tag`` is None until a block is reserved."""

    key: str
    group: int
    element: int  # full element for public tags; the offset (0x00-0xFF) for private ones
    vr: str | None
    keyword: str | None = None
    creator: str | None = None

    @property
    def is_private(self) -> bool:
        return self.creator is not None

    @property
    def tag(self) -> BaseTag:
        if self.is_private:
            raise ValueError("a private element has no fixed tag before its block is reserved")
        return Tag(self.group, self.element)

    @property
    def label(self) -> str:
        if self.is_private:
            return f'({self.group:04X},"{self.creator}",{self.element:02X})'
        return self.keyword or f"({self.group:04X},{self.element:04X})"


@lru_cache(maxsize=1)
def _keywords() -> list[str]:
    return sorted(keyword_dict)


def suggest_keyword(word: str) -> str | None:
    """The nearest DICOM keyword to a misspelt one (``PatientNmae`` → ``PatientName``)."""
    lowered = {k.lower(): k for k in _keywords()}
    if word.lower() in lowered:
        return lowered[word.lower()]
    hits = difflib.get_close_matches(word, _keywords(), n=1, cutoff=0.75)
    return hits[0] if hits else None


@lru_cache(maxsize=4096)
def parse_tag_key(key: str) -> TagRef:
    """Resolve a tag key; raises ``SpecError`` (path-less) with a suggestion on failure."""
    key = key.strip()
    if m := _PRIVATE.match(key):
        group, creator, offset = int(m[1], 16), m[2], int(m[3], 16)
        if group % 2 == 0:
            raise SpecError(Issue("", f"{shorten(key)}: a private element needs an odd group"))
        return TagRef(key, group, offset, _private_vr(group, creator, offset), creator=creator)
    if m := _LEGACY_PRIVATE.match(key):
        group, element = int(m[1], 16), int(m[2], 16)
        raise SpecError(
            Issue(
                "",
                f"{shorten(key)} is the old private-tag notation without a Private Creator",
                f'({group:04X},"MY CREATOR",{element & 0xFF:02X})',
            )
        )
    m = _PUBLIC_PAREN.match(key) or _PUBLIC_FLAT.match(key)
    if m:
        group, element = int(m[1], 16), int(m[2], 16)
        if group % 2 == 1:
            raise SpecError(
                Issue(
                    "",
                    f"{shorten(key)} is a private element: name its creator, "
                    f'e.g. ({group:04X},"MY CREATOR",{element & 0xFF:02X})',
                )
            )
        _check_settable(key, group, element)
        tag = Tag(group, element)
        kw = keyword_for_tag(tag) or None
        try:
            vr: str | None = dictionary_VR(tag)
        except KeyError:
            vr = None
        return TagRef(key, group, element, vr, keyword=kw)
    tag_int = tag_for_keyword(key)
    if tag_int is None:
        suggestion = suggest_keyword(key)
        raise SpecError(Issue("", "unknown DICOM keyword", suggestion))
    tag = Tag(tag_int)
    _check_settable(key, tag.group, tag.element)
    return TagRef(key, tag.group, tag.element, dictionary_VR(tag), keyword=key)


def _check_settable(key: str, group: int, element: int) -> None:
    """Refuse elements that cannot be in a data set: command, file meta, lengths, delimiters."""
    if group == 0x0000:
        why = "is a DIMSE command element, which never appears in a file"
    elif group == 0x0002:
        why = "is file meta information, written by dicomfab (set transfer_syntax instead)"
    elif group == 0xFFFE:
        why = "is an item delimiter, not an attribute"
    elif element == 0x0000:
        why = "is a group length, which dicomfab computes"
    else:
        return
    raise SpecError(Issue("", f"{shorten(key)} {why}"))


def _private_vr(group: int, creator: str, offset: int) -> str | None:
    try:
        vr, *_ = get_private_entry(Tag(group, 0x1000 | offset), creator)
    except KeyError:
        return None
    return str(vr)


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class ValueContext:
    """What value coercion needs to know: how to resolve a relative date, strictness."""

    resolve_date: Callable[[str], dt.date | None]
    permissive: bool = False


_DATE_FORMS = ("%Y-%m-%d", "%Y%m%d")


def _as_date(raw: Any, ctx: ValueContext) -> str:
    if isinstance(raw, dt.date):  # also datetime; strftime("%Y") does not pad years < 1000
        return f"{raw.year:04d}{raw.month:02d}{raw.day:02d}"
    text = str(raw).strip()
    if text == "":
        return ""
    resolved = ctx.resolve_date(text)
    if resolved is not None:
        return _as_date(resolved, ctx)
    for form in _DATE_FORMS:
        try:
            parsed = dt.datetime.strptime(text, form)
        except ValueError:
            continue
        return f"{parsed.year:04d}{parsed.month:02d}{parsed.day:02d}"
    if ctx.permissive:
        return text
    raise ValueError(
        f"{shorten(text)} is not a date: use YYYY-MM-DD, YYYYMMDD or a relative date like -2y"
    )


def _as_time(raw: Any) -> str:
    if isinstance(raw, dt.time):
        return raw.strftime("%H%M%S")
    if isinstance(raw, int):  # YAML reads 12:30:00 as sexagesimal seconds
        hours, rest = divmod(raw, 3600)
        return f"{hours:02d}{rest // 60:02d}{rest % 60:02d}"
    return str(raw).replace(":", "").strip()


def _as_person_name(raw: Any) -> str:
    if isinstance(raw, Mapping):
        parts = [raw.get(k, "") for k in ("family", "given", "middle", "prefix", "suffix")]
        return "^".join(str(p) for p in parts).rstrip("^")
    return str(raw)


def _as_bytes(raw: Any) -> bytes:
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, Mapping):
        if "hex" in raw:
            return bytes.fromhex(str(raw["hex"]))
        if "base64" in raw:
            return base64.b64decode(str(raw["base64"]), validate=True)
    if isinstance(raw, str):
        return raw.encode("latin-1")
    if isinstance(raw, list) and all(isinstance(v, int) for v in raw):
        return bytes(raw)
    raise ValueError("binary value: give a string, {hex: ...}, {base64: ...} or a list of bytes")


def _one(vr: str, raw: Any, ctx: ValueContext) -> Any:
    """Coerce one value (not a list) for a VR."""
    if vr == "DA":
        return _as_date(raw, ctx)
    if vr == "TM":
        return _as_time(raw)
    if vr == "DT":
        if isinstance(raw, dt.datetime):
            return raw.strftime("%Y%m%d%H%M%S")
        return str(raw).replace("-", "").replace(":", "").replace("T", "").replace(" ", "")
    if vr == "PN":
        return _as_person_name(raw)
    if vr == "IS":
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ValueError(f"{shorten(raw)} is not an integer string (IS)")
        if isinstance(raw, int | float):
            return str(int(raw))
        return _numeric_text(vr, str(raw).strip(), ctx)
    if vr == "DS":
        if isinstance(raw, bool):
            raise ValueError(f"{shorten(raw)} is not a decimal string (DS)")
        if isinstance(raw, int | float):
            return _format_ds(float(raw))
        return _numeric_text(vr, str(raw).strip(), ctx)
    if vr in NUMBER_VRS:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise ValueError(f"{shorten(raw)} is not a number")
        number = float(raw) if vr in ("FL", "FD") else int(raw)
        if vr == "FL" and math.isfinite(number) and abs(number) > _FL_MAX:
            raise ValueError(
                f"{shorten(raw)} does not fit in FL (32-bit float, at most ±{_FL_MAX:.7g}), not "
                f"even with permissive; give FD: {{vr: FD, value: {shorten(raw)}}}"
            )
        if vr not in ("FL", "FD"):
            lo, hi = _INT_RANGES[vr]
            if not lo <= int(number) <= hi:
                wider = {"US": "UL", "SS": "SL", "UL": "UV", "SL": "SV"}.get(vr)
                if ctx.permissive and wider:  # a binary element cannot hold it at all
                    raise ValueError(
                        f"{shorten(raw)} does not fit in {vr} ({lo}..{hi}), not even with "
                        f"permissive; to write it anyway give a wider VR: "
                        f"{{vr: {wider}, value: {shorten(raw)}}}"
                    )
                raise ValueError(f"{shorten(raw)} is out of range for {vr} ({lo}..{hi})")
        return number
    if vr == "AT":
        try:
            return parse_tag_key(str(raw)).tag
        except (SpecError, ValueError) as exc:  # a key with no fixed tag cannot be a value
            reason = exc.issues[0] if isinstance(exc, SpecError) else exc
            raise ValueError(f"{shorten(raw)} is not a tag (AT): {reason}") from None
    if vr in BINARY_VRS:
        return _as_bytes(raw)
    if isinstance(raw, bool):
        return "YES" if raw else "NO"
    return str(raw)


def _numeric_text(vr: str, text: str, ctx: ValueContext) -> str:
    """An IS/DS text; even when permissive, pydicom can only hold one that reads as a number."""
    if ctx.permissive and text:
        try:
            float(text)
        except ValueError:
            raise ValueError(
                f"{shorten(text)} is not a number, and pydicom cannot hold a non-numeric {vr} "
                f"even with permissive; to write the text anyway give another VR, "
                f"e.g. {{vr: LO, value: ...}}"
            ) from None
    return text


_INT_RANGES = {
    "US": (0, 2**16 - 1),
    "SS": (-(2**15), 2**15 - 1),
    "UL": (0, 2**32 - 1),
    "SL": (-(2**31), 2**31 - 1),
    "UV": (0, 2**64 - 1),
    "SV": (-(2**63), 2**63 - 1),
}


def _format_ds(value: float) -> str:
    text = repr(value) if not value.is_integer() else str(int(value))
    if len(text) > 16:
        text = f"{value:.10g}"
    return text


@dataclass(frozen=True)
class CoercedValue:
    """A value ready for pydicom: a scalar, a list, or for SQ a list of item mappings."""

    vr: str
    value: Any


def split_explicit(raw: Any) -> tuple[str | None, Any]:
    """``{"vr": "LO", "value": x}`` → ("LO", x); anything else → (None, raw)."""
    if isinstance(raw, Mapping) and "vr" in raw and set(raw) <= {"vr", "value"}:
        return str(raw["vr"]).upper(), raw.get("value")
    return None, raw


def coerce_value(ref: TagRef, raw: Any, ctx: ValueContext) -> CoercedValue:
    """Turn a spec value into what pydicom stores for that element; raise ValueError if invalid."""
    explicit_vr, raw = split_explicit(raw)
    vr = explicit_vr or ref.vr
    if vr is None:
        raise ValueError(
            f"the dictionary does not know {ref.label}: give its VR as {{vr: LO, value: ...}}"
        )
    vr = _resolve_ambiguous_vr(vr)
    if vr not in KNOWN_VRS:
        near = difflib.get_close_matches(vr, sorted(KNOWN_VRS), n=1)
        hint = f"; did you mean {near[0]}?" if near else ""
        raise ValueError(f"unknown VR {shorten(vr)} (known: {', '.join(sorted(KNOWN_VRS))}){hint}")
    if vr == "SQ":
        if raw is None:
            return CoercedValue("SQ", [])
        if isinstance(raw, Mapping):
            raw = [raw]
        if not isinstance(raw, list) or not all(isinstance(i, Mapping) for i in raw):
            raise ValueError("a sequence (SQ) value is a list of items, each a mapping of tags")
        return CoercedValue("SQ", list(raw))
    if raw is None:
        return CoercedValue(vr, None)
    if vr in BINARY_VRS:
        data = _as_bytes(raw)
        if not ctx.permissive and (problem := binary_length_problem(vr, len(data))):
            raise ValueError(f"{problem} (permissive: true writes it as a defect)")
        return CoercedValue(vr, data)
    if isinstance(raw, str) and "\\" in raw and vr in TEXT_VRS and vr not in ("LT", "ST", "UT"):
        raw = raw.split("\\")
    if isinstance(raw, list | tuple):
        values = [_one(vr, v, ctx) for v in raw]
        if not ctx.permissive:
            _check_vm(ref, len(values))
            for v in values:
                _validate(vr, v)
        return CoercedValue(vr, values)
    value = _one(vr, raw, ctx)
    if not ctx.permissive:
        if value not in ("", None):  # empty is zero values (a Type 2 attribute left empty)
            _check_vm(ref, 1)
        _validate(vr, value)
    return CoercedValue(vr, value)


def vm_range(vm: str) -> tuple[int, int | None, int]:
    """A dictionary VM as (least, most or None for any, step): "1" → (1, 1, 1), "2-n" →
    (2, None, 1), "2-2n" → (2, None, 2), "1-3" → (1, 3, 1)."""
    low, _, high = vm.partition("-")
    least = int(low)
    if not high:
        return least, least, 1
    if high.endswith("n"):
        return least, None, int(high[:-1] or 1)
    return least, int(high), 1


def _check_vm(ref: TagRef, count: int) -> None:
    """Refuse a number of values a public attribute's value multiplicity (VM) does not allow
    (``ImageType: [ORIGINAL]`` where the dictionary says 2-n)."""
    if count == 0 or ref.is_private or not dictionary_has_tag(ref.tag):
        return
    vm = dictionary_VM(ref.tag)
    try:
        least, most, step = vm_range(vm)
    except ValueError:  # a VM the dictionary spells otherwise: nothing to check against
        return
    if most == 1 and count > 1:
        raise ValueError(
            f"{ref.label} has VM 1 (one value), not {count} values (a backslash separates "
            "values); give one value, or set permissive: true to write several on purpose"
        )
    if count < least or (most is not None and count > most) or count % step:
        raise ValueError(
            f"{ref.label} has VM {vm}, so {count} value{'s' if count != 1 else ''} cannot be "
            f"written; give {vm.replace('-', ' to ')} values, or set permissive: true to write "
            "them on purpose"
        )


def _resolve_ambiguous_vr(vr: str) -> str:
    # dictionary VRs such as "US or SS" or "OB or OW": take the first, the common case
    return vr.split(" or ")[0].strip()


def _validate(vr: str, value: Any) -> None:
    if isinstance(value, str) and (problem := text_problem(vr, value)):
        raise ValueError(problem)


#: bytes per value of each binary VR: a value's length is a multiple of it. OB is padded to an
#: even length when written; UN is written as given, so an odd UN cannot be read back
BINARY_UNITS = {"OB": 1, "UN": 2, "OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}


def binary_length_problem(vr: str, length: int) -> str | None:
    """Why ``length`` bytes cannot be one value of the binary ``vr`` (None if they can)."""
    unit = BINARY_UNITS.get(vr, 1)
    if length % unit == 0:
        return None
    lower, upper = length - length % unit, length - length % unit + unit
    what = "have an even length" if vr == "UN" else f"are whole numbers of {unit}-byte values"
    return (
        f"{vr} values {what}: {length} bytes is not a multiple of {unit} "
        f"(give {lower} or {upper} bytes)"
    )


_IS_RANGE = (-(2**31), 2**31 - 1)
#: text VRs that hold no control character but ESC (PS3.5 6.2); LT/ST/UT also allow TAB LF FF CR
_NO_CONTROLS = frozenset(("LO", "PN", "SH", "UC"))
_CONTROLS = re.compile(r"[\x00-\x1a\x1c-\x1f\x7f]")
_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")
#: a PN value: at most 3 component groups (alphabetic=ideographic=phonetic), each at most 64
#: characters in at most 5 components (family^given^middle^prefix^suffix)
_PN_GROUPS, _PN_GROUP_CHARS, _PN_COMPONENTS = 3, 64, 5


def text_problem(vr: str, value: str) -> str | None:
    """Why ``value`` is not a valid single value of the text ``vr`` (None if it is): the VR's
    length, character and form rules (PS3.5 table 6.2-1), with the rule in the message."""
    if value == "":  # an empty value is allowed for every VR
        return None
    if vr == "UI":
        problem = uid_problem(value)
        return f"not a UID: {problem} (permissive: true writes it as a defect)" if problem else None
    if vr == "TM" and (problem := time_problem(value)):
        return f"{shorten(value)}: {problem} (permissive: true writes it as a defect)"
    if vr == "PN" and (problem := _pn_problem(value)):
        return f"{problem} (permissive: true writes it as a defect)"
    controls = _CONTROLS if vr in _NO_CONTROLS else _TEXT_CONTROLS
    if vr in _NO_CONTROLS | {"LT", "ST", "UT"} and (bad := controls.search(value)):
        return (
            f"{shorten(value)} holds the control character {bad[0]!r}, which {vr} does not "
            "allow (permissive: true writes it as a defect)"
        )
    if vr in TEXT_VRS:
        try:
            validate_value(vr, value, pydicom_config.RAISE)
        except ValueError as exc:  # pydicom's text ends with a link to PS3.5: keep the reason
            reason = str(exc).split(". Please see")[0].rstrip(".")
            return shorten_text(reason, 2 * SHORT)
    if vr == "IS" and not _IS_RANGE[0] <= int(value) <= _IS_RANGE[1]:
        return (
            f"{shorten(value)} is out of range for IS ({_IS_RANGE[0]}..{_IS_RANGE[1]}) "
            "(permissive: true writes it as a defect)"
        )
    return None


def _pn_problem(value: str) -> str | None:
    groups = value.split("=")
    if len(groups) > _PN_GROUPS:
        return (
            f"a person name (PN) has at most {_PN_GROUPS} component groups separated by '=' "
            f"(alphabetic=ideographic=phonetic), not {len(groups)}"
        )
    for group in groups:
        if len(group) > _PN_GROUP_CHARS:
            return (
                f"a person name (PN) component group holds at most {_PN_GROUP_CHARS} characters, "
                f"not {len(group)}: {shorten(group)}"
            )
        if group.count("^") >= _PN_COMPONENTS:
            return (
                f"a person name (PN) has at most {_PN_COMPONENTS} components separated by '^' "
                f"(family^given^middle^prefix^suffix), not {group.count('^') + 1}: "
                f"{shorten(group)}"
            )
    return None
