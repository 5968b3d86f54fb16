"""Synthesis benchmark: wall time, peak memory and jsii round trips of `crm-ports synth`.

    .venv/bin/python benchmarks/synth_bench.py [--quick] [--runs N] [--case NAME ...]

Every case runs in a fresh child process, so interpreter start, imports, the jsii Node
process and its shutdown are all counted, and memory high-water marks belong to one case.
The cases (see benchmarks/README.md):

    empty             the cdktf floor: import cdktf, App(), one empty TerraformStack, synth
    default           our default app (`crm_ports.app`: default labs, 4 stacks)
    bindings          the same 4 stacks on the prebuilt provider bindings
    labs-1/10/100/1000
                      1, 10, 100, 1000 generated AWS split-roles labs through
                      `crm_ports.app` (1000: one run whatever --runs says)
    default-to-terraform
                      experiment: the default app written from `stack.to_terraform()`
                      instead of `app.synth()`; must be byte-identical to `default`
    default-content-floor
                      experiment: the default stacks' finished JSON, each stack handed to
                      Node as one cdktf element: what any construct layer must at least pay

Measurements:

- wall: from spawning the child to reaping it, median of N runs (min and max kept).
- peak RSS: the child reports its own high-water mark (getrusage RUSAGE_SELF) and those
  of jsii's two Node processes (the stdio relay and the kernel; VmHWM, read before they
  exit); their sum bounds the tree's simultaneous peak from above and is what the 300 MB
  target is checked against. The driver also samples the tree's summed VmRSS every 10 ms
  (a lower bound: it can miss a short spike) and keeps `os.wait4`'s ru_maxrss (the
  largest single process of the tree).
- cpu: user + system time of the child and the Node processes it reaped (`os.wait4`).
- jsii round trips: every message Python sends to Node (`benchmarks.jsii_calls`), from
  before `import cdktf` to the end of synthesis, split into import/plan/build/synth.

Then the commands, as a user runs them (`crm-ports rules`, `ports`, `matrix`, `check`,
`diff` of two lab files, `synth` of the default labs), next to `python -c pass`, each
once unmeasured first so the parse cache is warm, with wall, CPU and peak RSS.

Results go to a markdown table on stdout and to benchmarks/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crm_ports.lab.model import Lab
    from crm_ports.synth.plan import StackPlan

REPO = Path(__file__).resolve().parent.parent
# Runnable as a script: make `benchmarks.` and `tests.` importable.
sys.path.insert(0, str(REPO))
# Before cdktf loads: jsii prints an end-of-life banner on Node 20, which we support.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

RESULTS = Path(__file__).resolve().parent / "results.json"
PHASES = ("import", "plan", "build", "synth")
TARGET_FLOOR_RATIO = 1.3
TARGET_PEAK_MB = 300.0
TARGET_100_LABS_S = 8.0
_SAMPLE_S = 0.01
_RESCAN_TICKS = 50
_CHILD_TIMEOUT_S = 1800

Mark = Callable[[str], None]


# --------------------------------------------------------------------------
# Cases (run inside the child process)
# --------------------------------------------------------------------------


def _progress(mark: Mark) -> Callable[[str], None]:
    """synth_app's progress callback: the "synthesizing" line ends construction."""

    def progress(line: str) -> None:
        if line.startswith("synthesizing"):
            mark("build")

    return progress


def _case_empty(outdir: Path, mark: Mark) -> None:
    from cdktf import App, TerraformStack

    mark("import")
    mark("plan")
    app = App(outdir=str(outdir))
    TerraformStack(app, "empty")
    mark("build")
    app.synth()


def _default_plans() -> list[StackPlan]:
    from crm_ports.lab.model import default_labs
    from crm_ports.synth.plan import plan_stacks

    return plan_stacks(default_labs())


def _case_default(outdir: Path, mark: Mark) -> None:
    """As `crm-ports synth` and `cdktf.json`'s app run: the labs are planned (pure Python),
    then the stacks are built, which imports cdktf and starts Node (in *build*)."""
    mark("import")
    stacks = _default_plans()
    mark("plan")
    from crm_ports.synth.build import synth_app

    synth_app(stacks, outdir, progress=_progress(mark))


def _case_bindings(outdir: Path, mark: Mark) -> None:
    from benchmarks.bindings_app import synth_bindings_app

    mark("import")
    stacks = _default_plans()
    mark("plan")
    synth_bindings_app(stacks, outdir, progress=_progress(mark))


def generated_labs(count: int) -> list[Lab]:
    """`count` AWS split-roles labs with distinct names (so distinct stacks)."""
    from crm_ports.lab.model import Lab
    from crm_ports.options import Options

    origin = "<benchmark>"
    return [
        Lab(
            name=f"bench-{i:03d}",
            options=Options(topology="split-roles", origin=origin),
            clouds=("aws",),
            origin=origin,
        )
        for i in range(1, count + 1)
    ]


def _case_labs(count: int) -> Callable[[Path, Mark], None]:
    def run(outdir: Path, mark: Mark) -> None:
        from crm_ports.synth.plan import plan_stacks

        mark("import")
        stacks = plan_stacks(generated_labs(count))
        mark("plan")
        from crm_ports.synth.build import synth_app

        synth_app(stacks, outdir, progress=_progress(mark))

    return run


def _case_to_terraform(outdir: Path, mark: Mark) -> None:
    """What `app.synth()` does for our stacks, minus `prepareStack()`'s first pass over
    every element (one Python callback per resource): per stack, validations, a manifest
    entry and `stack.to_terraform()` written the way cdktf writes it. Skips what our stacks
    do not use: aspects, custom synthesis (assets), cross-stack references, annotations."""
    from crm_ports.stacks.aws import AwsLabStack  # noqa: I001  (silences jsii first)
    from crm_ports.stacks.azure import AzureLabStack
    from crm_ports.terraform.metadata import write_metadata
    from crm_ports.synth.shards import stable_stringify
    from cdktf import App, TerraformStack

    mark("import")
    stacks = _default_plans()
    mark("plan")
    app = App(outdir=str(outdir))
    built: list[TerraformStack] = []
    for stack in stacks:
        kind = AwsLabStack if stack.cloud == "aws" else AzureLabStack
        built.append(kind(app, stack.name, lab=stack.lab, rules=stack.rules))
    mark("build")
    for plan, tf_stack in zip(stacks, built, strict=True):
        tf_stack.run_all_validations()
        app.manifest.for_stack(tf_stack)
        directory = outdir / "stacks" / plan.name
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "cdk.tf.json").write_text(
            stable_stringify(tf_stack.to_terraform()), encoding="utf-8"
        )
        write_metadata(directory, plan.lab, plan.rules, plan.cloud)
    app.manifest.write_to_file()


REFERENCE_ENV = "CRM_PORTS_BENCH_REFERENCE"


def _case_content_floor(outdir: Path, mark: Mark) -> None:
    """The lower bound of any construct design for the default labs: their finished
    configuration (from an unmeasured synthesis of the default app, in REFERENCE_ENV),
    four stacks, each with its backend and one element whose body crosses to Node once.
    No planning, no per-resource objects, no callbacks beyond one per stack and pass."""
    import cdktf

    reference = Path(os.environ[REFERENCE_ENV])
    mark("import")
    bodies = {
        stack.name: json.loads((stack / "cdk.tf.json").read_text(encoding="utf-8"))
        for stack in _stack_dirs(reference)
    }
    mark("plan")

    class WholeStack(cdktf.TerraformElement):
        def __init__(self, scope: cdktf.TerraformStack, body: dict[str, Any]) -> None:
            super().__init__(scope, "configuration")
            self._body = body
            self._on_node: Any = None

        def to_terraform(self) -> Any:
            if self._on_node is None:
                self._on_node = cdktf.Token.as_any(self._body)
            return self._on_node

    app = cdktf.App(outdir=str(outdir))
    for name, body in bodies.items():
        stack = cdktf.TerraformStack(app, name)
        cdktf.LocalBackend(stack, path=body["terraform"].pop("backend")["local"]["path"])
        WholeStack(stack, {key: value for key, value in body.items() if key != "//"})
    mark("build")
    app.synth()


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    run: Callable[[Path, Mark], None]
    experiment: bool = False
    max_runs: int | None = None  # long cases run at most this often


CASES: dict[str, Case] = {
    c.name: c
    for c in (
        Case("empty", "cdktf floor: import, App, one empty stack, synth", _case_empty),
        Case("default", "crm_ports.app, default labs (4 stacks)", _case_default),
        Case("bindings", "same 4 stacks on prebuilt aws/azurerm bindings", _case_bindings),
        Case("labs-1", "1 generated AWS split-roles lab", _case_labs(1)),
        Case("labs-10", "10 generated AWS split-roles labs", _case_labs(10)),
        Case("labs-100", "100 generated AWS split-roles labs", _case_labs(100)),
        Case("labs-1000", "1000 generated AWS split-roles labs", _case_labs(1000), max_runs=1),
        Case(
            "default-to-terraform",
            "experiment: default app via stack.to_terraform(), no prepareStack pass",
            _case_to_terraform,
            experiment=True,
        ),
        Case(
            "default-content-floor",
            "experiment: default stacks' own JSON, one cdktf element per stack",
            _case_content_floor,
            experiment=True,
        ),
    )
}


def _descendants(root: int) -> set[int]:
    """Every live process below `root`. jsii runs two Node processes: `jsii-runtime.js`,
    which only relays stdio, and the kernel (`program.js`) it spawns, which holds the
    objects; both count."""
    found: set[int] = set()
    level = {root}
    while level:
        level = _children_of(level) - found
        found |= level
    return found


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_child(name: str, outdir: Path) -> dict[str, Any]:
    """One case, in this (fresh) process; returns the child's half of the measurements."""
    start = time.perf_counter()
    from benchmarks.jsii_calls import count_jsii_calls

    times: dict[str, float] = {}
    calls_at: dict[str, dict[str, int]] = {}
    with count_jsii_calls() as calls:

        def mark(phase: str) -> None:
            times[phase] = time.perf_counter()
            calls_at[phase] = dict(calls.by_kind)

        CASES[name].run(outdir, mark)
        mark("synth")
    phases: dict[str, float] = {}
    per_phase_calls: dict[str, int] = {}
    previous_t, previous_calls = start, 0
    for phase in PHASES:
        phases[phase] = round(times[phase] - previous_t, 4)
        total = sum(calls_at[phase].values())
        per_phase_calls[phase] = total - previous_calls
        previous_t, previous_calls = times[phase], total
    # Read before exit: Node's high-water marks vanish with the processes.
    node = sorted(_descendants(os.getpid()))
    return {
        "phases_s": phases,
        "jsii": {**calls.as_dict(), "by_phase": per_phase_calls},
        "python_hwm_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "node_hwm_kb": sum(_status_kb(pid, "VmHWM") for pid in node),
        "node_processes": len(node),
    }


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------


def _children_of(pids: set[int]) -> set[int]:
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name (2nd field) may contain spaces; fields resume after ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid in pids:
            found.add(int(entry))
    return found


class TreeSampler(threading.Thread):
    """Largest summed VmRSS of a process and its descendants, sampled every 10 ms.

    Looking for new descendants scans /proc, so it runs every sample only until the
    first child appears, then every half second."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peak_kb = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        tree = {self.root}
        tick = 0
        while not self._stop_event.is_set():
            if len(tree) == 1 or tick % _RESCAN_TICKS == 0:
                tree |= _descendants(self.root)
            self.peak_kb = max(self.peak_kb, sum(_status_kb(pid, "VmRSS") for pid in tree))
            tick += 1
            self._stop_event.wait(_SAMPLE_S)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _started_sampler(pid: int) -> TreeSampler:
    sampler = TreeSampler(pid)
    sampler.start()
    return sampler


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # A user's interpreter caches compiled modules (.pyc); a CI or sandbox setting that
    # turns that off would add compiling crm_ports to every measured run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    return env


def app_flags() -> list[str]:
    """The interpreter flags of `cdktf.json`'s app (`-O`: no jsii argument type checks),
    which every synthesis case runs with, the empty floor included, so the cases compare
    what `cdktf synth` runs."""
    words = shlex.split(json.loads((REPO / "cdktf.json").read_text(encoding="utf-8"))["app"])
    return words[1 : words.index("-m")]


def measure(name: str, outdir: Path) -> dict[str, Any]:
    """Run one case in a child process; wall time, memory, and the child's own report."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        command = [sys.executable, *app_flags(), __file__, "--child", name, "--out", str(outdir)]
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, env=_child_env(), cwd=REPO)
        sampler = TreeSampler(child.pid)
        sampler.start()
        watchdog = threading.Timer(_CHILD_TIMEOUT_S, child.kill)
        watchdog.start()
        # wait4 rather than Popen.wait: it returns this child's own rusage.
        _pid, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        watchdog.cancel()
        sampler.stop()
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        raise RuntimeError(f"case {name} failed (exit {child.returncode}):\n{stderr}")
    report: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    report.update(
        wall_s=round(wall, 4),
        hwm_sum_kb=report["python_hwm_kb"] + report["node_hwm_kb"],
        sampled_tree_peak_kb=sampler.peak_kb,
        largest_process_kb=usage.ru_maxrss,
        # CPU of the child and the Node processes it reaped: less sensitive than wall
        # time to other load on the machine.
        cpu_s=round(usage.ru_utime + usage.ru_stime, 4),
        # Interpreter start before the child's first measurement, and exit (jsii stops
        # Node) after its last: what the phases do not cover.
        start_exit_s=round(wall - sum(report["phases_s"].values()), 4),
    )
    return report


def _mb(kb: float) -> float:
    return round(kb / 1024, 1)


def _stack_dirs(outdir: Path) -> list[Path]:
    return sorted(p for p in (outdir / "stacks").iterdir() if (p / "cdk.tf.json").is_file())


def _configuration(stack_dir: Path) -> Any:
    """cdk.tf.json without cdktf metadata and without required_providers (the bindings
    pin the release they were generated from; we require a range)."""
    from tests.test_azure_equivalence import strip_metadata

    data = strip_metadata(json.loads((stack_dir / "cdk.tf.json").read_text()))
    data.get("terraform", {}).pop("required_providers", None)
    return data


def _resource_count(outdir: Path) -> int:
    total = 0
    for stack in _stack_dirs(outdir):
        resources = json.loads((stack / "cdk.tf.json").read_text()).get("resource", {})
        total += sum(len(by_name) for by_name in resources.values())
    return total


def _files(outdir: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(outdir)): p.read_bytes() for p in sorted(outdir.rglob("*")) if p.is_file()
    }


def _compare_configurations(ours_dir: Path, theirs_dir: Path) -> dict[str, Any]:
    ours = {p.name: _configuration(p) for p in _stack_dirs(ours_dir)}
    theirs = {p.name: _configuration(p) for p in _stack_dirs(theirs_dir)}
    return {
        "same_configuration_as_default": ours == theirs,
        "stacks_differing": sorted(
            n for n in ours.keys() | theirs.keys() if ours.get(n) != theirs.get(n)
        ),
    }


def check_outputs(outdirs: Mapping[str, Path]) -> dict[str, dict[str, Any]]:
    """Guard the comparison: the bindings and the content floor must synthesize the same
    configuration as our app, and `default-to-terraform` must write byte-identical files."""
    checks: dict[str, dict[str, Any]] = {}
    default = outdirs.get("default")
    for other in ("bindings", "default-content-floor"):
        if default is not None and other in outdirs:
            checks[other] = _compare_configurations(default, outdirs[other])
    for experiment in ("default-to-terraform",):
        if default is None or experiment not in outdirs:
            continue
        ours_files, theirs_files = _files(default), _files(outdirs[experiment])
        checks[experiment] = {
            "byte_identical_to_default": ours_files == theirs_files,
            "files_differing": sorted(
                f
                for f in ours_files.keys() | theirs_files.keys()
                if ours_files.get(f) != theirs_files.get(f)
            ),
        }
    return checks


def _versions() -> dict[str, str | None]:
    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    try:
        node = subprocess.run(
            ["node", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        node = None
    return {
        "python": platform.python_version(),
        "node": node,
        **{
            p: version(p)
            for p in (
                "cdktf",
                "constructs",
                "jsii",
                "cdktf-cdktf-provider-aws",
                "cdktf-cdktf-provider-azurerm",
            )
        },
    }


def _spread(values: Sequence[float]) -> dict[str, Any]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
        "runs": [round(v, 3) for v in values],
    }


def summarize(name: str, runs: list[dict[str, Any]], resources: int, stacks: int) -> dict[str, Any]:
    from crm_ports.synth import shards

    first = runs[0]
    totals = {r["jsii"]["total"] for r in runs}
    return {
        "name": name,
        "description": CASES[name].description,
        "experiment": CASES[name].experiment,
        "stacks": stacks,
        "resources": resources,
        # processes that synthesized (crm_ports.synth.shards), on this machine
        "jobs": 1 if name in ("empty", "bindings") else shards.job_count(stacks),
        "wall_s": _spread([r["wall_s"] for r in runs]),
        "cpu_s": _spread([r["cpu_s"] for r in runs]),
        "phases_s": {
            phase: round(statistics.median(r["phases_s"][phase] for r in runs), 3)
            for phase in PHASES
        }
        | {"start_exit": round(statistics.median(r["start_exit_s"] for r in runs), 3)},
        # Memory: the largest of the runs (a peak, not a typical value).
        "peak_rss_mb": {
            "python_hwm": _mb(max(r["python_hwm_kb"] for r in runs)),
            "node_hwm": _mb(max(r["node_hwm_kb"] for r in runs)),
            "node_processes": max(r["node_processes"] for r in runs),
            "hwm_sum": _mb(max(r["hwm_sum_kb"] for r in runs)),
            "sampled_tree": _mb(max(r["sampled_tree_peak_kb"] for r in runs)),
            "largest_process": _mb(max(r["largest_process_kb"] for r in runs)),
        },
        "jsii": {
            "total": first["jsii"]["total"],
            "by_kind": first["jsii"]["by_kind"],
            "by_phase": first["jsii"]["by_phase"],
            "deterministic": len(totals) == 1,
        },
    }


def _target(text: str, value: float, limit: float, met: bool) -> dict[str, Any]:
    return {"target": text, "value": round(value, 2), "limit": limit, "met": met}


def targets(cases: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets, for the cases that ran."""
    out: list[dict[str, Any]] = []
    if "default" in cases and "empty" in cases:
        ratio = cases["default"]["wall_s"]["median"] / cases["empty"]["wall_s"]["median"]
        text = f"default app within {TARGET_FLOOR_RATIO}x of the empty-app floor (median wall)"
        out.append(_target(text, ratio, TARGET_FLOOR_RATIO, ratio <= TARGET_FLOOR_RATIO))
    if "default" in cases:
        peak = cases["default"]["peak_rss_mb"]["hwm_sum"]
        text = "default synth peak RSS, Python + Node (sum of high-water marks), MB"
        out.append(_target(text, peak, TARGET_PEAK_MB, peak < TARGET_PEAK_MB))
    if "labs-100" in cases:
        wall = cases["labs-100"]["wall_s"]["median"]
        text = "100 lab stacks, median wall, s"
        out.append(_target(text, wall, TARGET_100_LABS_S, wall < TARGET_100_LABS_S))
    return out


def markdown(cases: Sequence[dict[str, Any]], goals: Sequence[dict[str, Any]], runs: int) -> str:
    floor = next((c["wall_s"]["median"] for c in cases if c["name"] == "empty"), None)
    lines = [
        f"| case | stacks | resources | wall s, median of {runs} (min-max) | x floor | cpu s "
        "| start+exit / import / plan / build / synth s | peak RSS MB: Python + Node = sum | "
        "sampled tree MB | jsii round trips (callbacks) |",
        "|---|---:|---:|---:|---:|---:|---|---|---:|---:|",
    ]
    for c in cases:
        wall = c["wall_s"]
        ratio = f"{wall['median'] / floor:.2f}" if floor else "-"
        phases = " / ".join(f"{c['phases_s'][p]:.2f}" for p in ("start_exit", *PHASES))
        rss = c["peak_rss_mb"]
        name = f"{c['name']} *" if c["experiment"] else c["name"]
        lines.append(
            f"| {name} | {c['stacks']} | {c['resources']} | {wall['median']:.2f} "
            f"({wall['min']:.2f}-{wall['max']:.2f}) | {ratio} | {c['cpu_s']['median']:.2f} "
            f"| {phases} | "
            f"{rss['python_hwm']:.0f} + {rss['node_hwm']:.0f} = {rss['hwm_sum']:.0f} | "
            f"{rss['sampled_tree']:.0f} | {c['jsii']['total']} "
            f"({c['jsii']['by_kind'].get('callback', 0)}) |"
        )
    if any(c["experiment"] for c in cases):
        lines.append("\n\\* experiment, not a supported synthesis path")
    if goals:
        lines += ["", "| target | value | limit | met |", "|---|---:|---:|---|"]
        for goal in goals:
            met = "yes" if goal["met"] else "**no**"
            lines.append(f"| {goal['target']} | {goal['value']} | {goal['limit']} | {met} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Commands: the real `crm-ports` processes, next to `python -c pass`
# --------------------------------------------------------------------------

LAB_A = "labs/contoso-claims.yaml"
LAB_B = "labs/fabrikam-full-server.yaml"
# name -> (arguments after `crm-ports`, or None for `python -c pass`; environment changes)
COMMANDS: dict[str, tuple[list[str] | None, dict[str, str]]] = {
    "python -c pass": (None, {}),
    "crm-ports rules": (["rules"], {}),
    "crm-ports ports": (["ports"], {}),
    "crm-ports matrix": (["matrix"], {}),
    "crm-ports check": (["check"], {}),
    f"crm-ports diff --base {LAB_A} --head {LAB_B}": (
        ["diff", "--base", LAB_A, "--head", LAB_B],
        {},
    ),
    "crm-ports rules, parse cache off": (["rules"], {"CRM_PORTS_CACHE": "off"}),
    "crm-ports synth (default labs)": (["synth", "--out", "{out}"], {}),
}
SIMPLE = [n for n in COMMANDS if n.startswith("crm-ports") and "synth" not in n and "off" not in n]
SYNTH_COMMAND = "crm-ports synth (default labs)"
TARGET_SIMPLE_S = 0.15


def _command_line(name: str, outdir: Path) -> list[str]:
    arguments, _env = COMMANDS[name]
    if arguments is None:
        return [sys.executable, "-c", "pass"]
    script = Path(sys.executable).with_name("crm-ports")
    prefix = [str(script)] if script.is_file() else [sys.executable, "-m", "crm_ports"]
    return prefix + [a.replace("{out}", str(outdir / "cdktf.out")) for a in arguments]


def measure_command(name: str, outdir: Path, cache: Path) -> dict[str, Any]:
    """One command as a user runs it: wall from spawn to reaping, its CPU, and its memory
    (largest process from `os.wait4`; the sampled tree adds Node's for synth)."""
    env = _child_env() | {"CRM_PORTS_CACHE_DIR": str(cache)} | COMMANDS[name][1]
    start = time.perf_counter()
    child = subprocess.Popen(
        _command_line(name, outdir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    sampler = TreeSampler(child.pid)
    sampler.start()
    _pid, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    sampler.stop()
    stderr = child.stderr.read().decode() if child.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):  # diff and check answer 1 for "changes" / "findings"
        raise RuntimeError(f"{name} failed (exit {code}):\n{stderr}")
    return {
        "wall_s": round(wall, 4),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 4),
        "largest_process_kb": usage.ru_maxrss,
        "sampled_tree_peak_kb": sampler.peak_kb,
        "exit": code,
    }


def summarize_command(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": name,
        "wall_s": _spread([r["wall_s"] for r in runs]),
        "cpu_s": _spread([r["cpu_s"] for r in runs]),
        "peak_rss_mb": {
            "largest_process": _mb(max(r["largest_process_kb"] for r in runs)),
            "sampled_tree": _mb(max(r["sampled_tree_peak_kb"] for r in runs)),
        },
        "exit": runs[0]["exit"],
    }


def command_targets(
    commands: Mapping[str, dict[str, Any]], cases: Mapping[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name in SIMPLE:
        if name in commands:
            wall = commands[name]["wall_s"]["median"]
            text = f"`{name}` median wall, s"
            out.append(_target(text, wall, TARGET_SIMPLE_S, wall < TARGET_SIMPLE_S))
    if SYNTH_COMMAND in commands and "empty" in cases:
        ratio = commands[SYNTH_COMMAND]["wall_s"]["median"] / cases["empty"]["wall_s"]["median"]
        text = "`crm-ports synth` (default labs) within 1.3x of the empty-app floor (median wall)"
        out.append(_target(text, ratio, TARGET_FLOOR_RATIO, ratio <= TARGET_FLOOR_RATIO))
    return out


def commands_markdown(commands: Sequence[dict[str, Any]], runs: int) -> str:
    floor = next((c["wall_s"]["median"] for c in commands if c["name"] == "python -c pass"), None)
    lines = [
        f"| command | wall s, median of {runs} (min-max) | minus `python -c pass` | cpu s "
        "| peak RSS MB (largest process / sampled tree) |",
        "|---|---:|---:|---:|---|",
    ]
    for c in commands:
        wall = c["wall_s"]
        extra = f"{wall['median'] - floor:.3f}" if floor is not None else "-"
        rss = c["peak_rss_mb"]
        lines.append(
            f"| `{c['name']}` | {wall['median']:.3f} ({wall['min']:.3f}-{wall['max']:.3f}) "
            f"| {extra} | {c['cpu_s']['median']:.3f} "
            f"| {rss['largest_process']:.0f} / {rss['sampled_tree']:.0f} |"
        )
    return "\n".join(lines)


def _rounds(names: Sequence[str], runs: int) -> Iterator[tuple[int, str]]:
    """Round-robin over the cases, so a slow drift of the machine spreads over all."""
    for index in range(runs):
        for name in names:
            yield index, name


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="one run per case (--runs 1)")
    parser.add_argument("--runs", type=int, default=None, help="runs per case (default 3)")
    parser.add_argument(
        "--case", action="append", choices=sorted(CASES), help="only these cases (repeatable)"
    )
    parser.add_argument(
        "--command",
        action="append",
        choices=sorted(COMMANDS),
        help="only these commands (repeatable; default all)",
    )
    parser.add_argument("--no-commands", action="store_true", help="measure no commands")
    parser.add_argument(
        "--first-run",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="time `make synth` in a fresh copy of the repository (default: in full runs)",
    )
    parser.add_argument(
        "--markdown",
        nargs="?",
        type=Path,
        const=RESULTS,
        default=None,
        metavar="RESULTS",
        help="only print the tables of docs/speed.md from a results file (default: results.json)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="results JSON file")
    parser.add_argument("--child", choices=sorted(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(run_child(args.child, args.out)))
        return 0
    if args.markdown is not None:
        from benchmarks.report import readme_tables

        print(readme_tables(json.loads(args.markdown.read_text(encoding="utf-8"))), end="")
        return 0

    runs = args.runs if args.runs is not None else (1 if args.quick else 3)
    if runs < 1:
        parser.error("--runs must be at least 1")
    names = [n for n in CASES if not args.case or n in args.case]
    if args.case and not args.command:
        args.no_commands = True  # `--case X` alone measures just that case
    command_names = (
        [] if args.no_commands else [n for n in COMMANDS if not args.command or n in args.command]
    )
    first_run = args.first_run if args.first_run is not None else not (args.case or args.command)
    machine = {"load_average": round(os.getloadavg()[0], 1), "cpus": os.cpu_count()}
    results: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    command_runs: dict[str, list[dict[str, Any]]] = {n: [] for n in command_names}
    first_out: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="crm-ports-bench-") as tmp:
        cache = Path(tmp) / "parse-cache"
        for name in command_names:  # unmeasured: fills the parse cache, as any earlier run
            measure_command(name, Path(tmp) / "warm", cache)
        if "default-content-floor" in names:  # unmeasured: the configuration it hands over
            reference = Path(tmp) / "reference"
            reference.mkdir()
            measure("default", reference)
            os.environ[REFERENCE_ENV] = str(reference)
        for index, name in _rounds(names, runs):
            if CASES[name].max_runs is not None and index >= CASES[name].max_runs:
                continue
            outdir = Path(tmp) / f"{name}-{index}"
            outdir.mkdir()
            print(f"run {index + 1}/{runs}: {name} ...", file=sys.stderr, flush=True)
            report = measure(name, outdir)
            results[name].append(report)
            print(
                f"  {report['wall_s']:.2f} s, {_mb(report['hwm_sum_kb']):.0f} MB, "
                f"{report['jsii']['total']} round trips",
                file=sys.stderr,
                flush=True,
            )
            if index == 0:
                first_out[name] = outdir
        for index, name in _rounds(command_names, runs):
            outdir = Path(tmp) / f"command-{index}"
            outdir.mkdir(exist_ok=True)
            report = measure_command(name, outdir, cache)
            command_runs[name].append(report)
            print(f"run {index + 1}/{runs}: {name}: {report['wall_s']:.3f} s", file=sys.stderr)
        first_run_report = None
        if first_run:
            from benchmarks.first_run import measure_first_run

            print("first run: make synth in a fresh copy ...", file=sys.stderr, flush=True)
            first_run_report = measure_first_run(REPO, _started_sampler, _child_env())
            print(f"  {first_run_report['wall_s']:.1f} s", file=sys.stderr, flush=True)
        checks = check_outputs(first_out)
        cases = [
            summarize(n, results[n], _resource_count(first_out[n]), len(_stack_dirs(first_out[n])))
            for n in names
        ]
    commands = [summarize_command(n, command_runs[n]) for n in command_names]
    for case in cases:
        case["checks"] = checks.get(case["name"], {})
    by_name = {c["name"]: c for c in cases}
    goals = targets(by_name) + command_targets({c["name"]: c for c in commands}, by_name)
    document = {
        "benchmark": "benchmarks/synth_bench.py",
        "runs_per_case": runs,
        "memory_method": (
            "hwm_sum = child's getrusage(RUSAGE_SELF).ru_maxrss + jsii Node VmHWM (upper bound "
            "of the tree's simultaneous peak); sampled_tree = max summed VmRSS of the child's "
            "process tree every 10 ms (lower bound); largest_process = os.wait4 ru_maxrss"
        ),
        "versions": _versions(),
        "machine": machine,
        "first_run": first_run_report,
        "cases": cases,
        "commands": commands,
        "parse_cache": "warm: each command ran once, unmeasured, before the measured runs",
        "targets": goals,
    }
    args.output.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(markdown(cases, goals, runs))
    if commands:
        print("\n" + commands_markdown(commands, runs))
    from benchmarks.report import readme_tables

    print("\nFor docs/speed.md (also `synth_bench.py --markdown`):\n\n" + readme_tables(document))
    for name, check in checks.items():
        print(f"\ncheck {name}: {json.dumps(check, sort_keys=True)}")
    failed = [n for n, c in checks.items() if not all(v for v in c.values() if isinstance(v, bool))]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
