"""Termination signals as an exception while stacks are synthesized.

Python dies at once on SIGTERM or SIGHUP (what `kill`, a CI timeout, a closed terminal or
a supervisor sends): no `finally` runs, so the worker processes of a many-stack synthesis
(`crm_ports.synth.shards`) ran on as orphans and the scratch folders stayed behind, beside the
output or, for the cdktf.json app, inside it. While a command synthesizes, these signals
raise `Terminated` instead, which unwinds like Ctrl-C's KeyboardInterrupt: workers are
stopped, scratch folders removed, the previous output kept, and the process exits with
128 + the signal's number, as a shell reports a process the signal killed.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from crm_ports.errors import Terminated

SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _raise(signum: int, _frame: FrameType | None) -> None:
    raise Terminated(signum)


@contextmanager
def terminated_as_exception() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise `Terminated` in the main thread. A signal
    the process was started ignoring (`nohup`) stays ignored; on the way out the previous
    handlers return. Off the main thread (where Python cannot set handlers) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for number in SIGNALS:
        if signal.getsignal(number) is signal.SIG_DFL:
            previous[number] = signal.signal(number, _raise)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
