"""Reading files back: headers for ``inspect``, windowed PNG previews for people and the UI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import FileDataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import pixel_array
from pydicom.uid import JPEGBaseline8Bit, JPEGLossless, JPEGLosslessSV1

from dicomfab.errors import DicomfabError


def read_header(path: Path) -> FileDataset:
    try:
        return dcmread(path, stop_before_pixels=False, defer_size=1024)
    except (InvalidDicomError, OSError) as exc:
        raise DicomfabError(f"{path}: not a readable DICOM file ({exc})") from None


def _window(ds: FileDataset, frame: np.ndarray) -> np.ndarray:
    data = frame.astype(np.float32)
    centre, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if centre is not None and width is not None:
        c = float(
            centre[0]
            if isinstance(centre, list | tuple)
            or (hasattr(centre, "__len__") and not isinstance(centre, str))
            else centre
        )
        w = float(width[0] if hasattr(width, "__len__") and not isinstance(width, str) else width)
        low, high = c - w / 2, c + w / 2
    else:
        body = data[data > data.min()] if np.any(data > data.min()) else data
        low, high = np.percentile(body, [0.5, 99.5])
    scaled = np.clip((data - low) / max(high - low, 1e-6), 0.0, 1.0)
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":
        scaled = 1.0 - scaled
    return np.asarray(np.rint(scaled * 255), dtype=np.uint8)


def decoding_plugin(ds: FileDataset) -> str:
    """The pydicom decoder to use ("" lets pydicom choose). GDCM aborts the whole process on
    some valid JPEG files (8 bits allocated, fewer stored) and pydicom would try it first, so
    JPEG processes 1 and 14 go to pylibjpeg, which decodes them."""
    ts = ds.file_meta.get("TransferSyntaxUID")
    return "pylibjpeg" if ts in (JPEGBaseline8Bit, JPEGLosslessSV1, JPEGLossless) else ""


def preview_image(path: Path, size: int = 512) -> Image.Image:
    """A windowed 8-bit preview of the first frame, longest side ``size``."""
    ds = read_header(path)
    if "PixelData" not in ds:
        raise DicomfabError(f"{path}: no pixel data to preview")
    try:
        pixels = pixel_array(
            ds,
            index=0 if ds.get("NumberOfFrames", 1) > 1 else None,
            decoding_plugin=decoding_plugin(ds),
        )
    except Exception as exc:  # any decoder failure is the file's problem, reported plainly
        raise DicomfabError(f"{path}: cannot decode pixel data ({exc})") from None
    frame = pixels
    image = Image.fromarray(_window(ds, frame)) if frame.ndim == 2 else Image.fromarray(frame)
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return image


def render_png(path: Path, out: Path, size: int = 512) -> None:
    preview_image(path, size).save(out, format="PNG")
