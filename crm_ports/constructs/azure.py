"""Azure constructs: an application security group per host group and one network
security group whose inbound rules reference them.

`crm_ports.plans.azure` decides names, port grouping and stable priorities; this module
maps each ASG spec onto one Terraform resource and the rules onto the NSG's inline
`security_rule` set, which azurerm writes in one request: Azure judges the new set as a
whole, so an edit never fails half-way on two rules holding one priority for a moment.
Peer ranges stay whatever the caller passed (a list, a list token or a Terraform
expression such as "${var.client_cidrs}").

`AzureCrmFirewall` renders a resolved rule set; `AzureCrmLab` declares the lab host by
host (its cloud-neutral part is `constructs.lab`) and renders through the same helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from constructs import Construct

from crm_ports.catalogue.load import load_catalogue
from crm_ports.catalogue.model import Catalogue
from crm_ports.constructs.cdk import TerraformElement, TerraformProvider, check_scope
from crm_ports.constructs.lab import DeclaredLab, LabModel
from crm_ports.constructs.peers import CidrList, peer_cidrs_for, peer_ranges
from crm_ports.constructs.record import CrmPortsRecord
from crm_ports.constructs.resources._base import compact
from crm_ports.constructs.resources.azure import (
    ApplicationSecurityGroup,
    ApplicationSecurityGroupConfig,
    NetworkSecurityGroup,
    NetworkSecurityGroupConfig,
    NetworkSecurityGroupSecurityRule,
    NetworkSecurityRule,
    override_inline_rule,
)
from crm_ports.lab.arguments import (
    check_firewall_lab,
    check_lab_keys,
    check_options,
    check_peer_cidrs,
    check_prefix,
    check_rules,
    construct_name,
)
from crm_ports.lab.azure_adoption import AdoptedAzure
from crm_ports.lab.model import Lab
from crm_ports.lab.placement import Host
from crm_ports.options import Options
from crm_ports.plans.azure import AsgSpec, AzurePlan, NsgRuleSpec, plan_azure
from crm_ports.plans.text import resource_key
from crm_ports.ruleset import RuleSet
from crm_ports.terraform.records import record_json
from crm_ports.terraform.resources import azure_import_blocks


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
        where = construct_name("AzureCrmGroup", id)
        check_lab_keys(
            where, azure={"resource_group_name": resource_group_name, "location": location}
        )
        check_prefix(where, logical_id_prefix)
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
    give each NIC its group's `application_security_group_ids`. Arguments are checked,
    `lab` (a name, or the `Lab` given to `resolve_lab`) and `record` work as for
    AwsCrmFirewall.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        rules: RuleSet,
        resource_group_name: str,
        location: str,
        lab: str | Lab | None = None,
        peer_cidrs: Mapping[str, CidrList] | None = None,
        provider: TerraformProvider | None = None,
        logical_id_prefix: str = "",
        record: bool = True,
        adopt: AdoptedAzure | None = None,
    ) -> None:
        where = construct_name("AzureCrmFirewall", id)
        check_scope(scope, where, provider)
        check_rules(where, rules)
        rendered = check_firewall_lab(where, lab, rules, record=record)
        name = rendered.name
        check_lab_keys(
            where,
            lab=name,
            azure={"resource_group_name": resource_group_name, "location": location},
        )
        check_peer_cidrs(where, peer_cidrs)
        check_prefix(where, logical_id_prefix)
        super().__init__(scope, id)
        self.plan: AzurePlan = plan_azure(rules, name, origin=where, adopt=adopt)
        self._prefix = logical_id_prefix
        by_peer = peer_cidrs_for(rules, peer_cidrs, where)
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
        if record:
            given = peer_ranges(rules, peer_cidrs, where)
            claimed = replace(rendered, clouds=("azure",))
            CrmPortsRecord(
                self,
                describe=lambda: record_json(
                    kind="AzureCrmFirewall",
                    cloud="azure",
                    lab=claimed,
                    rules=rules,
                    carries={
                        g: self.application_security_group_ids_for(g) for g in sorted(self.groups)
                    },
                    peers=given,
                    network_security_group=self.network_security_group_id,
                ),
            )

    @property
    def network_security_group_id(self) -> str:
        return self.network_security_group.id

    @property
    def import_blocks(self) -> list[dict[str, str]]:
        """The Terraform `import` blocks of an adopted estate (`adopt`): the NSG, with its
        inline rules, and each adopted ASG; its stack adds them at the top level."""
        return azure_import_blocks(self.plan, self._prefix)

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


# -- per role ------------------------------------------------------------------------------


class _DeferredNsg(NetworkSecurityGroup):
    """The NSG: its inline rules come from the resolved plan at synthesis."""

    def __init__(self, *args: Any, attributes: Callable[[], Mapping[str, Any]], **kw: Any) -> None:
        self._crm_late = attributes
        super().__init__(*args, **kw)

    def _crm_body(self) -> dict[str, Any]:
        return dict(self._crm_late())


class _DeferredAsg(ApplicationSecurityGroup):
    def __init__(self, *args: Any, attributes: Callable[[], Mapping[str, Any]], **kw: Any) -> None:
        self._crm_late = attributes
        super().__init__(*args, **kw)

    def _synthesize_attributes(self) -> Mapping[str, Any]:
        return self._crm_late()


class AzureCrmHost(Construct):
    """One host: its ASG, and the ids its network interfaces carry
    (`application_security_group_ids`): its own ASG plus the one every server carries."""

    def __init__(
        self, scope: AzureCrmLab, id: str, *, host: Host, application_security_group_ids: list[str]
    ) -> None:
        super().__init__(scope, id)
        self.name = host.name
        self.roles = host.roles
        self.application_security_group_id = application_security_group_ids[0]
        self.application_security_group_ids = application_security_group_ids


class AzureCrmLab(DeclaredLab, Construct):
    """A CRM lab's ASGs and NSG, declared host by host. Associate
    `network_security_group_id` with the lab's subnet. Arguments, hosts and rules are
    checked as a lab file's are; `record` as for AwsCrmFirewall."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        resource_group_name: str,
        location: str,
        lab: str = "crm-lab",
        options: Options | None = None,
        peer_cidrs: Mapping[str, CidrList] | None = None,
        provider: TerraformProvider | None = None,
        logical_id_prefix: str = "",
        catalogue: Catalogue | None = None,
        record: bool = True,
    ) -> None:
        where = construct_name("AzureCrmLab", id)
        check_scope(scope, where, provider)
        check_lab_keys(
            where,
            lab=lab,
            azure={"resource_group_name": resource_group_name, "location": location},
        )
        given = check_options(where, "options", options or Options())
        check_peer_cidrs(where, peer_cidrs)
        check_prefix(where, logical_id_prefix)
        super().__init__(scope, id)
        self._model = LabModel(lab, given, catalogue or load_catalogue(), where)
        self._rg = resource_group_name
        self._location = location
        self._peer_cidrs = peer_cidrs
        self._provider = provider
        self._prefix = logical_id_prefix
        self._plan: AzurePlan | None = None
        self._overrides: list[tuple[str, str, Any]] = []
        self._asgs: dict[str, ApplicationSecurityGroup] = {}
        self.hosts: dict[str, AzureCrmHost] = {}
        self.network_security_group = _DeferredNsg(
            self,
            "nsg",
            NetworkSecurityGroupConfig(
                name=f"{lab}-nsg", location=location, resource_group_name=resource_group_name
            ),
            provider=provider,
            logical_id=logical_id_prefix + "nsg",
            attributes=self._nsg_attributes,
        )
        self.removed_rule_resources = RemovedRuleResources(
            self, "removed-rules", plan=lambda: self.plan, logical_id_prefix=logical_id_prefix
        )
        self.members_application_security_group_id = self._asg(self._model.members_group).id
        if record:
            CrmPortsRecord(self, describe=self._record)

    @property
    def network_security_group_id(self) -> str:
        return self.network_security_group.id

    def add_host(self, name: str, *, roles: Sequence[str]) -> AzureCrmHost:
        host = self._model.add_host(name, roles)
        own = self._asg(name).id
        self.hosts[name] = AzureCrmHost(
            self,
            f"host-{name}",
            host=host,
            application_security_group_ids=[own, self.members_application_security_group_id],
        )
        return self.hosts[name]

    @property
    def plan(self) -> AzurePlan:
        if self._plan is None:
            self._plan = plan_azure(self.resolve(), self._model.name, origin=self._model.where)
        return self._plan

    def _record(self) -> dict[str, Any]:
        """What the stack records of this lab (`crm_ports.terraform.records`): the lab as
        declared, on Azure, what each host's NICs carry and the NSG."""
        carries = {name: h.application_security_group_ids for name, h in self.hosts.items()}
        carries[self._model.members_group] = [self.members_application_security_group_id]
        return record_json(
            kind="AzureCrmLab",
            cloud="azure",
            lab=self._model.recorded("azure"),
            rules=self.resolve(),
            carries=carries,
            peers=peer_ranges(self.resolve(), self._peer_cidrs, self._model.where),
            network_security_group=self.network_security_group_id,
        )

    def _asg(self, name: str) -> ApplicationSecurityGroup:
        asg = _DeferredAsg(
            self,
            f"asg-{name}",
            ApplicationSecurityGroupConfig(
                name=f"{self._model.name}-{name}-asg",
                location=self._location,
                resource_group_name=self._rg,
            ),
            provider=self._provider,
            logical_id=self._prefix + resource_key("asg", name),
            attributes=lambda: self._asg_attributes(name),
        )
        self._asgs[name] = asg
        return asg

    def _asg_attributes(self, name: str) -> Mapping[str, Any]:
        spec = self.plan.asg(name)
        config = ApplicationSecurityGroupConfig(
            name=spec.name,
            location=self._location,
            resource_group_name=self._rg,
            tags=dict(spec.tags),
        )
        return compact(config.to_terraform())

    def _nsg_attributes(self) -> Mapping[str, Any]:
        """The NSG with the plan's rules inline, and the overrides asked for by rule id."""
        config = NetworkSecurityGroupConfig(
            name=self.plan.nsg_name,
            location=self._location,
            resource_group_name=self._rg,
            tags=dict(self.plan.tags),
            security_rule=nsg_rules(
                self.plan,
                cidrs=peer_cidrs_for(self.resolve(), self._peer_cidrs, self._model.where),
                asg_id=lambda group: self._asgs[group].id,
            ),
        )
        attributes = compact(config.to_terraform())
        for rule_id, path, value in self._overrides:
            for name in rule_names(self.plan, rule_id):
                override_inline_rule(attributes, name, path, value)
        return attributes


__all__: Sequence[str] = (
    "AzureCrmFirewall",
    "AzureCrmGroup",
    "AzureCrmHost",
    "AzureCrmLab",
    "RemovedRuleResources",
    "nsg_rules",
    "rule_names",
)
