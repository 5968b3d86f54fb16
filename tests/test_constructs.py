"""The construct library as a user's own CDKTF app uses it: their VPC / resource group,
their variables, two firewalls in one stack, ids read back for instances and NICs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crm_ports.catalogue.load import load_catalogue
from crm_ports.constructs.aws import AwsCrmFirewall
from crm_ports.constructs.azure import AzureCrmFirewall
from crm_ports.constructs.cdk import App, TerraformOutput, TerraformStack, TerraformVariable
from crm_ports.constructs.cdk import Testing as CdktfTesting
from crm_ports.constructs.resources.aws import AwsProvider, AwsProviderConfig
from crm_ports.constructs.resources.azure import AzurermProvider
from crm_ports.errors import InputError
from crm_ports.options import Options
from crm_ports.resolver.engine import resolve
from crm_ports.ruleset import RuleSet
from tests.tf_harness import terraform_validate

pytestmark = [pytest.mark.slow, pytest.mark.flavoured]


def _rules(**values: Any) -> RuleSet:
    return resolve(load_catalogue(), Options().with_values(values))


def _synth(stack: TerraformStack) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CdktfTesting.synth(stack))
    return data


def test_aws_firewall_in_a_users_vpc_reads_ids_back() -> None:
    app = CdktfTesting.app()
    stack = TerraformStack(app, "users-app")
    AwsProvider(stack, "aws", AwsProviderConfig(region="eu-west-1"))
    firewall = AwsCrmFirewall(stack, "crm", rules=_rules(), vpc_id="vpc-0abc1234", lab="acme")
    TerraformOutput(stack, "front_end_sgs", value=firewall.security_group_ids_for("crm-front-end"))
    data = _synth(stack)
    groups = data["resource"]["aws_security_group"]
    assert {g["vpc_id"] for g in groups.values()} == {"vpc-0abc1234"}
    assert "aws_vpc" not in data["resource"]
    assert groups["sg_crm-front-end"]["name"] == "acme-crm-front-end"
    assert groups["sg_crm-front-end"]["tags"]["crm-ports:lab"] == "acme"
    assert data["output"]["front_end_sgs"]["value"] == [
        "${aws_security_group.sg_crm-front-end.id}",
        "${aws_security_group.sg_lab-servers.id}",
    ]
    assert set(firewall.security_group_ids) == {g.group for g in firewall.plan.security_groups}


def test_aws_firewall_takes_tokens_for_vpc_and_peer_ranges(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    stack = TerraformStack(app, "tokens")
    AwsProvider(stack, "aws", AwsProviderConfig(region="us-east-1"))
    vpc = TerraformVariable(stack, "my_vpc", type="string")
    clients = TerraformVariable(stack, "office_ranges", type="list(string)")
    AwsCrmFirewall(
        stack,
        "crm",
        rules=_rules(),
        vpc_id=vpc.string_value,
        peer_cidrs={"client_cidrs": clients.list_value, "admin_cidrs": ["192.168.7.0/24"]},
    )
    data = _synth(stack)
    rules = data["resource"]["aws_vpc_security_group_ingress_rule"]
    assert data["resource"]["aws_security_group"]["sg_ssrs"]["vpc_id"] == "${var.my_vpc}"
    web = rules["in_clients_crm-front-end_tcp_crm-http"]
    assert web["for_each"] == "${toset(var.office_ranges)}"
    assert web["cidr_ipv4"] == "${each.value}"
    rdp = rules["in_administrators_ssrs_tcp_rdp"]
    assert rdp["for_each"] == '${toset(["192.168.7.0/24"])}'
    app.synth()
    terraform_validate(tmp_path / "stacks" / "tokens")


def test_two_firewalls_in_one_stack_need_prefixes() -> None:
    app = CdktfTesting.app()
    stack = TerraformStack(app, "two-labs")
    AwsProvider(stack, "aws", AwsProviderConfig(region="us-east-1"))
    AwsCrmFirewall(
        stack, "blue", rules=_rules(), vpc_id="vpc-1", lab="blue", logical_id_prefix="blue_"
    )
    AwsCrmFirewall(
        stack,
        "green",
        rules=_rules(topology="full-server"),
        vpc_id="vpc-2",
        lab="green",
        logical_id_prefix="green_",
    )
    groups = _synth(stack)["resource"]["aws_security_group"]
    assert "blue_sg_crm-front-end" in groups and "green_sg_crm-full-server" in groups


def test_unknown_peer_option_is_refused() -> None:
    app = CdktfTesting.app()
    stack = TerraformStack(app, "bad")
    with pytest.raises(InputError, match=r"AwsCrmFirewall 'crm'.*unknown CIDR option 'office_cidr"):
        AwsCrmFirewall(
            stack, "crm", rules=_rules(), vpc_id="vpc-1", peer_cidrs={"office_cidrs": []}
        )


def test_azure_firewall_in_a_users_resource_group() -> None:
    app = CdktfTesting.app()
    stack = TerraformStack(app, "users-azure")
    AzurermProvider(stack, "azurerm")
    firewall = AzureCrmFirewall(
        stack,
        "crm",
        rules=_rules(auth="claims"),
        resource_group_name="rg-crm",
        location="westeurope",
        lab="acme",
    )
    TerraformOutput(stack, "adfs_asgs", value=firewall.application_security_group_ids_for("adfs"))
    data = _synth(stack)
    asgs = data["resource"]["azurerm_application_security_group"]
    assert asgs["asg_adfs"]["name"] == "acme-adfs-asg"
    assert {a["resource_group_name"] for a in asgs.values()} == {"rg-crm"}
    nsg = data["resource"]["azurerm_network_security_group"]["nsg"]
    rules = {rule["name"]: rule for rule in nsg["security_rule"]}
    assert "azurerm_network_security_rule" not in data["resource"]  # one request, inline
    claims = rules["clients.adfs.tcp"]
    assert claims["source_address_prefixes"] == ["10.100.0.0/16"]
    assert claims["destination_application_security_group_ids"] == [
        "${azurerm_application_security_group.asg_adfs.id}"
    ]
    assert claims["destination_port_ranges"] == ["443"]
    assert data["output"]["adfs_asgs"]["value"] == [
        "${azurerm_application_security_group.asg_adfs.id}",
        "${azurerm_application_security_group.asg_lab-servers.id}",
    ]
    priorities = [r["priority"] for r in rules.values()]
    assert len(priorities) == len(set(priorities))
    assert max(priorities) == 4096 and rules["deny-all-other-inbound"]["access"] == "Deny"
