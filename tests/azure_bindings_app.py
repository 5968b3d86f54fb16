"""crm-ports' Azure lab stacks rebuilt on the prebuilt cdktf-cdktf-provider-azurerm bindings.

No azurerm provider binary is reachable here, so `terraform validate` cannot check our
hand-written azurerm resources (`crm_ports.constructs.resources.azure`). The generated
bindings are the next best authority: they are produced from azurerm's own schema. This
module builds the same lab stack as `crm_ports.stacks.azure.AzureLabStack`, from the same
plan (`crm_ports.plans.azure.plan_azure`) and lab settings, but with the bindings' resource
classes, so `tests/test_azure_equivalence.py` can assert the synthesized JSON is identical.

Run it as a script, in its own process: importing the bindings loads a ~45 MB jsii
assembly (over ten seconds and about a gigabyte of memory), which must not land in the
test process or a benchmark's measurement of something else::

    python tests/azure_bindings_app.py --out DIR [--default-labs] [LAB.yaml ...]

It writes `DIR/stacks/azure-<lab>/cdk.tf.json` for every lab that names Azure.

Only cdktf-core helpers are shared with the real stack (`state_backend`, `peer_variables`,
`peer_cidrs_for`, the `count` expressions); everything that goes through our resource
layer is rebuilt here with the bindings, because that layer is what is under test.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

# Before cdktf loads: jsii prints an end-of-life banner on Node 20, which we support.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from cdktf import App, TerraformOutput, TerraformStack, TerraformVariable, Token
from cdktf_cdktf_provider_azurerm.application_security_group import (
    ApplicationSecurityGroup,
)
from cdktf_cdktf_provider_azurerm.network_security_group import (
    NetworkSecurityGroup,
    NetworkSecurityGroupSecurityRule,
)
from cdktf_cdktf_provider_azurerm.provider import (
    AzurermProvider,
    AzurermProviderFeatures,
)
from cdktf_cdktf_provider_azurerm.resource_group import ResourceGroup
from cdktf_cdktf_provider_azurerm.subnet import Subnet
from cdktf_cdktf_provider_azurerm.subnet_network_security_group_association import (
    SubnetNetworkSecurityGroupAssociation,
)
from cdktf_cdktf_provider_azurerm.virtual_network import VirtualNetwork
from constructs import Construct

from crm_ports.constructs.peers import CidrList, peer_cidrs_for
from crm_ports.lab.file import load_lab
from crm_ports.lab.model import Lab, default_labs
from crm_ports.plans.azure import NsgRuleSpec, plan_azure
from crm_ports.plans.text import TAG_PREFIX
from crm_ports.ruleset import RuleSet
from crm_ports.stacks.azure import CREATE_NET, CREATE_RG
from crm_ports.stacks.common import peer_variables, state_backend
from crm_ports.synth.plan import StackPlan, plan_stacks
from crm_ports.terraform.resources import azure_import_blocks


def _as_list(value: CidrList) -> list[str]:
    """The bindings type-check list attributes, so a Terraform expression such as
    "${var.client_cidrs}" goes in as a list token (it resolves back to the same string)."""
    return Token.as_list(value) if isinstance(value, str) else list(value)


class AzureBindingsLabStack(TerraformStack):
    """`AzureLabStack` on the prebuilt bindings: same construct tree, same logical ids."""

    def __init__(self, scope: Construct, name: str, *, lab: Lab, rules: RuleSet) -> None:
        super().__init__(scope, name)
        state_backend(self, name, lab.backend)
        settings = lab.azure
        provider = AzurermProvider(self, "azurerm", features=[AzurermProviderFeatures()])
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
        tags = {f"{TAG_PREFIX}lab": lab.name}
        location = "${var.location}"
        ResourceGroup(
            self,
            "resource-group",
            name=f"{lab.name}-rg",
            location=location,
            tags=tags,
            provider=provider,
            count=Token.as_number(CREATE_RG),
        ).override_logical_id("lab")
        group_name = "${coalesce(var.resource_group_name, one(azurerm_resource_group.lab[*].name))}"
        VirtualNetwork(
            self,
            "vnet",
            name=f"{lab.name}-vnet",
            location=location,
            resource_group_name=group_name,
            address_space=[settings.vnet_cidr],
            tags=tags,
            provider=provider,
            count=Token.as_number(CREATE_NET),
        ).override_logical_id("lab")
        Subnet(
            self,
            "subnet",
            name="crm",
            resource_group_name=group_name,
            virtual_network_name="${azurerm_virtual_network.lab[0].name}",
            address_prefixes=[settings.subnet_cidr],
            provider=provider,
            count=Token.as_number(CREATE_NET),
        ).override_logical_id("lab")

        firewall = _Firewall(
            self,
            "crm",
            lab=lab,
            rules=rules,
            resource_group_name=group_name,
            location=location,
            cidrs=peer_cidrs_for(rules, peer_variables(self, rules)),
            provider=provider,
        )
        if lab.adopt_azure is not None:  # Terraform's own blocks: no provider schema's say
            self.add_override("import", azure_import_blocks(firewall.plan))
        SubnetNetworkSecurityGroupAssociation(
            self,
            "association",
            subnet_id="${azurerm_subnet.lab[0].id}",
            network_security_group_id=firewall.nsg.id,
            provider=provider,
            count=Token.as_number(CREATE_NET),
        ).override_logical_id("lab")

        ids = {group: asg.id for group, asg in sorted(firewall.asgs.items())}
        TerraformOutput(
            self,
            "application_security_group_ids",
            value=ids,
            description="Host group -> application security group id",
        )
        TerraformOutput(
            self,
            "nic_application_security_group_ids",
            value={group: firewall.nic_ids(group) for group in sorted(firewall.asgs)},
            description="Host group -> the application security group ids its NICs carry",
        )
        TerraformOutput(self, "network_security_group_id", value=firewall.nsg.id)
        TerraformOutput(self, "lab_resource_group_name", value=group_name)
        TerraformOutput(
            self, "lab_subnet_id", value="${coalesce(var.subnet_id, one(azurerm_subnet.lab[*].id))}"
        )


class _Firewall(Construct):
    """`AzureCrmFirewall`'s tree (crm/<group>/asg, crm/nsg with its inline rules) on the
    bindings. The `removed` blocks for the rule resources of older versions are Terraform's
    own (no provider schema has a say), so they are not rebuilt here."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        lab: Lab,
        rules: RuleSet,
        resource_group_name: str,
        location: str,
        cidrs: Mapping[str, CidrList],
        provider: AzurermProvider,
    ) -> None:
        super().__init__(scope, id)
        plan = plan_azure(rules, lab.name, adopt=lab.adopt_azure)
        self.plan = plan
        self._members = next((g.name for g in rules.groups if g.is_members), None)
        self.asgs: dict[str, ApplicationSecurityGroup] = {}
        for spec in sorted(plan.asgs, key=lambda s: s.group != self._members):
            asg = ApplicationSecurityGroup(
                Construct(self, spec.group),
                "asg",
                name=spec.name,
                location=location,
                resource_group_name=resource_group_name,
                tags=dict(spec.tags),
                provider=provider,
            )
            asg.override_logical_id(spec.key)
            self.asgs[spec.group] = asg
        self.nsg = NetworkSecurityGroup(
            self,
            "nsg",
            name=plan.nsg_name,
            location=location,
            resource_group_name=resource_group_name,
            tags=dict(plan.tags),
            security_rule=[self._rule(rule, cidrs) for rule in plan.rules],
            provider=provider,
        )
        self.nsg.override_logical_id("nsg")

    def nic_ids(self, group: str) -> list[str]:
        own = [self.asgs[group].id]
        if self._members is None or group == self._members:
            return own
        return [*own, self.asgs[self._members].id]

    def _rule(
        self, spec: NsgRuleSpec, cidrs: Mapping[str, CidrList]
    ) -> NetworkSecurityGroupSecurityRule:
        every_port = spec.port_ranges == ("*",)
        source_ids = source_prefix = source_prefixes = None
        if spec.source_group is not None:
            source_ids = [self.asgs[spec.source_group].id]
        elif spec.source_peer is not None:
            source_prefixes = _as_list(cidrs[spec.source_peer])
        else:
            source_prefix = spec.source_prefixes[0]
        target = spec.target_group
        return NetworkSecurityGroupSecurityRule(
            name=spec.name,
            priority=spec.priority,
            direction=spec.direction,
            access=spec.access,
            protocol=spec.protocol,
            # Any source port: the rules constrain destination ports only.
            source_port_range="*",
            destination_port_range="*" if every_port else None,
            destination_port_ranges=None if every_port else list(spec.port_ranges),
            source_address_prefix=source_prefix,
            source_address_prefixes=source_prefixes,
            source_application_security_group_ids=source_ids,
            destination_address_prefix="*" if target is None else None,
            destination_application_security_group_ids=(
                None if target is None else [self.asgs[target].id]
            ),
            description=spec.description,
        )


StackKinds = Mapping[str, Callable[..., TerraformStack]]


def synth_stacks(
    stacks: Sequence[StackPlan],
    outdir: Path,
    kinds: StackKinds,
    progress: Callable[[str], None] = lambda _line: None,
) -> list[Path]:
    """`crm_ports.synth.build.synth_app` with other stack classes (cloud -> class), without
    crm-ports.json; the same progress lines, so a benchmark can split construction from
    synthesis the same way."""
    app = App(outdir=str(outdir))
    for index, stack in enumerate(stacks, 1):
        if stack.cloud not in kinds:
            raise ValueError(f"{stack.name}: no bindings stack for cloud {stack.cloud!r}")
        kinds[stack.cloud](app, stack.name, lab=stack.lab, rules=stack.rules)
        progress(f"[{index}/{len(stacks)}] built {stack.name} ({len(stack.rules.rules)} rules)")
    progress(f"synthesizing {len(stacks)} stack(s)")
    app.synth()
    return [outdir / "stacks" / stack.name for stack in stacks]


def run_cli(argv: Sequence[str] | None, description: str, kinds: StackKinds) -> int:
    """`--out DIR [--default-labs] [LAB.yaml ...]`: synthesize the labs' stacks of the
    clouds in `kinds`; prints the stack names. Labs are planned by `crm_ports.app`
    (same validation, same rule sets), default labs first as `crm-ports synth` orders them."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, required=True, help="cdktf output directory")
    parser.add_argument("--default-labs", action="store_true", help="include the default labs")
    parser.add_argument("labs", nargs="*", help="lab files")
    args = parser.parse_args(argv)
    labs = [*(default_labs() if args.default_labs else ()), *(load_lab(Path(p)) for p in args.labs)]
    stacks = [stack for stack in plan_stacks(labs) if stack.cloud in kinds]
    args.out.mkdir(parents=True, exist_ok=True)
    for directory in synth_stacks(stacks, args.out, kinds):
        print(directory.name)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(argv, __doc__.splitlines()[0], {"azure": AzureBindingsLabStack})


if __name__ == "__main__":
    raise SystemExit(main())
