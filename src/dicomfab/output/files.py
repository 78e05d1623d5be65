"""Writing one DICOM Part 10 file, fast, and the digests the manifest records for it.

A file's digests come in two parts: ``header_sha256`` over every byte before the Pixel Data
element, ``pixel_sha256`` over the Pixel Data element (tag, VR, length and value). Instances that
share pixels share the second digest, which is computed once; that is what keeps hashing off the
critical path of a 17 MB-per-image dataset. ``file_digests`` computes both from any file.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

from pydicom import dcmread
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import dcmwrite

from dicomfab.build.encode import EncodedInstance
from dicomfab.build.pixels.image import PixelImage

_PIXEL_TAG = b"\xe0\x7f\x10\x00"


@dataclass(frozen=True)
class FileDigest:
    size: int
    header_sha256: str
    pixel_sha256: str | None


_pixel_digests: dict[tuple[int, bool], tuple[PixelImage, str]] = {}


def _element_header(image: PixelImage, explicit_vr: bool) -> bytes:
    length = struct.pack("<I", len(image.native_bytes()))
    if explicit_vr:
        vr = b"OW" if image.bits_allocated > 8 else b"OB"
        return _PIXEL_TAG + vr + b"\x00\x00" + length
    return _PIXEL_TAG + length


def _pixel_digest(image: PixelImage, explicit_vr: bool) -> str:
    key = (id(image), explicit_vr)
    found = _pixel_digests.get(key)
    if found is None or found[0] is not image:
        digest = hashlib.sha256(_element_header(image, explicit_vr))
        digest.update(image.native_bytes())
        found = (image, digest.hexdigest())
        if len(_pixel_digests) > 64:
            _pixel_digests.clear()
        _pixel_digests[key] = found
    return found[1]


def write_file(path: Path, encoded: EncodedInstance) -> FileDigest:
    """Write ``encoded`` as a Part 10 file at ``path`` and return its digests."""
    ds = encoded.dataset
    buffer = DicomBytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    data = buffer.getvalue()
    image = encoded.stream
    if image is None:
        path.write_bytes(data)
        header, pixel = _split_at_pixel_data(data)
        return FileDigest(
            len(data),
            hashlib.sha256(header).hexdigest(),
            hashlib.sha256(pixel).hexdigest() if pixel else None,
        )
    explicit = ds.file_meta.TransferSyntaxUID.is_implicit_VR is False
    element = _element_header(image, explicit)
    pixels = image.native_bytes()
    with open(path, "wb") as out:
        out.write(data)
        out.write(element)
        out.write(pixels)
    return FileDigest(
        len(data) + len(element) + len(pixels),
        hashlib.sha256(data).hexdigest(),
        _pixel_digest(image, explicit),
    )


def _split_at_pixel_data(data: bytes) -> tuple[bytes, bytes]:
    """Split a written file at its top-level Pixel Data element (found by re-reading it)."""
    with DicomBytesIO(data) as fp:
        try:
            dcmread(fp, stop_before_pixels=True, force=True)
        except Exception:  # a deliberately broken file: hash it whole
            return data, b""
        offset = fp.tell()
    if data[offset : offset + 4] != _PIXEL_TAG:
        return data, b""
    return data[:offset], data[offset:]


def file_digests(path: Path) -> FileDigest:
    """The digests of any file, as the manifest records them."""
    data = path.read_bytes()
    header, pixel = _split_at_pixel_data(data)
    return FileDigest(
        len(data),
        hashlib.sha256(header).hexdigest(),
        hashlib.sha256(pixel).hexdigest() if pixel else None,
    )
