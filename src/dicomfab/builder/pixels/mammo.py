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
  darker fat lobules and scalloped edges; Cooper's ligaments as thin curvilinear strands in the
  fat; density from almost entirely fatty to extremely dense;
* quantum noise, and optionally a cluster of calcification specks (small bright dots) and/or a
  spiculated mass (a dense, irregular core with thin spicules radiating from it, blended into the
  tissue so its texture shows through).

Speed matters (a real detector image is 3328 × 2560, a dataset holds hundreds, and the benchmark
wants generation at disk speed; about 20 ms an image here): the anatomy is composed in float32 at
1/8 of the resolution (where a whole-image operation costs some 30 µs), enlarged bilinearly to
1/4, quantised there, and written to full resolution by integer pixel repetition with the noise
added in the same pass, row band by row band, only where the breast is. The outline is cut at
full resolution, row by row, so the skin edge is smooth. No full-resolution float pass and no
full-size temporary: one full-resolution write per image. The noise textures are drawn once per
process, from fixed seeds, into pools twice the size an image needs; an image reads windows of
them at offsets (and signs) of its own, so no large FFT runs per image. A drawn anatomy is kept
(a few hundred, 64 MB at most) for the same breast drawn again at another bit depth or lesion.

Everything derives from ``seed`` (no global RNG state): the same seed gives the same image, so
one patient has the same anatomy in every study.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dicomfab.builder.pixels.memo import bounded_cache

_COARSE = 8  # the anatomy is composed at 1/_COARSE resolution ...
_SCALE = 4  # ... enlarged bilinearly to 1/_SCALE, then by pixel repetition to full resolution
_BAND = 128  # rows in the full-resolution quantum-noise band
_F32 = np.float32
_CACHE_BYTES = 64 << 20
"""Each cache below holds at most this many bytes: sized (in entries) for what the whole scenario
library draws in one process, a run of full-size or huge images cannot pile up."""


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
            # above the image the axillary tail goes on, narrowing along the same slope
            above = (self.nipple_x - self.top_x) * self.rise * np.minimum(y / self.nipple_y, 0.0)
            upper = upper + above
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


@bounded_cache(maxsize=1024, maxbytes=_CACHE_BYTES)
def _spectrum_shape(
    shape: tuple[int, int], beta: float, stretch: float, low: float, high: float
) -> np.ndarray:
    """The amplitude filter of :func:`_spectral_noise` (complex64, read-only, cached)."""
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
    amplitude *= np.sqrt(amplitude.size / np.sum(amplitude * amplitude))  # unit variance-ish
    filt = amplitude.astype(np.complex64)
    filt.setflags(write=False)
    return filt


def _spectral_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    beta: float,
    stretch: float = 1.0,
    low: float = 0.0,
    high: float = 0.0,
    second: tuple[float, float] | None = None,
) -> np.ndarray:
    """Gaussian noise with a 1/f**beta amplitude spectrum, unit standard deviation, float32.

    ``stretch`` > 1 makes it correlated along axis 1 (its frequencies count ``stretch`` times
    more), < 1 along axis 0; ``low``/``high`` (cycles per sample) make it band-pass. With
    ``second`` = (beta, low), the result is complex64: the imaginary part is a second field from
    the same draw with that spectrum (aligned with the first, finer)."""
    filt = _spectrum_shape(shape, beta, stretch, low, high)
    draw = rng.standard_normal((*filt.shape, 2), dtype=_F32).view(np.complex64)[..., 0]
    field = np.fft.irfft2(draw * filt, s=shape)
    field *= _F32(1.0) / (field.std() or _F32(1.0))
    if second is None:
        return field
    other = np.fft.irfft2(
        draw * _spectrum_shape(shape, second[0], stretch, second[1], 0.0), s=shape
    )
    other *= _F32(1.0) / (other.std() or _F32(1.0))
    out = np.empty(shape, dtype=np.complex64)
    out.real, out.imag = field, other
    return out


def _noise_at(
    rng: np.random.Generator, rows: int, cols: int, doublings: int, beta: float,
    stretch: float = 1.0,
) -> np.ndarray:  # fmt: skip
    """Spectral noise drawn at 1/2**doublings of rows × cols and enlarged bilinearly: cheap
    smooth fields (frequencies scale with the drawing grid)."""
    f = 1 << doublings
    size = (max(2, -(-rows // f)), max(2, -(-cols // f)))
    field = _spectral_noise(rng, size, beta, stretch)
    for _ in range(doublings):
        field = _double(field)
    return field[:rows, :cols]


@bounded_cache(maxsize=64, maxbytes=_CACHE_BYTES)
def _pool(
    shape: tuple[int, int], beta: float, stretch: float, low: float, high: float,
    second: tuple[float, float] | None,
) -> np.ndarray:  # fmt: skip
    """A read-only noise field twice ``shape`` in each direction, drawn once per process from a
    fixed seed. Images read windows of it at offsets of their own: no FFT per image."""
    seed = zlib.crc32(repr((shape, beta, stretch, low, high, second)).encode())
    big = (2 * shape[0], 2 * shape[1])
    field = _spectral_noise(np.random.default_rng(seed), big, beta, stretch, low, high, second)
    field.setflags(write=False)
    return field


def _window(
    rng: np.random.Generator, shape: tuple[int, int], beta: float, stretch: float = 1.0,
    low: float = 0.0, high: float = 0.0, second: tuple[float, float] | None = None,
    size: tuple[int, int] | None = None,
) -> tuple[np.ndarray, int, int, int]:  # fmt: skip
    """Where this image reads a ``size`` (default ``shape``) window of the ``shape`` pool:
    (pool, top, left, sign ±1), chosen by ``rng``."""
    pool = _pool(shape, beta, stretch, low, high, second)
    size = size or shape
    top = int(rng.integers(0, pool.shape[0] - size[0] + 1))
    left = int(rng.integers(0, pool.shape[1] - size[1] + 1))
    sign = 1 if rng.integers(0, 2) else -1
    return pool, top, left, sign


def _double(a: np.ndarray) -> np.ndarray:
    """Bilinear enlargement by 2 of the last two axes (pixel centres kept), float32."""
    *lead, h, w = a.shape
    quarter = a * _F32(0.25)
    rest = a - quarter
    tall = np.empty((*lead, 2 * h, w), dtype=_F32)
    np.add(rest[..., 1:, :], quarter[..., :-1, :], out=tall[..., 2::2, :])
    np.add(rest[..., :-1, :], quarter[..., 1:, :], out=tall[..., 1:-1:2, :])
    tall[..., 0, :], tall[..., -1, :] = a[..., 0, :], a[..., -1, :]
    quarter = tall * _F32(0.25)
    rest = tall - quarter
    out = np.empty((*lead, 2 * h, 2 * w), dtype=_F32)
    np.add(rest[..., 1:], quarter[..., :-1], out=out[..., 2::2])
    np.add(rest[..., :-1], quarter[..., 1:], out=out[..., 1:-1:2])
    out[..., 0], out[..., -1] = tall[..., 0], tall[..., -1]
    return out


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _ridge(field: np.ndarray, width: float) -> np.ndarray:
    """Thin bright lines along the zero crossings of ``field``."""
    line = np.clip(1.0 - np.abs(field) * _F32(1.0 / width), 0.0, 1.0)
    return line * line


# In place, the operations of the expressions above, in their order (the same float32 results bit
# for bit): _anatomy's arrays are some 100 kB each, too small for numpy to elide temporaries, and
# allocating dozens of them per image cost about a tenth of its time. Editing _anatomy, keep each
# sum and product in its order (a + b may become b + a, never (a + b) + c a + (b + c)): the same
# seed must give the same bytes.


def _smoothstep_into(x: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """:func:`_smoothstep` of ``x`` written into ``x`` (``scratch``: same shape, overwritten)."""
    np.clip(x, 0.0, 1.0, out=x)
    np.multiply(x, x, out=scratch)
    x *= _F32(-2.0)  # 3.0 - 2.0 * x, as (-2x) + 3 (the same float)
    x += _F32(3.0)
    x *= scratch
    return x


def _ridge_into(field: np.ndarray, width: float) -> np.ndarray:
    """:func:`_ridge` of ``field`` written into ``field``."""
    np.abs(field, out=field)
    field *= _F32(1.0 / width)
    np.subtract(_F32(1.0), field, out=field)
    np.clip(field, 0.0, 1.0, out=field)
    return np.multiply(field, field, out=field)


@dataclass(frozen=True)
class _Traits:
    """What belongs to the whole breast, not to one plane of its tissue: the glandular density
    and, in MLO, the pectoral muscle (width, height, bulge, wobble frequency and phase, level)."""

    density: float
    muscle: tuple[float, float, float, float, float, float] | None


def _anatomy(
    rng: np.random.Generator, shape: _Shape, rows: int, cols: int, traits: _Traits | None = None
) -> tuple[np.ndarray, np.ndarray, _Traits]:
    """Relative brightness in [0, 1] of a left breast on a ``rows`` × ``cols`` grid, and the
    glandular map, both only as wide as the breast reaches (a multiple of 16 columns), and the
    breast's traits: drawn from ``rng``, or ``traits`` (another plane of the same breast).

    Outside the outline the value is the skin's, so that enlarging it puts skin, not background,
    next to the edge; the caller cuts the outline at full resolution."""
    f32 = _F32
    aspect = cols / rows  # one unit of X in units of Y (distances below are in image heights)
    yy = (np.arange(rows, dtype=f32) + 0.5) / rows
    edge_x = shape.edge(yy).astype(f32)
    used = min(cols, 16 * -(-(int(edge_x.max() * cols) + 3) // 16))  # 16-column steps
    xx = (np.arange(used, dtype=f32) + 0.5) / cols
    y2, x2 = yy[:, None], xx[None, :]
    inside = x2 < edge_x[:, None]
    outside = ~inside

    # distance to the skin: horizontal and vertical gaps combined (exact for a straight edge at
    # any angle); the image border is not skin, the outline goes on beyond it
    gap_x = np.subtract(edge_x[:, None], x2)
    gap_x *= f32(aspect)
    np.maximum(gap_x, f32(1e-4), out=gap_x)
    pad = rows // 2
    beyond = (np.arange(-pad, rows + pad, dtype=f32) + 0.5) / rows
    reach = x2 < shape.edge(beyond).astype(f32)[:, None]
    has = reach.any(axis=0)
    top = np.where(has, reach.argmax(axis=0) - pad, 0).astype(f32) / rows
    bottom = np.where(has, rows + pad - reach[::-1].argmax(axis=0), rows).astype(f32) / rows
    gap_y = np.subtract(y2, top)  # gap to the top
    np.copyto(gap_y, f32(9.0), where=reach[0])
    gap = np.subtract(bottom, y2)  # gap to the bottom
    np.copyto(gap, f32(9.0), where=reach[-1])
    np.minimum(gap_y, gap, out=gap_y)
    np.maximum(gap_y, f32(1e-4), out=gap_y)
    skin_dist = np.multiply(gap_x, gap_y)  # gap_x * gap_y / sqrt(gap_x² + gap_y²)
    np.multiply(gap_x, gap_x, out=gap_x)
    np.multiply(gap_y, gap_y, out=gap_y)
    gap_x += gap_y
    np.sqrt(gap_x, out=gap_x)
    skin_dist /= gap_x
    np.copyto(skin_dist, f32(0.0), where=outside)
    scratch, other = gap_x, gap_y  # free from here on: two arrays of this shape to write into

    # compressed thickness: flat in the middle, a rounded fall-off over the last 1.5–2.5 cm
    u = np.multiply(skin_dist, f32(1.0 / rng.uniform(0.06, 0.10)), out=scratch)
    np.minimum(u, f32(1.0), out=u)
    thickness = np.subtract(f32(2.0), u)
    thickness *= u
    np.sqrt(thickness, out=thickness)

    # where fibroglandular tissue may be: behind the nipple, inside the subcutaneous fat layer,
    # clear of the retromammary fat at the chest wall; in MLO reaching up toward the axilla
    nx, ny = shape.nipple_x, shape.nipple_y
    envelope = np.subtract(skin_dist, f32(rng.uniform(0.012, 0.035)))
    envelope *= f32(1 / 0.06)
    _smoothstep_into(envelope, scratch)
    to_nipple = np.add(((x2 - f32(nx)) * f32(aspect)) ** 2, (y2 - f32(ny)) ** 2, out=other)
    np.sqrt(to_nipple, out=to_nipple)
    to_nipple -= f32(0.02)
    to_nipple *= f32(1 / 0.08)
    envelope *= _smoothstep_into(to_nipple, scratch)
    centre, spread = (ny - 0.08, 0.34) if shape.oblique else (ny - 0.02, 0.34)
    depth = x2 * f32(1 / nx)
    cone = f32(1 / spread) / np.maximum(1.0 - 0.6 * depth * depth, 0.2)  # narrower forward
    tilt = f32(0.08 if shape.oblique else 0.0)
    band = np.add(y2 - f32(centre), tilt * depth, out=other)
    band *= cone
    np.multiply(band, band, out=band)
    np.negative(band, out=band)
    envelope *= np.exp(band, out=band)

    # isotropic mottle, lobule-sized noise, Cooper's ligaments: windows of pools drawn once per
    # process for this grid; large-scale variation: drawn small for this image
    fields = [
        _window(rng, (rows, cols), 1.9, low=0.006, size=(rows, used)),
        _window(rng, (rows, cols), 0.5, low=0.025, high=0.08, size=(rows, used)),
        _window(rng, (rows, cols), 1.0, low=0.03, high=0.1, size=(rows, used)),
    ]
    stack = np.empty((len(fields), rows, used), dtype=f32)
    for k, (pool, row, col, sign) in enumerate(fields):
        np.multiply(pool[row : row + rows, col : col + used], f32(sign), out=stack[k])
    mid, cells, strands = stack
    low = _noise_at(rng, rows, used, 3, 2.6)
    arcs = _ridge_into(strands, 0.25)  # ligaments

    retro = f32(rng.uniform(-0.02, 0.04))  # retromammary fat, its border made irregular
    mid_03 = np.multiply(mid, f32(0.03))  # 0.03 * mid, used twice
    border = np.multiply(low, f32(0.04), out=other)
    np.add(x2 - retro, border, out=border)
    border += mid_03
    border *= f32(1 / 0.16)
    envelope *= _smoothstep_into(border, scratch)

    # polar frame centred just beyond the nipple: the angle of each ray and the distance along
    # it. Noise drawn in that frame, elongated along the rays, converges on the nipple.
    run = np.maximum((f32(nx + 0.03) - x2) * f32(aspect), f32(0.01))
    slope = np.divide(y2 - f32(ny), run, out=other)  # rays bend, gently and on a smaller scale:
    bend = np.multiply(low, f32(rng.uniform(0.06, 0.12)), out=scratch)
    bend += mid_03
    slope += bend
    angle = np.arctan(slope)
    angle *= f32(1 / np.pi)
    angle += f32(0.5)  # in (0, 1): uniform in angle
    distance = np.multiply(slope, slope, out=scratch)
    distance += f32(1.0)
    np.sqrt(distance, out=distance)
    distance *= run

    def polar(
        grid: tuple[int, int], beta: float, stretch: float, low: float = 0.0,
        second: tuple[float, float] | None = None,
    ) -> np.ndarray:  # fmt: skip
        """Noise on an angle × distance grid, read back at every pixel. With ``second``
        (beta, low cut) a second, band-passed field from the same draw comes along as the
        imaginary part, read bilinearly across the rays (its thin ridges would show the steps
        of nearest-neighbour reading there)."""
        n_angle, n_along = grid
        pool, top, left, sign = _window(rng, grid, beta, stretch, low, second=second)
        flat, stride = pool.ravel(), pool.shape[1]
        fi = angle * f32(n_angle - 1)
        j = np.minimum(distance * f32(n_along / 1.4), f32(n_along - 1)).astype(np.intp)
        i = fi.astype(np.intp)
        index = i * stride
        index += j
        index += top * stride + left
        if second is None:
            return np.take(flat, index) * f32(sign)
        fi -= i  # across the rays (where thin ridges need it) read bilinearly
        a = np.take(flat, index)
        index += stride
        b = np.take(flat, index)
        b -= a
        b *= fi
        b += a
        return b * f32(sign)

    flames = polar((360, 96), 1.6, 1.4, low=0.006)  # the flame-like cloud of glands
    both = polar((512, 160), 1.5, 10.0, 0.008, (1.6, 0.012))  # strands, ducts to the nipple
    streaks, ducts = other, scratch  # slope and distance are done with
    np.copyto(streaks, both.real)
    np.copyto(ducts, both.imag)
    _ridge_into(ducts, 0.3)

    # the glandular fraction: the envelope modulated by multi-scale noise (flames elongated toward
    # the nipple, isotropic mottle, large-scale variation), saturating softly
    if traits is None:
        density = float(rng.choice([0.1, 0.35, 0.6, 0.85], p=[0.12, 0.38, 0.38, 0.12]))
    else:
        density = traits.density
    muscle_traits = None
    term = angle  # free: written into from here on
    noise = np.multiply(flames, f32(0.32), out=flames)
    noise += np.multiply(mid, f32(0.45), out=term)
    noise += np.multiply(low, f32(0.3), out=term)
    noise += np.multiply(streaks, f32(0.12), out=term)
    glands = np.multiply(envelope, f32(0.1 + 0.9 * density))  # the cloud, then the glands
    noise *= f32(0.3)
    glands += noise
    glands -= f32(0.2)
    np.maximum(glands, f32(0.0), out=glands)
    np.negative(glands, out=glands)
    glands *= f32(2.2)
    np.exp(glands, out=glands)
    np.subtract(f32(1.0), glands, out=glands)

    fat, gland = 0.28, 0.84
    texture = np.multiply(streaks, f32(0.05), out=streaks)
    texture += f32(0.84)
    texture += np.multiply(mid, f32(0.06), out=term)
    level = np.multiply(glands, f32(gland - fat))
    level *= texture
    level += f32(fat)
    lobules = _smoothstep_into(np.subtract(cells, f32(0.9), out=cells), term)  # fat lobules
    lobules *= f32(0.09)
    lobules *= glands
    lobules *= np.subtract(f32(1.2), glands, out=term)
    level -= lobules
    near = np.multiply(envelope, f32(0.5), out=envelope)
    near += glands
    np.minimum(near, f32(1.0), out=near)
    ducts *= f32(0.04)
    ducts *= near
    level += ducts
    fatty = np.subtract(f32(1.0), glands, out=near)
    subcutaneous = _smoothstep_into(np.multiply(skin_dist, f32(1 / 0.01), out=cells), term)
    subcutaneous *= np.exp(np.multiply(skin_dist, f32(-1 / 0.05), out=term), out=term)
    arcs *= f32(0.045)
    arcs *= subcutaneous
    arcs *= fatty
    level += arcs  # ligaments
    faint = np.add(low, mid, out=term)
    faint *= f32(0.02)
    faint *= fatty
    level += faint

    periphery = 0.13
    image = level
    image -= f32(periphery)
    image *= thickness
    image += f32(periphery)
    line = np.multiply(skin_dist, f32(1 / 0.0045), out=term)
    np.multiply(line, line, out=line)
    np.negative(line, out=line)
    np.exp(line, out=line)
    line *= f32(0.10)
    image += line  # skin line

    if shape.oblique:  # pectoral muscle: convex anterior edge, soft, brighter near the corner
        brightness: float | None = None  # drawn below, in its turn
        if traits is None or traits.muscle is None:
            width = float(rng.uniform(0.22, min(0.36, shape.top_x - 0.05)))
            height = float(rng.uniform(0.30, 0.45))
            bulge = float(rng.uniform(0.15, 0.4))
            wobble = (float(rng.uniform(10, 20)), float(rng.uniform(0, 6)))
        else:
            width, height, bulge, frequency, phase, brightness = traits.muscle
            wobble = (frequency, phase)
        box_r = min(rows, int(height * rows) + 2)
        box_c = min(used, int(width * 1.1 * cols) + 6)
        ys = np.clip(yy[:box_r] / height, 0.0, 1.0)
        pec_x = width * (1.0 - ys) * (1.0 + bulge * ys)
        pec_x *= 1.0 + 0.015 * np.sin(yy[:box_r] * wobble[0] + wobble[1])
        across = (pec_x[:, None].astype(f32) - x2[:, :box_c]) * f32(aspect)  # > 0: muscle
        soft = _smoothstep(across * f32(1 / 0.015) + f32(0.35))
        fibres = _noise_at(rng, box_r, box_c, 1, 1.4, stretch=0.25)
        depth = np.minimum(np.maximum(across, 0.0) * f32(1 / 0.10), 1.0)
        if brightness is None:
            brightness = float(rng.uniform(0.55, 0.64))
        muscle_traits = (width, height, bulge, wobble[0], wobble[1], brightness)
        muscle = f32(brightness) + f32(0.08) * depth + f32(0.03) * fibres
        muscle = periphery + (muscle - periphery) * thickness[:box_r, :box_c]
        box = image[:box_r, :box_c]
        box += (muscle - box) * soft
        glands[:box_r, :box_c] *= 1.0 - soft

    np.clip(image, 0.0, 1.0, out=image)
    np.copyto(image, f32(periphery + 0.1), where=outside)
    return image, glands, _Traits(density, muscle_traits)


def _coarse(rows: int, cols: int) -> tuple[int, int]:
    """The grid the anatomy of a rows × cols image is composed on."""
    return max(4, -(-rows // _COARSE)), max(4, -(-cols // _COARSE))


@dataclass(frozen=True)
class _Drawn:
    """One breast drawn for a rows × cols image, before quantisation: the same for every bit
    depth, lesion and laterality of that seed (the twin and defect scenarios draw it again)."""

    anatomy: np.ndarray  # coarse relative brightness in [0, 1] (:func:`_anatomy`), read-only
    glands: np.ndarray  # coarse glandular map, read-only
    edge: np.ndarray  # the skin's column on each full-resolution row, read-only
    state: Mapping[str, Any]  # the generator's state after drawing: calcifications go on from it
    traits: _Traits

    def __post_init__(self) -> None:
        for array in (self.anatomy, self.glands, self.edge):
            array.setflags(write=False)

    @property
    def nbytes(self) -> int:
        return self.anatomy.nbytes + self.glands.nbytes + self.edge.nbytes


@bounded_cache(maxsize=256, maxbytes=_CACHE_BYTES)
def _drawn_anatomy(seed: int, rows: int, cols: int, oblique: bool) -> _Drawn:
    """The breast of ``seed`` for a rows × cols image (everything that determines it is in the
    arguments). Cached: a reduced library holds a few hundred, a few hundred kB each."""
    rng = np.random.default_rng(seed)
    shape = _shape(rng, oblique)
    anatomy, glands, traits = _anatomy(rng, shape, *_coarse(rows, cols))
    edge = np.rint(shape.edge((np.arange(rows) + 0.5) / rows) * cols).astype(np.intp)
    edge = np.minimum(edge, cols)
    return _Drawn(anatomy, glands, edge, rng.bit_generator.state, traits)


SLICES_PER_PLANE = 8
"""A tomosynthesis object's tissue is drawn on a plane every this many slices (see
:func:`synthesize`'s ``depth``)."""


@bounded_cache(maxsize=256, maxbytes=_CACHE_BYTES)
def _drawn_plane(seed: int, plane: int, rows: int, cols: int, oblique: bool) -> _Drawn:
    """Plane ``plane`` of the breast of ``seed`` in a tomosynthesis object: plane 0 is the
    breast :func:`_drawn_anatomy` draws; the others have its outline, thickness, density and
    pectoral muscle, and tissue of their own (drawn from a second seed)."""
    first = _drawn_anatomy(seed, rows, cols, oblique)
    if plane == 0:
        return first
    shape = _shape(np.random.default_rng(seed), oblique)
    rng = np.random.default_rng([seed, plane])
    anatomy, glands, _ = _anatomy(rng, shape, *_coarse(rows, cols), first.traits)
    return _Drawn(anatomy, glands, first.edge, rng.bit_generator.state, first.traits)


def _drawn_slice(seed: int, frame: int, frames: int, rows: int, cols: int, oblique: bool) -> _Drawn:
    """Slice ``frame`` of ``frames``: the two planes around it blended by distance."""
    planes = max(2, -(-(frames - 1) // SLICES_PER_PLANE) + 1)
    position = frame * (planes - 1) / max(1, frames - 1)
    below = min(int(position), planes - 2)
    weight = position - below
    near = _drawn_plane(seed, below, rows, cols, oblique)
    if weight == 0.0:
        return near
    far = _drawn_plane(seed, below + 1, rows, cols, oblique)
    w = _F32(weight)

    def blend(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = a * (_F32(1.0) - w)
        out += b * w
        return out

    state = (near if weight < 0.5 else far).state  # lesions go on from the nearer plane
    anatomy, glands = blend(near.anatomy, far.anatomy), blend(near.glands, far.glands)
    return _Drawn(anatomy, glands, near.edge, state, near.traits)


@bounded_cache(maxsize=32, maxbytes=_CACHE_BYTES)
def _noise_pool(cols: int, amplitude: int, dtype: np.dtype) -> np.ndarray:
    """_BAND × (cols + 1024) quantum noise in [0, 2 * amplitude], roughly Gaussian. Shared by
    every image; each row band of an image reads it at its own offset, so nothing repeats."""
    rng = np.random.default_rng(0x9E3779B9)
    values = rng.normal(amplitude, amplitude / 2.2, size=(_BAND, cols + 1024)).astype(_F32)
    pool = np.clip(np.rint(values), 0, 2 * amplitude).astype(dtype)
    pool.setflags(write=False)
    return pool


def _widen(levels: np.ndarray, right: bool) -> np.ndarray:
    """Repeat every column of ``levels`` _SCALE times (mirrored for the right breast): each value
    times 0x0001000100010001 holds _SCALE copies of it side by side."""
    if right:
        levels = levels[:, ::-1]
    itemsize = levels.dtype.itemsize
    wide_type = np.dtype(f"<u{itemsize * _SCALE}")
    factor = sum(1 << (8 * itemsize * k) for k in range(_SCALE))
    return (levels.astype(wide_type) * wide_type.type(factor)).view(levels.dtype)


def _paint(
    image: np.ndarray,
    wide: np.ndarray,
    edge: np.ndarray,
    noise: np.ndarray,
    offsets: np.ndarray,
    right: bool,
) -> None:
    """Write ``wide`` repeated _SCALE× down plus noise into ``image`` where the breast is, and 0
    (the background) everywhere else: ``image`` may hold anything before.

    ``wide`` holds the breast from the chest wall on (mirrored for the right breast: up to the
    chest wall). One pass over the image, row band by row band: level + noise up to the band's
    widest row (vertical repetition by broadcasting), zero beyond it, then zero each row past its
    own edge. Each byte is written once, not zeroed first and written again."""
    rows, cols = image.shape
    span = wide.shape[1]
    step = _BAND // _SCALE
    for band, start in enumerate(range(0, rows, _BAND)):
        stop = min(rows, start + _BAND)
        n = stop - start
        # at most the drawn anatomy's width: a frame far wider than tall (16 × 5000) has a row
        # edge past the narrow anatomy drawn for it
        width = min(int(edge[start:stop].max()), span)
        if right:
            image[start:stop, : cols - width] = 0
            target = image[start:stop, cols - width :]
            source = slice(span - width, span)
        else:
            image[start:stop, width:] = 0
            target = image[start:stop, :width]
            source = slice(0, width)
        if not width:
            continue
        full, extra = divmod(n, _SCALE)
        small = wide[band * step : band * step + full + (1 if extra else 0), source]
        offset = int(offsets[band])
        grain = noise[:n, offset : offset + width]
        if full:
            np.add(
                small[:full, None, :],
                grain[: full * _SCALE].reshape(full, _SCALE, width),
                out=target[: full * _SCALE].reshape(full, _SCALE, width),
            )
        if extra:
            np.add(small[full], grain[full * _SCALE :], out=target[full * _SCALE :])
        # each row's own edge: zero from it to the band's widest row
        edges = edge[start:stop, None]
        first = int(edges.min())
        if first < width:
            beyond = np.arange(first, width) >= edges
            if right:
                np.copyto(image[start:stop, cols - width : cols - first], 0, where=beyond[:, ::-1])
            else:
                np.copyto(image[start:stop, first:width], 0, where=beyond)


def _calcifications(
    rng: np.random.Generator, image: np.ndarray, glands: np.ndarray, scale: tuple[float, float],
    top: int, right: bool,
) -> None:  # fmt: skip
    """A cluster of small bright specks in the glandular tissue (in place); ``glands`` is the
    glandular map of the left breast, ``scale`` its pixel size in image pixels."""
    rows, cols = image.shape
    candidates = np.argwhere(glands > 0.5)
    if len(candidates) == 0:
        candidates = np.argwhere(glands > 0.02)
        if len(candidates) == 0:
            return
    sy, sx = candidates[rng.integers(len(candidates))]
    cy, cx = (sy + 0.5) * scale[0], (sx + 0.5) * scale[1]
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


def _mass(
    rng: np.random.Generator, image: np.ndarray, glands: np.ndarray, scale: tuple[float, float],
    top: int, right: bool,
) -> tuple[int, int, float]:  # fmt: skip
    """A spiculated mass in the glandular tissue (in place): a dense core whose edge is irregular
    (a few angular harmonics) and 10–20 tapering spicules radiating up to 3.6 core radii. The
    breast keeps its texture under it: each pixel moves a fraction of the way toward white. Returns
    the centre (row, column in the image) and the core radius in pixels."""
    rows, cols = image.shape
    candidates = np.argwhere(glands > 0.5)
    if len(candidates) == 0:
        candidates = np.argwhere(glands > 0.02)
    if len(candidates) == 0:  # no tissue drawn (a tiny image): the middle of the breast
        candidates = np.array([[glands.shape[0] // 2, glands.shape[1] // 4]])
    sy, sx = candidates[rng.integers(len(candidates))]
    cy, cx = (sy + 0.5) * scale[0], (sx + 0.5) * scale[1]
    if right:
        cx = cols - 1 - cx
    radius = max(3.0, rows * float(rng.uniform(0.022, 0.035)))
    reach = int(np.ceil(radius * 3.8))
    y0, y1 = max(0, int(cy) - reach), min(rows, int(cy) + reach + 1)
    x0, x1 = max(0, int(cx) - reach), min(cols, int(cx) + reach + 1)
    if y1 <= y0 or x1 <= x0:
        return int(cy), int(cx), radius
    yy = np.arange(y0, y1, dtype=_F32)[:, None] - _F32(cy)
    xx = np.arange(x0, x1, dtype=_F32)[None, :] - _F32(cx)
    r = np.hypot(yy, xx)
    theta = np.arctan2(yy, xx)

    harmonics = rng.uniform(-0.12, 0.12, 4).astype(_F32)
    phases = rng.uniform(0, 2 * np.pi, 4).astype(_F32)
    pairs = enumerate(zip(harmonics, phases, strict=True))
    wobble = sum(h * np.cos((k + 2) * theta + p) for k, (h, p) in pairs)
    edge = _smoothstep((radius * (1 + wobble) - r) / _F32(0.45 * radius) + _F32(0.5))
    core = edge * (_F32(0.7) + _F32(0.3) * np.clip(1 - r / _F32(radius), 0, 1))  # a dome

    spicules = np.zeros_like(r)
    for _ in range(int(rng.integers(10, 21))):
        angle = _F32(rng.uniform(-np.pi, np.pi))
        length = _F32(radius * rng.uniform(1.8, 3.6))
        width = _F32(max(0.8, radius * rng.uniform(0.08, 0.16)))
        delta = np.angle(np.exp(1j * (theta - angle))).astype(_F32)
        along = r * np.cos(delta)
        across = r * np.abs(np.sin(delta))
        taper = np.clip(1 - along / length, 0, 1)
        line = np.exp(-((across / (width * (0.25 + taper))) ** 2)) * np.sqrt(taper)
        spicules = np.maximum(spicules, np.where(along > 0, line, 0).astype(_F32))
    mask = np.maximum(core, _F32(0.55) * spicules)

    patch = image[y0:y1, x0:x1]
    level = patch.astype(_F32)
    blended = level + mask * _F32(0.5) * (_F32(top) - level)
    np.copyto(patch, np.clip(np.rint(blended), 1, top).astype(image.dtype), where=patch > 0)
    return int(cy), int(cx), radius


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
    mass: bool = False,
    keep: bool = True,
    depth: tuple[int, int] | None = None,
) -> np.ndarray:
    """A rows × cols mammogram, values in [0, 2**bits_stored), MONOCHROME2 (dense is bright).

    Background is 0 (the Pixel Padding Value); the breast is at least 1. The chest wall is on the
    left for ``laterality`` L and on the right for R. ``dtype`` is uint8 or uint16. ``mass`` adds
    a spiculated mass (:func:`_mass`), placed from its own generator so that the anatomy and any
    calcifications are the same with or without it. ``keep`` False draws the anatomy without
    caching it (an object drawn frame by frame, too large to hold, must not fill the cache).

    ``depth`` (frame, frames): slice ``frame`` of a tomosynthesis object through the breast of
    ``seed``. Every slice has the breast's outline; its tissue is drawn on a plane every
    :data:`SLICES_PER_PLANE` slices (plane 0 is the breast drawn without ``depth``) and each slice
    blends the two planes around it, so that structures fade in and out from slice to slice; the
    quantum noise is the slice's own. A lesion goes on from the nearer plane. Planes are cached
    whatever ``keep`` says (one is 1/64 of a slice's pixels, one per several slices)."""
    noise_seed = seed
    if depth is not None:
        frame, frames = depth
        drawn = _drawn_slice(seed, frame, frames, rows, cols, oblique)
        noise_seed = (seed + frame) % 2**63
    elif keep:
        drawn = _drawn_anatomy(seed, rows, cols, oblique)
    else:
        drawn = _drawn_anatomy.__wrapped__(seed, rows, cols, oblique)
    top = (1 << bits_stored) - 1
    amplitude = min(max(1, top // 64), max(0, (top - 2) // 4))
    span = top - 2 * amplitude - 1  # level + noise stays <= top
    anatomy = drawn.anatomy * _F32(span)
    anatomy += _F32(1.5)  # round, and never 0 inside the breast
    levels = _double(anatomy).astype(dtype)

    noise = _noise_pool(cols, amplitude, np.dtype(dtype))
    offsets = np.random.default_rng(noise_seed ^ 0x5EED).integers(0, 1024, -(-rows // _BAND))
    image = np.empty((rows, cols), dtype=dtype)  # every pixel written by _paint
    right = laterality == "R"
    _paint(image, _widen(levels, right), drawn.edge, noise, offsets, right)
    coarse_rows, coarse_cols = _coarse(rows, cols)
    scale = (rows / coarse_rows, cols / coarse_cols)
    if calcifications:  # the seed's generator, where the anatomy left it
        rng = np.random.Generator(np.random.PCG64(0))
        rng.bit_generator.state = drawn.state
        _calcifications(rng, image, drawn.glands, scale, top, right)
    if mass:
        _mass(np.random.default_rng(seed ^ 0x3A55), image, drawn.glands, scale, top, right)
    return image
