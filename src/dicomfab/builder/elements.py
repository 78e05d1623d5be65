"""Set standard elements by keyword without ``Dataset.__setattr__``'s per-call machinery.

``ds.PatientName = value`` looks the keyword up, checks whether the tag is present, looks the
VR up, converts and validates the value (DS, IS, PN, UI, CS regexes, …) and goes through
``Dataset.__setitem__``'s checks, every time. A mammogram's header sets some 120 elements, most
of them with the same values instance after instance, so that machinery was a good share of
building a dataset. Here the keyword's (tag, VR) is looked up once, the element is stored
directly, and the *converted* value of a plain value (str, int, float, or a list/tuple of them)
is remembered, so that a value seen before is not converted and validated again.

Same result as ``setattr``:

- only a value that passes pydicom's conversion in RAISE mode (valid in every mode) is
  remembered; any other value takes pydicom's own path each time, so it warns, raises or is
  ignored under the validation settings in force exactly as before;
- the key is the value's type and (for floats, lists and tuples) its ``repr``: ``-0.0`` and
  ``0.0`` (equal, same hash), ``1`` and ``1.0``, ``"1"`` and ``1`` stay apart;
- mutable converted values are never shared: every element gets its own ``MultiValue`` (bound
  to that element's conversion, as pydicom binds it) and its own ``PersonName`` (which caches
  its encoded bytes on first write);
- the memory is bounded (cleared when it reaches ``MAX_CACHED`` values);
- keywords that need ``Dataset.__setitem__``'s extra work (sequences, Pixel Data, LUT
  descriptors, repeaters, non-keywords) and datasets of other types (subclasses, a
  ``FileMetaDataset`` outside group 2) go through pydicom's own paths.

Unlike ``setattr`` on a present element, ``assign`` replaces the element rather than changing
its value in place (same VR, same value, same bytes).
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from pydicom import config
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag, Tag
from pydicom.valuerep import PersonName

MAX_CACHED: Final = 4096
"""Converted values remembered at most (per process); the memory is cleared when full."""

# Dataset.__setitem__ resets the pixel array cache for these, and hands a sequence its
# Pixel Representation (to resolve its items' US-or-SS VRs); pydicom converts LUT descriptors'
# values specially (first value US whatever the VR)
_PIXEL_TAGS: Final = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
_LUT_DESCRIPTORS: Final = frozenset({0x00281101, 0x00281102, 0x00281103, 0x00283002})
_PLAIN: Final = (str, int, float)  # exact types: a str subclass (UID, …) is not remembered


class Entry(NamedTuple):
    """A keyword's tag and dictionary VR; ``direct``: may be stored without __setitem__."""

    tag: BaseTag
    vr: str
    direct: bool


_entries: dict[str, Entry | None] = {}
# (keyword, type, value or repr) → (entry, converted value valid in RAISE mode)
_converted: dict[tuple[str, type, Any], tuple[Entry, Any]] = {}
_INVALID: Final = object()


def entry(keyword: str) -> Entry | None:
    """The tag and VR of a standard keyword (looked up once); None for anything else
    (unknown names, repeating-group keywords)."""
    try:
        return _entries[keyword]
    except KeyError:
        pass
    number = tag_for_keyword(keyword)
    found = None
    if number is not None:
        vr = dictionary_VR(number)
        direct = vr != "SQ" and number not in _PIXEL_TAGS and number not in _LUT_DESCRIPTORS
        found = Entry(Tag(number), vr, direct)
    _entries[keyword] = found
    return found


def element(keyword: str, value: Any) -> DataElement:
    """The DataElement ``setattr(ds, keyword, value)`` would store, its converted value
    remembered when plain and valid. Raises KeyError for a name that is not a standard
    keyword."""
    elem = _element(keyword, value)
    if elem is None:
        raise KeyError(f"{keyword!r} is not a DICOM keyword")
    return elem[1]


def assign(ds: Dataset, keyword: str, value: Any) -> None:
    """``setattr(ds, keyword, value)``, cheaper for a standard keyword (see the module)."""
    made = _element(keyword, value)
    if made is None:
        setattr(ds, keyword, value)  # pydicom's errors and warnings for unknown names
        return
    found, elem = made
    kind = type(ds)
    if found.direct and (kind is Dataset or (kind is FileMetaDataset and found.tag >> 16 == 2)):
        ds._dict[found.tag] = elem  # what __setitem__ stores for a public, non-pixel tag
    else:
        ds[found.tag] = elem


def clear_cache() -> None:
    """Forget every remembered value (tests; the memory also clears itself when full)."""
    _converted.clear()


def cached_count() -> int:
    """How many converted values are remembered."""
    return len(_converted)


def _element(keyword: str, value: Any) -> tuple[Entry, DataElement] | None:
    """The keyword's entry and a new element holding ``value``; None for a non-keyword."""
    key = _key(keyword, value)
    hit = _converted.get(key) if key is not None else None
    if hit is not None:
        return hit[0], _fresh(hit[0], hit[1])
    found = entry(keyword)
    if found is None:
        return None
    converted = _checked(found, value) if key is not None and found.direct else _INVALID
    if converted is _INVALID:  # pydicom's own path: its warning or error, every time
        return found, DataElement(found.tag, found.vr, value)
    if len(_converted) >= MAX_CACHED:
        _converted.clear()
    _converted[key] = found, converted  # type: ignore[index]
    return found, _fresh(found, converted)


def _key(keyword: str, value: Any) -> tuple[str, type, Any] | None:
    """The memory key of a plain value, None when it is not remembered."""
    kind = type(value)
    if kind is str or kind is int:
        return keyword, kind, value
    if kind is float:
        return keyword, kind, repr(value)  # -0.0 and 0.0 are equal
    if (kind is list or kind is tuple) and all(type(v) in _PLAIN for v in value):
        return keyword, kind, repr(value)
    return None


def _checked(found: Entry, value: Any) -> Any:
    """The converted value if it is valid in RAISE mode (so no mode would warn about it),
    else _INVALID; a PersonName inside a multi-value is not remembered (it is mutable)."""
    try:
        probe = DataElement(found.tag, found.vr, value, validation_mode=config.RAISE)
    except Exception:
        return _INVALID
    converted = probe.value
    if type(converted) is MultiValue and any(type(v) is PersonName for v in converted):
        return _INVALID
    return converted


def _fresh(found: Entry, converted: Any) -> DataElement:
    """A new element holding ``converted`` (a copy when it is mutable)."""
    kind = type(converted)
    if kind is MultiValue:
        elem = DataElement(found.tag, found.vr, None, already_converted=True)
        values: MultiValue[Any] = MultiValue(_same, converted)
        values._constructor = elem._convert  # as DataElement binds it: later items are converted
        elem._value = values
        return elem
    if kind is PersonName:
        converted = PersonName(converted)  # no validation; encode() caches bytes on the copy
    return DataElement(found.tag, found.vr, converted, already_converted=True)


def _same(item: Any) -> Any:
    return item
