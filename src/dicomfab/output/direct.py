"""Writing files past the page cache (``O_DIRECT``), in a thread beside the one that builds them.

Why: a buffered write puts every byte into a page-cache page first. On a virtual machine that
hands free memory back to its host (free page reporting, as Firecracker's guests do), each new
page-cache page costs a fault in the host: writing the library at ``reduced`` size (8.7 GB) cost
13–22 s of system time that way, against under 1 s with ``O_DIRECT``, which copies nothing
into the kernel and sends our buffer to the disk (``benchmarks/library.py`` prints both). A
direct write waits for the disk, so it runs in a thread of its own while the caller goes on
building the next file: the caller copies each file into aligned buffers (a few of
:data:`CHUNK` bytes, reused, so that memory stays bounded and the caller may reuse its own
buffers at once), the thread writes them. :meth:`Writer.flush` waits for everything handed over
and raises what failed; the generator calls it before it reports any file written.

Used on Linux, for every file of at least :data:`DIRECT_MIN` bytes on a local disk file system
(:data:`LOCAL_FILE_SYSTEMS`); other files are written buffered by the same thread (in the order
given). A file system that refuses ``O_DIRECT`` (``EINVAL``) gets buffered writes from then on.
A caller that must not wait for the disk (a worker of generate, which goes on building the next
unit of work while the last one's files are written) asks for a notice instead
(:func:`notify`): a callback the thread calls once everything handed over before is written.
``DICOMFAB_DIRECT_IO=off`` turns it all off: each file is then written at once, buffered, by the
caller (:func:`enabled`). The bytes on disk are the same either way.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ALIGN = 4096
"""Offsets, lengths and buffer addresses of direct writes are multiples of this (a page, and
the largest logical block size of common disks)."""
CHUNK = 32 << 20
"""Bytes per buffer, and so the largest direct write: a full-size mammogram (17 MB) is one write.
A direct write is split into requests the disk works on together (at the queue's
``max_sectors_kb``, 4 MiB on the benchmarks' VM), and the disk has none of this thread's between
two writes: writing 17 MB files in 8 MiB writes reached 0.63-0.81 of the disk limit in
``benchmarks/generate.py`` (median 0.75 over 6 runs), in one write 0.74-0.87 (median 0.82 over
10). A buffer's pages are touched only as far as it is filled: smaller files cost no more
memory."""
BUFFERS = 3
"""Buffers per writer: one being written, the others being filled (the caller waits beyond)."""
DIRECT_MIN = 1 << 20
"""Smaller files go through the page cache, where they cost little."""

LOCAL_FILE_SYSTEMS = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "bcachefs"})
"""Local disk file systems, where O_DIRECT is well supported and fast. On any other (network
ones such as NFS, where a direct write is a synchronous round trip; FUSE, tmpfs, overlay)
files are written buffered, by the same thread."""

_OFF = {"off", "0", "no", "false"}
_types: dict[int, str | None] = {}  # file system type by device number


def enabled() -> bool:
    """Whether files go through a :class:`Writer` (Linux, unless ``DICOMFAB_DIRECT_IO=off``)."""
    if not hasattr(os, "O_DIRECT"):
        return False
    return os.environ.get("DICOMFAB_DIRECT_IO", "auto").strip().lower() not in _OFF


def file_system(folder: Path) -> str | None:
    """The type of the file system holding ``folder`` (``ext4``, ``nfs4``, …), as
    ``/proc/self/mountinfo`` names it; None where that cannot be told."""
    device = os.stat(folder).st_dev
    if device not in _types:
        _types[device] = _mount_type(f"{os.major(device)}:{os.minor(device)}")
    return _types[device]


def _mount_type(device: str) -> str | None:
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 2 and fields[2] == device and " - " in line:
            return line.split(" - ", 1)[1].split()[0]
    return None


@dataclass
class _Chunk:
    path: Path
    buffer: mmap.mmap | None  # None: an empty file
    length: int  # bytes of the file in ``buffer``
    first: bool
    last: bool
    total: int  # the file's size


Notice = Callable[[BaseException | None], None]
"""Called by the writer's thread with None when every file handed over before the notice is
written and closed, or with what failed (see :meth:`Writer.notify`)."""


class DiscardedError(RuntimeError):
    """What a notice gets when the files before it were dropped by :meth:`Writer.discard`."""


@dataclass
class _Notice:
    callback: Notice


class Writer:
    """One thread writing the files handed to :meth:`write`, in order (see the module)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._jobs: queue.Queue[_Chunk | _Notice | None] = queue.Queue()
        self._free: queue.Queue[mmap.mmap] = queue.Queue()
        self._made = 0
        self._failure: BaseException | None = None  # raised (and cleared) by the caller
        self._failed: BaseException | None = None  # the first failure, for every later notice
        self._discarding = False
        self._direct_refused = False
        self._fd = -1  # the file being written
        self._fd_direct = False  # opened with O_DIRECT
        self._thread: threading.Thread | None = None  # started by write(), ended by stop()

    # the caller's side

    def write(self, path: Path, parts: Iterable[bytes | bytearray | memoryview]) -> None:
        """Hand over the file ``path`` made of ``parts`` (copied before this returns)."""
        self._raise_failure()
        self._start()
        views = [memoryview(p).cast("B") for p in parts]
        total = sum(v.nbytes for v in views)
        if total == 0:
            self._jobs.put(_Chunk(path, None, 0, True, True, 0))
            return
        buffer, filled, first, done = self._buffer(), 0, True, 0
        for view in views:
            while view.nbytes:
                take = min(view.nbytes, len(buffer) - filled)
                buffer[filled : filled + take] = view[:take]
                filled, done, view = filled + take, done + take, view[take:]
                if filled == len(buffer) and done < total:
                    self._jobs.put(_Chunk(path, buffer, filled, first, False, total))
                    buffer, filled, first = self._buffer(), 0, False
        self._jobs.put(_Chunk(path, buffer, filled, first, True, total))

    def notify(self, callback: Notice) -> None:
        """Have the thread call ``callback`` once every file handed over before is written and
        closed: with None, or with the first failure of this writer (every notice after a
        failure gets it: nothing after one is vouched for), or a :class:`DiscardedError` when
        :meth:`discard` dropped files before it. The caller goes on at once."""
        self._start()
        self._jobs.put(_Notice(callback))

    def flush(self) -> None:
        """Wait until every file handed over is written and closed; raise the first failure."""
        self._jobs.join()
        self._failed = None  # reported here (the next notice vouches for what follows)
        self._raise_failure()

    def discard(self) -> None:
        """Drop what is not written yet, wait for the write under way (one chunk), and forget
        any failure: for an interruption, before the caller removes what it was writing."""
        self._discarding = True
        try:
            self._jobs.join()
            self._close()  # a file cut short by the interruption: the thread is idle now
        finally:
            self._discarding = False
            self._failure = self._failed = None

    def stop(self) -> None:
        """End the thread once it has written what it was given (its buffers are kept for the
        next write, which starts a new one): no thread of ours outlives a generate."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(None)
            thread.join()

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="dicomfab-writer", daemon=True)
            self._thread.start()

    def _buffer(self) -> mmap.mmap:
        if self._free.empty() and self._made < BUFFERS:
            self._made += 1
            return mmap.mmap(-1, CHUNK)  # page-aligned, as O_DIRECT wants
        return self._free.get()

    def _raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    # the thread's side

    def _run(self) -> None:
        while True:
            chunk = self._jobs.get()
            if chunk is None:  # stop()
                self._jobs.task_done()
                return
            if isinstance(chunk, _Notice):
                self._notify(chunk.callback)
                self._jobs.task_done()
                continue
            try:
                if self._failure is None and not self._discarding:
                    self._write_chunk(chunk)
            except BaseException as exc:  # handed to the caller by flush() or write()
                self._failure = exc
                self._failed = self._failed or exc
            try:
                if chunk.last or self._failure or self._discarding:
                    self._close()
            except BaseException as exc:  # close() can report a write that failed
                self._failure = self._failure or exc
                self._failed = self._failed or exc
            if chunk.buffer is not None:
                self._free.put(chunk.buffer)
            self._jobs.task_done()  # whatever happened: flush() must not wait forever

    def _notify(self, callback: Notice) -> None:
        failure = self._failed
        if failure is None and self._discarding:
            failure = DiscardedError("the files before this notice were dropped (interrupted)")
        try:
            callback(failure)
        except BaseException as exc:  # the caller's problem, raised on its next write or flush
            self._failure = self._failure or exc
            self._failed = self._failed or exc

    def _write_chunk(self, chunk: _Chunk) -> None:
        if chunk.first:
            self._open(chunk.path, chunk.total)
        elif self._fd < 0:
            return  # the rest of a file that failed (its failure is the caller's already)
        if chunk.buffer is None:
            return
        view = memoryview(chunk.buffer)[: chunk.length]
        tail = chunk.length % ALIGN if self._fd_direct and chunk.last else 0
        self._write_all(view[: chunk.length - tail])
        if tail:  # the last partial block, through the page cache (see _buffered)
            self._buffered()
            self._write_all(view[chunk.length - tail :])

    def _write_all(self, view: memoryview) -> None:
        while view.nbytes:
            try:
                view = view[os.write(self._fd, view) :]
            except OSError as exc:
                if not (self._fd_direct and exc.errno == errno.EINVAL):
                    raise
                self._refuse_direct()  # the rest buffered

    def _open(self, path: Path, total: int) -> None:
        self._close()  # the previous file, if a failure or interruption cut it short
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
        self._fd_direct = (
            total >= DIRECT_MIN
            and not self._direct_refused
            and file_system(path.parent) in LOCAL_FILE_SYSTEMS
        )
        if self._fd_direct:
            try:
                self._fd = os.open(path, flags | os.O_DIRECT, 0o666)
                return
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                self._direct_refused, self._fd_direct = True, False
        self._fd = os.open(path, flags, 0o666)

    def _refuse_direct(self) -> None:
        self._direct_refused = True
        self._buffered()

    def _buffered(self) -> None:
        """Write the open file through the page cache from here on.

        A direct write covers whole blocks: the file's last partial block goes this way rather
        than padded to a block and cut back with ``ftruncate``. Cutting back reads that block
        from the disk again (to zero its end), behind every write queued there, and cost 1.5 ms
        a file while the library was written (0.1 ms on an idle disk)."""
        import fcntl

        self._fd_direct = False
        flags = fcntl.fcntl(self._fd, fcntl.F_GETFL)
        fcntl.fcntl(self._fd, fcntl.F_SETFL, flags & ~os.O_DIRECT)

    def _close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)


_local = threading.local()


def writer() -> Writer:
    """This thread's writer (a forked child makes its own: the parent's thread is not in it)."""
    current: Writer | None = getattr(_local, "writer", None)
    if current is None or current.pid != os.getpid():
        current = _local.writer = Writer()
    return current


def flush() -> None:
    """Wait until this thread's files handed over are on disk (raise what failed)."""
    if enabled():
        writer().flush()


def notify(callback: Notice) -> None:
    """Have ``callback`` called once this thread's files handed over are on disk (see
    :meth:`Writer.notify`); at once when files are written by their caller (not enabled)."""
    if enabled():
        writer().notify(callback)
    else:
        callback(None)


@contextlib.contextmanager
def written(wait: bool = True) -> Iterator[None]:
    """Around code that writes files with :func:`dicomfab.output.files.write_file`: on the way
    out every file is on disk (failures raised), or, on an error or interruption, what was not
    written yet is dropped; the outermost one ends the writer's thread.

    ``wait=False``: on the way out the files may still be being written, by a thread that goes
    on (until the process ends): the caller asks for a :func:`notify` to learn when they are
    written. An error or interruption still drops what was not written."""
    if not enabled():
        yield
        return
    depth = getattr(_local, "depth", 0)
    _local.depth = depth + 1
    try:
        try:
            yield
        except BaseException:
            with contextlib.suppress(BaseException):
                writer().discard()
            raise
        if wait:
            writer().flush()
    finally:
        _local.depth = depth
        if depth == 0 and wait:
            writer().stop()
