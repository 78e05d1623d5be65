"""Frame encoders for the compressed transfer syntaxes in :mod:`dicomfab.build.encoding`.

Each ``encode_*`` function takes ONE monochrome frame (rows × columns, ``uint8`` or ``uint16``,
unsigned, MONOCHROME2, every value < 2**bits_stored) and returns ONE codestream, ready for
``pydicom.encaps.encapsulate`` (which pads odd-length fragments itself). Bits Allocated is the
array's item size (8 or 16). All encoders are deterministic: same input, same bytes.

RLE, JPEG-LS and JPEG 2000 go through pydicom's encoder plugins (pylibjpeg-rle, pyjpegls,
pylibjpeg-openjpeg); the two DCT/lossless-JPEG syntaxes, which pydicom cannot encode, go through
GDCM in memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydicom.uid import UID

from dicomfab.errors import BuildError, TransferSyntaxError

J2K_LOSSY_RATIO = 10.0
"""Compression ratio for JPEG 2000 lossy (relative to ``bits_stored`` bits per pixel)."""

JPEG_BASELINE_QUALITY = 90
"""IJG quality (1–100) for JPEG baseline; GDCM's own default, 100, barely compresses."""

_J2K_MIN_SIDE = 32
"""pylibjpeg-openjpeg always uses 6 resolution levels, so both sides need 2**5 pixels."""


def _check(
    frame: np.ndarray,
    bits_stored: int,
    syntax: str,
    bits: tuple[int, int] = (1, 16),
    dtypes: tuple[type[np.unsignedinteger[Any]], ...] = (np.uint8, np.uint16),
    min_side: int = 1,
) -> None:
    """Raise TransferSyntaxError unless ``frame`` can be encoded as ``syntax``."""
    if frame.ndim != 2:
        raise TransferSyntaxError(
            f"{syntax}: expected one monochrome frame (rows × columns), got shape {frame.shape}"
        )
    if min(frame.shape) < min_side:
        raise TransferSyntaxError(
            f"{syntax}: a {frame.shape[0]}×{frame.shape[1]} frame is too small, the encoder "
            f"needs at least {min_side} rows and columns"
        )
    if frame.dtype.type not in dtypes:
        allowed = ", ".join(np.dtype(d).name for d in dtypes)
        raise TransferSyntaxError(f"{syntax}: pixel dtype must be {allowed}, not {frame.dtype}")
    low, high = bits
    if not low <= bits_stored <= min(high, 8 * frame.itemsize):
        raise TransferSyntaxError(
            f"{syntax} cannot hold {bits_stored} bits stored in a {frame.dtype} frame "
            f"(it supports {low}–{high} bits stored, at most the dtype's {8 * frame.itemsize})"
        )
    if frame.size and int(frame.max()) >= 1 << bits_stored:
        raise TransferSyntaxError(
            f"{syntax}: pixel value {int(frame.max())} does not fit in {bits_stored} bits stored"
        )


def _pydicom_encode(frame: np.ndarray, bits_stored: int, uid: UID, **options: Any) -> bytes:
    """Encode ``frame`` with pydicom's encoder for ``uid``."""
    from pydicom.pixels.encoders.base import get_encoder

    encoder = get_encoder(uid)
    try:
        encoded = encoder.encode(
            np.ascontiguousarray(frame),
            rows=frame.shape[0],
            columns=frame.shape[1],
            samples_per_pixel=1,
            bits_allocated=8 * frame.itemsize,
            bits_stored=bits_stored,
            pixel_representation=0,
            photometric_interpretation="MONOCHROME2",
            number_of_frames=1,
            **options,
        )
    except (ValueError, RuntimeError) as exc:
        raise BuildError(
            f"could not encode a {frame.shape[0]}×{frame.shape[1]} frame, {bits_stored} bits "
            f"stored, as {uid.name}: {exc}"
        ) from exc
    return bytes(encoded)  # pyjpegls returns a bytearray


def encode_rle(frame: np.ndarray, bits_stored: int) -> bytes:
    """DICOM RLE Lossless (1.2.840.10008.1.2.5): pylibjpeg-rle, else pydicom's own encoder.

    The plugin is chosen explicitly: pydicom would try GDCM first, whose RLE encoder can abort
    the whole process. Bits Stored is passed as Bits Allocated (RLE segments are whole bytes
    and do not record it), or pydicom would shrink a uint16 frame of ≤ 8 bits stored to one
    byte per pixel and the encoder would reject it.
    """
    from pydicom.pixels.encoders import RLELosslessEncoder
    from pydicom.uid import RLELossless

    _check(frame, bits_stored, "RLE Lossless")
    plugin = "pylibjpeg" if "pylibjpeg" in RLELosslessEncoder.available_plugins else "pydicom"
    return _pydicom_encode(frame, 8 * frame.itemsize, RLELossless, encoding_plugin=plugin)


def jpeg_ls_precision(bits_stored: int, bits_allocated: int) -> int:
    """The sample precision P written in a JPEG-LS codestream for pixels of ``bits_stored`` bits
    in ``bits_allocated``-bit cells.

    A JPEG-LS decoder returns one byte per sample when P ≤ 8 and two otherwise, and readers
    check that against Bits Allocated: DCMTK 3.6.7 (dcmdjpls) and GDCM refuse P ≤ 8 in 16-bit
    cells ("image data mismatch") and P < 8 in 8-bit cells (pydicom issues 2008, 2010), while
    all of them, pyjpegls and pylibjpeg decode P = 8 in 8-bit cells and P = 9–16 in 16-bit
    cells. So P is Bits Stored where that is accepted, else the nearest accepted precision;
    the pixel values are unchanged (each fits in P bits).
    """
    if bits_allocated <= 8:
        return 8
    return max(bits_stored, 9)


def encode_jpeg_ls(frame: np.ndarray, bits_stored: int) -> bytes:
    """JPEG-LS Lossless (1.2.840.10008.1.2.4.80) via pyjpegls (CharLS), 2–16 bits stored,
    written at the precision of :func:`jpeg_ls_precision` so that DCMTK and GDCM decode it."""
    from pydicom.uid import JPEGLSLossless

    _check(frame, bits_stored, "JPEG-LS Lossless", bits=(2, 16))
    precision = jpeg_ls_precision(bits_stored, 8 * frame.itemsize)
    return _pydicom_encode(frame, precision, JPEGLSLossless)


def encode_j2k_lossless(frame: np.ndarray, bits_stored: int) -> bytes:
    """JPEG 2000 Lossless (1.2.840.10008.1.2.4.90): reversible 5-3, precision = bits_stored."""
    from pydicom.uid import JPEG2000Lossless

    _check(frame, bits_stored, "JPEG 2000 Lossless", min_side=_J2K_MIN_SIDE)
    return _pydicom_encode(frame, bits_stored, JPEG2000Lossless)


def encode_j2k_lossy(frame: np.ndarray, bits_stored: int) -> bytes:
    """JPEG 2000 (1.2.840.10008.1.2.4.91): irreversible 9-7 at ``J2K_LOSSY_RATIO``:1."""
    from pydicom.uid import JPEG2000

    _check(frame, bits_stored, "JPEG 2000", min_side=_J2K_MIN_SIDE)
    return _pydicom_encode(frame, bits_stored, JPEG2000, j2k_cr=[J2K_LOSSY_RATIO])


def encode_jpeg_baseline(frame: np.ndarray, bits_stored: int) -> bytes:
    """JPEG Baseline (1.2.840.10008.1.2.4.50), 8-bit only, via GDCM."""
    import gdcm

    _check(frame, bits_stored, "JPEG Baseline", bits=(8, 8), dtypes=(np.uint8,))
    return _gdcm_encode(frame, bits_stored, gdcm.TransferSyntax.JPEGBaselineProcess1)


def encode_jpeg_lossless_sv1(frame: np.ndarray, bits_stored: int) -> bytes:
    """JPEG Lossless, Process 14 SV1 (1.2.840.10008.1.2.4.70), 2–16 bits, via GDCM."""
    import gdcm

    _check(frame, bits_stored, "JPEG Lossless SV1", bits=(2, 16))
    return _gdcm_encode(frame, bits_stored, gdcm.TransferSyntax.JPEGLosslessProcess14_1)


def _gdcm_encode(frame: np.ndarray, bits_stored: int, syntax: int) -> bytes:
    """Encode one frame in memory with GDCM's ImageChangeTransferSyntax.

    GDCM pads the raw Pixel Data to an even length and then (since its fix for TALOS-2025-2210)
    refuses a frame whose length is not exactly rows × columns × bytes, so an 8-bit frame with an
    odd pixel count cannot go in alone. It goes in twice, as a two-frame image, and we keep the
    first of the two identical codestreams.
    """
    import gdcm

    rows, cols = frame.shape
    raw = np.ascontiguousarray(frame, dtype=frame.dtype.newbyteorder("<")).tobytes()
    copies = 2 if len(raw) % 2 else 1

    img = gdcm.Image()
    img.SetNumberOfDimensions(3 if copies > 1 else 2)
    img.SetDimension(0, cols)
    img.SetDimension(1, rows)
    if copies > 1:
        img.SetDimension(2, copies)
    # GDCM takes the JPEG sample precision P from Bits Allocated and has 8-, 12- and 16-bit
    # codecs; declaring 12 for 9–12 bits stored (data still in 2-byte cells) gives P = 12, so a
    # 12-bit frame gets P = Bits Stored instead of 16.
    allocated = 12 if 8 < bits_stored <= 12 else 8 * frame.itemsize
    img.SetPixelFormat(gdcm.PixelFormat(1, allocated, bits_stored, bits_stored - 1, 0))
    img.SetPhotometricInterpretation(
        gdcm.PhotometricInterpretation(gdcm.PhotometricInterpretation.MONOCHROME2)
    )
    img.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.ExplicitVRLittleEndian))
    pixel_data = gdcm.DataElement(gdcm.Tag(0x7FE0, 0x0010))
    pixel_data.SetByteStringValue(raw * copies)
    img.SetDataElement(pixel_data)

    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(syntax))
    if syntax == gdcm.TransferSyntax.JPEGBaselineProcess1:
        codec = gdcm.JPEGCodec()  # a local, so it outlives change.Change()
        codec.SetLossless(False)
        codec.SetQuality(JPEG_BASELINE_QUALITY)
        change.SetUserCodec(codec)
    img.thisown = False  # the change filter takes ownership; else a double free on exit
    change.SetInput(img)
    if not change.Change():
        raise BuildError(
            f"GDCM could not encode a {rows}×{cols} frame, {bits_stored} bits stored, "
            f"to transfer syntax {gdcm.TransferSyntax.GetTSString(syntax)}"
        )
    fragments = change.GetOutput().GetDataElement().GetSequenceOfFragments()
    # SWIG hands the fragment over as a str; surrogateescape gets the original bytes back.
    buffer: str = fragments.GetFragment(0).GetByteValue().GetBuffer()
    return buffer.encode("utf-8", "surrogateescape")
