"""`crm_ports.synth.interrupts`: SIGTERM and SIGHUP raise `Terminated` while a synthesis runs, so
its workers are stopped and its scratch removed (`tests/test_shards.py` sends them to the
real commands); a signal the process was told to ignore stays ignored."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from crm_ports.errors import Terminated
from crm_ports.synth.interrupts import terminated_as_exception


@pytest.fixture
def default_handlers() -> Iterator[None]:
    saved = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGHUP)}
    for number in saved:
        signal.signal(number, signal.SIG_DFL)
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


@pytest.mark.usefixtures("default_handlers")
@pytest.mark.parametrize(("number", "status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_termination_signal_unwinds_as_an_exception(number: int, status: int) -> None:
    cleaned = []
    with pytest.raises(Terminated) as caught, terminated_as_exception():
        try:
            os.kill(os.getpid(), number)
            signal.pause()  # never reached: the handler raises first
        finally:
            cleaned.append(True)
    assert cleaned == [True]
    assert caught.value.exit_status == status
    assert str(caught.value) == f"terminated by {signal.Signals(number).name}"
    assert signal.getsignal(number) is signal.SIG_DFL  # restored on the way out


@pytest.mark.usefixtures("default_handlers")
def test_an_ignored_signal_stays_ignored() -> None:
    """`nohup crm-ports synth ...` must survive its terminal closing."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    with terminated_as_exception():
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        os.kill(os.getpid(), signal.SIGHUP)  # ignored: nothing happens
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
