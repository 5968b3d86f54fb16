"""A VPC's security groups, their rules and the network interfaces holding them, as EC2
reports them, in plain values the inference reads (no boto3 types past this module).

The reading and its errors are the audit's (`crm_ports.audit.aws`): same client, same
credentials for an emulator, same one-line messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_ports.audit.aws import FILTER_VALUES_LIMIT, AwsTarget, Ec2Client, check_target
from crm_ports.audit.aws import translated as _translated
from crm_ports.audit.aws_live import PROTOCOL_NUMBERS
from crm_ports.errors import InputError

DEFAULT_GROUP = "default"  # every VPC has one; no lab built it, so it is never adopted


@dataclass(frozen=True)
class LiveRule:
    rule_id: str  # sgr-...
    group_id: str
    egress: bool
    protocol: str  # "tcp", "udp", "icmp", "-1", ...
    from_port: int | None  # None for every port
    to_port: int | None
    cidr: str | None
    peer_group: str | None  # a referenced group id
    description: str = ""  # the rule's own description
    prefix_list: str | None = None  # a managed prefix list id (pl-...)

    def ports_text(self) -> str:
        if self.protocol == "-1":
            return "all traffic"
        ports = (
            f"{self.from_port}"
            if self.from_port == self.to_port
            else f"{self.from_port}-{self.to_port}"
        )
        return f"{self.protocol.upper()} {ports}"


@dataclass(frozen=True)
class LiveGroup:
    group_id: str
    name: str
    description: str
    holders: tuple[str, ...]  # instance ids (or interface ids) holding the group

    @property
    def label(self) -> str:
        """How a report names the group: an EC2 id with the name beside it; an ARM id
        (`/subscriptions/...`) is long and ends in the name, so the name alone."""
        return self.name if self.group_id.startswith("/") else f"{self.group_id} ({self.name})"


@dataclass(frozen=True)
class Estate:
    network: str  # the VPC's id (AWS), the NSG's id (Azure)
    where: str  # "aws REGION[ at URL]", "azure subscription ... resource group ..."
    groups: tuple[LiveGroup, ...]
    rules: tuple[LiveRule, ...]


def _rule(raw: dict[str, Any]) -> LiveRule:
    protocol = str(raw.get("IpProtocol", "")).lower()
    protocol = PROTOCOL_NUMBERS.get(protocol, protocol)
    every = protocol == "-1" or raw.get("FromPort") in (None, -1)
    return LiveRule(
        rule_id=str(raw["SecurityGroupRuleId"]),
        group_id=str(raw["GroupId"]),
        egress=bool(raw.get("IsEgress")),
        protocol=protocol,
        from_port=None if every else int(raw["FromPort"]),
        to_port=None if every else int(raw["ToPort"]),
        cidr=raw.get("CidrIpv4") or raw.get("CidrIpv6"),
        peer_group=(raw.get("ReferencedGroupInfo") or {}).get("GroupId"),
        description=str(raw.get("Description") or ""),
        prefix_list=raw.get("PrefixListId"),
    )


def _pages(client: Ec2Client, operation: str, key: str, **kw: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in client.get_paginator(operation).paginate(**kw):
        out.extend(page.get(key, []))
    return out


def read_estate(client: Ec2Client, target: AwsTarget, vpc_id: str) -> Estate:
    """The VPC's groups (its default group left out), every rule they hold and who holds
    them; an unknown VPC or one without groups is one line."""
    check_target(target)
    with _translated(target):
        vpcs = _pages(
            client, "describe_vpcs", "Vpcs", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
        )
        if not vpcs:
            raise InputError(target.where, "", "vpc-id", f"no VPC {vpc_id} in this region")
        raw_groups = _pages(
            client,
            "describe_security_groups",
            "SecurityGroups",
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}],
        )
        raw_groups = [g for g in raw_groups if g.get("GroupName") != DEFAULT_GROUP]
        if not raw_groups:
            raise InputError(
                target.where,
                "",
                "vpc-id",
                f"VPC {vpc_id} has no security group but its default one: nothing to adopt",
            )
        ids = sorted(str(g["GroupId"]) for g in raw_groups)
        rules: list[dict[str, Any]] = []
        holders: dict[str, set[str]] = {i: set() for i in ids}
        for start in range(0, len(ids), FILTER_VALUES_LIMIT):
            chunk = ids[start : start + FILTER_VALUES_LIMIT]
            rules += _pages(
                client,
                "describe_security_group_rules",
                "SecurityGroupRules",
                Filters=[{"Name": "group-id", "Values": chunk}],
            )
            for eni in _pages(
                client,
                "describe_network_interfaces",
                "NetworkInterfaces",
                Filters=[{"Name": "group-id", "Values": chunk}],
            ):
                holder = (eni.get("Attachment") or {}).get("InstanceId") or eni.get(
                    "NetworkInterfaceId", ""
                )
                for held in eni.get("Groups", []):
                    if held.get("GroupId") in holders:
                        holders[held["GroupId"]].add(str(holder))
    groups = tuple(
        LiveGroup(
            group_id=str(g["GroupId"]),
            name=str(g.get("GroupName", "")),
            description=str(g.get("Description", "")),
            holders=tuple(sorted(holders[str(g["GroupId"])])),
        )
        for g in sorted(raw_groups, key=lambda g: str(g["GroupId"]))
    )
    return Estate(
        vpc_id,
        target.where,
        groups,
        tuple(sorted((_rule(r) for r in rules), key=lambda r: r.rule_id)),
    )
