"""The pixel data of one instance, before any transfer-syntax encoding."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class PixelImage:
    """Monochrome pixels: ``array`` is (rows, columns) or (frames, rows, columns), uint8 or uint16,
    every value below ``2 ** bits_stored``; RGB pixels (``samples`` 3) add a last axis of three,
    pixel-interleaved (Planar Configuration 0). Read-only: it is shared between instances."""

    array: np.ndarray
    bits_stored: int
    photometric: str = "MONOCHROME2"
    samples: int = 1  # Samples per Pixel: 1, or 3 for RGB
    _native: list[bytes] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.array.setflags(write=False)

    @property
    def _plane_axes(self) -> int:
        """The number of axes of one frame: 2 (rows, columns), 3 with samples."""
        return 2 if self.samples == 1 else 3

    @property
    def frames(self) -> int:
        return 1 if self.array.ndim == self._plane_axes else int(self.array.shape[0])

    @property
    def rows(self) -> int:
        return int(self.array.shape[-self._plane_axes])

    @property
    def columns(self) -> int:
        return int(self.array.shape[1 - self._plane_axes])

    @property
    def bits_allocated(self) -> int:
        return self.array.dtype.itemsize * 8

    @property
    def high_bit(self) -> int:
        return self.bits_stored - 1

    def native_bytes(self) -> bytes:
        """Little-endian bytes, padded to even length; computed once and shared."""
        if not self._native:
            data = self.array.astype(self.array.dtype.newbyteorder("<"), copy=False).tobytes()
            if len(data) % 2:
                data += b"\x00"
            self._native.append(data)
        return self._native[0]

    def frame_arrays(self) -> list[np.ndarray]:
        return [self.array] if self.array.ndim == self._plane_axes else list(self.array)
