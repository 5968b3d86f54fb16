"""The policy checks (CRM001-CRM008) applied to what is live, not only to what is planned.

A rule opened by hand (RDP from 0.0.0.0/0) is drift, but above all it breaks a policy:
the audit says which, with the check's id and severity, and its exit status follows the
errors. The live rules are put into Terraform's attribute shape (the one the checks read
in a synthesized stack), so each check keeps one implementation for both. Checks about
the lab's options (CRM005 HTTPS, CRM008 advice) judge the plan; live rules cannot break
them, so they are not repeated here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from crm_ports.lab import Lab
from crm_ports.review.checks import (
    REGISTRY,
    Finding,
    Quotas,
    Stack,
    Subject,
    rule_tags,
    waive,
)
from crm_ports.review.resources import (
    AWS_EGRESS,
    AWS_INGRESS,
    AWS_SECURITY_GROUP,
    AZURE_NSG,
    AZURE_RULE,
    NSG_KEY,
    Resources,
)
from crm_ports.ruleset import RuleSet

PROTOCOL_NUMBERS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}


@dataclass(frozen=True)
class PolicyScope:
    """What the live rules are judged against: the lab (its waivers) and its rule set
    (which peer a rule serves, the lab's sql_port)."""

    lab: Lab
    ruleset: RuleSet


def _tags(pairs: Any) -> dict[str, str]:
    if isinstance(pairs, dict):
        return {str(k): str(v) for k, v in pairs.items()}
    return {str(t["Key"]): str(t["Value"]) for t in pairs or ()}


def aws_live_resources(groups: list[dict[str, Any]], rules: list[dict[str, Any]]) -> Resources:
    """EC2's DescribeSecurityGroups / DescribeSecurityGroupRules answers as resources,
    addressed by their live ids."""
    out: Resources = {}
    for group in groups:
        out[f"{AWS_SECURITY_GROUP}.{group['GroupId']}"] = {
            "name": str(group.get("GroupName", "")),
            "description": str(group.get("Description", "")),
            "tags": _tags(group.get("Tags")),
        }
    for rule in rules:
        kind = AWS_EGRESS if rule.get("IsEgress") else AWS_INGRESS
        raw = str(rule.get("IpProtocol", "")).lower()
        referenced = (rule.get("ReferencedGroupInfo") or {}).get("GroupId")
        attributes = {
            "security_group_id": f"${{{AWS_SECURITY_GROUP}.{rule.get('GroupId')}.id}}",
            "ip_protocol": PROTOCOL_NUMBERS.get(raw, raw),
            "from_port": rule.get("FromPort"),
            "to_port": rule.get("ToPort"),
            "cidr_ipv4": rule.get("CidrIpv4"),
            "cidr_ipv6": rule.get("CidrIpv6"),
            "referenced_security_group_id": referenced,
            "description": str(rule.get("Description", "")),
            "tags": _tags(rule.get("Tags")),
        }
        address = f"{kind}.{rule.get('SecurityGroupRuleId', '')}"
        out[address] = {k: v for k, v in attributes.items() if v is not None}
    return dict(sorted(out.items()))


def azure_live_resources(nsg_name: str, rules: list[Any]) -> Resources:
    """The NSG's security rules (SDK models) as resources, addressed by rule name."""
    from crm_ports.audit.azure import _field, _text

    out: Resources = {f"{AZURE_NSG}.{NSG_KEY}": {"name": nsg_name}}
    for rule in rules:
        attributes: dict[str, Any] = {
            "name": _text(_field(rule, "name")),
            "network_security_group_name": f"${{{AZURE_NSG}.{NSG_KEY}.name}}",
            "priority": _field(rule, "priority"),
            "direction": _text(_field(rule, "direction")),
            "access": _text(_field(rule, "access")),
            "protocol": _text(_field(rule, "protocol")),
            "description": _text(_field(rule, "description")),
        }
        for name in (
            "source_address_prefix",
            "source_address_prefixes",
            "destination_address_prefix",
            "destination_port_range",
            "destination_port_ranges",
        ):
            value = _field(rule, name)
            if value:
                attributes[name] = (
                    tuple(_text(v) for v in value) if isinstance(value, list) else _text(value)
                )
        out[f"{AZURE_RULE}.{attributes['name']}"] = attributes
    return dict(sorted(out.items()))


def policy_findings(
    scope: PolicyScope, stack_name: str, cloud: str, resources: Resources
) -> tuple[Finding, ...]:
    """Every live-rule finding of CRM001-CRM008, waivers applied, sorted."""
    stack = Stack(stack_name, cloud, resources, rule_tags(resources))
    subject = Subject(scope.lab, scope.ruleset, (stack,))
    found: list[Finding] = []
    for check in REGISTRY.values():
        found.extend(check.on_stack(subject, stack))
        if isinstance(check, Quotas):  # counted in the stack's (live) resources
            found.extend(replace(f, where=stack_name) for f in check.on_rules(subject))
    return tuple(sorted({waive(f, scope.lab) for f in found}, key=Finding.sort_key))
