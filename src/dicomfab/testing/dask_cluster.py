"""A real Dask cluster on loopback for tests and benchmarks: ``dask scheduler`` and ``dask
worker`` processes (``--nthreads 1``, no nanny, no dashboard), each in its own process group,
all stopped on exit (nothing left running).

    with local_dask_cluster(workers=2) as address:      # "tcp://127.0.0.1:PORT"
        generate(spec, out, executor=...)               # or: dicomfab generate --dask ADDRESS

The workers import dicomfab from where this process does (``PYTHONPATH``), so that they run
the same code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import dicomfab


def dask_command() -> Path:
    """The ``dask`` console script installed beside this Python."""
    return Path(sys.executable).parent / "dask"


@contextmanager
def local_dask_cluster(
    workers: int = 2, *, pythonpath: Path | None = None, timeout: float = 60.0
) -> Iterator[str]:
    """Start a scheduler and ``workers`` single-threaded workers on 127.0.0.1; yield the
    scheduler's address once every worker has joined; stop them all on exit. ``pythonpath`` is
    where the workers import dicomfab from (default: where this process does)."""
    src = pythonpath or Path(dicomfab.__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="dicomfab-dask-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        # the scratch space of the scheduler and the workers in our folder, not the system's:
        # what a worker killed by a test leaves there goes with the folder
        env = {**os.environ, "PYTHONPATH": str(src), "PYTHONUNBUFFERED": "1",
               "DASK_TEMPORARY_DIRECTORY": str(folder)}  # fmt: skip
        info = folder / "scheduler.json"
        start = [str(dask_command()), "scheduler", "--host", "127.0.0.1", "--port", "0"]
        stack.enter_context(
            _process([*start, "--no-dashboard", "--scheduler-file", str(info)], env, folder)
        )
        address = _address(info, folder, timeout)
        worker = [str(dask_command()), "worker", address, "--nthreads", "1", "--no-nanny"]
        worker += ["--no-dashboard", "--host", "127.0.0.1", "--death-timeout", "60"]
        for n in range(workers):
            stack.enter_context(_process([*worker, "--name", f"w{n}"], env, folder))
        _wait_for_workers(address, workers, timeout, folder)
        yield address


@contextmanager
def _process(argv: list[str], env: dict[str, str], logs: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = logs / f"{Path(argv[0]).name}-{argv[1]}-{len(list(logs.iterdir()))}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            env=env,
            cwd=logs,  # a relative path sent to a worker must not land in our working folder
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process's group, then SIGKILL what is left of it."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            continue
        with suppress(ProcessLookupError):  # the leader is gone; the rest of its group goes too
            os.killpg(process.pid, signal.SIGKILL)
        break


def _address(info: Path, logs: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return str(json.loads(info.read_text(encoding="utf-8"))["address"])
        except (OSError, ValueError, KeyError):
            time.sleep(0.1)
    raise RuntimeError(f"the dask scheduler did not start:\n{_logs(logs)}")


def _wait_for_workers(address: str, workers: int, timeout: float, logs: Path) -> None:
    from distributed import Client

    with Client(address, timeout=timeout, set_as_default=False) as client:
        try:
            client.wait_for_workers(workers, timeout=timeout)
        except TimeoutError:
            raise RuntimeError(f"{workers} dask workers did not join:\n{_logs(logs)}") from None


def _logs(folder: Path) -> str:
    return "\n".join(
        f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}"
        for log in sorted(folder.glob("*.log"))
    )
