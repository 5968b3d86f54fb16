"""Synthesize many lab stacks on several cores.

jsii runs one Node process per Python process and every call waits for the other side, so
one process synthesizes on about one core however many the machine has. Lab stacks never
refer to each other, so a long list of them splits cleanly: the calling process builds the
first share on the Node it has already started, and worker processes (`python -m
crm_ports.synth.worker OUTDIR`, the planned stacks pickled on standard input) build the
others at the same time. Every share is written into a scratch folder of its own; only when all
succeeded are their files moved into the output, stack by stack, keeping what else is in a
stack's folder (Terraform's `.terraform/` and lock file, as one cdktf App keeps them), and
`manifest.json` comes last, merged the way the CDK flavour writes it: the output is byte
for byte what one process would have written, and a failed or interrupted synthesis
leaves the previous manifest and stacks as they were.

A worker's standard input stays open while it runs: it is the worker's lifeline. When the
caller dies, however it dies (SIGKILL included), the worker reads end-of-file and exits at
once, and its Node with it, instead of running on as an orphan.

A worker costs a Node start (about a second) and 150 MB, so one is only worth it for
`STACKS_PER_JOB` stacks or more; the four default stacks stay in one process.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_ports.errors import InputError, SynthesisError

if TYPE_CHECKING:
    from crm_ports.synth.plan import StackPlan

JOBS_ENV = "CRM_PORTS_JOBS"
STACKS_PER_JOB = 8
MAX_AUTO_JOBS = 8
MANIFEST = "manifest.json"


def job_count(stacks: int, asked: int | None = None) -> int:
    """How many processes synthesize `stacks` stacks: `asked` (or CRM_PORTS_JOBS) when
    given, else one per core, as long as each gets STACKS_PER_JOB stacks, at most
    MAX_AUTO_JOBS; never more processes than stacks."""
    if asked is None:
        asked = _jobs_from_environment()
    if asked is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        asked = min(cores, MAX_AUTO_JOBS, stacks // STACKS_PER_JOB)
    return max(1, min(asked, stacks))


def _jobs_from_environment() -> int | None:
    text = os.environ.get(JOBS_ENV, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise InputError(JOBS_ENV, "", "", f"'{text}' is not a whole number of processes >= 1")
    return int(text)


def split(stacks: Sequence[StackPlan], jobs: int) -> list[list[StackPlan]]:
    """`jobs` contiguous shares, sizes differing by one at most (the first ones larger)."""
    size, extra = divmod(len(stacks), jobs)
    shares, start = [], 0
    for index in range(jobs):
        end = start + size + (1 if index < extra else 0)
        shares.append(list(stacks[start:end]))
        start = end
    return shares


@dataclass(frozen=True)
class Worker:
    """One worker process and the folder it writes into."""

    process: subprocess.Popen[bytes]
    outdir: Path
    stacks: list[StackPlan]


def start(shares: Sequence[list[StackPlan]], scratch: Path) -> list[Worker]:
    """Start one worker per share, each writing into a folder of its own under `scratch`."""
    from crm_ports.constructs.cdk import flavour

    env = dict(os.environ, CRM_PORTS_CDK=flavour())
    command = [sys.executable, *_interpreter_flags(), "-m", "crm_ports.synth.worker"]
    workers: list[Worker] = []
    try:
        # Every worker starts its Node first; the stacks follow, read while Node starts.
        for index, share in enumerate(shares):
            outdir = scratch / f"shard-{index + 1}"
            # A file, not a pipe: nobody reads until the caller's own share is done.
            with open(scratch / f"shard-{index + 1}.err", "wb") as errors:
                process = subprocess.Popen(
                    [*command, str(outdir)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=errors,
                    env=env,
                )
            workers.append(Worker(process, outdir, share))
        for worker in workers:
            _send(worker)
    except BaseException:
        stop(workers)
        raise
    return workers


def _send(worker: Worker) -> None:
    """The stacks, pickled; the pipe stays open as the worker's lifeline (`main`)."""
    pipe = worker.process.stdin
    if pipe is None:  # never, with stdin=PIPE
        return
    try:
        pipe.write(pickle.dumps(worker.stacks))
        pipe.flush()
    except BrokenPipeError:
        pass  # the worker died first: `collect` reports its exit status and stderr


def _interpreter_flags() -> list[str]:
    """The caller's `-O`, so workers skip jsii's argument checks as the caller does."""
    return ["-" + "O" * sys.flags.optimize] if sys.flags.optimize else []


def stop(workers: Sequence[Worker]) -> None:
    """Kill what still runs (the caller failed); their folders go with the scratch."""
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.kill()
        _close(worker)


def _close(worker: Worker) -> int:
    """Reap the worker, then cut its lifeline; its exit status."""
    status = worker.process.wait()
    if worker.process.stdin is not None:
        # A worker that never read all its stacks leaves them in the pipe: its status says why.
        with contextlib.suppress(BrokenPipeError):
            worker.process.stdin.close()
    return status


def collect(own: Path, workers: Sequence[Worker], outdir: Path) -> None:
    """Wait for every worker; then move the stacks of the caller's folder `own` and of
    each worker into `outdir`, and write `outdir`'s manifest last, merged from theirs.
    A worker that failed fails the whole synthesis before anything is moved."""
    for worker in workers:
        status = _close(worker)
        if status != 0:
            raise SynthesisError(_failure(worker, status))
    manifest = _read(own / MANIFEST)
    for worker in workers:
        for name, entry in sorted(_read(worker.outdir / MANIFEST)["stacks"].items()):
            if name in manifest["stacks"]:
                raise RuntimeError(f"stack {name} was synthesized twice")
            manifest["stacks"][name] = entry
    for folder in [own, *(worker.outdir for worker in workers)]:
        move_files(folder / "stacks", outdir / "stacks")
    temporary = outdir / f".{MANIFEST}.{os.getpid()}.tmp"
    temporary.write_text(manifest_text(manifest), encoding="utf-8")
    os.replace(temporary, outdir / MANIFEST)


def move_files(source: Path, target: Path) -> None:
    """Each file under `source` to the same place under `target`, replacing only those:
    other files in `target` (Terraform's working folder and lock file) stay."""
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, destination)


def _failure(worker: Worker, status: int) -> str:
    """One line: which stacks, how the worker ended, and its last word on stderr."""
    names = ", ".join(s.name for s in worker.stacks)
    if status < 0:
        return f"the worker process synthesizing {names} was killed by {_signal_name(-status)}"
    errors = worker.outdir.with_suffix(".err").read_text(errors="replace")
    return f"the worker process synthesizing {names} failed (exit {status}): {last_error(errors)}"


def last_error(stderr: str) -> str:
    """The exception a traceback ends with, on one line: from its last unindented line on,
    without the JavaScript stack frames (`at ...`) a jsii error carries below it."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if not lines:
        return "no message"
    starts = [i for i, line in enumerate(lines) if not line[0].isspace()]
    tail = lines[starts[-1] :] if starts else lines[-1:]
    kept = [line.strip() for line in tail if not line.strip().startswith("at ")]
    return " ".join(kept) or lines[-1].strip()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def manifest_text(manifest: Mapping[str, Any]) -> str:
    """`manifest.json` as this process's CDK writes it: both sort keys and indent by two,
    but cdktf's json-stable-stringify breaks empty arrays and objects over two lines
    where cdktn's safe-stable-stringify writes `[]` and `{}`, as Python's json does."""
    from crm_ports.constructs.cdk import flavour

    if flavour() == "cdktf":
        return stable_stringify(manifest)
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False)


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def stable_stringify(value: Any, level: int = 0, space: str = "  ") -> str:
    """`json-stable-stringify(value, {space: 2})`, which cdktf uses for `manifest.json` and
    `cdk.tf.json`: sorted keys, and empty objects/arrays still broken over two lines."""
    indent = "\n" + space * level
    if isinstance(value, dict):
        items = [
            f"{indent}{space}{json.dumps(k, ensure_ascii=False)}: "
            f"{stable_stringify(v, level + 1, space)}"
            for k, v in sorted(value.items())
        ]
        return "{" + ",".join(items) + indent + "}"
    if isinstance(value, list):
        items = [f"{indent}{space}{stable_stringify(v, level + 1, space)}" for v in value]
        return "[" + ",".join(items) + indent + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, ensure_ascii=False)


def scratch_folder(outdir: Path, prefix: str = ".crm-ports-shards-") -> Path:
    """A fresh folder in `outdir` named `PREFIX<host>-<pid>-...`, which its caller removes.
    A process killed outright (SIGKILL, a CI runner's last resort) removes nothing, so first
    the folders this prefix names for processes of this host that no longer run go."""
    owner = f"{prefix}{os.uname().nodename}-"
    for stale in outdir.glob(glob.escape(owner) + "*") if outdir.is_dir() else ():
        pid = stale.name[len(owner) :].partition("-")[0]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{owner}{os.getpid()}-", dir=outdir))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True
