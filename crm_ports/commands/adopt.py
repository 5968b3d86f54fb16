"""`crm-ports adopt aws` and `adopt azure`: a hand-built estate as a lab file that takes
its groups over.

Reads the VPC's groups, rules and holders (as `audit aws` reads a lab), or the NSG's
rules, its ASGs and the NICs holding them (as `audit azure` reads a lab), explains them
with the catalogue (`crm_ports.adopt.infer`), prints the evidence per group and every
live rule the lab leaves out on stderr (and records those in the lab's `removes:`), and
writes the lab file atomically (stdout without -o). Exit 2 for bad input, an ambiguous
group or no access."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from crm_ports.catalogue.model import Catalogue
from crm_ports.commands.common import catalogue, check_output, output_option, write_atomic
from crm_ports.errors import InputError
from crm_ports.inputs import yamlio
from crm_ports.lab.model import TOPOLOGIES

if TYPE_CHECKING:
    from crm_ports.adopt.infer import Explained
    from crm_ports.adopt.live import Estate

F = TypeVar("F", bound=Callable[..., Any])
LAB_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")  # as lab.schema.json's name


@click.group()
def adopt() -> None:
    """Bring a hand-built CRM estate under crm-ports without replacing anything."""


def _hosts(path: Path | None, found: Catalogue) -> dict[str, tuple[str, ...]]:
    """--hosts FILE: group id or group name -> roles, each a role of the catalogue."""
    if path is None:
        return {}
    shown = yamlio.display_name(path)
    doc = yamlio.parse_bytes(yamlio.read(path, shown), shown)
    if not isinstance(doc.data, dict):
        raise InputError(shown, "", "", "expected a mapping: group id or name -> [roles]", 1)
    out: dict[str, tuple[str, ...]] = {}
    for group, roles in doc.data.items():
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InputError(
                shown, f"group '{group}'", "", "expected a list of roles", doc.line((group,))
            )
        out[str(group)] = tuple(roles)
    known = {r.id for r in found.roles}
    for group, roles in out.items():
        for role in roles:
            if role not in known:
                raise InputError(
                    shown,
                    f"group '{group}'",
                    "roles",
                    f"unknown role '{role}' (known: {', '.join(sorted(known))})",
                    doc.line((group,)),
                )
    return out


def inference_options(group: str, internet: str) -> Callable[[F], F]:
    """--hosts and --keep-unexplained, worded for the cloud's groups."""

    def wrap(command: F) -> F:
        command = click.option(
            "--keep-unexplained",
            is_flag=True,
            help=f"Keep live rules that break a policy (RDP from {internet}) as extra rules, "
            "instead of leaving them out (the first apply revokes those).",
        )(command)
        return click.option(
            "--hosts",
            "hosts_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            metavar="FILE",
            help=f"YAML mapping {group} id or name -> roles, for the {group}s the inference "
            "cannot place (it wins over the inference).",
        )(command)

    return wrap


@adopt.command(
    "aws",
    epilog="""\b
Examples:
  crm-ports adopt aws --vpc-id vpc-0abc1234 --name acme --region eu-west-1 -o labs/acme.yaml
  crm-ports adopt aws --vpc-id vpc-0abc1234 --name acme --hosts hosts.yaml -o labs/acme.yaml
  crm-ports adopt aws --vpc-id vpc-0abc1234 --name acme \\
      --endpoint-url http://127.0.0.1:5000 -o labs/acme.yaml""",
)
@click.option("--vpc-id", "vpc_id", required=True, metavar="VPC", help="The VPC to adopt.")
@click.option("--name", "name", required=True, metavar="LAB", help="The lab's name.")
@click.option("--region", default="us-east-1", show_default=True, metavar="R")
@click.option(
    "--endpoint-url",
    "endpoint_url",
    default=None,
    metavar="URL",
    help="An EC2 emulator (moto); the lab then targets it (aws.endpoint_url).",
)
@inference_options("group", "0.0.0.0/0")
@output_option
@click.pass_context
def aws(
    ctx: click.Context,
    /,
    vpc_id: str,
    name: str,
    region: str,
    endpoint_url: str | None,
    hosts_path: Path | None,
    keep_unexplained: bool,
    output: Path | None,
) -> int:
    """Write a lab file that adopts a VPC's security groups.

    One host per live group, named after it, with the roles the catalogue's flows
    explain (the evidence is printed per group on stderr); options and peer ranges from
    the rules; live rules no flow explains as extra rules with the reason 'adopted from
    <sg-id>: review', except those that break a policy (reported, left out unless
    --keep-unexplained); and an `adopt:` section so that synth imports the groups and
    the matching rules instead of creating new ones, with each left-out rule under its
    host's `removes:` (why it goes), which `diff` and `review` list first."""
    check_output(ctx, output, hosts_path)
    from crm_ports.adopt.infer import explain
    from crm_ports.adopt.live import read_estate
    from crm_ports.adopt.render import lab_text
    from crm_ports.audit.aws import AwsTarget, default_client

    _check_name(name, aws=True)
    found = catalogue(ctx)
    given = _hosts(hosts_path, found)
    target = AwsTarget(region, endpoint_url, emulator=endpoint_url is not None)
    estate = read_estate(default_client(target), target, vpc_id)
    explained = explain(
        estate,
        found,
        name=name,
        region=region,
        endpoint_url=endpoint_url,
        given=_by_group(given, estate, hosts_path, vpc_id),
        keep_unexplained=keep_unexplained,
    )
    return _finish(explained, lab_text(explained, vpc_id), output, "group")


def _check_name(name: str, *, aws: bool) -> None:
    """The lab's name as lab.schema.json's `name`; on AWS not starting with 'sg-' (EC2
    refuses such group names)."""
    if (
        not LAB_NAME.match(name)
        or len(name) > 40
        or name in TOPOLOGIES
        or (aws and name.startswith("sg-"))
    ):
        raise InputError(
            "command line",
            "",
            "name",
            f"'{name}' cannot name a lab: lower-case words joined by '-' (such as acme), "
            "at most 40 characters, not a default lab's name"
            + (", not starting with 'sg-'" if aws else ""),
        )


def _by_group(
    given: dict[str, tuple[str, ...]], estate: Estate, hosts_path: Path | None, where: str
) -> dict[str, tuple[str, ...]]:
    """--hosts keyed by live group id, whether it named a group by id or by name."""
    by_id = {g.group_id: g.group_id for g in estate.groups}
    by_id.update({g.name: g.group_id for g in estate.groups})
    unknown = sorted(set(given) - set(by_id))
    if unknown:
        raise InputError(
            yamlio.display_name(hosts_path) if hosts_path else "--hosts",
            f"group '{unknown[0]}'",
            "",
            f"no such group in {where}",
        )
    return {by_id[k]: v for k, v in given.items()}


def _finish(explained: Explained, text: str, output: Path | None, kind: str) -> int:
    """The evidence and what is left out on stderr; the lab file atomically, read back
    as a lab, or on stdout."""
    from crm_ports.lab.file import load_lab

    for line in explained.evidence:
        click.echo(f"{kind} {line}", err=True)
    for line in explained.left_out:
        click.echo(f"left out: {line}", err=True)
    if output is None:
        click.echo(text, nl=False)
        return 0
    write_atomic(output, text)
    load_lab(output)  # what was written reads back as a lab
    click.echo(f"wrote {yamlio.display_name(output)}", err=True)
    return 0


@adopt.command(
    "azure",
    epilog="""\b
Examples:
  crm-ports adopt azure --subscription-id SUB --resource-group rg-crm --nsg crm-nsg \\
      --name acme -o labs/acme.yaml
  crm-ports adopt azure --resource-group rg-crm --nsg crm-nsg --name acme \\
      --hosts hosts.yaml -o labs/acme.yaml""",
)
@click.option(
    "--subscription-id",
    "subscription_id",
    envvar="AZURE_SUBSCRIPTION_ID",
    required=True,
    metavar="ID",
    help="Azure subscription. [default: $AZURE_SUBSCRIPTION_ID]",
)
@click.option(
    "--resource-group",
    "resource_group",
    required=True,
    metavar="RG",
    help="The NSG's resource group.",
)
@click.option(
    "--nsg", "nsg", required=True, metavar="NAME", help="The network security group to adopt."
)
@click.option("--name", "name", required=True, metavar="LAB", help="The lab's name.")
@inference_options("ASG", "Internet")
@output_option
@click.pass_context
def azure(
    ctx: click.Context,
    /,
    subscription_id: str,
    resource_group: str,
    nsg: str,
    name: str,
    hosts_path: Path | None,
    keep_unexplained: bool,
    output: Path | None,
) -> int:
    """Write a lab file that adopts a network security group and its ASGs.

    One host per application security group the NSG's rules allow traffic into, named
    after it, with the roles the catalogue's flows explain (evidence per ASG on stderr,
    with the network interfaces holding it); options and peer ranges from the rules;
    live rules no flow explains as extra rules with the reason 'adopted from NSG rule
    <name>: review', except those that break a policy (reported, left out unless
    --keep-unexplained); and an `adopt_azure:` section with the ARM ids, so that synth
    imports the NSG and the ASGs instead of creating new ones. The NSG's rules are one
    set in Terraform: the first apply removes every live rule reported as left out."""
    check_output(ctx, output, hosts_path)
    from crm_ports.adopt.azure import explain_azure
    from crm_ports.adopt.azure_live import read_estate
    from crm_ports.adopt.render import azure_lab_text
    from crm_ports.audit import azure as arm

    _check_name(name, aws=False)
    found = catalogue(ctx)
    given = _hosts(hosts_path, found)
    target = arm.AzureTarget(subscription_id, resource_group)
    with arm.translated(target, nsg):
        client = arm.default_client(target)
    live = read_estate(client, target, nsg)
    explained = explain_azure(
        live,
        found,
        name=name,
        given=_by_group(given, live.estate, hosts_path, f"resource group {resource_group}"),
        keep_unexplained=keep_unexplained,
    )
    return _finish(explained, azure_lab_text(explained), output, "asg")
