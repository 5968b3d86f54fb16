"""Count Python<->Node (jsii) round trips and time cdktf synthesis.

Every message the jsii Python runtime exchanges with its Node child process
goes through ``_NodeProcess.send``: kernel calls (create, invoke, get, set,
sinvoke, ...) and the ``complete`` answers Python sends back after serving a
callback (an overridden method such as ``synthesizeAttributes``).  Patching
that one method therefore counts both directions of traffic, whatever public
API (``jsii.create``, ``jsii.invoke``, property access) caused it; patching
``Kernel`` methods alone would miss the callback answers.

Usage as a library::

    from benchmarks.jsii_calls import count_jsii_calls
    with count_jsii_calls() as calls:
        build_stack()
    print(calls.total, calls.by_kind)

Whole-app measurements (wall time, memory, these counts per case) live in
``benchmarks/synth_bench.py``.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

# Request class name -> short kind reported by JsiiCallStats.by_kind.
_KIND_NAMES = {
    "_CompleteRequest": "callback",
    "CreateRequest": "create",
    "InvokeRequest": "invoke",
    "StaticInvokeRequest": "sinvoke",
    "GetRequest": "get",
    "StaticGetRequest": "sget",
    "SetRequest": "set",
    "StaticSetRequest": "sset",
    "DeleteRequest": "del",
    "LoadRequest": "load",
}


@dataclasses.dataclass
class JsiiCallStats:
    """Round trips observed inside one ``count_jsii_calls`` block."""

    by_kind: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    seconds_in_send: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    @property
    def callbacks(self) -> int:
        """Node->Python calls served (one ``complete`` message each)."""
        return self.by_kind.get("callback", 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_kind": dict(sorted(self.by_kind.items())),
            "seconds_in_send": round(self.seconds_in_send, 4),
        }


_active: list[JsiiCallStats] = []


def _install_patch() -> None:
    """Wrap ``_NodeProcess.send`` once; counting is switched on by ``_active``."""
    from jsii._kernel.providers import process

    node_process: Any = process._NodeProcess
    if getattr(node_process.send, "_crm_ports_counting", False):
        return
    original: Callable[..., Any] = node_process.send

    def send(self: Any, request: Any, response_type: Any) -> Any:
        if not _active:
            return original(self, request, response_type)
        kind = _KIND_NAMES.get(type(request).__name__, type(request).__name__)
        start = time.perf_counter()
        try:
            return original(self, request, response_type)
        finally:
            elapsed = time.perf_counter() - start
            for stats in _active:
                stats.by_kind[kind] += 1
                stats.seconds_in_send += elapsed

    send._crm_ports_counting = True  # type: ignore[attr-defined]
    node_process.send = send


@contextlib.contextmanager
def count_jsii_calls() -> Iterator[JsiiCallStats]:
    """Count jsii messages sent while the block runs (blocks may nest).

    ``seconds_in_send`` includes time Python spends serving callbacks that
    Node makes while a request is in flight, so it overstates pure transport
    cost for callback-heavy code; it is a ceiling, not a measurement of IPC.
    """
    _install_patch()
    stats = JsiiCallStats()
    _active.append(stats)
    try:
        yield stats
    finally:
        _active.remove(stats)
