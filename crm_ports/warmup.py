"""Start Node while Python plans the stacks.

Importing cdktf starts jsii's Node process and has it load the `constructs` and `cdktf`
assemblies; for much of that time Python only waits on a pipe. A synthesizing command
starts that import on a background thread first, then loads the labs, resolves them and
checks the cloud limits on the main thread meanwhile, so the two overlap instead of
adding up. Commands that do not synthesize never call this, so they never start Node.

The background thread imports the CDK flavour's package (cdktf or cdktn, neither of which
imports crm_ports) at once, before the main thread loads anything of ours, so Node starts
as early as it can. Only once the main thread has imported the modules planning needs
(`load_planning()`) does the thread go on to the stack modules: by then every module of
ours that both import is whole, so the two threads never import the same module of ours
at once and neither can wait on the other's half-finished import.

A failure in the background import is not reported there: `finish()` waits for it, and
the main thread's own `import cdktf` then raises it as usual. Bad input found while the
import runs waits for it too (`finish()` in a `finally`), so the process never exits with
jsii half started.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_started: threading.Thread | None = None
_planning = threading.Event()


def _import_stacks(cdk: str) -> None:
    try:
        importlib.import_module(cdk)  # cdktf or cdktn: starts Node, imports nothing of ours
        _planning.wait()
        import crm_ports.stacks.aws
        import crm_ports.stacks.azure  # noqa: F401
    except BaseException:  # the main thread imports again and reports it
        return


def start() -> None:
    """Begin importing cdktf, and the stack modules once planning's are loaded; once per
    process. Cheap to call as early as a command knows it will synthesize."""
    global _started
    from crm_ports.cdk import flavour

    cdk = flavour()  # a bad CRM_PORTS_CDK is one line and exit 2 here, before Node starts
    if _started is not None or "crm_ports.stacks.azure" in sys.modules:
        return
    _started = threading.Thread(
        target=_import_stacks, args=(cdk,), name="crm-ports-warmup", daemon=True
    )
    _started.start()


def load_planning() -> None:
    """Import the pure-Python modules planning needs (on the calling thread), then let
    the background thread go on to the stack modules."""
    try:
        import crm_ports.app
        import crm_ports.catalogue
        import crm_ports.extra
        import crm_ports.lab
        import crm_ports.plans.aws
        import crm_ports.plans.azure
        import crm_ports.resolver
        import crm_ports.state  # noqa: F401
    finally:
        _planning.set()


def finish() -> None:
    """Wait for the background import, if one was started."""
    if _started is not None:
        _planning.set()
        _started.join()


@contextmanager
def overlapping() -> Iterator[None]:
    """Start the import on entry; on the way out (normal or an error) wait for it."""
    start()
    try:
        load_planning()
        yield
    finally:
        finish()
