"""`crm-ports audit aws|azure`: is what is deployed still what the lab's plan says?

The expected side goes through the one data path (catalogue -> resolve -> RuleSet ->
plan), so an audit compares live state with exactly what `synth` would render today.
Exit status: 0 no drift and no policy error, 1 drift or a policy error in the live rules
(unless --fail-on never), 2 bad input or no access.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from crm_ports import install_hint
from crm_ports.audit.policy import PolicyScope
from crm_ports.audit.report import FORMATS, render
from crm_ports.commands.common import (
    catalogue,
    check_output,
    emit,
    format_option,
    lab_and_options,
    options_alone,
    output_option,
    rule_options,
)
from crm_ports.errors import InputError
from crm_ports.lab.model import Lab, default_labs
from crm_ports.resolver.engine import resolve_lab
from crm_ports.ruleset import RuleSet

FAIL_ON = ("drift", "never")


def lab_name_option(func: Any) -> Any:
    return click.option(
        "--lab-name",
        "lab_name",
        default=None,
        metavar="NAME",
        help="The deployed lab's name (its crm-ports:lab tag). [default: the lab file's "
        "name, else the topology, as the default labs are named]",
    )(func)


def fail_on_option(func: Any) -> Any:
    return click.option(
        "--fail-on",
        "fail_on",
        type=click.Choice(FAIL_ON),
        default="drift",
        show_default=True,
        help="Exit 1 when drift or a policy error (CRM001-CRM004, CRM006, CRM007) is found "
        "in the live rules (drift), or report only (never).",
    )(func)


def lab_for_audit(
    ctx: click.Context,
    cloud: str,
    lab_path: Path | None,
    lab_name: str | None,
    values: dict[str, Any],
) -> tuple[Lab, RuleSet]:
    """The lab as deployed: the lab file (or the default lab of the topology), with any
    option flags applied on top and the name --lab-name gives."""
    if lab_path is None:
        options_alone(ctx, values)
    lab, options = lab_and_options(lab_path, values)
    if lab is None:
        defaults = {d.name: d for d in default_labs()}
        lab = defaults.get(options.topology) or Lab(name=options.topology, options=options)
    if cloud not in lab.clouds:
        raise InputError(
            lab.origin,
            f"lab '{lab.name}'",
            "clouds",
            f"the lab has no {cloud} stack (clouds: {', '.join(lab.clouds)})",
        )
    name = lab.name if lab_name is None else lab_name.strip()
    if not name:
        raise InputError("command line", "options", "lab-name", "must not be empty")
    lab = replace(lab, options=options)
    return replace(lab, name=name), resolve_lab(catalogue(ctx), lab)


def _needs(module: str, cloud: str) -> None:
    """The cloud SDKs are the `audit` extra: synthesis and review never need them, so a
    plain `pip install crm-ports` (and `make synth`) leaves them out."""
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a missing parent package (`azure`)
        found = False
    if not found:
        raise InputError(
            "command line",
            "",
            f"audit {cloud}",
            f"needs {module.split('.')[0]} ({module}), which crm-ports installs with its "
            f"audit extra: {install_hint('audit')}",
        )


def _required(flag: str, value: str | None) -> str:
    if not value:
        raise InputError("command line", "options", flag, "required for an Azure audit")
    return value


def finish(text: str, output: Path | None, drift: bool, fail_on: str) -> int:
    emit(text, output)
    return 1 if drift and fail_on == "drift" else 0


@click.group(
    epilog="""\b
Examples:
  crm-ports audit aws --lab labs/contoso-claims.yaml
  crm-ports audit azure --lab labs/contoso-claims.yaml --subscription-id SUB
  crm-ports audit aws --help
\b
Exit status: 0 no drift and no policy error, 1 drift or a live rule breaking a policy
check with severity error (with --fail-on drift, the default),
2 bad input, no credentials, no access, no such lab or endpoint unreachable."""
)
def audit() -> None:
    """Compare a deployed lab's firewall with its plan: missing, unexpected and changed
    rules and groups."""


@audit.command(
    "aws",
    epilog="""\b
Examples:
  crm-ports audit aws --lab labs/contoso-claims.yaml
  crm-ports audit aws --topology full-server --region eu-west-1 --format json
  crm-ports audit aws --lab-name full-server --endpoint-url http://127.0.0.1:5000
  crm-ports audit aws --lab labs/fabrikam-full-server.yaml --format markdown --fail-on never""",
)
@lab_name_option
@click.option(
    "--region",
    default=None,
    metavar="REGION",
    help="AWS region to look in. [default: the lab's aws.region]",
)
@click.option(
    "--endpoint-url",
    "endpoint_url",
    default=None,
    metavar="URL",
    help="EC2 endpoint, with the usual AWS credentials. [default: the lab's aws.endpoint_url, "
    "an emulator reached with its test credentials, as the lab's stack does; else AWS]",
)
@format_option(formats=FORMATS)
@fail_on_option
@output_option
@rule_options
@click.pass_context
def aws(
    ctx: click.Context,
    /,
    lab_path: Path | None,
    lab_name: str | None,
    region: str | None,
    endpoint_url: str | None,
    fmt: str,
    fail_on: str,
    output: Path | None,
    **values: Any,
) -> int:
    """Audit an AWS lab's security groups and rules.

    Groups are found by their crm-ports:lab tag in the region (or at --endpoint-url) and
    compared, rule by rule, with the AWS plan of the lab. Credentials come from the usual
    AWS chain (environment, profile, SSO, instance or task role); the audit only needs
    ec2:DescribeSecurityGroups and ec2:DescribeSecurityGroupRules."""
    check_output(ctx, output, lab_path)
    _needs("boto3", "aws")
    from crm_ports.audit.aws import AwsTarget, audit_aws
    from crm_ports.plans.aws import plan_aws

    lab, ruleset = lab_for_audit(ctx, "aws", lab_path, lab_name, values)
    plan = plan_aws(ruleset, lab.name, egress=lab.aws.egress, origin=lab.origin, adopt=lab.adopt)
    target = AwsTarget(
        region or lab.aws.region,
        endpoint_url or lab.aws.endpoint_url,
        emulator=endpoint_url is None and lab.aws.endpoint_url is not None,
    )
    report = audit_aws(plan, target, policy=PolicyScope(lab, ruleset))
    return finish(render(report, fmt), output, report.drift or report.policy_errors, fail_on)


@audit.command(
    "azure",
    epilog="""\b
Examples:
  crm-ports audit azure --lab labs/contoso-claims.yaml --subscription-id SUB \\
      --resource-group rg-crm-lab
  crm-ports audit azure --topology split-roles --subscription-id SUB \\
      --resource-group rg-crm-lab --format json""",
)
@lab_name_option
@click.option(
    "--subscription-id",
    "subscription_id",
    envvar="AZURE_SUBSCRIPTION_ID",
    default=None,
    metavar="ID",
    help="Azure subscription. [default: $AZURE_SUBSCRIPTION_ID]",
)
@click.option(
    "--resource-group",
    "resource_group",
    default=None,
    metavar="RG",
    help="Resource group holding the lab's NSG and ASGs. [default: the lab's "
    "azure.resource_group_name, else the one the lab stack creates, <lab>-rg]",
)
@format_option(formats=FORMATS)
@fail_on_option
@output_option
@rule_options
@click.pass_context
def azure(
    ctx: click.Context,
    /,
    lab_path: Path | None,
    lab_name: str | None,
    subscription_id: str | None,
    resource_group: str | None,
    fmt: str,
    fail_on: str,
    output: Path | None,
    **values: Any,
) -> int:
    """Audit an Azure lab's NSG rules and application security groups.

    The lab's NSG (named by the plan) and the resource group's ASGs are compared with the
    Azure plan of the lab. Credentials come from DefaultAzureCredential (environment,
    workload or managed identity, az login); the Reader role is enough."""
    check_output(ctx, output, lab_path)
    _needs("azure.mgmt.network", "azure")
    _needs("azure.identity", "azure")
    from crm_ports.audit.azure import AzureTarget, audit_azure
    from crm_ports.plans.azure import default_resource_group, plan_azure

    lab, ruleset = lab_for_audit(ctx, "azure", lab_path, lab_name, values)
    target = AzureTarget(
        _required("subscription-id", subscription_id),
        resource_group or lab.azure.resource_group_name or default_resource_group(lab.name),
    )
    plan = plan_azure(ruleset, lab.name, origin=lab.origin, adopt=lab.adopt_azure)
    report = audit_azure(plan, target, policy=PolicyScope(lab, ruleset))
    return finish(render(report, fmt), output, report.drift or report.policy_errors, fail_on)
