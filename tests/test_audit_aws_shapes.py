"""The AWS audit against EC2's answers in EC2's shape, without moto or a network.

The live side is data built here the way DescribeSecurityGroups and
DescribeSecurityGroupRules answer through boto3 (ids `sg-…`/`sgr-…`, `Tags` as
`[{"Key", "Value"}]`, `IsEgress`, `IpProtocol` "-1" with ports -1, `CidrIpv4`,
`ReferencedGroupInfo {GroupId, UserId}`), from the plan's specs and nothing of the
plan's own text for ports or peers: a clean audit shows `aws_pairing` maps EC2's fields
onto the plan. botocore's stubber validates every estate here against EC2's output
shapes, so the data cannot drift from what EC2 can answer. A small fake client answers
`read_lab`'s two filters (the lab tag, the group ids) as EC2 does, in two pages, so each
case runs the whole `audit_aws` path: reading, pairing, and (with a policy scope) the
live rules in Terraform's shape through `aws_live_resources`.

The lab is full-server with two client ranges, so a CIDR peer is split into one rule
per range that both carry the same `crm-ports:rule` tag. Each drift case is that estate
with one thing changed, and the test names the one finding it must give.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest

from crm_ports.audit.aws import AwsTarget, audit_aws
from crm_ports.audit.aws_live import aws_live_resources
from crm_ports.audit.model import AuditReport, Finding
from crm_ports.audit.policy import PolicyScope
from crm_ports.catalogue.load import load_catalogue
from crm_ports.lab.model import Lab
from crm_ports.options import Options
from crm_ports.plans.aws import AwsPlan, SgRuleSpec, plan_aws
from crm_ports.plans.text import GROUP_TAG, LAB_TAG, ROLES_TAG, RULE_TAG
from crm_ports.resolver.engine import resolve
from crm_ports.ruleset import RuleSet

LAB = "full-server"
CLIENTS = ("10.100.0.0/16", "172.16.8.0/22")
ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
VPC = "vpc-0a1b2c3d4e5f60718"
REGION = "eu-west-1"
LAB_TAGS = f"{LAB_TAG}={LAB}, crm-ports:topology={LAB}"

Ec2Object = dict[str, Any]


@cache
def ruleset() -> RuleSet:
    return resolve(load_catalogue(), Options(topology=LAB, client_cidrs=CLIENTS))


@cache
def plan() -> AwsPlan:
    return plan_aws(ruleset(), LAB)


def ec2_tags(pairs: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in pairs]


def group_id(n: int) -> str:
    return f"sg-{0x0A000 + n:017x}"


def rule_id(n: int) -> str:
    return f"sgr-{0x0B000 + n:017x}"


@dataclass
class Estate:
    """What EC2 holds for the account and region: every group and rule, of any lab."""

    groups: list[Ec2Object] = field(default_factory=list)
    rules: list[Ec2Object] = field(default_factory=list)

    def group(self, name: str) -> Ec2Object:
        return next(g for g in self.groups if g["GroupName"] == name)

    def id_of(self, group: str) -> str:
        return str(self.group(f"{LAB}-{group}")["GroupId"])

    def rule(self, key: str) -> Ec2Object:
        """The live rule the plan's `key` was applied as."""
        return next(r for r in self.rules if r.get("_key") == key)

    def add_rule(self, group: str, **kwargs: Any) -> Ec2Object:
        rule = ec2_rule(rule_id(len(self.rules) + 0x800), group, **kwargs)
        self.rules.append(rule)
        return rule

    def answers(self) -> tuple[list[Ec2Object], list[Ec2Object]]:
        """Groups and rules as boto3 returns them (without this module's bookkeeping)."""
        rules = [{k: v for k, v in r.items() if not k.startswith("_")} for r in self.rules]
        return copy.deepcopy(self.groups), rules


def ec2_group(gid: str, name: str, description: str, tags: list[dict[str, str]]) -> Ec2Object:
    """One SecurityGroup of DescribeSecurityGroups (its inline permissions left empty:
    the audit reads rules from DescribeSecurityGroupRules)."""
    return {
        "GroupId": gid,
        "GroupName": name,
        "Description": description,
        "OwnerId": ACCOUNT,
        "VpcId": VPC,
        "IpPermissions": [],
        "IpPermissionsEgress": [],
        "Tags": tags,
    }


def ec2_rule(
    rid: str,
    group: str,
    *,
    egress: bool,
    protocol: str,
    ports: tuple[int, int] | None,
    cidr: str | None = None,
    cidr6: str | None = None,
    peer: str | None = None,
    peer_account: str = ACCOUNT,
    prefix_list: str | None = None,
    description: str | None = None,
    tags: list[dict[str, str]] | None = None,
) -> Ec2Object:
    """One SecurityGroupRule of DescribeSecurityGroupRules; None leaves a key out, as
    EC2 does for a rule without a description or tags."""
    rule: Ec2Object = {
        "SecurityGroupRuleId": rid,
        "GroupId": group,
        "GroupOwnerId": ACCOUNT,
        "IsEgress": egress,
        "IpProtocol": protocol,
    }
    if ports is not None:
        rule["FromPort"], rule["ToPort"] = ports
    if cidr is not None:
        rule["CidrIpv4"] = cidr
    if cidr6 is not None:
        rule["CidrIpv6"] = cidr6
    if prefix_list is not None:
        rule["PrefixListId"] = prefix_list
    if peer is not None:
        rule["ReferencedGroupInfo"] = {"GroupId": peer, "UserId": peer_account}
    if description is not None:
        rule["Description"] = description
    if tags is not None:
        rule["Tags"] = tags
    return rule


def applied(spec: SgRuleSpec, n: int, ids: dict[str, str]) -> Ec2Object:
    """A planned rule as EC2 reports it once applied: "-1" with ports -1, a group peer
    by id, and a `Name` tag someone gave it in the console (not the plan's key)."""
    all_traffic = spec.ip_protocol == "-1"
    low, high = (-1, -1) if all_traffic else (spec.from_port, spec.to_port)
    assert low is not None and high is not None
    rule = ec2_rule(
        rule_id(n),
        ids[spec.group],
        egress=spec.direction == "egress",
        protocol=spec.ip_protocol,
        ports=(low, high),
        cidr=spec.cidr_ipv4,
        peer=ids[spec.peer_group] if spec.peer_group is not None else None,
        description=spec.description,
        tags=[*ec2_tags(spec.tags), {"Key": "Name", "Value": f"rule {n}"}],
    )
    rule["_key"] = spec.key
    return rule


def clean_estate() -> Estate:
    """The lab as applied, with people's own tags beside the lab's, and a group of
    another lab in the same account and VPC (with a rule) that the audit must not see."""
    ids = {sg.group: group_id(i) for i, sg in enumerate(plan().security_groups)}
    groups = [
        ec2_group(
            ids[sg.group],
            sg.name,
            sg.description,
            [*ec2_tags(sg.tags), {"Key": "owner", "Value": "crm-team"}],
        )
        for sg in plan().security_groups
    ]
    rules = [applied(spec, n, ids) for n, spec in enumerate(plan().rules)]
    other = group_id(0x100)
    groups.append(
        ec2_group(
            other,
            "split-roles-sql-server",
            "CRM 2013 lab split-roles, sql-server: host group; roles in tag crm-ports:roles",
            ec2_tags(((LAB_TAG, "split-roles"), (GROUP_TAG, "sql-server"))),
        )
    )
    rules.append(
        ec2_rule(
            rule_id(0x700),
            other,
            egress=False,
            protocol="tcp",
            ports=(1433, 1433),
            peer=ids["crm-full-server"],
            tags=[],
        )
    )
    return Estate(groups, rules)


class FakeEc2:
    """Answers `read_lab`'s paginated calls as EC2 does: only what the filters select
    (`tag:KEY` on the groups, `group-id` on the rules), in two pages."""

    def __init__(self, estate: Estate) -> None:
        self.groups, self.rules = estate.answers()
        self.calls: list[tuple[str, list[dict[str, Any]]]] = []

    def get_paginator(self, operation_name: str) -> FakeEc2:
        self.operation = operation_name
        return self

    def paginate(self, Filters: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        self.calls.append((self.operation, Filters))
        if self.operation == "describe_security_groups":
            key, found = "SecurityGroups", [g for g in self.groups if _selected(g, Filters)]
        else:
            key, found = "SecurityGroupRules", [r for r in self.rules if _selected(r, Filters)]
        half = len(found) // 2
        yield {key: found[:half], "NextToken": "page-2"}
        yield {key: found[half:]}


def _selected(item: Ec2Object, filters: list[dict[str, Any]]) -> bool:
    tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
    for one in filters:
        name, values = one["Name"], one["Values"]
        if name.startswith("tag:") and tags.get(name[4:]) not in values:
            return False
        if name == "group-id" and item["GroupId"] not in values:
            return False
    return True


def audit(estate: Estate, policy: PolicyScope | None = None) -> AuditReport:
    return audit_aws(
        plan(), AwsTarget(REGION), client_factory=lambda _t: FakeEc2(estate), policy=policy
    )


def findings(report: AuditReport) -> list[tuple[str, str, str]]:
    return [(f.status, f.resource, f.name) for f in report.findings]


def only_finding(estate: Estate, status: str, resource: str, name: str) -> Finding:
    report = audit(estate)
    assert findings(report) == [(status, resource, name)]
    return report.findings[0]


def changes(finding: Finding) -> list[tuple[str, str, str]]:
    return [(c.field, c.expected, c.actual) for c in finding.changes]


def rule_tags(key: str) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(spec(key).tags))


def spec(key: str) -> SgRuleSpec:
    return next(s for s in plan().rules if s.key == key)


def key_of(rule_tag: str, cidr: str | None = None) -> str:
    return next(
        s.key
        for s in plan().rules
        if dict(s.tags)[RULE_TAG] == rule_tag and (cidr is None or s.cidr_ipv4 == cidr)
    )


MS_SQL = "in_crm-full-server_sql-server_tcp_ms-sql"
WINRM = "in_administrators_crm-full-server_tcp_winrm_10_200_0_0_24"
SQL_EGRESS = "out_sql-server_all-traffic"
CLIENT_HTTP = "clients.crm-full-server.tcp.crm-http"


# The estate itself, and the clean audit.


def test_the_plan_has_what_the_cases_need() -> None:
    """Guards the premises: a CIDR peer split per range under one tag, group peers,
    all-traffic egress, a port range; if the catalogue moves, the cases must too."""
    by_tag = [dict(s.tags)[RULE_TAG] for s in plan().rules]
    assert by_tag.count(CLIENT_HTTP) == len(CLIENTS) == 2
    assert {s.cidr_ipv4 for s in plan().rules if dict(s.tags)[RULE_TAG] == CLIENT_HTTP} == set(
        CLIENTS
    )
    ms_sql = spec(MS_SQL)
    assert (ms_sql.peer_group, ms_sql.from_port, ms_sql.to_port) == ("crm-full-server", 1433, 1433)
    winrm = spec(WINRM)
    assert (winrm.from_port, winrm.to_port) == (5985, 5986)
    egress = spec(SQL_EGRESS)
    assert (egress.ip_protocol, egress.from_port, egress.cidr_ipv4) == ("-1", None, "0.0.0.0/0")


def test_the_estate_is_in_ec2s_shapes() -> None:
    """botocore's stubber checks each answer against EC2's output shapes; a key EC2
    cannot answer (or a wrong type) fails here, for the clean estate and every drift."""
    import boto3
    from botocore.stub import Stubber

    client = boto3.session.Session(region_name=REGION).client("ec2")
    stubber = Stubber(client)
    for make in [clean_estate, *DRIFTS]:
        groups, rules = make().answers()
        stubber.add_response("describe_security_groups", {"SecurityGroups": groups})
        stubber.add_response("describe_security_group_rules", {"SecurityGroupRules": rules})
    rules = clean_estate().answers()[1]
    assert {r["IpProtocol"] for r in rules} == {"-1", "tcp", "udp"}
    assert {(r["FromPort"], r["ToPort"]) for r in rules if r["IpProtocol"] == "-1"} == {(-1, -1)}
    assert any("ReferencedGroupInfo" in r for r in rules)


def test_the_clean_estate_audits_clean() -> None:
    client = FakeEc2(clean_estate())
    report = audit_aws(plan(), AwsTarget(REGION), client_factory=lambda _t: client)
    assert report.findings == ()
    assert dict(report.checked) == {"security_groups": 4, "rules": len(plan().rules)}
    [(_, groups_filter), (_, rules_filter)] = client.calls
    assert groups_filter == [{"Name": f"tag:{LAB_TAG}", "Values": [LAB]}]
    assert rules_filter == [{"Name": "group-id", "Values": [group_id(i) for i in range(4)]}]


def test_compare_lab_alone_reports_another_labs_group_it_is_handed() -> None:
    """The lab filter is `read_lab`'s (EC2's); `compare_lab` reports every group it is
    handed that the plan does not claim, which is why the filter must stay."""
    from crm_ports.audit.aws_pairing import compare_lab

    groups, rules = clean_estate().answers()
    untagged = ec2_group(group_id(0x101), "default", "default VPC security group", [])
    del untagged["Tags"]  # EC2 leaves out the key of a group without tags
    found = compare_lab(plan(), [*groups, untagged], rules)
    assert [(f.status, f.container, f.name) for f in found] == [
        ("unexpected", "default", "(no group tag)"),
        ("unexpected", "split-roles-sql-server", "sql-server"),
    ]
    assert found[1].note.endswith("holds 1 rule")


def numbered_protocols() -> Estate:
    """EC2 and SDKs also write protocols by number or in upper case: "6" for tcp, "UDP"."""
    estate = clean_estate()
    for rule in estate.rules:
        if rule["IpProtocol"] == "tcp":
            rule["IpProtocol"] = "6"
        elif rule["IpProtocol"] == "udp":
            rule["IpProtocol"] = "UDP"
    return estate


def shuffled() -> Estate:
    """EC2 promises no order: groups and rules listed last first."""
    estate = clean_estate()
    estate.groups.reverse()
    estate.rules.reverse()
    return estate


def group_description_edited() -> Estate:
    """A group created by an older crm-ports keeps its description: shown, not compared."""
    estate = clean_estate()
    estate.group(f"{LAB}-sql-server")["Description"] = "CRM 2013 lab full-server: SQL + SSRS"
    return estate


@pytest.mark.parametrize("shape", [numbered_protocols, shuffled, group_description_edited])
def test_other_shapes_of_the_same_estate_audit_clean(shape: Callable[[], Estate]) -> None:
    assert shape().answers() != clean_estate().answers()
    assert audit(shape()).findings == ()


# Groups.


def missing_group() -> Estate:
    """The SQL Server group deleted by hand, with its rules and the rule naming it as a
    peer (EC2 refuses to delete a group another group's rule references)."""
    estate = clean_estate()
    gone = estate.id_of("sql-server")
    estate.groups.remove(estate.group(f"{LAB}-sql-server"))
    estate.rules = [
        r
        for r in estate.rules
        if r["GroupId"] != gone and r.get("ReferencedGroupInfo", {}).get("GroupId") != gone
    ]
    return estate


def test_a_missing_group_folds_its_rules_into_its_finding() -> None:
    report = audit(missing_group())
    own = [s for s in plan().rules if s.group == "sql-server"]
    naming = [s.key for s in plan().rules if s.peer_group == "sql-server"]
    assert naming == ["in_sql-server_crm-full-server_tcp_crm-sdk-listener"]
    assert findings(report) == [
        ("missing", "rule", naming[0]),
        ("missing", "security-group", "sg_sql-server"),
    ]
    rule, group = report.findings
    assert rule.summary == "ingress tcp 808 from sg:sql-server"
    assert (group.container, group.live_id) == (f"{LAB}-sql-server", "")
    assert group.summary == plan().security_group("sql-server").description
    assert group.note == f"its {len(own)} planned rules not listed"


def missing_first_groups() -> Estate:
    """The domain-controller group deleted (no rule names it as a peer), and every rule
    of the lab-servers group revoked: the groups after them are still audited."""
    estate = clean_estate()
    gone, emptied = estate.id_of("domain-controller"), estate.id_of("lab-servers")
    estate.groups.remove(estate.group(f"{LAB}-domain-controller"))
    estate.rules = [r for r in estate.rules if r["GroupId"] not in (gone, emptied)]
    estate.rules.remove(estate.rule(MS_SQL))
    return estate


def test_a_missing_group_and_an_emptied_one_leave_the_others_audited() -> None:
    report = audit(missing_first_groups())
    dc = [s for s in plan().rules if s.group == "domain-controller"]
    emptied = [s.key for s in plan().rules if s.group == "lab-servers"]
    assert not any(s.peer_group == "domain-controller" for s in plan().rules)
    assert findings(report) == [
        ("missing", "security-group", "sg_domain-controller"),
        *(("missing", "rule", key) for key in sorted(emptied)),
        ("missing", "rule", MS_SQL),
    ]
    assert report.findings[0].note == f"its {len(dc)} planned rules not listed"


def stale_group() -> Estate:
    """A group an older plan of this lab made (SSRS on a host of its own), left behind
    with its one rule, and a group someone tagged for the lab without a group tag."""
    estate = clean_estate()
    ssrs = group_id(0x200)
    estate.groups.append(
        ec2_group(
            ssrs,
            f"{LAB}-ssrs",
            "CRM 2013 lab full-server, ssrs",
            ec2_tags(((LAB_TAG, LAB), (GROUP_TAG, "ssrs"), (ROLES_TAG, "reporting-services"))),
        )
    )
    estate.add_rule(
        ssrs,
        egress=False,
        protocol="tcp",
        ports=(443, 443),
        peer=estate.id_of("crm-full-server"),
        description="SSRS",
    )
    estate.groups.append(
        ec2_group(group_id(0x201), "jump-hosts", "bastion", ec2_tags(((LAB_TAG, LAB),)))
    )
    return estate


def test_a_group_with_the_lab_tag_but_not_planned_is_unexpected() -> None:
    report = audit(stale_group())
    assert findings(report) == [
        ("unexpected", "security-group", "ssrs"),
        ("unexpected", "security-group", "(no group tag)"),
    ]
    ssrs, jump = report.findings
    assert (ssrs.container, ssrs.live_id, ssrs.summary) == (
        f"{LAB}-ssrs",
        group_id(0x200),
        "CRM 2013 lab full-server, ssrs",
    )
    assert ssrs.note == f"carries {LAB_TAG}={LAB} but is not in the plan; holds 1 rule"
    assert (jump.container, jump.live_id) == ("jump-hosts", group_id(0x201))
    assert jump.note == f"carries {LAB_TAG}={LAB} but is not in the plan; holds 0 rules"


def duplicate_group() -> Estate:
    """A copy of the SQL Server group (its tags too) made later, so with a higher id,
    listed first: the lower id is the lab's, and keeps its rules."""
    estate = clean_estate()
    copied = copy.deepcopy(estate.group(f"{LAB}-sql-server"))
    copied.update(GroupId=group_id(0x300), GroupName=f"{LAB}-sql-server-copy")
    estate.groups.insert(0, copied)
    return estate


def test_of_two_groups_with_one_group_tag_the_lower_id_is_the_labs() -> None:
    finding = only_finding(duplicate_group(), "unexpected", "security-group", "sql-server")
    assert (finding.container, finding.live_id) == (f"{LAB}-sql-server-copy", group_id(0x300))
    assert finding.note.endswith("holds 0 rules")


def group_tags_drift() -> Estate:
    """The roles tag edited by hand, and people's own tags added (those are not drift)."""
    estate = clean_estate()
    group = estate.group(f"{LAB}-sql-server")
    for tag in group["Tags"]:
        if tag["Key"] == ROLES_TAG:
            tag["Value"] = "sql-server"
    group["Tags"].append({"Key": "cost-centre", "Value": "42"})
    return estate


def test_group_tag_drift_is_a_change_of_the_group() -> None:
    finding = only_finding(group_tags_drift(), "changed", "security-group", "sg_sql-server")
    sg = plan().security_group("sql-server")
    planned = ", ".join(f"{k}={v}" for k, v in sorted(sg.tags))
    assert changes(finding) == [
        ("tags", planned, planned.replace("sql-server+reporting-services", "sql-server"))
    ]
    assert (finding.container, finding.live_id) == (sg.name, group_id(3))
    assert finding.summary == sg.description


def group_renamed() -> Estate:
    """A group re-created by hand under another name, with the lab's tags copied."""
    estate = clean_estate()
    estate.group(f"{LAB}-sql-server")["GroupName"] = "sql"
    return estate


def test_a_group_under_another_name_is_a_change_of_its_name() -> None:
    finding = only_finding(group_renamed(), "changed", "security-group", "sg_sql-server")
    assert changes(finding) == [("name", f"{LAB}-sql-server", "sql")]


# Rules.


def missing_rule() -> Estate:
    estate = clean_estate()
    estate.rules.remove(estate.rule(MS_SQL))
    return estate


def test_a_revoked_rule_is_missing() -> None:
    finding = only_finding(missing_rule(), "missing", "rule", MS_SQL)
    assert (finding.container, finding.live_id, finding.summary) == (
        f"{LAB}-sql-server",
        "",
        "ingress tcp 1433 from sg:crm-full-server",
    )


def sql_opened(**peer: Any) -> Estate:
    """The clean estate with one more ingress rule on the SQL Server group: tcp 1433."""
    estate = clean_estate()
    estate.add_rule(
        estate.id_of("sql-server"), egress=False, protocol="tcp", ports=(1433, 1433), **peer
    )
    return estate


def hand_added_rule() -> Estate:
    """SQL Server opened to the Internet in the console: no tags, no description."""
    return sql_opened(cidr="0.0.0.0/0")


def test_a_hand_added_rule_is_unexpected_and_untagged() -> None:
    finding = only_finding(hand_added_rule(), "unexpected", "rule", "(untagged)")
    assert (finding.container, finding.summary, finding.live_id) == (
        f"{LAB}-sql-server",
        "ingress tcp 1433 from 0.0.0.0/0",
        hand_added_rule().rules[-1]["SecurityGroupRuleId"],
    )


def test_a_hand_added_rule_breaks_the_policy_through_aws_live_resources() -> None:
    scope = PolicyScope(Lab(name=LAB, options=ruleset().options), ruleset())
    report = audit(hand_added_rule(), policy=scope)
    added = hand_added_rule().rules[-1]["SecurityGroupRuleId"]
    subjects = {f.subject for f in report.policy}
    assert subjects == {f"aws_vpc_security_group_ingress_rule.{added}"}
    assert {f.severity for f in report.policy} == {"error"}
    assert audit(clean_estate(), policy=scope).policy == ()


def description_edited() -> Estate:
    estate = clean_estate()
    estate.rule(MS_SQL)["Description"] = "SQL for the CRM servers (ticket 4711)"
    return estate


def test_an_edited_description_is_a_change() -> None:
    finding = only_finding(description_edited(), "changed", "rule", MS_SQL)
    planned = spec(MS_SQL).description
    assert changes(finding) == [("description", planned, "SQL for the CRM servers (ticket 4711)")]
    assert finding.live_id == clean_estate().rule(MS_SQL)["SecurityGroupRuleId"]


def description_removed() -> Estate:
    """EC2 leaves `Description` out of a rule that has none."""
    estate = clean_estate()
    del estate.rule(MS_SQL)["Description"]
    return estate


def test_a_removed_description_is_a_change_to_none() -> None:
    finding = only_finding(description_removed(), "changed", "rule", MS_SQL)
    planned = spec(MS_SQL).description
    assert changes(finding) == [("description", planned, "")]


def ports_narrowed() -> Estate:
    """WinRM's range narrowed to HTTPS only, and SQL moved off 1433, in place: the
    tags still say which planned rules they were."""
    estate = clean_estate()
    estate.rule(WINRM).update(FromPort=5986, ToPort=5986)
    estate.rule(MS_SQL).update(FromPort=1433, ToPort=1434)
    return estate


def test_changed_ports_pair_by_the_rule_tag() -> None:
    report = audit(ports_narrowed())
    assert findings(report) == [("changed", "rule", WINRM), ("changed", "rule", MS_SQL)]
    winrm, sql = report.findings
    assert changes(winrm) == [("ports", "5985-5986", "5986")]
    assert changes(sql) == [("ports", "1433", "1433-1434")]
    assert sql.summary == "ingress tcp 1433 from sg:crm-full-server"


def untagged_copy() -> Estate:
    """A planned rule re-created by hand with the same content but no tags (EC2 then
    answers `Tags: []`): paired by content, its tags are the change."""
    estate = clean_estate()
    estate.rule(MS_SQL)["Tags"] = []
    return estate


def untagged_without_tags_key() -> Estate:
    estate = clean_estate()
    del estate.rule(MS_SQL)["Tags"]
    return estate


@pytest.mark.parametrize("shape", [untagged_copy, untagged_without_tags_key])
def test_an_untagged_rule_of_the_plans_content_is_a_tag_change(
    shape: Callable[[], Estate],
) -> None:
    finding = only_finding(shape(), "changed", "rule", MS_SQL)
    assert changes(finding) == [("tags", rule_tags(MS_SQL), "")]


def peer_group_swapped() -> Estate:
    """SQL opened to every lab server instead of the CRM server, in place."""
    estate = clean_estate()
    estate.rule(MS_SQL)["ReferencedGroupInfo"]["GroupId"] = estate.id_of("lab-servers")
    return estate


def test_a_rule_referencing_another_lab_group_names_it() -> None:
    finding = only_finding(peer_group_swapped(), "changed", "rule", MS_SQL)
    assert changes(finding) == [("peer", "sg:crm-full-server", "sg:lab-servers")]


def foreign_peer() -> Estate:
    """A rule referencing a group of another account (peered VPC): not the lab's, so
    named by its id."""
    return sql_opened(
        peer="sg-0ffee0000000000aa",
        peer_account=OTHER_ACCOUNT,
        description="reporting vendor",
        tags=[],
    )


def test_a_rule_referencing_a_group_outside_the_lab_keeps_its_id() -> None:
    finding = only_finding(foreign_peer(), "unexpected", "rule", "(untagged)")
    assert finding.summary == "ingress tcp 1433 from sg:sg-0ffee0000000000aa"


def egress_narrowed() -> Estate:
    """The all-traffic egress ("-1", ports -1) narrowed to HTTPS in place."""
    estate = clean_estate()
    estate.rule(SQL_EGRESS).update(IpProtocol="tcp", FromPort=443, ToPort=443)
    return estate


def test_all_traffic_narrowed_is_a_change_of_protocol_and_ports() -> None:
    finding = only_finding(egress_narrowed(), "changed", "rule", SQL_EGRESS)
    assert changes(finding) == [("protocol", "-1", "tcp"), ("ports", "all", "443")]
    assert finding.summary == "egress all traffic to 0.0.0.0/0"


def cidr_replaced() -> Estate:
    """One of the two client ranges of a CIDR-split rule replaced by hand."""
    estate = clean_estate()
    estate.rule(key_of(CLIENT_HTTP, CLIENTS[1]))["CidrIpv4"] = "172.16.0.0/16"
    return estate


def test_a_cidr_split_rule_changes_only_where_its_range_moved() -> None:
    """Both rules carry one tag: the untouched range pairs by content, so the tag pairs
    the moved one with the range it replaced."""
    finding = only_finding(cidr_replaced(), "changed", "rule", key_of(CLIENT_HTTP, CLIENTS[1]))
    assert changes(finding) == [("peer", CLIENTS[1], "172.16.0.0/16")]


def cidr_missing() -> Estate:
    estate = clean_estate()
    estate.rules.remove(estate.rule(key_of(CLIENT_HTTP, CLIENTS[0])))
    return estate


def test_one_range_of_a_cidr_split_rule_revoked_is_missing() -> None:
    finding = only_finding(cidr_missing(), "missing", "rule", key_of(CLIENT_HTTP, CLIENTS[0]))
    assert finding.summary == f"ingress tcp 80 from {CLIENTS[0]}"


def tag_copied_to_egress() -> Estate:
    """The SQL rule cloned as an egress rule with its tags, and the ingress revoked:
    the tag pairs rules of one direction only."""
    estate = clean_estate()
    rule = estate.rule(MS_SQL)
    rule["IsEgress"] = True
    return estate


def test_a_rule_tag_on_the_other_direction_does_not_pair() -> None:
    report = audit(tag_copied_to_egress())
    tag = dict(spec(MS_SQL).tags)[RULE_TAG]
    assert findings(report) == [("unexpected", "rule", tag), ("missing", "rule", MS_SQL)]
    assert report.findings[0].summary == "egress tcp 1433 to sg:crm-full-server"


def other_peers() -> Estate:
    """Rules to an IPv6 range and to a prefix list, and with other protocols: ICMP (all
    types), ESP by number (no ports), and, defensively, a port range missing one end."""
    estate = clean_estate()
    sql = estate.id_of("sql-server")
    estate.add_rule(sql, egress=False, protocol="tcp", ports=(443, 443), cidr6="::/0", tags=[])
    estate.add_rule(sql, egress=True, protocol="tcp", ports=(443, 443), prefix_list="pl-6da54004")
    estate.add_rule(sql, egress=False, protocol="icmp", ports=(-1, -1), cidr="10.0.0.0/8")
    estate.add_rule(sql, egress=False, protocol="50", ports=None, cidr="10.0.0.0/8")
    half = estate.add_rule(sql, egress=False, protocol="17", ports=None, cidr="10.1.0.0/16")
    half["FromPort"] = 500
    other_half = estate.add_rule(sql, egress=False, protocol="17", ports=None, cidr="10.2.0.0/16")
    other_half["ToPort"] = 500
    return estate


def test_other_peers_and_protocols_are_summarised_as_ec2_holds_them() -> None:
    report = audit(other_peers())
    assert {f.status for f in report.findings} == {"unexpected"}
    assert sorted(f.summary for f in report.findings) == [
        "egress tcp 443 to pl:pl-6da54004",
        "ingress 50  from 10.0.0.0/8",
        "ingress icmp -1 from 10.0.0.0/8",
        "ingress tcp 443 from ::/0",
        "ingress udp  from 10.1.0.0/16",
        "ingress udp  from 10.2.0.0/16",
    ]


DRIFTS: list[Callable[[], Estate]] = [
    numbered_protocols,
    shuffled,
    group_description_edited,
    missing_group,
    missing_first_groups,
    stale_group,
    duplicate_group,
    group_tags_drift,
    group_renamed,
    missing_rule,
    hand_added_rule,
    description_edited,
    description_removed,
    ports_narrowed,
    untagged_copy,
    untagged_without_tags_key,
    peer_group_swapped,
    foreign_peer,
    egress_narrowed,
    cidr_replaced,
    cidr_missing,
    tag_copied_to_egress,
    other_peers,
]


# The live side in Terraform's shape, for the policy checks.


def test_aws_live_resources_reads_ec2s_fields() -> None:
    estate = clean_estate()
    sql = estate.id_of("sql-server")
    numbered = ec2_rule(
        "sgr-1", sql, egress=True, protocol="6", ports=(443, 443), cidr6="::/0", tags=[]
    )
    resources = aws_live_resources(
        [estate.group(f"{LAB}-sql-server")], [numbered, estate.rule(MS_SQL)]
    )
    rule = estate.rule(MS_SQL)
    assert list(resources) == [
        f"aws_security_group.{sql}",
        f"aws_vpc_security_group_egress_rule.{numbered['SecurityGroupRuleId']}",
        f"aws_vpc_security_group_ingress_rule.{rule['SecurityGroupRuleId']}",
    ]
    group = resources[f"aws_security_group.{sql}"]
    assert group["name"] == f"{LAB}-sql-server"
    assert group["tags"][GROUP_TAG] == "sql-server"
    assert resources["aws_vpc_security_group_egress_rule.sgr-1"] == {
        "security_group_id": f"${{aws_security_group.{sql}.id}}",
        "ip_protocol": "tcp",
        "from_port": 443,
        "to_port": 443,
        "cidr_ipv6": "::/0",
        "description": "",
        "tags": {},
    }
    ingress = resources[f"aws_vpc_security_group_ingress_rule.{rule['SecurityGroupRuleId']}"]
    assert ingress["referenced_security_group_id"] == estate.id_of("crm-full-server")
    assert ingress["tags"][RULE_TAG] == dict(spec(MS_SQL).tags)[RULE_TAG]
    assert "cidr_ipv4" not in ingress
