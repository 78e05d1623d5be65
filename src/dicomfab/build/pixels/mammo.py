"""Synthetic mammograms that a person recognises: breast outline against the chest wall, a darker
thin periphery and a skin line, fibroglandular texture concentrated behind the nipple, the pectoral
muscle in the upper corner of oblique views, quantum noise and optional calcification specks.

Speed matters (a real detector image is 3328 × 2560): the anatomy is composed at a quarter of the
resolution, enlarged by pixel repetition, and given full-resolution detail by adding a small noise
tile. Everything derives from ``seed``: the same patient has the same anatomy in every study.
The image is drawn for a left breast (chest wall on the left, IHE orientation) and mirrored for
the right one.
"""

from __future__ import annotations

import numpy as np

_SCALE = 4  # anatomy is composed at 1/_SCALE resolution
_TILE = 128  # full-resolution noise tile


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], beta: float) -> np.ndarray:
    """Gaussian noise with a 1/f**beta spectrum (fractal, like breast parenchyma), in [-1, 1]."""
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    radius = np.sqrt(fx * fx + fy * fy)
    radius[0, 0] = 1.0
    spectrum = rng.standard_normal((shape[0], fx.shape[1])) + 1j * rng.standard_normal(
        (shape[0], fx.shape[1])
    )
    spectrum /= radius**beta
    spectrum[0, 0] = 0
    field = np.fft.irfft2(spectrum, s=shape)
    field /= np.abs(field).max() or 1.0
    return field.astype(np.float32)


def _anatomy(seed: int, rows: int, cols: int, oblique: bool) -> np.ndarray:
    """Relative attenuation in [0, 1] for a left breast, background 0."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, rows, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, cols, dtype=np.float32)[None, :]

    depth = rng.uniform(0.62, 0.82)  # how far the breast reaches from the chest wall
    if oblique:
        centre, half = rng.uniform(0.50, 0.56), rng.uniform(0.40, 0.46)
    else:
        centre, half = rng.uniform(0.47, 0.53), rng.uniform(0.33, 0.40)
    # a slightly drooping half-ellipse: the nipple sits a little below the centre
    droop = rng.uniform(0.02, 0.06) * x / depth
    r2 = (x / depth) ** 2 + ((y - centre - droop) / half) ** 2
    if oblique:  # the axillary tail runs up to the top edge along the chest wall
        tail = np.clip(1.0 - x / (0.45 * depth), 0.0, 1.0) * (y < centre)
        r2 = np.minimum(r2, r2 * (1.0 - 0.6 * tail))
    inside = r2 < 1.0
    thickness = np.sqrt(np.clip(1.0 - r2, 0.0, 1.0))  # compressed breast: thinner at the edge

    texture = 0.6 * _smooth_noise(rng, (rows, cols), 1.6) + 0.4 * _smooth_noise(rng, (rows, cols), 1.1)
    # fibroglandular tissue sits behind the nipple, away from skin and chest wall
    glands = np.exp(-(((x / depth) - 0.45) ** 2) / 0.08 - ((y - centre) / half) ** 2 / 0.35)
    density = rng.uniform(0.35, 0.75)
    tissue = 0.30 + 0.45 * thickness + density * glands * np.clip(0.5 + texture, 0.0, 1.2)
    skin = np.exp(-((1.0 - r2) / 0.012) ** 2) * 0.25 * inside  # bright thin skin line
    image = np.where(inside, np.clip(tissue, 0.0, 1.0) * (0.25 + 0.75 * thickness**0.35) + skin, 0)

    if oblique:  # pectoral muscle: a bright triangle in the upper chest-wall corner
        top = rng.uniform(0.30, 0.42)  # width at the top edge
        height = rng.uniform(0.45, 0.60)
        edge = top * (1.0 - y / height) + 0.01 * _smooth_noise(rng, (rows, cols), 2.0)
        muscle = (x < edge) & (y < height)
        image = np.where(muscle, 0.82 + 0.08 * texture, image)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def _calcifications(rng: np.random.Generator, image: np.ndarray, top: int) -> None:
    """A cluster of small bright specks inside the breast (in place)."""
    rows, cols = image.shape
    inside = np.argwhere(image[:: _SCALE * 4, :: _SCALE * 4] > top * 0.5)
    if len(inside) == 0:
        return
    cy, cx = inside[rng.integers(len(inside))] * _SCALE * 4
    for _ in range(int(rng.integers(5, 12))):
        py = int(np.clip(cy + rng.normal(0, 40), 3, rows - 4))
        px = int(np.clip(cx + rng.normal(0, 40), 3, cols - 4))
        radius = int(rng.integers(1, 4))
        image[py - radius : py + radius + 1, px - radius : px + radius + 1] = top


def synthesize(
    seed: int,
    rows: int,
    cols: int,
    bits_stored: int,
    dtype: type[np.unsignedinteger],
    *,
    laterality: str = "L",
    oblique: bool = False,
    calcifications: bool = False,
) -> np.ndarray:
    """A rows × cols mammogram, values in [0, 2**bits_stored), MONOCHROME2 (dense is bright)."""
    small_rows, small_cols = max(8, -(-rows // _SCALE)), max(8, -(-cols // _SCALE))
    anatomy = _anatomy(seed, small_rows, small_cols, oblique)
    top = (1 << bits_stored) - 1
    levels = np.rint(anatomy * (0.86 * top)).astype(dtype)
    image = np.repeat(np.repeat(levels, _SCALE, axis=0), _SCALE, axis=1)[:rows, :cols]

    rng = np.random.default_rng(seed ^ 0x5EED)
    amplitude = max(1, top // 90)
    tile = rng.integers(0, 2 * amplitude + 1, size=(_TILE, _TILE)).astype(dtype)
    reps = (-(-rows // _TILE), -(-cols // _TILE))
    noise = np.tile(tile, reps)[:rows, :cols]
    body = image > 0
    image = np.where(body, image + noise, image)  # quantum noise only inside the breast
    if calcifications:
        _calcifications(rng, image, top)
    np.minimum(image, top, out=image)
    if laterality == "R":
        image = np.ascontiguousarray(image[:, ::-1])
    return image
