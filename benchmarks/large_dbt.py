"""Peak memory of writing one breast tomosynthesis object larger than 4 GiB.

Run: ``.venv/bin/python benchmarks/large_dbt.py [--frames 340] [--rows 2816] [--columns 2304]
[--transfer-syntax jpeg-ls-lossless] [--pattern auto|noise] [--out DIR]``; a file over 4 GiB:
``--pattern noise --transfer-syntax rle``.

The default object is 340 slices of 2816 × 2304 at 16 bits allocated: 4.4 GB (4.1 GiB) of native
pixels, past the 4 GiB a Basic Offset Table's 32-bit offsets reach, so dicomfab encodes it with
an Extended Offset Table and writes it one frame at a time (draw a slice, encode it, write it).
The script prints the process's peak resident set size before and after the write, and the peak
over the native size of the object: bounded means a few slices' worth, not the volume. It
takes minutes (each slice is drawn and compressed on one core). The output lives in a fresh
folder (under ``--out``, default a temporary folder) that is removed at the end.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from dicomfab import generate, parse_spec


def _peak_rss() -> int:
    """The process's peak resident set size in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=340)
    parser.add_argument("--rows", type=int, default=2816)
    parser.add_argument("--columns", type=int, default=2304)
    parser.add_argument("--transfer-syntax", default="jpeg-ls-lossless")
    parser.add_argument(
        "--pattern",
        default="auto",
        help="pixels.pattern: auto (a breast; compresses to ~1/8), or noise (incompressible: with "
        "--transfer-syntax rle the file itself passes 4 GiB, every fragment offset past 2**32 in "
        "the Extended Offset Table)",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    native = args.frames * args.rows * args.columns * 2
    spec = {
        "name": "large-dbt",
        "seed": 1,
        "defaults": {
            "iod": "dbt",
            "transfer_syntax": args.transfer_syntax,
            "offset_table": "extended",  # automatic past 4 GiB; asked for so smaller runs match
            "pixels": {
                "rows": args.rows,
                "columns": args.columns,
                "frames": args.frames,
                "pattern": args.pattern,
            },
        },
        "patients": [{"studies": [{"series": [{"views": ["LCC"]}]}]}],
    }
    folder = Path(tempfile.mkdtemp(prefix="dicomfab-large-dbt-", dir=args.out))
    try:
        before = _peak_rss()
        start = time.perf_counter()
        result = generate(parse_spec(spec), folder, workers=1)
        seconds = time.perf_counter() - start
        after = _peak_rss()
        (inst,) = result.manifest.instances()
        size = (result.path / inst.file).stat().st_size
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    frame = args.rows * args.columns * 2
    print(f"object: {args.frames} frames of {args.rows} x {args.columns}, native {native:,} B")
    print(f"file:   {size:,} B ({args.transfer_syntax}, Extended Offset Table), {seconds:.0f} s")
    print(
        f"peak RSS before {before:,} B, after {after:,} B ({(after - before) / frame:.1f} frames)"
    )
    print(f"peak RSS / native object size: {after / native:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
