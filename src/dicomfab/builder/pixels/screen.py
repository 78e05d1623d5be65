"""An RGB screen capture of a CAD / reporting workstation with text burned into the pixels.

The text (the patient's name and ID, the study date, …) is drawn with Pillow's built-in bitmap
font, doubled in size, so the same lines give the same pixels on every machine (no FreeType, no
system fonts). A grey image viewport with a red CAD mark sits under the text.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

BACKGROUND = (18, 20, 28)
HEADER = (32, 64, 128)
TEXT = (255, 255, 255)
HIGHLIGHT = (255, 210, 0)
MARK = (230, 30, 30)
SCALE = 2  # the bitmap font's glyphs are 11 pixels high; doubled, they read like a screen's


def _font() -> ImageFont.ImageFont:
    """Pillow's bitmap font (``load_default_imagefont`` since Pillow 10.1; before that,
    ``load_default`` returned it)."""
    loader = getattr(ImageFont, "load_default_imagefont", None)
    font = loader() if loader is not None else ImageFont.load_default()
    assert isinstance(font, ImageFont.ImageFont)
    return font


def synthesize(seed: int, rows: int, cols: int, lines: Sequence[str]) -> np.ndarray:
    """A ``rows`` × ``columns`` × 3 uint8 screen: a header bar with the first line, the other
    lines below it, and a viewport with a grey gradient and a CAD mark placed by ``seed``."""
    rng = np.random.default_rng(seed)
    small = Image.new("RGB", (max(1, cols // SCALE), max(1, rows // SCALE)), BACKGROUND)
    draw = ImageDraw.Draw(small)
    font = _font()
    width = small.size[0]
    draw.rectangle((0, 0, width, 14), fill=HEADER)
    text = [line.encode("latin-1", "replace").decode("latin-1") for line in lines]
    if text:
        draw.text((4, 2), text[0], font=font, fill=TEXT)
    for n, line in enumerate(text[1:]):
        draw.text((4, 20 + 13 * n), line, font=font, fill=HIGHLIGHT if n == 0 else TEXT)
    screen = np.asarray(small.resize((cols, rows), Image.Resampling.NEAREST), dtype=np.uint8)
    screen = screen.copy()

    top = min(rows - 1, (20 + 13 * len(text)) * SCALE + 8)  # the viewport, below the text
    left, right, bottom = cols // 8, cols - cols // 8, rows - rows // 16
    if bottom - top > 8 and right - left > 8:
        ramp = np.linspace(40, 200, right - left, dtype=np.float32)[None, :, None]
        shade = np.broadcast_to(ramp, (bottom - top, right - left, 3))
        screen[top:bottom, left:right] = np.rint(shade).astype(np.uint8)
        cy = int(rng.integers(top + (bottom - top) // 4, bottom - (bottom - top) // 4))
        cx = int(rng.integers(left + (right - left) // 4, right - (right - left) // 4))
        radius = max(3, min(bottom - top, right - left) // 12)
        yy, xx = np.ogrid[:rows, :cols]
        ring = np.abs(np.hypot(yy - cy, xx - cx) - radius) < max(1.0, radius / 8)
        screen[ring] = MARK
    return screen
