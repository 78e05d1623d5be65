"""Stopping a worker pool always returns, even when a worker was stopped half-way through
sending its result (CPython 3.11's pool manager then waits for the rest of the message for
ever, and ``shutdown`` with it: Ctrl-C or SIGTERM left ``dicomfab generate`` running)."""

from __future__ import annotations

import os
import struct
import threading
from concurrent.futures import ProcessPoolExecutor

from dicomfab.output.generate import quiet_worker, stop_pool


def test_stop_pool_returns_when_a_result_was_cut_off() -> None:
    pool = ProcessPoolExecutor(max_workers=2, initializer=quiet_worker)
    assert pool.submit(abs, -1).result(timeout=60) == 1  # workers and manager thread running
    workers = list(pool._processes.values())  # type: ignore[union-attr]
    writer = pool._result_queue._writer  # type: ignore[attr-defined]
    # what a worker killed mid-send leaves: a length that promises more bytes than follow
    os.write(writer.fileno(), struct.pack("!i", 1000) + b"\x80" * 10)
    stopping = threading.Thread(target=stop_pool, args=(pool,), daemon=True)
    stopping.start()
    stopping.join(30)
    stuck = stopping.is_alive()
    if stuck:  # let the manager thread finish its message, so the test run can end
        os.write(writer.fileno(), b"\x00" * 990)
        stopping.join(30)
    assert not stuck, "stop_pool waited for a result that will never come"
    assert not [p for p in workers if p.is_alive()]


def _huge_pages(enabled: bool) -> bool:
    """Set numpy's huge-page advice; whether it was on."""
    from numpy._core import multiarray

    return bool(multiarray._set_madvise_hugepage(enabled))


def _worker_state() -> tuple[int, int, bool, bool]:
    import gc

    huge = _huge_pages(False)
    _huge_pages(huge)
    return gc.get_threshold()[0], gc.get_freeze_count(), gc.isenabled(), huge


def test_a_worker_freezes_what_it_inherits_collects_less_often_and_asks_no_huge_pages() -> None:
    import gc

    from dicomfab.output.generate import WORKER_GC_THRESHOLD

    before, huge = gc.get_threshold(), _huge_pages(True)
    try:
        with ProcessPoolExecutor(max_workers=1, initializer=quiet_worker) as pool:
            threshold, frozen, enabled, worker_huge = pool.submit(_worker_state).result(60)
        assert (threshold, enabled, worker_huge) == (WORKER_GC_THRESHOLD, True, False)
        assert frozen > 10_000  # the modules and objects it was forked with
        assert gc.get_threshold() == before  # the caller's own collector is left alone
        assert _huge_pages(huge) is True  # and its numpy's advice
    finally:
        _huge_pages(huge)
