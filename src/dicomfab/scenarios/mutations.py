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

import numpy as np
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


def _random_bytes_slow(rng: random.Random, count: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(count))


def _random_bytes_fast(rng: random.Random, count: int) -> bytes:
    """``count`` bytes drawn as ``randrange(256)`` each, leaving ``rng`` where that leaves it.

    CPython draws ``randrange(256)`` as the top 9 bits of one 32-bit Mersenne Twister word,
    retried while >= 256; ``getrandbits(32 * n)`` holds the next n words, first word lowest.
    So: draw words in bulk, keep the accepted ones, then rewind and consume exactly as many
    words as the one-at-a-time loop would have."""
    state = rng.getstate()
    out = np.empty(0, dtype=np.uint8)
    used = 0  # words the accepted bytes so far consumed
    while len(out) < count:
        want = 2 * (count - len(out)) + 64
        words = np.frombuffer(rng.getrandbits(32 * want).to_bytes(4 * want, "little"), "<u4")
        values = words >> np.uint32(23)
        accepted = np.flatnonzero(values < 256)
        need = count - len(out)
        if len(accepted) >= need:
            used += int(accepted[need - 1]) + 1
            out = np.concatenate([out, values[accepted[:need]].astype(np.uint8)])
        else:
            used += want
            out = np.concatenate([out, values[accepted].astype(np.uint8)])
    rng.setstate(state)
    while used > 0:  # the words the one-at-a-time loop consumed (getrandbits caps nothing)
        step = min(used, 1 << 16)
        rng.getrandbits(32 * step)
        used -= step
    return out.tobytes()


def _fast_path_matches() -> bool:
    """Whether this Python draws ``randrange(256)`` as :func:`_random_bytes_fast` assumes."""
    slow, fast = random.Random("probe"), random.Random("probe")
    if _random_bytes_slow(slow, 300) != _random_bytes_fast(fast, 300):
        return False
    return slow.random() == fast.random()


_FAST: list[bool] = []


def random_bytes(rng: random.Random, count: int) -> bytes:
    """``bytes(rng.randrange(256) for _ in range(count))``, the same bytes and the same ``rng``
    state afterwards, about a hundred times faster (a codestream to garble is megabytes)."""
    if count <= 0:
        return b""
    if not _FAST:
        _FAST.append(_fast_path_matches())
    if _FAST[0]:
        return _random_bytes_fast(rng, count)
    return _random_bytes_slow(rng, count)


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
    # the same junk whatever the seed: what a parser makes of it can be declared
    junk = random.Random(f"trailing_bytes/{count}")
    return data + random_bytes(junk, count)


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


@register(
    "empty_image",
    "Rows 0, Columns 0 and an empty (zero-length) native Pixel Data element: a well-formed file "
    "that holds no image",
)
def empty_image(data: bytes, ctx: MutationContext) -> bytes:
    start, length, _explicit = _pixel_value_span(data)
    if length < 0:
        raise ValueError("empty_image needs native (not encapsulated) pixel data")
    out = bytearray(data[: start - 4] + struct.pack("<I", 0) + data[start + length :])
    for tag in (0x00280010, 0x00280011):  # Rows, Columns: US values ahead of Pixel Data
        _begin, value, size, _ = _raw_top_level(data, tag)
        if size != 2:
            raise ValueError(f"empty_image: element {tag:08X} is not a single US value")
        out[value : value + 2] = b"\x00\x00"
    return bytes(out)


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
        garbage = random_bytes(ctx.rng, min(4096, start + length - cut))
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
    garbage = random_bytes(ctx.rng, end - begin)
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


@register("strip_pixel_data", "remove the Pixel Data element; the Image Pixel attributes stay")
def strip_pixel_data(data: bytes, ctx: MutationContext) -> bytes:
    offset = pixel_data_offset(data)
    if offset is None:
        raise ValueError("the file has no top-level Pixel Data element")
    start, length, _explicit = _pixel_value_span(data)
    if length >= 0:
        return data[:offset] + data[start + length :]
    position = start  # encapsulated: items up to the sequence delimiter
    while data[position : position + 4] == b"\xfe\xff\x00\xe0":
        (item_length,) = struct.unpack("<I", data[position + 4 : position + 8])
        position += 8 + item_length
    if data[position : position + 4] != b"\xfe\xff\xdd\xe0":
        raise ValueError("encapsulated Pixel Data without a sequence delimiter")
    return data[:offset] + data[position + 8 :]


# ------------------------------------------- element bytes, unused bits, VOI LUT (groups A, C, H)

_LONG_LENGTH_VRS = frozenset(
    ("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV")
)


def _tag_of(tag: str) -> int:
    """``(0010,0010)``, ``00100010`` or a keyword → the tag."""
    from pydicom.tag import Tag

    text = tag.strip().strip("()").replace(",", "").replace(" ", "")
    if len(text) == 8 and all(c in "0123456789abcdefABCDEF" for c in text):
        return Tag(int(text, 16))
    return Tag(tag.strip())


def _native_pixels(data: bytes) -> tuple[int, int, Any]:
    """(value start, value length, header data set) of native pixel data."""
    start, length, _explicit = _pixel_value_span(data)
    if length < 0:
        raise ValueError("the mutation needs native (not encapsulated) pixel data")
    header = dcmread(BytesIO(data), stop_before_pixels=True, force=True)
    return start, length, header


@register(
    "raw_element",
    "replace the value bytes of one top-level element (`tag`) by `hex`, or by `text` encoded in "
    "`encoding` (a Python codec): bytes the declared character set or VR does not allow",
)
def raw_element(
    data: bytes,
    ctx: MutationContext,
    tag: str,
    hex: str | None = None,
    text: str | None = None,
    encoding: str = "ascii",
) -> bytes:
    from pydicom.dataelem import RawDataElement

    if (hex is None) == (text is None):
        raise ValueError("raw_element: give either hex or text")
    value = bytes.fromhex(hex) if hex is not None else str(text).encode(encoding)
    target = _tag_of(tag)
    header = dcmread(BytesIO(data), stop_before_pixels=target != 0x7FE00010, force=True)
    if target not in header:
        raise ValueError(f"raw_element: the file has no top-level element {target}")
    raw = header.get_item(target)
    if not isinstance(raw, RawDataElement) or raw.value_tell is None:
        raise ValueError(f"raw_element: cannot locate {target} in the file")
    if len(value) % 2:  # values have even length (PS3.5 7.1.1): pad as the VR does
        value += b"\x00" if raw.VR in ("UI", "OB", "UN") else b" "
    start, end = raw.value_tell, raw.value_tell + raw.length
    if not raw.is_implicit_VR and raw.VR not in _LONG_LENGTH_VRS:
        if len(value) > 0xFFFF:
            raise ValueError(f"raw_element: {len(value)} bytes do not fit a {raw.VR} value")
        length = struct.pack("<H" if raw.is_little_endian else ">H", len(value))
        return data[: start - 2] + length + value + data[end:]
    length = struct.pack("<I" if raw.is_little_endian else ">I", len(value))
    return data[: start - 4] + length + value + data[end:]


@register(
    "set_high_bits",
    "set the unused high bits (above BitsStored) of every native pixel value, or the bits of "
    "`mask`; the stored values, masked, are unchanged",
)
def set_high_bits(data: bytes, ctx: MutationContext, mask: int | None = None) -> bytes:
    import numpy as np

    start, length, header = _native_pixels(data)
    allocated, stored = int(header.BitsAllocated), int(header.BitsStored)
    if mask is None:
        mask = ((1 << allocated) - 1) & ~((1 << stored) - 1)
    if not mask:
        raise ValueError("set_high_bits: BitsStored = BitsAllocated leaves no unused bits")
    big = header.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.2"
    dtype = np.dtype("u1" if allocated == 8 else (">u2" if big else "<u2"))
    values = np.frombuffer(data, dtype=dtype, count=length // dtype.itemsize, offset=start)
    changed = (values | np.asarray(mask, dtype=dtype)).astype(dtype).tobytes()
    return data[:start] + changed + data[start + len(changed) :]


@register(
    "pixel_data_excess",
    "Pixel Data `count` bytes (default 256, even) longer than the image needs: trailing padding",
)
def pixel_data_excess(data: bytes, ctx: MutationContext, count: int = 256) -> bytes:
    start, length, _explicit = _pixel_value_span(data)
    if length < 0:
        raise ValueError("pixel_data_excess needs native pixel data")
    count += count % 2
    return (
        data[: start - 4]
        + struct.pack("<I", length + count)
        + data[start : start + length]
        + bytes(count)
        + data[start + length :]
    )


@register(
    "voi_lut_sequence",
    "replace WindowCenter/Width by a VOI LUT Sequence: one 2^BitsStored-entry LUT drawing the "
    "window `centre`/`width` (default: the file's first window) as a `function` (linear or "
    "sigmoid) curve; `keep_window` keeps the window attributes too",
)
def voi_lut_sequence(
    data: bytes,
    ctx: MutationContext,
    function: str = "linear",
    centre: float | None = None,
    width: float | None = None,
    keep_window: bool = False,
) -> bytes:
    import numpy as np
    from pydicom.dataset import Dataset
    from pydicom.filewriter import dcmwrite
    from pydicom.sequence import Sequence

    ds = dcmread(BytesIO(data), force=True)
    stored = int(ds.BitsStored)
    entries = 1 << stored
    if "WindowCenter" in ds and "WindowWidth" in ds:
        centre = float(_first(ds.WindowCenter)) if centre is None else centre
        width = float(_first(ds.WindowWidth)) if width is None else width
    centre = float(entries) / 2 if centre is None else float(centre)
    width = float(entries) if width is None else float(width)
    explanation = _first(ds.get("WindowCenterWidthExplanation", "")) or function.upper()
    out_bits = min(max(stored, 8), 16)
    top = (1 << out_bits) - 1
    x = np.arange(entries, dtype=np.float64)
    if function == "sigmoid":  # PS3.3 C.11.2.1.3.1
        y = top / (1 + np.exp(-4 * (x - centre) / width))
    elif function == "linear":  # PS3.3 C.11.2.1.2.1
        y = np.clip(((x - (centre - 0.5)) / (width - 1) + 0.5) * top, 0, top)
    else:
        raise ValueError(f"voi_lut_sequence: function is linear or sigmoid, not {function!r}")
    item = Dataset()
    item.LUTDescriptor = [entries % 65536, 0, out_bits]
    item.LUTExplanation = explanation
    big = ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.2"
    item.add_new(0x00283006, "OW", np.rint(y).astype(">u2" if big else "<u2").tobytes())
    ds.VOILUTSequence = Sequence([item])
    if not keep_window:
        for keyword in (
            "WindowCenter",
            "WindowWidth",
            "WindowCenterWidthExplanation",
            "VOILUTFunction",
        ):
            ds.pop(keyword, None)
    out = DicomBytesIO()
    dcmwrite(out, ds, enforce_file_format=True)
    return out.getvalue()


def _first(value: Any) -> Any:
    """The first of a multi-valued element's values (or the value itself)."""
    from pydicom.multival import MultiValue

    return value[0] if isinstance(value, list | tuple | MultiValue) else value


# ------------------------------------- orientation, private blocks, padding, DBT (groups D–I)


def _raw_top_level(data: bytes, tag: int) -> tuple[int, int, int, bool]:
    """(element start, value start, value length, explicit VR) of a top-level element."""
    from pydicom.dataelem import RawDataElement

    header = dcmread(BytesIO(data), stop_before_pixels=tag != 0x7FE00010, force=True)
    raw = header.get_item(tag) if tag in header else None
    if not isinstance(raw, RawDataElement) or raw.value_tell is None:
        raise ValueError(f"the file has no top-level element {tag:08X} that can be located")
    explicit = not raw.is_implicit_VR
    header_length = 12 if explicit and raw.VR in _LONG_LENGTH_VRS else 8
    return raw.value_tell - header_length, raw.value_tell, raw.length, explicit


def _private_tag(data: bytes, group: int, creator: str, offset: int) -> int:
    header = dcmread(BytesIO(data), stop_before_pixels=True, force=True)
    return int(header.private_block(group, creator).get_tag(offset))


@register("mirror_pixels", "mirror native pixel data left-right (every frame); header unchanged")
def mirror_pixels(data: bytes, ctx: MutationContext) -> bytes:
    import numpy as np

    start, length, header = _native_pixels(data)
    rows, columns = int(header.Rows), int(header.Columns)
    frames = int(header.get("NumberOfFrames", 1) or 1)
    samples = int(header.get("SamplesPerPixel", 1))
    big = header.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.2"
    dtype = np.dtype("u1") if int(header.BitsAllocated) == 8 else np.dtype(">u2" if big else "<u2")
    count = frames * rows * columns * samples
    if count * dtype.itemsize > length:
        raise ValueError("mirror_pixels: Pixel Data is shorter than the image")
    values = np.frombuffer(data, dtype=dtype, count=count, offset=start)
    mirrored = values.reshape(frames, rows, columns, samples)[:, :, ::-1, :].tobytes()
    return data[:start] + mirrored + data[start + len(mirrored) :]


@register(
    "drop_private_creator",
    "remove the Private Creator element of `creator` in `group`: its elements stay, orphaned",
)
def drop_private_creator(data: bytes, ctx: MutationContext, group: int, creator: str) -> bytes:
    block = _private_tag(data, group, creator, 0) >> 8 & 0xFF
    begin, value, length, _explicit = _raw_top_level(data, group << 16 | block)
    return data[:begin] + data[value + length :]


@register(
    "move_private_block",
    "renumber the private block of `creator` in `group` to block `to` (e.g. 0x11: the creator at "
    "(gggg,0011), its elements at (gggg,11xx)); values unchanged",
)
def move_private_block(
    data: bytes, ctx: MutationContext, group: int, creator: str, to: int = 0x11
) -> bytes:
    header = dcmread(BytesIO(data), stop_before_pixels=True, force=True)
    old = header.private_block(group, creator).block_start >> 8
    if group << 16 | to in header:
        raise ValueError(f"move_private_block: block {to:02X} of group {group:04X} is taken")
    out = bytearray(data)
    for elem in header.elements():
        tag = elem.tag
        if tag.group == group and (tag.element == old or tag.element >> 8 == old):
            begin, _value, _length, _explicit = _raw_top_level(data, int(tag))
            element = to if tag.element == old else to << 8 | (tag.element & 0xFF)
            out[begin + 2 : begin + 4] = struct.pack("<H", element)
    return bytes(out)


@register(
    "undefined_length_un",
    "re-encode one private UN element (`group`, `creator`, `offset`) whose value holds implicit "
    "VR items with undefined length, closed by a Sequence Delimitation Item (a private SQ as UN)",
)
def undefined_length_un(
    data: bytes, ctx: MutationContext, group: int, creator: str, offset: int
) -> bytes:
    begin, value, length, explicit = _raw_top_level(
        data, _private_tag(data, group, creator, offset)
    )
    if not explicit or data[begin + 4 : begin + 6] != b"UN":
        raise ValueError("undefined_length_un: the element is not an explicit VR UN element")
    if data[value : value + 4] != b"\xfe\xff\x00\xe0":
        raise ValueError("undefined_length_un: the UN value does not start with an item")
    delimiter = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    end = value + length
    return data[: value - 4] + b"\xff\xff\xff\xff" + data[value:end] + delimiter + data[end:]


@register("odd_length", "drop the padding byte of one top-level text element (`tag`): odd length")
def odd_length(data: bytes, ctx: MutationContext, tag: str) -> bytes:
    begin, value, length, explicit = _raw_top_level(data, _tag_of(tag))
    if not length or data[value + length - 1 : value + length] not in (b" ", b"\x00"):
        raise ValueError(f"odd_length: {tag} has no padding byte to drop")
    long_length = not explicit or value - begin == 12
    field = struct.pack("<I" if long_length else "<H", length - 1)
    return (
        data[: value - len(field)]
        + field
        + data[value : value + length - 1]
        + data[value + length :]
    )


def _encapsulated_items(data: bytes) -> tuple[int, list[bytes], int]:
    """(value start, [Basic Offset Table, fragment, …] item values, end after the delimiter)."""
    start, length, _explicit = _pixel_value_span(data)
    if length >= 0:
        raise ValueError("the mutation needs encapsulated (compressed) pixel data")
    items, position = [], start
    while data[position : position + 4] == b"\xfe\xff\x00\xe0":
        (item_length,) = struct.unpack("<I", data[position + 4 : position + 8])
        items.append(data[position + 8 : position + 8 + item_length])
        position += 8 + item_length
    if data[position : position + 4] != b"\xfe\xff\xdd\xe0":
        raise ValueError("encapsulated Pixel Data without a sequence delimiter")
    return start, items, position + 8


def _encapsulate_items(items: list[bytes]) -> bytes:
    return b"".join(b"\xfe\xff\x00\xe0" + struct.pack("<I", len(i)) + i for i in items) + (
        b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    )


@register("empty_offset_table", "empty the Basic Offset Table of encapsulated Pixel Data")
def empty_offset_table(data: bytes, ctx: MutationContext) -> bytes:
    start, items, end = _encapsulated_items(data)
    return data[:start] + _encapsulate_items([b"", *items[1:]]) + data[end:]


@register(
    "split_fragments",
    "split every compressed frame into `parts` fragments (default 3) and empty the Basic Offset "
    "Table: fragments no longer match frames",
)
def split_fragments(data: bytes, ctx: MutationContext, parts: int = 3) -> bytes:
    start, items, end = _encapsulated_items(data)
    fragments: list[bytes] = []
    for fragment in items[1:]:
        size = -(-len(fragment) // parts)
        size += size % 2  # fragments have even lengths
        fragments.extend(fragment[i : i + size] for i in range(0, len(fragment), size))
    return data[:start] + _encapsulate_items([b"", *fragments]) + data[end:]


@register(
    "functional_groups",
    "rearrange a multi-frame object's functional groups: `move` macros (keywords) from shared to "
    "every per-frame item, `copy` them into both, `drop` {macro: [frame indices] or 'all'}, "
    "`constant_position` (every frame at frame 1's position), `orientation` (6 cosines), "
    "`frame_type` (FrameType of every frame's X-Ray 3D Frame Type item)",
)
def functional_groups(
    data: bytes,
    ctx: MutationContext,
    move: list[str] | None = None,
    copy: list[str] | None = None,
    drop: dict[str, Any] | None = None,
    constant_position: bool = False,
    orientation: list[float] | None = None,
    frame_type: list[str] | None = None,
) -> bytes:
    import copy as copying

    from pydicom.filewriter import dcmwrite

    ds = dcmread(BytesIO(data), force=True)
    shared = ds.SharedFunctionalGroupsSequence[0]
    frames = ds.PerFrameFunctionalGroupsSequence
    for keyword in move or []:
        macro = shared[keyword]
        del shared[keyword]
        for item in frames:
            item[keyword] = copying.deepcopy(macro)
    for keyword in copy or []:
        for item in frames:
            item[keyword] = copying.deepcopy(shared[keyword])
    for keyword, which in (drop or {}).items():
        for index in range(len(frames)) if which == "all" else which:
            del frames[index][keyword]
    if constant_position:
        first = list(frames[0].PlanePositionSequence[0].ImagePositionPatient)
        for item in frames:
            item.PlanePositionSequence[0].ImagePositionPatient = first
    if orientation is not None:
        shared.PlaneOrientationSequence[0].ImageOrientationPatient = list(orientation)
    if frame_type is not None:
        for item in frames:
            item.XRay3DFrameTypeSequence[0].FrameType = list(frame_type)
    out = DicomBytesIO()
    dcmwrite(out, ds, enforce_file_format=True)
    return out.getvalue()


@register(
    "truncate_in",
    "cut the file `into` bytes (default 16) into the value of a top-level element (`tag`), e.g. "
    "inside a sequence",
)
def truncate_in(data: bytes, ctx: MutationContext, tag: str, into: int = 16) -> bytes:
    _begin, value, length, _explicit = _raw_top_level(data, _tag_of(tag))
    if length != 0xFFFFFFFF and into >= length:
        raise ValueError(f"truncate_in: {tag} is only {length} bytes long")
    return data[: value + into]
