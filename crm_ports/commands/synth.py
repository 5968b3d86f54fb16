"""`crm-ports synth`: the lab stacks as `cdktf synth` writes them, without the cdktf CLI.

Everything that can be wrong with the input is found before Node starts (labs are loaded
and resolved, cloud limits checked). Synthesis happens in a scratch folder beside the
output and each file is then moved into place, the manifest last, so an interrupted run
(Ctrl-C, and SIGTERM or SIGHUP too: `crm_ports.synth.interrupts`) stops its worker processes,
removes the scratch and leaves the previous output whole. An output folder that still
holds Terraform state (the layout before state moved beside it) is refused: cdktf-cli and
`make clean` would delete that state.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from crm_ports.commands.common import catalogue, given_flags, option_flags, project
from crm_ports.constructs.cdk import flavour
from crm_ports.errors import InputError
from crm_ports.inputs import yamlio
from crm_ports.lab.backend import refuse_state_inside
from crm_ports.lab.file import load_lab
from crm_ports.lab.model import Lab, default_labs
from crm_ports.options import Options, build
from crm_ports.synth.build import synth_app
from crm_ports.synth.interrupts import terminated_as_exception
from crm_ports.synth.plan import LABS_ENV, StackPlan, named_labs, plan_stacks
from crm_ports.synth.shards import (
    JOBS_ENV,
    MANIFEST,
    STACKS_PER_JOB,
    job_count,
    move_files,
    scratch_folder,
)
from crm_ports.terraform.metadata import METADATA_FILE


@click.command(
    epilog="""\b
Examples:
  crm-ports synth                 # the labs of crm-ports.yaml, else the default labs
  crm-ports synth --lab labs/contoso-claims.yaml --out build/cdktf.out
  crm-ports synth --lab labs/contoso-claims.yaml --lab labs/fabrikam-full-server.yaml
  crm-ports synth --auth claims --email pop3-smtp       # both default labs, these options
  crm-ports synth --topology full-server --out build/cdktf.out
  crm-ports synth --lab labs/contoso-claims.yaml --lab labs/fabrikam-full-server.yaml --jobs 2
  CRM_PORTS_CDK=cdktn crm-ports synth     # on CDK Terrain: the cdktn extra (docs/cdk-flavours.md)
Then deploy with the same lab files, which say where each lab goes (aws.endpoint_url for
an emulator) and where its state lives (backend:, else terraform.<stack>.tfstate beside
the output folder):
  CRM_PORTS_LABS=labs/contoso-claims.yaml npx cdktf deploy aws-contoso-claims"""
)
@click.option(
    "--lab",
    "lab_paths",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Lab file (repeatable); default: CRM_PORTS_LABS, else the labs of the project file "
    "(crm-ports.yaml), else both topologies with default options.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("cdktf.out"),
    show_default=True,
    help="Output folder; stacks land in OUT/stacks/<cloud>-<lab>/cdk.tf.json.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help=f"Processes that synthesize at once (default: one per core, for every "
    f"{STACKS_PER_JOB} stacks; env {JOBS_ENV}). The output is the same for any number.",
)
@click.option("--aws-endpoint-url", default=None, hidden=True, expose_value=True)
@option_flags
@click.pass_context
def synth(
    ctx: click.Context,
    /,
    lab_paths: tuple[Path, ...],
    out: Path,
    jobs: int | None,
    aws_endpoint_url: str | None,
    **values: Any,
) -> int:
    """Synthesize the lab stacks (`<cloud>-<lab>`) for `cdktf deploy` or `terraform`.

    Without --lab: the lab files CRM_PORTS_LABS lists, else those the project file
    (crm-ports.yaml, here or in a folder above) names, with its catalogue, as `cdktf.json`'s
    app builds them; else the default labs. Option flags go on top of the labs --lab names
    and of the default labs (where --topology builds only the default lab of that
    topology); labs from CRM_PORTS_LABS or the project file are built as their files say,
    so flags are refused there, and --topology over any lab file (its own hosts) too."""
    flavour()  # a bad CRM_PORTS_CDK is bad input like the rest, found before any work

    if aws_endpoint_url is not None:
        # A flag only this command knew let `npx cdktf deploy` rebuild the same stack
        # for real AWS: the emulator is a property of the lab, read by every path.
        raise InputError(
            "command line",
            "",
            "--aws-endpoint-url",
            "was removed: set aws.endpoint_url in the lab file instead, so that "
            "`npx cdktf deploy` and `crm-ports audit` target the same emulator",
        )
    flags = given_flags(values)
    named = None if lab_paths else named_labs(project(ctx))
    _refuse_overrides(flags, lab_paths, named)
    labs = [load_lab(p) for p in lab_paths] if lab_paths else named or []
    labs = _with_flags(labs, flags)
    stacks = plan_stacks(labs, catalogue(ctx))
    jobs = job_count(len(stacks), jobs)  # a bad CRM_PORTS_JOBS is bad input like the rest
    if flags:
        # The cdktf.json app reads lab files only: say so before a deploy rebuilds
        # these stacks without the flags.
        click.echo(
            "note: options given as flags ("
            + ", ".join("--" + k.replace("_", "-") for k in sorted(flags))
            + ") shape this output only; `npx cdktf deploy` builds from lab files, so put "
            "the options in one to deploy them",
            err=True,
        )
    if out.exists() and not out.is_dir():
        raise InputError(yamlio.display_name(out), "", "--out", "exists and is not a folder")
    refuse_state_inside(out)
    with terminated_as_exception():  # SIGTERM/SIGHUP stop the workers, as Ctrl-C does
        _write(stacks, out, jobs)
    shown = yamlio.display_name(out)
    for stack in stacks:
        click.echo(f"{shown}/stacks/{stack.name}/cdk.tf.json")
    return 0


def _write(stacks: list[StackPlan], out: Path, jobs: int | None) -> None:
    """Synthesize into a scratch folder beside `out`, then move the files in, the manifest
    last (it never lists a stack whose files are not in place); the scratch always goes."""
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        scratch = scratch_folder(parent, prefix=f".{out.name}.")
    except OSError as exc:
        raise InputError(
            yamlio.display_name(out), "", "--out", f"cannot write: {exc.strerror}"
        ) from None
    try:
        synth_app(stacks, scratch, progress=lambda line: click.echo(line, err=True), jobs=jobs)
        out.mkdir(parents=True, exist_ok=True)
        move_files(scratch / "stacks", out / "stacks")
        os.replace(scratch / MANIFEST, out / MANIFEST)
        for stale in retire_stale_stacks(out, {s.name for s in stacks}):
            click.echo(
                f"removed stale stack {stale} (files crm-ports did not write are kept)", err=True
            )
    except OSError as exc:
        raise InputError(
            yamlio.display_name(out), "", "--out", f"cannot write: {exc.strerror}"
        ) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _refuse_overrides(
    flags: dict[str, Any], lab_paths: tuple[Path, ...], named: list[Lab] | None
) -> None:
    """Flags that would rewrite lab files are refused. `--topology` over any lab file
    replaces the lab's own placement (its hosts: silently, or failing on a lab rule that
    names one), so it builds only the default labs. Other flags go on top of the labs
    `--lab` names, as in `rules` and `check`; but labs chosen without a word on the
    command line (CRM_PORTS_LABS, the project file) are built as their files say, as
    `cdktf.json`'s app builds them, never each rewritten by a flag."""
    if not flags or (not lab_paths and named is None):
        return
    where = (
        "--lab" if lab_paths else f"{LABS_ENV}" if os.environ.get(LABS_ENV) else "crm-ports.yaml"
    )
    if "topology" in flags:
        raise InputError(
            "command line",
            "synth",
            "--topology",
            f"the labs come from lab files ({where}), each with its own topology or hosts: "
            "set topology: in a lab file instead",
        )
    if not lab_paths:
        names = ", ".join("--" + k.replace("_", "-") for k in sorted(flags))
        raise InputError(
            "command line",
            "synth",
            names.split(", ")[0],
            f"the labs come from {where}, built as their files say (as npx cdktf builds "
            f"them): put {names} in the lab files, or name the labs with --lab",
        )


def _with_flags(labs: list[Lab], given: dict[str, Any]) -> list[Lab]:
    """The labs to build: the files with the flags on top, else the default labs."""
    if not labs:
        topology = given.get("topology")
        labs = [lab for lab in default_labs() if topology in (None, lab.options.topology)]
        if not labs:  # a topology of the user's own catalogue
            labs = [Lab(name=str(topology), options=Options(), origin="command line")]
    if not given:
        return labs
    return [
        replace(lab, options=build(given, origin="command line", base=lab.options)) for lab in labs
    ]


def retire_stale_stacks(out: Path, current: set[str]) -> list[str]:
    """Stack folders a previous run wrote for labs this run does not build lose the files
    crm-ports wrote there, so `diff`/`check --synth` never review a lab that is gone;
    anything else in them (a `.terraform` working folder) stays."""
    stale = []
    stacks = out / "stacks"
    for folder in sorted(stacks.iterdir()) if stacks.is_dir() else ():
        if folder.name in current or not (folder / METADATA_FILE).is_file():
            continue
        for name in (METADATA_FILE, "cdk.tf.json"):
            (folder / name).unlink(missing_ok=True)
        if not any(folder.iterdir()):
            folder.rmdir()
        stale.append(folder.name)
    return stale
