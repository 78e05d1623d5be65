"""Pixel synthesis: which generator an instance gets, and a cache so that one anatomy is drawn once
and shared by every instance (and every prior) that shows it."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from dicomfab.builder.pixels import capture, mammo, patterns, screen
from dicomfab.builder.pixels.image import PixelImage

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan

_CACHE_SIZE = 12
_CACHE_BYTES = 512 << 20
"""At most this many bytes of pixels stay cached (a larger image is drawn, used and dropped): a
clinical-size tomosynthesis object (72 slices of 2816 × 2304 in 16 bits) is 934 MB, and a study
of four must not stay in memory at once."""
_cache: OrderedDict[tuple[object, ...], PixelImage] = OrderedDict()


def render(plan: InstancePlan) -> PixelImage | None:
    """The pixels of one instance, or None for an IOD without pixel data."""
    if plan.iod.pixels is None:
        return None
    opts = plan.pixels
    bits_stored = opts.bits_stored or 12
    bits_allocated = opts.bits_allocated or (8 if bits_stored <= 8 else 16)
    pattern = opts.pattern or "auto"
    if pattern == "auto":
        pattern = "mammo" if plan.view is not None else "gradient"
    view = plan.view
    if plan.iod.derived:  # drawn from the image it refers to (an AI capture)
        return _capture(plan)
    if opts.photometric == "RGB":
        return _screen(plan)
    key = (
        pattern,
        plan.patient.anatomy_seed,
        view.name if view else None,
        opts.rows or 512,
        opts.columns or 512,
        min(bits_stored, bits_allocated),
        bits_allocated,
        opts.frames or 1,
        opts.drawn_lesion() == "calcifications",
        opts.drawn_lesion() == "mass",
        opts.photometric or "MONOCHROME2",
    )
    part = plan.concatenation
    if plan.extended_offset_table:  # not cached: it holds no pixels
        return _lazy(key, part.frame_offset if part else 0, part.frames if part else None)
    found = _cache.get(key)
    if found is None:
        found = _draw(*key)
        if found.array.nbytes <= _CACHE_BYTES:
            _cache[key] = found
        while len(_cache) > _CACHE_SIZE or _cached_bytes() > _CACHE_BYTES:
            _cache.popitem(last=False)
    else:
        _cache.move_to_end(key)
    if part is not None:  # this instance's frames of the whole object (a view, not a copy)
        window = found.array[part.frame_offset : part.frame_offset + part.frames]
        return PixelImage(window, found.bits_stored, found.photometric, found.samples)
    return found


def _cached_bytes() -> int:
    return sum(image.array.nbytes for image in _cache.values())


def _draw(
    pattern: object,
    seed: object,
    view_name: object,
    rows: object,
    cols: object,
    bits_stored: object,
    bits_allocated: object,
    frames: object,
    calcs: object,
    mass: object,
    photometric: object,
) -> PixelImage:
    assert isinstance(rows, int) and isinstance(cols, int)
    assert isinstance(bits_stored, int) and isinstance(frames, int)
    one = _drawer(
        pattern, seed, view_name, rows, cols, bits_stored, bits_allocated, calcs, mass, frames
    )
    if frames == 1:
        array = one(0)
    else:  # filled frame by frame: the peak is the volume plus one frame, not twice the volume
        array = np.empty((frames, rows, cols), dtype=_dtype(bits_allocated))
        for frame in range(frames):
            array[frame] = one(frame)
    if photometric == "MONOCHROME1":
        array = _invert(array, bits_stored)
    return PixelImage(array, bits_stored, str(photometric))


def _dtype(bits_allocated: object) -> type[np.unsignedinteger]:
    return np.uint8 if bits_allocated == 8 else np.uint16


def _invert(array: np.ndarray, bits_stored: int) -> np.ndarray:
    return np.subtract(array.dtype.type((1 << bits_stored) - 1), array)  # one pass, same dtype


def _drawer(
    pattern: object,
    seed: object,
    view_name: object,
    rows: int,
    cols: int,
    bits_stored: int,
    bits_allocated: object,
    calcs: object,
    mass: object,
    frames: int = 1,
    keep: bool = True,
) -> Callable[[int], np.ndarray]:
    """What draws frame ``i`` of ``frames`` of an image (MONOCHROME2), each frame on its own:
    a mammogram's frames are slices through one breast (:func:`mammo.synthesize`'s ``depth``).
    ``keep`` False: nothing of a single frame's anatomy stays cached (see
    :func:`mammo.synthesize`)."""
    assert isinstance(seed, int)
    dtype = _dtype(bits_allocated)
    if pattern == "mammo":
        name = str(view_name or "LCC")
        laterality, oblique = name[0], "MLO" in name or "LMO" in name
        # one anatomy per patient, breast and projection
        anatomy_seed = (seed + sum(map(ord, name))) % 2**63

        def one(frame: int) -> np.ndarray:
            return mammo.synthesize(
                anatomy_seed,
                rows,
                cols,
                bits_stored,
                dtype,
                laterality=laterality,
                oblique=oblique,
                calcifications=bool(calcs),
                mass=bool(mass),
                keep=keep,
                depth=(frame, frames) if frames > 1 else None,
            )

        return one

    def other(frame: int) -> np.ndarray:
        return patterns.synthesize(str(pattern), seed + frame, rows, cols, bits_stored, dtype)

    return other


def _lazy(key: tuple[object, ...], first: int = 0, count: int | None = None) -> PixelImage:
    """The image ``key`` describes (``count`` of its frames from ``first``: a concatenation's
    part), drawn one frame at a time as the encoder asks (the Extended Offset Table path: an
    object too large to hold)."""
    pattern, seed, view_name, rows, cols, bits_stored, bits_allocated, frames = key[:8]
    calcs, mass, photometric = key[8:]
    assert isinstance(rows, int) and isinstance(cols, int)
    assert isinstance(bits_stored, int) and isinstance(frames, int)
    one = _drawer(
        pattern, seed, view_name, rows, cols, bits_stored, bits_allocated, calcs, mass, frames,
        keep=False,
    )  # fmt: skip

    def draw(frame: int) -> np.ndarray:
        array = one(first + frame)
        return _invert(array, bits_stored) if photometric == "MONOCHROME1" else array

    dtype = np.dtype(_dtype(bits_allocated))
    frames = frames - first if count is None else count
    return PixelImage.lazy(frames, rows, cols, dtype, bits_stored, str(photometric), draw)


def _screen(plan: InstancePlan) -> PixelImage:
    """An RGB screen capture whose text names the patient and the study (not cached: its text
    differs per patient and study)."""
    opts = plan.pixels
    patient, study = plan.patient, plan.study
    lines = [
        "CAD REVIEW - SCREEN CAPTURE",
        str(patient.name).replace("^", ", "),
        f"ID {patient.patient_id}",
        f"DOB {patient.birth_date.isoformat() if patient.birth_date else '-'}  SEX {patient.sex}",
        f"STUDY {study.date.isoformat()}  {study.description}",
    ]
    frames = [
        screen.synthesize(
            patient.anatomy_seed + frame, opts.rows or 512, opts.columns or 512, lines
        )
        for frame in range(opts.frames or 1)
    ]
    array = frames[0] if len(frames) == 1 else np.stack(frames)
    return PixelImage(array, 8, "RGB", samples=3)


def _capture(plan: InstancePlan) -> PixelImage:
    """An AI result screen of the image ``plan`` marks: that image (its middle slice) windowed
    to 8 bits as RGB, the findings outlined, the verdict and the patient burned in (not cached:
    its text differs per object)."""
    from dicomfab.builder import lesions

    ref = plan.references[lesions.marked_index(plan)]
    source = lesions.source_dataset(plan, ref)
    assert ref.instance is not None  # ai_sc.check refuses a foreign reference at validate
    shown = render(ref.instance)
    assert shown is not None and shown.samples == 1
    frames = shown.frame_arrays()
    centre, width = source.get("WindowCenter"), source.get("WindowWidth")
    window = (_first(centre), _first(width)) if centre is not None and width is not None else None
    rgb = capture.to_rgb(frames[len(frames) // 2], window, shown.photometric == "MONOCHROME1")
    capture.caption(rgb, capture.lines(plan), warning=2)
    for lesion in lesions.place(plan, ref, source):  # over the caption: no finding is hidden
        colour = capture.MASS if lesion.finding.kind == "mass" else capture.CALCIFICATIONS
        capture.outline(rgb, lesion.row, lesion.column, lesion.radius, colour)
    return PixelImage(rgb, 8, "RGB", samples=3)


def _first(value: object) -> float:
    """The first of a (possibly multi-valued) DS value."""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return float(value[0])  # type: ignore[index]
    return float(value)  # type: ignore[arg-type]
