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


def _collector_state() -> tuple[int, int, bool]:
    import gc

    return gc.get_threshold()[0], gc.get_freeze_count(), gc.isenabled()


def test_a_worker_freezes_what_it_inherits_and_collects_less_often() -> None:
    import gc

    from dicomfab.output.generate import WORKER_GC_THRESHOLD

    before = gc.get_threshold()
    with ProcessPoolExecutor(max_workers=1, initializer=quiet_worker) as pool:
        threshold, frozen, enabled = pool.submit(_collector_state).result(timeout=60)
    assert (threshold, enabled) == (WORKER_GC_THRESHOLD, True)
    assert frozen > 10_000  # the modules and objects it was forked with
    assert gc.get_threshold() == before  # the caller's own collector is left alone
