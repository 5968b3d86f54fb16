"""`crm-ports diagram`: host groups and the traffic allowed between them. It never
synthesizes (no cdktf, no Node), never loads the policy checks, and loads the git and
tar handling only for `--base`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from crm_ports.commands.common import (
    check_output,
    emit,
    format_option,
    given_flags,
    one_lab,
    output_option,
    review_space,
    rule_options_per_lab,
    unique_names,
)
from crm_ports.errors import InputError
from crm_ports.formats import DIAGRAM_FORMATS
from crm_ports.ruleset import RuleSet

Drawn = list[tuple[str, RuleSet, RuleSet | None]]


@click.command(
    epilog="""\b
Examples:
  crm-ports diagram > topology.mmd
  crm-ports diagram --topology full-server --format dot | dot -Tsvg > full-server.svg
  crm-ports diagram --lab labs/contoso-claims.yaml
  crm-ports diagram --base origin/main --format markdown
  crm-ports diagram --base origin/main --lab labs/contoso-claims.yaml"""
)
@rule_options_per_lab
@click.option(
    "--base",
    default=None,
    metavar="STATE",
    help="Draw the labs that changed since STATE (git ref, synthesized folder or lab file), "
    "changed edges marked; with --lab only those labs.",
)
@format_option("mermaid", (*DIAGRAM_FORMATS, "markdown"))
@output_option
@click.pass_context
def diagram(
    ctx: click.Context,
    /,
    lab_paths: tuple[Path, ...],
    base: str | None,
    fmt: str,
    output: Path | None,
    **values: Any,
) -> int:
    """Host groups and the traffic allowed between them, as a Mermaid flowchart (renders
    in GitHub comments and markdown), Graphviz DOT, or markdown holding one Mermaid block
    per lab (--lab given several times draws each). Peers are drawn outside the box of
    servers; what every server opens to every other is one edge into that box."""
    check_output(ctx, output, *lab_paths, base)
    if base is None:
        drawn = _given_labs(ctx, lab_paths, values)
    else:
        if given_flags(values):
            raise click.UsageError("--base draws labs as they are: drop the option flags")
        drawn = _changed_labs(ctx, base, lab_paths)
    emit(_render_labs(drawn, fmt, base), output)
    return 0


def _given_labs(ctx: click.Context, lab_paths: tuple[Path, ...], values: dict[str, Any]) -> Drawn:
    """Each --lab with the flags applied (or the options alone), by name; two files of one
    lab name are refused, as `diff` refuses them."""
    labs = [one_lab(ctx, path, values) for path in lab_paths or (None,)]
    unique_names(lab for lab, _ in labs)
    return sorted(((lab.name, ruleset, None) for lab, ruleset in labs), key=lambda d: d[0])


def _changed_labs(ctx: click.Context, base: str, lab_paths: tuple[Path, ...]) -> Drawn:
    """(name, head rule set, base rule set) of every lab that changed since `base`."""
    from crm_ports.review.diff import diff_sides
    from crm_ports.review.sides import lab_files, load_side, tree_catalogue, working_tree

    space = review_space(ctx)
    old = load_side(base, space, "--base")
    new = lab_files(list(lab_paths), tree_catalogue(space)) if lab_paths else working_tree(space)
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
        which = "given" if base is None else "changed"
        raise InputError(
            "command line",
            "diagram",
            "--format",
            f"{len(drawn)} labs {which} ({names}): one Mermaid diagram draws one lab; "
            "pick it with --lab or use --format markdown",
        )
    if not drawn:
        click.echo(f"no lab changed since {base}", err=True)
    return "".join(render_diagram(head, fmt, old, name) for name, head, old in drawn)
