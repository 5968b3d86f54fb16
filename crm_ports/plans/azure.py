"""RuleSet -> Azure plan: one application security group per host group (plus the
members group every NIC carries), and one network security group for the lab's subnet
whose inbound rules reference them.

Rules of one source, target and protocol become one NSG rule with every port in
`destination_port_ranges`. Priorities are a function of the NSG rule's own name (a hash
into 100-4095), so adding or removing a flow never renumbers the other rules; two names
hashing to one slot are settled by name order and the later one takes the next free slot.
An explicit deny of all other inbound traffic sits at 4096, the lowest priority Azure
allows for custom rules and above its built-in AllowVnetInBound (65000).

The cloud's load balancer (`load_balancer: cloud`) gets no ASG: Azure Load Balancer
passes the client's address on, so a rule into the balancer becomes the same rule into
each group it balances (the client rules stay), and a rule out of it becomes an allow
from the `AzureLoadBalancer` service tag, the source of its health probes. Azure's own
AllowAzureLoadBalancerInBound sits at 65001, behind the deny at 4096, so without that
allow the probes fail ("Troubleshoot Azure Load Balancer health probe status").
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, replace

from crm_ports.errors import InputError
from crm_ports.lab.azure_adoption import AdoptedAzure
from crm_ports.net import PORTLESS
from crm_ports.plans.text import GROUP_TAG, LAB_TAG, ROLES_TAG, TOPOLOGY_TAG, clean, resource_key
from crm_ports.ruleset import Rule, RuleSet

PRIORITY_MIN = 100
PRIORITY_MAX = 4096
DENY_PRIORITY = PRIORITY_MAX
RULES_PER_NSG = 1000
NAME_LIMIT = 80
DESCRIPTION_LIMIT = 140
DESCRIPTION_CHARS = r"a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*'"
DENY_ALL = "deny-all-other-inbound"
PROTOCOLS = {"tcp": "Tcp", "udp": "Udp", "icmp": "Icmp", "all": "*", "esp": "Esp"}
LOAD_BALANCER_TAG = "AzureLoadBalancer"

Tags = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class AsgSpec:
    key: str
    group: str
    name: str
    tags: Tags
    import_id: str | None = None  # an adopted live ASG's ARM id (`crm_ports.lab.adoption`)


@dataclass(frozen=True)
class NsgRuleSpec:
    key: str
    name: str
    priority: int
    direction: str  # "Inbound"
    access: str  # "Allow" | "Deny"
    protocol: str  # "Tcp" | "Udp" | "Icmp" | "*"
    source_group: str | None  # an ASG (by group name) ...
    source_prefixes: tuple[str, ...]  # ... or address prefixes
    target_group: str | None  # destination ASG; None with "*" prefixes for the deny rule
    port_ranges: tuple[str, ...]  # destination_port_ranges; ("*",) for all
    description: str
    rule_ids: tuple[str, ...]  # the RuleSet rules this NSG rule carries
    source_peer: str | None = None  # the peer group `source_prefixes` came from


@dataclass(frozen=True)
class AzurePlan:
    lab: str
    topology: str
    nsg_name: str
    tags: Tags
    asgs: tuple[AsgSpec, ...]
    rules: tuple[NsgRuleSpec, ...]
    nsg_import_id: str | None = None  # an adopted live NSG's ARM id

    def asg(self, group: str) -> AsgSpec:
        return next(a for a in self.asgs if a.group == group)


def default_resource_group(lab: str) -> str:
    """The resource group a lab stack creates when none is given (and the audit's default)."""
    return f"{lab}-rg"


def _slot(name: str) -> int:
    digest = hashlib.sha256(name.encode()).digest()
    return PRIORITY_MIN + int.from_bytes(digest[:8], "big") % (DENY_PRIORITY - PRIORITY_MIN)


def assign_priorities(names: list[str]) -> dict[str, int]:
    """Name -> priority in [100, 4095], stable per name; collisions probe upwards."""
    taken: dict[int, str] = {}
    out: dict[str, int] = {}
    for name in sorted(names, key=lambda n: (_slot(n), n)):
        priority = _slot(name)
        while priority in taken:
            priority = PRIORITY_MIN if priority + 1 >= DENY_PRIORITY else priority + 1
        taken[priority] = name
        out[name] = priority
    return out


def _ports(rules: list[Rule]) -> tuple[str, ...]:
    if any(r.protocol in PORTLESS for r in rules):
        return ("*",)
    # a rule reached both directly and through the balancer is listed once
    return tuple(dict.fromkeys(str(r.ports) for r in sorted(rules, key=lambda r: r.ports)))


def _buckets(ruleset: RuleSet) -> dict[tuple[str, str, str], list[Rule]]:
    """(source, target, protocol) -> rules, with the balancer seen through as Azure does."""
    balancers = {g.name for g in ruleset.groups if g.is_balancer}
    behind = {b: sorted({r.target for r in ruleset.outbound(b)}) for b in balancers}
    buckets: dict[tuple[str, str, str], list[Rule]] = defaultdict(list)
    for rule in ruleset.rules:
        if ruleset.group(rule.target).is_peer:
            continue  # outbound to peers: Azure allows outbound by default
        targets = behind[rule.target] if rule.target in balancers else [rule.target]
        for target in targets:
            if target != rule.source:
                buckets[(rule.source, target, rule.protocol.value)].append(rule)
    return buckets


def plan_azure(
    ruleset: RuleSet, lab: str, *, origin: str = "", adopt: AdoptedAzure | None = None
) -> AzurePlan:
    """With `adopt`, the NSG and each adopted host's ASG keep their live names and carry
    the ARM ids Terraform imports them by."""
    where = origin or ruleset.options.origin
    base_tags = ((LAB_TAG, lab), (TOPOLOGY_TAG, ruleset.topology))
    asgs = tuple(
        AsgSpec(
            resource_key("asg", g.name),
            g.name,
            f"{lab}-{g.name}-asg",
            (*base_tags, (GROUP_TAG, g.name), (ROLES_TAG, "+".join(g.roles))),
        )
        for g in ruleset.server_groups
        if not g.is_balancer
    )
    buckets = _buckets(ruleset)
    names = {key: f"{key[0]}.{key[1]}.{key[2]}" for key in buckets}
    too_long = [n for n in names.values() if len(n) > NAME_LIMIT]
    if too_long:
        raise InputError(
            where,
            f"lab '{lab}'",
            "azure",
            f"NSG rule name '{too_long[0]}' is {len(too_long[0])} characters; Azure allows "
            f"{NAME_LIMIT}: shorten the group names",
        )
    if len(buckets) + 1 > RULES_PER_NSG or len(buckets) >= DENY_PRIORITY - PRIORITY_MIN:
        raise InputError(
            where,
            f"lab '{lab}'",
            "azure",
            f"NSG '{lab}-nsg' needs {len(buckets) + 1} rules; Azure allows {RULES_PER_NSG} "
            "rules per network security group",
        )
    priorities = assign_priorities(list(names.values()))
    rules = []
    for key, members in sorted(buckets.items()):
        source, target, protocol = key
        source_group = ruleset.group(source)
        balancer = source_group.is_balancer
        services = ", ".join(dict.fromkeys(r.service.replace("+", ", ") for r in members))
        if balancer:
            prefixes: tuple[str, ...] = (LOAD_BALANCER_TAG,)
        else:
            prefixes = source_group.cidrs if source_group.is_peer else ()
        rules.append(
            NsgRuleSpec(
                key=resource_key("nsr", names[key]),
                name=names[key],
                priority=priorities[names[key]],
                direction="Inbound",
                access="Allow",
                protocol=PROTOCOLS[protocol],
                source_group=None if source_group.is_peer or balancer else source,
                source_prefixes=prefixes,
                target_group=target,
                port_ranges=_ports(members),
                description=clean(
                    f"{LOAD_BALANCER_TAG} ({source}) to {target}: {services}"
                    if balancer
                    else f"{source} to {target}: {services}",
                    DESCRIPTION_CHARS,
                    DESCRIPTION_LIMIT,
                ),
                rule_ids=tuple(sorted({r.id for r in members})),
                source_peer=source if source_group.is_peer else None,
            )
        )
    rules.append(
        NsgRuleSpec(
            key=resource_key("nsr", DENY_ALL),
            name=DENY_ALL,
            priority=DENY_PRIORITY,
            direction="Inbound",
            access="Deny",
            protocol="*",
            source_group=None,
            source_prefixes=("*",),
            target_group=None,
            port_ranges=("*",),
            description="Deny all other inbound traffic, above Azure's AllowVnetInBound",
            rule_ids=(),
        )
    )
    plan = AzurePlan(
        lab=lab,
        topology=ruleset.topology,
        nsg_name=f"{lab}-nsg",
        tags=base_tags,
        asgs=asgs,
        rules=tuple(rules),
    )
    return plan if adopt is None else adopted(plan, adopt)


def adopted(plan: AzurePlan, adopt: AdoptedAzure) -> AzurePlan:
    """The plan taking over the live NSG and ASGs: names as they are (Azure replaces a
    resource whose name changes) and their import ids. The rule names `adopt` records
    must be planned ones: a lab edited since `adopt` ran is refused, not half-imported."""
    groups = {a.group for a in plan.asgs}
    missing = sorted({host for host, _ in adopt.asgs} - groups)
    if missing:
        raise adopt.error(
            f"hosts.{missing[0]}", "the plan has no application security group for this host"
        )
    planned = {r.name for r in plan.rules}
    for name, _ in adopt.rules:
        if name not in planned:
            raise adopt.error(
                f"rules.{name}",
                f"no planned NSG rule is named '{name}' (run crm-ports adopt again after "
                "changing the lab's hosts or options)",
            )
    asgs = tuple(
        a if (live := adopt.asg(a.group)) is None else replace(a, name=live.name, import_id=live.id)
        for a in plan.asgs
    )
    return replace(plan, nsg_name=adopt.nsg.name, asgs=asgs, nsg_import_id=adopt.nsg.id)
