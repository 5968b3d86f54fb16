"""The AWS lab stack: provider, the lab's VPC and subnet (unless a VPC id is given), the
CRM firewall, and outputs with every security group id."""

from __future__ import annotations

from constructs import Construct

from crm_ports.constructs.aws import AwsCrmFirewall
from crm_ports.constructs.cdk import TerraformOutput, TerraformStack, TerraformVariable, check_scope
from crm_ports.constructs.resources.aws import (
    AwsProvider,
    AwsProviderConfig,
    Subnet,
    SubnetConfig,
    Vpc,
    VpcConfig,
)
from crm_ports.lab.model import Lab
from crm_ports.plans.text import LAB_TAG
from crm_ports.ruleset import RuleSet
from crm_ports.stacks.common import peer_variables, state_backend

CREATE = '${var.vpc_id == "" ? 1 : 0}'


class AwsLabStack(TerraformStack):
    """`cdktf deploy aws-<lab>` with no inputs: creates a VPC and subnet for the lab
    unless `vpc_id` (variable, or `aws.vpc_id` in the lab file) names an existing one."""

    def __init__(self, scope: Construct, name: str, *, lab: Lab, rules: RuleSet) -> None:
        check_scope(scope, f"AwsLabStack {name!r}")
        super().__init__(scope, name)
        state_backend(self, name, lab.backend, lab.aws.endpoint_url)
        settings = lab.aws
        if settings.endpoint_url:
            config = AwsProviderConfig.for_emulator(settings.endpoint_url, settings.region)
        else:
            config = AwsProviderConfig(region=settings.region)
        provider = AwsProvider(self, "aws", config)
        TerraformVariable(
            self,
            "vpc_id",
            type="string",
            default=settings.vpc_id or "",
            description="Existing VPC for the lab; empty creates one",
            nullable=False,
        )
        tags = {"Name": lab.name, LAB_TAG: lab.name}
        Vpc(
            self,
            "vpc",
            VpcConfig(
                cidr_block=settings.vpc_cidr,
                enable_dns_support=True,
                enable_dns_hostnames=True,
                tags=tags,
            ),
            provider=provider,
            logical_id="lab",
            meta={"count": CREATE},
        )
        Subnet(
            self,
            "subnet",
            SubnetConfig(vpc_id="${aws_vpc.lab[0].id}", cidr_block=settings.subnet_cidr, tags=tags),
            provider=provider,
            logical_id="lab",
            meta={"count": CREATE},
        )
        vpc_id = "${coalesce(var.vpc_id, one(aws_vpc.lab[*].id))}"
        firewall = AwsCrmFirewall(
            self,
            "crm",
            rules=rules,
            vpc_id=vpc_id,
            lab=lab.name,
            egress=settings.egress,
            peer_cidrs=peer_variables(self, rules),
            provider=provider,
            record=False,  # `crm-ports synth` writes crm-ports.json beside the stack
            adopt=lab.adopt,
        )
        if lab.adopt:  # the first apply takes the live groups over instead of adding new ones
            self.add_override("import", firewall.import_blocks)
        TerraformOutput(
            self,
            "security_group_ids",
            value=firewall.security_group_ids,
            description="Host group -> security group id",
        )
        TerraformOutput(
            self,
            "instance_security_group_ids",
            value={g: firewall.security_group_ids_for(g) for g in sorted(firewall.groups)},
            description="Host group -> the security group ids its instances carry",
        )
        if firewall.load_balancer_security_group_id is not None:
            TerraformOutput(
                self,
                "load_balancer_security_group_id",
                value=firewall.load_balancer_security_group_id,
                description="The security group to attach to the lab's Application Load Balancer",
            )
        TerraformOutput(self, "lab_vpc_id", value=vpc_id)
        # Never null: with a VPC of the lab's own (aws.vpc_id) no subnet is created, and
        # cdktf-cli's deploy fails after a successful apply on an output whose value is null
        # ("Cannot convert undefined or null to object").
        TerraformOutput(
            self,
            "lab_subnet_id",
            value='${join("", aws_subnet.lab[*].id)}',
            description="The subnet crm-ports created; empty when the lab names its own VPC",
        )
        self.firewall = firewall
