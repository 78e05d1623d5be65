"""Leaving the ``dicomfab`` process quickly once its command is done.

Python's own shutdown clears every module and frees every object one by one: with numpy,
pydicom, pydantic and the builder loaded that is a tenth of a second, the cost of a small
``generate`` (issue 15). When the process has nothing left that shutdown would finish — only the
main thread runs, no child process is left — :func:`exit_process` runs the ``atexit`` handlers
(coverage, logging, temporary folders, multiprocessing), flushes stdout and stderr, and ends the
process with :func:`os._exit`. Otherwise, or under a profiler or tracer (whose results are written
by shutdown), it exits the ordinary way.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def exit_code(code: object) -> int:
    """The process exit status ``sys.exit(code)`` gives (a message is printed to stderr)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _quiet() -> bool:
    """Nothing shutdown would still do: one thread, no child process, no profiler or tracer."""
    if threading.active_count() != 1 or sys.getprofile() is not None or sys.gettrace():
        return False
    processes = sys.modules.get("multiprocessing")
    return processes is None or not processes.active_children()


def exit_process(code: object) -> NoReturn:
    """End the process with ``sys.exit(code)``'s status, skipping the interpreter's teardown
    when nothing needs it (see the module's docstring)."""
    status = exit_code(code)  # prints a message (a non-int code) now, as sys.exit would later
    if not _quiet():
        sys.exit(status)
    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):  # e.g. a closed pipe: let Python report it as it would
        sys.exit(status)
    os._exit(status)
