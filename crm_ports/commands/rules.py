"""`crm-ports rules`: the resolved rule set of a lab."""

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
from crm_ports.views import render_rules


@click.command(
    epilog="""\b
Examples:
  crm-ports rules
  crm-ports rules --topology full-server --auth claims --format markdown
  crm-ports rules --lab labs/contoso-claims.yaml --format json -o rules.json
  crm-ports rules --phase operation --no-https --client-cidr 192.168.10.0/24
  crm-ports rules --load-balancer cloud --exchange-in-lab --domain-controllers 2"""
)
@rule_options
@format_option()
@output_option
@click.pass_context
def rules(
    ctx: click.Context, /, lab_path: Path | None, fmt: str, output: Path | None, **values: Any
) -> int:
    """The resolved rule set: which group may reach which, on which ports, and why.

    JSON is the stable interface: {"topology", "options", "groups", "rules"}, each rule
    with id, from, to, protocol, from_port, to_port, service, description and refs."""
    check_output(ctx, output, lab_path)
    emit(render_rules(ruleset_from(ctx, lab_path, values), fmt), output)
    return 0
