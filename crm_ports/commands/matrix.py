"""`crm-ports matrix`: group-by-group connectivity of a lab."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from crm_ports.commands.common import (
    check_output,
    emit,
    format_option,
    output_option,
    rule_options,
    ruleset_from,
)
from crm_ports.views import render_matrix


@click.command(
    epilog="""\b
Examples:
  crm-ports matrix
  crm-ports matrix --topology full-server --format markdown"""
)
@rule_options
@format_option()
@output_option
@click.pass_context
def matrix(
    ctx: click.Context, /, lab_path: Path | None, fmt: str, output: Path | None, **values: Any
) -> int:
    """Group-by-group connectivity: what each host group may open towards each other one."""
    check_output(ctx, output, lab_path)
    emit(render_matrix(ruleset_from(ctx, lab_path, values), fmt), output)
    return 0
