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

from crm_ports.catalogue import load_catalogue
from crm_ports.lab import Lab, default_labs, load_lab
from crm_ports.model import Catalogue
from crm_ports.resolver import resolve_lab
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
) -> list[Path]:
    """Build and synthesize the stacks into `outdir` (created by the caller); returns the
    stack directories written."""
    from crm_ports import warmup

    warmup.finish()  # the stack modules may be importing on another thread
    from crm_ports.cdk import App
    from crm_ports.stacks.aws import AwsLabStack
    from crm_ports.stacks.azure import AzureLabStack
    from crm_ports.stacks.common import stack_metadata

    # Absolute: jsii's Node process keeps the working directory it started in, which need
    # not be ours now (a long-lived Python process, the tests). No path reaches the output.
    app = App(outdir=str(outdir.resolve()))
    for index, stack in enumerate(stacks, 1):
        kind = AwsLabStack if stack.cloud == "aws" else AzureLabStack
        kind(app, stack.name, lab=stack.lab, rules=stack.rules)
        progress(f"[{index}/{len(stacks)}] built {stack.name} ({len(stack.rules.rules)} rules)")
    progress(f"synthesizing {len(stacks)} stack(s)")
    app.synth()
    written = []
    for stack in stacks:
        directory = outdir / "stacks" / stack.name
        (directory / METADATA_FILE).write_text(
            stack_metadata(stack.lab, stack.rules, stack.cloud), encoding="utf-8"
        )
        written.append(directory)
    return written


def labs_from_environment() -> list[Lab]:
    paths = [p for p in os.environ.get(LABS_ENV, "").split(os.pathsep) if p]
    return [load_lab(Path(p)) for p in paths] if paths else list(default_labs())


def main() -> None:
    """Entry point of `cdktf.json`'s app: cdktf-cli sets CDKTF_OUTDIR. Progress goes to
    standard output, which cdktf-cli shows as information (standard error reads as an
    error there); bad input is one line on standard error and exit 2."""
    from crm_ports import warmup
    from crm_ports.cli import fail
    from crm_ports.errors import InputError
    from crm_ports.state import refuse_state_inside

    outdir = Path(os.environ.get("CDKTF_OUTDIR", "cdktf.out"))
    try:
        refuse_state_inside(outdir)
        with warmup.overlapping():  # Node starts while the labs are loaded and planned
            stacks = plan_stacks(labs_from_environment())
    except InputError as exc:
        fail(str(exc))
        sys.exit(2)
    outdir.mkdir(parents=True, exist_ok=True)
    synth_app(stacks, outdir, progress=lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
