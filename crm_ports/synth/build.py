"""Planned stacks -> `<outdir>/stacks/<stack>/cdk.tf.json` and its `crm-ports.json`, through
one CDK app, or several processes' apps when the stacks are many (`crm_ports.synth.shards`);
the output is the same either way.

Everything a stack targets (region, an emulator's endpoint, the state backend) comes from
its lab alone, so `crm-ports synth` and every `npx cdktf` command build the same stack.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from crm_ports.synth import shards
from crm_ports.synth.plan import StackPlan
from crm_ports.terraform.metadata import write_metadata


def synth_app(
    stacks: Sequence[StackPlan],
    outdir: Path,
    progress: Callable[[str], None] = lambda _line: None,
    jobs: int | None = None,
) -> list[Path]:
    """Build and synthesize the stacks into `outdir` (created by the caller); returns the
    stack directories written. Many stacks are shared among `jobs` processes (default:
    `crm_ports.synth.shards.job_count`); the output is the same either way."""
    shares = shards.split(stacks, shards.job_count(len(stacks), jobs))
    if len(shares) == 1:
        build_and_synth(stacks, outdir, progress)
    else:
        _synth_shares(shares, outdir, progress)
    written = []
    for stack in stacks:
        directory = outdir / "stacks" / stack.name
        write_metadata(directory, stack.lab, stack.rules, stack.cloud)
        written.append(directory)
    return written


def _synth_shares(
    shares: Sequence[list[StackPlan]], outdir: Path, progress: Callable[[str], None]
) -> None:
    """The first share here, the others in worker processes, all into a scratch folder
    inside `outdir`; its files reach `outdir` only once every share is done."""
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
    """One cdktf App holding `stacks`, synthesized into `outdir` (cdk.tf.json, manifest).
    The CDK and the stacks load here, so planning never starts Node."""
    from crm_ports.constructs.cdk import App
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
