"""The speed tables of docs/speed.md, printed from `benchmarks/results.json` alone.

`synth_bench.py --markdown` prints them; docs/speed.md holds the same text between
`<!-- bench:begin -->` and `<!-- bench:end -->` (pasted by `python -m tests.readme`), and
`tests/test_readme.py` checks that the two agree, so the page's figures are always one
benchmark run's, never hand-edited.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

SCALING = ("labs-1", "labs-10", "labs-100", "labs-1000")
CASE_TITLES = {
    "empty": "empty cdktf app (the floor)",
    "default": "default app (4 stacks, in-process phases)",
    "bindings": "default app on the prebuilt provider bindings",
    "default-to-terraform": "experiment: default app via `stack.to_terraform()`",
    "default-content-floor": "experiment: the default stacks' JSON, one element per stack",
}


def _cases(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in document.get("cases", [])}


def _range(spread: Mapping[str, float], digits: int) -> str:
    return f"{spread['median']:.{digits}f} ({spread['min']:.{digits}f}-{spread['max']:.{digits}f})"


def synthesis_table(document: Mapping[str, Any]) -> list[str]:
    cases = _cases(document)
    floor = cases.get("empty", {}).get("wall_s", {}).get("median")
    commands = {c["name"]: c for c in document.get("commands", [])}
    lines = [
        "| case | stacks | resources | wall s, median (min-max) | x empty app | cpu s "
        "| start+exit / import / plan / build / synth s | peak RSS MB, Python + Node "
        "| jsii round trips (callbacks) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for name, title in CASE_TITLES.items():
        case = cases.get(name)
        if case is None:
            continue
        wall = case["wall_s"]
        ratio = f"{wall['median'] / floor:.2f}" if floor else "-"
        phases = " / ".join(
            f"{case['phases_s'][p]:.2f}" for p in ("start_exit", "import", "plan", "build", "synth")
        )
        rss = case["peak_rss_mb"]
        jsii = case["jsii"]
        lines.append(
            f"| {title} | {case['stacks']} | {case['resources']} | {_range(wall, 2)} | {ratio} "
            f"| {case['cpu_s']['median']:.2f} | {phases} "
            f"| {rss['python_hwm']:.0f} + {rss['node_hwm']:.0f} = {rss['hwm_sum']:.0f} "
            f"| {jsii['total']} ({jsii['by_kind'].get('callback', 0)}) |"
        )
    synth = next((c for n, c in commands.items() if n.startswith("crm-ports synth")), None)
    if synth is not None:
        wall = synth["wall_s"]
        ratio = f"{wall['median'] / floor:.2f}" if floor else "-"
        stacks = cases.get("default", {}).get("stacks", "-")  # it builds the default labs
        lines.append(
            f"| `crm-ports synth`, the command | {stacks} | - | {_range(wall, 2)} | {ratio} "
            f"| {synth['cpu_s']['median']:.2f} | - "
            f"| {synth['peak_rss_mb']['sampled_tree']:.0f} (sampled tree) | - |"
        )
    return lines


def commands_table(document: Mapping[str, Any]) -> list[str]:
    commands = [c for c in document.get("commands", []) if "synth" not in c["name"]]
    if not commands:
        return []
    floor = next((c["wall_s"]["median"] for c in commands if c["name"] == "python -c pass"), 0)
    lines = [
        "| command | wall s, median (min-max) | minus `python -c pass` | cpu s | peak RSS MB |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for c in commands:
        wall = c["wall_s"]
        lines.append(
            f"| `{c['name']}` | {_range(wall, 3)} | {wall['median'] - floor:.3f} "
            f"| {c['cpu_s']['median']:.3f} | {c['peak_rss_mb']['largest_process']:.0f} |"
        )
    return lines


def scaling_table(document: Mapping[str, Any]) -> list[str]:
    """Time and memory at 1, 10, 100 and 1000 labs, and what each added lab cost from the
    row before (the slope: constant when growth is linear)."""
    cases = _cases(document)
    rows = [cases[n] for n in SCALING if n in cases]
    if not rows:
        return []
    lines = [
        "| labs | processes | resources | wall s | cpu s | peak RSS MB, all processes "
        "| jsii round trips | per added lab: wall ms / cpu ms / MB |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    previous: dict[str, Any] | None = None
    for case in rows:
        labs = case["stacks"]
        wall, cpu = case["wall_s"]["median"], case["cpu_s"]["median"]
        mem = peak_mb(case)
        slope = "-"
        if previous is not None and labs > previous["stacks"]:
            added = labs - previous["stacks"]
            slope = (
                f"{(wall - previous['wall_s']['median']) / added * 1000:.0f} / "
                f"{(cpu - previous['cpu_s']['median']) / added * 1000:.0f} / "
                f"{(mem - peak_mb(previous)) / added:.2f}"
            )
        jobs = case.get("jobs", 1)
        lines.append(
            f"| {labs} | {jobs} | {case['resources']} | {wall:.2f} | {cpu:.2f} | {mem:.0f}"
            f"{'' if jobs == 1 else ' (sampled)'} | {case['jsii']['total']}"
            f"{'' if jobs == 1 else ' (first process)'} | {slope} |"
        )
        previous = case
    return lines


def peak_mb(case: Mapping[str, Any]) -> float:
    """Python + Node high-water marks for one process; with workers (`crm_ports.synth.shards`),
    whose marks are gone when the case reports, the sampled peak of the process tree."""
    rss = case["peak_rss_mb"]
    return float(rss["hwm_sum"] if case.get("jobs", 1) == 1 else rss["sampled_tree"])


def first_run_lines(document: Mapping[str, Any]) -> list[str]:
    first = document.get("first_run")
    if not first:
        return []
    cache = first["pip_cache"]
    state = {True: "warm", False: "cold", None: "unknown"}[cache["warm"]]
    return [
        f"First run, `{first['command']}`: **{first['wall_s']:.1f} s** wall, "
        f"{first['cpu_s']:.1f} s CPU, peak RSS {first['peak_rss_mb']['sampled_tree']:.0f} MB "
        f"(sampled tree), a {first['venv_mb']} MB `.venv`, {len(first['stacks'])} stacks; "
        f"pip's download cache {state} ({cache['mb']} MB)"
        + ("; packages from a local wheel folder." if cache.get("local_wheels") else "."),
    ]


def loaded(document: Mapping[str, Any]) -> bool:
    """Whether other work shared the machine when the run started (a load average of at
    least half its CPUs): then wall times say more about the others than about us."""
    machine = document.get("machine") or {}
    load, cpus = machine.get("load_average"), machine.get("cpus")
    return load is None or not cpus or load >= cpus / 2


def targets_table(goals: Sequence[Mapping[str, Any]], judge_wall: bool = True) -> list[str]:
    if not goals:
        return []
    lines = ["| target | value | limit | met |", "| --- | ---: | ---: | --- |"]
    for goal in goals:
        met = "yes" if goal["met"] else "**no**"
        if "wall" in goal["target"] and not judge_wall:
            met = "not judged: loaded machine"
        lines.append(f"| {goal['target']} | {goal['value']} | {goal['limit']} | {met} |")
    return lines


def readme_tables(document: Mapping[str, Any]) -> str:
    """Every figure the speed page (docs/speed.md) quotes, from one results document."""
    machine = document.get("machine", {})
    parts = [
        [
            f"Measured in one run of `{document['benchmark']}`, "
            f"{document['runs_per_case']} runs per case (load average at the start: "
            f"{machine.get('load_average', '?')}, {machine.get('cpus', '?')} CPUs)."
        ],
        ["Synthesis:", "", *synthesis_table(document)],
        ["Commands, parse cache warm:", "", *commands_table(document)],
        ["Scaling with the number of AWS lab stacks:", "", *scaling_table(document)],
        first_run_lines(document),
        [
            "Targets"
            + (
                " (wall-time targets are judged only from a run on a quiet machine):"
                if loaded(document)
                else ":"
            ),
            "",
            *targets_table(document.get("targets", []), judge_wall=not loaded(document)),
        ],
    ]
    return "\n\n".join("\n".join(p) for p in parts if p and p[-1]) + "\n"
