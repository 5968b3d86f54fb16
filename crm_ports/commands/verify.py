"""`crm-ports verify` and `crm-ports why`: the synthesized stacks evaluated the way AWS and
Azure evaluate them. With --synth nothing is synthesized and cdktf is never imported;
otherwise the labs are synthesized into a scratch folder first."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from crm_ports.catalogue.model import Catalogue
from crm_ports.commands.common import (
    catalogue,
    catalogue_path,
    check_output,
    emit,
    format_option,
    output_option,
)
from crm_ports.lab.file import load_lab
from crm_ports.lab.model import Lab, default_labs
from crm_ports.review.sides import repository_root, tree_catalogue, working_tree
from crm_ports.verify.report import render_json, render_table
from crm_ports.verify.run import Target, folder_targets, synthesized, verify_targets
from crm_ports.verify.stack import read_var_file
from crm_ports.verify.why import Answer, UnknownName, explain, parse_packet

F = Any


def _stack_options(func: F) -> F:
    for decorator in reversed(
        [
            click.option(
                "--synth",
                "synth_dir",
                type=click.Path(path_type=Path, file_okay=False),
                default=None,
                help="A synthesized folder (crm-ports synth --out); nothing is synthesized.",
            ),
            click.option(
                "--lab",
                "lab_paths",
                multiple=True,
                type=click.Path(path_type=Path, dir_okay=False),
                help="Lab file (repeatable): synthesize it, or with --synth pick its stacks.",
            ),
            click.option(
                "--all",
                "all_labs",
                is_flag=True,
                help="The default labs and every labs/*.yaml of the working tree.",
            ),
            click.option(
                "--var-file",
                "var_file",
                type=click.Path(path_type=Path, dir_okay=False),
                default=None,
                help="Variable values (.tfvars or .tfvars.json) instead of the defaults.",
            ),
        ]
    ):
        func = decorator(func)
    return func


def _labs(
    ctx: click.Context, lab_paths: tuple[Path, ...], all_labs: bool
) -> tuple[list[Lab], Catalogue]:
    """The labs to verify and the catalogue to judge them by. `--all` is the working tree
    exactly as `check --all` and `diff` read it: its labs and its own catalogue."""
    if all_labs and lab_paths:
        raise click.UsageError("--all verifies every lab: drop --lab")
    if all_labs:
        root = repository_root(Path.cwd())
        tree = working_tree(root, catalogue_path(ctx))
        return [s.lab for s in tree.labs], tree_catalogue(root, catalogue_path(ctx))
    return [load_lab(p) for p in lab_paths] or list(default_labs()), catalogue(ctx)


@contextmanager
def _targets(
    ctx: click.Context,
    synth_dir: Path | None,
    lab_paths: tuple[Path, ...],
    all_labs: bool,
    var_file: Path | None,
) -> Iterator[list[Target]]:
    overrides = read_var_file(var_file) if var_file is not None else {}
    if synth_dir is not None:
        if all_labs:
            raise click.UsageError("--all synthesizes the labs: drop --synth, or use --lab")
        labs = [load_lab(p) for p in lab_paths]
        yield folder_targets(synth_dir, catalogue(ctx), overrides, labs)
        return
    labs, cat = _labs(ctx, lab_paths, all_labs)
    with synthesized(labs, cat) as scratch:
        yield folder_targets(scratch, cat, overrides, labs)


@click.command(
    epilog="""\b
Examples:
  crm-ports verify --synth cdktf.out
  crm-ports verify --lab labs/contoso-claims.yaml
  crm-ports verify --all --format markdown -o verify.md
  crm-ports verify --synth cdktf.out --var-file prod.tfvars --format json
\b
Exit status: 0 every stack allows exactly the flows, 1 a flow is missing or something
else is allowed, 2 bad input."""
)
@_stack_options
@format_option("table", ("table", "markdown", "json"))
@output_option
@click.pass_context
def verify(
    ctx: click.Context,
    /,
    synth_dir: Path | None,
    lab_paths: tuple[Path, ...],
    all_labs: bool,
    var_file: Path | None,
    fmt: str,
    output: Path | None,
) -> int:
    """Evaluate each synthesized stack (cdk.tf.json only) as its cloud would and compare
    what it allows with the lab's catalogue flows: every flow allowed on every port, and
    nothing into a lab server that no flow asks for.

    AWS: the union of the ingress rules of every group an instance carries (its own and
    lab-servers), referenced groups included, and the source's egress rules. Azure: the
    NSG's rules in priority order, then the default rules (65000, 65001, 65500), with ASG
    membership and service tags. Both are stateful: replies need no rule. Variables take
    their defaults, or the values of --var-file; for_each expands over them."""
    check_output(ctx, output, *lab_paths, var_file)
    with _targets(ctx, synth_dir, lab_paths, all_labs, var_file) as targets:
        results = verify_targets(targets)
    text = render_json(results) if fmt == "json" else render_table(results, fmt)
    emit(text, output)
    return 0 if all(r.ok for r in results) else 1


@click.command(
    epilog="""\b
Examples:
  crm-ports why crm-front-end sql-server tcp/1433
  crm-ports why clients domain-controller tcp/3389 --lab labs/contoso-claims.yaml
  crm-ports why 0.0.0.0/0 crm-front-end tcp/443 --synth cdktf.out --cloud azure
\b
Exit status: 0 the stacks agree with the catalogue, 1 one does not, 2 bad input."""
)
@click.argument("source", metavar="FROM")
@click.argument("target", metavar="TO")
@click.argument("packet", metavar="PROTO/PORT")
@_stack_options
@click.option(
    "--cloud",
    type=click.Choice(("aws", "azure")),
    default=None,
    help="Only this cloud's stacks. [default: every cloud the lab deploys to]",
)
@click.pass_context
def why(
    ctx: click.Context,
    /,
    source: str,
    target: str,
    packet: str,
    synth_dir: Path | None,
    lab_paths: tuple[Path, ...],
    all_labs: bool,
    var_file: Path | None,
    cloud: str | None,
) -> int:
    """Explain one answer: is PROTO/PORT from FROM to TO allowed, by which rule (its
    resource address), and which catalogue flow asks for it with its citations; or why
    nothing allows it. FROM and TO are host groups or peers (clients, administrators,
    mail-system); FROM may also be an IPv4 address or range."""
    wanted = parse_packet(packet)
    answers: list[Answer] = []
    unknown: UnknownName | None = None
    with _targets(ctx, synth_dir, lab_paths, all_labs, var_file) as targets:
        for t in targets:
            if cloud is not None and t.stack.cloud != cloud:
                continue
            try:
                answers.append(
                    explain(t.expected, t.firewall, t.stack.name, source, target, wanted)
                )
            except UnknownName as exc:  # a host group of another lab
                unknown = exc
    if not answers and unknown is not None:
        raise unknown
    click.echo("".join(a.text() for a in answers), nl=False)
    return 0 if all(a.agrees for a in answers) else 1
