"""The CLI's signal handling: SIGINT and SIGTERM raise Interrupted in the main thread, the
handlers are restored afterwards, and an interruption that lands in a finalizer is not lost."""

from __future__ import annotations

import os
import signal
import time

import pytest

from dicomfab.cli import interruptible
from dicomfab.errors import Interrupted


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_raises_interrupted_and_handlers_are_restored(sig: signal.Signals) -> None:
    before = signal.getsignal(sig)
    with pytest.raises(Interrupted) as info, interruptible():
        os.kill(os.getpid(), sig)
        time.sleep(5)
    assert info.value.signum == sig and info.value.exit_code == 128 + sig
    assert signal.getsignal(sig) is before


class _SlowFinalizer:
    def __del__(self) -> None:
        time.sleep(0.3)


def test_an_interrupt_landing_in_a_finalizer_is_delivered_again(
    capsys: pytest.CaptureFixture[str],
) -> None:
    saved = signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGTERM))
    try:
        with pytest.raises(Interrupted) as info, interruptible():
            slow = _SlowFinalizer()
            signal.setitimer(signal.ITIMER_REAL, 0.1)
            del slow  # SIGTERM arrives while __del__ runs: Python drops what it raises there
            time.sleep(3)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, saved)
    assert info.value.signum == signal.SIGTERM
    assert "Exception ignored" not in capsys.readouterr().err
