"""Frame encoders that go through pydicom's encoder plugins: RLE (pylibjpeg-rle), JPEG-LS
(pyjpegls) and JPEG 2000 (pylibjpeg-openjpeg); the JPEG syntaxes pydicom cannot encode are in
:mod:`dicomfab.builder.transfer.gdcm_encoders`.

Each ``encode_*`` function takes ONE monochrome frame (rows × columns, ``uint8`` or ``uint16``,
unsigned, MONOCHROME2, every value < 2**bits_stored) and returns ONE codestream, ready for
``pydicom.encaps.encapsulate`` (which pads odd-length fragments itself). Bits Allocated is the
array's item size (8 or 16). All encoders are deterministic: same input, same bytes. A codec
library is imported inside the function that uses it, never at module level: the registry checks
that it is importable first and names the pip package when it is not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydicom.uid import UID

from dicomfab.builder.transfer.quality import DEFAULT_PSNR, MAX_RATIO, psnr
from dicomfab.errors import BuildError, TransferSyntaxError

_J2K_TRIES = 6
"""JPEG 2000 attempts at a PSNR target before coding the frame reversibly."""

J2K_MIN_SIDE = 32
"""pylibjpeg-openjpeg always uses 6 resolution levels, so both sides need 2**5 pixels."""


def check_frame(
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


def pydicom_encode(frame: np.ndarray, bits_stored: int, uid: UID, **options: Any) -> bytes:
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

    check_frame(frame, bits_stored, "RLE Lossless")
    plugin = "pylibjpeg" if "pylibjpeg" in RLELosslessEncoder.available_plugins else "pydicom"
    return pydicom_encode(frame, 8 * frame.itemsize, RLELossless, encoding_plugin=plugin)


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

    check_frame(frame, bits_stored, "JPEG-LS Lossless", bits=(2, 16))
    precision = jpeg_ls_precision(bits_stored, 8 * frame.itemsize)
    return pydicom_encode(frame, precision, JPEGLSLossless)


def j2k_precision(bits_stored: int) -> int:
    """The component precision written in a JPEG 2000 codestream: Bits Stored, but at least 2.

    OpenJPEG fails (``opj_encode()``) on 1-bit noise of a few hundred pixels a side; the same
    values at precision 2 encode, and pydicom (pylibjpeg, GDCM, Pillow) and GDCM decode them
    into the same 0/1 pixels.
    """
    return max(bits_stored, 2)


def encode_j2k_lossless(frame: np.ndarray, bits_stored: int) -> bytes:
    """JPEG 2000 Lossless (1.2.840.10008.1.2.4.90): reversible 5-3 at :func:`j2k_precision`."""
    from pydicom.uid import JPEG2000Lossless

    check_frame(frame, bits_stored, "JPEG 2000 Lossless", min_side=J2K_MIN_SIDE)
    return pydicom_encode(frame, j2k_precision(bits_stored), JPEG2000Lossless)


def encode_j2k_lossy(frame: np.ndarray, bits_stored: int, target: float = DEFAULT_PSNR) -> bytes:
    """JPEG 2000 (1.2.840.10008.1.2.4.91): irreversible 9-7 at ``MAX_RATIO``:1, or at the
    highest compression that keeps ``target`` dB PSNR where that ratio would not.

    OpenJPEG's own PSNR rate control misses by a few dB either way, so each attempt is decoded
    and measured, and the request raised by the shortfall. The 9-7 wavelet's quantisation cannot
    reach the target on some content (a few bits stored, noise); such a frame is coded reversibly
    (5-3), which this transfer syntax allows: it is then exact, not lossy
    (:func:`j2k_is_reversible`).
    """
    import openjpeg
    from pydicom.uid import JPEG2000, JPEG2000Lossless

    check_frame(frame, bits_stored, "JPEG 2000", min_side=J2K_MIN_SIDE)
    precision = j2k_precision(bits_stored)
    codestream = pydicom_encode(frame, precision, JPEG2000, j2k_cr=[MAX_RATIO])
    if psnr(frame, openjpeg.decode(codestream), bits_stored) >= target:
        return codestream
    request, previous = target, float("-inf")
    for _ in range(_J2K_TRIES):
        codestream = pydicom_encode(frame, precision, JPEG2000, j2k_psnr=[request])
        achieved = psnr(frame, openjpeg.decode(codestream), bits_stored)
        if achieved >= target:
            return codestream
        if achieved <= previous + 0.1:  # asking for more no longer helps: the quantiser's floor
            break
        previous = achieved
        request += max(1.0, target - achieved)
    return pydicom_encode(frame, precision, JPEG2000Lossless)


def j2k_is_reversible(codestream: bytes) -> bool:
    """Whether a JPEG 2000 codestream uses the reversible 5-3 wavelet (its COD marker segment's
    transformation byte, ISO 15444-1 A.6.1), i.e. was coded without loss by this module."""
    cod = codestream.find(b"\xff\x52")
    return cod >= 0 and codestream[cod + 13] == 1


def jpeg_ls_near(bits_stored: int, target: float) -> int:
    """The NEAR parameter (the largest error allowed per sample) that keeps ``target`` dB PSNR
    whatever the content: an error of at most NEAR gives a mean squared error of at most NEAR².
    At most 255, the largest NEAR pyjpegls takes."""
    peak = (1 << bits_stored) - 1
    return min(255, max(0, int(peak / 10 ** (target / 20))))


def encode_jpeg_ls_near_lossless(
    frame: np.ndarray, bits_stored: int, target: float = DEFAULT_PSNR
) -> bytes:
    """JPEG-LS Lossy (Near-Lossless), 1.2.840.10008.1.2.4.81, via pyjpegls (CharLS): NEAR from
    :func:`jpeg_ls_near`, so every frame keeps ``target`` dB PSNR by construction; halved while
    the frame would compress beyond ``MAX_RATIO``:1. NEAR 0 (a few bits stored at a high target)
    is lossless coding, which this syntax allows (:func:`jpeg_ls_is_lossless`). So is a frame
    written at a sample precision above Bits Stored: a reconstructed sample may exceed the
    requested value by up to NEAR, and 2**BitsStored - 1 would no longer bound it."""
    from pydicom.uid import JPEGLSNearLossless

    check_frame(frame, bits_stored, "JPEG-LS Near-Lossless", bits=(2, 16))
    precision = jpeg_ls_precision(bits_stored, 8 * frame.itemsize)
    near = jpeg_ls_near(bits_stored, target) if precision == bits_stored else 0
    fewest = frame.size * bits_stored / 8 / MAX_RATIO
    while True:
        codestream = pydicom_encode(frame, precision, JPEGLSNearLossless, jls_error=near)
        if near == 0 or len(codestream) >= fewest:
            return codestream
        near //= 2


def jpeg_ls_is_lossless(codestream: bytes) -> bool:
    """Whether a JPEG-LS codestream was coded with NEAR 0 (its SOS marker segment, ISO 14495-1
    C.2.3: length, Ns, Ns × (Ci, Tmi), NEAR, ILV, Al/Ah)."""
    sos = codestream.find(b"\xff\xda")
    if sos < 0:
        return False
    components = codestream[sos + 4]
    return codestream[sos + 5 + 2 * components] == 0
