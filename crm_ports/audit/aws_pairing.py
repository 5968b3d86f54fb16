"""Pair an AWS lab's live groups and rules (as EC2 returns them) with its plan.

Both sides become `compare.Item`s. A planned group claims the live group carrying its
`crm-ports:group` tag; rules pair by content, then by their `crm-ports:rule` tag. Rules
of a group that is missing or not in the plan are folded into that group's finding
rather than listed one by one: the group is the thing to fix.
"""

from __future__ import annotations

from typing import Any

from crm_ports.audit.aws_live import PROTOCOL_NUMBERS
from crm_ports.audit.compare import Item, compare, tag_text
from crm_ports.audit.model import Finding
from crm_ports.plans.aws import AwsPlan, SecurityGroupSpec, SgRuleSpec
from crm_ports.plans.text import GROUP_TAG, LAB_TAG, RULE_TAG


def _tags(pairs: Any, keys: frozenset[str]) -> str:
    """EC2 answers tags as [{"Key", "Value"}]; plans hold a mapping."""
    tags = pairs if isinstance(pairs, dict) else {t["Key"]: t["Value"] for t in pairs}
    return tag_text(tags, keys)


def _ports(protocol: str, low: int | None, high: int | None) -> str:
    if protocol == "-1":
        return "all"
    if low is None or high is None:
        return ""
    return str(low) if low == high else f"{low}-{high}"


def _summary(direction: str, protocol: str, ports: str, peer: str) -> str:
    word = "from" if direction == "ingress" else "to"
    name = "all traffic" if protocol == "-1" else f"{protocol} {ports}"
    return f"{direction} {name} {word} {peer}"


def _rule_item(
    *,
    container: str,
    name: str,
    direction: str,
    protocol: str,
    ports: str,
    peer: str,
    description: str,
    tags: str,
    rule_tag: str | None,
    live_id: str = "",
) -> Item:
    return Item(
        resource="rule",
        container=container,
        name=name,
        identity=(direction, protocol, ports, peer),
        fallback=(direction, rule_tag) if rule_tag else None,
        fields=(
            ("protocol", protocol),
            ("ports", ports),
            ("peer", peer),
            ("description", description),
            ("tags", tags),
        ),
        summary=_summary(direction, protocol, ports, peer),
        live_id=live_id,
    )


def _spec_peer(spec: SgRuleSpec) -> str:
    if spec.peer_group is not None:
        return f"sg:{spec.peer_group}"
    return spec.cidr_ipv4 or ""


def _expected_rule(spec: SgRuleSpec, container: str, keys: frozenset[str]) -> Item:
    return _rule_item(
        container=container,
        name=spec.key,
        direction=spec.direction,
        protocol=spec.ip_protocol,
        ports=_ports(spec.ip_protocol, spec.from_port, spec.to_port),
        peer=_spec_peer(spec),
        description=spec.description,
        tags=_tags(dict(spec.tags), keys),
        rule_tag=dict(spec.tags).get(RULE_TAG),
    )


def _live_rule(
    rule: dict[str, Any], container: str, group_of: dict[str, str], keys: frozenset[str]
) -> Item:
    raw = str(rule.get("IpProtocol", "")).lower()
    protocol = PROTOCOL_NUMBERS.get(raw, raw)
    direction = "egress" if rule.get("IsEgress") else "ingress"
    referenced = (rule.get("ReferencedGroupInfo") or {}).get("GroupId")
    if referenced:
        peer = f"sg:{group_of.get(referenced, referenced)}"
    else:
        peer = (
            rule.get("CidrIpv4")
            or rule.get("CidrIpv6")
            or (f"pl:{rule['PrefixListId']}" if rule.get("PrefixListId") else "")
        )
    tags = rule.get("Tags", [])
    rule_tag = {t["Key"]: t["Value"] for t in tags}.get(RULE_TAG)
    return _rule_item(
        container=container,
        name=rule_tag or "(untagged)",
        direction=direction,
        protocol=protocol,
        ports=_ports(protocol, rule.get("FromPort"), rule.get("ToPort")),
        peer=peer,
        description=str(rule.get("Description", "")),
        tags=_tags(tags, keys),
        rule_tag=rule_tag,
        live_id=str(rule.get("SecurityGroupRuleId", "")),
    )


def _group_item(
    sg: SecurityGroupSpec,
    *,
    name: str,
    description: str,
    tags: str,
    live_id: str = "",
    note: str = "",
) -> Item:
    """A planned group, or the live group that carries its group tag.

    Its description is shown but not compared: the stacks leave a deployed description as
    it is (`lifecycle.ignore_changes`, see `plans.aws.group_description`), so a group
    created by an older crm-ports keeps its text, and no apply would change it."""
    return Item(
        resource="security-group",
        container=sg.name,
        name=sg.key,
        identity=("group", sg.group),
        fallback=None,
        fields=(("name", name), ("tags", tags)),
        summary=description,
        live_id=live_id,
        note=note,
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def compare_lab(
    plan: AwsPlan, groups: list[dict[str, Any]], rules: list[dict[str, Any]]
) -> tuple[Finding, ...]:
    """Findings for live groups and rules (as EC2 returns them) against the plan."""
    group_keys = frozenset(k for sg in plan.security_groups for k, _ in sg.tags)
    rule_keys = frozenset(k for spec in plan.rules for k, _ in spec.tags)
    planned = {sg.group: sg for sg in plan.security_groups}

    # Each planned group claims the first live group (by id) carrying its group tag.
    live_of: dict[str, dict[str, Any]] = {}
    extra: list[dict[str, Any]] = []
    for group in sorted(groups, key=lambda g: str(g["GroupId"])):
        tag = {t["Key"]: t["Value"] for t in group.get("Tags", [])}.get(GROUP_TAG)
        if tag in planned and tag not in live_of:
            live_of[tag] = group
        else:
            extra.append(group)
    group_of = {g["GroupId"]: name for name, g in live_of.items()}
    rules_of: dict[str, list[dict[str, Any]]] = {}
    for rule in rules:
        rules_of.setdefault(str(rule.get("GroupId")), []).append(rule)

    expected: list[Item] = []
    live: list[Item] = []
    for sg in plan.security_groups:
        own = [spec for spec in plan.rules if spec.group == sg.group]
        absent = sg.group not in live_of
        expected.append(
            _group_item(
                sg,
                name=sg.name,
                description=sg.description,
                tags=_tags(dict(sg.tags), group_keys),
                note=f"its {_plural(len(own), 'planned rule')} not listed" if absent else "",
            )
        )
        if absent:
            continue
        expected.extend(_expected_rule(spec, sg.name, rule_keys) for spec in own)
        found = live_of[sg.group]
        live.append(
            _group_item(
                sg,
                name=str(found.get("GroupName", "")),
                description=str(found.get("Description", "")),
                tags=_tags(found.get("Tags", []), group_keys),
                live_id=str(found["GroupId"]),
            )
        )
        live.extend(
            _live_rule(rule, sg.name, group_of, rule_keys)
            for rule in rules_of.get(str(found["GroupId"]), [])
        )
    for group in extra:
        tags = {t["Key"]: t["Value"] for t in group.get("Tags", [])}
        held = len(rules_of.get(str(group["GroupId"]), []))
        live.append(
            Item(
                resource="security-group",
                container=str(group.get("GroupName", "")),
                name=tags.get(GROUP_TAG, "(no group tag)"),
                identity=("group", "", str(group["GroupId"])),
                fallback=None,
                fields=(),
                summary=str(group.get("Description", "")),
                live_id=str(group["GroupId"]),
                note=f"carries {LAB_TAG}={plan.lab} but is not in the plan; "
                f"holds {_plural(held, 'rule')}",
            )
        )
    return compare(expected, live)
