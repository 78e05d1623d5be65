"""The disk limit's second way, shared by the throughput benchmarks: the same bytes written
past the page cache with ``O_DIRECT`` (what dicomfab's own writer does for big files,
:mod:`dicomfab.output.direct`), against which ``numpy.ndarray.tofile`` is the first way."""

from __future__ import annotations

import mmap
import os
import time
from pathlib import Path

import numpy as np

BLOCK = 4096


def write_direct(files: list[tuple[Path, int]]) -> float | None:
    """Seconds to write each ``(path, size)`` with O_DIRECT from one aligned buffer (its whole
    blocks; the last partial block through the page cache, as dicomfab's writer does: padding
    it and cutting the file back costs more), folders made as needed, then ``os.sync()``; None
    where O_DIRECT is not available (not Linux)."""
    if not hasattr(os, "O_DIRECT"):
        return None
    import fcntl

    largest = max(size for _, size in files)
    buffer = mmap.mmap(-1, max(BLOCK, -(-largest // BLOCK) * BLOCK))  # page-aligned
    buffer.write(np.random.default_rng(0).integers(0, 256, len(buffer), dtype=np.uint8).data)
    view = memoryview(buffer)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT
    start = time.perf_counter()
    for path, size in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags, 0o666)
        try:
            whole = size - size % BLOCK
            _write_all(fd, view[:whole])
            if whole < size:
                fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_DIRECT)
                _write_all(fd, view[whole:size])
        finally:
            os.close(fd)
    os.sync()
    return time.perf_counter() - start


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view) :]
