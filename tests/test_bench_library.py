"""benchmarks/library.py's disk passes write the tree the library wrote: every file, at its
path, with its size (so as many files and folders), not only the DICOM files."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def library() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCHMARKS))  # it imports its sibling disklimit
    try:
        spec = importlib.util.spec_from_file_location("bench_library", BENCHMARKS / "library.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_the_disk_passes_write_every_file_of_the_library(
    library: ModuleType, tmp_path: Path
) -> None:
    made = {
        "a/manifest.json": 10,
        "a/dicoms/1.2/3.dcm": 5000,
        "a/dicoms/1.2/4.dcm": 7,
        "a/jsons/1.2.json": 0,
        "b/dicoms/5.6/7.dcm": 123,
    }
    for relative, size in made.items():
        (tmp_path / "lib" / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "lib" / relative).write_bytes(b"x" * size)
    tree = library.file_tree(tmp_path / "lib")
    assert {str(path): size for path, size in tree} == made
    seconds = library.write_raw([(tmp_path / "disk" / path, size) for path, size in tree])
    assert seconds > 0
    assert {
        str(p.relative_to(tmp_path / "disk")): p.stat().st_size
        for p in (tmp_path / "disk").rglob("*")
        if p.is_file()
    } == made


def test_the_direct_pass_writes_each_file_at_its_exact_size(
    library: ModuleType, tmp_path: Path
) -> None:
    """Whole blocks direct, the last partial block buffered: every size comes out exact."""
    from disklimit import BLOCK, write_direct

    sizes = [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 17]
    files = [(tmp_path / "disk" / str(i) / "f.dcm", size) for i, size in enumerate(sizes)]
    seconds = write_direct(files)
    assert seconds is not None and seconds > 0
    assert [path.stat().st_size for path, _ in files] == sizes
