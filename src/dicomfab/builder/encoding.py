"""Transfer syntaxes: a registry of names → UID, codec and what it needs.

Native syntaxes are written by dicomfab's writer directly; compressed ones encode each frame with a
maintained codec (pylibjpeg-openjpeg, pyjpegls, pylibjpeg-rle, GDCM) and encapsulate the frames.
Like pydicom's codec plugins, each entry says whether it is available and what to install if not.
"""

from __future__ import annotations

import difflib
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from pydicom import uid as _uid

from dicomfab.errors import TransferSyntaxError

QUALITY_LEVELS: dict[str, float] = {"high": 45.0, "medium": 40.0, "low": 35.0}
"""The named levels of a spec's ``quality``: the least PSNR (dB) each lossy frame keeps, the peak
being 2**BitsStored - 1. The spec accepts 20–55 dB: JPEG Baseline at IJG quality 100 keeps about
58 dB even on uniform 8-bit noise, the hardest content; beyond that, a lossless syntax fits."""

DEFAULT_QUALITY = "high"
DEFAULT_PSNR = QUALITY_LEVELS[DEFAULT_QUALITY]
"""A lossy frame keeps at least 45 dB unless the spec says otherwise, whatever it shows."""


MAX_RATIO = 10.0
"""The most a lossy syntax compresses, relative to Bits Stored bits per pixel (the fixed rate it
used before ``quality``): a smooth image would keep 45 dB at hundreds to one, a rate no one uses
for diagnostic images. Content that cannot keep the quality at this rate gets less."""


def quality_psnr(quality: float | str | None) -> float:
    """The PSNR target (dB) of a spec's ``quality``: a number of dB, a level name, or None for
    the default."""
    if quality is None:
        return DEFAULT_PSNR
    if isinstance(quality, str):
        return QUALITY_LEVELS[quality]
    return float(quality)


FrameEncoder = Callable[..., bytes]
"""Encode one frame (rows × columns, uint8/uint16) with ``bits_stored`` → one codestream; a lossy
encoder also takes ``target``, the least PSNR in dB the frame must keep."""


@dataclass(frozen=True)
class TransferSyntax:
    name: str
    uid: str
    title: str
    compressed: bool = False
    lossy: bool = False
    requires: tuple[str, ...] = ()  # importable module names
    max_bits_stored: int = 16
    min_bits_stored: int = 1
    lossy_method: str | None = None  # LossyImageCompressionMethod (0028,2114)
    aliases: tuple[str, ...] = ()
    encoder: Callable[[], FrameEncoder] | None = None  # factory, so imports stay lazy
    # what the codec can encode, checked at validate (dicomfab.builder.constraints):
    sample_bits: tuple[int, ...] = (8, 16)  # BitsAllocated it takes
    min_side: int = 1  # fewest rows and columns
    min_pixels: int = 1  # fewest rows × columns
    alternatives: tuple[str, ...] = ()  # what to suggest instead when it cannot

    @property
    def explicit_vr(self) -> bool:
        return self.uid != _uid.ImplicitVRLittleEndian

    @property
    def little_endian(self) -> bool:
        return self.uid != _uid.ExplicitVRBigEndian

    def is_available(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.requires)

    def frame_encoder(self) -> FrameEncoder:
        if self.encoder is None:
            raise TransferSyntaxError(f"{self.name} is not a compressed transfer syntax")
        if not self.is_available():
            raise TransferSyntaxError(
                f"{self.name} needs the Python module(s) {', '.join(self.requires)}, which are "
                "not installed (reinstall dicomfab with its dependencies)"
            )
        return self.encoder()


def _lazy(module: str, name: str) -> Callable[[], FrameEncoder]:
    def load() -> FrameEncoder:
        mod = importlib.import_module(module)
        encoder: FrameEncoder = getattr(mod, name)
        return encoder

    return load


_CODECS = "dicomfab.builder.codecs"

REGISTRY: tuple[TransferSyntax, ...] = (
    TransferSyntax(
        "explicit-le",
        _uid.ExplicitVRLittleEndian,
        "Explicit VR Little Endian",
        aliases=("explicit", "explicit-little-endian"),
    ),
    TransferSyntax(
        "implicit-le",
        _uid.ImplicitVRLittleEndian,
        "Implicit VR Little Endian",
        aliases=("implicit", "implicit-little-endian"),
    ),
    TransferSyntax(
        "explicit-be",
        _uid.ExplicitVRBigEndian,
        "Explicit VR Big Endian (retired; old priors)",
        aliases=("big-endian",),
    ),
    TransferSyntax(
        "deflated",
        _uid.DeflatedExplicitVRLittleEndian,
        "Deflated Explicit VR Little Endian",
        aliases=("deflate",),
    ),
    TransferSyntax(
        "rle",
        _uid.RLELossless,
        "RLE Lossless",
        compressed=True,
        requires=("rle",),
        aliases=("rle-lossless",),
        encoder=_lazy(_CODECS, "encode_rle"),
    ),
    TransferSyntax(
        "jpeg-ls-lossless",
        _uid.JPEGLSLossless,
        "JPEG-LS Lossless",
        compressed=True,
        requires=("jpeg_ls",),
        min_bits_stored=2,
        aliases=("jpegls", "jpeg-ls"),
        # CharLS runs out of output buffer on incompressible frames up to ~150 pixels
        min_pixels=256,
        alternatives=("jpeg-lossless-sv1", "rle"),
        encoder=_lazy(_CODECS, "encode_jpeg_ls"),
    ),
    TransferSyntax(
        "jpeg2000-lossless",
        _uid.JPEG2000Lossless,
        "JPEG 2000 Lossless",
        compressed=True,
        requires=("openjpeg",),
        aliases=("j2k-lossless",),
        min_side=32,  # pylibjpeg-openjpeg uses 6 resolution levels: 2**5 pixels a side
        alternatives=("jpeg-ls-lossless", "jpeg-lossless-sv1"),
        encoder=_lazy(_CODECS, "encode_j2k_lossless"),
    ),
    TransferSyntax(
        "jpeg2000",
        _uid.JPEG2000,
        "JPEG 2000 (lossy)",
        compressed=True,
        lossy=True,
        requires=("openjpeg",),
        lossy_method="ISO_15444_1",
        aliases=("j2k", "jpeg2000-lossy"),
        min_side=32,
        alternatives=("jpeg-ls-lossless", "jpeg-lossless-sv1"),
        encoder=_lazy(_CODECS, "encode_j2k_lossy"),
    ),
    TransferSyntax(
        "jpeg-baseline",
        _uid.JPEGBaseline8Bit,
        "JPEG Baseline (Process 1), 8 bit",
        compressed=True,
        lossy=True,
        requires=("gdcm", "libjpeg"),  # libjpeg measures the quality reached
        max_bits_stored=8,
        min_bits_stored=8,
        lossy_method="ISO_10918_1",
        aliases=("jpeg",),
        sample_bits=(8,),  # Process 1: 8-bit samples in 8-bit cells
        alternatives=("jpeg-extended", "jpeg-lossless-sv1", "jpeg-ls-lossless"),
        encoder=_lazy(_CODECS, "encode_jpeg_baseline"),
    ),
    TransferSyntax(
        "jpeg-extended",
        _uid.JPEGExtended12Bit,
        "JPEG Extended (Process 2 & 4), 12 bit",
        compressed=True,
        lossy=True,
        requires=("gdcm", "libjpeg"),  # libjpeg measures the quality reached
        max_bits_stored=12,
        min_bits_stored=12,  # sample precision 12; 8-bit samples are jpeg-baseline's
        lossy_method="ISO_10918_1",
        aliases=("jpeg-12bit", "jpeg-extended-12bit"),
        sample_bits=(16,),
        alternatives=("jpeg2000", "jpeg-lossless-sv1", "jpeg-ls-lossless"),
        encoder=_lazy(_CODECS, "encode_jpeg_extended"),
    ),
    TransferSyntax(
        "jpeg-lossless-sv1",
        _uid.JPEGLosslessSV1,
        "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 SV1)",
        compressed=True,
        requires=("gdcm",),
        min_bits_stored=2,
        aliases=("jpeg-lossless", "jpeg-ls-sv1"),
        encoder=_lazy(_CODECS, "encode_jpeg_lossless_sv1"),
    ),
)

_BY_KEY: dict[str, TransferSyntax] = {}
for _ts in REGISTRY:
    for _key in (_ts.name, _ts.uid, *_ts.aliases):
        _BY_KEY[_key.lower()] = _ts
_BY_KEY.update({str(_uid.UID(ts.uid).keyword).lower(): ts for ts in REGISTRY})

DEFAULT = REGISTRY[0]


def names() -> list[str]:
    return [ts.name for ts in REGISTRY]


def get(name: str) -> TransferSyntax:
    """The transfer syntax named by ``name`` (our name, an alias, pydicom's keyword or the UID)."""
    found = _BY_KEY.get(name.strip().lower())
    if found is None:
        near = difflib.get_close_matches(name.lower(), [ts.name for ts in REGISTRY], n=1)
        hint = f"; did you mean {near[0]}?" if near else ""
        raise TransferSyntaxError(
            f"unknown transfer syntax {name!r} (known: {', '.join(names())}){hint}"
        )
    return found


def check_bits(ts: TransferSyntax, bits_stored: int) -> str | None:
    """Why ``ts`` cannot hold pixels of ``bits_stored`` bits, or None if it can."""
    if ts.min_bits_stored == ts.max_bits_stored != bits_stored:
        return f"{ts.name} holds {ts.max_bits_stored} bits stored only, not {bits_stored}"
    if not ts.min_bits_stored <= bits_stored <= ts.max_bits_stored:
        return (
            f"{ts.name} holds {ts.min_bits_stored}–{ts.max_bits_stored} bits stored, "
            f"not {bits_stored}"
        )
    return None


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
