"""High-Throughput JPEG 2000 (ISO 15444-15) frame encoders, through imagecodecs (OpenJPH).

imagecodecs writes every sample at the precision of its dtype (8 or 16 bits), while DICOM wants
the codestream's component precision to be Bits Stored (a 14-bit mammogram coded at precision 16
is the "precision mismatch" of scenario ``pr_j2k_precision_mismatch``). So each frame is coded at
the cell's precision P with its samples raised by 2**(P-1) - 2**(B-1): after the encoder's DC
level shift of 2**(P-1) (ISO 15444-1 G.1) the coefficients are exactly those of a B-bit frame,
and the SIZ marker segment's precision is then rewritten to B, so that a decoder adds back
2**(B-1). A reversible codestream needs nothing else (its QCD exponents only bound the number of
bit-planes, which stay enough). An irreversible one also keeps each subband's quantisation step
2**(R_b - ε_b)·(1 + μ_b/2**11) (ISO 15444-1 E.1.1.1), R_b falling by P - B: ε_b falls by as
much and the guard bits G rise by as much, so that M_b = G + ε_b - 1 and every packet header
keep their meaning. Decoded by OpenJPEG (pylibjpeg-openjpeg) and OpenJPH alike, in the tests.

Codestream parsing for the checks (progression order, TLM, decomposition levels, precision,
reversible wavelet) is here too: a DICOM .202 codestream must be RPCL with TLM marker segments
and enough decompositions for a base resolution of at most 64 (PS3.5 10.18).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dicomfab.builder.transfer.encoders import check_frame
from dicomfab.builder.transfer.quality import DEFAULT_PSNR, MAX_RATIO
from dicomfab.errors import BuildError

SOC, SIZ, COD, QCD, TLM, SOT = 0xFF4F, 0xFF51, 0xFF52, 0xFF5C, 0xFF55, 0xFF90
RPCL = 2
"""Progression order byte of the COD marker segment for RPCL (ISO 15444-1 Table A.16)."""

DEFAULT_LEVELS = 5
"""OpenJPH's decomposition levels, kept unless a base resolution of ≤ 64 needs more."""

BASE_SIDE = 64
"""The largest side of the base resolution of a .202 codestream (PS3.5 10.18)."""

_STEPS = 7
"""Bisections of the quantisation step (log2, between 2**-16 and 1) towards the PSNR target:
1/8 of an octave, about 9 % of the step."""

_FINEST = -16.0
"""log2 of the finest quantisation step tried (imagecodecs takes none below 1e-5)."""

_SPARE = 0.1
"""dB kept above the target as OpenJPH decodes, for decoders that round the floating-point 9-7
wavelet differently (OpenJPEG differs by at most 1 on a few samples)."""


@dataclass(frozen=True)
class Header:
    """What the checks read from a codestream's main header."""

    precision: int  # SIZ Ssiz + 1 of the first component
    progression: int  # COD SGcod progression order
    levels: int  # COD SPcod decomposition levels
    reversible: bool  # COD SPcod transformation: 5-3
    tlm: bool  # a TLM marker segment is present
    tile_parts: int  # SOT marker segments in the codestream (those the TLM lists)


def main_header(codestream: bytes) -> dict[int, list[int]]:
    """Offset of each marker segment of the main header (up to the first SOT), by marker."""
    if codestream[:2] != SOC.to_bytes(2, "big"):
        raise BuildError("not a JPEG 2000 codestream (no SOC marker)")
    found: dict[int, list[int]] = {}
    at = 2
    while at + 4 <= len(codestream):
        marker = int.from_bytes(codestream[at : at + 2], "big")
        found.setdefault(marker, []).append(at)
        if marker == SOT:
            break
        at += 2 + int.from_bytes(codestream[at + 2 : at + 4], "big")
    return found


def read_header(codestream: bytes) -> Header:
    segments = main_header(codestream)
    siz, cod = segments[SIZ][0], segments[COD][0]
    tile_parts, at = 0, segments[SOT][0]
    while codestream[at : at + 2] == SOT.to_bytes(2, "big"):  # Psot: the tile-part's length
        tile_parts += 1
        at += int.from_bytes(codestream[at + 6 : at + 10], "big")
    return Header(
        precision=(codestream[siz + 40] & 0x7F) + 1,
        progression=codestream[cod + 5],
        levels=codestream[cod + 9],
        reversible=codestream[cod + 13] == 1,
        tlm=TLM in segments,
        tile_parts=tile_parts,
    )


def is_reversible(codestream: bytes) -> bool:
    """Whether a codestream uses the reversible 5-3 wavelet, i.e. was coded without loss."""
    return read_header(codestream).reversible


def rpcl_levels(rows: int, columns: int) -> int:
    """Decomposition levels for a .202 frame: OpenJPH's 5, or as many as bring the base
    resolution's larger side to ≤ 64."""
    return max(DEFAULT_LEVELS, math.ceil(math.log2(max(rows, columns, 1) / BASE_SIDE)))


def _coded(frame: np.ndarray, bits_stored: int) -> tuple[np.ndarray, int]:
    """The frame as it is given to OpenJPH (8-bit cells for ≤ 8 bits stored, each sample raised
    by 2**(P-1) - 2**(B-1)), and the bits P - B by which its precision exceeds Bits Stored."""
    cell = np.uint8 if bits_stored <= 8 else np.uint16
    depth = 8 * np.dtype(cell).itemsize
    raised = frame.astype(np.uint32) + ((1 << (depth - 1)) - (1 << (bits_stored - 1)))
    return raised.astype(cell), depth - bits_stored


def _at_bits_stored(codestream: bytes, bits_stored: int, excess: int) -> bytes | None:
    """``codestream`` with its precision ``excess`` bits lower (see the module docstring), or
    None where an irreversible one cannot take it (more than 7 guard bits)."""
    out = bytearray(codestream)
    segments = main_header(codestream)
    siz = segments[SIZ][0]
    out[siz + 40] = (codestream[siz + 40] & 0x80) | (bits_stored - 1)
    if codestream[segments[COD][0] + 13] == 1 or excess == 0:
        return bytes(out)
    qcd = segments[QCD][0]
    length = int.from_bytes(codestream[qcd + 2 : qcd + 4], "big")
    guard, style = codestream[qcd + 4] >> 5, codestream[qcd + 4] & 0x1F
    if guard + excess > 7 or style != 2:  # 2: scalar expounded, one (ε, μ) per subband
        return None
    out[qcd + 4] = ((guard + excess) << 5) | style
    for at in range(qcd + 5, qcd + 2 + length, 2):
        value = int.from_bytes(codestream[at : at + 2], "big")
        exponent, mantissa = value >> 11, value & 0x7FF
        if exponent < excess:
            return None
        out[at : at + 2] = (((exponent - excess) << 11) | mantissa).to_bytes(2, "big")
    return bytes(out)


def _encode(
    frame: np.ndarray,
    bits_stored: int,
    step: float | None = None,
    levels: int | None = None,
    rpcl_options: bool = False,
) -> bytes | None:
    """One codestream at Bits Stored precision: reversible without a quantisation ``step``;
    ``rpcl_options`` adds a TLM and one tile-part per resolution."""
    import imagecodecs

    coded, excess = _coded(frame, bits_stored)
    try:
        codestream = bytes(
            imagecodecs.htj2k_encode(
                coded,
                step,
                reversible=step is None,
                resolutions=levels,
                tlm=rpcl_options,
                tilepart=1 if rpcl_options else None,  # HTJ2K.TILEPART.RESOLUTIONS
            )
        )
    except (RuntimeError, ValueError) as exc:
        raise BuildError(
            f"could not encode a {frame.shape[0]}×{frame.shape[1]} frame, {bits_stored} bits "
            f"stored, as HTJ2K: {exc}"
        ) from exc
    return _at_bits_stored(codestream, bits_stored, excess)


def _lossless(
    frame: np.ndarray, bits_stored: int, levels: int | None = None, rpcl_options: bool = False
) -> bytes:
    codestream = _encode(frame, bits_stored, levels=levels, rpcl_options=rpcl_options)
    assert codestream is not None  # a reversible codestream always takes its precision
    return codestream


def encode_htj2k_lossless(frame: np.ndarray, bits_stored: int) -> bytes:
    """HTJ2K Lossless (1.2.840.10008.1.2.4.201): reversible 5-3, 5 levels, precision Bits
    Stored."""
    check_frame(frame, bits_stored, "HTJ2K Lossless")
    return _lossless(frame, bits_stored)


def encode_htj2k_rpcl_lossless(frame: np.ndarray, bits_stored: int) -> bytes:
    """HTJ2K with RPCL Options (1.2.840.10008.1.2.4.202): reversible, RPCL (OpenJPH's order),
    one tile-part per resolution listed in a TLM marker segment, and enough levels for a base
    resolution of ≤ 64 (PS3.5 10.18); checked on the codestream written."""
    check_frame(frame, bits_stored, "HTJ2K with RPCL Options")
    levels = rpcl_levels(*frame.shape)
    codestream = _lossless(frame, bits_stored, levels=levels, rpcl_options=True)
    header = read_header(codestream)
    if header.progression != RPCL or not header.tlm or header.levels != levels:
        raise BuildError(
            f"OpenJPH wrote progression {header.progression}, {header.levels} levels, TLM "
            f"{header.tlm}: not the RPCL, {levels} levels and TLM that .202 requires"
        )
    return codestream


def _keeps(frame: np.ndarray, codestream: bytes, bits_stored: int, target: float) -> bool:
    """Whether ``codestream`` decodes (OpenJPH) to at least ``target`` dB PSNR, plus ``_SPARE``.
    The squared error is summed in integers: a full-field frame measures in tens of
    milliseconds, not the second :func:`~dicomfab.builder.transfer.quality.psnr` takes."""
    import imagecodecs

    error = (imagecodecs.htj2k_decode(codestream).astype(np.int64) - frame).ravel()
    squared = int(np.dot(error, error))
    if squared == 0:
        return True
    peak = (1 << bits_stored) - 1
    return 10.0 * math.log10(peak * peak * frame.size / squared) >= target + _SPARE


def encode_htj2k_lossy(frame: np.ndarray, bits_stored: int, target: float = DEFAULT_PSNR) -> bytes:
    """HTJ2K (1.2.840.10008.1.2.4.203): irreversible 9-7 at the coarsest quantisation step that
    keeps ``target`` dB PSNR without compressing beyond ``MAX_RATIO``:1.

    OpenJPH has no rate control, only a base quantisation step; PSNR and size both fall as the
    step grows, so log2 of the step is bisected between -16 and 0 (``_STEPS`` times); an attempt
    is decoded and measured only once it is large enough. Where even the finest step misses the
    target, or the precision cannot be written irreversibly (fewer than 10 bits stored in 16-bit
    cells, 1 bit in 8), the frame is coded reversibly, which this transfer syntax allows: it is
    then exact (:func:`is_reversible`).
    """
    check_frame(frame, bits_stored, "HTJ2K")
    fewest = frame.size * bits_stored / 8 / MAX_RATIO

    def attempt(step: float) -> bytes | None:
        codestream = _encode(frame, bits_stored, step=2.0**step)
        if codestream is None:
            raise _Reversible
        ok = len(codestream) >= fewest and _keeps(frame, codestream, bits_stored, target)
        return codestream if ok else None

    low, high = _FINEST, 0.0
    best: bytes | None = None
    try:
        for _ in range(_STEPS):
            step = (low + high) / 2
            found = attempt(step)
            if found is not None:
                best, low = found, step
            else:
                high = step
        if best is None:
            best = attempt(_FINEST)
    except _Reversible:
        best = None
    return best if best is not None else _lossless(frame, bits_stored)


class _Reversible(Exception):
    """The precision cannot be written in an irreversible codestream: code the frame reversibly."""
