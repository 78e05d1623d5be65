"""Processes dicomfab starts (an import command, ssh, the embedded PACS): each in a session of
its own, and stopped, with everything it started, on every way out.

    process = spawn(["ssh", …], stdin=subprocess.DEVNULL, …)   # a subprocess.Popen
    …
    stop(process)                                              # SIGTERM, grace, SIGKILL

A child leads a new session (``start_new_session``), so the terminal's Ctrl-C and hang-up reach
dicomfab only: the parent decides when and how its children stop. :func:`stop` signals the
child's process group and every other process still in its session (a grandchild that made a
group of its own), waits ``grace`` seconds, then kills what is left. A second Ctrl-C while
waiting kills at once.

Last resorts, for the ways out that skip ``finally`` blocks: an :mod:`atexit` hook stops every
child still registered and removes the temporary folders given to :func:`remove_at_exit`; and
while a child runs, a SIGTERM or SIGHUP that nobody handles (the default disposition would kill
dicomfab on the spot and leave its children behind) first stops the children, then ends the
process by that same signal. The CLI's own handlers, when installed, take precedence.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

GRACE = 3.0  # seconds between SIGTERM and SIGKILL
_POLL = 0.05
_FALLBACK_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

_lock = threading.RLock()
_children: dict[int, subprocess.Popen[bytes]] = {}
_paths: dict[Path, None] = {}
_atexit_registered = False


def spawn(argv: Sequence[str], **popen: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen(argv, **popen)`` in a new session, registered so that it is stopped at
    the latest when the interpreter exits. ``start_new_session`` and ``process_group`` are ours
    to set; the rest (``stdin``, ``stdout``, ``env``, ``cwd``, …) is passed through."""
    popen.pop("process_group", None)
    popen["start_new_session"] = True
    _install_last_resorts()
    process: subprocess.Popen[bytes] = subprocess.Popen(list(argv), **popen)
    with _lock:
        _children[process.pid] = process
    return process


def session_members(sid: int) -> list[int]:
    """Every live (not zombie) process whose session is ``sid`` (Linux ``/proc``; elsewhere an
    empty list, and the process group alone is signalled)."""
    found: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        stat = _stat(int(entry))
        if stat is not None and stat[1] == sid and stat[0] != "Z":
            found.append(int(entry))
    return found


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, session, process group) of ``pid`` from ``/proc/<pid>/stat``, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # after "pid (comm) "
    try:
        return fields[0], int(fields[3]), int(fields[2])
    except (IndexError, ValueError):
        return None


def _signal_all(process: subprocess.Popen[bytes], sig: int) -> None:
    """``sig`` to the child's process group and to every process left in its session."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
    for pid in session_members(process.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _gone(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is not None and not session_members(process.pid)


def _wait_gone(process: subprocess.Popen[bytes], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if _gone(process):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)


def stop(process: subprocess.Popen[bytes], grace: float = GRACE) -> int:
    """Stop ``process`` and everything in its session: SIGTERM, up to ``grace`` seconds, then
    SIGKILL. Returns its exit code (negative: the signal that ended it). Safe to call again."""
    try:
        if not _gone(process):
            _signal_all(process, signal.SIGTERM)
            if not _wait_gone(process, grace):
                _signal_all(process, signal.SIGKILL)
                _wait_gone(process, grace)
    except KeyboardInterrupt:  # asked twice: no more grace
        _signal_all(process, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
        raise
    finally:
        with _lock:
            _children.pop(process.pid, None)
    try:
        return process.wait(timeout=grace)
    except subprocess.TimeoutExpired:  # unkillable (uninterruptible sleep): leave it
        code = process.poll()
        return code if code is not None else -signal.SIGKILL


def forget(process: subprocess.Popen[bytes]) -> None:
    """``process`` has ended and everything of its session is gone: stop tracking it."""
    with _lock:
        _children.pop(process.pid, None)


def remove_at_exit(path: Path) -> None:
    """Remove ``path`` (a temporary file or folder) when the interpreter exits, unless
    :func:`remove` did it first."""
    _install_last_resorts()
    with _lock:
        _paths[Path(path)] = None


def remove(path: Path) -> None:
    """Remove ``path`` now (a file or a folder; missing is fine) and stop tracking it."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()
    with _lock:
        _paths.pop(path, None)


def keep(path: Path) -> None:
    """Do not remove ``path`` at exit after all (it holds what explains a failure)."""
    with _lock:
        _paths.pop(Path(path), None)


def running() -> list[subprocess.Popen[bytes]]:
    """The children started by :func:`spawn` and not stopped yet."""
    with _lock:
        return list(_children.values())


def stop_all(grace: float = 1.0) -> None:
    """Stop every registered child and remove every registered path (the last resort)."""
    with _lock:
        children = list(_children.values())
        paths = list(_paths)
    for process in children:
        with contextlib.suppress(Exception):
            stop(process, grace)
    for path in paths:
        remove(path)


# --- the last resorts -------------------------------------------------------------------------


def _install_last_resorts() -> None:
    global _atexit_registered
    with _lock:
        if not _atexit_registered:
            atexit.register(stop_all)
            _atexit_registered = True
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in _FALLBACK_SIGNALS:
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(sig) == signal.SIG_DFL:
                signal.signal(sig, _die_cleanly)


def _die_cleanly(signum: int, frame: FrameType | None) -> None:
    """A SIGTERM/SIGHUP nobody else handles: stop the children, then die of that signal, as
    the default disposition would have made us."""
    stop_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
