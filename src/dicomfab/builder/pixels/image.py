"""The pixel data of one instance, before any transfer-syntax encoding."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
    # encoded frames by (transfer syntax name, quality target): instances that share the image
    # (a current study and its priors) in one syntax share one encoding (encoders are
    # deterministic)
    encoded: dict[tuple[str, float | None], list[bytes]] = field(
        default_factory=dict, repr=False, compare=False
    )
    # drawn on demand, one frame at a time: ``array`` then only has the shape and type (a
    # zero-stride view of one frame of zeros), ``draw(i)`` gives frame i
    draw: Callable[[int], np.ndarray] | None = field(default=None, repr=False)

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
        if self.draw is not None:
            raise ValueError("pixels drawn frame by frame have no native bytes in memory")
        if not self._native:
            data = self.array.astype(self.array.dtype.newbyteorder("<"), copy=False).tobytes()
            if len(data) % 2:
                data += b"\x00"
            self._native.append(data)
        return self._native[0]

    def frame_arrays(self) -> list[np.ndarray]:
        if self.draw is not None:
            raise ValueError("pixels drawn frame by frame: use iter_frames")
        return [self.array] if self.array.ndim == self._plane_axes else list(self.array)

    def iter_frames(self) -> Iterator[np.ndarray]:
        """The frames one at a time (drawn as they are asked for when ``draw`` is set)."""
        if self.draw is None:
            yield from self.frame_arrays()
            return
        for index in range(self.frames):
            yield self.draw(index)

    @classmethod
    def lazy(
        cls,
        frames: int,
        rows: int,
        columns: int,
        dtype: np.dtype,
        bits_stored: int,
        photometric: str,
        draw: Callable[[int], np.ndarray],
    ) -> PixelImage:
        """An image of ``frames`` frames that holds none of them: ``draw(i)`` makes frame i."""
        shape = (frames, rows, columns) if frames > 1 else (rows, columns)
        array = np.broadcast_to(np.zeros((rows, columns), dtype=dtype), shape)
        return cls(array, bits_stored, photometric, draw=draw)
