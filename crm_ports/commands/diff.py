"""`crm-ports diff`: what a change does to rules and clouds. It never synthesizes, so it
never imports cdktf or starts Node; its git, tar and review modules load when it runs,
and it never loads the policy checks."""

from __future__ import annotations

from pathlib import Path

import click

from crm_ports.commands.common import (
    check_output,
    emit,
    format_option,
    note,
    output_option,
    review_space,
)
from crm_ports.formats import to_json


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
    help="Git ref, synthesized folder (crm-ports synth, or an app's cdktf.out) or lab file "
    "to compare from.",
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

    The labs compared are those of the project file (crm-ports.yaml: its lab globs and
    catalogue), at a git ref as the ref's own project file names them; without one, the
    default labs plus every labs/*.yaml, and catalog/. A git ref without a catalogue
    folder of its own is read with the working tree's catalogue. A lab file: just that
    lab."""
    from crm_ports.review.diff import diff_json, diff_sides
    from crm_ports.review.markdown import render_markdown
    from crm_ports.review.sides import load_side

    check_output(ctx, output, base, head)
    space = review_space(ctx)
    old = load_side(base, space, "--base")
    new = load_side(head, space, "--head")
    note((*old.notes, *new.notes))
    labs = diff_sides(old, new)
    if fmt == "json":
        text = to_json(diff_json(old, new, labs))
    else:
        text = render_markdown(old.label, new.label, labs)
    emit(text, output)
    return 1 if any(lab.changed for lab in labs) else 0
