"""Generating on a Dask distributed cluster: :func:`dask_executor` connects to a scheduler and
yields a :class:`concurrent.futures.Executor` that :func:`~dicomfab.output.generate.generate`
and :func:`~dicomfab.scenarios.generate.generate_scenarios` hand their units of work to.

A unit writes its files itself, into the (temporary) folder the caller names, so that folder
must be one every worker sees at the same path (a shared file system). Connecting checks what
it can before any work goes out: the scheduler answers, a worker has joined, every worker runs
this version of dicomfab and sees the output folder.

A worker process runs one dicomfab unit at a time, whatever its thread count: pydicom's
validation mode and the pixel cache are per process. Start workers with ``--nthreads 1`` and as
many ``--nworkers`` as cores.

``distributed`` is imported only here, and only when a cluster is asked for (the ``[dask]``
extra)."""

from __future__ import annotations

import concurrent.futures as cf
import functools
import logging
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from dicomfab._version import __version__
from dicomfab.errors import ClusterError, shorten_text
from dicomfab.extras import require

#: how long :meth:`DaskExecutor.shutdown` waits for units already running on workers
DRAIN_SECONDS = 300.0

# --- worker side (pickled by reference: only after the version check has passed) -----------

_registry = threading.Lock()
_unit = threading.Lock()  # one dicomfab unit at a time in a worker process
_running: Counter[str] = Counter()
_stopped: set[str] = set()


class Stopped(Exception):
    """A unit that reached a worker after its run was stopped (it did nothing)."""


def _one_at_a_time(token: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in this worker process, after any other dicomfab unit here, unless the
    run ``token`` belongs to was stopped (:func:`_stop`)."""
    with _registry:
        if token in _stopped:
            raise Stopped(token)
        _running[token] += 1
    try:
        with _unit:
            if token in _stopped:
                raise Stopped(token)
            return fn(*args)
    finally:
        with _registry:
            _running[token] -= 1


def _stop(token: str) -> int:
    """Mark run ``token`` stopped (its units not started yet will do nothing); how many of its
    units are still running in this worker process."""
    with _registry:
        _stopped.add(token)
        return _running[token]


def _sees(folder: str, name: str) -> bool:
    return os.path.isfile(os.path.join(folder, name))


# --- client side ----------------------------------------------------------------------------


class DaskExecutor(cf.Executor):
    """A :class:`concurrent.futures.Executor` over a ``distributed.Client``: every call is a
    side effect (``pure=False``), serialized per worker process; ``shutdown(cancel_futures=
    True)`` cancels what has not started and waits for what has (so that the caller may then
    remove the folder the units were writing into)."""

    def __init__(self, client: Any, workers: int) -> None:
        self._client = client
        self._inner = client.get_executor(pure=False)
        self._token = uuid.uuid4().hex
        self._futures: list[cf.Future[Any]] = []
        #: worker processes in the cluster when connected: what the work is split for
        self.workers = workers

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        if kwargs:
            fn = functools.partial(fn, **kwargs)
        future: cf.Future[Any] = self._inner.submit(_one_at_a_time, self._token, fn, *args)
        self._futures.append(future)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            unfinished = [f for f in self._futures if not f.done() or f.cancelled()]
            for future in unfinished:
                future.cancel()
            if unfinished:
                self._stop_and_drain(DRAIN_SECONDS if wait else 0.0)
        elif wait:
            cf.wait(self._futures)
        self._futures = []

    def _stop_and_drain(self, seconds: float) -> None:
        """Stop this executor's units on every worker; wait up to ``seconds`` for the running
        ones to end."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                running = self._client.run(_stop, self._token, on_error="return")
            except Exception:  # the cluster went away: nothing more to wait for
                return
            busy = sum(n for n in running.values() if isinstance(n, int))
            if not busy or time.monotonic() >= deadline:
                return
            time.sleep(0.1)


@contextmanager
def dask_executor(
    address: str, *, shared: Path | None = None, timeout: float = 10.0
) -> Iterator[DaskExecutor]:
    """Connect to the Dask scheduler at ``address`` (``tcp://host:8786``), check the cluster
    (a worker joined within ``timeout`` seconds, every worker runs dicomfab ``__version__``
    and, given ``shared``, sees that folder), and yield an executor over it. On exit the units
    still pending are cancelled and the client closed; the cluster keeps running.

    Raises :class:`~dicomfab.errors.ClusterError` (one line) when a check fails, and
    :class:`~dicomfab.errors.MissingExtra` without the ``[dask]`` extra."""
    with _connected(address, shared, timeout) as (client, workers):
        executor = DaskExecutor(client, workers)
        try:
            yield executor
        except cf.CancelledError:  # not by us: we raise what stopped us, not this
            raise ClusterError(f"lost the Dask cluster at {shorten_text(address)}") from None
        except Exception as exc:
            if type(exc).__name__ != "KilledWorker":
                raise
            raise ClusterError(
                f"the Dask cluster at {shorten_text(address)} lost the workers running one "
                f"unit several times: {_reason(exc)}"
            ) from None
        finally:
            executor.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _connected(address: str, shared: Path | None, timeout: float) -> Iterator[tuple[Any, int]]:
    """A checked ``distributed.Client`` and the worker process count; closed on exit."""
    require("dask", "--dask", "distributed")
    from distributed import Client

    # distributed logs each failed attempt and its own shutdown: the error we raise says it all
    quiet = [logging.getLogger(n) for n in ("distributed", "tornado")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.CRITICAL)
    try:
        try:
            client = Client(address, timeout=timeout, set_as_default=False)
        except Exception as exc:
            raise ClusterError(
                f"cannot connect to the Dask scheduler at {shorten_text(address)}: {_reason(exc)}"
            ) from None
        try:
            yield client, _check(client, address, shared, timeout)
        finally:
            with suppress(Exception):
                client.close(timeout=timeout)
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return shorten_text(text, 200)


def _check(client: Any, address: str, shared: Path | None, timeout: float) -> int:
    """The checks :func:`dask_executor` promises; the cluster's worker process count."""
    where = f"the Dask cluster at {shorten_text(address)}"
    try:
        client.wait_for_workers(1, timeout=timeout)
    except Exception:
        raise ClusterError(f"no worker joined {where} within {timeout:g} s") from None

    def version_probe() -> dict[str, Any]:
        # defined in a body, so cloudpickle sends it by value: it runs (and says so) on a worker
        # where dicomfab does not import
        try:
            from dicomfab._version import __version__ as version
        except Exception as exc:
            return {"version": None, "error": f"{type(exc).__name__}: {exc}"}
        return {"version": version}

    try:
        found = client.run(version_probe, on_error="return")
    except Exception as exc:
        raise ClusterError(f"cannot ask the workers of {where}: {_reason(exc)}") from None
    for worker, answer in sorted(found.items()):
        version = answer.get("version") if isinstance(answer, dict) else None
        if version is None:
            why = answer.get("error") if isinstance(answer, dict) else _reason(answer)
            raise ClusterError(
                f"worker {worker} of {where} cannot import dicomfab ({why}): install "
                f"dicomfab=={__version__} on every worker"
            )
        if version != __version__:
            raise ClusterError(
                f"worker {worker} of {where} runs dicomfab {shorten_text(str(version))}, this is "
                f"{__version__}: every worker needs the same version (same spec, same bytes)"
            )
    if shared is not None:
        _check_shared(client, where, shared)
    return max(1, len(client.nthreads()))  # worker processes: each runs one unit at a time


def _check_shared(client: Any, where: str, folder: Path) -> None:
    """Every worker sees ``folder`` (by a marker file we write there and remove)."""
    folder = folder.absolute()
    folder.mkdir(parents=True, exist_ok=True)
    name = f".dicomfab-dask-{uuid.uuid4().hex}"
    marker = folder / name
    marker.write_bytes(b"")
    try:
        seen = client.run(_sees, str(folder), name, on_error="return")
    finally:
        marker.unlink(missing_ok=True)
    blind = sorted(worker for worker, answer in seen.items() if answer is not True)
    if blind:
        raise ClusterError(
            f"worker {blind[0]} of {where} does not see {folder}: the output folder must be "
            "on a file system every worker mounts at the same path"
        )


@contextmanager
def dask_client(address: str, *, timeout: float = 10.0) -> Iterator[tuple[Any, int]]:
    """Connect to the Dask scheduler at ``address`` and check the cluster as
    :func:`dask_executor` does (no shared folder); yield the ``distributed.Client`` and the
    worker process count, for work that is not a set of units (``dicomfab load --dask``
    pins one long task on each worker). The client is closed on exit; the cluster keeps
    running. Raises :class:`~dicomfab.errors.ClusterError` (one line)."""
    with _connected(address, None, timeout) as connected:
        yield connected


def cluster_reason(exc: BaseException) -> str:
    """``exc`` on one short line (for a :class:`~dicomfab.errors.ClusterError`)."""
    return _reason(exc)
