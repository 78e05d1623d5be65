"""Transfer syntaxes: which exist and what each needs (:mod:`.registry`), how a frame is coded in
each (:mod:`.encoders`, :mod:`.gdcm_encoders`), what a lossy one keeps (:mod:`.quality`), and the
Pixel Data a file gets (:mod:`.pixel_data`).

Adding a transfer syntax: one entry in ``registry.REGISTRY`` and, for a compressed one, its frame
encoder; then ``UPDATE_DOCS=1 pytest tests/builder/transfer`` rewrites the table in docs/iods.md.
"""

from dicomfab.builder.transfer.pixel_data import (
    BASIC_OFFSET_TABLE_REACH,
    EncodedInstance,
    FrameStream,
    cut_pixel_data,
    encode,
)
from dicomfab.builder.transfer.quality import quality_psnr
from dicomfab.builder.transfer.registry import (
    DEFAULT,
    REGISTRY,
    TransferSyntax,
    check_bits,
    get,
    names,
)

__all__ = [
    "BASIC_OFFSET_TABLE_REACH",
    "DEFAULT",
    "REGISTRY",
    "EncodedInstance",
    "FrameStream",
    "TransferSyntax",
    "check_bits",
    "cut_pixel_data",
    "encode",
    "get",
    "names",
    "quality_psnr",
]
