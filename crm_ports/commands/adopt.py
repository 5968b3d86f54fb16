"""`crm-ports adopt aws`: a hand-built estate as a lab file that takes its groups over.

Reads the VPC's groups, rules and holders (as `audit aws` reads a lab), explains them
with the catalogue (`crm_ports.adopt.infer`), prints the evidence per group and every
live rule the lab leaves out on stderr (and records those in the lab's `removes:`), and
writes the lab file atomically (stdout without -o). Exit 2 for bad input, an ambiguous
group or no access."""

from __future__ import annotations

import re
from pathlib import Path

import click

from crm_ports.commands.common import catalogue, check_output, output_option, write_atomic
from crm_ports.errors import InputError
from crm_ports.inputs import yamlio
from crm_ports.lab.model import TOPOLOGIES

LAB_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")  # as lab.schema.json's name


@click.group()
def adopt() -> None:
    """Bring a hand-built CRM estate under crm-ports without replacing anything."""


def _hosts(path: Path | None) -> dict[str, tuple[str, ...]]:
    """--hosts FILE: group id or group name -> roles."""
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
    return out


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
@click.option(
    "--hosts",
    "hosts_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="YAML mapping group id or name -> roles, for the groups the inference cannot "
    "place (it wins over the inference).",
)
@click.option(
    "--keep-unexplained",
    is_flag=True,
    help="Keep live rules that break a policy (RDP from 0.0.0.0/0) as extra rules, instead "
    "of listing them in the lab's removes: (the first apply revokes those).",
)
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
    from crm_ports.lab.file import load_lab

    given = _hosts(hosts_path)
    if not LAB_NAME.match(name) or len(name) > 40 or name in TOPOLOGIES or name.startswith("sg-"):
        raise InputError(
            "command line",
            "",
            "name",
            f"'{name}' cannot name a lab: lower-case words joined by '-' (such as acme), "
            "at most 40 characters, not a default lab's name, not starting with 'sg-'",
        )
    target = AwsTarget(region, endpoint_url, emulator=endpoint_url is not None)
    found = catalogue(ctx)
    known = {r.id for r in found.roles}
    for group, roles in given.items():
        for role in roles:
            if role not in known:
                raise InputError(
                    yamlio.display_name(hosts_path) if hosts_path else "--hosts",
                    f"group '{group}'",
                    "roles",
                    f"unknown role '{role}' (known: {', '.join(sorted(known))})",
                )
    estate = read_estate(default_client(target), target, vpc_id)
    by_id = {g.group_id: g.group_id for g in estate.groups}
    by_id.update({g.name: g.group_id for g in estate.groups})
    unknown = sorted(set(given) - set(by_id))
    if unknown:
        raise InputError(
            yamlio.display_name(hosts_path) if hosts_path else "--hosts",
            f"group '{unknown[0]}'",
            "",
            f"no such group in {vpc_id}",
        )
    explained = explain(
        estate,
        found,
        name=name,
        region=region,
        endpoint_url=endpoint_url,
        given={by_id[k]: v for k, v in given.items()},
        keep_unexplained=keep_unexplained,
    )
    for line in explained.evidence:
        click.echo(f"group {line}", err=True)
    for line in explained.left_out:
        click.echo(f"left out: {line}", err=True)
    text = lab_text(explained, vpc_id)
    if output is None:
        click.echo(text, nl=False)
        return 0
    write_atomic(output, text)
    load_lab(output)  # what was written reads back as a lab
    click.echo(f"wrote {yamlio.display_name(output)}", err=True)
    return 0
