"""Audit an AWS lab: its security groups and rules, as EC2 reports them, against the plan.

Groups are found by the `crm-ports:lab` tag the plan puts on them (names can collide
across labs and VPCs; the tag cannot), rules through DescribeSecurityGroupRules, the one
call that returns each rule with its id, description and tags. Rules of a group that is
missing or not in the plan are folded into that group's finding rather than listed one
by one: the group is the thing to fix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlparse

from crm_ports.audit.compare import Item, compare, tag_text
from crm_ports.audit.model import AuditReport, Finding
from crm_ports.audit.policy import PolicyScope, policy_findings
from crm_ports.errors import InputError
from crm_ports.lab import emulator
from crm_ports.plans.aws import AwsPlan, SecurityGroupSpec, SgRuleSpec
from crm_ports.plans.text import GROUP_TAG, LAB_TAG, RULE_TAG
from crm_ports.terraform.resources import AWS_EGRESS, AWS_INGRESS, AWS_SECURITY_GROUP, Resources

FILTER_VALUES_LIMIT = 200  # EC2 caps the values of one filter
ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "AuthFailure",
        "ExpiredToken",
        "InvalidClientTokenId",
        "RequestExpired",
        "SignatureDoesNotMatch",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
    }
)
PROTOCOL_NUMBERS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}


class Ec2Client(Protocol):
    """The slice of a boto3 EC2 client the audit uses (tests may hand in their own)."""

    def get_paginator(self, operation_name: str) -> Any: ...


@dataclass(frozen=True)
class AwsTarget:
    region: str
    endpoint_url: str | None = None
    # The lab's own aws.endpoint_url: an emulator, reached with its test credentials as
    # the provider does. An endpoint given on the command line keeps the usual chain.
    emulator: bool = False

    @property
    def where(self) -> str:
        at = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"aws {self.region}{at}"

    def scope(self) -> tuple[tuple[str, str], ...]:
        return (("region", self.region), ("endpoint_url", self.endpoint_url or ""))


ClientFactory = Callable[[AwsTarget], Ec2Client]


def check_target(target: AwsTarget) -> None:
    """Refuse an unknown region or a malformed URL up front: boto3 would otherwise try
    to resolve a made-up host name and fail with a network error that hides the typo."""
    if target.endpoint_url is not None:
        url = urlparse(target.endpoint_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise InputError(
                target.where, "", "endpoint-url", "expected an http:// or https:// URL"
            )
        return
    import boto3

    session = boto3.session.Session()
    known = {
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("ec2", partition_name=partition)
    }
    if target.region not in known:
        raise InputError(
            target.where,
            "",
            "region",
            f"unknown AWS region '{target.region}' (not an EC2 region this botocore knows)",
        )


def default_client(target: AwsTarget) -> Ec2Client:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=5,
        read_timeout=30,
        retries={"max_attempts": 3, "mode": "standard"},
        user_agent_extra="crm-ports-audit",
    )
    credentials = (
        {"aws_access_key_id": emulator.ACCESS_KEY, "aws_secret_access_key": emulator.SECRET_KEY}
        if target.emulator
        else {}
    )
    client: Ec2Client = boto3.session.Session(**credentials).client(
        "ec2", region_name=target.region, endpoint_url=target.endpoint_url, config=config
    )
    return client


@contextmanager
def _translated(target: AwsTarget) -> Iterator[None]:
    """botocore's exceptions, as the one-line InputError the CLI prints with exit 2."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    def fail(message: str) -> InputError:
        return InputError(target.where, "", "", message)

    try:
        yield
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise fail(
            f"no usable AWS credentials ({exc}): set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or run where an instance or task role is available"
        ) from None
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as exc:
        raise fail(f"cannot reach EC2: {exc}") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message", "")).strip()
        if code in ACCESS_CODES:
            raise fail(
                f"access denied ({code}): {message} - the audit needs "
                "ec2:DescribeSecurityGroups and ec2:DescribeSecurityGroupRules"
            ) from None
        if code == "OptInRequired":
            raise fail(f"region not enabled for this account ({code}): {message}") from None
        raise fail(f"EC2 refused the request ({code}): {message}") from None
    except BotoCoreError as exc:
        raise fail(str(exc)) from None


def _batches(values: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def read_lab(client: Ec2Client, lab: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The lab's security groups (by tag) and every rule they hold, as EC2 returns them."""
    groups: list[dict[str, Any]] = []
    pages = client.get_paginator("describe_security_groups").paginate(
        Filters=[{"Name": f"tag:{LAB_TAG}", "Values": [lab]}]
    )
    for page in pages:
        groups.extend(page.get("SecurityGroups", []))
    ids = sorted({g["GroupId"] for g in groups})
    rules: list[dict[str, Any]] = []
    for chunk in _batches(ids, FILTER_VALUES_LIMIT):
        pages = client.get_paginator("describe_security_group_rules").paginate(
            Filters=[{"Name": "group-id", "Values": chunk}]
        )
        for page in pages:
            rules.extend(page.get("SecurityGroupRules", []))
    return groups, rules


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


def audit_aws(
    plan: AwsPlan,
    target: AwsTarget,
    client_factory: ClientFactory | None = None,
    policy: PolicyScope | None = None,
) -> AuditReport:
    """`client_factory` is the seam for tests; without it a boto3 client is built from
    the default credential chain. With `policy`, the live rules are also judged by the
    policy checks."""
    check_target(target)
    with _translated(target):
        client = (client_factory or default_client)(target)
        groups, rules = read_lab(client, plan.lab)
    if not groups:
        raise InputError(
            target.where,
            "",
            "",
            f"no such lab: no security group carries the tag {LAB_TAG}={plan.lab} "
            "(is the lab deployed in this region, and is --lab-name right?)",
        )
    return AuditReport(
        cloud="aws",
        lab=plan.lab,
        scope=target.scope(),
        checked=(("security_groups", len(plan.security_groups)), ("rules", len(plan.rules))),
        findings=compare_lab(plan, groups, rules),
        policy=(
            policy_findings(policy, f"aws-{plan.lab}", "aws", aws_live_resources(groups, rules))
            if policy is not None
            else ()
        ),
    )


# -- live rules in Terraform's shape, for the policy checks --------------------------------


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
