"""`crm-ports validate`: catalogues (the built-in one by default), lab files and folders of
them checked, every topology and option combination resolved. (Every command has a
module of its own, so that running one declares only its own options and loads only its
own machinery.)"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crm_ports.catalogue.load import load_catalogue
from crm_ports.catalogue.model import REQUIRED_SECTIONS, SECTIONS, Catalogue
from crm_ports.commands.common import catalogue, catalogue_path
from crm_ports.errors import InputError, located
from crm_ports.inputs import yamlio
from crm_ports.options import SPEC_BY_NAME, SPECS, Options, OptionSpec, parser_for
from crm_ports.resolver.engine import resolve
from crm_ports.ruleset import IdleRole

if TYPE_CHECKING:  # a lab's own hosts load their module where a lab file gives them
    from crm_ports.lab.placement import Placement

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
  crm-ports validate                        # the catalogue in use: --catalog, else the built-in one
  crm-ports validate --builtin labs/        # the built-in catalogue and every lab file in labs/
  crm-ports validate my-catalog/            # a catalogue folder you edited
  crm-ports validate my-catalogue.yaml      # one file holding every section
  crm-ports validate catalog/flows.yaml     # one file of a catalogue folder: that folder
  crm-ports validate labs/contoso-claims.yaml"""
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--builtin",
    is_flag=True,
    help="Check the catalogue crm-ports ships with, whatever --catalog names.",
)
@click.pass_context
def validate(ctx: click.Context, /, paths: tuple[Path, ...], builtin: bool) -> int:
    """Check catalogues and lab files; exit 2 on the first error.

    Without a path, the catalogue in use (--catalog, else the built-in one); --builtin
    names the built-in one. A folder of lab files (none with a catalogue section such as
    services or flows) is checked lab by lab, any other folder as a catalogue; a file
    with catalogue sections as a catalogue, any other YAML file as a lab file. Labs are
    resolved against the catalogue in use. A role a lab places where the options give it
    no flow is a warning (exit 0)."""
    if builtin or not paths:
        source = None if builtin else catalogue_path(ctx)
        name = BUILTIN if source is None else yamlio.display_name(source)
        _report_catalogue(name, load_catalogue(source))
    done: set[Path] = set()
    for path in paths:
        if not path.exists():  # neither kind: say so, not "no such catalogue directory"
            raise InputError(yamlio.display_name(path), "", "", "no such file or directory")
        if path.is_file() and not _is_catalogue_file(path):
            _check_lab(ctx, path)
        elif path.is_dir() and _is_lab_folder(path):
            for lab_path in _yaml_files(path):
                _check_lab(ctx, lab_path)
        elif (source := _catalogue_of(path)).resolve() not in done:
            done.add(source.resolve())
            _report_catalogue(yamlio.display_name(source), load_catalogue(source))
    return 0


BUILTIN = "built-in catalogue"


def _report_catalogue(name: str, cat: Catalogue) -> None:
    variants = check_catalogue(cat)
    click.echo(
        f"{name}: {len(cat.services)} services, {len(cat.roles)} roles, "
        f"{len(cat.flows)} flows, {len(cat.topologies)} topologies; "
        f"resolved {variants} topology and option combinations"
    )


def _check_lab(ctx: click.Context, path: Path) -> None:
    from crm_ports.lab.file import load_lab
    from crm_ports.synth.plan import plan_stacks

    lab = load_lab(path)
    plans = plan_stacks([lab], catalogue(ctx))  # resolves, then checks each cloud's limits
    if lab.placement is not None and plans:
        _warn_idle(lab.origin, lab.placement, plans[0].rules.idle_roles)
    click.echo(f"{yamlio.display_name(path)}: lab '{lab.name}' is valid")


def _warn_idle(origin: str, placement: Placement, idle_roles: tuple[IdleRole, ...]) -> None:
    """A role the options leave without a flow: one warning line each, located at the role
    in the lab file, as an error would be; the lab is still valid (exit 0)."""
    for idle in idle_roles:
        host = placement.host(idle.group)
        field = f"{host.field_path}.roles[{host.roles.index(idle.role)}]"
        where = located(origin, f"host '{host.name}'", field, idle.message(), host.location.line)
        click.echo(f"crm-ports: warning: {where}", err=True)


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def _is_lab_folder(folder: Path) -> bool:
    """A folder whose YAML files hold no catalogue section: lab files, as in `labs/`. A
    catalogue folder has a section in every file, so one is enough to tell them apart."""
    files = _yaml_files(folder)
    return bool(files) and not any(_is_catalogue_file(p) for p in files)


def _catalogue_of(path: Path) -> Path:
    """The catalogue `path` belongs to: a file holding only some of the sections a
    catalogue needs, in a folder of catalogue files, is one part of that folder's
    catalogue (pre-commit passes `catalog/flows.yaml` alone), validated once for all its
    files; any other path is a catalogue of its own."""
    if path.is_dir() or _holds_every_section(path):
        return path
    folder = path.parent
    siblings = _yaml_files(folder)
    return folder if len(siblings) > 1 and all(map(_is_catalogue_file, siblings)) else path


def _holds_every_section(path: Path) -> bool:
    data = yamlio.load(path).data
    return isinstance(data, dict) and all(data.get(k) for k in REQUIRED_SECTIONS)


def _is_catalogue_file(path: Path) -> bool:
    data = yamlio.load(path).data
    return isinstance(data, dict) and any(k in data for k in SECTIONS)
