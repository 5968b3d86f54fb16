"""A worker process of a many-stack synthesis (`crm_ports.synth.shards`): `python -m
crm_ports.synth.worker OUTDIR` reads its share of the planned stacks, pickled, on standard
input and synthesizes them into OUTDIR.

Its standard input stays open while it runs: it is the worker's lifeline. When the caller
dies, however it dies (SIGKILL included), the worker reads end-of-file and exits at once,
and its Node with it, instead of running on as an orphan.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
from pathlib import Path

from crm_ports.synth.build import build_and_synth
from crm_ports.synth.plan import StackPlan

# Tests only: a folder holding two FIFOs. The first worker (share 1) says it is ready (its
# pid into `ready`) and waits until `release` is closed before it synthesizes, so a test
# can interrupt a synthesis at a known point however busy the machine is, not by racing
# it. Other workers go on: one pair of FIFOs serves one worker.
HOLD_ENV = "CRM_PORTS_TEST_HOLD"
HELD_SHARE = "shard-1"


def _exit_with_caller() -> None:
    """The caller closes our standard input only once we have exited; end-of-file before
    that means it died. Exit at once (Node sees its own input close and follows). The file
    descriptor, not `sys.stdin`: a daemon thread blocked inside a buffered reader makes
    interpreter shutdown abort on its lock."""
    while os.read(0, 4096):
        pass
    os._exit(1)


def _hold_for_tests(outdir: Path) -> None:
    folder = os.environ.get(HOLD_ENV)
    if not folder or outdir.name != HELD_SHARE:
        return
    with (Path(folder) / "ready").open("w", encoding="utf-8") as ready:
        ready.write(f"{os.getpid()}\n")
    with (Path(folder) / "release").open(encoding="utf-8") as release:
        release.read()  # end-of-file once the test closes its end


def main() -> None:
    """A worker: synthesize the pickled stacks on standard input into the folder given."""
    stacks: list[StackPlan] = pickle.load(sys.stdin.buffer)
    threading.Thread(target=_exit_with_caller, name="crm-ports-lifeline", daemon=True).start()
    outdir = Path(sys.argv[1])
    _hold_for_tests(outdir)
    outdir.mkdir(parents=True)
    build_and_synth(stacks, outdir)


if __name__ == "__main__":
    main()
