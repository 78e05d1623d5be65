"""A folder that appears complete or not at all: built under a hidden name beside its target and
renamed into place at the end; removed if anything fails on the way.

Publishing must not replace a folder that appeared while we were writing (two ``generate``s into
the same ``--output``): the existence check at the start is only a courtesy, the real one is the
rename itself. On Linux it is ``renameat2(…, RENAME_NOREPLACE)``, which fails with EEXIST if the
target exists, atomically. Where that call is missing (another OS, or a file system without the
flag) a plain ``rename`` of a folder is used: POSIX refuses to rename a folder onto a non-empty
folder (ENOTEMPTY/EEXIST), Windows onto any existing path, and a published dataset is never
empty. So the loser of a race always gets an error, never a silent replacement; no lock file is
needed, and none is left behind by a crash.

With ``overwrite`` only the target itself is replaced: moved aside (if it is a symlink, the link
is moved, never what it points to), the new folder renamed in, the old one deleted.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dicomfab.errors import OutputError
from dicomfab.output.paths import safe_component

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1


def _renameat2() -> object | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.renameat2
    except (OSError, AttributeError):  # no C library to load, or glibc < 2.28
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


_RENAMEAT2 = _renameat2()


def rename_noreplace(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target``; raise ``FileExistsError`` if ``target`` exists (also when
    it appears at the same moment), never replace it."""
    if _RENAMEAT2 is not None:
        result = _RENAMEAT2(  # type: ignore[operator]
            _AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), _RENAME_NOREPLACE
        )
        if result == 0:
            return
        code = ctypes.get_errno()
        if code == errno.EEXIST:
            raise FileExistsError(code, os.strerror(code), str(target))
        if code not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(code, os.strerror(code), str(source))
        # the file system does not support the flag: fall through to the plain rename
    if os.path.lexists(target) and not _is_empty_dir(target):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target))
    try:
        os.rename(source, target)  # refuses a non-empty folder (ENOTEMPTY) or, on Windows, any
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) or isinstance(exc, FileExistsError):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target)) from exc
        raise


def _is_empty_dir(path: Path) -> bool:
    try:
        return not path.is_symlink() and path.is_dir() and not any(path.iterdir())
    except OSError:
        return False


def _remove(path: Path) -> None:
    """Delete ``path`` without following it if it is a symlink."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def partial_prefix(name: str, pid: int | None = None) -> str:
    """The start of the name of a dataset's temporary folder while process ``pid`` writes it."""
    return f".{name}.partial-{os.getpid() if pid is None else pid}-"


def partial_folders(parent: Path, pid: int) -> list[Path]:
    """The temporary dataset folders process ``pid`` left in ``parent`` (it was stopped)."""
    return list(parent.glob(f"{partial_prefix('*', pid)}*"))


def _exists_message(target: Path) -> str:
    return (
        f"{target} already exists: another generate published it first; "
        "use --overwrite to replace it"
    )


@contextmanager
def atomic_folder(target: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it becomes ``target`` (replacing an existing
    one only with ``overwrite``). ``target``'s name must be one safe name (not ``.`` or ``..``).
    An OSError on the way becomes an OutputError."""
    safe_component(target.name)
    if os.path.lexists(target) and not overwrite:
        raise OutputError(f"{target} already exists (use --overwrite to replace it)")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # an unpredictable name (nothing can be planted there in advance) that names the process
        # writing it, so that whoever stops that process can remove it (see partial_folders)
        temp = Path(tempfile.mkdtemp(prefix=partial_prefix(target.name), dir=target.parent))
    except OSError as exc:
        raise OutputError(f"cannot create a folder in {target.parent}: {exc.strerror}") from exc
    try:
        yield temp
        _publish(temp, target, overwrite)
    except FileExistsError:
        shutil.rmtree(temp, ignore_errors=True)
        raise OutputError(_exists_message(target)) from None
    except OSError as exc:
        shutil.rmtree(temp, ignore_errors=True)
        raise OutputError(f"cannot write {target}: {exc}") from exc
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _publish(temp: Path, target: Path, overwrite: bool) -> None:
    if not overwrite or not os.path.lexists(target):
        rename_noreplace(temp, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    old.rmdir()  # a fresh unused name; the rename below takes it
    os.rename(target, old)  # the folder, or the symlink itself: never what a link points to
    try:
        rename_noreplace(temp, target)
    except BaseException:
        if not os.path.lexists(target):
            os.rename(old, target)  # put the old one back rather than lose both
        raise
    _remove(old)


STATE = "generate-state.json"


def resumable_partial(target: Path) -> Path:
    """The temporary folder of a resumable generate of ``target``: found again by its name."""
    return target.parent / f".{target.name}.partial"


def _read_state(partial: Path) -> dict[str, object] | None:
    try:
        found = json.loads((partial / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _lock(partial: Path, target: Path) -> int:
    """Hold the lock of the generate writing ``partial`` (its state file) until closed; an
    OutputError if another process holds it."""
    import fcntl

    fd = os.open(partial / STATE, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise OutputError(
            f"{target} is being written by another generate now ({partial} is locked); once "
            "it is done it already exists: use --overwrite to replace it"
        ) from None
    return fd


def _claim(partial: Path, target: Path, state: dict[str, object]) -> int:
    """Create ``partial`` with its state file, locked, in one rename (a second generate sees
    either no folder or a locked one)."""
    fresh = Path(tempfile.mkdtemp(prefix=partial_prefix(target.name), dir=target.parent))
    (fresh / STATE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    fd = _lock(fresh, target)
    try:
        rename_noreplace(fresh, partial)
    except BaseException:
        os.close(fd)
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    return fd


@contextmanager
def resumable_folder(
    target: Path, state: dict[str, object], *, overwrite: bool = False, resume: bool = False
) -> Iterator[tuple[Path, bool]]:
    """Like :func:`atomic_folder`, but the temporary folder is ``.<name>.partial`` beside the
    target, with ``state`` (what it is being generated from) in it, locked while written, and an
    interruption (Ctrl-C, SIGTERM) leaves it in place for ``resume``. Yields (folder, resumed).

    Resuming refuses a folder whose state differs from ``state`` (another spec, seed, version or
    layout); a generate that neither resumes nor overwrites refuses to touch a folder left by an
    interrupted one. A folder without our state file is never deleted."""
    safe_component(target.name)
    partial = resumable_partial(target)
    if os.path.lexists(target) and not overwrite:
        raise OutputError(f"{target} already exists (use --overwrite to replace it)")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, resumed = _open_partial(partial, target, state, overwrite, resume)
    except FileExistsError:
        raise OutputError(
            f"{target} is being written by another generate now; once it is done it already "
            "exists: use --overwrite to replace it"
        ) from None
    except OSError as exc:
        raise OutputError(f"cannot create a folder in {target.parent}: {exc.strerror}") from exc
    try:
        yield partial, resumed
        (partial / STATE).unlink()
        _publish(partial, target, overwrite)
    except KeyboardInterrupt as exc:
        exc.partial = partial  # type: ignore[attr-defined]  # kept for --resume: say where
        raise
    except FileExistsError:
        shutil.rmtree(partial, ignore_errors=True)
        raise OutputError(_exists_message(target)) from None
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise OutputError(f"cannot write {target}: {exc}") from exc
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        os.close(fd)


def _open_partial(
    partial: Path, target: Path, state: dict[str, object], overwrite: bool, resume: bool
) -> tuple[int, bool]:
    """The locked file descriptor of ``partial`` (created, or found for ``resume``), and
    whether it was found."""
    if not os.path.lexists(partial):
        return _claim(partial, target, state), False
    found = _read_state(partial)
    if found is None or partial.is_symlink():
        raise OutputError(
            f"{partial} is in the way and was not left by dicomfab generate: move it away"
        )
    fd = _lock(partial, target)
    if resume:
        differs = [key for key in state if found.get(key) != state[key]]
        if not differs:
            return fd, True
        os.close(fd)
        raise OutputError(
            f"{partial} was left by a generate with another {', '.join(differs)}: "
            "--resume finishes only the same spec and seed (--overwrite starts again)"
        )
    os.close(fd)
    if not overwrite:
        raise OutputError(
            f"{partial} holds an interrupted generate of {target.name}: finish it with "
            "--resume, or start again with --overwrite"
        )
    shutil.rmtree(partial)
    return _claim(partial, target, state), False
