"""Encapsulated pixels with an Extended Offset Table (7FE0,0001/0002), written frame by frame:
what an object over 4 GiB gets, asked for here (``offset_table: extended``) so that it stays small.
"""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.encaps import generate_fragmented_frames, parse_basic_offsets, parse_fragments

from dicomfab import generate, parse_spec
from dicomfab.builder import transfer
from dicomfab.errors import SpecError
from dicomtools import dciodvfy, dcmdump

ROWS, COLUMNS = 96, 80


def _spec(ts: str, offset_table: str | None, frames: int = 5, **pixels: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "iod": "dbt",
        "transfer_syntax": ts,
        "pixels": {"rows": ROWS, "columns": COLUMNS, "frames": frames, **pixels},
    }
    if offset_table is not None:
        defaults["offset_table"] = offset_table
    return {
        "seed": 5,
        "uid_namespace": "eot-tests",
        "defaults": defaults,
        "patients": [{"studies": [{"series": [{"views": ["LCC"]}]}]}],
    }


def _one_file(tmp: Path, spec: dict[str, Any]) -> Path:
    result = generate(parse_spec(spec), tmp, workers=1)
    (inst,) = result.manifest.instances()
    return result.path / inst.file


@pytest.mark.parametrize("ts", ["jpeg-ls-lossless", "rle", "jpeg2000-lossless"])
def test_offsets_match_the_fragments_and_frames_decode(tmp_path: Path, ts: str) -> None:
    path = _one_file(tmp_path / "eot", _spec(ts, "extended"))
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == transfer.get(ts).uid
    offsets = list(struct.unpack("<5Q", ds.ExtendedOffsetTable))
    lengths = list(struct.unpack("<5Q", ds.ExtendedOffsetTableLengths))
    data = ds.PixelData
    assert parse_basic_offsets(data) == []  # the Basic Offset Table is empty
    count, positions = parse_fragments(data[8:])  # after the (empty) BOT item
    assert count == 5 and positions == offsets  # one fragment per frame, where the EOT says
    fragments = list(
        generate_fragmented_frames(data, extended_offsets=(offsets, lengths), number_of_frames=5)
    )
    assert [len(f[0]) for f in fragments] == lengths
    for start, length, (fragment,) in zip(offsets, lengths, fragments, strict=True):
        item = data[8 + start : 8 + start + 8]
        assert item[:4] == b"\xfe\xff\x00\xe0" and struct.unpack("<I", item[4:])[0] == length
        assert fragment == data[16 + start : 16 + start + length]
    # the frames decode to what the same spec writes uncompressed
    native = pydicom.dcmread(_one_file(tmp_path / "native", _spec("explicit-le", None)))
    np.testing.assert_array_equal(ds.pixel_array, native.pixel_array)
    assert dciodvfy(path).errors == []
    dump = dcmdump(path)
    assert "ExtendedOffsetTable" in dump and "ExtendedOffsetTableLengths" in dump


def test_manifest_digests_and_size_match_the_file(tmp_path: Path) -> None:
    from dicomfab.output.files import file_digests

    result = generate(parse_spec(_spec("rle", "extended")), tmp_path, workers=1)
    (inst,) = result.manifest.instances()
    path = result.path / inst.file
    written = file_digests(path)
    assert inst.size == written.size == path.stat().st_size
    assert (inst.header_blake3, inst.pixel_blake3) == (
        written.header_blake3,
        written.pixel_blake3,
    )


def test_extended_offset_table_is_deterministic(tmp_path: Path) -> None:
    a = _one_file(tmp_path / "a", _spec("jpeg-ls-lossless", "extended"))
    b = _one_file(tmp_path / "b", _spec("jpeg-ls-lossless", "extended"))
    assert a.read_bytes() == b.read_bytes()


def test_the_basic_offset_table_stays_the_default(tmp_path: Path) -> None:
    ds = pydicom.dcmread(_one_file(tmp_path, _spec("jpeg-ls-lossless", None)))
    assert "ExtendedOffsetTable" not in ds
    assert len(parse_basic_offsets(ds.PixelData)) == 5


@pytest.mark.parametrize(
    ("ts", "message"),
    [("explicit-le", "compressed"), ("jpeg2000", "lossy"), ("jpeg-baseline", "lossy")],
)
def test_extended_needs_a_lossless_compressed_syntax(tmp_path: Path, ts: str, message: str) -> None:
    spec = _spec(ts, "extended", bits_stored=8)
    with pytest.raises(SpecError, match=message):
        generate(parse_spec(spec), tmp_path, workers=1)


def _peak_while_writing(tmp: Path, spec: dict[str, Any]) -> int:
    tracemalloc.start()
    try:
        _one_file(tmp, spec)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_bounded_by_a_few_frames(tmp_path: Path) -> None:
    """The peak of Python and numpy allocations while writing does not grow with the object: 60
    frames peak within two frames of 10 frames (the same object with a Basic Offset Table holds
    its whole volume). The process-wide noise caches (bounded, shared by every image) are filled
    first, so that the result does not depend on what the tests before drew; frames are large
    enough that the per-frame header (functional groups, offsets) stays well under one."""
    rows, columns = 512, 512
    frame = rows * columns * 2
    sized = {"rows": rows, "columns": columns}
    _one_file(tmp_path / "warm", _spec("rle", "extended", frames=2, **sized))
    small, large = (
        _peak_while_writing(tmp_path / f"eot{n}", _spec("rle", "extended", frames=n, **sized))
        for n in (10, 60)
    )
    whole = _peak_while_writing(tmp_path / "bot", _spec("rle", None, frames=60, **sized))
    assert whole > 60 * frame  # the Basic Offset Table path draws and encodes the whole volume
    assert large < small + 2 * frame, (small, large, frame)
    assert large < 60 * frame / 2
