"""Round trips through every frame encoder of dicomfab.builder.transfer, decoded back by pydicom."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom import uid
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import pixel_array

from dicomfab.builder.transfer import encoders as codecs
from dicomfab.builder.transfer import gdcm_encoders, htj2k_encoders, jpeg_lossless, registry
from dicomfab.builder.transfer.quality import psnr
from dicomfab.errors import TransferSyntaxError
from dicomtools import require

Encoder = Callable[[np.ndarray, int], bytes]

BITS = (8, 10, 12, 16)

# name → (encoder, transfer syntax UID, lossy, bits stored to try)
CODECS: dict[str, tuple[Encoder, str, bool, tuple[int, ...]]] = {
    "rle": (codecs.encode_rle, uid.RLELossless, False, BITS),
    "jpeg-ls": (codecs.encode_jpeg_ls, uid.JPEGLSLossless, False, BITS),
    "j2k-lossless": (codecs.encode_j2k_lossless, uid.JPEG2000Lossless, False, BITS),
    "j2k-lossy": (codecs.encode_j2k_lossy, uid.JPEG2000, True, BITS),
    "jpeg-baseline": (gdcm_encoders.encode_jpeg_baseline, uid.JPEGBaseline8Bit, True, (8,)),
    "jpeg-extended": (gdcm_encoders.encode_jpeg_extended, uid.JPEGExtended12Bit, True, (12,)),
    "jpeg-lossless-sv1": (gdcm_encoders.encode_jpeg_lossless_sv1, uid.JPEGLosslessSV1, False, BITS),
    "jpeg-lossless": (jpeg_lossless.encode_jpeg_lossless, uid.JPEGLossless, False, (*BITS, 14)),
    "jpeg-ls-near": (codecs.encode_jpeg_ls_near_lossless, uid.JPEGLSNearLossless, True, BITS),
    "htj2k-lossless": (htj2k_encoders.encode_htj2k_lossless, uid.HTJ2KLossless, False, BITS),
    "htj2k-rpcl": (htj2k_encoders.encode_htj2k_rpcl_lossless, uid.HTJ2KLosslessRPCL, False, BITS),
    "htj2k": (htj2k_encoders.encode_htj2k_lossy, uid.HTJ2K, True, BITS),
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


def encapsulated(payload: bytes, frame: np.ndarray, bits_stored: int, ts: str) -> Dataset:
    """A minimal single-frame image dataset around one encoded frame."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
    ds.Rows, ds.Columns = frame.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 8 * frame.itemsize
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    ds.PixelData = encapsulate([payload])
    ds["PixelData"].VR = "OB"
    return ds


def decode(payload: bytes, frame: np.ndarray, bits_stored: int, transfer_syntax: str) -> np.ndarray:
    """Wrap one encoded frame in a minimal dataset and let pydicom decode it."""
    return encapsulated(payload, frame, bits_stored, transfer_syntax).pixel_array


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
    [
        ("rle", 1),
        ("rle", 8),
        ("j2k-lossless", 6),
        ("jpeg-ls", 5),
        ("jpeg-lossless-sv1", 6),
        ("jpeg-lossless", 2),
        ("jpeg-lossless", 6),
        ("htj2k-lossless", 1),
        ("htj2k-lossless", 6),
        ("htj2k-rpcl", 6),
    ],
)
def test_uncommon_bit_depths(name: str, bits_stored: int) -> None:
    """Fewer bits stored than the dtype holds, including ≤ 8 bits in a uint16 frame."""
    encoder, transfer_syntax, *_ = CODECS[name]
    frame = make_frame(bits_stored).astype(np.uint16)
    payload = encoder(frame, bits_stored)
    np.testing.assert_array_equal(decode(payload, frame, bits_stored, transfer_syntax), frame)


@pytest.mark.parametrize("name", ["j2k-lossless", "j2k-lossy"])
def test_j2k_encodes_one_bit_noise(name: str) -> None:
    """OpenJPEG cannot encode 1-bit noise this large at precision 1; it is written at 2."""
    encoder, transfer_syntax, *_ = CODECS[name]
    frame = (np.random.default_rng(3).random((256, 256)) < 0.5).astype(np.uint8)
    payload = encoder(frame, 1)
    np.testing.assert_array_equal(decode(payload, frame, 1, transfer_syntax), frame)


def test_jpeg_lossless_precision_is_bits_stored_for_12_bits() -> None:
    payload = gdcm_encoders.encode_jpeg_lossless_sv1(make_frame(12), 12)
    sof3 = payload.index(b"\xff\xc3")
    assert payload[sof3 + 4] == 12  # sample precision P


def test_registry_resolves_every_encoder() -> None:
    encoders = {ts.frame_encoder() for ts in registry.REGISTRY if ts.compressed}
    assert encoders == {encoder for encoder, *_ in CODECS.values()}


@pytest.mark.parametrize(
    ("name", "frame", "bits_stored", "match"),
    [
        ("jpeg-baseline", make_frame(12), 12, "dtype must be uint8"),
        ("jpeg-baseline", make_frame(7), 7, "cannot hold 7 bits stored"),
        ("jpeg-ls", make_frame(8), 1, "cannot hold 1 bits stored"),
        ("jpeg-lossless-sv1", make_frame(8), 1, "cannot hold 1 bits stored"),
        ("jpeg-lossless", make_frame(8), 1, "cannot hold 1 bits stored"),
        ("jpeg-ls-near", make_frame(8), 1, "cannot hold 1 bits stored"),
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


def _dcmtk_decode_jpeg_ls(tmp_path: Path, frame: np.ndarray, bits_stored: int) -> np.ndarray:
    """Write one JPEG-LS frame as a Part 10 file, let DCMTK's dcmdjpls decompress it to Explicit
    VR Little Endian (it fails the test if it refuses) and read the native pixels back."""
    payload = codecs.encode_jpeg_ls(frame, bits_stored)
    ds = encapsulated(payload, frame, bits_stored, uid.JPEGLSLossless)
    ds.file_meta.MediaStorageSOPClassUID = uid.SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = "2.25.1"
    ds.SOPClassUID = uid.SecondaryCaptureImageStorage
    ds.SOPInstanceUID = "2.25.1"
    source, native = tmp_path / "jls.dcm", tmp_path / "native.dcm"
    ds.save_as(source, enforce_file_format=True)
    proc = subprocess.run(
        [require("dcmdjpls"), str(source), str(native)], capture_output=True, text=True
    )
    assert proc.returncode == 0, f"dcmdjpls refused the file:\n{proc.stderr}"
    decoded = pydicom.dcmread(native)
    assert decoded.file_meta.TransferSyntaxUID == uid.ExplicitVRLittleEndian
    return np.asarray(decoded.pixel_array)


@pytest.mark.parametrize(
    ("bits_stored", "dtype"),
    [
        (2, np.uint8),
        (6, np.uint8),
        (7, np.uint8),
        (8, np.uint8),
        (6, np.uint16),
        (8, np.uint16),
        (12, np.uint16),
        (16, np.uint16),
    ],
    ids=lambda v: v if isinstance(v, int) else np.dtype(v).name,
)
def test_jpeg_ls_is_decoded_by_dcmtk_and_pydicom(
    tmp_path: Path, bits_stored: int, dtype: type[np.unsignedinteger[Any]]
) -> None:
    """Bits Stored below the cell size (6 in 8, 8 in 16, 12 in 16) must still give a codestream
    DCMTK decodes: its sample precision is 8 in 8-bit cells and at least 9 in 16-bit cells."""
    frame = make_frame(bits_stored, (40, 56)).astype(dtype)
    np.testing.assert_array_equal(_dcmtk_decode_jpeg_ls(tmp_path, frame, bits_stored), frame)

    payload = codecs.encode_jpeg_ls(frame, bits_stored)
    sof55 = payload.index(b"\xff\xf7")
    assert payload[sof55 + 4] == codecs.jpeg_ls_precision(bits_stored, 8 * frame.itemsize)
    # pydicom refuses GDCM for 6 and 7 bits stored, whatever the precision (pydicom issue 2008)
    plugins = ("pyjpegls", "pylibjpeg") + (() if bits_stored in (6, 7) else ("gdcm",))
    for plugin in plugins:
        ds = pydicom.dcmread(tmp_path / "jls.dcm")
        decoded = pixel_array(ds, decoding_plugin=plugin)
        np.testing.assert_array_equal(decoded, frame, err_msg=plugin)


def _dcmtk_decode(
    tmp_path: Path, payload: bytes, frame: np.ndarray, bits_stored: int, ts: str
) -> np.ndarray:
    """Write one encoded frame as a Part 10 file, let DCMTK decompress it (dcmdjpeg for JPEG,
    dcmdjpls for JPEG-LS; it fails the test if it refuses) and read the native pixels back."""
    ds = encapsulated(payload, frame, bits_stored, ts)
    ds.file_meta.MediaStorageSOPClassUID = uid.SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = "2.25.1"
    ds.SOPClassUID = uid.SecondaryCaptureImageStorage
    ds.SOPInstanceUID = "2.25.1"
    source, native = tmp_path / "encoded.dcm", tmp_path / "native.dcm"
    ds.save_as(source, enforce_file_format=True)
    tool = "dcmdjpls" if "JPEG-LS" in uid.UID(ts).name else "dcmdjpeg"
    proc = subprocess.run([require(tool), str(source), str(native)], capture_output=True, text=True)
    assert proc.returncode == 0, f"{tool} refused the file:\n{proc.stderr}"
    return np.asarray(pydicom.dcmread(native).pixel_array)


@pytest.mark.parametrize("bits_stored", [8, 12, 14, 16])
@pytest.mark.parametrize("predictor", range(1, 8))
def test_jpeg_lossless_every_predictor_decodes_exactly(
    tmp_path: Path, predictor: int, bits_stored: int
) -> None:
    """Process 14 with each selection value: pylibjpeg, GDCM and DCMTK give the frame back."""
    frame = make_frame(bits_stored, (47, 63), seed=predictor)
    payload = jpeg_lossless.encode_jpeg_lossless(frame, bits_stored, predictor)
    sos = payload.index(b"\xff\xda")
    assert payload[sos + 7] == predictor  # Ss: the selection value
    ds = encapsulated(payload, frame, bits_stored, uid.JPEGLossless)
    for plugin in ("pylibjpeg", "gdcm"):
        np.testing.assert_array_equal(pixel_array(ds, decoding_plugin=plugin), frame, plugin)
    decoded = _dcmtk_decode(tmp_path, payload, frame, bits_stored, uid.JPEGLossless)
    np.testing.assert_array_equal(decoded, frame)


def test_jpeg_lossless_default_is_not_first_order_prediction() -> None:
    frame = make_frame(12)
    payload = jpeg_lossless.encode_jpeg_lossless(frame, 12)
    assert payload[payload.index(b"\xff\xda") + 7] == jpeg_lossless.PREDICTOR != 1
    assert payload[payload.index(b"\xff\xc3") + 4] == 12  # sample precision P


@pytest.mark.parametrize("bits_stored", [8, 12, 14, 16])
def test_jpeg_ls_near_lossless_keeps_the_target(tmp_path: Path, bits_stored: int) -> None:
    """Every sample within NEAR of the original, as pyjpegls, GDCM and DCMTK decode it; the PSNR
    at least the target."""
    frame = make_frame(bits_stored, (64, 80))
    payload = codecs.encode_jpeg_ls_near_lossless(frame, bits_stored, target=40.0)
    near = codecs.jpeg_ls_near(bits_stored, 40.0)
    assert near > 0 and not codecs.jpeg_ls_is_lossless(payload)
    ds = encapsulated(payload, frame, bits_stored, uid.JPEGLSNearLossless)
    decoded = [pixel_array(ds, decoding_plugin=p) for p in ("pyjpegls", "gdcm")]
    decoded.append(_dcmtk_decode(tmp_path, payload, frame, bits_stored, uid.JPEGLSNearLossless))
    for image in decoded:
        assert np.abs(image.astype(np.int64) - frame).max() <= near
        assert psnr(frame, image, bits_stored) >= 40.0
        assert not np.array_equal(image, frame)  # it is lossy


def test_jpeg_ls_near_lossless_below_the_cell_precision_is_lossless() -> None:
    """6 bits in 8-bit cells are written at precision 8, where NEAR could overshoot 63: NEAR 0."""
    frame = make_frame(6, (64, 80))
    payload = codecs.encode_jpeg_ls_near_lossless(frame, 6, target=20.0)
    assert codecs.jpeg_ls_is_lossless(payload)
    np.testing.assert_array_equal(decode(payload, frame, 6, uid.JPEGLSNearLossless), frame)


def _reference_pack(words: np.ndarray, sizes: np.ndarray) -> bytes:
    """T.81 F.1.2.3 bit by bit: the low ``size`` bits of each word, ones to pad, 0xFF stuffed."""
    pairs = zip(words.tolist(), sizes.tolist(), strict=True)
    bits = "".join(format(w & ((1 << s) - 1), f"0{s}b") for w, s in pairs)
    bits += "1" * (-len(bits) % 8)
    packed = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))
    return packed.replace(b"\xff", b"\xff\x00")


@pytest.mark.parametrize("count", [0, 1, 3, 1000, jpeg_lossless._CHUNK + 5])
def test_jpeg_lossless_pack_matches_a_bit_by_bit_packer(count: int) -> None:
    """Random words of 1–31 bits (with stray high bits to drop), across chunk boundaries."""
    rng = np.random.default_rng(count)
    sizes = rng.integers(1, 32, count).astype(np.int64)
    words = rng.integers(0, 1 << 40, count).astype(np.int64)
    assert jpeg_lossless._pack(words, sizes) == _reference_pack(words, sizes)


def test_jpeg_lossless_pack_stuffs_and_pads() -> None:
    words = np.array([0xFF, 0x0], dtype=np.int64)
    sizes = np.array([8, 3], dtype=np.int64)
    assert jpeg_lossless._pack(words, sizes) == b"\xff\x00\x1f"


def _reference_jpeg_dct(frame: np.ndarray, bits_stored: int, target: float, syntax: int) -> bytes:
    """The quality bisection of gdcm_encoders._jpeg_dct, decoding every candidate."""
    import libjpeg

    from dicomfab.builder.transfer.quality import MAX_RATIO, stored_bytes

    most = stored_bytes(frame, bits_stored) / MAX_RATIO
    best = gdcm_encoders._gdcm_encode(frame, bits_stored, syntax, 100)
    if len(best) < most:
        return best
    low, high = 1, 100
    while low < high:
        middle = (low + high) // 2
        codestream = gdcm_encoders._gdcm_encode(frame, bits_stored, syntax, middle)
        achieved = psnr(frame, libjpeg.decode(codestream), bits_stored)
        if achieved >= target and len(codestream) >= most:
            high, best = middle, codestream
        else:
            low = middle + 1
    return best


@pytest.mark.parametrize("bits_stored", [8, 12])
@pytest.mark.parametrize("target", [35.0, 45.0, 52.0])
def test_jpeg_dct_search_skips_decoding_without_changing_the_result(
    bits_stored: int, target: float
) -> None:
    import gdcm

    frame = make_frame(bits_stored, (96, 80), seed=int(target))
    syntax = (
        gdcm.TransferSyntax.JPEGBaselineProcess1
        if bits_stored == 8
        else gdcm.TransferSyntax.JPEGExtendedProcess2_4
    )
    expected = _reference_jpeg_dct(frame, bits_stored, target, syntax)
    assert gdcm_encoders._jpeg_dct(frame, bits_stored, target, syntax) == expected


def _count_jpeg_dct_attempts(
    monkeypatch: pytest.MonkeyPatch, frame: np.ndarray, bits_stored: int, target: float
) -> tuple[int, int]:
    """Encodes made by the bisection and by gdcm_encoders._jpeg_dct (which must find the same
    codestream, never encoding a quality twice)."""
    import gdcm

    syntax = (
        gdcm.TransferSyntax.JPEGBaselineProcess1
        if bits_stored == 8
        else gdcm.TransferSyntax.JPEGExtendedProcess2_4
    )
    encode = gdcm_encoders._gdcm_encode
    calls: list[int] = []

    def counted(frame: np.ndarray, bits: int, syntax: int, quality: int = 100) -> bytes:
        calls.append(quality)
        return encode(frame, bits, syntax, quality)

    monkeypatch.setattr(gdcm_encoders, "_gdcm_encode", counted)
    expected = _reference_jpeg_dct(frame, bits_stored, target, syntax)
    bisection, calls[:] = len(calls), []
    assert gdcm_encoders._jpeg_dct(frame, bits_stored, target, syntax) == expected
    assert len(calls) == len(set(calls)), calls
    return bisection, len(calls)


@pytest.mark.parametrize("bits_stored", [8, 12])
@pytest.mark.parametrize("target", [35.0, 45.0, 52.0])
@pytest.mark.parametrize("shape", [(96, 80), (416, 320)])
def test_jpeg_dct_search_is_never_much_longer_than_a_bisection(
    monkeypatch: pytest.MonkeyPatch, bits_stored: int, target: float, shape: tuple[int, int]
) -> None:
    """Noise frames, whose 8-bit PSNR is not monotonic in the quality: the interpolation may be
    misled, then it bisects."""
    frame = make_frame(bits_stored, shape, seed=int(target))
    bisection, search = _count_jpeg_dct_attempts(monkeypatch, frame, bits_stored, target)
    assert search <= bisection + 1


@pytest.mark.parametrize("bits_stored", [8, 12])
def test_jpeg_dct_search_on_mammograms_takes_fewer_attempts_than_a_bisection(
    monkeypatch: pytest.MonkeyPatch, bits_stored: int
) -> None:
    """The frames the scenario library encodes: at least a tenth fewer encodes (a quarter on the
    library at reduced size)."""
    from dicomfab.builder.pixels.mammo import synthesize
    from dicomfab.builder.transfer.quality import DEFAULT_PSNR

    dtype = np.uint8 if bits_stored == 8 else np.uint16
    totals = [0, 0]
    for seed in range(4):
        frame = synthesize(seed, 416, 320, bits_stored, dtype, oblique=bool(seed % 2))
        for i, n in enumerate(
            _count_jpeg_dct_attempts(monkeypatch, frame, bits_stored, DEFAULT_PSNR)
        ):
            totals[i] += n
    bisection, search = totals
    assert search <= 0.9 * bisection, totals


@pytest.mark.parametrize("predictor", [1, 7])
def test_jpeg_lossless_difference_of_32768_decodes_exactly(tmp_path: Path, predictor: int) -> None:
    """Jumps of 2**15 in a 16-bit frame: difference category 16, which has no additional bits
    (T.81 H.1.2.2; writing 16 zero bits after its code made every decoder lose the stream)."""
    frame = np.zeros((40, 48), dtype=np.uint16)
    frame[:, 1::2] = 0x8000
    frame[::3, ::5] = 0xFFFF
    payload = jpeg_lossless.encode_jpeg_lossless(frame, 16, predictor)
    categories, _ = jpeg_lossless._differences(frame.astype(np.int32), 16, predictor)
    assert (categories == 16).any()
    ds = encapsulated(payload, frame, 16, uid.JPEGLossless)
    for plugin in ("pylibjpeg", "gdcm"):
        np.testing.assert_array_equal(pixel_array(ds, decoding_plugin=plugin), frame, plugin)
    np.testing.assert_array_equal(
        _dcmtk_decode(tmp_path, payload, frame, 16, uid.JPEGLossless), frame
    )
