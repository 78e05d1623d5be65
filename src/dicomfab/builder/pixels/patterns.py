"""Simple test patterns for non-breast images (DX, CR, SC, MR priors): recognisable, cheap."""

from __future__ import annotations

import numpy as np


def synthesize(
    pattern: str, seed: int, rows: int, cols: int, bits_stored: int, dtype: type[np.unsignedinteger]
) -> np.ndarray:
    top = (1 << bits_stored) - 1
    rng = np.random.default_rng(seed)
    if pattern == "blank":
        return np.zeros((rows, cols), dtype=dtype)
    if pattern == "noise":
        return rng.integers(0, top + 1, size=(rows, cols)).astype(dtype)
    if pattern == "checkerboard":
        cell = max(1, min(rows, cols) // 8)
        yy, xx = np.indices((rows, cols))
        return np.where(((yy // cell) + (xx // cell)) % 2 == 0, top, top // 4).astype(dtype)
    # gradient phantom: a diagonal ramp with a bright disc and a darker ring, like a QA phantom
    y = np.linspace(-1.0, 1.0, rows, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, cols, dtype=np.float32)[None, :]
    ramp = (x + y + 2.0) / 4.0
    r = np.sqrt(x * x + y * y)
    disc = (r < 0.35).astype(np.float32) * 0.35
    ring = ((r > 0.6) & (r < 0.7)).astype(np.float32) * -0.25
    shift = rng.uniform(-0.05, 0.05)
    image = np.clip(0.15 + 0.6 * ramp + disc + ring + shift, 0.0, 1.0)
    return np.rint(image * top).astype(dtype)
