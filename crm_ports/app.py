"""The CDKTF app: every lab, on every cloud it names, as one stack `<cloud>-<lab>`.

`cdktf.json` runs `python -m crm_ports.app` (labs from CRM_PORTS_LABS, a path-separated
list of lab files, else the default labs); `crm-ports synth` calls `synth_app` directly.
Both produce the same `<outdir>/stacks/<stack>/cdk.tf.json` from the same lab files, and
everything a stack targets (region, an emulator's endpoint, the state backend) comes from
the lab file alone, so no sequence of the two commands can send a lab elsewhere.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:  # imported where used, so `main` can start Node before they load
    from crm_ports.lab import Lab
    from crm_ports.model import Catalogue
    from crm_ports.ruleset import RuleSet

METADATA_FILE = "crm-ports.json"
LABS_ENV = "CRM_PORTS_LABS"


@dataclass(frozen=True)
class StackPlan:
    """One stack to build: which lab, which cloud, from which rule set."""

    name: str
    cloud: str
    lab: Lab
    rules: RuleSet


def plan_stacks(labs: Sequence[Lab], catalogue: Catalogue | None = None) -> list[StackPlan]:
    """Resolve every lab first (pure Python): bad input fails before Node starts."""
    from crm_ports.catalogue import load_catalogue
    from crm_ports.resolver import resolve_lab

    cat = catalogue or load_catalogue()
    out: list[StackPlan] = []
    seen: dict[str, str] = {}
    for lab in labs:
        rules = resolve_lab(cat, lab)
        for cloud in lab.clouds:
            name = lab.stack_name(cloud)
            if name in seen:
                from crm_ports.errors import InputError

                raise InputError(
                    lab.origin,
                    f"lab '{lab.name}'",
                    "name",
                    f"stack '{name}' is also produced by {seen[name]}",
                )
            seen[name] = lab.origin
            out.append(StackPlan(name, cloud, lab, rules))
    _check_cloud_limits(out)
    return out


def _check_cloud_limits(stacks: Sequence[StackPlan]) -> None:
    """Quota checks live in the plans; run them here so a lab over a limit fails with
    its message before any construct exists."""
    from crm_ports.plans.aws import plan_aws
    from crm_ports.plans.azure import plan_azure

    for stack in stacks:
        if stack.cloud == "aws":
            plan_aws(
                stack.rules, stack.lab.name, egress=stack.lab.aws.egress, origin=stack.lab.origin
            )
        else:
            plan_azure(stack.rules, stack.lab.name, origin=stack.lab.origin)


def synth_app(
    stacks: Sequence[StackPlan],
    outdir: Path,
    progress: Callable[[str], None] = lambda _line: None,
    jobs: int | None = None,
) -> list[Path]:
    """Build and synthesize the stacks into `outdir` (created by the caller); returns the
    stack directories written. Many stacks are shared among `jobs` processes (default:
    `crm_ports.shards.job_count`); the output is the same either way."""
    from crm_ports import shards
    from crm_ports.stacks.common import stack_metadata

    shares = shards.split(stacks, shards.job_count(len(stacks), jobs))
    if len(shares) == 1:
        build_and_synth(stacks, outdir, progress)
    else:
        _synth_shares(shares, outdir, progress)
    written = []
    for stack in stacks:
        directory = outdir / "stacks" / stack.name
        (directory / METADATA_FILE).write_text(
            stack_metadata(stack.lab, stack.rules, stack.cloud), encoding="utf-8"
        )
        written.append(directory)
    return written


def _synth_shares(
    shares: Sequence[list[StackPlan]], outdir: Path, progress: Callable[[str], None]
) -> None:
    """The first share here, the others in worker processes, all into a scratch folder
    inside `outdir`; its files reach `outdir` only once every share is done."""
    import shutil

    from crm_ports import shards

    total = sum(map(len, shares))
    workers: list[shards.Worker] = []
    scratch = shards.scratch_folder(outdir)
    try:
        workers = shards.start(shares[1:], scratch)
        progress(
            f"{total - len(shares[0])} of {total} stacks go to {len(workers)} more process(es)"
        )
        own = scratch / "shard-0"
        own.mkdir()
        build_and_synth(shares[0], own, progress)
        progress(f"waiting for {len(workers)} more process(es)")
        shards.collect(own, workers, outdir)
    except BaseException:
        shards.stop(workers)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def build_and_synth(
    stacks: Sequence[StackPlan],
    outdir: Path,
    progress: Callable[[str], None] = lambda _line: None,
) -> None:
    """One cdktf App holding `stacks`, synthesized into `outdir` (cdk.tf.json, manifest)."""
    from crm_ports import warmup

    warmup.finish()  # the stack modules may be importing on another thread
    from crm_ports.cdk import App
    from crm_ports.stacks.aws import AwsLabStack
    from crm_ports.stacks.azure import AzureLabStack

    # Absolute: jsii's Node process keeps the working directory it started in, which need
    # not be ours now (a long-lived Python process, the tests). No path reaches the output.
    app = App(outdir=str(outdir.resolve()))
    for index, stack in enumerate(stacks, 1):
        kind = AwsLabStack if stack.cloud == "aws" else AzureLabStack
        kind(app, stack.name, lab=stack.lab, rules=stack.rules)
        progress(f"[{index}/{len(stacks)}] built {stack.name} ({len(stack.rules.rules)} rules)")
    progress(f"synthesizing {len(stacks)} stack(s)")
    app.synth()


def labs_from_environment() -> list[Lab]:
    from crm_ports.lab import default_labs, load_lab

    paths = [p for p in os.environ.get(LABS_ENV, "").split(os.pathsep) if p]
    return [load_lab(Path(p)) for p in paths] if paths else list(default_labs())


def main() -> None:
    """Entry point of `cdktf.json`'s app: cdktf-cli sets CDKTF_OUTDIR. Progress goes to
    standard output, which cdktf-cli shows as information (standard error reads as an
    error there); bad input is one line on standard error and exit 2, a failed worker
    process one line and exit 1, an interruption (Ctrl-C, SIGTERM, SIGHUP) one line and
    128 + the signal's number, after the workers are stopped and the scratch is gone."""
    from crm_ports.errors import SynthesisError, Terminated
    from crm_ports.interrupts import terminated_as_exception

    try:
        with terminated_as_exception():
            _main()
    except SynthesisError as exc:
        _exit(str(exc), 1)
    except KeyboardInterrupt:
        _exit("interrupted", 130)
    except Terminated as exc:
        _exit(str(exc), exc.exit_status)


def _exit(message: str, status: int) -> NoReturn:
    from crm_ports.cli import fail  # click loads only now: Node starts first in `_main`

    fail(message)
    sys.exit(status)


def _main() -> None:
    from crm_ports import warmup
    from crm_ports.errors import InputError

    outdir = Path(os.environ.get("CDKTF_OUTDIR", "cdktf.out"))
    try:
        # First thing: Node starts while the rest of ours loads and the labs are planned;
        # on the way out, however planning ends, it waits for Node.
        with warmup.overlapping():
            from crm_ports.state import refuse_state_inside

            refuse_state_inside(outdir)
            stacks = plan_stacks(labs_from_environment())
            from crm_ports.shards import job_count

            jobs = job_count(len(stacks))  # a bad CRM_PORTS_JOBS fails here
    except InputError as exc:
        from crm_ports.cli import fail

        fail(str(exc))
        sys.exit(2)
    outdir.mkdir(parents=True, exist_ok=True)
    synth_app(stacks, outdir, progress=lambda line: print(line, flush=True), jobs=jobs)


if __name__ == "__main__":
    # `python -m crm_ports.app` runs this file as `__main__`, where `StackPlan` would be
    # `__main__.StackPlan`: a worker process (crm_ports.shards) could not unpickle it. The
    # imported module's copy names its classes `crm_ports.app.*`.
    from crm_ports import app as _app

    _app.main()
