"""An AI result screen captured as RGB: a mammogram windowed to 8 bits, its findings outlined in
colour and the AI's verdict burned into the corner (with the patient's name, ID and study date,
as such screens show them).

Text is drawn with the screen capture's bitmap font (``screen``), scaled with the image, so the
same lines give the same pixels on every machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw

from dicomfab.builder.pixels import screen

if TYPE_CHECKING:
    from dicomfab.builder.plan_model import InstancePlan

MODEL = "Synthetic Breast AI"  # the AI that "made" the capture (SC Equipment)
MASS = (255, 210, 0)
CALCIFICATIONS = (0, 200, 255)
TEXT = (255, 255, 255)
WARNING = (255, 80, 60)
BOX = (0, 0, 0)
LINE_HEIGHT = 13  # the bitmap font's line pitch, before scaling


def to_rgb(frame: np.ndarray, window: tuple[float, float] | None, inverse: bool) -> np.ndarray:
    """A grey frame windowed to 8 bits (the VOI window given, else its own range; MONOCHROME1
    ``inverse`` flipped so that dense tissue shows bright) as rows × columns × 3 uint8."""
    values = frame.astype(np.float64)
    if window is None:
        low, high = float(values.min()), float(values.max())
    else:
        centre, width = window
        low, high = centre - width / 2, centre + width / 2
    grey = np.clip((values - low) / max(high - low, 1.0), 0.0, 1.0) * 255.0
    if inverse:
        grey = 255.0 - grey
    level = np.rint(grey).astype(np.uint8)
    return np.repeat(level[:, :, None], 3, axis=2)


def outline(
    rgb: np.ndarray, row: float, column: float, radius: float, colour: tuple[int, int, int]
) -> None:
    """Draw a ring of ``radius`` pixels round (row, column) into ``rgb`` (in place)."""
    rows, columns = rgb.shape[:2]
    yy, xx = np.ogrid[:rows, :columns]
    distance = np.hypot(yy + 0.5 - row, xx + 0.5 - column)
    width = max(1.0, radius / 12)
    rgb[np.abs(distance - radius) <= width / 2 + 0.5] = colour


def caption(rgb: np.ndarray, lines: Sequence[str], warning: int | None = None) -> None:
    """Burn ``lines`` of text into a top corner of ``rgb`` (in place) on a black box: the corner
    with less tissue under it (the darker one, away from the breast); line number ``warning`` in
    red. The font scales with the image (1 up to 639 pixels)."""
    rows, columns = rgb.shape[:2]
    scale = max(1, min(rows, columns) // 320)
    text = [line.encode("latin-1", "replace").decode("latin-1") for line in lines]
    font = screen._font()
    width = max(int(font.getlength(line)) for line in text) + 6 if text else 0
    height = LINE_HEIGHT * len(text) + 4
    small = Image.new("RGB", (width, height), BOX)
    draw = ImageDraw.Draw(small)
    for n, line in enumerate(text):
        draw.text((3, 2 + LINE_HEIGHT * n), line, font=font, fill=WARNING if n == warning else TEXT)
    big = small.resize((width * scale, height * scale), Image.Resampling.NEAREST)
    box = np.asarray(big, dtype=np.uint8)
    h, w = min(box.shape[0], rows), min(box.shape[1], columns)
    left, right = rgb[:h, :w].mean(), rgb[:h, columns - w :].mean()
    if right < left:
        rgb[:h, columns - w :] = box[:h, :w]
    else:
        rgb[:h, :w] = box[:h, :w]


def lines(plan: InstancePlan) -> list[str]:
    """The burned-in text: the verdict (the highest probability), the maker, the warning, the
    patient and the study."""
    from dicomfab.builder.lesions import findings
    from dicomfab.builder.modules import MANUFACTURER

    score = max(f.probability for f in findings(plan))
    patient, study = plan.patient, plan.study
    return [
        f"AI score {round(score * 100)}%",
        f"{MANUFACTURER} {MODEL}",
        "NOT FOR DIAGNOSIS",
        str(patient.name).replace("^", ", "),
        f"ID {patient.patient_id}  {study.date.isoformat()}",
    ]
