"""The speed block of docs/speed.md is computed from a results document, never typed: the slopes
of the scaling table and the ratios come out of the figures."""

from __future__ import annotations

from typing import Any

from benchmarks.report import readme_tables, scaling_table


def _case(name: str, stacks: int, wall: float, cpu: float, mem: float) -> dict[str, Any]:
    spread = {"median": wall, "min": wall, "max": wall}
    return {
        "name": name,
        "stacks": stacks,
        "resources": 109 * stacks,
        "wall_s": spread,
        "cpu_s": {"median": cpu, "min": cpu, "max": cpu},
        "phases_s": dict.fromkeys(("start_exit", "import", "plan", "build", "synth"), 0.0),
        "peak_rss_mb": {"python_hwm": mem / 4, "node_hwm": mem * 3 / 4, "hwm_sum": mem},
        "jsii": {"total": 76 * stacks + 4, "by_kind": {"callback": 24 * stacks}},
    }


DOCUMENT: dict[str, Any] = {
    "benchmark": "benchmarks/synth_bench.py",
    "runs_per_case": 3,
    "machine": {"load_average": 0.5, "cpus": 2},
    "cases": [
        _case("empty", 1, 1.0, 1.2, 150.0),
        _case("labs-1", 1, 1.5, 1.6, 170.0),
        _case("labs-10", 10, 2.4, 2.5, 176.0),
    ],
    "commands": [],
    "targets": [],
    "first_run": None,
}


def test_scaling_slope_is_the_cost_of_each_added_lab() -> None:
    rows = scaling_table(DOCUMENT)
    assert rows[2].startswith("| 1 | 1 | 109 | 1.50 | 1.60 | 170 | 80 | - |")
    # from 1 to 10 labs: 0.9 s, 0.9 s CPU and 6 MB more over 9 labs
    assert rows[3] == "| 10 | 1 | 1090 | 2.40 | 2.50 | 176 | 764 | 100 / 100 / 0.67 |"


def test_with_workers_memory_is_the_sampled_tree_and_round_trips_the_first_process() -> None:
    sharded = _case("labs-100", 100, 7.5, 13.0, 260.0) | {"jobs": 2}
    sharded["peak_rss_mb"] = sharded["peak_rss_mb"] | {"sampled_tree": 420.0}
    rows = scaling_table(DOCUMENT | {"cases": [*DOCUMENT["cases"], sharded]})
    # the workers' high-water marks are gone when the case reports: the sampled peak
    # counts them; 90 labs added cost (420 - 176) / 90 MB each
    assert rows[4] == (
        "| 100 | 2 | 10900 | 7.50 | 13.00 | 420 (sampled) | 7604 (first process) "
        "| 57 / 117 / 2.71 |"
    )


def test_ratios_are_against_the_empty_app_of_the_same_run() -> None:
    text = readme_tables(DOCUMENT)
    assert "load average at the start: 0.5, 2 CPUs" in text
    assert "| empty cdktf app (the floor) | 1 | 109 | 1.00 (1.00-1.00) | 1.00 |" in text
    assert "Commands" not in text and "First run" not in text  # not measured, not shown


def test_wall_time_targets_are_not_judged_on_a_loaded_machine() -> None:
    goals = [
        {"target": "x median wall, s", "value": 0.1, "limit": 0.15, "met": True},
        {"target": "peak RSS, MB", "value": 170, "limit": 300, "met": True},
    ]
    quiet = readme_tables(DOCUMENT | {"targets": goals})
    busy = readme_tables(DOCUMENT | {"targets": goals, "machine": {"load_average": 7.8, "cpus": 2}})
    assert "| x median wall, s | 0.1 | 0.15 | yes |" in quiet
    assert "| x median wall, s | 0.1 | 0.15 | not judged: loaded machine |" in busy
    assert "| peak RSS, MB | 170 | 300 | yes |" in busy
