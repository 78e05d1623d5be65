"""Synthetic mammograms that a person recognises as such.

What is drawn (for a left breast: chest wall on the left, IHE orientation; mirrored for the right):

* the outline: CC a half-disc against the chest wall with the nipple 55–70 % across; MLO longer,
  narrow at the top where the axillary tail leaves the image, widest below the nipple and curving
  back to the chest wall at the inframammary fold; the nipple in profile;
* a compressed breast: uniform in the middle, thinner (darker) over the last 1–2 cm to the skin,
  and a thin, slightly brighter skin line;
* the pectoral muscle in MLO: a band in the upper chest-wall corner reaching about a third down,
  with a slightly convex, soft anterior edge, brighter than fat, with faint fibres along it;
* fibroglandular tissue behind the nipple, clear of the subcutaneous and retromammary fat: an
  irregular, flame-like cloud whose texture is streaky, made of ducts and strands converging on
  the nipple (noise drawn in a polar frame centred on the nipple, elongated along the rays), with
  darker fat lobules; Cooper's ligaments as thin curvilinear strands in the fat, a few vessels;
  density from almost entirely fatty to extremely dense;
* quantum noise, and optionally a cluster of calcification specks (small bright dots).

Speed matters (a real detector image is 3328 × 2560, a dataset holds hundreds, and the benchmark
wants generation at disk speed): the anatomy is composed in float32 at 1/8 of the resolution
(where a whole-image operation costs some 30 µs), enlarged bilinearly to 1/4, quantised there,
and written to full resolution by integer pixel repetition with the noise added in the same pass,
row band by row band, only where the breast is. The outline is cut at full resolution, row by
row, so the skin edge is smooth. No full-resolution float pass and no full-size temporary: one
full-resolution write per image. Everything derives from ``seed`` (no global RNG state): the same
seed gives the same image, so one patient has the same anatomy in every study.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

_COARSE = 8  # the anatomy is composed at 1/_COARSE resolution ...
_SCALE = 4  # ... enlarged bilinearly to 1/_SCALE, then by pixel repetition to full resolution
_BAND = 128  # rows in the full-resolution quantum-noise band
_F32 = np.float32


@dataclass(frozen=True)
class _Shape:
    """Where the breast is, in fractions of the image: X across (0 = chest wall), Y down."""

    oblique: bool
    nipple_x: float
    nipple_y: float
    above: float  # CC: extent above / below the nipple (fraction of height)
    below: float
    power: float  # superellipse exponent of the (lower, MLO) contour
    top_x: float  # MLO: where the contour leaves the top edge
    fold_y: float  # MLO: where the contour meets the chest wall (inframammary fold; may be > 1)
    rise: float  # MLO: curvature of the upper contour
    nipple: float  # how far the nipple stands out
    wobble: tuple[tuple[float, float, float], ...]  # (amplitude, frequency, phase) of the contour

    def edge(self, y: np.ndarray) -> np.ndarray:
        """X of the skin for each Y (0 where the row holds no breast), float64."""
        y = np.asarray(y, dtype=np.float64)
        if self.oblique:
            s = np.clip(y / self.nipple_y, 0.0, 1.0)
            upper = self.top_x + (self.nipple_x - self.top_x) * (1.0 - (1.0 - s) ** self.rise)
            t = np.clip((y - self.nipple_y) / (self.fold_y - self.nipple_y), 0.0, 1.0)
            lower = self.nipple_x * (1.0 - t**self.power) ** (1.0 / self.power)
            x = np.where(y < self.nipple_y, upper, lower)
        else:
            half = np.where(y < self.nipple_y, self.above, self.below)
            t = np.clip(np.abs(y - self.nipple_y) / half, 0.0, 1.0)
            x = self.nipple_x * (1.0 - t**self.power) ** (1.0 / self.power)
        for amplitude, frequency, phase in self.wobble:
            x = x * (1.0 + amplitude * np.sin(frequency * y + phase))
        x = x + self.nipple * np.exp(-(((y - self.nipple_y) / 0.018) ** 2))
        return np.where(x > 0.004, x, 0.0)


def _shape(rng: np.random.Generator, oblique: bool) -> _Shape:
    wobble = tuple(
        (rng.uniform(0.003, 0.01), rng.uniform(6.0, 16.0), rng.uniform(0, 2 * np.pi))
        for _ in range(3)
    )
    nipple = rng.uniform(0.004, 0.009)
    if oblique:
        return _Shape(
            oblique=True,
            nipple_x=rng.uniform(0.60, 0.72),
            nipple_y=rng.uniform(0.52, 0.62),
            above=0.0,
            below=0.0,
            power=rng.uniform(1.9, 2.4),
            top_x=rng.uniform(0.36, 0.48),
            fold_y=rng.uniform(0.92, 1.06),
            rise=rng.uniform(1.7, 2.3),
            nipple=nipple,
            wobble=wobble,
        )
    return _Shape(
        oblique=False,
        nipple_x=rng.uniform(0.55, 0.70),
        nipple_y=rng.uniform(0.46, 0.54),
        above=rng.uniform(0.34, 0.46),
        below=rng.uniform(0.32, 0.44),
        power=rng.uniform(1.7, 2.2),
        top_x=0.0,
        fold_y=0.0,
        rise=0.0,
        nipple=nipple,
        wobble=wobble,
    )


def _spectral_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    beta: float,
    stretch: float = 1.0,
    low: float = 0.0,
    high: float = 0.0,
) -> np.ndarray:
    """Gaussian noise with a 1/f**beta amplitude spectrum, unit standard deviation, float32.

    ``stretch`` > 1 makes it correlated along axis 1 (its frequencies count ``stretch`` times
    more), < 1 along axis 0; ``low``/``high`` (cycles per sample) make it band-pass."""
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :] * stretch
    f2 = fy * fy + fx * fx
    f2[0, 0] = 1.0
    amplitude = f2 ** (-beta / 2)
    if low:
        amplitude *= 1.0 - np.exp(-f2 / (low * low))
    if high:
        amplitude *= np.exp(-f2 / (high * high))
    amplitude[0, 0] = 0.0
    size = (shape[0], fx.shape[1])
    real = rng.standard_normal(size, dtype=_F32)
    imag = rng.standard_normal(size, dtype=_F32)
    spectrum = (real + 1j * imag).astype(np.complex64) * amplitude.astype(_F32)
    field = np.fft.irfft2(spectrum, s=shape).astype(_F32)
    field /= field.std() or _F32(1.0)
    return field


def _resize(field: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Bilinear resize of a small float32 field to rows × cols."""

    def axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.linspace(0.0, n_in - 1.0, n_out, dtype=_F32)
        i0 = np.minimum(pos.astype(np.intp), n_in - 2)
        return i0, i0 + 1, pos - i0

    r0, r1, fr = axis(field.shape[0], rows)
    c0, c1, fc = axis(field.shape[1], cols)
    tall = field[r0] + (field[r1] - field[r0]) * fr[:, None]
    return tall[:, c0] + (tall[:, c1] - tall[:, c0]) * fc[None, :]


def _double(a: np.ndarray) -> np.ndarray:
    """Bilinear enlargement by 2 in both directions (pixel centres kept), float32."""
    h, w = a.shape
    quarter = a * _F32(0.25)
    rest = a - quarter
    tall = np.empty((2 * h, w), dtype=_F32)
    np.add(rest[1:], quarter[:-1], out=tall[2::2])
    np.add(rest[:-1], quarter[1:], out=tall[1:-1:2])
    tall[0], tall[-1] = a[0], a[-1]
    quarter = tall * _F32(0.25)
    rest = tall - quarter
    out = np.empty((2 * h, 2 * w), dtype=_F32)
    np.add(rest[:, 1:], quarter[:, :-1], out=out[:, 2::2])
    np.add(rest[:, :-1], quarter[:, 1:], out=out[:, 1:-1:2])
    out[:, 0], out[:, -1] = tall[:, 0], tall[:, -1]
    return out


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _ridge(field: np.ndarray, width: float) -> np.ndarray:
    """Thin bright lines along the zero crossings of ``field``."""
    line = np.clip(1.0 - np.abs(field) * _F32(1.0 / width), 0.0, 1.0)
    return line * line


def _anatomy(
    rng: np.random.Generator, shape: _Shape, rows: int, cols: int
) -> tuple[np.ndarray, np.ndarray]:
    """Relative brightness in [0, 1] at ``rows`` × ``cols`` (a left breast) and the glandular map.

    Outside the outline the value is the skin's, so that enlarging it puts skin, not background,
    next to the edge; the caller cuts the outline at full resolution."""
    f32 = _F32
    aspect = cols / rows  # one unit of X in units of Y (distances below are in image heights)
    yy = (np.arange(rows, dtype=f32) + 0.5) / rows
    xx = (np.arange(cols, dtype=f32) + 0.5) / cols
    y2, x2 = yy[:, None], xx[None, :]
    edge_x = shape.edge(yy).astype(f32)
    inside = x2 < edge_x[:, None]

    # distance to the skin: horizontal and vertical gaps combined (exact for a straight edge at
    # any angle); the image border is not skin
    gap_x = np.maximum((edge_x[:, None] - x2) * f32(aspect), f32(1e-4))
    has = inside.any(axis=0)
    top = np.where(has, inside.argmax(axis=0), 0).astype(f32) / rows
    bottom = np.where(has, rows - inside[::-1].argmax(axis=0), rows).astype(f32) / rows
    gap_top = np.where(inside[0], f32(9.0), y2 - top)
    gap_bottom = np.where(inside[-1], f32(9.0), bottom - y2)
    gap_y = np.maximum(np.minimum(gap_top, gap_bottom), f32(1e-4))
    skin_dist = gap_x * gap_y / np.sqrt(gap_x * gap_x + gap_y * gap_y)
    skin_dist = np.where(inside, skin_dist, f32(0.0))

    # compressed thickness: flat in the middle, a rounded fall-off over the last 1–2.5 cm
    u = np.minimum(skin_dist * f32(1.0 / rng.uniform(0.06, 0.10)), f32(1.0))
    thickness = np.sqrt(u * (2.0 - u))

    # where fibroglandular tissue may be: behind the nipple, inside the subcutaneous fat layer,
    # clear of the retromammary fat at the chest wall; in MLO reaching up toward the axilla
    nx, ny = shape.nipple_x, shape.nipple_y
    envelope = _smoothstep((skin_dist - f32(rng.uniform(0.015, 0.04))) * f32(1 / 0.07))
    envelope *= _smoothstep((x2 - f32(rng.uniform(0.0, 0.08))) * f32(1 / 0.30))
    envelope *= _smoothstep((nx - x2) * f32(aspect / 0.12) + f32(0.1))
    centre, spread = (ny - 0.12, 0.32) if shape.oblique else (ny - 0.03, 0.33)
    envelope *= np.exp(-(((y2 - f32(centre)) * f32(1 / spread)) ** 2))

    # polar frame centred just beyond the nipple: the sine of each ray's angle and the distance
    # along it. Noise drawn in that frame, elongated along the rays, converges on the nipple.
    low = _resize(_spectral_noise(rng, (40, 32), 2.6), rows, cols)  # large-scale variation
    run = np.maximum((f32(nx + 0.03) - x2) * f32(aspect), f32(0.01))
    slope = (y2 - f32(ny)) / run + f32(rng.uniform(0.06, 0.12)) * low  # rays bend a little
    cosine = 1.0 / np.sqrt(1.0 + slope * slope)
    n_angle, n_along = 720, 96
    angle = ((slope * cosine + 1.0) * f32(0.5 * (n_angle - 1))).astype(np.intp)
    along = np.minimum((run / cosine * f32(n_along / 1.4)).astype(np.intp), n_along - 1)
    polar = angle * n_along + along

    def gather(field: np.ndarray) -> np.ndarray:
        return np.take(field.ravel(), polar)

    grid = (n_angle, n_along)
    flames = gather(_spectral_noise(rng, grid, 2.2, stretch=2.5))
    streaks = gather(_spectral_noise(rng, grid, 1.5, stretch=5.0, low=0.01))
    ducts = _ridge(gather(_spectral_noise(rng, grid, 1.4, stretch=8.0, low=0.02)), 0.35)
    arcs = _ridge(gather(_spectral_noise(rng, grid, 1.2, stretch=0.35, low=0.02)), 0.3)
    vessels = _ridge(gather(_spectral_noise(rng, grid, 2.0, stretch=12.0, low=0.004)), 0.12)
    mid = _spectral_noise(rng, (rows, cols), 1.6)  # isotropic mottle
    cells = _spectral_noise(rng, (rows, cols), 0.5, low=0.05, high=0.14)  # lobule-sized

    # the glandular cloud: envelope plus noise, thresholded softly; density decides how much
    density = float(rng.choice([0.1, 0.35, 0.6, 0.85], p=[0.12, 0.38, 0.38, 0.12]))
    cloud = envelope * f32(0.45 + 0.55 * density) + f32(0.2) * low + f32(0.22) * flames
    cloud += f32(0.12) * mid + f32(0.06) * arcs * envelope  # scalloped by Cooper's ligaments
    glands = _smoothstep((cloud - f32(0.55 - 0.3 * density)) * f32(1 / 0.55))

    fat, gland = 0.28, 0.80
    texture = np.clip(0.74 + 0.12 * streaks + 0.08 * mid, 0.0, 1.0)
    level = fat + (gland - fat) * glands * texture
    level -= f32(0.10) * _smoothstep(cells - f32(0.7)) * glands * (1.3 - glands)  # fat lobules
    level += f32(0.07) * ducts * np.minimum(glands + envelope * 0.5, 1.0)
    fatty = 1.0 - glands
    level += f32(0.05) * arcs * _smoothstep(skin_dist * f32(1 / 0.01)) * fatty  # ligaments
    level += f32(0.05) * vessels * fatty * thickness
    level += f32(0.025) * low * fatty

    periphery = 0.13
    image = periphery + (level - periphery) * thickness
    image += f32(0.10) * np.exp(-((skin_dist * f32(1 / 0.0045)) ** 2))  # skin line

    if shape.oblique:  # pectoral muscle: convex anterior edge, soft, brighter near the corner
        width = rng.uniform(0.22, min(0.36, shape.top_x - 0.05))
        height = rng.uniform(0.30, 0.45)
        bulge = rng.uniform(0.15, 0.4)
        ys = np.clip(yy / height, 0.0, 1.0)
        pec_x = width * (1.0 - ys) * (1.0 + bulge * ys)
        pec_x *= 1.0 + 0.015 * np.sin(yy * rng.uniform(10, 20) + rng.uniform(0, 6))
        across = (pec_x[:, None].astype(f32) - x2) * f32(aspect)  # > 0 inside the muscle
        soft = _smoothstep(across * f32(1 / 0.015) + f32(0.35))
        fibres = _spectral_noise(rng, (rows, cols), 1.4, stretch=0.25)
        depth = np.minimum(np.maximum(across, 0.0) * f32(1 / 0.10), 1.0)
        muscle = f32(rng.uniform(0.58, 0.68)) + f32(0.10) * depth + f32(0.03) * fibres
        muscle = periphery + (muscle - periphery) * thickness
        image += (muscle - image) * soft
        glands *= 1.0 - soft

    image = np.where(inside, image, f32(periphery + 0.1))
    return np.clip(image, 0.0, 1.0), glands


@lru_cache(maxsize=4)
def _noise_pool(cols: int, amplitude: int, dtype: type[np.unsignedinteger]) -> np.ndarray:
    """_BAND × (cols + 1024) quantum noise in [0, 2 * amplitude], roughly Gaussian. Shared by
    every image; each row band of an image reads it at its own offset, so nothing repeats."""
    rng = np.random.default_rng(0x9E3779B9)
    values = rng.normal(amplitude, amplitude / 2.2, size=(_BAND, cols + 1024)).astype(_F32)
    pool = np.clip(np.rint(values), 0, 2 * amplitude).astype(dtype)
    pool.setflags(write=False)
    return pool


def _widen(levels: np.ndarray, cols: int, right: bool) -> np.ndarray:
    """Repeat every column of ``levels`` _SCALE times and keep ``cols`` columns (mirrored for the
    right breast): each value times 0x0001000100010001 holds _SCALE copies of it side by side."""
    if right:
        levels = levels[:, ::-1]
    itemsize = levels.dtype.itemsize
    wide_type = np.dtype(f"<u{itemsize * _SCALE}")
    factor = sum(1 << (8 * itemsize * k) for k in range(_SCALE))
    wide = (levels.astype(wide_type) * wide_type.type(factor)).view(levels.dtype)
    return wide[:, wide.shape[1] - cols :] if right else wide[:, :cols]


def _paint(
    image: np.ndarray, wide: np.ndarray, edge: np.ndarray, noise: np.ndarray,
    offsets: np.ndarray, right: bool,
) -> None:  # fmt: skip
    """Write ``wide`` repeated _SCALE× down plus noise into ``image``, breast only, background 0.

    One pass over the image, row band by row band: level + noise up to the band's widest row
    (vertical repetition by broadcasting), zero beyond it, then zero each row past its own edge."""
    rows, cols = image.shape
    step = _BAND // _SCALE
    for band, start in enumerate(range(0, rows, _BAND)):
        stop = min(rows, start + _BAND)
        n = stop - start
        width = int(edge[start:stop].max())
        lo, hi = (cols - width, cols) if right else (0, width)
        if right:
            image[start:stop, :lo] = 0
        else:
            image[start:stop, hi:] = 0
        if not width:
            continue
        full, extra = divmod(n, _SCALE)
        small = wide[band * step : band * step + full + (1 if extra else 0), lo:hi]
        offset = int(offsets[band])
        grain = noise[:n, offset : offset + width]
        target = image[start:stop, lo:hi]
        if full:
            np.add(
                small[:full, None, :],
                grain[: full * _SCALE].reshape(full, _SCALE, width),
                out=target[: full * _SCALE].reshape(full, _SCALE, width),
            )
        if extra:
            np.add(small[full], grain[full * _SCALE :], out=target[full * _SCALE :])
        for r in range(start, stop):
            e = int(edge[r])
            if e < width:
                if right:
                    image[r, lo : cols - e] = 0
                else:
                    image[r, e:hi] = 0


def _calcifications(
    rng: np.random.Generator, image: np.ndarray, glands: np.ndarray, top: int, right: bool
) -> None:
    """A cluster of small bright specks in the glandular tissue (in place)."""
    rows, cols = image.shape
    candidates = np.argwhere(glands > 0.5)
    if len(candidates) == 0:
        candidates = np.argwhere(glands > 0.02)
        if len(candidates) == 0:
            return
    sy, sx = candidates[rng.integers(len(candidates))]
    cy = (sy + 0.5) * rows / glands.shape[0]
    cx = (sx + 0.5) * cols / glands.shape[1]
    spread = max(2.0, rows / 110)
    for _ in range(int(rng.integers(6, 16))):
        radius = float(rng.uniform(0.8, 3.4))
        r = int(np.ceil(radius))
        if rows <= 2 * r + 1 or cols <= 2 * r + 1:
            return
        py = int(np.clip(cy + rng.normal(0, spread), r, rows - r - 1))
        px = int(np.clip(cx + rng.normal(0, spread), r, cols - r - 1))
        if right:
            px = cols - 1 - px
        dy, dx = np.ogrid[-r : r + 1, -r : r + 1]
        dot = dy * dy + dx * dx <= radius * radius
        patch = image[py - r : py + r + 1, px - r : px + r + 1]
        value = int(top * rng.uniform(0.86, 1.0))
        patch[dot & (patch > 0)] = max(1, value)


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
    """A rows × cols mammogram, values in [0, 2**bits_stored), MONOCHROME2 (dense is bright).

    Background is 0 (the Pixel Padding Value); the breast is at least 1. The chest wall is on the
    left for ``laterality`` L and on the right for R. ``dtype`` is uint8 or uint16."""
    rng = np.random.default_rng(seed)
    shape = _shape(rng, oblique)
    coarse_rows, coarse_cols = max(4, -(-rows // _COARSE)), max(4, -(-cols // _COARSE))
    anatomy, glands = _anatomy(rng, shape, coarse_rows, coarse_cols)

    top = (1 << bits_stored) - 1
    amplitude = min(max(1, top // 64), max(0, (top - 2) // 4))
    span = top - 2 * amplitude - 1  # level + noise stays <= top
    levels = _double(anatomy)
    levels *= _F32(span)
    levels += _F32(1.5)  # round, and never 0 inside the breast
    levels = levels.astype(dtype)

    edge = np.rint(shape.edge((np.arange(rows) + 0.5) / rows) * cols).astype(np.intp)
    edge = np.minimum(edge, cols)
    noise = _noise_pool(cols, amplitude, dtype)
    offsets = np.random.default_rng(seed ^ 0x5EED).integers(0, 1024, -(-rows // _BAND))
    image = np.empty((rows, cols), dtype=dtype)
    right = laterality == "R"
    _paint(image, _widen(levels, cols, right), edge, noise, offsets, right)
    if calcifications:
        _calcifications(rng, image, glands, top, right)
    return image
