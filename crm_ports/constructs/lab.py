"""Per-role constructs: declare hosts by their CRM roles and attach the result to your
own instances; the rules between them appear because the catalogue says so, whichever
order the hosts were added in (the model is aws-cdk's `connections`).

`AwsCrmLab` / `AzureCrmLab` build the same `Lab` a lab file does (a placement, options,
lab-local rules) and resolve it through the one data path when the app synthesizes:
each host's security group (ASG) exists from `add_host` on, so its id can go into an
instance at once, while its description, tags and every rule are filled in from the
resolved plan at synthesis. Per-host mistakes (unknown role, a role on two hosts, a bad
name) raise at `add_host`; what needs every host (a required role left unplaced) raises
at synthesis, or earlier from `resolve()`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from constructs import Construct

from crm_ports.catalogue.load import load_catalogue
from crm_ports.catalogue.model import Catalogue, Location
from crm_ports.constructs.aws import add_rules, override_rule, quota_conditions
from crm_ports.constructs.azure import RemovedRuleResources, nsg_rules, rule_names
from crm_ports.constructs.cdk import TerraformProvider, check_scope
from crm_ports.constructs.peers import CidrList, peer_cidrs_for
from crm_ports.constructs.resources._base import ResourceBatch, compact, with_nulls
from crm_ports.constructs.resources.aws import SecurityGroup, SecurityGroupConfig
from crm_ports.constructs.resources.azure import (
    ApplicationSecurityGroup,
    ApplicationSecurityGroupConfig,
    NetworkSecurityGroup,
    NetworkSecurityGroupConfig,
    override_inline_rule,
)
from crm_ports.lab.extra import ExtraRule
from crm_ports.lab.model import Lab
from crm_ports.lab.placement import CLOUD_BALANCER_GROUP, Host, Placement, check_hosts
from crm_ports.options import Options
from crm_ports.plans.aws import GROUP_IGNORED_CHANGES, AwsPlan, plan_aws
from crm_ports.plans.azure import AzurePlan, plan_azure
from crm_ports.plans.text import resource_key
from crm_ports.resolver.engine import resolve_lab
from crm_ports.ruleset import RuleSet


class _LabModel:
    """Hosts and lab rules as declared; resolved once, on first demand."""

    def __init__(self, name: str, options: Options, catalogue: Catalogue, where: str) -> None:
        self.name = name
        self.options = replace(options, topology=name, origin=where)
        self.catalogue = catalogue
        self.where = where
        self.hosts: list[Host] = []
        self.extra_rules: list[ExtraRule] = []
        self._rules: RuleSet | None = None
        members = catalogue.topologies[0].members_group if catalogue.topologies else "lab-servers"
        self.members_group = members

    def add_host(self, name: str, roles: Sequence[str]) -> Host:
        if self._rules is not None:
            raise RuntimeError(f"{self.where}: host {name!r} added after the lab was resolved")
        host = Host(name, tuple(roles), Location(self.where), f"hosts[{len(self.hosts)}]")
        check_hosts(self.catalogue, self._placement([*self.hosts, host]))
        self.hosts.append(host)
        return host

    def add_rule(self, extra: ExtraRule) -> None:
        if self._rules is not None:
            raise RuntimeError(f"{self.where}: rule added after the lab was resolved")
        self.extra_rules.append(extra)

    def _placement(self, hosts: Sequence[Host]) -> Placement:
        return Placement(self.name, tuple(hosts), origin=self.where)

    def lab(self) -> Lab:
        return Lab(
            name=self.name,
            options=self.options,
            placement=self._placement(self.hosts),
            extra_rules=tuple(self.extra_rules),
            origin=self.where,
        )

    def rules(self) -> RuleSet:
        if self._rules is None:
            self._rules = resolve_lab(self.catalogue, self.lab())
        return self._rules


class _DeclaredLab:
    """What both per-role constructs share: lab rules, per-rule overrides and resolving,
    all on the pure-Python `_LabModel` (the cloud classes add hosts and resources)."""

    _model: _LabModel
    _overrides: list[tuple[str, str, Any]]

    def add_rule(
        self,
        source: str,
        target: str,
        *,
        protocol: str,
        ports: int | str,
        reason: str,
        name: str | None = None,
    ) -> None:
        """A lab-local rule, as `extra_rules:` in a lab file: `source`/`target` name a
        host, a peer group (`clients`), a role or an IPv4 CIDR. Azure renders the inbound
        ones."""
        self._model.add_rule(
            ExtraRule.parse(
                source=source,
                target=target,
                protocol=protocol,
                ports=ports,
                reason=reason,
                name=name,
                location=Location(self._model.where),
                field_path=f"add_rule[{len(self._model.extra_rules)}]",
            )
        )

    def override_rule(self, rule_id: str, path: str, value: Any) -> None:
        """Override one attribute (`tags.Owner`) of the resources of one rule id."""
        self._overrides.append((rule_id, path, value))

    def resolve(self) -> RuleSet:
        """The lab's rule set now (raises InputError naming host and role); synthesis
        calls this too, so a CDKTF app never needs to."""
        return self._model.rules()


class _DeferredBatch(ResourceBatch):
    """The rules batch: filled from the resolved plan the first time cdktf asks."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        provider: TerraformProvider | None,
        fill: Callable[[], None],
    ) -> None:
        super().__init__(scope, id, provider=provider)
        self._crm_fill = fill

    def to_terraform(self) -> Any:
        self._crm_fill()
        return super().to_terraform()


class _DeferredSecurityGroup(SecurityGroup):
    """A security group whose description, tags and quota preconditions come from the
    plan at synthesis."""

    def __init__(
        self,
        *args: Any,
        attributes: Callable[[], Mapping[str, Any]],
        lifecycle: Callable[[], Mapping[str, Any] | None],
        **kw: Any,
    ) -> None:
        self._crm_late = attributes
        self._crm_late_lifecycle = lifecycle
        super().__init__(*args, **kw)

    def _synthesize_attributes(self) -> Mapping[str, Any]:
        attributes = self._crm_late()
        lifecycle = self._crm_late_lifecycle()
        if lifecycle is not None:
            # cdktf renders `lifecycle` from its meta-arguments, never from attributes;
            # its raw overrides are read after this callback returns, so one goes there.
            self.add_override("lifecycle", dict(lifecycle))
        return attributes


class _DeferredNsg(NetworkSecurityGroup):
    """The NSG: its inline rules come from the resolved plan at synthesis."""

    def __init__(self, *args: Any, attributes: Callable[[], Mapping[str, Any]], **kw: Any) -> None:
        self._crm_late = attributes
        super().__init__(*args, **kw)

    def _synthesize_attributes(self) -> Mapping[str, Any]:
        attributes: Mapping[str, Any] = with_nulls(dict(self._crm_late()))
        return attributes


class _DeferredAsg(ApplicationSecurityGroup):
    def __init__(self, *args: Any, attributes: Callable[[], Mapping[str, Any]], **kw: Any) -> None:
        self._crm_late = attributes
        super().__init__(*args, **kw)

    def _synthesize_attributes(self) -> Mapping[str, Any]:
        return self._crm_late()


# -- AWS ----------------------------------------------------------------------------------


class AwsCrmHost(Construct):
    """One host (or a set of identical hosts): its security group, and the list of ids
    its instances carry (`vpc_security_group_ids`): its own group plus the group every
    server carries, which the lab-wide rules reference."""

    def __init__(
        self, scope: AwsCrmLab, id: str, *, host: Host, security_group_ids: list[str]
    ) -> None:
        super().__init__(scope, id)
        self.name = host.name
        self.roles = host.roles
        self.security_group_id = security_group_ids[0]
        self.security_group_ids = security_group_ids


class AwsCrmLab(_DeclaredLab, Construct):
    """A CRM lab's security groups and rules, declared host by host.

    `options` are the lab options (`Options(auth="claims")`; `topology` is ignored: the
    hosts are the placement). `peer_cidrs` maps `client_cidrs` / `admin_cidrs` /
    `mail_cidrs` to lists, list tokens or "${var.x}" expressions, as for AwsCrmFirewall.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc_id: str,
        lab: str = "crm-lab",
        options: Options | None = None,
        egress: str = "allow-all",
        peer_cidrs: Mapping[str, CidrList] | None = None,
        provider: TerraformProvider | None = None,
        logical_id_prefix: str = "",
        catalogue: Catalogue | None = None,
    ) -> None:
        check_scope(scope, f"AwsCrmLab {id!r}", provider)
        super().__init__(scope, id)
        where = f"AwsCrmLab {lab!r}"
        self._model = _LabModel(lab, options or Options(), catalogue or load_catalogue(), where)
        self._egress = egress
        self._peer_cidrs = peer_cidrs
        self._provider = provider
        self._prefix = logical_id_prefix
        self._vpc_id = vpc_id
        self._plan: AwsPlan | None = None
        self._overrides: list[tuple[str, str, Any]] = []
        self._groups: dict[str, SecurityGroup] = {}
        self.hosts: dict[str, AwsCrmHost] = {}
        self.rules = _DeferredBatch(self, "rules", provider=provider, fill=self._fill)
        self._filled = False
        self.members_security_group_id = self._group(self._model.members_group).id
        # `load_balancer: cloud`: the group the Application Load Balancer carries.
        self.load_balancer_security_group_id: str | None = (
            self._group(CLOUD_BALANCER_GROUP).id
            if self._model.options.load_balancer == "cloud"
            else None
        )

    # -- declaring ------------------------------------------------------------------------
    def add_host(self, name: str, *, roles: Sequence[str]) -> AwsCrmHost:
        """A host running `roles`; raises InputError for a bad name or role at once."""
        host = self._model.add_host(name, roles)
        own = self._group(name).id
        self.hosts[name] = AwsCrmHost(
            self,
            f"host-{name}",
            host=host,
            security_group_ids=[own, self.members_security_group_id],
        )
        return self.hosts[name]

    # -- resolving ------------------------------------------------------------------------
    @property
    def plan(self) -> AwsPlan:
        if self._plan is None:
            self._plan = plan_aws(
                self.resolve(), self._model.name, egress=self._egress, origin=self._model.where
            )
        return self._plan

    def _group(self, name: str) -> SecurityGroup:
        key = resource_key("sg", name)
        group = _DeferredSecurityGroup(
            self,
            f"sg-{name}",
            SecurityGroupConfig(
                name=f"{self._model.name}-{name}",
                description="set at synthesis",
                vpc_id=self._vpc_id,
            ),
            provider=self._provider,
            logical_id=self._prefix + key,
            attributes=lambda: self._sg_attributes(name),
            lifecycle=lambda: self._sg_lifecycle(name),
        )
        self._groups[name] = group
        return group

    def _sg_attributes(self, name: str) -> Mapping[str, Any]:
        spec = self.plan.security_group(name)
        config = SecurityGroupConfig(
            name=spec.name, description=spec.description, vpc_id=self._vpc_id, tags=dict(spec.tags)
        )
        return compact(config.to_terraform())

    def _sg_lifecycle(self, name: str) -> Mapping[str, Any] | None:
        """As AwsCrmFirewall: the description stays as deployed, and variable peer ranges
        re-check the quota at `terraform plan`."""
        cidrs = peer_cidrs_for(self.resolve(), self._peer_cidrs)
        conditions = quota_conditions(self.plan, self.plan.security_group(name), cidrs)
        lifecycle: dict[str, Any] = {"ignore_changes": list(GROUP_IGNORED_CHANGES)}
        if conditions:
            lifecycle["precondition"] = [
                {"condition": c, "error_message": m} for c, m in conditions
            ]
        return lifecycle

    def _fill(self) -> None:
        if self._filled:
            return
        self._filled = True
        rules = self.resolve()
        add_rules(
            self.rules,
            self.plan,
            group_id=lambda group: self._groups[group].id,
            cidrs=peer_cidrs_for(rules, self._peer_cidrs),
            logical_id_prefix=self._prefix,
        )
        for rule_id, path, value in self._overrides:
            override_rule(self.rules, self.plan, rule_id, path, value, self._prefix)


# -- Azure --------------------------------------------------------------------------------


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


class AzureCrmLab(_DeclaredLab, Construct):
    """A CRM lab's ASGs and NSG, declared host by host. Associate
    `network_security_group_id` with the lab's subnet."""

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
    ) -> None:
        check_scope(scope, f"AzureCrmLab {id!r}", provider)
        super().__init__(scope, id)
        where = f"AzureCrmLab {lab!r}"
        self._model = _LabModel(lab, options or Options(), catalogue or load_catalogue(), where)
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
                cidrs=peer_cidrs_for(self.resolve(), self._peer_cidrs),
                asg_id=lambda group: self._asgs[group].id,
            ),
        )
        attributes = compact(config.to_terraform())
        for rule_id, path, value in self._overrides:
            for name in rule_names(self.plan, rule_id):
                override_inline_rule(attributes, name, path, value)
        return attributes


__all__: Sequence[str] = ("AwsCrmHost", "AwsCrmLab", "AzureCrmHost", "AzureCrmLab")
