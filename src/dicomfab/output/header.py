"""A DICOM Part 10 header (everything up to Pixel Data, or the whole file), byte for byte what
``pydicom.dcmwrite(buffer, ds, enforce_file_format=True)`` writes, in a fraction of its time.

pydicom spends some 100 µs an element (a buffer, charset lookups and type checks per element);
a mammogram's header has about 120, so at small image sizes writing headers was the largest
single cost of generating the scenario library. Here the plain elements (text and numbers of
the usual types, byte values, sequences of plain items) are encoded directly; any other element
is handed to pydicom's own ``write_data_element``, and any dataset this module is not sure about
(big endian, deflated, private or unknown transfer syntax, raw elements read from a file, a
character set other than the default, Latin-1 or UTF-8, group 0000/0002 elements in the data
set, an odd preamble) is written by ``dcmwrite`` itself. ``tests/output/test_header_writer.py``
holds the two writers to the same bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from typing import Any

from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import (
    correct_ambiguous_vr,
    correct_ambiguous_vr_element,
    dcmwrite,
    write_data_element,
    write_dataset,
)
from pydicom.multival import MultiValue
from pydicom.uid import UID
from pydicom.valuerep import AMBIGUOUS_VR, EXPLICIT_VR_LENGTH_32, PersonName

_STRING_VRS = {"AE": b" ", "AS": b" ", "CS": b" ", "UR": b" ", "UI": b"\x00", "DA": b" ",
               "DT": b" ", "TM": b" "}  # fmt: skip
_TEXT_VRS = frozenset({"LO", "SH", "ST", "LT", "UC", "UT"})
_NUMBER_STRING_VRS = frozenset({"IS", "DS"})
_NUMBER_VRS = {"US": "<H", "UL": "<L", "SS": "<h", "SL": "<l", "FL": "<f", "FD": "<d",
               "SV": "<q", "UV": "<Q"}  # fmt: skip
_BYTE_VRS = frozenset({"OB", "OW", "OD", "OF", "OL", "OV"})
_LONG = frozenset(str(vr) for vr in EXPLICIT_VR_LENGTH_32)
# what a first encoding of these writes for ASCII text: the ASCII bytes, nothing around them
_ASCII_SAFE = frozenset({default_encoding, "latin_1", "UTF8"})
_PLAIN_CHARSETS = frozenset({"", "ISO_IR 6", "ISO_IR 100", "ISO_IR 192"})
_ITEM = b"\xfe\xff\x00\xe0"
_ITEM_END = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
_SEQUENCE_END = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
_PIXEL_DATA = 0x7FE00010
_LUT_DESCRIPTORS = frozenset({0x00281101, 0x00281102, 0x00281103, 0x00283002})


class _Unsure(Exception):
    """This dataset is left to ``dcmwrite``."""


def header_bytes(ds: Dataset) -> bytes:
    """What ``dcmwrite(buffer, ds, enforce_file_format=True)`` writes (and the same changes to
    ``ds``: ambiguous VRs resolved, Pixel Data's undefined length set by the syntax)."""
    try:
        return _fast(ds)
    except _Unsure:
        buffer = DicomBytesIO()
        dcmwrite(buffer, ds, enforce_file_format=True)
        return buffer.getvalue()


def dataset_bytes(ds: Dataset, implicit: bool) -> bytes:
    """What pydicom's ``write_dataset`` writes for ``ds`` in a little-endian syntax (implicit or
    explicit VR), without file meta: the header a C-STORE sends. Faster, for a data set read in
    that encoding; ``write_dataset`` itself wherever it would change ``ds`` first (a data set
    built in memory or read in another encoding or character set: VR correction), the
    character set is not a plain one or an element was never parsed."""
    encoding = _plain_encoding(ds)
    same = ds.original_encoding == (implicit, True)
    same = same and ds.original_character_set == ds._character_set
    if encoding is not None and same and all(type(e) is DataElement for e in ds._dict.values()):
        parts: list[bytes] = []
        _dataset(parts, ds._dict, encoding, implicit)
        return b"".join(parts)
    buffer = DicomBytesIO()
    buffer.is_implicit_VR, buffer.is_little_endian = implicit, True
    write_dataset(buffer, ds)
    return buffer.getvalue()


def _fast(ds: Dataset) -> bytes:
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if not isinstance(syntax, UID) or type(ds) is not Dataset:
        raise _Unsure
    usable, implicit, compressed = _syntax(str(syntax))
    if not usable:
        raise _Unsure
    if any(tag >> 16 in (0, 2) for tag in ds._dict):
        raise _Unsure
    preamble = getattr(ds, "preamble", None)
    if preamble is not None:
        raise _Unsure
    if ds.original_encoding == (implicit, True):  # pydicom would skip the VR correction
        raise _Unsure
    encoding = _plain_encoding(ds)
    if encoding is None:
        raise _Unsure

    # as dcmwrite does; its walk over every element (sorted, at every depth) is only needed
    # where an item holds one: a mammogram's one is Pixel Padding Value (US or SS)
    ambiguous = _ambiguous(ds)
    if ambiguous is None:
        correct_ambiguous_vr(ds, True)
    else:
        for elem in ambiguous:
            correct_ambiguous_vr_element(elem, ds, True)
    if "PixelData" in ds:
        ds["PixelData"].is_undefined_length = compressed
    assert meta is not None  # it holds the syntax
    parts: list[bytes] = [b"\x00" * 128, b"DICM", *_file_meta(ds, meta)]
    _dataset(parts, ds._dict, encoding, implicit)
    return b"".join(parts)


def _plain_encoding(ds: Dataset) -> str | None:
    """The Specific Character Set to write ``ds``'s text in (the default if it has none), or
    None when it is not one this module writes itself."""
    charset = ds.get("SpecificCharacterSet")
    if charset is None:
        return default_encoding
    return charset if isinstance(charset, str) and charset in _PLAIN_CHARSETS else None


@cache
def _syntax(uid: str) -> tuple[bool, bool, bool]:
    """Whether this module writes data sets in transfer syntax ``uid`` (a public, little-endian,
    not deflated one), whether its VR is implicit, and whether it is compressed."""
    syntax = UID(uid)
    usable = not syntax.is_private and syntax.is_transfer_syntax
    usable = usable and syntax.is_little_endian and not syntax.is_deflated
    return usable, usable and syntax.is_implicit_VR, usable and syntax.is_compressed


def _file_meta(ds: Dataset, meta: FileMetaDataset) -> list[bytes]:
    """The File Meta Information group as ``dcmwrite`` completes and writes it (without
    changing ``meta``): version added, the group length first."""
    elements: dict[int, Any] = {int(tag): elem for tag, elem in meta._dict.items()}
    if any(tag >> 16 != 2 or type(e) is not DataElement for tag, e in elements.items()):
        raise _Unsure
    # dcmwrite would replace these with the data set's (not the case for built datasets)
    for meta_tag, keyword in ((0x00020002, "SOPClassUID"), (0x00020003, "SOPInstanceUID")):
        found, own = elements.get(meta_tag), ds.get(keyword, None)
        if found is None or (own and own != found.value):
            raise _Unsure
    version = elements.get(0x00020001)
    if version is None or version.is_empty:
        elements[0x00020001] = DataElement(0x00020001, "OB", b"\x00\x01")
    for tag in (0x00020002, 0x00020003, 0x00020010, 0x00020012, 0x00020013):
        if tag not in elements or (tag != 0x00020013 and elements[tag].is_empty):
            raise _Unsure  # dcmwrite adds or complains
    elements.pop(0x00020000, None)
    body: list[bytes] = []
    _dataset(body, elements, default_encoding, False)
    length = sum(map(len, body))
    return [struct.pack("<HH2sHL", 2, 0, b"UL", 4, length), *body]


def _ambiguous(ds: Dataset) -> list[DataElement] | None:
    """The top-level elements of ``ds`` whose VR is ambiguous (what ``correct_ambiguous_vr``
    would change), or None when it has to walk ``ds`` itself: an element not yet converted (at
    any depth), or one of ambiguous VR in a sequence item."""
    found = []
    for elem in ds._dict.values():
        if type(elem) is not DataElement:
            return None
        vr = elem.VR
        if vr == "SQ":
            for item in elem._value or ():
                if type(item) is not Dataset or _needs_correction(item):
                    return None
        elif vr in AMBIGUOUS_VR:
            found.append(elem)
    return found


def _needs_correction(ds: Dataset) -> bool:
    """Whether ``ds`` holds an element of ambiguous VR (or one not yet converted), at any
    depth."""
    found = _ambiguous(ds)
    return found is None or bool(found)


def _dataset(
    parts: list[bytes], elements: Mapping[Any, Any], encoding: Any, implicit: bool
) -> None:
    """Append the encoded ``elements`` of a data set (whose text is in ``encoding``)."""
    encodings = convert_encodings(encoding or [default_encoding])
    ascii_ok = encodings[0] in _ASCII_SAFE
    for tag in sorted(elements, key=int):
        if tag & 0xFFFF == 0 and tag >> 16 > 6:  # no retired group lengths (PS3.5 7.2)
            continue
        elem = elements[tag]
        value = _value(elem, encodings, ascii_ok, implicit)
        if value is None:  # left to pydicom
            _pydicom_element(parts, elem, encoding, implicit)
            continue
        vr = elem.VR
        undefined = elem.is_undefined_length
        body = b"".join(value) if isinstance(value, list) else value  # a list: encoded items
        length = 0xFFFFFFFF if undefined else len(body)
        if implicit:
            head = struct.pack("<HHL", tag >> 16, tag & 0xFFFF, length)
        elif vr in _LONG:
            head = struct.pack("<HH2sHL", tag >> 16, tag & 0xFFFF, vr.encode(), 0, length)
        else:
            head = struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr.encode(), length)
        parts.append(head)
        parts.append(body)
        if undefined:
            parts.append(_SEQUENCE_END)


def _pydicom_element(parts: list[bytes], elem: Any, encoding: Any, implicit: bool) -> None:
    buffer = DicomBytesIO()
    buffer.is_implicit_VR, buffer.is_little_endian = implicit, True
    write_data_element(buffer, elem, encoding)
    parts.append(buffer.getvalue())


def _value(elem: Any, encodings: list[str], ascii_ok: bool, implicit: bool) -> Any:
    """The encoded value of a plain element (a list of encoded items for a sequence), or None
    when pydicom is to write the element."""
    if type(elem) is not DataElement:  # a buffered value matches none of the types below
        return None
    vr = elem.VR
    value = elem._value
    undefined = elem.is_undefined_length
    if vr == "SQ":
        return _sequence(elem, encodings, implicit)
    if undefined and not (vr in _BYTE_VRS and elem.tag == _PIXEL_DATA):
        return None
    if value is None or (type(value) in (str, bytes, MultiValue, list) and not value):
        return b"" if elem.is_empty else None
    encoded: bytes
    if vr in _STRING_VRS:
        text = _joined(value)
        if text is None:
            return None
        try:
            encoded = text.encode(default_encoding)
        except UnicodeError:
            return None
        if len(encoded) % 2:
            encoded += _STRING_VRS[vr]
    elif vr in _TEXT_VRS:
        if not ascii_ok:
            return None
        text = _joined(value)
        if text is None or not text.isascii():
            return None
        encoded = text.encode("ascii")
        if len(encoded) % 2:
            encoded += b" "
    elif vr == "PN":
        names = value if type(value) in (MultiValue, list) else [value]
        if not all(type(name) is PersonName for name in names):
            return None
        encoded = b"\\".join(name.encode(encodings) for name in names)  # as write_PN does
        if len(encoded) % 2:
            encoded += b" "
    elif vr in _NUMBER_STRING_VRS:
        items = list(value) if type(value) in (MultiValue, list, tuple) else [value]
        if not all(isinstance(x, str | int | float | Decimal) for x in items):
            return None
        texts = [x.original_string if hasattr(x, "original_string") else str(x) for x in items]
        try:
            encoded = "\\".join(texts).encode(default_encoding)
        except UnicodeError:
            return None
        if len(encoded) % 2:
            encoded += b" "
    elif vr in _NUMBER_VRS:
        fmt = _NUMBER_VRS[vr]
        if type(value) in (int, float):
            try:
                encoded = struct.pack(fmt, value)
            except struct.error:
                return None
        elif type(value) in (MultiValue, list) and elem.tag not in _LUT_DESCRIPTORS:
            if not all(type(v) in (int, float) for v in value):
                return None
            try:
                encoded = struct.pack(f"<{len(value)}{fmt[1]}", *value)
            except struct.error:
                return None
        else:
            return None
    elif vr in _BYTE_VRS:
        if type(value) is not bytes:
            return None
        if undefined and not value.startswith(_ITEM):
            return None  # pydicom raises: Pixel Data not encapsulated
        encoded = value + b"\x00" if len(value) % 2 else value
    else:
        return None
    if not implicit and vr not in _LONG and len(encoded) > 0xFFFF:
        return None  # pydicom writes it as UN, with a warning
    return encoded


def _joined(value: Any) -> str | None:
    """A str value, or the values of a multi-valued one joined with backslashes."""
    if isinstance(value, str):  # UID is a str
        return str(value)
    if type(value) in (MultiValue, list, tuple) and all(isinstance(v, str) for v in value):
        return "\\".join(value)
    return None


def _sequence(elem: Any, encodings: list[str], implicit: bool) -> list[bytes] | None:
    """The encoded items of a sequence, each with its item tag and length."""
    items: list[bytes] = []
    for item in elem.value:
        if type(item) is not Dataset or "SpecificCharacterSet" in item._dict:
            return None
        if item.original_encoding == (implicit, True):
            return None
        parts: list[bytes] = []
        try:
            _dataset(parts, item._dict, encodings, implicit)
        except _Unsure:
            return None
        body = b"".join(parts)
        if getattr(item, "is_undefined_length_sequence_item", False):
            items.append(_ITEM + b"\xff\xff\xff\xff" + body + _ITEM_END)
        else:
            items.append(_ITEM + struct.pack("<L", len(body)) + body)
    return items
