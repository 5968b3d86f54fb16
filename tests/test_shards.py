"""`crm_ports.shards`: how many processes, which stacks each gets, and a worker that fails
failing the whole synthesis with its own error. That several processes write the same
bytes as one is `tests/test_synth.py::test_several_processes_write_the_same_output`."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from crm_ports import shards
from crm_ports.app import plan_stacks, synth_app
from crm_ports.errors import InputError
from crm_ports.lab import default_labs
from tests.conftest import REPO


@pytest.mark.parametrize(
    ("stacks", "cores", "expected"),
    [
        (4, 2, 1),  # the default labs: a worker's Node start would cost more than it saves
        (15, 2, 1),
        (16, 2, 2),
        (100, 2, 2),
        (100, 1, 1),
        (1000, 64, shards.MAX_AUTO_JOBS),
    ],
)
def test_one_process_per_core_for_enough_stacks(
    monkeypatch: pytest.MonkeyPatch, stacks: int, cores: int, expected: int
) -> None:
    monkeypatch.delenv(shards.JOBS_ENV, raising=False)
    monkeypatch.setattr(shards.os, "sched_getaffinity", lambda _pid: set(range(cores)))
    assert shards.job_count(stacks) == expected


def test_asked_jobs_win_but_never_exceed_the_stacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(shards.JOBS_ENV, "3")
    assert shards.job_count(100) == 3
    assert shards.job_count(2) == 2
    assert shards.job_count(100, asked=5) == 5  # the command line over the environment


@pytest.mark.parametrize("text", ["0", "-1", "two", "1.5"])
def test_bad_jobs_variable_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv(shards.JOBS_ENV, text)
    with pytest.raises(InputError) as caught:
        shards.job_count(100)
    assert str(caught.value).startswith(f"{shards.JOBS_ENV}: '{text}' is not a whole number")


@pytest.mark.parametrize(("count", "jobs"), [(10, 3), (4, 4), (7, 2), (100, 8)])
def test_shares_are_contiguous_and_even(count: int, jobs: int) -> None:
    items = list(range(count))
    shares = shards.split(items, jobs)  # type: ignore[arg-type]
    assert [x for share in shares for x in share] == items
    assert max(map(len, shares)) - min(map(len, shares)) <= 1
    assert len(shares) == jobs


def test_stable_stringify_matches_cdktf_layout() -> None:
    value = {"stacks": {"b": {"annotations": [], "n": 1}, "a": {}}, "version": "0.21.0"}
    assert shards.stable_stringify(value) == (
        '{\n  "stacks": {\n    "a": {\n    },\n    "b": {\n      "annotations": [\n'
        '      ],\n      "n": 1\n    }\n  },\n  "version": "0.21.0"\n}'
    )
    assert json.loads(shards.stable_stringify(value)) == value


@pytest.mark.slow
def test_a_failing_worker_fails_the_synthesis_with_its_error(tmp_path: Path) -> None:
    stacks = plan_stacks(list(default_labs()))[:1]
    scratch = tmp_path / "scratch"
    (scratch / "shard-1").mkdir(parents=True)  # the worker refuses to write into it
    workers = shards.start([stacks], scratch)
    out = tmp_path / "out"
    out.mkdir()
    (out / shards.MANIFEST).write_text('{"stacks": {}, "version": "0.21.0"}', encoding="utf-8")
    with pytest.raises(RuntimeError) as caught:
        shards.collect(workers, out)
    message = str(caught.value)
    assert f"synthesizing {stacks[0].name} failed (exit 1)" in message
    assert "FileExistsError" in message
    assert not (out / "stacks").exists()


def test_the_cdktf_app_refuses_a_bad_jobs_variable(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-O", "-m", "crm_ports.app"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO), shards.JOBS_ENV: "many", "CDKTF_OUTDIR": "o"},
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"crm-ports: error: {shards.JOBS_ENV}: 'many' is not a whole number of processes >= 1"
    ]
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_the_cdktf_app_shares_stacks_among_processes(tmp_path: Path) -> None:
    """`cdktf.json`'s own command, on two processes: it runs `crm_ports.app` as `__main__`,
    and the stacks its workers receive must still unpickle there."""
    command = shlex.split(json.loads((REPO / "cdktf.json").read_text(encoding="utf-8"))["app"])
    command[0] = sys.executable  # `.venv/bin/python`, relative to the project
    runs = {}
    for jobs in ("1", "2"):
        outdir = tmp_path / f"jobs-{jobs}"
        result = subprocess.run(
            command,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, shards.JOBS_ENV: jobs, "CDKTF_OUTDIR": str(outdir)},
        )
        assert result.returncode == 0, result.stderr
        runs[jobs] = _tree(outdir)
    assert runs["2"] == runs["1"]


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.slow
@pytest.mark.flavoured
def test_shares_write_what_one_process_writes_on_this_flavour(tmp_path: Path) -> None:
    """On cdktf and, in the CRM_PORTS_CDK=cdktn pass, on cdktn, whose manifest writer
    differs (`[]` on one line): the merged manifest must be the flavour's own bytes."""
    stacks = plan_stacks(list(default_labs()))
    for name in ("one", "two"):
        (tmp_path / name).mkdir()  # synth_app writes into a folder its caller made
    synth_app(stacks, tmp_path / "one", jobs=1)
    lines: list[str] = []
    synth_app(stacks, tmp_path / "two", progress=lines.append, jobs=2)
    assert "2 of 4 stacks go to 1 more process(es)" in lines
    assert _tree(tmp_path / "two") == _tree(tmp_path / "one")
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["manifest.json", "stacks"]
