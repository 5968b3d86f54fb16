"""`crm_ports.synth.shards`: how many processes, which stacks each gets, and a worker that fails
failing the whole synthesis with its own error. That several processes write the same
bytes as one is `tests/test_synth.py::test_several_processes_write_the_same_output`."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from crm_ports.errors import InputError, SynthesisError
from crm_ports.lab.model import default_labs
from crm_ports.synth import shards
from crm_ports.synth.build import synth_app
from crm_ports.synth.plan import plan_stacks
from crm_ports.synth.worker import HOLD_ENV
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
    own = scratch / "shard-0"
    own.mkdir()
    (own / shards.MANIFEST).write_text('{"stacks": {}, "version": "0.21.0"}', encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(SynthesisError) as caught:
        shards.collect(own, workers, out)
    message = str(caught.value)
    assert message.startswith(f"the worker process synthesizing {stacks[0].name} failed (exit 1)")
    assert message.endswith("shard-1'") and "FileExistsError" in message  # its last word
    assert "\n" not in message
    assert list(out.iterdir()) == []
    assert workers[0].process.stdin is not None and workers[0].process.stdin.closed


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
    command = _cdktf_app()
    runs = {}
    for jobs in ("1", "2"):
        outdir = tmp_path / f"jobs-{jobs}"
        # What `cdktf deploy` left in a worker's stack folder: one App keeps it, so must two.
        working = outdir / "stacks" / "azure-split-roles"
        (working / ".terraform").mkdir(parents=True)
        (working / ".terraform" / "terraform.tfstate").write_text("{}")  # backend settings
        (working / ".terraform.lock.hcl").write_text("# lock")
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
        assert runs[jobs]["stacks/azure-split-roles/.terraform.lock.hcl"] == b"# lock"
        assert sorted(p.name for p in outdir.iterdir()) == ["manifest.json", "stacks"]
    assert runs["2"] == runs["1"]


def _cdktf_app() -> list[str]:
    """`cdktf.json`'s command, with this interpreter for its `.venv/bin/python`."""
    command = shlex.split(json.loads((REPO / "cdktf.json").read_text(encoding="utf-8"))["app"])
    command[0] = sys.executable
    return command


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


# Interrupting a many-stack synthesis, as a user, a CI timeout or cdktf-cli's abort does:
# the default labs on two processes (the worker gets the last two stacks), a signal once
# the worker runs. Afterwards no process of the run is left, no scratch folder, and the
# previous output is as it was.
PREVIOUS = b"previous"
WORKER_STACKS = "aws-split-roles, azure-split-roles"


@pytest.mark.slow
@pytest.mark.parametrize("command", ["synth", "app"])
@pytest.mark.parametrize(
    ("target", "number", "status", "message"),
    [
        ("caller", signal.SIGTERM, 143, "terminated by SIGTERM"),
        ("caller", signal.SIGHUP, 129, "terminated by SIGHUP"),
        ("caller", signal.SIGINT, 130, None),  # Ctrl-C: "aborted" / "interrupted"
        (
            "worker",
            signal.SIGKILL,
            1,
            f"the worker process synthesizing {WORKER_STACKS} was killed by SIGKILL",
        ),
    ],
)
def test_an_interrupted_synthesis_leaves_no_process_and_the_previous_output(
    tmp_path: Path, command: str, target: str, number: int, status: int, message: str | None
) -> None:
    """The signal comes while the worker is held before it synthesizes (`Hold`): the
    synthesis cannot have finished first, however busy the machine."""
    out = tmp_path / ("out" if command == "synth" else "cdktf.out")
    previous = _previous_output(out)
    hold = Hold(tmp_path / "hold")
    run = _start(tmp_path, command, hold=hold)
    try:
        worker = hold.wait_ready(run)
        os.kill(worker if target == "worker" else run.pid, number)
        _, err = run.communicate(timeout=300)
    finally:
        hold.release()
    assert run.returncode == status, err
    last = err.strip().splitlines()[-1]
    if message is None:
        message = "aborted" if command == "synth" else "interrupted"
    assert last == f"crm-ports: error: {message}"
    assert "Traceback" not in err
    assert _survivors(run.pid) == []
    assert _tree(out) == previous
    beside = sorted(p.name for p in tmp_path.iterdir() if p.name != "hold")
    assert beside == [out.name]  # no scratch beside it
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "stacks"]  # nor in it


@pytest.mark.slow
def test_a_worker_exits_with_a_caller_killed_outright(tmp_path: Path) -> None:
    """SIGKILL leaves the caller no time to stop anything: the worker's lifeline (its
    standard input) closes, and it exits at once instead of synthesizing on alone (it is
    held before synthesizing, so only the lifeline can end it)."""
    hold = Hold(tmp_path / "hold")
    run = _start(tmp_path, "synth", hold=hold)
    try:
        hold.wait_ready(run)
        os.kill(run.pid, signal.SIGKILL)
        run.communicate(timeout=60)
        assert _survivors(run.pid) == []
    finally:
        hold.release()


def _previous_output(out: Path) -> dict[str, bytes]:
    """An earlier synthesis, with what Terraform keeps in a stack folder."""
    for stack in ("aws-full-server", "azure-split-roles"):
        (out / "stacks" / stack / ".terraform").mkdir(parents=True)
        (out / "stacks" / stack / "cdk.tf.json").write_bytes(PREVIOUS)
        (out / "stacks" / stack / ".terraform.lock.hcl").write_bytes(PREVIOUS)
    (out / shards.MANIFEST).write_bytes(PREVIOUS)
    return _tree(out)


class Hold:
    """The worker's hold point for tests (`crm_ports.synth.worker.HOLD_ENV`): two FIFOs.
    The worker writes its pid into `ready`, then waits for `release` to close, so a test
    acts while the synthesis is known to be under way, on an event, never on timing."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir()
        self.folder = folder
        os.mkfifo(folder / "ready")
        os.mkfifo(folder / "release")

    def env(self) -> dict[str, str]:
        return {HOLD_ENV: str(self.folder)}

    def wait_ready(self, run: subprocess.Popen[str], timeout: float = 300) -> int:
        """The worker's pid, once it is held; fails if the command ends first."""
        said: list[str] = []

        def read() -> None:
            with (self.folder / "ready").open(encoding="utf-8") as ready:
                said.append(ready.read())

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if not said:
            with contextlib.suppress(OSError):  # let the reader go: open its other end
                os.close(os.open(self.folder / "ready", os.O_WRONLY | os.O_NONBLOCK))
            run.kill()
            _, err = run.communicate(timeout=60)
            pytest.fail(
                f"no worker was held within {timeout:.0f} s (exit {run.returncode}):\n{err}"
            )
        return int(said[0])

    def release(self) -> None:
        """Let a held worker go on (nothing to do if none is waiting any more)."""
        with contextlib.suppress(OSError):  # ENXIO: no reader, the worker is gone
            os.close(os.open(self.folder / "release", os.O_WRONLY | os.O_NONBLOCK))


def _start(
    where: Path, command: str, *labs: str, hold: Hold | None = None
) -> subprocess.Popen[str]:
    """The command in a session of its own (so its processes can be found), on two
    processes; signals go to the caller alone, as `kill PID` sends them."""
    if command == "synth":
        argv = [sys.executable, "-O", "-m", "crm_ports", "synth", "--jobs", "2", "--out", "out"]
        argv += labs
    else:
        argv = _cdktf_app()
    env = {**os.environ, "PYTHONPATH": str(REPO), "CDKTF_OUTDIR": "cdktf.out"}
    env[shards.JOBS_ENV] = "2"
    env.pop("CRM_PORTS_LABS", None)
    env.pop(HOLD_ENV, None)
    if hold is not None:
        env.update(hold.env())
    return subprocess.Popen(
        argv,
        cwd=where,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _survivors(session: int, wait: float = 60) -> list[str]:
    """What still runs in the session once each of its processes has exited, or after
    `wait` seconds at most: each process is watched through a pidfd, which becomes
    readable when it exits (zombies count as gone: only init has yet to reap them). The
    deadline only bounds a failure; a passing run returns as soon as the last one ends."""
    deadline = time.monotonic() + wait
    watched: dict[int, tuple[int, str]] = {}
    try:
        for pid, command in _session(session):
            with contextlib.suppress(ProcessLookupError):
                watched[os.pidfd_open(pid)] = (pid, command)
        while watched and (left := deadline - time.monotonic()) > 0:
            ended, _, _ = select.select(list(watched), [], [], left)
            for fd in ended:
                os.close(fd)
                del watched[fd]
        return [command for _, command in watched.values()]
    finally:
        for fd in watched:
            os.close(fd)


def _session(session: int) -> list[tuple[int, str]]:
    """Live processes of the session: (pid, command line), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[3]) == session and fields[0] != "Z":
            found.append((int(stat.parent.name), command))
    return found


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (
            'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n'
            "FileExistsError: [Errno 17] File exists: 'shard-1'\n",
            "FileExistsError: [Errno 17] File exists: 'shard-1'",
        ),
        (  # jsii: the JavaScript error under the Python one, then Node's stack frames
            "Traceback (most recent call last):\n    app.synth()\n"
            "jsii.errors.JavaScriptError: \n"
            "  @jsii/kernel.RuntimeError: AwsProvider supports JSON synthesis only\n"
            "      at KernelHost.callbackHandler (/tmp/x/lib/program.js:1:233156)\n"
            "      at TerraformProvider.value (/tmp/x/lib/program.js:1:67747)\n",
            "jsii.errors.JavaScriptError: @jsii/kernel.RuntimeError: AwsProvider supports "
            "JSON synthesis only",
        ),
        ("", "no message"),
        ("   \n", "no message"),
    ],
)
def test_a_failed_worker_is_reported_by_its_last_error(stderr: str, expected: str) -> None:
    assert shards.last_error(stderr) == expected


def test_scratch_of_a_process_killed_outright_goes_with_the_next_run(tmp_path: Path) -> None:
    """SIGKILL lets no process remove its scratch: the next run on this host removes the
    folders of processes that are gone, and keeps those of processes still running."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    owner = f".crm-ports-shards-{os.uname().nodename}-"
    stale = tmp_path / f"{owner}{gone.pid}-abc"
    running = tmp_path / f"{owner}{os.getppid()}-def"
    other = tmp_path / ".crm-ports-shards-another-host-1-ghi"  # not ours to judge
    for folder in (stale, running, other):
        (folder / "shard-1" / "stacks").mkdir(parents=True)
    (tmp_path / "stacks").mkdir()
    fresh = shards.scratch_folder(tmp_path)
    assert fresh.name.startswith(f"{owner}{os.getpid()}-")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([fresh.name, running.name, other.name, "stacks"])
