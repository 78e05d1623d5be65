"""What a lossy transfer syntax keeps: the spec's ``quality`` as a PSNR target, and how far it may
compress."""

from __future__ import annotations

import numpy as np

QUALITY_LEVELS: dict[str, float] = {"high": 45.0, "medium": 40.0, "low": 35.0}
"""The named levels of a spec's ``quality``: the least PSNR (dB) each lossy frame keeps, the peak
being 2**BitsStored - 1. The spec accepts 20–55 dB: JPEG Baseline at IJG quality 100 keeps about
58 dB even on uniform 8-bit noise, the hardest content; beyond that, a lossless syntax fits."""

DEFAULT_QUALITY = "high"
DEFAULT_PSNR = QUALITY_LEVELS[DEFAULT_QUALITY]
"""A lossy frame keeps at least 45 dB unless the spec says otherwise, whatever it shows."""


MAX_RATIO = 10.0
"""The most a lossy syntax compresses, relative to Bits Stored bits per pixel (the fixed rate it
used before ``quality``): a smooth image would keep 45 dB at hundreds to one, a rate no one uses
for diagnostic images. Content that cannot keep the quality at this rate gets less."""


def quality_psnr(quality: float | str | None) -> float:
    """The PSNR target (dB) of a spec's ``quality``: a number of dB, a level name, or None for
    the default."""
    if quality is None:
        return DEFAULT_PSNR
    if isinstance(quality, str):
        return QUALITY_LEVELS[quality]
    return float(quality)


def psnr(original: np.ndarray, decoded: np.ndarray, bits_stored: int) -> float:
    """Peak signal-to-noise ratio in dB, the peak being 2**bits_stored - 1 (inf if identical)."""
    mse = _exact_mse(original, decoded)
    if mse is None:
        error = original.astype(np.float64) - decoded.astype(np.float64)
        mse = float(np.mean(error * error))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(((1 << bits_stored) - 1) ** 2 / mse))


def stored_bytes(frame: np.ndarray, bits_stored: int) -> float:
    """The frame's size at ``bits_stored`` bits per pixel: what ``MAX_RATIO`` is relative to."""
    return frame.size * bits_stored / 8


_SMALL_INTS = frozenset(np.dtype(t) for t in (np.uint8, np.uint16, np.int8, np.int16))


def _exact_mse(original: np.ndarray, decoded: np.ndarray) -> float | None:
    """The mean squared error of two integer images, summed in integers (a quarter of the float
    way's time), or None where that might differ from the float way's result.

    The float way sums integer squares in float64: exact while every partial sum, at most the
    total, is below 2**53; then both give the same sum, divided by the same count."""
    if original.dtype not in _SMALL_INTS or decoded.dtype not in _SMALL_INTS:
        return None
    if original.shape != decoded.shape or not original.size:
        return None
    error = np.subtract(original, decoded, dtype=np.int32).ravel()
    total = int(np.einsum("i,i->", error, error, dtype=np.int64))
    if total >= 1 << 53:
        return None
    return float(total) / error.size
