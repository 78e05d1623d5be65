"""An association dicomfab aborted mid-send must not make pynetdicom's reactor thread print a
traceback (the race is timing-dependent end to end, so the hook's decision is tested here)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from pynetdicom.dul import DULServiceProvider
from pynetdicom.fsm import InvalidEventError

from dicomfab.targets import cstore


@pytest.fixture
def hook() -> Iterator[None]:
    saved = threading.excepthook
    threading.excepthook = threading.__excepthook__
    cstore._quiet_races_after_abort()
    cstore._quiet_races_after_abort()  # installed once, however many ingests run
    yield
    threading.excepthook = saved


def _raise_in(thread: threading.Thread, exc: BaseException) -> None:
    try:
        raise exc
    except BaseException as caught:
        args = threading.ExceptHookArgs(
            (type(caught), caught, caught.__traceback__, thread)  # type: ignore[arg-type]
        )
        threading.excepthook(args)


def _reactor(aborted_by_us: bool) -> DULServiceProvider:
    dul = DULServiceProvider.__new__(DULServiceProvider)
    threading.Thread.__init__(dul, name="reactor")  # never started: only its identity is used
    dul._assoc = SimpleNamespace(_sent_abort=aborted_by_us)  # type: ignore[assignment]
    return dul


@pytest.mark.usefixtures("hook")
def test_a_race_on_an_association_we_aborted_is_silent(capsys: pytest.CaptureFixture[str]) -> None:
    race = InvalidEventError("Invalid event 'Evt9' for the current state 'Sta13'")
    _raise_in(_reactor(True), race)
    assert capsys.readouterr().err == ""


@pytest.mark.usefixtures("hook")
@pytest.mark.parametrize(
    ("thread", "exc"),
    [
        (_reactor(False), InvalidEventError("Evt9 in Sta13")),  # not aborted by us
        (_reactor(True), RuntimeError("boom")),  # another error
        (threading.Thread(name="other"), InvalidEventError("Evt9 in Sta13")),  # not a reactor
    ],
    ids=["not-aborted", "other-error", "other-thread"],
)
def test_every_other_thread_error_is_still_printed(
    capsys: pytest.CaptureFixture[str], thread: threading.Thread, exc: BaseException
) -> None:
    _raise_in(thread, exc)
    assert type(exc).__name__ in capsys.readouterr().err
