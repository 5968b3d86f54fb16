"""RuleSet -> AWS plan: one security group per host group (and one for the members
group every server carries), rules as `aws_vpc_security_group_ingress_rule` /
`_egress_rule` resources, each keyed by its rule id so that identity never depends
on list position. An adopted group (`adopted`) holds its rules inline instead, so that
its rule set is the plan's and nothing else.

A rule between two server groups is an ingress rule on the target group referencing the
source group; a rule from a peer is one ingress rule per peer CIDR (the resource takes
one CIDR). Egress is allow-all by default; `strict` turns each rule that leaves a server
group into an egress rule on that group instead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from crm_ports.errors import InputError
from crm_ports.lab.adoption import AdoptedGroup
from crm_ports.plans.text import (
    GROUP_TAG,
    LAB_TAG,
    ROLES_TAG,
    RULE_TAG,
    TOPOLOGY_TAG,
    clean,
    resource_key,
)
from crm_ports.ruleset import Group, Rule, RuleSet

RULES_PER_GROUP = 60  # "Inbound or outbound rules per security group", per direction
DESCRIPTION_LIMIT = 255
DESCRIPTION_CHARS = r"a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*"
EGRESS_MODES = ("allow-all", "strict")
ALL_TRAFFIC = "all-traffic"
# Security group attributes the stacks tell Terraform to leave as deployed
# (`lifecycle.ignore_changes`): see `group_description`.
GROUP_IGNORED_CHANGES = ("description",)

Tags = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SecurityGroupSpec:
    key: str
    group: str
    name: str
    description: str
    tags: Tags
    import_id: str | None = None  # an adopted live group's id (`crm_ports.lab.adoption`)


@dataclass(frozen=True)
class SgRuleSpec:
    key: str
    direction: str  # "ingress" | "egress"
    group: str  # the group whose security group holds the rule
    ip_protocol: str  # "tcp" | "udp" | "icmp" | "-1" | "50" (ESP)
    from_port: int | None
    to_port: int | None
    peer_group: str | None  # referenced security group (by group name) ...
    cidr_ipv4: str | None  # ... or an address range (peer CIDRs are IPv4)
    description: str
    rule_id: str  # RuleSet rule id, or ALL_TRAFFIC for the allow-all egress
    tags: Tags
    cidr_peer: str | None = None  # the peer group a CIDR rule was expanded from
    base_key: str = ""  # `key` without the CIDR: one Terraform resource per peer, for_each CIDR
    # Held inline by its adopted group (`ingress`/`egress` of the `aws_security_group`),
    # which then owns its whole rule set: see `adopted`.
    inline: bool = False


@dataclass(frozen=True)
class AwsPlan:
    lab: str
    topology: str
    egress: str
    security_groups: tuple[SecurityGroupSpec, ...]
    rules: tuple[SgRuleSpec, ...]

    def security_group(self, group: str) -> SecurityGroupSpec:
        return next(sg for sg in self.security_groups if sg.group == group)

    def live_id(self, group: str) -> str | None:
        """The live id of an adopted group (None: the stack creates the group)."""
        return self.security_group(group).import_id

    def counts(self) -> dict[tuple[str, str], int]:
        """(group, direction) -> number of rules, for the quota and for reports."""
        return dict(Counter((r.group, r.direction) for r in self.rules))


def group_description(lab: str, group: Group) -> str:
    """A security group's description, from what identifies the group and nothing else:
    the lab and the group's name (the balancer's and the members group's names are
    reserved for them, so their kind comes with the name).

    EC2 cannot change a description, so the provider replaces the group when it changes,
    and EC2 refuses to delete a group its servers hold: an apply that adds a host would
    fail half-way if the text listed the lab's roles, as it once did. The roles live in
    the `crm-ports:roles` tag, which is updated in place. The stacks also ignore changes
    to the description, so a group created by an older crm-ports keeps its own text.
    """
    if group.is_members:
        what = "every server of the lab carries it"
    elif group.is_balancer:  # no instance carries it: the ALB does
        what = "the Application Load Balancer in front of the web servers"
    else:
        what = f"host group; roles in tag {ROLES_TAG}"
    return clean(f"CRM 2013 lab {lab}, {group.name}: {what}", DESCRIPTION_CHARS, DESCRIPTION_LIMIT)


def describe(rule: Rule) -> str:
    return clean(rule.description, DESCRIPTION_CHARS, DESCRIPTION_LIMIT)


def _protocol(rule: Rule) -> tuple[str, int | None, int | None]:
    if rule.protocol.value == "all":
        return "-1", None, None
    if rule.protocol.value == "esp":
        # EC2 names protocols without a keyword by number and reports their ports as -1
        # ("a protocol other than tcp, udp, or icmp: traffic on all ports is allowed");
        # saying so keeps the plan after apply empty (and moto 5.2.5 needs the ports).
        return "50", -1, -1
    return rule.protocol.value, rule.from_port, rule.to_port


def plan_aws(
    ruleset: RuleSet,
    lab: str,
    *,
    egress: str = "allow-all",
    origin: str = "",
    adopt: tuple[AdoptedGroup, ...] = (),
) -> AwsPlan:
    """With `adopt`, each adopted host's group keeps its live name and description and
    carries the ids Terraform imports it and its matching rules by."""
    if egress not in EGRESS_MODES:
        raise ValueError(f"egress must be one of {EGRESS_MODES}")
    base_tags = ((LAB_TAG, lab), (TOPOLOGY_TAG, ruleset.topology))
    if f"{lab}-".lower().startswith("sg-"):
        raise InputError(
            origin or ruleset.options.origin,
            f"lab '{lab}'",
            "name",
            "AWS refuses security group names starting with 'sg-': rename the lab",
        )
    groups = [
        SecurityGroupSpec(
            key=resource_key("sg", group.name),
            group=group.name,
            name=f"{lab}-{group.name}",
            description=group_description(lab, group),
            tags=(
                ("Name", f"{lab}-{group.name}"),
                *base_tags,
                (GROUP_TAG, group.name),
                (ROLES_TAG, "+".join(group.roles)),
            ),
        )
        for group in ruleset.server_groups
    ]
    rules: list[SgRuleSpec] = []
    collapsed = _members_egress(ruleset) if egress == "strict" else {}
    for key, (protocol, low, high, description) in sorted(collapsed.items()):
        members = key[0]
        rule_id = f"{members}.egress.{key[1]}.{key[2]}-{key[3]}"
        rules.append(
            SgRuleSpec(
                key=resource_key("out", rule_id),
                direction="egress",
                group=members,
                ip_protocol=protocol,
                from_port=low,
                to_port=high,
                peer_group=members,
                cidr_ipv4=None,
                description=description,
                rule_id=rule_id,
                tags=(*base_tags, (RULE_TAG, rule_id)),
            )
        )
    for rule in ruleset.rules:
        source = ruleset.group(rule.source)
        target = ruleset.group(rule.target)
        if not target.is_peer:  # ingress on the target, from the source
            rules.extend(_specs(rule, "ingress", target, source, base_tags))
        if (
            egress == "strict"
            and not source.is_peer
            and ((rule.source, rule.protocol.value, rule.from_port, rule.to_port) not in collapsed)
        ):  # egress on the source, to the target
            rules.extend(_specs(rule, "egress", source, target, base_tags))
    if egress == "allow-all":
        for sg in groups:
            rules.append(
                SgRuleSpec(
                    key=resource_key("out", sg.group, ALL_TRAFFIC),
                    direction="egress",
                    group=sg.group,
                    ip_protocol="-1",
                    from_port=None,
                    to_port=None,
                    peer_group=None,
                    cidr_ipv4="0.0.0.0/0",
                    description="All outbound traffic (allow-all egress)",
                    rule_id=ALL_TRAFFIC,
                    tags=(*base_tags, (RULE_TAG, f"{sg.group}.{ALL_TRAFFIC}")),
                )
            )
    plan = AwsPlan(
        lab, ruleset.topology, egress, tuple(groups), tuple(sorted(rules, key=lambda r: r.key))
    )
    if adopt:
        plan = adopted(plan, adopt)
    check_quota(plan, origin or ruleset.options.origin)
    return plan


def adopted(plan: AwsPlan, adopt: tuple[AdoptedGroup, ...]) -> AwsPlan:
    """The plan taking over the live groups: name and description as they are (EC2
    replaces a group when either changes), the import id of each group, and each adopted
    group's rules inline.

    Inline, the group owns its whole rule set: the first apply after the import revokes
    every live rule the lab leaves out, which separate rule resources could never do
    (Terraform cannot import a resource and destroy it in one apply, and a live rule the
    stack does not name is not Terraform's). Inline rules carry no tags (EC2 tags a rule
    only by its id, which the inline set does not know), so theirs are dropped. The
    `rules:` a lab's `adopt:` lists play no part: they record what `crm-ports adopt`
    matched, and a lab edited since may plan other rules."""
    by_host = {a.host: a for a in adopt}
    groups = []
    for sg in plan.security_groups:
        live = by_host.get(sg.group)
        if live is None:
            groups.append(sg)
            continue
        tags = tuple((k, live.name if k == "Name" else v) for k, v in sg.tags)
        groups.append(
            replace(
                sg,
                name=live.name,
                description=live.description,
                tags=tags,
                import_id=live.group_id,
            )
        )
    missing = sorted(set(by_host) - {sg.group for sg in plan.security_groups})
    if missing:
        raise by_host[missing[0]].error("", "the plan has no security group for this host")
    rules = tuple(replace(r, inline=True, tags=()) if r.group in by_host else r for r in plan.rules)
    return replace(plan, security_groups=tuple(groups), rules=rules)


def _specs(
    rule: Rule, direction: str, holder: Group, peer: Group, base_tags: Tags
) -> list[SgRuleSpec]:
    """The rule as seen from `holder`'s security group: one spec referencing the peer's
    group, or, for an outside peer, one spec per peer CIDR."""
    protocol, low, high = _protocol(rule)
    prefix = "in" if direction == "ingress" else "out"
    base = SgRuleSpec(
        key=resource_key(prefix, rule.id),
        direction=direction,
        group=holder.name,
        ip_protocol=protocol,
        from_port=low,
        to_port=high,
        peer_group=None if peer.is_peer else peer.name,
        cidr_ipv4=None,
        description=describe(rule),
        rule_id=rule.id,
        tags=(*base_tags, (RULE_TAG, rule.id)),
    )
    if not peer.is_peer:
        return [base]
    return [
        replace(
            base,
            key=resource_key(prefix, rule.id, cidr),
            cidr_ipv4=cidr,
            cidr_peer=peer.name,
            base_key=base.key,
        )
        for cidr in peer.cidrs
    ]


def _members_egress(
    ruleset: RuleSet,
) -> dict[tuple[str, str, int, int], tuple[str, int | None, int | None, str]]:
    """Strict egress from the members group to *every* server group on one port range is
    one egress rule referencing the members group itself (every server carries it), not
    one per group: without this a split-roles lab overruns AWS's 60 outbound rules."""
    members = [g for g in ruleset.groups if g.is_members]
    out: dict[tuple[str, str, int, int], tuple[str, int | None, int | None, str]] = {}
    for group in members:
        servers = set(group.members)
        targets: dict[tuple[str, int, int], set[str]] = {}
        first: dict[tuple[str, int, int], Rule] = {}
        for rule in ruleset.outbound(group.name):
            key = (rule.protocol.value, rule.from_port, rule.to_port)
            targets.setdefault(key, set()).add(rule.target)
            first.setdefault(key, rule)
        for key, reached in targets.items():
            if servers and servers <= reached:
                protocol, low, high = _protocol(first[key])
                text = clean(
                    f"{first[key].description} (to every server)",
                    DESCRIPTION_CHARS,
                    DESCRIPTION_LIMIT,
                )
                out[(group.name, *key)] = (protocol, low, high, text)
    return out


def quota_terms(plan: AwsPlan, group: str, direction: str) -> tuple[int, dict[str, int]]:
    """A group's rule count in one direction as `fixed + sum(per_peer[p] * len(cidrs of p))`,
    so a stack whose peer ranges are variables can check the quota at plan time."""
    fixed = 0
    per_peer: dict[str, set[str]] = {}
    for spec in plan.rules:
        if spec.group != group or spec.direction != direction:
            continue
        if spec.cidr_peer is None:
            fixed += 1
        else:
            per_peer.setdefault(spec.cidr_peer, set()).add(spec.base_key)
    return fixed, {peer: len(keys) for peer, keys in sorted(per_peer.items())}


def check_quota(plan: AwsPlan, origin: str) -> None:
    """Refuse before synthesis what AWS would refuse at apply time, naming the group."""
    names = {sg.group: sg.name for sg in plan.security_groups}
    live = {sg.group: f" ({sg.import_id})" for sg in plan.security_groups if sg.import_id}
    for (group, direction), count in sorted(plan.counts().items()):
        if count > RULES_PER_GROUP:
            word = "inbound" if direction == "ingress" else "outbound"
            # an adopted group is named as it is live, where the user will look for it
            named = f"'{names[group]}'{live.get(group, '')}"  # every holder has a group
            raise InputError(
                origin,
                f"lab '{plan.lab}'",
                "aws",
                f"security group {named} needs {count} {word} rules; AWS allows "
                f"{RULES_PER_GROUP} {word} rules per security group (quota 'Inbound or outbound "
                f"rules per security group'): narrow the peer CIDRs or split the group",
            )
