"""Synthesize many lab stacks on several cores.

jsii runs one Node process per Python process and every call waits for the other side, so
one process synthesizes on about one core however many the machine has. Lab stacks never
refer to each other, so a long list of them splits cleanly: the calling process builds the
first share on the Node it has already started, and worker processes (`python -m
crm_ports.shards OUTDIR`, the planned stacks pickled on standard input) build the others
into folders of their own at the same time. Their stack folders are then moved beside the
caller's and their entries merged into its `manifest.json`, written the way the CDK
flavour writes it, so the output is byte for byte what one process would have written.

A worker costs a Node start (about a second) and 150 MB, so one is only worth it for
`STACKS_PER_JOB` stacks or more; the four default stacks stay in one process.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_ports.errors import InputError

if TYPE_CHECKING:
    from crm_ports.app import StackPlan

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
    from crm_ports.cdk import flavour

    env = dict(os.environ, CRM_PORTS_CDK=flavour())
    command = [sys.executable, *_interpreter_flags(), "-m", "crm_ports.shards"]
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
    pipe = worker.process.stdin
    if pipe is None:  # never, with stdin=PIPE
        return
    try:
        pipe.write(pickle.dumps(worker.stacks))
        pipe.close()
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
        worker.process.wait()


def collect(workers: Sequence[Worker], outdir: Path) -> None:
    """Wait for every worker, then move its stacks into `outdir` and merge its manifest
    entries into `outdir`'s manifest. A worker that failed fails the whole synthesis."""
    for worker in workers:
        status = worker.process.wait()
        if status != 0:
            names = ", ".join(s.name for s in worker.stacks)
            errors = worker.outdir.with_suffix(".err").read_text(errors="replace")
            raise RuntimeError(
                f"the worker process synthesizing {names} failed (exit {status}):\n{errors}"
            )
    manifest = _read(outdir / MANIFEST)
    for worker in workers:
        theirs = _read(worker.outdir / MANIFEST)
        for name, entry in sorted(theirs["stacks"].items()):
            if name in manifest["stacks"]:
                raise RuntimeError(f"stack {name} was synthesized twice")
            target = outdir / "stacks" / name
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(worker.outdir / "stacks" / name, target)
            manifest["stacks"][name] = entry
    (outdir / MANIFEST).write_text(manifest_text(manifest), encoding="utf-8")


def manifest_text(manifest: Mapping[str, Any]) -> str:
    """`manifest.json` as this process's CDK writes it: both sort keys and indent by two,
    but cdktf's json-stable-stringify breaks empty arrays and objects over two lines
    where cdktn's safe-stable-stringify writes `[]` and `{}`, as Python's json does."""
    from crm_ports.cdk import flavour

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


def scratch_folder(outdir: Path) -> Path:
    """Where workers write: a fresh folder inside `outdir`, removed by the caller."""
    return Path(tempfile.mkdtemp(prefix=".crm-ports-shards-", dir=outdir))


def main() -> None:
    """A worker: synthesize the pickled stacks on standard input into the folder given."""
    from crm_ports import warmup

    with warmup.overlapping():  # Node starts on another thread while the stacks are read
        stacks: list[StackPlan] = pickle.loads(sys.stdin.buffer.read())
    from crm_ports.app import build_and_synth

    outdir = Path(sys.argv[1])
    outdir.mkdir(parents=True)
    build_and_synth(stacks, outdir)


if __name__ == "__main__":
    main()
