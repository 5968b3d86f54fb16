"""Commands for reviewing a change: diff, check, diagram. None of them synthesizes, so
none imports cdktf or starts Node. Each imports the review modules it uses when it runs:
`check` never loads the git and tar handling of `diff`, nor `diff` the policy checks, nor
either the diagram renderer."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crm_ports.commands.common import (
    catalogue,
    catalogue_path,
    check_output,
    emit,
    format_option,
    given_flags,
    lab_and_options,
    output_option,
    rule_options,
)
from crm_ports.errors import InputError
from crm_ports.formats import DIAGRAM_FORMATS, to_json
from crm_ports.resolver.engine import resolve_lab
from crm_ports.ruleset import RuleSet

if TYPE_CHECKING:
    from crm_ports.policy.base import Subject


@click.command(
    epilog="""\b
Examples:
  crm-ports diff --base origin/main
  crm-ports diff --base origin/main --head cdktf.out --format json
  crm-ports diff --base labs/contoso-claims.yaml --head my-lab.yaml
\b
Exit status: 0 no change, 1 changes, 2 error."""
)
@click.option(
    "--base",
    required=True,
    metavar="STATE",
    help="Git ref, synthesized folder (crm-ports synth output) or lab file to compare from.",
)
@click.option(
    "--head",
    default=None,
    metavar="STATE",
    help="The same kinds of state to compare to. [default: the working tree]",
)
@format_option("markdown", ("markdown", "json"))
@output_option
@click.pass_context
def diff(ctx: click.Context, base: str, head: str | None, fmt: str, output: Path | None) -> int:
    """What a change does: flows and rules added, removed and changed per lab and host
    group, and per cloud the resources Terraform would create, update, replace or destroy.

    A git ref means its catalog/ and labs/*.yaml; the labs compared are the default labs
    plus every labs/*.yaml of each side (a lab file: just that lab)."""
    from crm_ports.review.diff import diff_json, diff_sides
    from crm_ports.review.markdown import render_markdown
    from crm_ports.review.sides import load_side, repository_root

    check_output(ctx, output, base, head)
    root = repository_root(Path.cwd())
    old = load_side(base, root, catalogue_path(ctx), "--base")
    new = load_side(head, root, catalogue_path(ctx), "--head")
    labs = diff_sides(old, new)
    if fmt == "json":
        text = to_json(diff_json(old, new, labs))
    else:
        text = render_markdown(old.label, new.label, labs)
    emit(text, output)
    return 1 if any(lab.changed for lab in labs) else 0


Drawn = list[tuple[str, RuleSet, RuleSet | None]]


def _one_lab(ctx: click.Context, lab_path: Path | None, values: dict[str, Any]) -> Subject:
    from crm_ports.lab.model import Lab
    from crm_ports.policy.base import Subject

    lab, options = lab_and_options(lab_path, values)
    if lab is None:
        lab = Lab(name=options.topology, options=options, origin=options.origin)
    else:
        lab = replace(lab, options=options)
    return Subject(lab, resolve_lab(catalogue(ctx), lab))


@click.command(
    epilog="""\b
Examples:
  crm-ports check
  crm-ports check --lab labs/contoso-claims.yaml
  crm-ports check --all --format markdown
  crm-ports check --all --synth cdktf.out
  crm-ports check --all --base origin/main
  crm-ports check --all --quotas
  crm-ports check --list --format markdown
\b
Exit status: 0 no errors (warnings allowed), 1 errors, 2 bad input."""
)
@rule_options
@click.option(
    "--all",
    "all_labs",
    is_flag=True,
    help="Check the default labs and every labs/*.yaml of the working tree.",
)
@click.option(
    "--synth",
    "synth_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Also check the cdk.tf.json files of this synthesized folder.",
)
@click.option(
    "--base",
    default=None,
    metavar="STATE",
    help="Also compare each lab with STATE (git ref, synthesized folder or lab file): a "
    "group the change would replace while it stays in the lab fails CRM010.",
)
@click.option("--list", "list_only", is_flag=True, help="Print the table of checks and exit.")
@click.option(
    "--quotas",
    "all_quotas",
    is_flag=True,
    help="Print every group's quota headroom (by default only groups at 90% or more).",
)
@format_option("table", ("table", "json", "markdown"))
@output_option
@click.pass_context
def check(
    ctx: click.Context,
    /,
    lab_path: Path | None,
    all_labs: bool,
    synth_dir: Path | None,
    base: str | None,
    list_only: bool,
    all_quotas: bool,
    fmt: str,
    output: Path | None,
    **values: Any,
) -> int:
    """Policy checks on a lab's rule set and, with --synth, on the synthesized Terraform.

    Findings can be waived in the lab file (`waivers: [{check, rule, reason}]`); the
    report repeats the reason. Without --lab, --all or --synth: the options given."""
    from crm_ports.policy.crm007_quotas import NEAR_QUOTA, quota_rows
    from crm_ports.policy.registry import run_checks
    from crm_ports.policy.report import list_checks, render_report

    check_output(ctx, output, lab_path, base)
    if list_only:
        emit(list_checks(fmt), output)
        return 0
    flags = bool(given_flags(values))
    if all_labs and (lab_path is not None or flags):
        raise click.UsageError("--all checks every lab as it is: drop --lab and option flags")
    if all_labs:
        from crm_ports.policy.subjects import from_side
        from crm_ports.review.sides import repository_root, working_tree

        subjects = from_side(working_tree(repository_root(Path.cwd()), catalogue_path(ctx)))
    elif synth_dir is None or lab_path is not None or flags:
        subjects = [_one_lab(ctx, lab_path, values)]
    else:
        subjects = []
    if synth_dir is not None:
        from crm_ports.policy.subjects import with_synth

        subjects = with_synth(subjects, synth_dir)
    if base is not None:
        subjects = _with_base(ctx, subjects, base)
    findings = run_checks(subjects)
    quotas = [row for subject in subjects for row in quota_rows(subject)[0]]
    if not all_quotas and fmt != "json":  # JSON keeps every row: it is read by programs
        quotas = [row for row in quotas if row.used >= row.limit * NEAR_QUOTA]
    labs = [s.lab.name for s in subjects]
    emit(render_report(findings, quotas, labs, fmt), output)
    return 1 if any(f.blocking for f in findings) else 0


def _with_base(ctx: click.Context, subjects: list[Subject], base: str) -> list[Subject]:
    """Each subject with its lab as `base` had it (none for a lab new since then)."""
    from crm_ports.review.sides import load_side, repository_root

    state = load_side(base, repository_root(Path.cwd()), catalogue_path(ctx), "--base")
    out = []
    for subject in subjects:
        found = state.get(subject.lab.name)
        out.append(replace(subject, base=None if found is None else (found.lab, found.ruleset)))
    return out


@click.command(
    epilog="""\b
Examples:
  crm-ports diagram > topology.mmd
  crm-ports diagram --topology full-server --format dot | dot -Tsvg > full-server.svg
  crm-ports diagram --lab labs/contoso-claims.yaml
  crm-ports diagram --base origin/main --format markdown
  crm-ports diagram --base origin/main --lab labs/contoso-claims.yaml"""
)
@rule_options
@click.option(
    "--base",
    default=None,
    metavar="STATE",
    help="Draw the labs that changed since STATE (git ref, synthesized folder or lab file), "
    "changed edges marked; with --lab only that lab.",
)
@format_option("mermaid", (*DIAGRAM_FORMATS, "markdown"))
@output_option
@click.pass_context
def diagram(
    ctx: click.Context,
    /,
    lab_path: Path | None,
    base: str | None,
    fmt: str,
    output: Path | None,
    **values: Any,
) -> int:
    """Host groups and the traffic allowed between them, as a Mermaid flowchart (renders
    in GitHub comments and markdown), Graphviz DOT, or markdown holding one Mermaid block
    per lab. Peers are drawn outside the box of servers; what every server opens to every
    other is one edge into that box."""
    check_output(ctx, output, lab_path, base)
    if base is None:
        subject = _one_lab(ctx, lab_path, values)
        drawn: Drawn = [(subject.lab.name, subject.ruleset, None)]
    else:
        if given_flags(values):
            raise click.UsageError("--base draws labs as they are: drop the option flags")
        drawn = _changed_labs(ctx, base, lab_path)
    emit(_render_labs(drawn, fmt, base), output)
    return 0


def _changed_labs(ctx: click.Context, base: str, lab_path: Path | None) -> Drawn:
    """(name, head rule set, base rule set) of every lab that changed since `base`."""
    from crm_ports.review.diff import diff_sides
    from crm_ports.review.sides import load_side, repository_root

    root = repository_root(Path.cwd())
    old = load_side(base, root, catalogue_path(ctx), "--base")
    head = str(lab_path) if lab_path is not None else None
    new = load_side(head, root, catalogue_path(ctx), "--lab")
    return [
        (lab.name, lab.head.ruleset, lab.base.ruleset if lab.base is not None else None)
        for lab in diff_sides(old, new)
        if lab.changed and lab.head is not None
    ]


def _render_labs(drawn: Drawn, fmt: str, base: str | None) -> str:
    from crm_ports.review.diagram import render as render_diagram

    if fmt == "markdown":
        if not drawn:
            return f"No lab changed since `{base}`.\n"
        return "\n".join(
            f"#### {name}\n\n```mermaid\n{render_diagram(head, 'mermaid', old, name)}```\n"
            for name, head, old in drawn
        )
    if fmt == "mermaid" and len(drawn) > 1:
        names = ", ".join(name for name, _, _ in drawn)
        raise InputError(
            "command line",
            "diagram",
            "--format",
            f"{len(drawn)} labs changed ({names}): one Mermaid diagram draws one lab; "
            "pick it with --lab or use --format markdown",
        )
    if not drawn:
        click.echo(f"no lab changed since {base}", err=True)
    return "".join(render_diagram(head, fmt, old, name) for name, head, old in drawn)
