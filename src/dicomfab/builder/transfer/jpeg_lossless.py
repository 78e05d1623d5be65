"""A JPEG Lossless (ITU-T T.81 Process 14) encoder with a selectable predictor, in numpy.

Transfer syntax 1.2.840.10008.1.2.4.57 allows any of the seven predictors (selection values);
GDCM and pydicom only write selection value 1 (the .70 syntax), so this module writes the
codestream itself: SOF3, one Huffman table, one scan, no restart intervals, point transform 0.
Vectorised: each pixel's Huffman code and additional bits form one word of at most 31 bits, and
the words are placed in the scan by their cumulative bit offsets (a few dozen bytes of working
memory per pixel).
"""

from __future__ import annotations

import struct

import numpy as np

from dicomfab.builder.transfer.encoders import check_frame, jpeg_ls_precision

PREDICTOR = 7
"""Selection value written by default: Px = (Ra + Rb) / 2, not the first-order prediction of .70,
so a decoder that assumes selection value 1 gets the image wrong."""

_LENGTHS = (2, 2, 3, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
"""Huffman code lengths given to the 17 difference categories, most frequent first; the Kraft sum
is below one, so the all-ones code of T.81 C is never used."""


def encode_jpeg_lossless(frame: np.ndarray, bits_stored: int, predictor: int = PREDICTOR) -> bytes:
    """JPEG Lossless, Non-Hierarchical (Process 14), 1.2.840.10008.1.2.4.57: one monochrome
    frame, 2–16 bits stored, selection value ``predictor``.

    The sample precision follows :func:`~dicomfab.builder.transfer.encoders.jpeg_ls_precision`
    (8 in 8-bit cells, Bits Stored but at least 9 in 16-bit cells), for the same reason: decoders
    return one byte per sample up to precision 8 and check that against Bits Allocated.
    """
    check_frame(frame, bits_stored, "JPEG Lossless", bits=(2, 16))
    if not 1 <= predictor <= 7:
        raise ValueError(f"JPEG Lossless selection value must be 1–7, not {predictor}")
    rows, cols = frame.shape
    precision = jpeg_ls_precision(bits_stored, 8 * frame.itemsize)
    categories, extra = _differences(frame.astype(np.int32), precision, predictor)
    counts = np.bincount(categories.ravel(), minlength=17)
    order = sorted(range(17), key=lambda s: (-int(counts[s]), s))
    lengths = np.zeros(17, dtype=np.int64)
    lengths[order] = _LENGTHS
    codes = _canonical_codes(order)
    huffman = np.zeros(17, dtype=np.int64)
    for symbol, code in codes.items():
        huffman[symbol] = code

    flat_cat = categories.ravel()
    additional = np.where(flat_cat == 16, 0, flat_cat)  # SSSS 16 has no additional bits
    words = (huffman[flat_cat] << additional) | extra.ravel()
    sizes = lengths[flat_cat] + additional
    scan = _pack(words, sizes)

    bits_per_length = [0] * 16
    for length in _LENGTHS:
        bits_per_length[length - 1] += 1
    sof3 = struct.pack(">HBHHBBBB", 11, precision, rows, cols, 1, 1, 0x11, 0)
    dht = struct.pack(">HB", 2 + 1 + 16 + 17, 0x00) + bytes(bits_per_length) + bytes(order)
    sos = struct.pack(">HBBBBBB", 8, 1, 1, 0x00, predictor, 0, 0)
    return b"".join(
        (b"\xff\xd8", b"\xff\xc3", sof3, b"\xff\xc4", dht, b"\xff\xda", sos, scan, b"\xff\xd9")
    )


def _differences(x: np.ndarray, precision: int, predictor: int) -> tuple[np.ndarray, np.ndarray]:
    """Each sample's difference category (SSSS) and its additional bits (T.81 H.1.2)."""
    pred = np.empty_like(x)
    pred[0, 0] = 1 << (precision - 1)
    pred[0, 1:] = x[0, :-1]  # first line: Ra
    pred[1:, 0] = x[:-1, 0]  # first sample of a later line: Rb
    ra, rb, rc = x[1:, :-1], x[:-1, 1:], x[:-1, :-1]
    pred[1:, 1:] = {
        1: lambda: ra,
        2: lambda: rb,
        3: lambda: rc,
        4: lambda: ra + rb - rc,
        5: lambda: ra + ((rb - rc) >> 1),
        6: lambda: rb + ((ra - rc) >> 1),
        7: lambda: (ra + rb) >> 1,
    }[predictor]()
    diff = ((x - pred + 0x8000) & 0xFFFF) - 0x8000  # modulo 2**16 (T.81 H.1.2.1), signed
    magnitude = np.abs(diff)
    # the bit length of the magnitude: frexp's exponent, exact for integers below 2**24
    categories = np.frexp(magnitude.astype(np.float32))[1].astype(x.dtype)
    extra = (diff - (diff < 0)) & ((1 << categories) - 1)
    extra[categories == 16] = 0  # SSSS 16 (difference -32768): no additional bits
    return categories, extra


def _canonical_codes(order: list[int]) -> dict[int, int]:
    """The canonical Huffman code of each symbol, given the symbols in ``_LENGTHS`` order."""
    codes: dict[int, int] = {}
    code, previous = 0, _LENGTHS[0]
    for symbol, length in zip(order, _LENGTHS, strict=True):
        code <<= length - previous
        codes[symbol] = code
        code += 1
        previous = length
    return codes


_CHUNK = 1 << 18
"""Words packed at a time: bounds :func:`_pack`'s working arrays to a few MiB."""


def _pack(words: np.ndarray, sizes: np.ndarray) -> bytes:
    """Concatenate the ``sizes[i]`` low bits of each ``words[i]`` (at most 31), most significant
    first; pad the last byte with ones and stuff a zero byte after every 0xFF (T.81 F.1.2.3).

    Each word is shifted into a 64-bit big-endian window that starts at the byte holding its
    first bit (at most 7 + 31 bits: the window's first 5 bytes), and those bytes are added into
    the output: the words' bits are disjoint, so adding is OR-ing and never carries."""
    ends = np.cumsum(sizes, dtype=np.int64)
    total = int(ends[-1]) if ends.size else 0
    out = np.zeros((total + 7) // 8 + 8, dtype=np.uint8)
    for begin in range(0, words.size, _CHUNK):
        s = sizes[begin : begin + _CHUNK]
        w = words[begin : begin + _CHUNK].astype(np.uint64) & ((1 << s) - 1).astype(np.uint64)
        starts = ends[begin : begin + _CHUNK] - s
        first = int(starts[0]) >> 3
        where = (starts >> 3) - first  # each word's first byte, from the chunk's first byte
        shift = (64 - (starts & 7) - s).astype(np.uint64)
        windows = (w << shift).astype(">u8").view(np.uint8).reshape(-1, 8)
        span = int(where[-1]) + 5
        for k in range(5):
            added = np.bincount(where + k, weights=windows[:, k], minlength=span)
            out[first : first + span] += added.astype(np.uint8)
    out = out[: (total + 7) // 8]
    if total % 8:
        out[-1] |= (1 << (-total % 8)) - 1
    return out.tobytes().replace(b"\xff", b"\xff\x00")
