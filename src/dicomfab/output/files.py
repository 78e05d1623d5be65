"""Writing one DICOM Part 10 file, fast, and the digests the manifest records for it.

A file's digests come in two parts: ``header_blake3`` over every byte before the Pixel Data
element, ``pixel_blake3`` over the Pixel Data element (tag, VR, length and value). Instances that
share pixels share the second digest, which is computed once per shared pixel buffer (and per VR
style). BLAKE3 (256-bit, hex), not SHA-256: on one core it hashes 4–5 GB/s here against
SHA-256's 1.2–1.7 (with the CPU's SHA extensions), and SHA-256 was a tenth of the time of
generating the scenario library.
``file_digests`` computes both from any file (``digests`` from its bytes).

Native pixels are not copied on their way to disk: the header is encoded in memory (by
:mod:`dicomfab.output.header`, the bytes pydicom's ``dcmwrite`` would write), then
header, Pixel Data element header and the pixel array's own buffer go to the file in one
``writev`` call (the array is little-endian and contiguous; otherwise its cached native bytes).
On Linux they are copied instead into the buffers of a background writer that sends them to the
disk past the page cache (:mod:`dicomfab.output.direct`): a file written by :func:`write_file`
is on disk once that writer is flushed.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath

import numpy as np
from blake3 import blake3
from pydicom import dcmread
from pydicom.filebase import DicomBytesIO

from dicomfab.builder.pixels.image import PixelImage
from dicomfab.builder.transfer import EncodedInstance, FrameStream
from dicomfab.output import direct
from dicomfab.output.header import header_bytes

_PIXEL_TAG = b"\xe0\x7f\x10\x00"


@dataclass(frozen=True)
class FileDigest:
    size: int
    header_blake3: str
    pixel_blake3: str | None


# pixel digest per shared image (weakly held: it goes when the image goes) and VR style
_pixel_digests: weakref.WeakKeyDictionary[PixelImage, dict[bool, str]] = weakref.WeakKeyDictionary()


def _native_view(image: PixelImage) -> tuple[memoryview, bytes]:
    """The native (little-endian) pixel bytes as a view, without copying, and the pad byte that
    makes their length even (b"" or b"\\x00"): together exactly ``image.native_bytes()``."""
    array = image.array
    order = array.dtype.byteorder
    little = order == "<" or order == "|" or (order == "=" and sys.byteorder == "little")
    if not (little and array.flags.c_contiguous):
        return memoryview(image.native_bytes()), b""
    view = array.reshape(-1).view(np.uint8).data  # the array's own bytes, no copy
    return view, b"\x00" if view.nbytes % 2 else b""


def _element_header(length: int, bits_allocated: int, explicit_vr: bool) -> bytes:
    if explicit_vr:
        vr = b"OW" if bits_allocated > 8 else b"OB"
        return _PIXEL_TAG + vr + b"\x00\x00" + struct.pack("<I", length)
    return _PIXEL_TAG + struct.pack("<I", length)


def _pixel_digest(
    image: PixelImage, explicit: bool, element: bytes, pixels: memoryview, pad: bytes
) -> str:
    """BLAKE3 of the Pixel Data element (``element`` header, ``pixels``, ``pad``), computed once
    per image and VR style."""
    known = _pixel_digests.setdefault(image, {})
    found = known.get(explicit)
    if found is None:
        digest = blake3(element)
        digest.update(pixels)
        digest.update(pad)
        found = known[explicit] = digest.hexdigest()
    return found


KEEP_BYTES = 256 << 20
"""At most this many bytes of files are kept in memory by :func:`keeping` (more are read back)."""

_keep: frozenset[str] = frozenset()  # the files kept: study folder/name
_keep_pid = 0  # the process keeping them (not a worker forked from it)
_kept: dict[str, bytes] = {}


def _file_key(path: PurePath) -> str:
    return f"{path.parent.name}/{path.name}"


@contextlib.contextmanager
def keeping(files: Iterable[str]) -> Iterator[None]:
    """Within, the bytes of each file this process writes whose path ends in one of ``files``'
    last two components (study folder and name) also stay in memory, until :func:`kept` takes
    them (at most :data:`KEEP_BYTES` in all): for the files a scenario breaks once they are
    written, which would otherwise be read back from disk (written past the page cache)."""
    global _keep, _keep_pid
    _keep, _keep_pid = frozenset(_file_key(PurePath(f)) for f in files), os.getpid()
    try:
        yield
    finally:
        _keep, _keep_pid = frozenset(), 0
        _kept.clear()


def kept(file: str) -> bytes | None:
    """The bytes last written to ``file`` (a path, matched on its last two components) while
    :func:`keeping` it, handed over once; None if they were not kept."""
    return _kept.pop(_file_key(PurePath(file)), None)


def _keep_copy(path: Path, parts: list[bytes | memoryview]) -> None:
    key = _file_key(path)
    if key not in _keep or _keep_pid != os.getpid():
        return
    _kept.pop(key, None)
    data = b"".join(parts)
    if sum(map(len, _kept.values())) + len(data) <= KEEP_BYTES:
        _kept[key] = data


def _write_all(path: Path, parts: list[bytes | memoryview]) -> None:
    """Write ``parts`` one after the other as the file ``path``: handed to this thread's
    :class:`~dicomfab.output.direct.Writer` (on disk by its ``flush``), else at once, in one
    ``writev`` if possible."""
    if _keep:
        _keep_copy(path, parts)
    if direct.enabled():
        direct.writer().write(path, parts)
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o666)
    try:
        if hasattr(os, "writev"):
            views = [memoryview(p).cast("B") for p in parts if len(p)]
            while views:
                done = os.writev(fd, views)
                while views and done >= views[0].nbytes:
                    done -= views[0].nbytes
                    views.pop(0)
                if views and done:
                    views[0] = views[0][done:]
        else:  # pragma: no cover - Windows
            for part in parts:
                view = memoryview(part).cast("B")
                while view:
                    view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` as the file ``path``, as :func:`write_file` writes (on disk once this
    thread's writer is flushed: :func:`dicomfab.output.direct.written`)."""
    _write_all(path, [data])


def write_file(path: Path, encoded: EncodedInstance) -> FileDigest:
    """Write ``encoded`` as a Part 10 file at ``path`` and return its digests."""
    ds = encoded.dataset
    data = header_bytes(ds)  # what dcmwrite(..., enforce_file_format=True) writes, faster
    if encoded.fragments is not None:
        return _write_streamed(path, data, encoded.fragments)
    image = encoded.stream
    if image is None:
        _write_all(path, [data])
        return digests(data)
    explicit = ds.file_meta.TransferSyntaxUID.is_implicit_VR is False
    pixels, pad = _native_view(image)
    element = _element_header(pixels.nbytes + len(pad), image.bits_allocated, explicit)
    _write_all(path, [data, element, pixels, pad])
    return FileDigest(
        len(data) + len(element) + pixels.nbytes + len(pad),
        blake3(data).hexdigest(),
        _pixel_digest(image, explicit, element, pixels, pad),
    )


_EOT_TAGS = (b"\xe0\x7f\x01\x00OV\x00\x00", b"\xe0\x7f\x02\x00OV\x00\x00")
_ITEM = b"\xfe\xff\x00\xe0"
_SEQUENCE_END = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"


def _write_streamed(path: Path, header: bytes, stream: FrameStream) -> FileDigest:
    """Write ``header`` (whose Extended Offset Table values are placeholders), then the
    encapsulated Pixel Data one frame at a time (an empty Basic Offset Table item, one fragment
    per frame), then the offsets and lengths into the header's placeholders. Only one encoded
    frame is in memory at a time."""
    patched = bytearray(header)
    at = []
    for tag in _EOT_TAGS:
        where = patched.rfind(tag)
        length = struct.unpack_from("<I", patched, where + 8)[0] if where >= 0 else -1
        if where < 0 or length != 8 * stream.frames:
            raise ValueError("the header has no Extended Offset Table placeholders to fill")
        at.append(where + 12)
    element = _PIXEL_TAG + b"OB\x00\x00\xff\xff\xff\xff" + _ITEM + b"\x00\x00\x00\x00"
    pixel_digest = blake3(element)
    offsets: list[int] = []
    lengths: list[int] = []
    position = 0  # from the first byte of the first fragment's item tag
    with open(path, "wb") as out:
        out.write(header)
        out.write(element)
        for frame in stream.encoded():
            pad = b"\x00" if len(frame) % 2 else b""
            size = len(frame) + len(pad)
            item = _ITEM + struct.pack("<I", size)
            for part in (item, frame, pad):
                out.write(part)
                pixel_digest.update(part)
            offsets.append(position)
            lengths.append(size)
            position += 8 + size
        out.write(_SEQUENCE_END)
        pixel_digest.update(_SEQUENCE_END)
        if len(offsets) != stream.frames:
            raise ValueError(f"{len(offsets)} frames encoded, {stream.frames} announced")
        for start, values in zip(at, (offsets, lengths), strict=True):
            packed = struct.pack(f"<{len(values)}Q", *values)
            patched[start : start + len(packed)] = packed
            out.seek(start)
            out.write(packed)
    total = len(header) + len(element) + position + len(_SEQUENCE_END)
    return FileDigest(total, blake3(patched).hexdigest(), pixel_digest.hexdigest())


def _split_at_pixel_data(data: bytes) -> tuple[memoryview, memoryview]:
    """Split a written file at its top-level Pixel Data element (found by re-reading it)."""
    view = memoryview(data)
    with DicomBytesIO(data) as fp:
        try:
            dcmread(fp, stop_before_pixels=True, force=True)
        except Exception:  # a deliberately broken file: hash it whole
            return view, view[:0]
        offset = fp.tell()
    if data[offset : offset + 4] != _PIXEL_TAG:
        return view, view[:0]
    return view[:offset], view[offset:]


def file_digests(path: Path) -> FileDigest:
    """The digests of any file, as the manifest records them."""
    return digests(path.read_bytes())


def digests(data: bytes) -> FileDigest:
    """The digests of a file's bytes, as the manifest records them."""
    header, pixel = _split_at_pixel_data(data)
    return FileDigest(
        len(data),
        blake3(header).hexdigest(),
        blake3(pixel).hexdigest() if pixel else None,
    )
