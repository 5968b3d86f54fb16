"""EC2's answers in Terraform's shape, for the policy checks.

The checks read a synthesized stack's resources; handing them the live groups and rules
in that same shape lets each check keep one implementation for what is planned and what
is live (see `audit.policy`). EC2 names some protocols by number where Terraform and the
plan use a keyword: `PROTOCOL_NUMBERS` is that one translation, which pairing reads too.
"""

from __future__ import annotations

from typing import Any

from crm_ports.terraform.resources import AWS_EGRESS, AWS_INGRESS, AWS_SECURITY_GROUP, Resources

PROTOCOL_NUMBERS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}


def _tag_map(pairs: Any) -> dict[str, str]:
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
            "tags": _tag_map(group.get("Tags")),
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
            "tags": _tag_map(rule.get("Tags")),
        }
        address = f"{kind}.{rule.get('SecurityGroupRuleId', '')}"
        out[address] = {k: v for k, v in attributes.items() if v is not None}
    return dict(sorted(out.items()))
