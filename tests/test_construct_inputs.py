"""The construct API refuses what a lab file refuses: bad CIDRs, roles, ports and names
raise one `InputError` line naming the construct (class and id), the argument and the
value, when the construct is created or the host added, before anything is synthesized."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from crm_ports.catalogue.load import load_catalogue
from crm_ports.errors import InputError
from crm_ports.options import Options
from crm_ports.plans.aws import plan_aws
from crm_ports.plans.azure import plan_azure
from crm_ports.resolver.engine import resolve
from crm_ports.ruleset import RuleSet

pytestmark = [pytest.mark.slow, pytest.mark.flavoured]

APP = ["web-application", "asynchronous-service", "sandbox-processing", "deployment-web-service"]


def _rules(**values: Any) -> RuleSet:
    return resolve(load_catalogue(), Options().with_values(values))


def _stack() -> Any:
    from crm_ports.constructs.cdk import TerraformStack, Testing

    return TerraformStack(Testing.app(), "s")


def aws_firewall(**given: Any) -> Any:
    from crm_ports.constructs import AwsCrmFirewall

    values: dict[str, Any] = {"rules": _rules(), "vpc_id": "vpc-0abc1234", **given}
    return AwsCrmFirewall(_stack(), "fw", **values)


def azure_firewall(**given: Any) -> Any:
    from crm_ports.constructs import AzureCrmFirewall

    values = {"rules": _rules(), "resource_group_name": "rg", "location": "westeurope", **given}
    return AzureCrmFirewall(_stack(), "fw", **values)


def aws_lab(**given: Any) -> Any:
    from crm_ports.constructs import AwsCrmLab

    return AwsCrmLab(_stack(), "lab", **{"vpc_id": "vpc-0abc1234", **given})


def azure_lab(**given: Any) -> Any:
    from crm_ports.constructs import AzureCrmLab

    values = {"resource_group_name": "rg", "location": "westeurope", **given}
    return AzureCrmLab(_stack(), "lab", **values)


def aws_group(**given: Any) -> Any:
    from crm_ports.constructs import AwsCrmGroup

    spec = plan_aws(_rules(), "acme").security_groups[0]
    return AwsCrmGroup(_stack(), "group", **{"spec": spec, "vpc_id": "vpc-0abc1234", **given})


def azure_group(**given: Any) -> Any:
    from crm_ports.constructs import AzureCrmGroup

    spec = plan_azure(_rules(), "acme").asgs[0]
    values = {"spec": spec, "resource_group_name": "rg", "location": "westeurope", **given}
    return AzureCrmGroup(_stack(), "group", **values)


def add_host(make: Callable[..., Any], name: str, roles: Any) -> Callable[..., Any]:
    def build() -> Any:
        lab = make()
        lab.add_host(name, roles=roles)
        return lab

    return build


def add_rule(make: Callable[..., Any], target: str, ports: Any) -> Callable[..., Any]:
    def build() -> Any:
        lab = make()
        lab.add_host("app", roles=APP)
        lab.add_rule("app", target, protocol="tcp", ports=ports, reason="a reason long enough")
        return lab

    return build


BAD_CIDR = {"client_cidrs": ["10.0.0.0/33"]}
BAD_RULES_PORT = replace(_rules(), options=replace(Options(), web_port=70000))
FIREWALLS = {"AwsCrmFirewall": aws_firewall, "AzureCrmFirewall": azure_firewall}
LABS = {"AwsCrmLab": aws_lab, "AzureCrmLab": azure_lab}

# (arguments, the argument the error names, the value it names): every firewall
FIREWALL_CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"peer_cidrs": BAD_CIDR}, "peer_cidrs.client_cidrs", "10.0.0.0/33"),
    ({"peer_cidrs": {"client_cidrs": "10.0.0.0/8"}}, "peer_cidrs.client_cidrs", "10.0.0.0/8"),
    ({"peer_cidrs": {"office_cidrs": ["10.0.0.0/8"]}}, "peer_cidrs", "office_cidrs"),
    ({"rules": _rules(client_cidrs=("10.0.0.0/33",))}, "rules.options.client_cidrs", "/33"),
    ({"rules": BAD_RULES_PORT}, "rules.options.web_port", "70000"),
    ({"rules": {"rules": []}}, "rules", "{'rules': []}"),
    ({"lab": "Acme Lab"}, "lab", "Acme Lab"),
    ({"logical_id_prefix": "1st "}, "logical_id_prefix", "1st "),
]
# every per-role lab
LAB_CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"peer_cidrs": BAD_CIDR}, "peer_cidrs.client_cidrs", "10.0.0.0/33"),
    ({"peer_cidrs": {"client_cidrs": []}}, "peer_cidrs.client_cidrs", "one or more CIDR"),
    ({"options": Options(admin_cidrs=("10.0.0.0/33",))}, "options.admin_cidrs", "10.0.0.0/33"),
    ({"options": Options(admin_cidrs=("2001:db8::/32",))}, "options.admin_cidrs", "2001:db8::"),
    ({"options": Options(web_port=70000)}, "options.web_port", "70000"),
    ({"options": Options(auth="kerberos")}, "options.auth", "kerberos"),
    ({"options": {"auth": "claims"}}, "options", "{'auth': 'claims'}"),
    ({"lab": "acme_lab"}, "lab", "acme_lab"),
    ({"lab": "a" * 41}, "lab", "a" * 41),
    ({"logical_id_prefix": "a.b"}, "logical_id_prefix", "a.b"),
]
# every per-role lab: a host or a rule added
STEP_CASES: list[tuple[Callable[[Callable[..., Any]], Callable[[], Any]], str, str]] = [
    (lambda m: add_host(m, "sql", ["sql-servr"]), "add_host[0].roles[0]", "sql-servr"),
    (lambda m: add_host(m, "sql", "sql-server"), "add_host[0].roles", "sql-server"),
    (lambda m: add_host(m, "SQL", ["sql-server"]), "add_host[0].name", "SQL"),
    (lambda m: add_host(m, "clients", ["sql-server"]), "add_host[0].name", "clients"),
    (lambda m: add_rule(m, "10.20.0.0/33", 8080), "add_rule[0].to", "10.20.0.0/33"),
    (lambda m: add_rule(m, "10.20.0.0/24", 70000), "add_rule[0].ports", "70000"),
]
# one class: (class, id, build, argument, value)
ONE_CLASS: list[tuple[str, str, Callable[[], Any], str, str]] = [
    ("AwsCrmFirewall", "fw", lambda: aws_firewall(egress="loose"), "egress", "loose"),
    ("AwsCrmFirewall", "fw", lambda: aws_firewall(vpc_id="my-vpc"), "vpc_id", "my-vpc"),
    ("AzureCrmFirewall", "fw", lambda: azure_firewall(location="West Europe"), "location", "West"),
    (
        "AzureCrmFirewall",
        "fw",
        lambda: azure_firewall(resource_group_name=""),
        "resource_group_name",
        "''",
    ),
    ("AwsCrmLab", "lab", lambda: aws_lab(egress="none"), "egress", "none"),
    ("AwsCrmLab", "lab", lambda: aws_lab(vpc_id="vpc-XYZ"), "vpc_id", "vpc-XYZ"),
    ("AzureCrmLab", "lab", lambda: azure_lab(location="west europe"), "location", "west europe"),
    ("AwsCrmGroup", "group", lambda: aws_group(vpc_id="vpc_1"), "vpc_id", "vpc_1"),
    ("AwsCrmGroup", "group", lambda: aws_group(logical_id_prefix="-x"), "logical_id_prefix", "-x"),
    ("AzureCrmGroup", "group", lambda: azure_group(location="West Europe"), "location", "West"),
    (
        "AzureCrmGroup",
        "group",
        lambda: azure_group(logical_id_prefix="a b"),
        "logical_id_prefix",
        "a b",
    ),
]


def _with(make: Callable[..., Any], arguments: dict[str, Any]) -> Callable[[], Any]:
    return lambda: make(**arguments)


CASES = [
    *[
        (kind, "fw", _with(make, arguments), argument, value)
        for kind, make in FIREWALLS.items()
        for arguments, argument, value in FIREWALL_CASES
    ],
    *[
        (kind, "lab", _with(make, arguments), argument, value)
        for kind, make in LABS.items()
        for arguments, argument, value in LAB_CASES
    ],
    *[
        (kind, "lab", step(make), argument, value)
        for kind, make in LABS.items()
        for step, argument, value in STEP_CASES
    ],
    *ONE_CLASS,
]


@pytest.mark.parametrize(
    ("kind", "id", "build", "argument", "value"),
    CASES,
    ids=[f"{c[0]}-{c[3]}-{c[4][:20]}" for c in CASES],
)
def test_bad_argument_is_one_line_naming_construct_argument_and_value(
    kind: str, id: str, build: Callable[[], Any], argument: str, value: str
) -> None:
    with pytest.raises(InputError) as caught:
        build()
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(f"{kind} '{id}': "), text
    assert f"field '{argument}'" in text, text
    assert value in text, text


def test_tokens_and_expressions_are_left_to_terraform() -> None:
    """A token or an expression is only known when Terraform runs: nothing to check."""
    from crm_ports.constructs.cdk import TerraformVariable

    stack = _stack()
    vpc = TerraformVariable(stack, "vpc", type="string")
    offices = TerraformVariable(stack, "offices", type="list(string)")
    from crm_ports.constructs import AwsCrmFirewall

    firewall = AwsCrmFirewall(
        stack,
        "fw",
        rules=_rules(),
        vpc_id=vpc.string_value,
        peer_cidrs={"client_cidrs": offices.list_value, "admin_cidrs": "${var.admins}"},
    )
    assert firewall.security_group_ids
