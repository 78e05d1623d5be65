"""File-level mutations: named operations that break a written file on purpose.

Spec-level defects (a wrong tag, a missing attribute, an unsupported SOP class) go through the
spec in permissive mode. What a spec cannot express — a file without preamble, a truncated file,
a corrupt codestream, a meta header that lies — is a mutation here: a function from the file's
bytes to new bytes (or None: the file is not written at all). Each is registered by name, so a
scenario file names it and adding a scenario needs no code.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from pydicom import dcmread
from pydicom.filebase import DicomBytesIO

_PIXEL_TAG = b"\xe0\x7f\x10\x00"


@dataclass(frozen=True)
class MutationContext:
    """What a mutation may use: a seeded random generator and the file's SOP Instance UID."""

    rng: random.Random
    sop_instance_uid: str


MutationFunction = Callable[..., bytes | None]
REGISTRY: dict[str, tuple[MutationFunction, str]] = {}


def register(name: str, description: str) -> Callable[[MutationFunction], MutationFunction]:
    def add(function: MutationFunction) -> MutationFunction:
        REGISTRY[name] = (function, description)
        return function

    return add


def apply(name: str, data: bytes, ctx: MutationContext, args: dict[str, Any]) -> bytes | None:
    if name not in REGISTRY:
        import difflib

        near = difflib.get_close_matches(name, list(REGISTRY), n=1)
        hint = f"; did you mean {near[0]}?" if near else ""
        raise KeyError(f"unknown mutation {name!r} (known: {', '.join(sorted(REGISTRY))}){hint}")
    function, _ = REGISTRY[name]
    return function(data, ctx, **args)


# ----------------------------------------------------------------------------- helpers


def meta_end(data: bytes) -> int:
    """Offset of the first byte after the file meta group (preamble + DICM + group 0002)."""
    if data[128:132] != b"DICM":
        return 0
    (group_length,) = struct.unpack("<I", data[140:144])
    return 144 + group_length


def pixel_data_offset(data: bytes) -> int | None:
    """Offset of the top-level (7FE0,0010) element's tag, or None."""
    with DicomBytesIO(data) as fp:
        try:
            dcmread(fp, stop_before_pixels=True, force=True)
        except Exception:
            return None
        offset = fp.tell()
    return offset if data[offset : offset + 4] == _PIXEL_TAG else None


def _pixel_value_span(data: bytes) -> tuple[int, int, bool]:
    """(value start, value length, explicit VR) of native pixel data; undefined length → -1."""
    offset = pixel_data_offset(data)
    if offset is None:
        raise ValueError("the file has no top-level Pixel Data element")
    if data[offset + 4 : offset + 6] in (b"OB", b"OW"):
        (length,) = struct.unpack("<I", data[offset + 8 : offset + 12])
        return offset + 12, -1 if length == 0xFFFFFFFF else length, True
    (length,) = struct.unpack("<I", data[offset + 4 : offset + 8])
    return offset + 8, -1 if length == 0xFFFFFFFF else length, False


# ----------------------------------------------------------------------------- mutations


@register("skip_file", "the file is not written (it stays in the records)")
def skip_file(data: bytes, ctx: MutationContext) -> None:
    return None


@register("truncate", "cut the file: keep `keep` of it (a fraction, default 0.6)")
def truncate(data: bytes, ctx: MutationContext, keep: float = 0.6) -> bytes:
    return data[: max(1, int(len(data) * keep))]


@register("strip_preamble", "remove the 128-byte preamble and DICM prefix, keep the meta group")
def strip_preamble(data: bytes, ctx: MutationContext) -> bytes:
    return data[132:] if data[128:132] == b"DICM" else data


@register("strip_meta", "raw data set: no preamble, no DICM, no file meta group")
def strip_meta(data: bytes, ctx: MutationContext) -> bytes:
    return data[meta_end(data) :]


@register("trailing_bytes", "append junk after the last element (`count` bytes, default 64)")
def trailing_bytes(data: bytes, ctx: MutationContext, count: int = 64) -> bytes:
    return data + bytes(ctx.rng.randrange(256) for _ in range(count))


@register("meta_group_length", "make (0002,0000) lie by `delta` bytes (default +8)")
def meta_group_length(data: bytes, ctx: MutationContext, delta: int = 8) -> bytes:
    (length,) = struct.unpack("<I", data[140:144])
    return data[:140] + struct.pack("<I", length + delta) + data[144:]


@register("meta_sop_instance", "(0002,0003) MediaStorageSOPInstanceUID differs from (0008,0018)")
def meta_sop_instance(data: bytes, ctx: MutationContext, suffix: str = "9") -> bytes:
    return _rewrite_meta(data, "MediaStorageSOPInstanceUID", lambda uid: _other_uid(uid, suffix))


@register("meta_sop_class", "(0002,0002) MediaStorageSOPClassUID differs from (0008,0016)")
def meta_sop_class(
    data: bytes, ctx: MutationContext, uid: str = "1.2.840.10008.5.1.4.1.1.7"
) -> bytes:
    return _rewrite_meta(data, "MediaStorageSOPClassUID", lambda _old: uid)


@register("meta_transfer_syntax", "declare another transfer syntax than the data set's encoding")
def meta_transfer_syntax(data: bytes, ctx: MutationContext, uid: str) -> bytes:
    return _rewrite_meta(data, "TransferSyntaxUID", lambda _old: uid)


@register("pixel_data_short", "Pixel Data value shorter than Rows × Columns × … (`keep` fraction)")
def pixel_data_short(data: bytes, ctx: MutationContext, keep: float = 0.75) -> bytes:
    start, length, _explicit = _pixel_value_span(data)
    if length < 0:
        raise ValueError("pixel_data_short needs native (not encapsulated) pixel data")
    new_length = int(length * keep) & ~1
    length_at = start - 4  # the length field ends both explicit and implicit element headers
    return data[:length_at] + struct.pack("<I", new_length) + data[start : start + new_length]


@register("pixel_data_odd", "Pixel Data one byte longer than the image needs (odd length)")
def pixel_data_odd(data: bytes, ctx: MutationContext) -> bytes:
    start, length, _explicit = _pixel_value_span(data)
    if length < 0:
        raise ValueError("pixel_data_odd needs native pixel data")
    return (
        data[: start - 4] + struct.pack("<I", length + 1) + data[start : start + length] + b"\x00"
    )


@register("corrupt_codestream", "garble the compressed pixel codestream so that decoding fails")
def corrupt_codestream(data: bytes, ctx: MutationContext, fraction: float = 0.5) -> bytes:
    start, length, _ = _pixel_value_span(data)
    if length >= 0:  # native pixels: garble from the middle on, a decoder sees noise
        cut = start + int(length * fraction)
        garbage = bytes(ctx.rng.randrange(256) for _ in range(min(4096, start + length - cut)))
        return data[:cut] + garbage + data[cut + len(garbage) :]
    # encapsulated: keep item headers, garble the bytes after the first fragment's JPEG header
    first_item = data.find(b"\xfe\xff\x00\xe0", start)
    second_item = data.find(b"\xfe\xff\x00\xe0", first_item + 8)
    (bot_length,) = struct.unpack("<I", data[first_item + 4 : first_item + 8])
    fragment = first_item + 8 + bot_length if second_item < 0 else second_item
    (frag_length,) = struct.unpack("<I", data[fragment + 4 : fragment + 8])
    body = fragment + 8
    begin = body + min(64, frag_length // 4)
    end = body + frag_length
    garbage = bytes(ctx.rng.randrange(256) for _ in range(end - begin))
    return data[:begin] + garbage + data[end:]


def _other_uid(uid: str, suffix: str) -> str:
    candidate = uid[: 64 - len(suffix) - 1] + "." + suffix
    return candidate if candidate != uid else uid + "1"


def _rewrite_meta(data: bytes, keyword: str, change: Callable[[str], str]) -> bytes:
    """Re-encode the file meta group with one element changed; the data set stays byte for byte."""
    from pydicom.filewriter import write_file_meta_info

    end = meta_end(data)
    ds = dcmread(BytesIO(data), stop_before_pixels=True, force=True)
    meta = ds.file_meta
    setattr(meta, keyword, change(str(getattr(meta, keyword))))
    out = DicomBytesIO()
    out.is_little_endian = True
    out.is_implicit_VR = False
    write_file_meta_info(out, meta, enforce_standard=True)
    return data[:132] + out.getvalue() + data[end:]
