"""Files written past the page cache by a background thread (dicomfab.output.direct): the same
bytes as a plain write, errors reach the caller, an interruption leaves nothing written later,
and a file system that refuses O_DIRECT still gets every file."""

from __future__ import annotations

import errno
import hashlib
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dicomfab import generate, parse_spec
from dicomfab.output import direct

pytestmark = pytest.mark.skipif(not hasattr(os, "O_DIRECT"), reason="O_DIRECT is Linux's")


def _parts(sizes: list[int], seed: int = 0) -> list[bytes]:
    return [hashlib.shake_256(f"{seed}-{i}".encode()).digest(n) for i, n in enumerate(sizes)]


@pytest.fixture
def small_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Chunks of three blocks and every file direct (the test's folder counting as a local
    disk, whatever it is on): every boundary with small files."""
    monkeypatch.setattr(direct, "CHUNK", 3 * direct.ALIGN)
    monkeypatch.setattr(direct, "DIRECT_MIN", 1)
    local = direct.LOCAL_FILE_SYSTEMS | {direct.file_system(tmp_path)}
    monkeypatch.setattr(direct, "LOCAL_FILE_SYSTEMS", local)
    monkeypatch.delattr(direct._local, "writer", raising=False)  # one with these buffers
    yield


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """The real os.open, with the name and flags of every file it opens recorded."""
    calls: list[tuple[str, int]] = []
    real = os.open

    def spy(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        calls.append((Path(path).name, flags))
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    return calls


SIZES = [0, 1, 4095, 4096, 4097, 3 * 4096, 3 * 4096 + 1, 7 * 4096 + 11]


@pytest.mark.parametrize("size", SIZES)
def test_a_file_has_exactly_its_bytes_at_every_chunk_boundary(
    tmp_path: Path, small_chunks: None, opened: list[tuple[str, int]], size: int
) -> None:
    writer = direct.Writer()
    data = _parts([size])[0]
    writer.write(tmp_path / "f.dcm", [data])
    writer.flush()
    assert (tmp_path / "f.dcm").read_bytes() == data
    direct_opens = [flags & os.O_DIRECT for name, flags in opened if name == "f.dcm"]
    assert direct_opens == ([os.O_DIRECT] if size else [0])  # an empty file needs no write


@pytest.mark.parametrize("size", [4097, 3 * 4096 + 1, 7 * 4096 + 11])
def test_a_partial_last_block_is_written_buffered_not_padded_and_cut_back(
    tmp_path: Path, small_chunks: None, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    """Direct writes cover whole blocks; the file's last partial block goes through the page
    cache. No block past the end is written and cut back with ftruncate: cutting back reads the
    block from the disk again, behind every write queued there."""
    import fcntl

    real = os.write
    writes: list[tuple[bool, int]] = []  # (direct, length)

    def spy(fd: int, data: Any) -> int:
        writes.append((bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT), len(data)))
        return real(fd, data)

    def no_truncate(*args: Any) -> None:
        raise AssertionError("ftruncate called")

    monkeypatch.setattr(os, "write", spy)
    monkeypatch.setattr(os, "ftruncate", no_truncate)
    writer = direct.Writer()
    data = _parts([size])[0]
    writer.write(tmp_path / "f.dcm", [data])
    writer.flush()
    assert (tmp_path / "f.dcm").read_bytes() == data
    assert sum(n for _, n in writes) == size  # nothing written past the end
    assert all(n % direct.ALIGN == 0 for on, n in writes if on)
    assert writes[-1] == (False, size % direct.ALIGN)
    assert any(on for on, _ in writes)


def test_a_full_size_mammogram_goes_to_the_disk_in_one_direct_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the real buffer size, a 3328 × 2560 × 16-bit image and its header are one direct
    write of whole blocks and one buffered tail: the disk works on a write's requests together
    and idles between two writes of a thread, so 8 MiB writes (three a file) reached less of
    the disk limit than one (``benchmarks/generate.py``)."""
    import fcntl

    local = direct.LOCAL_FILE_SYSTEMS | {direct.file_system(tmp_path)}
    monkeypatch.setattr(direct, "LOCAL_FILE_SYSTEMS", local)
    real = os.write
    writes: list[tuple[bool, int]] = []  # (direct, length)

    def spy(fd: int, data: Any) -> int:
        writes.append((bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT), len(data)))
        return real(fd, data)

    monkeypatch.setattr(os, "write", spy)
    size = 3328 * 2560 * 2 + 1234
    writer = direct.Writer()
    data = _parts([size])[0]
    writer.write(tmp_path / "full.dcm", [data[:1234], data[1234:]])
    writer.flush()
    writer.stop()
    assert (tmp_path / "full.dcm").read_bytes() == data
    assert writes == [(True, size - size % direct.ALIGN), (False, size % direct.ALIGN)]


def test_a_close_that_fails_is_raised_by_flush_not_a_hang(
    tmp_path: Path, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """close() can report a write that failed (EIO, a quota on a network file system): flush
    raises it, and the writer goes on with the next file; it must not die and leave flush
    waiting forever."""
    import threading

    real_open, real_close = os.open, os.close
    failing: list[int] = []

    def spy_open(path: Any, flags: int, *args: Any) -> int:
        fd = real_open(path, flags, *args)
        if Path(path).name == "f.dcm":
            failing.append(fd)
        return fd

    def failing_close(fd: int) -> None:
        real_close(fd)
        if fd in failing:
            failing.remove(fd)
            raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "open", spy_open)
    monkeypatch.setattr(os, "close", failing_close)
    writer = direct.Writer()
    writer.write(tmp_path / "f.dcm", _parts([7 * 4096 + 11]))
    outcome: list[BaseException | None] = []

    def flush() -> None:
        try:
            writer.flush()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    waiting = threading.Thread(target=flush, daemon=True)
    waiting.start()
    waiting.join(timeout=30)
    assert not waiting.is_alive(), "flush hangs after a failed close"
    assert isinstance(outcome[0], OSError) and outcome[0].errno == errno.EIO
    writer.write(tmp_path / "g.dcm", [b"next"])
    writer.flush()
    assert (tmp_path / "g.dcm").read_bytes() == b"next"
    writer.stop()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(files=st.lists(st.lists(st.integers(0, 20_000), max_size=5), min_size=1, max_size=6))
def test_files_made_of_parts_are_their_parts_joined(
    tmp_path_factory: pytest.TempPathFactory, small_chunks: None, files: list[list[int]]
) -> None:
    folder = tmp_path_factory.mktemp("parts")
    writer = direct.Writer()
    expected = {}
    for i, sizes in enumerate(files):
        parts = _parts(sizes, seed=i)
        views = [memoryview(p) for p in parts]
        writer.write(folder / f"{i}.dcm", views)
        expected[f"{i}.dcm"] = b"".join(parts)
    writer.flush()
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == expected


def test_the_callers_buffer_can_change_once_handed_over(tmp_path: Path, small_chunks: None) -> None:
    buffer = bytearray(_parts([5 * 4096 + 3])[0])
    kept = bytes(buffer)
    writer = direct.Writer()
    writer.write(tmp_path / "f.dcm", [buffer])
    buffer[:] = bytes(len(buffer))  # the copy was made before write() returned
    writer.flush()
    assert (tmp_path / "f.dcm").read_bytes() == kept


def test_a_failed_write_is_raised_by_flush_and_the_writer_goes_on(
    tmp_path: Path, small_chunks: None
) -> None:
    writer = direct.Writer()
    writer.write(tmp_path / "missing" / "f.dcm", [b"x" * 10_000])
    with pytest.raises(FileNotFoundError):
        writer.flush()
    writer.write(tmp_path / "g.dcm", [b"y" * 10_000])
    writer.flush()
    assert (tmp_path / "g.dcm").read_bytes() == b"y" * 10_000


def test_a_file_system_refusing_o_direct_at_open_gets_buffered_writes(
    tmp_path: Path, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[str] = []
    real = os.open

    def refuse(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_DIRECT:
            attempts.append(Path(path).name)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    writer = direct.Writer()
    files = {f"{i}.dcm": _parts([4096 * i + 5], seed=i)[0] for i in range(1, 4)}
    for name, data in files.items():
        writer.write(tmp_path / name, [data])
    writer.flush()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == files
    assert attempts == ["1.dcm"]  # refused once, not asked again


def test_a_file_system_refusing_a_direct_write_gets_the_rest_buffered(
    tmp_path: Path, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    real = os.write
    refused: list[int] = []

    def refuse_direct(fd: int, data: Any) -> int:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT and len(refused) < 1:
            refused.append(fd)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd, data)

    monkeypatch.setattr(os, "write", refuse_direct)
    writer = direct.Writer()
    data = _parts([7 * 4096 + 11])[0]  # three chunks, the last one ending in a partial block
    writer.write(tmp_path / "f.dcm", [data])
    writer.write(tmp_path / "g.dcm", [data[:100]])
    writer.flush()
    assert (tmp_path / "f.dcm").read_bytes() == data
    assert (tmp_path / "g.dcm").read_bytes() == data[:100]
    assert len(refused) == 1


def test_discard_drops_what_is_not_written_and_nothing_appears_after(
    tmp_path: Path, small_chunks: None
) -> None:
    writer = direct.Writer()
    for i in range(200):
        writer.write(tmp_path / f"{i}.dcm", [b"z" * 50_000])
    writer.discard()
    seen = sorted(p.name for p in tmp_path.iterdir())
    time.sleep(0.2)
    assert sorted(p.name for p in tmp_path.iterdir()) == seen
    writer.write(tmp_path / "after.dcm", [b"a" * 9000])  # usable again, failure-free
    writer.flush()
    assert (tmp_path / "after.dcm").read_bytes() == b"a" * 9000


def test_written_flushes_on_the_way_out_and_discards_on_an_interruption(
    tmp_path: Path, small_chunks: None
) -> None:
    with direct.written():
        direct.writer().write(tmp_path / "kept.dcm", [b"k" * 30_000])
    assert (tmp_path / "kept.dcm").read_bytes() == b"k" * 30_000
    with pytest.raises(KeyboardInterrupt), direct.written():
        for i in range(100):
            direct.writer().write(tmp_path / f"{i}.dcm", [b"z" * 50_000])
        raise KeyboardInterrupt
    seen = sorted(p.name for p in tmp_path.iterdir())
    time.sleep(0.2)
    assert sorted(p.name for p in tmp_path.iterdir()) == seen


def _child_writes(path: str) -> None:
    direct.writer().write(Path(path), [b"c" * 20_000])
    direct.writer().flush()


def test_a_forked_child_gets_its_own_writer(tmp_path: Path, small_chunks: None) -> None:
    parent = direct.writer()
    parent.write(tmp_path / "parent.dcm", [b"p" * 20_000])
    parent.flush()
    child = multiprocessing.get_context("fork").Process(
        target=_child_writes, args=(str(tmp_path / "child.dcm"),)
    )
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert (tmp_path / "child.dcm").read_bytes() == b"c" * 20_000


def test_off_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DICOMFAB_DIRECT_IO", "off")
    assert not direct.enabled()
    monkeypatch.setenv("DICOMFAB_DIRECT_IO", "auto")
    assert direct.enabled()


def _tree(root: Path) -> dict[str, bytes]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_dataset_is_the_same_bytes_written_direct_or_buffered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    spec = {
        "name": "direct",
        "seed": 3,
        "defaults": {"pixels": {"rows": 1024, "columns": 800}},  # 1.6 MB: past DIRECT_MIN
        "patients": [
            {"studies": [{"role": "current"}, {"role": "prior", "date": "-1y"}]},
            {
                "studies": [
                    {
                        "role": "current",
                        "series": [{"transfer_syntax": "JPEG2000Lossless"}],
                    }
                ]
            },
        ],
    }
    monkeypatch.setenv("DICOMFAB_DIRECT_IO", "off")
    plain = generate(parse_spec(spec), tmp_path / "plain", workers=workers)
    monkeypatch.setenv("DICOMFAB_DIRECT_IO", "auto")
    fast = generate(parse_spec(spec), tmp_path / "direct", workers=workers)
    assert _tree(plain.path) == _tree(fast.path)
    sizes = [len(b) for name, b in _tree(fast.path).items() if name.endswith(".dcm")]
    assert max(sizes) >= direct.DIRECT_MIN


def test_an_interruption_between_chunks_leaves_no_file_open(
    tmp_path: Path, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file whose last chunk never came (Ctrl-C while waiting for a buffer) is closed."""
    writer = direct.Writer()
    buffers = writer._buffer
    calls = []

    def interrupted_at_the_second() -> Any:
        calls.append(1)
        if len(calls) == 2:
            writer._jobs.join()  # the first chunk is written: the file is open
            raise KeyboardInterrupt
        return buffers()

    monkeypatch.setattr(writer, "_buffer", interrupted_at_the_second)
    with pytest.raises(KeyboardInterrupt):
        writer.write(tmp_path / "cut.dcm", [b"a" * 20_000])
    before = len(os.listdir("/proc/self/fd"))
    writer.discard()
    assert len(os.listdir("/proc/self/fd")) == before - 1  # the cut file's descriptor


def _writer_threads() -> set[Any]:
    import threading

    return {t for t in threading.enumerate() if t.name == "dicomfab-writer"}


def test_no_writer_thread_outlives_a_generate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(direct, "DIRECT_MIN", 1)
    monkeypatch.delattr(direct._local, "writer", raising=False)
    spec = {"name": "t", "seed": 1, "patients": [{"studies": [{"role": "current"}]}]}
    spec["defaults"] = {"pixels": {"rows": 256, "columns": 200}}
    others = _writer_threads()  # the earlier tests' own Writer objects
    generate(parse_spec(spec), tmp_path / "a", workers=1)
    assert _writer_threads() == others
    with pytest.raises(KeyboardInterrupt), direct.written():
        direct.writer().write(tmp_path / "x.dcm", [b"x" * 5000])
        with direct.written():  # an inner one leaves the thread to the outer
            direct.writer().write(tmp_path / "y.dcm", [b"y" * 5000])
        assert len(_writer_threads() - others) == 1
        raise KeyboardInterrupt
    assert _writer_threads() == others
    with direct.written():  # and the next one starts it again
        direct.writer().write(tmp_path / "z.dcm", [b"z" * 5000])
    assert (tmp_path / "z.dcm").read_bytes() == b"z" * 5000
    assert _writer_threads() == others


def _findmnt(folder: Path) -> str:
    import subprocess

    out = subprocess.run(
        ["findmnt", "-n", "-o", "FSTYPE", "--target", str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()[-1]  # the last of stacked mounts is the one seen


@pytest.mark.parametrize("where", ["tmp", "shm"])
def test_the_file_system_type_is_what_findmnt_says(tmp_path: Path, where: str) -> None:
    folder = tmp_path if where == "tmp" else Path("/dev/shm")
    assert direct.file_system(folder) == _findmnt(folder)


def test_only_a_local_disk_gets_direct_writes(
    opened: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    monkeypatch.setattr(direct, "DIRECT_MIN", 1)
    assert direct.file_system(Path("/dev/shm")) == "tmpfs"  # not a local disk's
    with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
        writer = direct.Writer()
        writer.write(Path(shm) / "f.dcm", [b"s" * 9000])
        writer.flush()
        writer.stop()
        assert (Path(shm) / "f.dcm").read_bytes() == b"s" * 9000
    assert [flags & os.O_DIRECT for name, flags in opened if name == "f.dcm"] == [0]


def test_the_rest_of_a_failed_file_is_not_a_second_failure(
    tmp_path: Path, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file fails at its first chunk and the caller is told (at its next write) before the
    thread takes the file's second chunk: that chunk is dropped, not written to a closed file."""
    writer = direct.Writer()
    real_write, real_get = os.write, writer._jobs.get
    gate = threading.Event()

    def first_fails(fd: int, data: Any) -> int:
        if Path(f"/proc/self/fd/{fd}").resolve().name == "bad.dcm":
            raise OSError(errno.EIO, "Input/output error")
        return real_write(fd, data)

    def held(*args: Any, **kwargs: Any) -> Any:
        chunk = real_get(*args, **kwargs)
        if chunk is not None and chunk.path.name == "bad.dcm" and not chunk.first:
            gate.wait(10)
        return chunk

    monkeypatch.setattr(os, "write", first_fails)
    monkeypatch.setattr(writer._jobs, "get", held)
    writer.write(tmp_path / "bad.dcm", [b"b" * (2 * 3 * 4096)])  # two chunks
    for _ in range(500):
        if writer._failure is not None:
            break
        time.sleep(0.01)
    with pytest.raises(OSError, match="Input/output"):
        writer.write(tmp_path / "good.dcm", [b"g" * 5000])
    gate.set()
    writer.write(tmp_path / "good.dcm", [b"g" * 5000])
    writer.flush()  # no EBADF from the failed file's second chunk
    assert (tmp_path / "good.dcm").read_bytes() == b"g" * 5000


def test_a_notice_comes_once_the_files_before_it_are_written(
    tmp_path: Path, small_chunks: None
) -> None:
    writer = direct.Writer()
    seen: list[tuple[BaseException | None, bytes, str]] = []
    done = threading.Event()

    def notice(failure: BaseException | None) -> None:
        data = (tmp_path / "b.dcm").read_bytes()
        seen.append((failure, data, threading.current_thread().name))
        done.set()

    writer.write(tmp_path / "a.dcm", [b"a" * 50_000])
    writer.write(tmp_path / "b.dcm", [b"b" * 50_000])
    writer.notify(notice)  # returns at once: the caller goes on
    assert done.wait(30)
    assert seen == [(None, b"b" * 50_000, "dicomfab-writer")]
    writer.stop()


def test_every_notice_after_a_failure_gets_it_until_a_flush(
    tmp_path: Path, small_chunks: None
) -> None:
    writer = direct.Writer()
    got: list[BaseException | None] = []
    writer.write(tmp_path / "missing" / "f.dcm", [b"x" * 10_000])
    writer.notify(got.append)
    writer._jobs.join()  # the failure has happened
    with pytest.raises(FileNotFoundError):  # the caller gets it on its next write …
        writer.write(tmp_path / "g.dcm", [b"y" * 10_000])
    writer.write(tmp_path / "g.dcm", [b"y" * 10_000])
    writer.notify(got.append)  # … and a notice after it still vouches for nothing
    writer.flush()
    assert len(got) == 2 and all(isinstance(f, FileNotFoundError) for f in got)
    writer.write(tmp_path / "h.dcm", [b"z" * 10_000])  # after the flush: a clean slate
    writer.notify(got.append)
    writer.flush()
    assert got[2] is None and (tmp_path / "h.dcm").read_bytes() == b"z" * 10_000
    writer.stop()


def test_a_notice_behind_discarded_files_says_so(tmp_path: Path, small_chunks: None) -> None:
    writer = direct.Writer()
    got: list[BaseException | None] = []
    for i in range(100):
        writer.write(tmp_path / f"{i}.dcm", [b"z" * 50_000])
    writer.notify(got.append)
    writer.discard()
    assert len(got) == 1 and isinstance(got[0], direct.DiscardedError)
    writer.stop()


def test_without_the_writer_a_notice_comes_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DICOMFAB_DIRECT_IO", "off")
    got: list[BaseException | None] = []
    direct.notify(got.append)
    assert got == [None]


def test_written_without_waiting_leaves_the_thread_writing(
    tmp_path: Path, small_chunks: None
) -> None:
    others = _writer_threads()
    with direct.written(wait=False):
        direct.writer().write(tmp_path / "w.dcm", [b"w" * 40_000])
    got: list[BaseException | None] = []
    direct.notify(got.append)
    direct.writer().flush()
    assert got == [None] and (tmp_path / "w.dcm").read_bytes() == b"w" * 40_000
    assert len(_writer_threads() - others) == 1  # still running: the caller's to stop
    direct.writer().stop()
    assert _writer_threads() == others
