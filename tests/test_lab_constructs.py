"""AwsCrmLab / AzureCrmLab: hosts declared by roles in any order, resolved when the app
synthesizes, the same rules as a lab file with the same placement, placement errors
naming host and role, lab rules and per-rule overrides."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crm_ports.catalogue.load import load_catalogue
from crm_ports.errors import InputError
from crm_ports.lab.file import load_lab
from crm_ports.options import Options
from crm_ports.plans.aws import plan_aws
from crm_ports.plans.azure import plan_azure
from crm_ports.resolver.engine import resolve_lab
from tests.readme import CONSTRUCTS, run_python_block
from tests.tf_harness import require_module, terraform_validate

pytestmark = pytest.mark.slow

TWO_BOX = Path(__file__).parent / "fixtures" / "labs" / "two-box.yaml"
HOSTS: dict[str, list[str]] = {
    "crm-app": [
        "web-application",
        "load-balancer",
        "asynchronous-service",
        "sandbox-processing",
        "deployment-web-service",
        "email-router",
    ],
    "sql": ["sql-server", "reporting-services"],
    "dc": ["domain-controller"],
}


def aws_app(order: list[str], **kwargs: Any) -> tuple[Any, Any]:
    from crm_ports.constructs import AwsCrmLab
    from crm_ports.constructs.cdk import TerraformStack, Testing
    from crm_ports.constructs.resources.aws import AwsProvider, AwsProviderConfig

    stack = TerraformStack(Testing.app(), "s")
    AwsProvider(stack, "aws", AwsProviderConfig(region="eu-west-1"))
    lab = AwsCrmLab(stack, "crm", vpc_id="vpc-0abc1234", lab="two-box", **kwargs)
    for name in order:
        lab.add_host(name, roles=HOSTS[name])
    return stack, lab


def synth(stack: Any) -> dict[str, Any]:
    from crm_ports.constructs.cdk import Testing

    data: dict[str, Any] = json.loads(Testing.synth(stack))
    return data


@pytest.mark.flavoured
def test_hosts_in_any_order_synthesize_the_same() -> None:
    first = synth(aws_app(["crm-app", "sql", "dc"], egress="strict")[0])
    second = synth(aws_app(["dc", "sql", "crm-app"], egress="strict")[0])
    assert first["resource"] == second["resource"]


@pytest.mark.flavoured
def test_same_rules_as_the_lab_file() -> None:
    lab_file = load_lab(TWO_BOX)
    stack, lab = aws_app(
        ["sql", "crm-app", "dc"], options=Options(email="exchange"), egress="strict"
    )
    for extra in lab_file.extra_rules:
        lab.add_rule(
            extra.source,
            extra.target,
            protocol=extra.protocol.value,
            ports=str(extra.ports),
            reason=extra.reason,
            name=extra.name,
        )
    expected = plan_aws(resolve_lab(load_catalogue(), lab_file), "two-box", egress="strict")
    data = synth(stack)
    ingress = set(data["resource"]["aws_vpc_security_group_ingress_rule"])
    egress = set(data["resource"]["aws_vpc_security_group_egress_rule"])
    want = {s.base_key or s.key for s in expected.rules}
    assert ingress | egress == want
    assert [r.id for r in lab.resolve().rules] == [
        r.id for r in resolve_lab(load_catalogue(), lab_file).rules
    ]
    sg = data["resource"]["aws_security_group"]["sg_sql"]
    assert sg["description"] == expected.security_group("sql").description
    assert sg["tags"]["crm-ports:roles"] == "sql-server+reporting-services"


@pytest.mark.flavoured
def test_host_objects_carry_what_an_instance_needs() -> None:
    stack, lab = aws_app(["crm-app", "sql", "dc"])
    sql = lab.hosts["sql"]
    assert len(sql.security_group_ids) == 2
    assert sql.security_group_ids[1] == lab.members_security_group_id
    from crm_ports.constructs.cdk import TerraformOutput

    TerraformOutput(stack, "sql_sgs", value=sql.security_group_ids)
    out = synth(stack)["output"]["sql_sgs"]["value"]
    assert out == [
        "${aws_security_group.sg_sql.id}",
        "${aws_security_group.sg_lab-servers.id}",
    ]


@pytest.mark.flavoured
def test_bad_hosts_raise_at_add_host() -> None:
    _, lab = aws_app(["crm-app"])
    with pytest.raises(InputError, match=r"host 'sql'.*unknown role 'sql-servr'"):
        lab.add_host("sql", roles=["sql-servr"])
    with pytest.raises(InputError, match=r"host 'db'.*'web-application' is placed on both"):
        lab.add_host("db", roles=["web-application"])
    with pytest.raises(InputError, match=r"host 'users'.*'client' is always outside"):
        lab.add_host("users", roles=["client"])
    with pytest.raises(InputError, match=r"invalid host name 'SQL'"):
        lab.add_host("SQL", roles=["sql-server"])


@pytest.mark.flavoured
def test_a_missing_role_fails_synthesis_naming_it() -> None:
    stack, lab = aws_app(["crm-app", "dc"])
    with pytest.raises(InputError, match=r"role 'sql-server' .* is placed on no host"):
        lab.resolve()
    with pytest.raises(RuntimeError, match=r"role 'sql-server' .* is placed on no host"):
        synth(stack)


@pytest.mark.flavoured
def test_override_one_rule() -> None:
    stack, lab = aws_app(["crm-app", "sql", "dc"])
    lab.override_rule("crm-app.sql.tcp.ms-sql", "tags.Owner", "dba-team")
    rules = synth(stack)["resource"]["aws_vpc_security_group_ingress_rule"]
    assert rules["in_crm-app_sql_tcp_ms-sql"]["tags"]["Owner"] == "dba-team"
    assert "Owner" not in rules["in_crm-app_sql_tcp_ssrs-http"]["tags"]


@pytest.mark.flavoured
def test_aws_lab_passes_terraform_validate(tmp_path: Path) -> None:
    stack, lab = aws_app(["crm-app", "sql", "dc"], egress="strict")
    lab.add_rule("crm-app", "10.20.0.0/24", protocol="tcp", ports=8080, reason="patching proxy")
    (tmp_path / "cdk.tf.json").write_text(json.dumps(synth(stack)))
    terraform_validate(tmp_path)


@pytest.mark.flavoured
def test_azure_lab() -> None:
    from crm_ports.constructs import AzureCrmLab
    from crm_ports.constructs.cdk import TerraformStack, Testing
    from crm_ports.constructs.resources.azure import AzurermProvider, AzurermProviderConfig

    stack = TerraformStack(Testing.app(), "s")
    AzurermProvider(stack, "azurerm", AzurermProviderConfig())
    lab = AzureCrmLab(stack, "crm", resource_group_name="rg-crm", location="westeurope", lab="acme")
    for name in ("dc", "sql", "crm-app"):
        lab.add_host(name, roles=HOSTS[name])
    lab.add_rule("10.30.0.0/24", "sql", protocol="tcp", ports=1433, reason="reporting tool")
    # by NSG rule name, on the NSG itself (its rules are only known at synthesis)
    lab.network_security_group.override_security_rule(
        "cidr-10-30-0-0-24.sql.tcp", "description", "reporting tool, reviewed"
    )
    assert len(lab.hosts["sql"].application_security_group_ids) == 2
    data = synth(stack)
    expected = plan_azure(lab.resolve(), "acme")
    rules = {
        r["name"]: r
        for r in data["resource"]["azurerm_network_security_group"]["nsg"]["security_rule"]
    }
    assert set(rules) == {r.name for r in expected.rules}
    assert set(data["resource"]["azurerm_application_security_group"]) == {
        "asg_crm-app",
        "asg_dc",
        "asg_sql",
        "asg_lab-servers",
    }
    rule = rules["cidr-10-30-0-0-24.sql.tcp"]
    assert rule["source_address_prefixes"] == ["10.30.0.0/24"]
    assert rule["description"] == "reporting tool, reviewed"
    assert [r["from"] for r in data["removed"]] == [
        f"azurerm_network_security_rule.{r.key}" for r in expected.rules
    ]


def test_lab_app_example_runs_and_validates(tmp_path: Path) -> None:
    """The construct library's example app (docs/constructs.md), run as written: instances
    from the prebuilt provider bindings, the firewall from AwsCrmLab, then `terraform
    validate`."""
    require_module("cdktf_cdktf_provider_aws", "the example app uses the bindings extra")
    stack_dir = run_python_block("lab-app", CONSTRUCTS, tmp_path) / "stacks" / "acme-crm"
    data = json.loads((stack_dir / "cdk.tf.json").read_text())
    assert data["terraform"]["required_providers"]["aws"]["version"] == ">= 5.30, < 7"
    assert data["resource"]["aws_instance"]["sql"]["vpc_security_group_ids"] == [
        "${aws_security_group.sg_sql.id}",
        "${aws_security_group.sg_lab-servers.id}",
    ]
    egress = data["resource"]["aws_vpc_security_group_egress_rule"]
    assert "out_crm-app_cidr-10-20-0-0-24_tcp_patch-proxy" in egress
    ingress = data["resource"]["aws_vpc_security_group_ingress_rule"]
    assert ingress["in_crm-app_sql_tcp_ms-sql"]["tags"]["reviewed-by"] == "dba-team"
    terraform_validate(stack_dir)


@pytest.mark.flavoured
def test_variable_peer_ranges_recheck_the_quota_at_plan(tmp_path: Path) -> None:
    from crm_ports.constructs.cdk import TerraformVariable

    stack, _ = aws_app(["crm-app", "sql", "dc"], peer_cidrs={"client_cidrs": "${var.offices}"})
    TerraformVariable(stack, "offices", type="list(string)", default=["10.1.0.0/16"])
    data = synth(stack)
    sg = data["resource"]["aws_security_group"]["sg_crm-app"]
    [condition] = sg["lifecycle"]["precondition"]
    assert "length(var.offices)" in condition["condition"]
    assert condition["error_message"].startswith("Security group two-box-crm-app would need")
    sql = data["resource"]["aws_security_group"]["sg_sql"]
    assert sql["lifecycle"] == {"ignore_changes": ["description"]}  # no clients, no condition
    (tmp_path / "cdk.tf.json").write_text(json.dumps(data))
    terraform_validate(tmp_path)


@pytest.mark.parametrize(
    ("ports", "protocol", "reason", "fragment"),
    [
        (0, "tcp", "a reason long enough", "field 'add_rule[0].ports': port 0 is not usable"),
        (70000, "tcp", "a reason long enough", "outside 0-65535"),
        (8080, "icmp", "a reason long enough", "field 'add_rule[0].protocol'"),
        (8080, "tcp", "short", "field 'add_rule[0].reason'"),
    ],
)
@pytest.mark.flavoured
def test_add_rule_refuses_what_a_lab_file_refuses(
    ports: int, protocol: str, reason: str, fragment: str
) -> None:
    """One parser for lab rules: the construct API and the lab file agree."""
    _, lab = aws_app(["crm-app", "sql", "dc"])
    with pytest.raises(InputError) as caught:
        lab.add_rule("crm-app", "10.20.0.0/24", protocol=protocol, ports=ports, reason=reason)
    assert fragment in str(caught.value)


@pytest.mark.flavoured
def test_two_domain_controllers_through_the_construct_api() -> None:
    """`domain-controller` on two hosts: the hosts replicate inside IPsec (the default
    `ad_replication`), ESP rendered as IP protocol 50 on AWS and `Esp` on Azure."""
    from crm_ports.constructs import AzureCrmLab
    from crm_ports.constructs.cdk import TerraformStack, Testing
    from crm_ports.constructs.resources.azure import AzurermProvider, AzurermProviderConfig

    stack, lab = aws_app(["crm-app", "sql", "dc"])
    lab.add_host("dc-2", roles=["domain-controller"])
    rules = synth(stack)["resource"]["aws_vpc_security_group_ingress_rule"]
    esp = sorted(k for k, v in rules.items() if v["ip_protocol"] == "50")
    assert len(esp) == 2 and all(rules[k]["from_port"] == -1 for k in esp)
    assert lab.resolve().options.domain_controllers == 2

    azure_stack = TerraformStack(Testing.app(), "z")
    AzurermProvider(azure_stack, "azurerm", AzurermProviderConfig())
    azure = AzureCrmLab(azure_stack, "crm", resource_group_name="rg", location="westeurope")
    for name in ("dc", "sql", "crm-app"):
        azure.add_host(name, roles=HOSTS[name])
    azure.add_host("dc-2", roles=["domain-controller"])
    with pytest.raises(InputError, match="more than 2 hosts"):
        azure.add_host("dc-3", roles=["domain-controller"])
    nsg = synth(azure_stack)["resource"]["azurerm_network_security_group"]["nsg"]
    assert {r["name"] for r in nsg["security_rule"] if r["protocol"] == "Esp"} == {
        "dc.dc-2.esp",
        "dc-2.dc.esp",
    }


def test_aws_lab_gives_the_alb_its_group() -> None:
    """`load_balancer: cloud` on the per-role construct: the ALB's group exists from
    construction on (its id can go into an `aws_lb` at once), carries the rules into the
    front end, and no host's instances carry it."""
    stack, lab = aws_app(["crm-app", "sql", "dc"], options=Options(load_balancer="cloud"))
    assert lab.load_balancer_security_group_id is not None
    data = synth(stack)
    groups = data["resource"]["aws_security_group"]
    assert "Application Load Balancer" in groups["sg_cloud-load-balancer"]["description"]
    ref = "${aws_security_group.sg_cloud-load-balancer.id}"
    into_app = {
        (r["from_port"], r["to_port"])
        for r in data["resource"]["aws_vpc_security_group_ingress_rule"].values()
        if r.get("referenced_security_group_id") == ref
    }
    assert into_app == {(80, 80), (443, 443)}
    alb = lab.load_balancer_security_group_id
    assert all(alb not in host.security_group_ids for host in lab.hosts.values())
    assert alb not in {lab.members_security_group_id} | {
        h.security_group_id for h in lab.hosts.values()
    }
    plain = aws_app(["crm-app", "sql", "dc"])[1]
    assert plain.load_balancer_security_group_id is None
