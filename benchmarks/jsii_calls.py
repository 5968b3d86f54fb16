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

Usage as a script (prints a small report)::

    python benchmarks/jsii_calls.py [--rules 200] [--json]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
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


# --------------------------------------------------------------------------
# Benchmark scenarios (run as a script).  Each scenario runs in a fresh child
# process so peak RSS and import/start-up cost are attributable to it.
# --------------------------------------------------------------------------


def _scenario_empty(outdir: str, _rules: int) -> JsiiCallStats:
    from cdktf import App, TerraformStack

    with count_jsii_calls() as calls:
        app = App(outdir=outdir)
        TerraformStack(app, "empty")
        app.synth()
    return calls


def _scenario_rules(outdir: str, rules: int) -> JsiiCallStats:
    from cdktf import App, LocalBackend, TerraformStack

    from crm_ports.constructs.resources import aws

    with count_jsii_calls() as calls:
        app = App(outdir=outdir)
        stack = TerraformStack(app, "rules")
        LocalBackend(stack, path="terraform.tfstate")
        provider = aws.AwsProvider(stack, "aws", aws.AwsProviderConfig(region="eu-west-1"))
        vpc = aws.Vpc(stack, "vpc", aws.VpcConfig(cidr_block="10.0.0.0/16"), provider=provider)
        groups = [
            aws.SecurityGroup(
                stack,
                f"sg_{i}",
                aws.SecurityGroupConfig(name=f"group-{i}", description=f"group {i}", vpc_id=vpc.id),
                provider=provider,
            )
            for i in range(4)
        ]
        for i in range(rules):
            target = groups[i % 4]
            peer = groups[(i + 1) % 4]
            aws.VpcSecurityGroupIngressRule(
                stack,
                f"rule_{i}",
                aws.SecurityGroupRuleConfig(
                    security_group_id=target.id,
                    ip_protocol="tcp",
                    from_port=1000 + i,
                    to_port=1000 + i,
                    referenced_security_group_id=peer.id if i % 2 else None,
                    cidr_ipv4=None if i % 2 else "10.0.0.0/24",
                    description=f"rule {i}",
                ),
                provider=provider,
            )
        app.synth()
    return calls


_SCENARIOS: dict[str, Callable[[str, int], JsiiCallStats]] = {
    "empty": _scenario_empty,
    "rules": _scenario_rules,
}


def _node_peak_rss_kb() -> int | None:
    """VmHWM of the jsii Node child, read before it exits.

    ``RUSAGE_CHILDREN`` of the benchmark driver does not see it: Node is a
    grandchild, reaped by the Python child at exit.
    """
    try:
        import jsii

        provider: Any = jsii.kernel.provider
        pid = provider._process._process.pid
        status = Path(f"/proc/{pid}/status").read_text()
    except (AttributeError, OSError):
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def _run_child(name: str, rules: int) -> dict[str, Any]:
    start = time.perf_counter()
    import cdktf  # noqa: F401  (import cost is part of what we measure)

    imported = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        outdir = str(Path(tmp) / "out")
        built_start = time.perf_counter()
        calls = _SCENARIOS[name](outdir, rules)
        done = time.perf_counter()
    peak_self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    node_peak_kb = _node_peak_rss_kb()
    return {
        "scenario": name,
        "rules": rules if name == "rules" else 0,
        "import_s": round(imported - start, 3),
        "build_and_synth_s": round(done - built_start, 3),
        "python_peak_rss_mb": round(peak_self_kb / 1024, 1),
        "node_peak_rss_mb": None if node_peak_kb is None else round(node_peak_kb / 1024, 1),
        "jsii": calls.as_dict(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print JSON lines only")
    parser.add_argument("--child", choices=sorted(_SCENARIOS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(_run_child(args.child, args.rules)))
        return 0

    import subprocess

    repo_root = Path(__file__).resolve().parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo_root), env.get("PYTHONPATH")]))
    for name in _SCENARIOS:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--child", name, "--rules", str(args.rules)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        wall = time.perf_counter() - wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["process_wall_s"] = round(wall, 3)
        # ru_maxrss of RUSAGE_CHILDREN is the largest direct child reaped so
        # far (the Python side); it only grows across scenarios.
        result["children_peak_rss_mb"] = round(after.ru_maxrss / 1024, 1)
        result["children_cpu_s"] = round(
            (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 3
        )
        if args.json:
            print(json.dumps(result))
        else:
            print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
