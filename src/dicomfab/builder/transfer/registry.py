"""The transfer syntaxes dicomfab writes: one entry each, with its UID, what its codec needs and
can hold, and its frame encoder.

Native syntaxes are written by dicomfab's writer directly; compressed ones encode each frame with a
maintained codec (pylibjpeg-openjpeg, pyjpegls, pylibjpeg-rle, GDCM, imagecodecs) and encapsulate
the frames. Like pydicom's codec plugins, each entry says whether it is available and, if not,
which pip package to install. Adding a transfer syntax is one entry here, plus its frame encoder
when it is compressed; ``dicomfab list transfer-syntaxes`` and the table in docs/iods.md follow
from this one.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from pydicom import uid as _uid

from dicomfab.builder.transfer import encoders, gdcm_encoders, htj2k_encoders, jpeg_lossless
from dicomfab.errors import CodecMissingError, TransferSyntaxError

FrameEncoder = Callable[..., bytes]
"""Encode one frame (rows × columns, uint8/uint16) with ``bits_stored`` → one codestream; a lossy
encoder also takes ``target``, the least PSNR in dB the frame must keep."""


@dataclass(frozen=True)
class Library:
    """A codec library an encoder imports, and the pip package that installs it."""

    module: str
    package: str

    def importable(self) -> bool:
        """Whether the module is installed (found, not imported: cheap enough for listings)."""
        return importlib.util.find_spec(self.module) is not None

    def load(self, syntax: str) -> None:
        """Import the module, or raise CodecMissingError naming the pip package for ``syntax``."""
        try:
            importlib.import_module(self.module)
        except ImportError as exc:
            raise CodecMissingError(missing_codec(syntax, self)) from exc


def missing_codec(syntax: str, library: Library) -> str:
    """The one line that says what to install for ``syntax``."""
    return (
        f"transfer syntax {syntax} needs the pip package {library.package}: "
        f"pip install {library.package}"
    )


RLE = Library("rle", "pylibjpeg-rle")
JPEG_LS = Library("jpeg_ls", "pyjpegls")
OPENJPEG = Library("openjpeg", "pylibjpeg-openjpeg")
GDCM = Library("gdcm", "python-gdcm")
LIBJPEG = Library("libjpeg", "pylibjpeg-libjpeg")  # decodes, to measure the quality reached
IMAGECODECS = Library("imagecodecs", "imagecodecs")  # OpenJPH: HTJ2K


@dataclass(frozen=True)
class TransferSyntax:
    name: str
    uid: str
    title: str
    aliases: tuple[str, ...] = ()
    encoder: FrameEncoder | None = None  # None: native, written by dicomfab's writer
    requires: tuple[Library, ...] = ()  # what the encoder imports
    lossy_method: str | None = None  # LossyImageCompressionMethod (0028,2114); None: lossless
    exact: Callable[[bytes], bool] | None = None  # a lossy codestream that was coded losslessly
    max_bits_stored: int = 16
    min_bits_stored: int = 1
    # what the codec can encode, checked at validate (dicomfab.builder.constraints):
    sample_bits: tuple[int, ...] = (8, 16)  # BitsAllocated it takes
    min_side: int = 1  # fewest rows and columns
    min_pixels: int = 1  # fewest rows × columns
    alternatives: tuple[str, ...] = ()  # what to suggest instead when it cannot
    notes: str = ""  # for the table in docs/iods.md

    @property
    def compressed(self) -> bool:
        return self.encoder is not None

    @property
    def lossy(self) -> bool:
        return self.lossy_method is not None

    @property
    def explicit_vr(self) -> bool:
        return self.uid != _uid.ImplicitVRLittleEndian

    @property
    def little_endian(self) -> bool:
        return self.uid != _uid.ExplicitVRBigEndian

    def is_available(self) -> bool:
        return all(library.importable() for library in self.requires)

    def missing(self) -> str | None:
        """What to install before this syntax can be written (one line), or None."""
        absent = [library for library in self.requires if not library.importable()]
        return missing_codec(self.name, absent[0]) if absent else None

    def frame_encoder(self) -> FrameEncoder:
        """The encoder, once each library it needs imports (CodecMissingError if one does not)."""
        if self.encoder is None:
            raise TransferSyntaxError(f"{self.name} is not a compressed transfer syntax")
        for library in self.requires:
            library.load(self.name)
        return self.encoder


REGISTRY: tuple[TransferSyntax, ...] = (
    TransferSyntax(
        "explicit-le",
        _uid.ExplicitVRLittleEndian,
        "Explicit VR Little Endian",
        aliases=("explicit", "explicit-little-endian"),
        notes="pixels streamed from a shared buffer",
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
        notes="retired; pixels byte-swapped",
    ),
    TransferSyntax(
        "deflated",
        _uid.DeflatedExplicitVRLittleEndian,
        "Deflated Explicit VR Little Endian",
        aliases=("deflate",),
        notes="the whole dataset deflated (zlib)",
    ),
    TransferSyntax(
        "rle",
        _uid.RLELossless,
        "RLE Lossless",
        aliases=("rle-lossless",),
        encoder=encoders.encode_rle,
        requires=(RLE,),
    ),
    TransferSyntax(
        "jpeg-ls-lossless",
        _uid.JPEGLSLossless,
        "JPEG-LS Lossless",
        aliases=("jpegls", "jpeg-ls"),
        encoder=encoders.encode_jpeg_ls,
        requires=(JPEG_LS,),
        min_bits_stored=2,
        # CharLS runs out of output buffer on incompressible frames up to ~150 pixels
        min_pixels=256,
        alternatives=("jpeg-lossless-sv1", "rle"),
        notes="CharLS; sample precision 8 or ≥ 9, as DCMTK and GDCM require",
    ),
    TransferSyntax(
        "jpeg2000-lossless",
        _uid.JPEG2000Lossless,
        "JPEG 2000 Lossless",
        aliases=("j2k-lossless",),
        encoder=encoders.encode_j2k_lossless,
        requires=(OPENJPEG,),
        min_side=encoders.J2K_MIN_SIDE,
        alternatives=("jpeg-ls-lossless", "jpeg-lossless-sv1"),
    ),
    TransferSyntax(
        "jpeg2000",
        _uid.JPEG2000,
        "JPEG 2000 (lossy)",
        aliases=("j2k", "jpeg2000-lossy"),
        encoder=encoders.encode_j2k_lossy,
        requires=(OPENJPEG,),
        lossy_method="ISO_15444_1",
        exact=encoders.j2k_is_reversible,
        min_side=encoders.J2K_MIN_SIDE,
        alternatives=("jpeg-ls-lossless", "jpeg-lossless-sv1"),
        notes="PSNR ≥ `quality`, ≤ 10:1; reversible 5-3 where the 9-7 wavelet cannot keep it",
    ),
    TransferSyntax(
        "jpeg-baseline",
        _uid.JPEGBaseline8Bit,
        "JPEG Baseline (Process 1), 8 bit",
        aliases=("jpeg",),
        encoder=gdcm_encoders.encode_jpeg_baseline,
        requires=(GDCM, LIBJPEG),
        lossy_method="ISO_10918_1",
        max_bits_stored=8,
        min_bits_stored=8,
        sample_bits=(8,),  # Process 1: 8-bit samples in 8-bit cells
        alternatives=("jpeg-extended", "jpeg-lossless-sv1", "jpeg-ls-lossless"),
        notes="PSNR ≥ `quality` (pylibjpeg-libjpeg measures it), ≤ 10:1",
    ),
    TransferSyntax(
        "jpeg-extended",
        _uid.JPEGExtended12Bit,
        "JPEG Extended (Process 2 & 4), 12 bit",
        aliases=("jpeg-12bit", "jpeg-extended-12bit"),
        encoder=gdcm_encoders.encode_jpeg_extended,
        requires=(GDCM, LIBJPEG),
        lossy_method="ISO_10918_1",
        max_bits_stored=12,
        min_bits_stored=12,  # sample precision 12; 8-bit samples are jpeg-baseline's
        sample_bits=(16,),
        alternatives=("jpeg2000", "jpeg-lossless-sv1", "jpeg-ls-lossless"),
        notes="Process 2 & 4, 12 bits stored in 16; PSNR ≥ `quality`, ≤ 10:1",
    ),
    TransferSyntax(
        "jpeg-lossless-sv1",
        _uid.JPEGLosslessSV1,
        "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 SV1)",
        aliases=("jpeg-ls-sv1",),
        encoder=gdcm_encoders.encode_jpeg_lossless_sv1,
        requires=(GDCM,),
        min_bits_stored=2,
        notes="GDCM: pydicom has no encoder",
    ),
    TransferSyntax(
        "jpeg-lossless",
        _uid.JPEGLossless,
        "JPEG Lossless, Non-Hierarchical (Process 14), selection value 7",
        aliases=("jpeg-lossless-p14", "jpeg-lossless-sv7"),
        encoder=jpeg_lossless.encode_jpeg_lossless,
        min_bits_stored=2,
        notes="dicomfab's own encoder; predictor (Ra + Rb) / 2, not .70's first-order one",
    ),
    TransferSyntax(
        "jpeg-ls-near-lossless",
        _uid.JPEGLSNearLossless,
        "JPEG-LS Lossy (Near-Lossless)",
        aliases=("jpeg-ls-lossy", "jpegls-near"),
        encoder=encoders.encode_jpeg_ls_near_lossless,
        requires=(JPEG_LS,),
        lossy_method="ISO_14495_1",
        exact=encoders.jpeg_ls_is_lossless,
        min_bits_stored=2,
        min_pixels=256,
        alternatives=("jpeg2000", "jpeg-ls-lossless"),
        notes="CharLS; NEAR ≤ (2^BitsStored − 1) / 10^(`quality`/20), so PSNR ≥ `quality`; ≤ 10:1",
    ),
    TransferSyntax(
        "htj2k-lossless",
        _uid.HTJ2KLossless,
        "High-Throughput JPEG 2000 Image Compression (Lossless Only)",
        aliases=("htj2k-lossless-only",),
        encoder=htj2k_encoders.encode_htj2k_lossless,
        requires=(IMAGECODECS,),
        notes="OpenJPH (imagecodecs); reversible 5-3, codestream precision = Bits Stored",
    ),
    TransferSyntax(
        "htj2k-rpcl-lossless",
        _uid.HTJ2KLosslessRPCL,
        "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)",
        aliases=("htj2k-rpcl",),
        encoder=htj2k_encoders.encode_htj2k_rpcl_lossless,
        requires=(IMAGECODECS,),
        notes="RPCL, TLM (a tile-part per resolution), base resolution ≤ 64 (PS3.5 10.18)",
    ),
    TransferSyntax(
        "htj2k",
        _uid.HTJ2K,
        "High-Throughput JPEG 2000 Image Compression (lossy allowed)",
        aliases=("htj2k-lossy",),
        encoder=htj2k_encoders.encode_htj2k_lossy,
        requires=(IMAGECODECS,),
        lossy_method="ISO_15444_15",
        exact=htj2k_encoders.is_reversible,
        alternatives=("htj2k-lossless", "jpeg2000"),
        notes="irreversible 9-7: PSNR ≥ `quality`, ≤ 10:1; reversible where 9-7 cannot keep it",
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
