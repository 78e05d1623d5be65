"""HTJ2K (PS3.5 A.4.4 / 10.18): what the codestreams hold, decoded back by a second
implementation (OpenJPEG, through pylibjpeg-openjpeg) besides OpenJPH (imagecodecs), and the
files written in each syntax as dciodvfy and DCMTK read them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import imagecodecs
import numpy as np
import openjpeg
import pydicom
import pytest
from pydicom import uid
from pydicom.encaps import generate_frames

from dicomfab.builder import pixels, transfer
from dicomfab.builder.plan import make_plan
from dicomfab.builder.transfer import htj2k_encoders as htj2k
from dicomfab.builder.transfer.quality import MAX_RATIO, psnr
from dicomfab.output.generate import generate
from dicomfab.studyspec.loading import parse_spec
from dicomtools import dciodvfy, dcmdump

LOSSLESS = {
    "htj2k-lossless": htj2k.encode_htj2k_lossless,
    "htj2k-rpcl-lossless": htj2k.encode_htj2k_rpcl_lossless,
}


def _frame(bits: int, shape: tuple[int, int], dtype: Any, seed: int = 0) -> np.ndarray:
    """A gradient with noise over most of ``bits``, and a few samples at 0 and at the top."""
    top = (1 << bits) - 1
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    gradient = (rows / shape[0] + cols / shape[1]) * 0.45 * top + 0.05 * top
    noise = np.random.default_rng(seed).normal(0, max(top / 64, 0.5), shape)
    frame = np.clip(np.rint(gradient + noise), 0, top).astype(dtype)
    frame.flat[0], frame.flat[-1] = 0, top
    return frame


def _decoded(codestream: bytes) -> list[np.ndarray]:
    """The frame as OpenJPEG and as OpenJPH decode it, in 16-bit cells (a decoder gives 8-bit
    cells for a precision ≤ 8)."""
    return [
        np.asarray(openjpeg.decode(codestream)).astype(np.uint16),
        np.asarray(imagecodecs.htj2k_decode(codestream)).astype(np.uint16),
    ]


@pytest.mark.parametrize("name", list(LOSSLESS))
@pytest.mark.parametrize(
    ("bits", "dtype"),
    [
        *[(bits, np.uint8) for bits in (1, 7, 8)],
        *[(bits, np.uint16) for bits in (6, 10, 12, 14, 16)],
    ],
    ids=lambda v: v if isinstance(v, int) else np.dtype(v).name,
)
@pytest.mark.parametrize("shape", [(47, 63), (256, 200), (1, 1)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_lossless_is_exact_at_the_precision_of_bits_stored(
    name: str, bits: int, dtype: Any, shape: tuple[int, int]
) -> None:
    """Both decoders give the frame back, and the SIZ precision is Bits Stored, not the cell's
    8 or 16 that imagecodecs writes by itself (a 14-bit mammogram at precision 16 would be the
    BitsStored/codestream mismatch that pr_j2k_precision_mismatch makes on purpose)."""
    frame = _frame(bits, shape, dtype)
    codestream = LOSSLESS[name](frame, bits)
    header = htj2k.read_header(codestream)
    assert header.precision == bits
    assert header.reversible
    assert openjpeg.get_parameters(codestream)["precision"] == bits
    for decoded in _decoded(codestream):
        np.testing.assert_array_equal(decoded, frame)


@pytest.mark.parametrize(
    "shape", [(64, 64), (2048, 1664), (4096, 3328), (4200, 64)], ids=lambda s: f"{s[0]}x{s[1]}"
)
def test_rpcl_codestream_has_what_202_requires(shape: tuple[int, int]) -> None:
    """PS3.5 10.18: RPCL progression, TLM marker segments, and enough decompositions for a base
    resolution of at most 64 (here: both sides), read from the codestream written; one tile-part
    per resolution, so that the TLM finds the resolution breakpoints."""
    frame = np.random.default_rng(1).integers(0, 1 << 12, shape).astype(np.uint16)
    codestream = htj2k.encode_htj2k_rpcl_lossless(frame, 12)
    header = htj2k.read_header(codestream)
    assert header.progression == htj2k.RPCL == 2
    assert header.tlm
    assert math.ceil(max(shape) / 2**header.levels) <= 64
    assert header.levels >= htj2k.DEFAULT_LEVELS
    assert header.tile_parts == header.levels + 1
    np.testing.assert_array_equal(openjpeg.decode(codestream), frame)


def test_plain_lossless_keeps_openjph_defaults() -> None:
    """.201 needs neither RPCL nor TLM: one tile-part, 5 levels."""
    frame = _frame(12, (300, 200), np.uint16)
    header = htj2k.read_header(htj2k.encode_htj2k_lossless(frame, 12))
    assert (header.levels, header.tile_parts, header.tlm) == (5, 1, False)


@pytest.mark.parametrize("target", [45.0, 35.0])
@pytest.mark.parametrize(
    ("bits", "dtype", "pattern"),
    [
        (8, np.uint8, "gradient"),
        (12, np.uint16, "gradient"),
        (14, np.uint16, "gradient"),
        (16, np.uint16, "gradient"),
        (12, np.uint16, "noise"),
        (10, np.uint16, "noise"),
    ],
    ids=lambda v: v if isinstance(v, int | str) else np.dtype(v).name,
)
def test_lossy_keeps_the_target_in_both_decoders(
    target: float, bits: int, dtype: Any, pattern: str
) -> None:
    shape = (192, 160)
    if pattern == "noise":
        frame = np.random.default_rng(bits).integers(0, 1 << bits, shape).astype(dtype)
    else:
        frame = _frame(bits, shape, dtype)
    codestream = htj2k.encode_htj2k_lossy(frame, bits, target=target)
    header = htj2k.read_header(codestream)
    assert header.precision == bits
    by_openjpeg, by_openjph = _decoded(codestream)
    # the 9-7 wavelet in floating point: the two decoders round a few samples differently; and
    # a reconstruction beyond the sample range OpenJPEG clips to it, while OpenJPH
    # (imagecodecs 2026.3.6) wraps it in an 8-bit cell: 256 becomes 0
    differ = np.abs(by_openjpeg.astype(np.int64) - by_openjph) > 1
    assert np.isin(by_openjpeg[differ], (0, (1 << bits) - 1)).all()
    assert differ.sum() <= 0.001 * frame.size
    for decoded in (by_openjpeg, by_openjph):
        assert psnr(frame, decoded, bits) >= target
    assert frame.size * bits / 8 / len(codestream) <= MAX_RATIO  # never beyond 10:1
    if pattern == "gradient":
        assert not header.reversible  # lossy indeed, not the fallback
        assert psnr(frame, by_openjpeg, bits) < float("inf")


@pytest.mark.parametrize(("bits", "dtype"), [(9, np.uint16), (1, np.uint8)])
def test_lossy_falls_back_to_reversible_where_precision_cannot_be_written(
    bits: int, dtype: Any
) -> None:
    """9 bits in 16-bit cells (8 guard bits) and 1 bit in 8 (8 too): coded reversibly, exact."""
    frame = _frame(bits, (64, 80), dtype)
    codestream = htj2k.encode_htj2k_lossy(frame, bits)
    assert htj2k.is_reversible(codestream)
    for decoded in _decoded(codestream):
        np.testing.assert_array_equal(decoded, frame)


def test_pydicom_names_and_keywords_resolve() -> None:
    """pydicom 3 knows the three UIDs (names, keywords) and decodes them with pylibjpeg."""
    assert transfer.get("HTJ2KLossless").uid == uid.HTJ2KLossless == "1.2.840.10008.1.2.4.201"
    assert transfer.get("HTJ2KLosslessRPCL").name == "htj2k-rpcl-lossless"
    assert transfer.get("1.2.840.10008.1.2.4.203").name == "htj2k"
    assert uid.UID(uid.HTJ2KLosslessRPCL).name.startswith("High-Throughput JPEG 2000 with RPCL")
    assert [transfer.get(n).lossy for n in ("htj2k-lossless", "htj2k-rpcl-lossless", "htj2k")] == [
        False,
        False,
        True,
    ]


def _generate(tmp: Path, ts: str, iod: str) -> tuple[pydicom.Dataset, np.ndarray, Path]:
    spec = parse_spec(
        {
            "name": f"{ts}-{iod}",
            "seed": 4,
            "defaults": {"iod": iod, "transfer_syntax": ts, "pixels": {"size": "small"}},
            "patients": [{"studies": [{"series": [{"count": 1}]}]}],
        }
    )
    (instance,) = make_plan(spec).instances
    image = pixels.render(instance)
    assert image is not None
    result = generate(spec, tmp, workers=1)
    (entry,) = result.manifest.instances()
    path = result.path / entry.file
    source = image.array if image.frames > 1 else image.array[None]
    return pydicom.dcmread(path), source, path


@pytest.mark.parametrize("iod", ["mg", "dbt", "sc"])
@pytest.mark.parametrize("ts", ["htj2k-lossless", "htj2k-rpcl-lossless", "htj2k"])
def test_files_are_valid_and_decode(tmp_path: Path, ts: str, iod: str) -> None:
    """0 dciodvfy errors, DCMTK reads the file, and each frame decoded by OpenJPEG (pydicom's
    pylibjpeg plugin) equals the source (lossless) or keeps the default 45 dB (lossy)."""
    ds, source, path = _generate(tmp_path, ts, iod)
    syntax = transfer.get(ts)
    assert ds.file_meta.TransferSyntaxUID == syntax.uid
    assert dciodvfy(path).errors == []
    assert f"(0002,0010) UI [{syntax.uid}]" in dcmdump(path)
    frames = list(generate_frames(ds.PixelData, number_of_frames=len(source)))
    decoded = ds.pixel_array if len(source) > 1 else ds.pixel_array[None]
    for original, codestream, image in zip(source, frames, decoded, strict=True):
        header = htj2k.read_header(codestream)
        assert header.precision == ds.BitsStored
        if syntax.lossy:
            assert psnr(original, image, ds.BitsStored) >= 45.0
        else:
            np.testing.assert_array_equal(image, original)
    if syntax.lossy:
        assert ds.LossyImageCompression == "01"
        assert ds.LossyImageCompressionMethod == "ISO_15444_15"
    else:
        assert ds.LossyImageCompression == "00"


def test_same_spec_and_seed_give_the_same_bytes(tmp_path: Path) -> None:
    first = _generate(tmp_path / "a", "htj2k", "dbt")[2]
    second = _generate(tmp_path / "b", "htj2k", "dbt")[2]
    assert first.read_bytes() == second.read_bytes()
