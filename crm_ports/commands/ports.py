"""`crm-ports ports`: the catalogue as the seeds' tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from crm_ports.commands.common import (
    catalogue,
    check_output,
    emit,
    format_option,
    lab_and_options,
    options_alone,
    output_option,
    resolve_for,
    rule_options,
)
from crm_ports.views import render_ports


@click.command(
    epilog="""\b
Examples:
  crm-ports ports
  crm-ports ports --format markdown > PORTS.md
  crm-ports ports --sql-port 1533 --web-port 5555 --format json"""
)
@rule_options
@format_option()
@output_option
@click.pass_context
def ports(
    ctx: click.Context, /, lab_path: Path | None, fmt: str, output: Path | None, **values: Any
) -> int:
    """The catalogue as the seeds' tables: protocol, port, service, explanation, source.

    Ports that an option sets (web, SQL, sandbox, RPC range) show the value for the
    options given."""
    check_output(ctx, output, lab_path)
    if lab_path is None:
        options_alone(ctx, values)
    lab, options = lab_and_options(lab_path, values)
    if lab is not None:
        # The table needs only the lab's options, but a lab file is bad input here as in
        # every other command: its placement and the checks that need the catalogue too.
        resolve_for(ctx, lab, options)
    emit(render_ports(catalogue(ctx), options, fmt), output)
    return 0
