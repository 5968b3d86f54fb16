"""AWS constructs: a security group per host group and the lab's rules between them.

The constructs decide nothing about which flows exist: `crm_ports.plans.aws` turns the
RuleSet into security group and rule specs (names, keys, tags, descriptions, quota), and
this module maps each spec onto one Terraform resource. Rules from outside peers are one
resource per rule with `for_each` over the peer's CIDRs, so the ranges can stay
Terraform variables and each instance is keyed by its CIDR, never by a list index. An
adopted group holds its rules inline instead (`inline_rules`), one block per rule.

`AwsCrmFirewall` renders a resolved rule set; `AwsCrmLab` declares the lab host by host
(its cloud-neutral part is `constructs.lab`) and renders through the same helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from constructs import Construct

from crm_ports.catalogue.load import load_catalogue
from crm_ports.catalogue.model import Catalogue
from crm_ports.constructs.cdk import (
    Precondition,
    TerraformProvider,
    TerraformResourceLifecycle,
    check_scope,
)
from crm_ports.constructs.lab import DeclaredLab, DeferredBatch, LabModel
from crm_ports.constructs.peers import (
    CidrList,
    as_set_expression,
    expression,
    peer_cidrs_for,
    peer_ranges,
)
from crm_ports.constructs.record import CrmPortsRecord
from crm_ports.constructs.resources._base import ResourceBatch, compact
from crm_ports.constructs.resources.aws import (
    SecurityGroup,
    SecurityGroupConfig,
    SecurityGroupInlineRule,
    SecurityGroupRuleConfig,
    VpcSecurityGroupEgressRule,
    VpcSecurityGroupIngressRule,
)
from crm_ports.lab.adoption import AdoptedGroup
from crm_ports.lab.arguments import (
    check_firewall_lab,
    check_lab_keys,
    check_options,
    check_peer_cidrs,
    check_prefix,
    check_rules,
    construct_name,
)
from crm_ports.lab.model import AwsSettings, Lab
from crm_ports.lab.placement import CLOUD_BALANCER_GROUP, Host
from crm_ports.options import Options
from crm_ports.plans.aws import (
    GROUP_IGNORED_CHANGES,
    RULES_PER_GROUP,
    AwsPlan,
    SecurityGroupSpec,
    SgRuleSpec,
    plan_aws,
    quota_terms,
)
from crm_ports.plans.text import resource_key
from crm_ports.ruleset import RuleSet
from crm_ports.terraform.records import record_json
from crm_ports.terraform.resources import aws_import_blocks


class AwsCrmGroup(Construct):
    """One host group's security group. Attach `security_group_ids` to its instances."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: SecurityGroupSpec,
        vpc_id: str,
        members_group: AwsCrmGroup | None = None,
        provider: TerraformProvider | None = None,
        logical_id_prefix: str = "",
        lifecycle: TerraformResourceLifecycle | None = None,
        inline: InlineRules | None = None,
    ) -> None:
        """With `inline` (an adopted group's ingress and egress blocks), the group owns
        its whole rule set: no separate rule resource may name it then."""
        where = construct_name("AwsCrmGroup", id)
        check_lab_keys(where, aws={"vpc_id": vpc_id})
        check_prefix(where, logical_id_prefix)
        super().__init__(scope, id)
        self.group = spec.group
        self.spec = spec
        self.security_group = SecurityGroup(
            self,
            "sg",
            SecurityGroupConfig(
                name=spec.name,
                description=spec.description,
                vpc_id=vpc_id,
                tags=dict(spec.tags),
                ingress=None if inline is None else inline[0],
                egress=None if inline is None else inline[1],
            ),
            provider=provider,
            logical_id=logical_id_prefix + spec.key,
            lifecycle=lifecycle,
        )
        self._members = members_group

    @property
    def security_group_id(self) -> str:
        return self.security_group.id

    @property
    def security_group_ids(self) -> list[str]:
        """What an instance of this group carries: its own group and the members group
        (which the lab-wide rules reference)."""
        own = [self.security_group_id]
        return own if self._members is None else [*own, self._members.security_group_id]


class AwsCrmFirewall(Construct):
    """A whole topology's security groups and rules inside an existing VPC.

    `rules` is a resolved RuleSet (`crm_ports.resolver.resolve`). `lab` names the lab (by
    default the rule set's topology); for a rule set from `resolve_lab` of a lab with hosts
    or lab rules of its own, pass that `Lab` itself, so the record claims the lab rendered
    (a name alone is refused then). `peer_cidrs` maps a CIDR
    option (`client_cidrs`, `admin_cidrs`, `mail_cidrs`) to a list, a list token or a
    Terraform expression; by default the rule set's own ranges are used. Set
    `logical_id_prefix` when placing two firewalls in one stack. The arguments are checked
    as a lab file's keys are (InputError naming the construct). With `record` (the
    default) the stack's metadata records the lab it implements, so `crm-ports verify
    --synth`, `check --synth` and `diff` can review the app's `cdktf.out`; the lab stacks
    turn it off, since `crm-ports synth` writes `crm-ports.json` beside them.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        rules: RuleSet,
        vpc_id: str,
        lab: str | Lab | None = None,
        egress: str = "allow-all",
        peer_cidrs: Mapping[str, CidrList] | None = None,
        provider: TerraformProvider | None = None,
        logical_id_prefix: str = "",
        record: bool = True,
        adopt: Sequence[AdoptedGroup] = (),
    ) -> None:
        where = construct_name("AwsCrmFirewall", id)
        check_scope(scope, where, provider)
        check_rules(where, rules)
        rendered = check_firewall_lab(where, lab, rules, record=record)
        name = rendered.name
        check_lab_keys(where, lab=name, aws={"egress": egress, "vpc_id": vpc_id})
        check_peer_cidrs(where, peer_cidrs)
        check_prefix(where, logical_id_prefix)
        super().__init__(scope, id)
        self.plan: AwsPlan = plan_aws(rules, name, egress=egress, origin=where, adopt=tuple(adopt))
        self._cidrs = peer_cidrs_for(rules, peer_cidrs, where)
        self._provider = provider
        self._prefix = logical_id_prefix
        members_name = next((g.name for g in rules.groups if g.is_members), None)
        balancers = {g.name for g in rules.groups if g.is_balancer}
        self.groups: dict[str, AwsCrmGroup] = {}
        # The members group first, adopted groups last: an adopted group's inline rules
        # refer to the groups the stack creates.
        ordered = sorted(
            self.plan.security_groups,
            key=lambda s: (s.group != members_name, s.import_id is not None),
        )
        for spec in ordered:
            self.groups[spec.group] = AwsCrmGroup(
                self,
                spec.group,
                spec=spec,
                vpc_id=vpc_id,
                # the ALB carries its own group only: it is no server of the lab
                members_group=None
                if spec.group == members_name or spec.group in balancers
                else self.groups.get(members_name or ""),
                provider=provider,
                logical_id_prefix=logical_id_prefix,
                lifecycle=self._group_lifecycle(spec),
                inline=None
                if spec.import_id is None
                else inline_rules(
                    self.plan,
                    spec.group,
                    group_id=lambda group: self.groups[group].security_group_id,
                    cidrs=self._cidrs,
                ),
            )
        balancer = next((self.groups[name] for name in sorted(balancers)), None)
        self.load_balancer_security_group_id: str | None = (
            None if balancer is None else balancer.security_group_id
        )
        """The security group to attach to the Application Load Balancer
        (`load_balancer: cloud`); None without a cloud balancer."""
        # Rules: one batch for the whole firewall (see ResourceBatch for why).
        self.rules = ResourceBatch(self, "rules", provider=provider)
        self._rules()
        if record:
            given = peer_ranges(rules, peer_cidrs, where)
            claimed = replace(rendered, clouds=("aws",), aws=AwsSettings(egress=egress))
            CrmPortsRecord(
                self,
                describe=lambda: record_json(
                    kind="AwsCrmFirewall",
                    cloud="aws",
                    lab=claimed,
                    rules=rules,
                    carries={g: self.security_group_ids_for(g) for g in sorted(self.groups)},
                    peers=given,
                ),
            )

    def _group_lifecycle(self, spec: SecurityGroupSpec) -> TerraformResourceLifecycle:
        """The description stays as deployed (`group_description`); variable peer ranges
        re-check the quota at `terraform plan`."""
        conditions = [
            Precondition(condition=condition, error_message=message)
            for condition, message in quota_conditions(self.plan, spec, self._cidrs)
        ]
        return TerraformResourceLifecycle(
            ignore_changes=list(GROUP_IGNORED_CHANGES), precondition=conditions or None
        )

    @property
    def security_group_ids(self) -> dict[str, str]:
        """Host group -> security group id (tokens), for outputs and instances."""
        return {name: group.security_group_id for name, group in sorted(self.groups.items())}

    def security_group_ids_for(self, group: str) -> list[str]:
        return self.groups[group].security_group_ids

    @property
    def import_blocks(self) -> list[dict[str, str]]:
        """The Terraform `import` blocks of an adopted estate (`adopt`): its stack adds
        them (`add_override("import", ...)`), since Terraform reads them at the top level."""
        return aws_import_blocks(self.plan, self._prefix)

    def _rules(self) -> None:
        add_rules(
            self.rules,
            self.plan,
            group_id=lambda group: self.groups[group].security_group_id,
            cidrs=self._cidrs,
            logical_id_prefix=self._prefix,
        )

    def override_rule(self, rule_id: str, path: str, value: Any) -> None:
        """Override one attribute (`tags.Owner`, `description`) of every resource that
        renders `rule_id`: the rules live in one ResourceBatch, which cdktf's
        `add_override` and Aspects cannot reach one by one."""
        override_rule(self.rules, self.plan, rule_id, path, value, self._prefix)


def quota_conditions(
    plan: AwsPlan, spec: SecurityGroupSpec, cidrs: Mapping[str, CidrList]
) -> list[tuple[str, str]]:
    """(condition, error message) per direction whose count can still grow: the plan
    checked the quota with the rule set's ranges, but peer ranges that are Terraform
    variables are only known at `terraform plan`, so the group re-checks then."""
    out = []
    for direction, word in (("ingress", "inbound"), ("egress", "outbound")):
        fixed, per_peer = quota_terms(plan, spec.group, direction)
        terms = [str(fixed)]
        for peer, count in per_peer.items():
            inner = expression(cidrs[peer])
            if inner is not None:
                terms.append(f"{count} * length({inner})")
        if len(terms) == 1:
            continue  # nothing that can change after synthesis
        out.append(
            (
                f"${{{' + '.join(terms)} <= {RULES_PER_GROUP}}}",
                f"Security group {spec.name} would need more than {RULES_PER_GROUP} "
                f"{word} rules ({' + '.join(terms)}); AWS allows {RULES_PER_GROUP}: "
                "narrow the peer CIDR variables.",
            )
        )
    return out


InlineRules = tuple[list[SecurityGroupInlineRule], list[SecurityGroupInlineRule]]


def inline_rules(
    plan: AwsPlan,
    group: str,
    *,
    group_id: Callable[[str], str],
    cidrs: Mapping[str, CidrList],
) -> InlineRules:
    """An adopted group's rules as its inline (ingress, egress) blocks, in the plan's
    order: one block per planned rule, with its one source (a peer's rule once, with the
    peer's ranges, which may be a variable).

    A referenced group that is adopted too is named by its live id, never by a Terraform
    reference: two adopted groups reaching each other would otherwise each depend on the
    other, a cycle. A group the stack creates is referenced as usual (its own rules are
    separate resources, so nothing depends back on the adopted group's set). The provider
    reads the live rules back into blocks of this shape, so the plan after an apply is
    empty."""
    out: InlineRules = ([], [])
    done: set[str] = set()
    for spec in plan.rules:
        if spec.group != group or not spec.inline:
            continue
        if spec.cidr_peer is not None:
            if spec.base_key in done:
                continue
            done.add(spec.base_key)
            given = cidrs[spec.cidr_peer]
            source: dict[str, Any] = {
                "cidr_blocks": given if isinstance(given, str) else list(given)
            }
        elif spec.peer_group == spec.group:
            source = {"self_reference": True}
        elif spec.peer_group is not None:
            source = {
                "security_groups": [plan.live_id(spec.peer_group) or group_id(spec.peer_group)]
            }
        else:
            source = {"cidr_blocks": [str(spec.cidr_ipv4)]}
        portless = spec.from_port is None or spec.to_port is None
        block = SecurityGroupInlineRule(
            protocol=spec.ip_protocol,
            from_port=0 if portless else int(spec.from_port or 0),
            to_port=0 if portless else int(spec.to_port or 0),
            description=spec.description,
            **source,
        )
        out[0 if spec.direction == "ingress" else 1].append(block)
    return out


def add_rules(
    batch: ResourceBatch,
    plan: AwsPlan,
    *,
    group_id: Callable[[str], str],
    cidrs: Mapping[str, CidrList],
    logical_id_prefix: str = "",
) -> None:
    """The plan's rules into `batch`: one resource per rule, peer rules `for_each` CIDR.

    No `create_before_destroy`: a rule's address names its groups and services, so an edit
    moves a rule to another address rather than replacing it at one (where alone Terraform
    orders a create first), and Terraform would pass the setting on to the security
    groups, turning a group's replacement create-first: a second group of one name in one
    VPC, which EC2 refuses."""
    done: set[str] = set()
    for spec in plan.rules:
        if spec.inline:  # its adopted group holds it (`inline_rules`)
            continue
        if spec.cidr_peer is None:
            _add_rule(batch, spec, logical_id_prefix + spec.key, spec.cidr_ipv4, None, group_id)
        elif spec.base_key not in done:  # one resource per peer rule, for_each CIDR
            done.add(spec.base_key)
            meta = {"for_each": as_set_expression(cidrs[spec.cidr_peer])}
            key = logical_id_prefix + spec.base_key
            _add_rule(batch, spec, key, "${each.value}", meta, group_id)


def _add_rule(
    batch: ResourceBatch,
    spec: SgRuleSpec,
    key: str,
    cidr: str | None,
    meta: dict[str, Any] | None,
    group_id: Callable[[str], str],
) -> None:
    config = SecurityGroupRuleConfig(
        security_group_id=group_id(spec.group),
        ip_protocol=spec.ip_protocol,
        from_port=spec.from_port,
        to_port=spec.to_port,
        cidr_ipv4=cidr,
        referenced_security_group_id=group_id(spec.peer_group) if spec.peer_group else None,
        description=spec.description,
        tags=dict(spec.tags),
    )
    kind = (
        VpcSecurityGroupIngressRule if spec.direction == "ingress" else VpcSecurityGroupEgressRule
    )
    batch.add(kind.TERRAFORM_TYPE, key, config.to_terraform(), meta=meta)


def override_rule(
    batch: ResourceBatch, plan: AwsPlan, rule_id: str, path: str, value: Any, prefix: str = ""
) -> None:
    specs = [s for s in plan.rules if s.rule_id == rule_id and not s.inline]
    if not specs:
        raise KeyError(
            f"no resource renders rule {rule_id!r} (rules leaving the lab become egress "
            'rules only with egress="strict"; an adopted group holds its rules inline)'
        )
    for spec in specs:
        kind = (
            VpcSecurityGroupIngressRule
            if spec.direction == "ingress"
            else VpcSecurityGroupEgressRule
        )
        batch.override_resource(
            kind.TERRAFORM_TYPE, prefix + (spec.base_key or spec.key), path, value
        )


# -- per role ------------------------------------------------------------------------------


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


class AwsCrmLab(DeclaredLab, Construct):
    """A CRM lab's security groups and rules, declared host by host.

    `options` are the lab options (`Options(auth="claims")`; `topology` is ignored: the
    hosts are the placement). `peer_cidrs` maps `client_cidrs` / `admin_cidrs` /
    `mail_cidrs` to lists, list tokens or "${var.x}" expressions, as for AwsCrmFirewall.
    Arguments, hosts and rules are checked as a lab file's are; `record` as for
    AwsCrmFirewall.
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
        record: bool = True,
    ) -> None:
        where = construct_name("AwsCrmLab", id)
        check_scope(scope, where, provider)
        check_lab_keys(where, lab=lab, aws={"egress": egress, "vpc_id": vpc_id})
        given = check_options(where, "options", options or Options())
        check_peer_cidrs(where, peer_cidrs)
        check_prefix(where, logical_id_prefix)
        super().__init__(scope, id)
        self._model = LabModel(lab, given, catalogue or load_catalogue(), where)
        self._egress = egress
        self._peer_cidrs = peer_cidrs
        self._provider = provider
        self._prefix = logical_id_prefix
        self._vpc_id = vpc_id
        self._plan: AwsPlan | None = None
        self._overrides: list[tuple[str, str, Any]] = []
        self._groups: dict[str, SecurityGroup] = {}
        self.hosts: dict[str, AwsCrmHost] = {}
        self.rules = DeferredBatch(self, "rules", provider=provider, fill=self._fill)
        self._filled = False
        self.members_security_group_id = self._group(self._model.members_group).id
        # `load_balancer: cloud`: the group the Application Load Balancer carries.
        self.load_balancer_security_group_id: str | None = (
            self._group(CLOUD_BALANCER_GROUP).id
            if self._model.options.load_balancer == "cloud"
            else None
        )
        if record:
            CrmPortsRecord(self, describe=self._record)

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
        cidrs = peer_cidrs_for(self.resolve(), self._peer_cidrs, self._model.where)
        conditions = quota_conditions(self.plan, self.plan.security_group(name), cidrs)
        lifecycle: dict[str, Any] = {"ignore_changes": list(GROUP_IGNORED_CHANGES)}
        if conditions:
            lifecycle["precondition"] = [
                {"condition": c, "error_message": m} for c, m in conditions
            ]
        return lifecycle

    def _record(self) -> dict[str, Any]:
        """What the stack records of this lab (`crm_ports.terraform.records`): the lab as
        declared, on AWS, and what each host's instances carry."""
        carries = {name: host.security_group_ids for name, host in self.hosts.items()}
        carries[self._model.members_group] = [self.members_security_group_id]
        if self.load_balancer_security_group_id is not None:
            carries[CLOUD_BALANCER_GROUP] = [self.load_balancer_security_group_id]
        lab = self._model.recorded("aws")
        return record_json(
            kind="AwsCrmLab",
            cloud="aws",
            lab=replace(lab, aws=AwsSettings(egress=self._egress)),
            rules=self.resolve(),
            carries=carries,
            peers=peer_ranges(self.resolve(), self._peer_cidrs, self._model.where),
        )

    def _fill(self) -> None:
        if self._filled:
            return
        self._filled = True
        rules = self.resolve()
        add_rules(
            self.rules,
            self.plan,
            group_id=lambda group: self._groups[group].id,
            cidrs=peer_cidrs_for(rules, self._peer_cidrs, self._model.where),
            logical_id_prefix=self._prefix,
        )
        for rule_id, path, value in self._overrides:
            override_rule(self.rules, self.plan, rule_id, path, value, self._prefix)


__all__: Sequence[str] = (
    "AwsCrmFirewall",
    "AwsCrmGroup",
    "AwsCrmHost",
    "AwsCrmLab",
    "add_rules",
    "inline_rules",
    "override_rule",
)
