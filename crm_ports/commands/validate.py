"""`crm-ports validate`: catalogues and lab files checked, every topology and option
combination resolved. (Every command has a module of its own, so that running one
declares only its own options and loads only its own machinery.)"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import click

from crm_ports.catalogue.load import load_catalogue
from crm_ports.catalogue.model import SECTIONS, Catalogue
from crm_ports.commands.common import catalogue
from crm_ports.errors import InputError
from crm_ports.inputs import yamlio
from crm_ports.options import SPEC_BY_NAME, SPECS, Options, OptionSpec, parser_for
from crm_ports.resolver.engine import resolve

# Switches of the domain controllers' replication: their flows name only the domain
# controller, so they vary in a table of their own (every topology, both Exchange
# placements) rather than multiplying the product below sixfold.
DC_SWITCHES = ("domain_controllers", "ad_replication")
# Options that switch flows, services or groups on and off; the others only refuse a lab
# (exchange_server, the email profiles) or change port numbers.
SWITCHES = tuple(
    spec
    for spec in SPECS
    if spec.name not in DC_SWITCHES
    and (
        spec.kind == "bool"
        or (
            spec.kind == "choice"
            and spec.name not in ("topology", "exchange_server")
            and not spec.name.startswith("email_")
        )
    )
)


def _switch_values(spec: OptionSpec) -> tuple[Any, ...]:
    if spec.kind == "bool":
        return (True, False)
    return tuple(parser_for(spec)(choice) for choice in spec.choices)


def _variants(cat: Catalogue) -> list[Options]:
    """Every topology of the catalogue under every combination of the switches."""
    choices = [(spec.name, _switch_values(spec)) for spec in SWITCHES]
    out: list[Options] = []
    for topology in cat.topologies:
        for combo in itertools.product(*(values for _, values in choices)):
            values = dict(zip((name for name, _ in choices), combo, strict=True))
            out.append(Options(topology=topology.id, origin="validate").with_values(values))
        for mode in SPEC_BY_NAME["ad_replication"].choices:
            for inside in (True, False):
                values = {
                    "domain_controllers": 2,
                    "ad_replication": mode,
                    "exchange_in_lab": inside,
                }
                out.append(Options(topology=topology.id, origin="validate").with_values(values))
    return out


def check_catalogue(cat: Catalogue) -> int:
    """Resolve every variant: a flow that names a role a topology lacks, or a role placed
    twice, only shows up once resolved."""
    variants = _variants(cat)
    for options in variants:
        resolve(cat, options)
    return len(variants)


@click.command(
    epilog="""\b
Examples:
  crm-ports validate catalog/
  crm-ports validate my-catalogue.yaml      # one file holding every section
  crm-ports validate labs/contoso-claims.yaml"""
)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def validate(ctx: click.Context, /, paths: tuple[Path, ...]) -> int:
    """Check catalogue directories, catalogue files or lab files; exit 2 on the first error.

    A folder, or a file whose top level has catalogue sections (services, flows, ...), is
    checked as a catalogue; any other YAML file as a lab file, resolved against the
    catalogue in use (--catalog, else the built-in one)."""
    for path in paths:
        if not path.exists():  # neither kind: say so, not "no such catalogue directory"
            raise InputError(yamlio.display_name(path), "", "", "no such file or directory")
        if path.is_file() and not _is_catalogue_file(path):
            from crm_ports.lab.file import load_lab
            from crm_ports.synth.plan import plan_stacks

            lab = load_lab(path)

            plan_stacks([lab], catalogue(ctx))  # resolves, then checks each cloud's limits
            click.echo(f"{yamlio.display_name(path)}: lab '{lab.name}' is valid")
            continue
        cat = load_catalogue(path)
        variants = check_catalogue(cat)
        click.echo(
            f"{yamlio.display_name(path)}: {len(cat.services)} services, {len(cat.roles)} roles, "
            f"{len(cat.flows)} flows, {len(cat.topologies)} topologies; "
            f"resolved {variants} topology and option combinations"
        )
    return 0


def _is_catalogue_file(path: Path) -> bool:
    data = yamlio.load(path).data
    return isinstance(data, dict) and any(k in data for k in SECTIONS)
