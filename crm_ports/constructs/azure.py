"""Azure constructs: an application security group per host group and one network
security group whose inbound rules reference them.

`crm_ports.plans.azure` decides names, port grouping and stable priorities; this module
maps each ASG spec onto one Terraform resource and the rules onto the NSG's inline
`security_rule` set, which azurerm writes in one request: Azure judges the new set as a
whole, so an edit never fails half-way on two rules holding one priority for a moment.
Peer ranges stay whatever the caller passed (a list, a list token or a Terraform
expression such as "${var.client_cidrs}").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from constructs import Construct

from crm_ports.constructs.cdk import TerraformElement, TerraformProvider, check_scope
from crm_ports.constructs.peers import CidrList, peer_cidrs_for
from crm_ports.constructs.resources.azure import (
    ApplicationSecurityGroup,
    ApplicationSecurityGroupConfig,
    NetworkSecurityGroup,
    NetworkSecurityGroupConfig,
    NetworkSecurityGroupSecurityRule,
    NetworkSecurityRule,
)
from crm_ports.plans.azure import AsgSpec, AzurePlan, NsgRuleSpec, plan_azure
from crm_ports.ruleset import RuleSet


class AzureCrmGroup(Construct):
    """One host group's application security group. Put `application_security_group_ids`
    on the network interfaces of its virtual machines."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: AsgSpec,
        resource_group_name: str,
        location: str,
        members_group: AzureCrmGroup | None = None,
        provider: TerraformProvider | None = None,
        logical_id_prefix: str = "",
    ) -> None:
        super().__init__(scope, id)
        self.group = spec.group
        self.spec = spec
        self.application_security_group = ApplicationSecurityGroup(
            self,
            "asg",
            ApplicationSecurityGroupConfig(
                name=spec.name,
                location=location,
                resource_group_name=resource_group_name,
                tags=dict(spec.tags),
            ),
            provider=provider,
            logical_id=logical_id_prefix + spec.key,
        )
        self._members = members_group

    @property
    def application_security_group_id(self) -> str:
        return self.application_security_group.id

    @property
    def application_security_group_ids(self) -> list[str]:
        own = [self.application_security_group_id]
        return own if self._members is None else [*own, self._members.application_security_group_id]


class AzureCrmFirewall(Construct):
    """A whole topology's ASGs and the NSG that holds its rules.

    Associate `network_security_group_id` with the lab's subnet (the lab stack does) and
    give each NIC its group's `application_security_group_ids`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        rules: RuleSet,
        resource_group_name: str,
        location: str,
        lab: str | None = None,
        peer_cidrs: Mapping[str, CidrList] | None = None,
        provider: TerraformProvider | None = None,
        logical_id_prefix: str = "",
    ) -> None:
        check_scope(scope, f"AzureCrmFirewall {id!r}", provider)
        super().__init__(scope, id)
        self.plan: AzurePlan = plan_azure(rules, lab or rules.topology)
        by_peer = peer_cidrs_for(rules, peer_cidrs)
        tags = dict(self.plan.tags)
        members_name = next((g.name for g in rules.groups if g.is_members), None)
        self.groups: dict[str, AzureCrmGroup] = {}
        for spec in sorted(self.plan.asgs, key=lambda s: s.group != members_name):
            self.groups[spec.group] = AzureCrmGroup(
                self,
                spec.group,
                spec=spec,
                resource_group_name=resource_group_name,
                location=location,
                members_group=None
                if spec.group == members_name
                else self.groups.get(members_name or ""),
                provider=provider,
                logical_id_prefix=logical_id_prefix,
            )
        self.network_security_group = NetworkSecurityGroup(
            self,
            "nsg",
            NetworkSecurityGroupConfig(
                name=self.plan.nsg_name,
                location=location,
                resource_group_name=resource_group_name,
                tags=tags,
                security_rule=nsg_rules(
                    self.plan,
                    cidrs=by_peer,
                    asg_id=lambda group: self.groups[group].application_security_group_id,
                ),
            ),
            provider=provider,
            logical_id=logical_id_prefix + "nsg",
        )
        self.removed_rule_resources = RemovedRuleResources(
            self, "removed-rules", plan=lambda: self.plan, logical_id_prefix=logical_id_prefix
        )

    @property
    def network_security_group_id(self) -> str:
        return self.network_security_group.id

    @property
    def application_security_group_ids(self) -> dict[str, str]:
        """Host group -> application security group id (tokens)."""
        return {n: g.application_security_group_id for n, g in sorted(self.groups.items())}

    def application_security_group_ids_for(self, group: str) -> list[str]:
        return self.groups[group].application_security_group_ids

    def override_rule(self, rule_id: str, path: str, value: Any) -> None:
        """Override one attribute (`description`) of the NSG rule that carries `rule_id`."""
        for name in rule_names(self.plan, rule_id):
            self.network_security_group.override_security_rule(name, path, value)


def nsg_rules(
    plan: AzurePlan, *, cidrs: Mapping[str, CidrList], asg_id: Callable[[str], str]
) -> list[NetworkSecurityGroupSecurityRule]:
    """The plan's NSG rules as the NSG's inline rules, in the plan's order."""
    return [_rule(spec, cidrs, asg_id) for spec in plan.rules]


def rule_names(plan: AzurePlan, rule_id: str) -> list[str]:
    """The NSG rules that carry `rule_id` (a KeyError if none does)."""
    names = [s.name for s in plan.rules if rule_id in s.rule_ids]
    if not names:
        raise KeyError(f"no NSG rule carries {rule_id!r} (Azure renders inbound rules only)")
    return names


class RemovedRuleResources(TerraformElement):
    """`removed` blocks (Terraform 1.7+) for the standalone `azurerm_network_security_rule`
    resources that crm-ports wrote before its NSGs carried their rules inline.

    A lab deployed by that version holds one such resource per rule in its state. Without
    these blocks the first apply after an upgrade would destroy them, deleting the very
    rules the NSG's new inline set has just written; with them Terraform forgets the old
    resources (`destroy = false`) and the NSG's one update takes the rules over in place.
    A block whose resource is not in the state does nothing.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        plan: Callable[[], AzurePlan],
        logical_id_prefix: str = "",
    ) -> None:
        super().__init__(scope, id, "removed")
        self._crm_plan = plan  # asked at synthesis: a per-role lab plans only then
        self._crm_prefix = logical_id_prefix

    def to_terraform(self) -> Any:
        kind = NetworkSecurityRule.TERRAFORM_TYPE
        return {
            "removed": [
                {"from": f"{kind}.{self._crm_prefix}{spec.key}", "lifecycle": {"destroy": False}}
                for spec in self._crm_plan().rules
            ]
        }


def _rule(
    spec: NsgRuleSpec, cidrs: Mapping[str, CidrList], asg_id: Callable[[str], str]
) -> NetworkSecurityGroupSecurityRule:
    every_port = spec.port_ranges == ("*",)
    source_ids = source_prefix = source_prefixes = None
    if spec.source_group is not None:
        source_ids = [asg_id(spec.source_group)]
    elif spec.source_peer is not None:
        source_prefixes = cidrs[spec.source_peer]
    else:
        source_prefix = spec.source_prefixes[0]
    target = spec.target_group
    return NetworkSecurityGroupSecurityRule(
        name=spec.name,
        priority=spec.priority,
        direction=spec.direction,
        access=spec.access,
        protocol=spec.protocol,
        destination_port_range="*" if every_port else None,
        destination_port_ranges=None if every_port else list(spec.port_ranges),
        source_address_prefix=source_prefix,
        source_address_prefixes=source_prefixes,
        source_application_security_group_ids=source_ids,
        destination_address_prefix="*" if target is None else None,
        destination_application_security_group_ids=(None if target is None else [asg_id(target)]),
        description=spec.description,
    )


__all__: Sequence[str] = (
    "AzureCrmFirewall",
    "AzureCrmGroup",
    "RemovedRuleResources",
    "nsg_rules",
    "rule_names",
)
