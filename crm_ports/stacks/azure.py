"""The Azure lab stack: provider, the lab's resource group, virtual network, subnet and
the NSG's subnet association (each unless given), the CRM firewall, and outputs with
every application security group id."""

from __future__ import annotations

from constructs import Construct

from crm_ports.constructs.azure import AzureCrmFirewall
from crm_ports.constructs.cdk import TerraformOutput, TerraformStack, TerraformVariable, check_scope
from crm_ports.constructs.resources.azure import (
    AzurermProvider,
    AzurermProviderConfig,
    ResourceGroup,
    ResourceGroupConfig,
    Subnet,
    SubnetConfig,
    SubnetNetworkSecurityGroupAssociation,
    SubnetNetworkSecurityGroupAssociationConfig,
    VirtualNetwork,
    VirtualNetworkConfig,
)
from crm_ports.lab.model import Lab
from crm_ports.plans.azure import default_resource_group
from crm_ports.plans.text import LAB_TAG
from crm_ports.ruleset import RuleSet
from crm_ports.stacks.common import peer_variables, state_backend

REQUIRED_TERRAFORM = ">= 1.7"
CREATE_RG = '${var.resource_group_name == "" ? 1 : 0}'
CREATE_NET = '${var.subnet_id == "" ? 1 : 0}'


class AzureLabStack(TerraformStack):
    """`cdktf deploy azure-<lab>` with no inputs (the subscription comes from
    ARM_SUBSCRIPTION_ID or the Azure CLI login, as azurerm 4.x expects)."""

    def __init__(self, scope: Construct, name: str, *, lab: Lab, rules: RuleSet) -> None:
        check_scope(scope, f"AzureLabStack {name!r}")
        super().__init__(scope, name)
        state_backend(self, name, lab.backend)
        # The firewall's `removed` blocks (rule resources of older versions) are
        # Terraform 1.7's; an older one would stop at "Unsupported block type".
        self.add_override("terraform.required_version", REQUIRED_TERRAFORM)
        settings = lab.azure
        provider = AzurermProvider(self, "azurerm", AzurermProviderConfig())
        for var, default, text in (
            (
                "resource_group_name",
                settings.resource_group_name or "",
                "Existing resource group for the lab; empty creates one",
            ),
            ("location", settings.location, "Azure region of the lab"),
            (
                "subnet_id",
                settings.subnet_id or "",
                "Existing subnet for the lab; empty creates a virtual network and subnet",
            ),
        ):
            TerraformVariable(
                self, var, type="string", default=default, description=text, nullable=False
            )
        tags = {LAB_TAG: lab.name}
        ResourceGroup(
            self,
            "resource-group",
            ResourceGroupConfig(
                name=default_resource_group(lab.name), location="${var.location}", tags=tags
            ),
            provider=provider,
            logical_id="lab",
            meta={"count": CREATE_RG},
        )
        group_name = "${coalesce(var.resource_group_name, one(azurerm_resource_group.lab[*].name))}"
        VirtualNetwork(
            self,
            "vnet",
            VirtualNetworkConfig(
                name=f"{lab.name}-vnet",
                location="${var.location}",
                resource_group_name=group_name,
                address_space=[settings.vnet_cidr],
                tags=tags,
            ),
            provider=provider,
            logical_id="lab",
            meta={"count": CREATE_NET},
        )
        Subnet(
            self,
            "subnet",
            SubnetConfig(
                name="crm",
                resource_group_name=group_name,
                virtual_network_name="${azurerm_virtual_network.lab[0].name}",
                address_prefixes=[settings.subnet_cidr],
            ),
            provider=provider,
            logical_id="lab",
            meta={"count": CREATE_NET},
        )
        firewall = AzureCrmFirewall(
            self,
            "crm",
            rules=rules,
            resource_group_name=group_name,
            location="${var.location}",
            lab=lab.name,
            peer_cidrs=peer_variables(self, rules),
            provider=provider,
            record=False,  # `crm-ports synth` writes crm-ports.json beside the stack
            adopt=lab.adopt_azure,
        )
        if lab.adopt_azure is not None:  # the first apply takes the live NSG and ASGs over
            self.add_override("import", firewall.import_blocks)
        SubnetNetworkSecurityGroupAssociation(
            self,
            "association",
            SubnetNetworkSecurityGroupAssociationConfig(
                subnet_id="${azurerm_subnet.lab[0].id}",
                network_security_group_id=firewall.network_security_group_id,
            ),
            provider=provider,
            logical_id="lab",
            meta={"count": CREATE_NET},
        )
        TerraformOutput(
            self,
            "application_security_group_ids",
            value=firewall.application_security_group_ids,
            description="Host group -> application security group id",
        )
        TerraformOutput(
            self,
            "nic_application_security_group_ids",
            value={
                g: firewall.application_security_group_ids_for(g) for g in sorted(firewall.groups)
            },
            description="Host group -> the application security group ids its NICs carry",
        )
        TerraformOutput(self, "network_security_group_id", value=firewall.network_security_group_id)
        TerraformOutput(self, "lab_resource_group_name", value=group_name)
        TerraformOutput(
            self, "lab_subnet_id", value="${coalesce(var.subnet_id, one(azurerm_subnet.lab[*].id))}"
        )
        self.firewall = firewall
