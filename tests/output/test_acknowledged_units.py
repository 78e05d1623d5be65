"""A worker of generate's own pool hands a unit's files to its writer thread and goes on; the
unit counts (is journaled, credited in the manifest) only once that thread says its files are
written (``write_unit``'s ticket). A write that fails after the unit returned, or a worker that
dies then, fails the generate and the unit is never journaled; a resume then writes it."""

from __future__ import annotations

import errno
import os
import signal
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest

from dicomfab import OutputError, generate, parse_spec
from dicomfab.builder.plan import make_plan
from dicomfab.output import direct
from dicomfab.output import generate as generate_module
from trees import file_hashes

pytestmark = pytest.mark.skipif(not direct.enabled(), reason="needs the writer thread (Linux)")

FAILING = 5  # the patient whose last file cannot be written
DELAY = 0.5  # seconds the writer thread takes first: the unit has long returned by then


def _spec() -> dict[str, Any]:
    return {
        "name": "acked",
        "seed": 11,
        "uid_namespace": "acknowledged-units-test",
        "defaults": {"pixels": {"rows": 64, "columns": 64}},
        "patients": [{"count": 12, "studies": [{"role": "current"}, {"role": "prior"}]}],
    }


def _last_file(spec: Any, patient: int) -> str:
    plan = make_plan(spec).patients[patient]
    return [i for s in plan.studies for se in s.series for i in se.instances][-1].file_name


def _journaled(out: Path) -> int:
    journal = out / ".acked.partial" / "journal.jsonl"
    return journal.read_text().count("\n") if journal.exists() else 0


@pytest.fixture
def late_fault(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make the writer thread (in the forked workers) do ``action`` when it comes to the last
    file of patient :data:`FAILING` (a unit of its own), before it writes it."""
    spec = parse_spec(_spec())
    plan = make_plan(spec)
    assert not generate_module.small_job([(12, 8)], 0, lambda i: plan.patients[i])
    target = _last_file(spec, FAILING)
    real = direct.Writer._write_chunk

    def install(action: Any) -> None:
        def faulty(self: direct.Writer, chunk: Any) -> None:
            if chunk.first and chunk.path.name == target:
                action()
            real(self, chunk)

        monkeypatch.setattr(direct.Writer, "_write_chunk", faulty)

    return spec, install


def test_a_unit_returned_but_not_yet_written_is_not_journaled_when_interrupted(
    tmp_path: Path, late_fault: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the writer thread still holds patient FAILING's last file (its unit has
    returned long before): the partial folder is kept for --resume, its journal stops before
    that patient, and the resume writes it (the same bytes as a generate in one go)."""
    spec, install = late_fault
    reached = tmp_path / "reached"

    def hold() -> None:
        reached.touch()
        time.sleep(3 * DELAY)

    install(hold)
    main = threading.main_thread().ident
    assert main is not None

    def interrupt() -> None:
        deadline = time.monotonic() + 120
        while not reached.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(DELAY)  # the unit's result would be in by now, were it sent on return
        signal.pthread_kill(main, signal.SIGINT)

    out = tmp_path / "out"
    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        generate(spec, out, workers=2, resumable=True)
    assert reached.exists()
    assert _journaled(out) <= FAILING  # patients before the one being written at most
    monkeypatch.undo()
    resumed = generate(spec, out, workers=2, resume=True)
    reference = generate(parse_spec(_spec()), tmp_path / "reference", workers=1)
    assert file_hashes(resumed.path) == file_hashes(reference.path)


def _disk_full() -> None:
    time.sleep(DELAY)
    raise OSError(errno.ENOSPC, "No space left on device (injected)")


def _die() -> None:
    time.sleep(DELAY)
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize(
    ("fault", "raised"),
    [(_disk_full, OutputError), (_die, BrokenProcessPool)],
    ids=["write-fails", "worker-dies"],
)
def test_a_fault_after_the_unit_returned_fails_the_generate(
    tmp_path: Path, late_fault: Any, fault: Any, raised: type[BaseException]
) -> None:
    """The unit's function has returned long before: the failure comes through the writer's
    acknowledgement, or the parent finds the worker gone (not a wait for ever)."""
    spec, install = late_fault
    install(fault)
    out = tmp_path / "out"
    start = time.monotonic()
    with pytest.raises(raised):
        generate(spec, out, workers=2, resumable=True)
    assert time.monotonic() - start < 60
    assert not (out / "acked").exists() and not (out / ".acked.partial").exists()
