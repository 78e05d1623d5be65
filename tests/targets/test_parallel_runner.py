"""run_parallel: results in job order whatever order the workers finish in, one job at a time
per worker slot, the earliest failure raised, and an interruption that leaves no worker."""

from __future__ import annotations

import _thread
import threading
import time

import pytest

from dicomfab.targets._parallel import run_parallel


def _workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("dicomfab-test-")]


@pytest.mark.parametrize("workers", [1, 2, 4, 7])
def test_results_come_in_job_order_one_job_per_slot_at_a_time(workers: int) -> None:
    busy: set[int] = set()
    lock = threading.Lock()
    overlaps: list[int] = []

    def work(slot: int, job: int) -> int:
        with lock:
            if slot in busy:
                overlaps.append(slot)
            busy.add(slot)
        time.sleep(0.001 * ((job * 7) % 5))  # later jobs often finish first
        with lock:
            busy.discard(slot)
        return job * job

    jobs = list(range(40))
    assert run_parallel(jobs, work, workers, stop=lambda: None, name="test") == [
        j * j for j in jobs
    ]
    assert overlaps == []
    assert _workers() == []


def test_the_earliest_failure_is_raised_and_stops_the_rest() -> None:
    ran: list[int] = []

    def work(slot: int, job: int) -> int:
        ran.append(job)
        if job in (3, 5):
            time.sleep(0.05 if job == 3 else 0.0)  # 5 fails first, 3 is earlier in the list
            raise ValueError(f"job {job}")
        time.sleep(0.01)  # 200 jobs: half a second on 4 workers
        return job

    with pytest.raises(ValueError, match="job 3"):
        run_parallel(list(range(200)), work, 4, stop=lambda: None, name="test")
    assert len(ran) < 200  # the others took no new jobs after a failure
    assert _workers() == []


def test_an_interruption_calls_stop_and_leaves_no_worker() -> None:
    release = threading.Event()
    stopped: list[bool] = []

    def work(slot: int, job: int) -> int:
        if job == 2:
            _thread.interrupt_main()  # Ctrl-C while every worker is busy
        release.wait(10)  # what an association waits on; stop() ends the wait
        return job

    def stop() -> None:
        stopped.append(True)
        release.set()

    with pytest.raises(KeyboardInterrupt):
        run_parallel(list(range(100)), work, 4, stop=stop, name="test")
    assert stopped == [True]
    assert _workers() == []


def test_one_worker_runs_in_the_calling_thread() -> None:
    threads: set[str] = set()

    def work(slot: int, job: int) -> int:
        threads.add(threading.current_thread().name)
        return job

    assert run_parallel([1, 2, 3], work, 1, stop=lambda: None, name="test") == [1, 2, 3]
    assert threads == {threading.current_thread().name}
