"""Azure constructs: an application security group per host group and one network
security group whose inbound rules reference them.

`crm_ports.plans.azure` decides names, port grouping and stable priorities; this module
maps each spec onto one Terraform resource. Peer ranges stay whatever the caller passed
(a list, a list token or a Terraform expression such as "${var.client_cidrs}").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from constructs import Construct

from crm_ports.cdk import TerraformProvider, check_scope
from crm_ports.constructs.peers import CidrList, peer_cidrs_for
from crm_ports.constructs.resources._base import ResourceBatch
from crm_ports.constructs.resources.azure import (
    ApplicationSecurityGroup,
    ApplicationSecurityGroupConfig,
    NetworkSecurityGroup,
    NetworkSecurityGroupConfig,
    NetworkSecurityRule,
    NetworkSecurityRuleConfig,
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
            ),
            provider=provider,
            logical_id=logical_id_prefix + "nsg",
        )
        nsg_name = self.network_security_group.name
        # Rules: one batch for the whole NSG (see ResourceBatch for why).
        self.rules = ResourceBatch(self, "rules", provider=provider)
        self._prefix = logical_id_prefix
        add_nsg_rules(
            self.rules,
            self.plan,
            resource_group_name=resource_group_name,
            nsg_name=nsg_name,
            cidrs=by_peer,
            asg_id=lambda group: self.groups[group].application_security_group_id,
            logical_id_prefix=logical_id_prefix,
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
        """Override one attribute of the NSG rule that carries `rule_id` (the rules live
        in one ResourceBatch, out of reach of cdktf's `add_override` and Aspects)."""
        override_nsg_rule(self.rules, self.plan, rule_id, path, value, self._prefix)


def add_nsg_rules(
    batch: ResourceBatch,
    plan: AzurePlan,
    *,
    resource_group_name: str,
    nsg_name: str,
    cidrs: Mapping[str, CidrList],
    asg_id: Callable[[str], str],
    logical_id_prefix: str = "",
) -> None:
    """The plan's NSG rules into `batch`, one resource each."""
    for spec in plan.rules:
        config = _config(spec, resource_group_name, nsg_name, cidrs, asg_id)
        batch.add(
            NetworkSecurityRule.TERRAFORM_TYPE, logical_id_prefix + spec.key, config.to_terraform()
        )


def override_nsg_rule(
    batch: ResourceBatch, plan: AzurePlan, rule_id: str, path: str, value: Any, prefix: str = ""
) -> None:
    specs = [s for s in plan.rules if rule_id in s.rule_ids]
    if not specs:
        raise KeyError(f"no NSG rule carries {rule_id!r} (Azure renders inbound rules only)")
    for spec in specs:
        batch.override_resource(NetworkSecurityRule.TERRAFORM_TYPE, prefix + spec.key, path, value)


def _config(
    spec: NsgRuleSpec,
    resource_group_name: str,
    nsg_name: str,
    cidrs: Mapping[str, CidrList],
    asg_id: Callable[[str], str],
) -> NetworkSecurityRuleConfig:
    every_port = spec.port_ranges == ("*",)
    source_ids = source_prefix = source_prefixes = None
    if spec.source_group is not None:
        source_ids = [asg_id(spec.source_group)]
    elif spec.source_peer is not None:
        source_prefixes = cidrs[spec.source_peer]
    else:
        source_prefix = spec.source_prefixes[0]
    target = spec.target_group
    return NetworkSecurityRuleConfig(
        name=spec.name,
        priority=spec.priority,
        direction=spec.direction,
        access=spec.access,
        protocol=spec.protocol,
        resource_group_name=resource_group_name,
        network_security_group_name=nsg_name,
        destination_port_range="*" if every_port else None,
        destination_port_ranges=None if every_port else list(spec.port_ranges),
        source_address_prefix=source_prefix,
        source_address_prefixes=source_prefixes,
        source_application_security_group_ids=source_ids,
        destination_address_prefix="*" if target is None else None,
        destination_application_security_group_ids=(None if target is None else [asg_id(target)]),
        description=spec.description,
    )


__all__: Sequence[str] = ("AzureCrmFirewall", "AzureCrmGroup", "add_nsg_rules", "override_nsg_rule")
