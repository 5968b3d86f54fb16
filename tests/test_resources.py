"""The hand-written Terraform resource layer (crm_ports.constructs.resources).

AWS output is checked by Terraform itself (``terraform validate`` and the
provider's own schema) because a provider binary is available offline; the
azurerm binary is not, so Azure output is pinned key by key to the names the
generated azurerm 4.x bindings use.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from constructs import Construct

from benchmarks.jsii_calls import count_jsii_calls
from crm_ports.constructs.cdk import App, LocalBackend, TerraformResource, TerraformStack
from crm_ports.constructs.resources import aws, azure
from crm_ports.constructs.resources._base import validate_logical_id
from tests import tf_harness
from tests.tf_harness import (
    Validation,
    terraform_provider_schema,
    terraform_validate,
    terraform_validate_many,
)

AWS_TYPE = "registry.terraform.io/hashicorp/aws"
META_KEYS = {"//", "provider", "depends_on", "lifecycle", "count", "for_each"}


def synth(build: Callable[[TerraformStack], None], outdir: Path) -> Path:
    """Synthesize one stack the way the real app does; return its directory."""
    outdir.parent.mkdir(parents=True, exist_ok=True)  # App creates only the leaf.
    app = App(outdir=str(outdir))
    stack = TerraformStack(app, "stack")
    # An explicit relative path: the default bakes Node's cwd into the JSON.
    LocalBackend(stack, path="terraform.tfstate")
    build(stack)
    app.synth()
    return outdir / "stacks" / "stack"


def load(stack_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((stack_dir / "cdk.tf.json").read_text())
    return data


def build_aws(stack: TerraformStack) -> None:
    provider = aws.AwsProvider(stack, "aws", aws.AwsProviderConfig(region="eu-west-1"))
    vpc = aws.Vpc(
        stack,
        "vpc",
        aws.VpcConfig(
            cidr_block="10.20.0.0/16",
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": "crm-lab"},
        ),
        provider=provider,
    )
    aws.Subnet(
        stack,
        "subnet",
        aws.SubnetConfig(
            vpc_id=vpc.id,
            cidr_block="10.20.1.0/24",
            availability_zone="eu-west-1a",
            tags={"Name": "crm-lab-a"},
        ),
        provider=provider,
    )
    front = aws.SecurityGroup(
        stack,
        "front",
        aws.SecurityGroupConfig(
            name="crm-front-end",
            description="CRM front-end servers",
            vpc_id=vpc.id,
            tags={"crm-ports:group": "crm-front-end"},
            revoke_rules_on_delete=True,
        ),
        provider=provider,
    )
    sql = aws.SecurityGroup(
        stack,
        "sql",
        aws.SecurityGroupConfig(name="sql-server", description="SQL Server", vpc_id=vpc.id),
        provider=provider,
    )
    aws.VpcSecurityGroupIngressRule(
        stack,
        "sql_from_front",
        aws.SecurityGroupRuleConfig(
            security_group_id=sql.id,
            ip_protocol="tcp",
            from_port=1433,
            to_port=1433,
            referenced_security_group_id=front.id,
            description="SQL Server from CRM front-end (TCP 1433)",
            tags={"crm-ports:flow": "sql"},
        ),
        provider=provider,
        logical_id="crm_front_end__sql_server__tcp_1433",
    )
    aws.VpcSecurityGroupIngressRule(
        stack,
        "https_from_clients",
        aws.SecurityGroupRuleConfig(
            security_group_id=front.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4="10.20.0.0/16",
            description="HTTPS from clients",
        ),
        provider=provider,
    )
    aws.VpcSecurityGroupEgressRule(
        stack,
        "front_to_sql",
        aws.SecurityGroupRuleConfig(
            security_group_id=front.id,
            ip_protocol="tcp",
            from_port=1433,
            to_port=1433,
            referenced_security_group_id=sql.id,
        ),
        provider=provider,
    )
    # An adopted group: its whole rule set inline, each block with every field
    aws.SecurityGroup(
        stack,
        "adopted",
        aws.SecurityGroupConfig(
            name="launch-wizard-1",
            description="launch-wizard-1",
            vpc_id=vpc.id,
            ingress=[
                aws.SecurityGroupInlineRule(
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_blocks=["10.20.0.0/16"],
                    description="HTTPS from clients",
                ),
                aws.SecurityGroupInlineRule(
                    protocol="tcp", from_port=1433, to_port=1433, security_groups=[front.id]
                ),
                aws.SecurityGroupInlineRule(
                    protocol="50", from_port=-1, to_port=-1, self_reference=True
                ),
            ],
            egress=[
                aws.SecurityGroupInlineRule(
                    protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"]
                )
            ],
        ),
        provider=provider,
    )


@pytest.fixture(scope="module")
def aws_stack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth(build_aws, tmp_path_factory.mktemp("aws") / "out")


def build_aws_emulator(stack: TerraformStack) -> None:
    provider = aws.AwsProvider(
        stack, "aws", aws.AwsProviderConfig.for_emulator("http://127.0.0.1:5000")
    )
    aws.Vpc(stack, "vpc", aws.VpcConfig(cidr_block="10.0.0.0/16"), provider=provider)


def build_bad_cidr(stack: TerraformStack) -> None:
    """A config only the provider rejects (the Python checks bypassed)."""
    aws.AwsProvider(stack, "aws", aws.AwsProviderConfig(region="eu-west-1"))
    rule = aws.VpcSecurityGroupIngressRule(
        stack,
        "rule",
        aws.SecurityGroupRuleConfig(
            security_group_id="sg-1",
            ip_protocol="tcp",
            from_port=1,
            to_port=1,
            cidr_ipv4="10.0.0.0/8",
        ),
    )
    rule.add_override("cidr_ipv4", "10.0.0.1/8")


def build_unknown_attribute(stack: TerraformStack) -> None:
    """A config Terraform refuses while decoding it, before it asks any provider: in a
    batch, that stops the validation of every other stack too."""
    aws.AwsProvider(stack, "aws", aws.AwsProviderConfig(region="eu-west-1"))
    vpc = aws.Vpc(stack, "vpc", aws.VpcConfig(cidr_block="10.0.0.0/16"))
    vpc.add_override("no_such_attribute", True)


@pytest.fixture(scope="module")
def batch(aws_stack: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Validation]:
    """Good and broken stacks through one `terraform_validate_many` call, as the
    parametrized validate tests batch theirs: each must still be judged on its own."""
    folder = tmp_path_factory.mktemp("batch")
    stacks = {
        "aws": aws_stack,
        "bad-cidr": synth(build_bad_cidr, folder / "bad-cidr"),
        "unknown-attribute": synth(build_unknown_attribute, folder / "unknown-attribute"),
        "emulator": synth(build_aws_emulator, folder / "emulator"),
    }
    results = terraform_validate_many(stacks.values())
    return {name: results[stack_dir] for name, stack_dir in stacks.items()}


# --------------------------------------------------------------------------
# AWS: Terraform is the judge
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_aws_stack_passes_terraform_validate(batch: dict[str, Validation]) -> None:
    batch["aws"].assert_valid()


@pytest.mark.slow
def test_aws_attributes_exist_in_provider_schema(aws_stack: Path) -> None:
    schema = terraform_provider_schema(aws_stack)["provider_schemas"][AWS_TYPE]
    config = load(aws_stack)

    provider_block = schema["provider"]["block"]
    allowed = set(provider_block["attributes"]) | set(provider_block.get("block_types", {}))
    for provider_config in config["provider"]["aws"]:
        assert set(provider_config) <= allowed

    emitted_types = set(config["resource"])
    assert emitted_types == {
        "aws_vpc",
        "aws_subnet",
        "aws_security_group",
        "aws_vpc_security_group_ingress_rule",
        "aws_vpc_security_group_egress_rule",
    }
    for rtype, resources in config["resource"].items():
        block = schema["resource_schemas"][rtype]["block"]
        attrs = block["attributes"]
        settable = {
            name for name, spec in attrs.items() if spec.get("optional") or spec.get("required")
        }
        required = {name for name, spec in attrs.items() if spec.get("required")}
        for name, body in resources.items():
            keys = set(body) - META_KEYS
            assert keys <= settable, f"{rtype}.{name}: not in schema: {keys - settable}"
            assert required <= keys, f"{rtype}.{name}: missing required {required - keys}"
            for key in keys:
                assert not attrs[key].get("deprecated"), f"{rtype}.{key} is deprecated"


def test_aws_endpoint_override_provider_block(tmp_path: Path) -> None:
    def build(stack: TerraformStack) -> None:
        aws.AwsProvider(stack, "aws", aws.AwsProviderConfig.for_emulator("http://127.0.0.1:5000"))

    provider = load(synth(build, tmp_path / "out"))["provider"]["aws"]
    assert provider == [
        {
            "region": "us-east-1",
            "endpoints": [
                {
                    "ec2": "http://127.0.0.1:5000",
                    "iam": "http://127.0.0.1:5000",
                    "sts": "http://127.0.0.1:5000",
                }
            ],
            "access_key": "testing",
            "secret_key": "testing",
            "skip_credentials_validation": True,
            "skip_requesting_account_id": False,
            "skip_metadata_api_check": "true",
            "skip_region_validation": True,
        }
    ]


@pytest.mark.slow
def test_aws_emulator_provider_passes_terraform_validate(batch: dict[str, Validation]) -> None:
    batch["emulator"].assert_valid()


def test_aws_synthesized_shape(aws_stack: Path) -> None:
    config = load(aws_stack)
    assert config["terraform"]["required_providers"] == {
        "aws": {"source": "hashicorp/aws", "version": ">= 5.30, < 7"}
    }
    resources = config["resource"]
    sg = resources["aws_security_group"]["front"]
    assert "ingress" not in sg and "egress" not in sg
    adopted = resources["aws_security_group"]["adopted"]
    fields = {"cidr_blocks", "description", "from_port", "ipv6_cidr_blocks", "prefix_list_ids"}
    fields |= {"protocol", "security_groups", "self", "to_port"}
    assert [set(b) for b in adopted["ingress"] + adopted["egress"]] == [fields] * 4
    assert adopted["ingress"][1]["security_groups"] == ["${aws_security_group.front.id}"]
    assert adopted["ingress"][2]["self"] is True
    rule = resources["aws_vpc_security_group_ingress_rule"]["crm_front_end__sql_server__tcp_1433"]
    assert rule["security_group_id"] == "${aws_security_group.sql.id}"
    assert rule["referenced_security_group_id"] == "${aws_security_group.front.id}"
    assert rule["from_port"] == 1433 and rule["to_port"] == 1433
    assert rule["provider"] == "aws"
    egress = resources["aws_vpc_security_group_egress_rule"]["front_to_sql"]
    assert set(egress) - META_KEYS == {
        "security_group_id",
        "ip_protocol",
        "from_port",
        "to_port",
        "referenced_security_group_id",
    }


# --------------------------------------------------------------------------
# Naming and determinism
# --------------------------------------------------------------------------


def test_logical_id_ignores_construct_nesting(tmp_path: Path) -> None:
    def build(stack: TerraformStack) -> None:
        aws.AwsProvider(stack, "aws", aws.AwsProviderConfig(region="eu-west-1"))
        nested = Construct(Construct(stack, "outer"), "inner")
        aws.VpcSecurityGroupIngressRule(
            nested,
            "whatever",
            aws.SecurityGroupRuleConfig(
                security_group_id="sg-123",
                ip_protocol="tcp",
                from_port=1433,
                to_port=1433,
                cidr_ipv4="10.0.0.0/8",
            ),
            logical_id="crm_front_end__sql_server__tcp_1433",
        )
        aws.Vpc(nested, "auto", aws.VpcConfig(cidr_block="10.0.0.0/16"))

    resources = load(synth(build, tmp_path / "out"))["resource"]
    assert list(resources["aws_vpc_security_group_ingress_rule"]) == [
        "crm_front_end__sql_server__tcp_1433"
    ]
    # Without an override cdktf joins the path and appends an md5 suffix.
    (auto_id,) = resources["aws_vpc"]
    assert auto_id.startswith("outer_inner_auto_") and len(auto_id) == len("outer_inner_auto_") + 8


@pytest.mark.parametrize("bad", ["1433_tcp", "has space", "dot.ted", "", "é", "x" * 256])
def test_invalid_logical_ids_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="logical id"):
        validate_logical_id(bad)


def test_synth_is_byte_identical_across_output_dirs(tmp_path: Path) -> None:
    first = synth(build_aws, tmp_path / "one" / "out") / "cdk.tf.json"
    second = synth(build_aws, tmp_path / "two" / "out") / "cdk.tf.json"
    assert first.read_bytes() == second.read_bytes()
    assert str(tmp_path) not in first.read_text()


# --------------------------------------------------------------------------
# jsii traffic: the reason this layer exists
# --------------------------------------------------------------------------


def test_one_create_and_at_most_two_callbacks_per_resource(tmp_path: Path) -> None:
    rules = 30
    with count_jsii_calls() as calls:
        app = App(outdir=str(tmp_path / "out"))
        stack = TerraformStack(app, "stack")
        aws.AwsProvider(stack, "aws", aws.AwsProviderConfig(region="eu-west-1"))
        group = aws.SecurityGroup(
            stack, "g", aws.SecurityGroupConfig(name="g", description="g", vpc_id="vpc-1")
        )
        for i in range(rules):
            aws.VpcSecurityGroupIngressRule(
                stack,
                f"r{i}",
                aws.SecurityGroupRuleConfig(
                    security_group_id=group.id,
                    ip_protocol="tcp",
                    from_port=i,
                    to_port=i,
                    cidr_ipv4="10.0.0.0/8",
                ),
            )
        app.synth()
    resources = rules + 1
    # app, stack, provider and the resources (cdktf adds its default backend
    # on the Node side, without a message).
    assert calls.by_kind["create"] == resources + 3
    # toTerraform runs twice per element (prepareStack, then synthesize).
    assert calls.callbacks <= 2 * (resources + 1)
    # group.id once (cached), app.synth once.
    assert calls.by_kind["invoke"] == 2
    assert set(calls.by_kind) <= {"create", "invoke", "callback"}


def _overrides(resource: TerraformResource) -> set[str]:
    from jsii._kernel import _get_overides

    names = {o.method or o.property for o in _get_overides(type(resource), resource)}
    return {name for name in names if name}


def test_only_synthesis_hooks_override_jsii_members(tmp_path: Path) -> None:
    """A Python member that shadows a jsii member silently becomes a callback."""
    app = App(outdir=str(tmp_path / "out"))
    stack = TerraformStack(app, "stack")
    resources: list[TerraformResource] = [
        aws.Vpc(stack, "v", aws.VpcConfig(cidr_block="10.0.0.0/16")),
        aws.Subnet(stack, "s", aws.SubnetConfig(vpc_id="v", cidr_block="10.0.0.0/24")),
        aws.SecurityGroup(
            stack, "g", aws.SecurityGroupConfig(name="g", description="g", vpc_id="v")
        ),
        aws.VpcSecurityGroupIngressRule(
            stack,
            "i",
            aws.SecurityGroupRuleConfig(
                security_group_id="g", ip_protocol="-1", cidr_ipv4="0.0.0.0/0"
            ),
        ),
        azure.NetworkSecurityRule(stack, "r", _nsg_rule()),
        azure.SubnetNetworkSecurityGroupAssociation(
            stack,
            "a",
            azure.SubnetNetworkSecurityGroupAssociationConfig(
                subnet_id="s", network_security_group_id="n"
            ),
        ),
    ]
    for resource in resources:
        assert _overrides(resource) == {"synthesizeAttributes", "synthesizeHclAttributes"}


# --------------------------------------------------------------------------
# Azure: no provider binary, so pin the JSON keys
# --------------------------------------------------------------------------


def _nsg_rule(**changes: Any) -> azure.NetworkSecurityRuleConfig:
    values: dict[str, Any] = {
        "name": "crm-front-end--sql-server--tcp-1433",
        "priority": 200,
        "direction": "Inbound",
        "access": "Allow",
        "protocol": "Tcp",
        "resource_group_name": "rg",
        "network_security_group_name": "nsg",
        "destination_port_range": "1433",
        "source_address_prefix": "10.0.1.0/24",
        "destination_address_prefix": "10.0.2.0/24",
    }
    values.update(changes)
    return azure.NetworkSecurityRuleConfig(**values)


def build_azure(stack: TerraformStack) -> None:
    provider = azure.AzurermProvider(
        stack, "azurerm", azure.AzurermProviderConfig(subscription_id="0000-sub")
    )
    rg = azure.ResourceGroup(
        stack,
        "rg",
        azure.ResourceGroupConfig(name="crm-lab", location="westeurope", tags={"app": "crm"}),
        provider=provider,
    )
    vnet = azure.VirtualNetwork(
        stack,
        "vnet",
        azure.VirtualNetworkConfig(
            name="crm-vnet",
            location="westeurope",
            resource_group_name=rg.name,
            address_space=["10.30.0.0/16"],
            tags={"app": "crm"},
        ),
    )
    subnet = azure.Subnet(
        stack,
        "subnet",
        azure.SubnetConfig(
            name="crm-subnet",
            resource_group_name=rg.name,
            virtual_network_name=vnet.name,
            address_prefixes=["10.30.1.0/24"],
        ),
    )
    front = azure.ApplicationSecurityGroup(
        stack,
        "asg_front",
        azure.ApplicationSecurityGroupConfig(
            name="crm-front-end", location="westeurope", resource_group_name=rg.name
        ),
    )
    sql = azure.ApplicationSecurityGroup(
        stack,
        "asg_sql",
        azure.ApplicationSecurityGroupConfig(
            name="sql-server", location="westeurope", resource_group_name=rg.name, tags={"a": "b"}
        ),
    )
    nsg = azure.NetworkSecurityGroup(
        stack,
        "nsg",
        azure.NetworkSecurityGroupConfig(
            name="crm-nsg", location="westeurope", resource_group_name=rg.name
        ),
    )
    azure.NetworkSecurityRule(
        stack,
        "rule_asg",
        azure.NetworkSecurityRuleConfig(
            name="crm-front-end--sql-server--tcp-1433",
            priority=200,
            direction="Inbound",
            access="Allow",
            protocol="Tcp",
            destination_port_range="1433",
            source_application_security_group_ids=[front.id],
            destination_application_security_group_ids=[sql.id],
            description="SQL Server from CRM front-end",
            resource_group_name=rg.name,
            network_security_group_name=nsg.name,
        ),
        logical_id="crm_front_end__sql_server__tcp_1433",
    )
    azure.NetworkSecurityRule(
        stack,
        "rule_prefixes",
        azure.NetworkSecurityRuleConfig(
            name="clients--crm-front-end--tcp-80-443",
            priority=210,
            direction="Inbound",
            access="Allow",
            protocol="Tcp",
            source_port_range="*",
            destination_port_ranges=["80", "443"],
            source_address_prefixes=["10.30.8.0/24", "10.30.9.0/24"],
            destination_address_prefix="VirtualNetwork",
            resource_group_name=rg.name,
            network_security_group_name=nsg.name,
        ),
    )
    azure.SubnetNetworkSecurityGroupAssociation(
        stack,
        "assoc",
        azure.SubnetNetworkSecurityGroupAssociationConfig(
            subnet_id=subnet.id, network_security_group_id=nsg.id
        ),
    )


@pytest.fixture(scope="module")
def azure_config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return load(synth(build_azure, tmp_path_factory.mktemp("azure") / "out"))


def test_azurerm_provider_block(azure_config: dict[str, Any]) -> None:
    assert azure_config["terraform"]["required_providers"] == {
        "azurerm": {"source": "hashicorp/azurerm", "version": "~> 4.0"}
    }
    assert azure_config["provider"]["azurerm"] == [
        {"features": [{}], "subscription_id": "0000-sub"}
    ]


EXPECTED_AZURE_KEYS = {
    ("azurerm_resource_group", "rg"): {"name", "location", "tags", "provider"},
    ("azurerm_virtual_network", "vnet"): {
        "name",
        "location",
        "resource_group_name",
        "address_space",
        "tags",
    },
    ("azurerm_subnet", "subnet"): {
        "name",
        "resource_group_name",
        "virtual_network_name",
        "address_prefixes",
    },
    ("azurerm_application_security_group", "asg_front"): {
        "name",
        "location",
        "resource_group_name",
    },
    ("azurerm_application_security_group", "asg_sql"): {
        "name",
        "location",
        "resource_group_name",
        "tags",
    },
    ("azurerm_network_security_group", "nsg"): {"name", "location", "resource_group_name"},
    ("azurerm_network_security_rule", "crm_front_end__sql_server__tcp_1433"): {
        "name",
        "priority",
        "direction",
        "access",
        "protocol",
        "source_port_range",
        "destination_port_range",
        "source_application_security_group_ids",
        "destination_application_security_group_ids",
        "description",
        "resource_group_name",
        "network_security_group_name",
    },
    ("azurerm_network_security_rule", "rule_prefixes"): {
        "name",
        "priority",
        "direction",
        "access",
        "protocol",
        "source_port_range",
        "destination_port_ranges",
        "source_address_prefixes",
        "destination_address_prefix",
        "resource_group_name",
        "network_security_group_name",
    },
    ("azurerm_subnet_network_security_group_association", "assoc"): {
        "subnet_id",
        "network_security_group_id",
    },
}


def test_azure_resources_have_exactly_the_expected_keys(azure_config: dict[str, Any]) -> None:
    emitted = {
        (rtype, name): set(body) - {"//"}
        for rtype, bodies in azure_config["resource"].items()
        for name, body in bodies.items()
    }
    assert emitted == EXPECTED_AZURE_KEYS


def test_azure_references_and_values(azure_config: dict[str, Any]) -> None:
    resources = azure_config["resource"]
    rule = resources["azurerm_network_security_rule"]["crm_front_end__sql_server__tcp_1433"]
    assert rule["source_port_range"] == "*"
    assert rule["source_application_security_group_ids"] == [
        "${azurerm_application_security_group.asg_front.id}"
    ]
    assert rule["network_security_group_name"] == "${azurerm_network_security_group.nsg.name}"
    assert rule["resource_group_name"] == "${azurerm_resource_group.rg.name}"
    assert rule["priority"] == 200
    assert "security_rule" not in resources["azurerm_network_security_group"]["nsg"]
    assoc = resources["azurerm_subnet_network_security_group_association"]["assoc"]
    assert assoc == {
        "//": assoc["//"],
        "subnet_id": "${azurerm_subnet.subnet.id}",
        "network_security_group_id": "${azurerm_network_security_group.nsg.id}",
    }


# --------------------------------------------------------------------------
# Config checks that Terraform validate would not catch
# --------------------------------------------------------------------------


def _rule(**changes: Any) -> aws.SecurityGroupRuleConfig:
    values: dict[str, Any] = {
        "security_group_id": "sg-1",
        "ip_protocol": "tcp",
        "from_port": 443,
        "to_port": 443,
        "cidr_ipv4": "10.0.0.0/8",
    }
    values.update(changes)
    return aws.SecurityGroupRuleConfig(**values)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cidr_ipv4": None}, "exactly one"),
        ({"referenced_security_group_id": "sg-2"}, "exactly one"),
        ({"from_port": None}, "needs from_port"),
        ({"from_port": 500, "to_port": 400}, "ascending"),
        ({"to_port": 70000}, "0-65535"),
        ({"ip_protocol": "-1"}, "takes no from_port"),
        ({"description": "SQL → front-end"}, "EC2 description"),
        ({"description": "it's"}, "EC2 description"),
        ({"cidr_ipv4": "10.0.0.1/8"}, "network CIDR"),
    ],
)
def test_aws_rule_config_rejects(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _rule(**changes)


def test_aws_rule_config_accepts_tokens_and_all_traffic() -> None:
    _rule(cidr_ipv4="${TfToken[TOKEN.1]}")
    _rule(ip_protocol="-1", from_port=None, to_port=None)
    _rule(ip_protocol="icmp", from_port=8, to_port=-1)


def test_security_group_name_rules() -> None:
    with pytest.raises(ValueError, match="sg-"):
        aws.SecurityGroupConfig(name="sg-web", description="x", vpc_id="v")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"priority": 99}, "100-4096"),
        ({"priority": 4097}, "100-4096"),
        ({"direction": "inbound"}, "direction"),
        ({"protocol": "TCP"}, "protocol"),
        ({"name": "-starts-with-dash"}, "rule name"),
        ({"name": "x" * 81}, "rule name"),
        ({"destination_port_ranges": ["80"]}, "destination ports"),
        ({"destination_port_range": "99999"}, "0-65535"),
        ({"destination_port_range": "443-80"}, "ascending"),
        ({"source_address_prefixes": ["10.0.0.0/8"]}, "source"),
        ({"destination_address_prefix": None}, "destination"),
        ({"source_port_range": "*", "source_port_ranges": ["1"]}, "not both"),
        ({"description": "x" * 141}, "140"),
    ],
)
def test_nsg_rule_config_rejects(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _nsg_rule(**changes)


# --------------------------------------------------------------------------
# The harness itself: it must be able to fail, and to skip or fail on demand
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_terraform_validate_reports_provider_diagnostics(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="valid IPv4 CIDR that represents a network"):
        terraform_validate(synth(build_bad_cidr, tmp_path / "out"))


@pytest.mark.slow
def test_batched_validate_pins_each_error_on_its_own_stack(
    batch: dict[str, Validation],
) -> None:
    """The provider's diagnostic for the bad CIDR is found although another stack of the
    batch stopped Terraform before any provider was asked; each failure names its own
    file and resource (no `module.` prefix of the batch), and no other stack's."""
    for name, expected in (
        ("bad-cidr", "valid IPv4 CIDR that represents a network"),
        ("unknown-attribute", "no_such_attribute"),
    ):
        with pytest.raises(AssertionError) as failure:
            batch[name].assert_valid()
        message = str(failure.value)
        assert message.startswith(
            f"terraform validate rejected {batch[name].stack_dir / 'cdk.tf.json'}:"
        )
        assert expected in message
        others = [v.stack_dir for k, v in batch.items() if k != name]
        assert not [d for d in others if str(d) in message]
        assert "module." not in message
    [cidr] = batch["bad-cidr"].errors
    assert cidr["address"] == "aws_vpc_security_group_ingress_rule.rule"
    assert cidr["range"]["filename"] == str(batch["bad-cidr"].stack_dir / "cdk.tf.json")
    assert batch["aws"].diagnostics == batch["emulator"].diagnostics == ()


def _outcome(call: Callable[[], object]) -> tuple[str, str]:
    """How `call` ended: ("skip" | "fail", its message), or ("returned", "").

    Caught here, not by `pytest.raises(pytest.fail.Exception)`: a skip raised where a
    failure is due would escape that and skip the whole test, which passes a green run
    (CI's CRM_PORTS_REQUIRE_TOOLS=1 fails only the skips the harness itself decides)."""
    try:
        call()
    except pytest.skip.Exception as skipped:
        return "skip", str(skipped)
    except pytest.fail.Exception as failed:
        return "fail", str(failed)
    return "returned", ""


def test_require_tool_skips_or_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv(tf_harness.REQUIRE_TOOLS_ENV, raising=False)
    needed = partial(tf_harness.require_tool, "terraform", "needed here")
    assert _outcome(needed) == ("skip", "terraform unavailable: needed here")
    monkeypatch.setenv(tf_harness.REQUIRE_TOOLS_ENV, "1")
    kind, message = _outcome(needed)
    assert (kind, "forbids skipping" in message) == ("fail", True), message


def test_require_module_skips_or_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """`pytest.importorskip` would skip under CRM_PORTS_REQUIRE_TOOLS=1 too."""
    monkeypatch.delenv(tf_harness.REQUIRE_TOOLS_ENV, raising=False)
    assert tf_harness.require_module("json", "always there").dumps([]) == "[]"
    needed = partial(tf_harness.require_module, "crm_ports_no_such", "needed")
    assert _outcome(needed) == ("skip", "python package crm_ports_no_such unavailable: needed")
    monkeypatch.setenv(tf_harness.REQUIRE_TOOLS_ENV, "1")
    kind, message = _outcome(needed)
    assert (kind, "forbids skipping" in message) == ("fail", True), message


def test_no_test_skips_past_the_required_tools() -> None:
    """Every optional import goes through `require_module`, which CI turns into a failure."""
    bypass = "pytest.importor" + "skip("
    users = [p.name for p in Path(__file__).parent.glob("*.py") if bypass in p.read_text()]
    assert users == []


def test_mirror_discovery_and_cli_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    binary_dir = mirror / tf_harness.AWS_PROVIDER_ADDRESS / "5.100.0" / tf_harness._platform_dir()
    binary_dir.mkdir(parents=True)
    (binary_dir / "terraform-provider-aws_v5.100.0_x5").write_bytes(b"")
    monkeypatch.setenv(tf_harness.MIRROR_ENV, str(mirror))
    assert tf_harness.aws_provider_mirror() == mirror
    monkeypatch.setenv(tf_harness.MIRROR_ENV, str(tmp_path / "empty"))
    assert tf_harness.aws_provider_mirror() is None

    text = tf_harness.write_cli_config(tmp_path / "cfg", mirror).read_text()
    assert f'path    = "{mirror}"' in text
    assert 'include = ["registry.terraform.io/hashicorp/aws"]' in text
    assert 'exclude = ["registry.terraform.io/hashicorp/aws"]' in text
