"""Frame encoders that go through GDCM in memory: the JPEG syntaxes pydicom cannot encode (JPEG
Baseline and Extended, lossy at a PSNR target; JPEG Lossless SV1). Same contract as
:mod:`dicomfab.builder.transfer.encoders`: one monochrome frame in, one deterministic
codestream out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from dicomfab.builder.transfer.encoders import check_frame
from dicomfab.builder.transfer.quality import DEFAULT_PSNR, MAX_RATIO, psnr, stored_bytes
from dicomfab.errors import BuildError


def encode_jpeg_baseline(
    frame: np.ndarray, bits_stored: int, target: float = DEFAULT_PSNR
) -> bytes:
    """JPEG Baseline (1.2.840.10008.1.2.4.50), 8-bit only, via GDCM, at the quality of
    :func:`_jpeg_dct`."""
    import gdcm

    check_frame(frame, bits_stored, "JPEG Baseline", bits=(8, 8), dtypes=(np.uint8,))
    return _jpeg_dct(frame, bits_stored, target, gdcm.TransferSyntax.JPEGBaselineProcess1)


def encode_jpeg_extended(
    frame: np.ndarray, bits_stored: int, target: float = DEFAULT_PSNR
) -> bytes:
    """JPEG Extended (Process 2 & 4, 1.2.840.10008.1.2.4.51), 12-bit samples (sample precision 12
    in the SOF1 marker) in 16-bit cells, via GDCM, at the quality of :func:`_jpeg_dct`."""
    import gdcm

    check_frame(frame, bits_stored, "JPEG Extended", bits=(12, 12), dtypes=(np.uint16,))
    return _jpeg_dct(frame, bits_stored, target, gdcm.TransferSyntax.JPEGExtendedProcess2_4)


def _jpeg_dct(frame: np.ndarray, bits_stored: int, target: float, syntax: int) -> bytes:
    """A lossy (DCT) JPEG codestream at the lowest IJG quality (the highest compression) that
    keeps ``target`` dB PSNR and compresses at most ``MAX_RATIO``:1, found among qualities 1–100
    (both conditions only get easier as the quality rises), each candidate decoded with libjpeg
    and measured. A candidate shorter than that ratio allows fails whatever its PSNR, so it is
    not decoded.

    The answer is the one a bisection finds (the same wherever both conditions are monotonic),
    in fewer attempts (each an encode, and a decode unless the candidate is too short):
    :func:`_next_quality` interpolates where the lengths and PSNRs measured so far cross their
    limits and tries there, then next to it; an attempt that leaves more than half of a wide
    range was misled, and the next one bisects."""
    import libjpeg

    most = stored_bytes(frame, bits_stored) / MAX_RATIO  # fewest bytes allowed
    tried: dict[int, tuple[bytes, float]] = {}

    def passes(quality: int) -> bool:
        codestream = _gdcm_encode(frame, bits_stored, syntax, quality)
        if quality < 100 and len(codestream) < most:
            achieved = float("-inf")  # fails on length: its PSNR does not matter
        else:
            achieved = psnr(frame, libjpeg.decode(codestream), bits_stored)
        tried[quality] = codestream, achieved
        return achieved >= target and len(codestream) >= most

    passes(100)
    best, achieved = tried[100]
    if achieved < target:
        raise BuildError(
            f"JPEG cannot keep {target:g} dB PSNR on this {frame.shape[0]}×{frame.shape[1]} "
            f"frame ({achieved:.1f} dB at quality 100); lower the quality or choose a lossless "
            "transfer syntax"
        )
    if len(best) < most:  # compresses beyond MAX_RATIO even at the best quality
        return best
    low, high = 1, 100  # the answer is in [low, high]; high passes
    aim = True
    while low < high:
        width = high - low
        quality = _next_quality(tried, target, most, low, high) if aim else (low + high) // 2
        if passes(quality):
            high = quality
        else:
            low = quality + 1
        # (the PSNR of 8-bit frames is not always monotonic in the quality)
        aim = not aim or high - low <= max(2, width // 2)
    return tried[high][0]


def _next_quality(
    tried: Mapping[int, tuple[bytes, float]], target: float, most: float, low: int, high: int
) -> int:
    """The quality to try next, in [low, high - 1]: where the codestream length reaches ``most``
    and the PSNR reaches ``target``, interpolated between the nearest measurements on either
    side of each (length on a log scale), whichever is higher; the middle of [low, high] before
    anything can be interpolated. A right guess ends the search with the next attempt, the
    quality below it."""
    lengths = [(q, math.log(len(c))) for q, (c, _) in tried.items()]
    psnrs = [(q, p) for q, (_, p) in tried.items() if p != float("-inf")]
    guesses = [
        g for g in (_crossing(lengths, math.log(most)), _crossing(psnrs, target)) if g is not None
    ]
    guess = max(guesses) if guesses else (low + high) // 2
    return max(low, min(high - 1, guess))


def _crossing(points: list[tuple[int, float]], limit: float) -> int | None:
    """The lowest quality whose value reaches ``limit``, on the line through the two measured
    values nearest to it (the secant method: on one side of the limit, it extrapolates); None
    until the limit has been crossed or with no such line."""
    if not any(v < limit for _, v in points) or not any(v >= limit for _, v in points):
        return None
    (q1, v1), (q2, v2) = sorted(points, key=lambda point: abs(point[1] - limit))[:2]
    if (v2 - v1) * (q2 - q1) <= 0:  # flat or falling here: no line to follow
        return None
    return math.ceil(q1 + (limit - v1) * (q2 - q1) / (v2 - v1))


def encode_jpeg_lossless_sv1(frame: np.ndarray, bits_stored: int) -> bytes:
    """JPEG Lossless, Process 14 SV1 (1.2.840.10008.1.2.4.70), 2–16 bits, via GDCM."""
    import gdcm

    check_frame(frame, bits_stored, "JPEG Lossless SV1", bits=(2, 16))
    return _gdcm_encode(frame, bits_stored, gdcm.TransferSyntax.JPEGLosslessProcess14_1)


def _gdcm_encode(frame: np.ndarray, bits_stored: int, syntax: int, quality: int = 100) -> bytes:
    """Encode one frame in memory with GDCM's ImageChangeTransferSyntax (``quality``: the IJG
    quality of JPEG Baseline).

    GDCM pads the raw Pixel Data to an even length and then (since its fix for TALOS-2025-2210)
    refuses a frame whose length is not exactly rows × columns × bytes, so an 8-bit frame with an
    odd pixel count cannot go in alone. It goes in twice, as a two-frame image, and we keep the
    first of the two identical codestreams.
    """
    import ctypes

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
    if syntax in (
        gdcm.TransferSyntax.JPEGBaselineProcess1,
        gdcm.TransferSyntax.JPEGExtendedProcess2_4,
    ):
        codec = gdcm.JPEGCodec()  # a local, so it outlives change.Change()
        codec.SetLossless(False)
        codec.SetQuality(quality)
        change.SetUserCodec(codec)
    img.thisown = False  # the change filter takes ownership; else a double free on exit
    change.SetInput(img)
    if not change.Change():
        raise BuildError(
            f"GDCM could not encode a {rows}×{cols} frame, {bits_stored} bits stored, "
            f"to transfer syntax {gdcm.TransferSyntax.GetTSString(syntax)}"
        )
    fragments = change.GetOutput().GetDataElement().GetSequenceOfFragments()
    value = fragments.GetFragment(0).GetByteValue()
    # SWIG's GetBuffer() decodes the fragment into a str (surrogateescape gets the bytes back),
    # several ms a frame; copying the bytes from GDCM's buffer is a memcpy. ``change`` owns it.
    length = int(str(value.GetLength()))  # a gdcm.VL prints as its value; it has no __int__
    pointer = value.GetVoidPointer()
    if pointer is None or not length:
        return b""
    return ctypes.string_at(int(pointer), length)
