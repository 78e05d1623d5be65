"""Round trips through every frame encoder in dicomfab.build.codecs, decoded back by pydicom."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from pydicom import uid
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate

from dicomfab.build import codecs, encoding
from dicomfab.errors import TransferSyntaxError

Encoder = Callable[[np.ndarray, int], bytes]

BITS = (8, 10, 12, 16)

# name → (encoder, transfer syntax UID, lossy, bits stored to try)
CODECS: dict[str, tuple[Encoder, str, bool, tuple[int, ...]]] = {
    "rle": (codecs.encode_rle, uid.RLELossless, False, BITS),
    "jpeg-ls": (codecs.encode_jpeg_ls, uid.JPEGLSLossless, False, BITS),
    "j2k-lossless": (codecs.encode_j2k_lossless, uid.JPEG2000Lossless, False, BITS),
    "j2k-lossy": (codecs.encode_j2k_lossy, uid.JPEG2000, True, BITS),
    "jpeg-baseline": (codecs.encode_jpeg_baseline, uid.JPEGBaseline8Bit, True, (8,)),
    "jpeg-lossless-sv1": (codecs.encode_jpeg_lossless_sv1, uid.JPEGLosslessSV1, False, BITS),
}

CASES = [
    pytest.param(name, bits, shape, id=f"{name}-{bits}bit-{shape[0]}x{shape[1]}")
    for name, (*_, bits_list) in CODECS.items()
    for bits in bits_list
    for shape in ((48, 64), (47, 63))  # odd pixel count: odd-length 8-bit frames
]


def make_frame(bits_stored: int, shape: tuple[int, int] = (48, 64), seed: int = 0) -> np.ndarray:
    """A smooth diagonal gradient plus a little noise, filling most of ``bits_stored``."""
    top = 2**bits_stored - 1
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    gradient = (rows / shape[0] + cols / shape[1]) * 0.45 * top + 0.05 * top
    noise = np.random.default_rng(seed).normal(0, top / 256, shape)
    dtype = np.uint8 if bits_stored <= 8 else np.uint16
    return np.clip(np.rint(gradient + noise), 0, top).astype(dtype)


def decode(payload: bytes, frame: np.ndarray, bits_stored: int, transfer_syntax: str) -> np.ndarray:
    """Wrap one encoded frame in a minimal dataset and let pydicom decode it."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    ds.Rows, ds.Columns = frame.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 8 * frame.itemsize
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    ds.PixelData = encapsulate([payload])
    ds["PixelData"].VR = "OB"
    return ds.pixel_array


@pytest.mark.parametrize(("name", "bits_stored", "shape"), CASES)
def test_round_trip(name: str, bits_stored: int, shape: tuple[int, int]) -> None:
    encoder, transfer_syntax, lossy, _ = CODECS[name]
    frame = make_frame(bits_stored, shape)

    payload = encoder(frame, bits_stored)
    assert isinstance(payload, bytes)
    decoded = decode(payload, frame, bits_stored, transfer_syntax)

    assert decoded.shape == frame.shape
    assert decoded.dtype == frame.dtype
    if lossy:
        error = np.abs(decoded.astype(np.int64) - frame).mean()
        assert error < 0.01 * (2**bits_stored - 1), f"mean abs error {error:.2f}"
        assert len(payload) < frame.nbytes / 2
    else:
        np.testing.assert_array_equal(decoded, frame)


@pytest.mark.parametrize("name", list(CODECS))
def test_deterministic(name: str) -> None:
    encoder, *_, bits_list = CODECS[name]
    bits_stored = bits_list[-1]
    frame = make_frame(bits_stored, (64, 80), seed=1)
    assert encoder(frame, bits_stored) == encoder(frame.copy(), bits_stored)


@pytest.mark.parametrize(
    ("name", "bits_stored"),
    [("rle", 1), ("rle", 8), ("j2k-lossless", 6), ("jpeg-ls", 5), ("jpeg-lossless-sv1", 6)],
)
def test_uncommon_bit_depths(name: str, bits_stored: int) -> None:
    """Fewer bits stored than the dtype holds, including ≤ 8 bits in a uint16 frame."""
    encoder, transfer_syntax, *_ = CODECS[name]
    frame = make_frame(bits_stored).astype(np.uint16)
    payload = encoder(frame, bits_stored)
    np.testing.assert_array_equal(decode(payload, frame, bits_stored, transfer_syntax), frame)


def test_jpeg_lossless_precision_is_bits_stored_for_12_bits() -> None:
    payload = codecs.encode_jpeg_lossless_sv1(make_frame(12), 12)
    sof3 = payload.index(b"\xff\xc3")
    assert payload[sof3 + 4] == 12  # sample precision P


def test_registry_resolves_every_encoder() -> None:
    encoders = {ts.frame_encoder() for ts in encoding.REGISTRY if ts.compressed}
    assert encoders == {encoder for encoder, *_ in CODECS.values()}


@pytest.mark.parametrize(
    ("name", "frame", "bits_stored", "match"),
    [
        ("jpeg-baseline", make_frame(12), 12, "dtype must be uint8"),
        ("jpeg-baseline", make_frame(7), 7, "cannot hold 7 bits stored"),
        ("jpeg-ls", make_frame(8), 1, "cannot hold 1 bits stored"),
        ("jpeg-lossless-sv1", make_frame(8), 1, "cannot hold 1 bits stored"),
        ("rle", make_frame(8), 12, "cannot hold 12 bits stored in a uint8 frame"),
        ("rle", make_frame(12), 10, "does not fit in 10 bits stored"),
        ("rle", make_frame(8).astype(np.int16), 8, "dtype must be"),
        ("rle", make_frame(8).astype(np.float32), 8, "dtype must be"),
        ("jpeg-ls", np.stack([make_frame(8)] * 2), 8, "one monochrome frame"),
        ("j2k-lossless", make_frame(8, (16, 64)), 8, "too small"),
        ("j2k-lossy", make_frame(8, (64, 31)), 8, "too small"),
    ],
)
def test_unsupported_input(name: str, frame: np.ndarray, bits_stored: int, match: str) -> None:
    encoder, *_ = CODECS[name]
    with pytest.raises(TransferSyntaxError, match=match):
        encoder(frame, bits_stored)
