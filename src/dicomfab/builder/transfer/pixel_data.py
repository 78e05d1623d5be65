"""Attach pixel data to a built dataset in its transfer syntax.

Native little-endian pixels are not copied into the dataset: they stay in the shared
``PixelImage`` buffer and the writer streams them after the header. Every other syntax puts the
encoded value into ``PixelData``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian

from dicomfab.builder.pixels.image import PixelImage
from dicomfab.builder.transfer.quality import DEFAULT_PSNR
from dicomfab.builder.transfer.registry import TransferSyntax

BASIC_OFFSET_TABLE_REACH = 0xFFFFFFFF
"""The furthest a Basic Offset Table's 32-bit offsets reach: an object whose native pixels are
larger is encoded with an Extended Offset Table (PS3.5 A.4, PS3.3 C.7.6.3.1.8)."""


@dataclass
class FrameStream:
    """Encapsulated pixels the writer encodes and writes one frame at a time (one fragment per
    frame, an empty Basic Offset Table), filling in the Extended Offset Table afterwards."""

    frames: int
    encoded: Callable[[], Iterator[bytes]]  # each frame's codestream, in order


@dataclass
class EncodedInstance:
    dataset: Dataset  # header + file meta; PixelData set unless ``stream``/``fragments`` is given
    stream: PixelImage | None = None  # native pixels the writer appends after the header
    # encapsulated pixels the writer encodes and appends frame by frame, after a header whose
    # ExtendedOffsetTable and ExtendedOffsetTableLengths are placeholders (zeros) to fill in
    fragments: FrameStream | None = None


def encode(
    ds: Dataset,
    image: PixelImage | None,
    ts: TransferSyntax,
    keep: frozenset[str] = frozenset(),
    quality: float | None = None,
    extended: bool = False,
) -> EncodedInstance:
    """Add the pixel data of ``image`` in ``ts``; a lossy ``ts`` keeps ``quality`` dB PSNR (None:
    the default). Attributes named in ``keep`` (those the spec set explicitly, such as
    LossyImageCompression) are not overwritten. ``extended`` (or an image drawn frame by frame)
    with a compressed ``ts``: an Extended Offset Table, the frames encoded as they are written."""
    if image is None:
        return EncodedInstance(ds)
    if image.frames > 1 or "NumberOfFrames" in ds:
        ds.NumberOfFrames = image.frames
    if not ts.compressed:
        if ts.uid == ExplicitVRBigEndian:
            array = image.array
            data = array.astype(array.dtype.newbyteorder(">"), copy=False).tobytes()
            ds.PixelData = data + (b"\x00" if len(data) % 2 else b"")
        elif ts.uid == DeflatedExplicitVRLittleEndian:
            ds.PixelData = image.native_bytes()
        else:
            return EncodedInstance(ds, stream=image)
        ds["PixelData"].VR = "OW" if image.bits_allocated > 8 else "OB"
        return EncodedInstance(ds)

    if extended or image.draw is not None:
        return _streamed(ds, image, ts)
    frames = image.encoded.get((ts.name, quality))
    if frames is None:
        frames = encode_frames(ts, image.frame_arrays(), image.bits_stored, quality)
        image.encoded[(ts.name, quality)] = frames
    ds.PixelData = encapsulate(frames, has_bot=image.frames > 1)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    exact = ts.exact  # a frame a lossy syntax coded without loss gets no lossy flags
    if ts.lossy and not all(exact is not None and exact(f) for f in frames):
        flags = {  # PS3.3 C.7.6.1.1.5: the ratio achieved, native bytes / encoded bytes
            "LossyImageCompression": "01",
            "LossyImageCompressionRatio": f"{compression_ratio(image, frames):.2f}",
            "LossyImageCompressionMethod": ts.lossy_method,
        }
        for keyword, value in flags.items():
            if keyword not in keep:
                setattr(ds, keyword, value)
    return EncodedInstance(ds)


def _streamed(ds: Dataset, image: PixelImage, ts: TransferSyntax) -> EncodedInstance:
    """The Extended Offset Table path (lossless syntaxes only: the lossy flags would need every
    frame before the header is written)."""
    if ts.lossy:
        raise ValueError(f"{ts.name} is lossy: no frame-by-frame Extended Offset Table")
    placeholder = bytes(8 * image.frames)  # one 64-bit offset / length per frame
    ds.ExtendedOffsetTable = placeholder
    ds["ExtendedOffsetTable"].VR = "OV"
    ds.ExtendedOffsetTableLengths = placeholder
    ds["ExtendedOffsetTableLengths"].VR = "OV"
    encoder = ts.frame_encoder()

    def encoded() -> Iterator[bytes]:
        for frame in image.iter_frames():
            yield encoder(frame, image.bits_stored)

    return EncodedInstance(ds, fragments=FrameStream(image.frames, encoded))


def cut_pixel_data(encoded: EncodedInstance, fraction: float) -> EncodedInstance:
    """``encoded`` with its native Pixel Data value cut to ``fraction`` of its length (rounded
    down to an even number of bytes): a corrupt image on purpose, whose header still describes
    the whole image (the predecessor's ``force_corrupt_pixel`` kept half)."""
    ds = encoded.dataset
    if encoded.stream is not None:
        data: bytes = encoded.stream.native_bytes()
        vr = "OW" if encoded.stream.bits_allocated > 8 else "OB"
    elif "PixelData" in ds and not ds["PixelData"].is_undefined_length:
        data, vr = ds.PixelData, ds["PixelData"].VR
    else:
        raise ValueError("only native (not encapsulated) Pixel Data can be cut")
    ds.PixelData = bytes(data[: int(len(data) * fraction) & ~1])
    ds["PixelData"].VR = vr
    return EncodedInstance(ds)


def encode_frames(
    ts: TransferSyntax, frames: Sequence[np.ndarray], bits_stored: int, target: float | None = None
) -> list[bytes]:
    """Encode each frame; a lossy syntax keeps ``target`` dB PSNR (default: the default quality),
    choosing its compression from each frame's content."""
    encoder = ts.frame_encoder()
    if not ts.lossy:
        return [encoder(frame, bits_stored) for frame in frames]
    psnr = DEFAULT_PSNR if target is None else target
    return [encoder(frame, bits_stored, target=psnr) for frame in frames]


def compression_ratio(image: PixelImage, frames: list[bytes]) -> float:
    """The native size of the pixels (Bits Allocated per sample) over their encoded size."""
    return image.array.nbytes / (sum(len(f) for f in frames) or 1)
