"""`crm-ports audit aws` against a moto server: a lab built from its plan with boto3 is
clean; revoking, adding and editing rules is reported once each; access problems end in
one line and exit 2."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.stub import Stubber

from crm_ports.audit.aws import AwsTarget, audit_aws
from crm_ports.catalogue.load import load_catalogue
from crm_ports.lab.file import load_lab
from crm_ports.options import Options
from crm_ports.plans.aws import AwsPlan, plan_aws
from crm_ports.resolver.engine import resolve
from tests.conftest import REPO, Result

if TYPE_CHECKING:  # the plugin below imports it, so that pytest rewrites its asserts
    from tests.moto_server import MotoServer, StartMoto


pytestmark = pytest.mark.slow

CONTOSO = REPO / "labs" / "contoso-claims.yaml"
Cli = Callable[..., Result]


def default_plan(topology: str = "full-server") -> AwsPlan:
    return plan_aws(resolve(load_catalogue(), Options(topology=topology)), topology)


def _tags(pairs: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in pairs]


def apply_plan_with_boto3(ec2: Any, plan: AwsPlan, vpc_id: str) -> dict[str, str]:
    """Create the plan's groups and rules the way the Terraform stack does (tagged groups
    without AWS's default egress rule, one tagged rule per spec); returns key -> live id
    for groups (by group name) and rules (by plan key)."""
    ids: dict[str, str] = {}
    for sg in plan.security_groups:
        ids[sg.group] = ec2.create_security_group(
            GroupName=sg.name,
            Description=sg.description,
            VpcId=vpc_id,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": _tags(sg.tags)}],
        )["GroupId"]
        ec2.revoke_security_group_egress(
            GroupId=ids[sg.group],
            IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        )
    for spec in plan.rules:
        permission: dict[str, Any] = {"IpProtocol": spec.ip_protocol}
        if spec.from_port is not None:
            permission.update(FromPort=spec.from_port, ToPort=spec.to_port)
        if spec.peer_group is not None:
            pair = {"GroupId": ids[spec.peer_group], "Description": spec.description}
            permission["UserIdGroupPairs"] = [pair]
        else:
            permission["IpRanges"] = [{"CidrIp": spec.cidr_ipv4, "Description": spec.description}]
        authorize = (
            ec2.authorize_security_group_ingress
            if spec.direction == "ingress"
            else ec2.authorize_security_group_egress
        )
        created = authorize(
            GroupId=ids[spec.group],
            IpPermissions=[permission],
            TagSpecifications=[{"ResourceType": "security-group-rule", "Tags": _tags(spec.tags)}],
        )["SecurityGroupRules"]
        ids[spec.key] = created[0]["SecurityGroupRuleId"]
        if spec.peer_group is not None:
            # moto 5.2.5 drops the description of a rule that references a group from
            # DescribeSecurityGroupRules until ModifySecurityGroupRules sets it again
            # (a second `terraform apply` does the same); AWS keeps it from the start.
            ec2.modify_security_group_rules(
                GroupId=ids[spec.group],
                SecurityGroupRules=[
                    {
                        "SecurityGroupRuleId": ids[spec.key],
                        "SecurityGroupRule": {
                            "IpProtocol": spec.ip_protocol,
                            "FromPort": -1 if spec.from_port is None else spec.from_port,
                            "ToPort": -1 if spec.to_port is None else spec.to_port,
                            "ReferencedGroupId": ids[spec.peer_group],
                            "Description": spec.description,
                        },
                    }
                ],
            )
    return ids


def open_rdp_to_the_world(ec2: Any, group_id: str) -> str:
    """The hand-made rule every audit should catch: RDP from anywhere, no tags."""
    rules = ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 3389,
                "ToPort": 3389,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )["SecurityGroupRules"]
    rule_id: str = rules[0]["SecurityGroupRuleId"]
    return rule_id


@pytest.fixture
def lab(moto_server: MotoServer, aws_env: None) -> tuple[MotoServer, Any, dict[str, str]]:
    """The default full-server lab, applied to an empty moto from its plan."""
    ec2 = moto_server.ec2()
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    return moto_server, ec2, apply_plan_with_boto3(ec2, default_plan(), vpc)


def audit_json(cli: Cli, url: str, *args: str) -> tuple[int, dict[str, Any]]:
    result = cli("audit", "aws", "--endpoint-url", url, "--format", "json", *args)
    assert result.err == "", result.err
    report: dict[str, Any] = json.loads(result.out)
    return result.code, report


def test_lab_applied_from_its_plan_is_clean(cli: Cli, lab: tuple[MotoServer, Any, Any]) -> None:
    server, _, _ = lab
    result = cli("audit", "aws", "--topology", "full-server", "--endpoint-url", server.url)
    assert (result.code, result.err) == (0, "")
    assert "no drift" in result.out
    code, report = audit_json(cli, server.url, "--topology", "full-server")
    assert code == 0
    assert report["findings"] == []
    assert report["checked"] == {"security_groups": 4, "rules": len(default_plan().rules)}
    assert report["policy"] == {
        "counts": {"errors": 0, "warnings": 0, "waived": 0},
        "findings": [],
    }


def test_revoked_and_hand_added_rules_are_each_reported_once(
    cli: Cli, lab: tuple[MotoServer, Any, dict[str, str]]
) -> None:
    server, ec2, ids = lab
    plan = default_plan()
    revoked = next(r for r in plan.rules if r.peer_group and r.direction == "ingress")
    ec2.revoke_security_group_ingress(
        GroupId=ids[revoked.group], SecurityGroupRuleIds=[ids[revoked.key]]
    )
    target = plan.security_groups[0]
    added = open_rdp_to_the_world(ec2, ids[target.group])

    code, report = audit_json(cli, server.url, "--topology", "full-server")

    assert code == 1
    assert report["counts"] == {"missing": 1, "unexpected": 1, "changed": 0}
    missing, unexpected = sorted(report["findings"], key=lambda f: f["status"])
    assert (missing["status"], missing["resource"], missing["name"]) == (
        "missing",
        "rule",
        revoked.key,
    )
    assert missing["container"] == plan.security_group(revoked.group).name
    assert unexpected["status"] == "unexpected"
    assert (unexpected["live_id"], unexpected["name"]) == (added, "(untagged)")
    assert unexpected["container"] == target.name
    assert unexpected["summary"] == "ingress tcp 3389 from 0.0.0.0/0"
    # and it breaks CRM001 (and CRM006: no description): reported with id and severity
    policy, undescribed = report["policy"]["findings"]
    assert (policy["check"], policy["severity"]) == ("CRM001", "error")
    assert policy["subject"] == f"aws_vpc_security_group_ingress_rule.{added}"
    assert "source 0.0.0.0/0 reaches administrative port(s) 3389" in policy["message"]
    assert (undescribed["check"], undescribed["subject"]) == ("CRM006", policy["subject"])
    assert report["policy"]["counts"] == {"errors": 2, "warnings": 0, "waived": 0}


def test_edited_rule_is_reported_as_changed_by_its_tag(
    cli: Cli, lab: tuple[MotoServer, Any, dict[str, str]]
) -> None:
    server, ec2, ids = lab
    spec = next(r for r in default_plan().rules if r.cidr_ipv4 and r.from_port == 3389)
    ec2.modify_security_group_rules(
        GroupId=ids[spec.group],
        SecurityGroupRules=[
            {
                "SecurityGroupRuleId": ids[spec.key],
                "SecurityGroupRule": {
                    "IpProtocol": "tcp",
                    "FromPort": 3388,
                    "ToPort": 3390,
                    "CidrIpv4": spec.cidr_ipv4,
                    "Description": "opened by hand",
                },
            }
        ],
    )

    code, report = audit_json(cli, server.url, "--topology", "full-server")

    assert code == 1
    [finding] = report["findings"]
    assert (finding["status"], finding["name"], finding["live_id"]) == (
        "changed",
        spec.key,
        ids[spec.key],
    )
    assert finding["changes"] == [
        {"field": "ports", "expected": "3389", "actual": "3388-3390"},
        {"field": "description", "expected": spec.description, "actual": "opened by hand"},
    ]


def test_untagged_copy_of_a_planned_rule_is_a_tag_change(
    cli: Cli, lab: tuple[MotoServer, Any, dict[str, str]]
) -> None:
    """Content pairs first: a rule re-created by hand still allows what the plan says,
    so it is one changed rule (its tags), not one missing plus one unexpected."""
    server, ec2, ids = lab
    spec = next(r for r in default_plan().rules if r.cidr_ipv4 and r.direction == "ingress")
    ec2.revoke_security_group_ingress(GroupId=ids[spec.group], SecurityGroupRuleIds=[ids[spec.key]])
    ec2.authorize_security_group_ingress(
        GroupId=ids[spec.group],
        IpPermissions=[
            {
                "IpProtocol": spec.ip_protocol,
                "FromPort": spec.from_port,
                "ToPort": spec.to_port,
                "IpRanges": [{"CidrIp": spec.cidr_ipv4, "Description": spec.description}],
            }
        ],
    )

    code, report = audit_json(cli, server.url, "--topology", "full-server")

    assert code == 1
    [finding] = report["findings"]
    assert (finding["status"], finding["name"]) == ("changed", spec.key)
    assert [c["field"] for c in finding["changes"]] == ["tags"]
    assert finding["changes"][0]["actual"] == ""


def test_missing_and_stray_groups(cli: Cli, lab: tuple[MotoServer, Any, dict[str, str]]) -> None:
    server, ec2, ids = lab
    plan = default_plan()
    referenced = Counter(r.peer_group for r in plan.rules if r.peer_group != r.group)
    gone = min(
        (sg for sg in plan.security_groups if referenced[sg.group]),
        key=lambda sg: (referenced[sg.group], sg.group),
    )
    for spec in plan.rules:  # what references the group must go before the group can
        if spec.peer_group == gone.group:
            ec2.revoke_security_group_ingress(
                GroupId=ids[spec.group], SecurityGroupRuleIds=[ids[spec.key]]
            )
    ec2.delete_security_group(GroupId=ids[gone.group])
    stray = ec2.create_security_group(
        GroupName="full-server-old",
        Description="left over",
        VpcId=ec2.describe_vpcs()["Vpcs"][-1]["VpcId"],
        TagSpecifications=[
            {
                "ResourceType": "security-group",
                "Tags": [{"Key": "crm-ports:lab", "Value": "full-server"}],
            }
        ],
    )["GroupId"]

    code, report = audit_json(cli, server.url, "--topology", "full-server", "--fail-on", "never")

    assert code == 0  # --fail-on never: report only
    groups = [f for f in report["findings"] if f["resource"] == "security-group"]
    assert {(f["status"], f["container"], f["live_id"]) for f in groups} == {
        ("missing", gone.name, ""),
        ("unexpected", "full-server-old", stray),
    }
    own = sum(1 for spec in plan.rules if spec.group == gone.group)
    assert next(f for f in groups if f["status"] == "missing")["note"] == (
        f"its {own} planned rules not listed"
    )
    # Rules elsewhere that reference the missing group are missing one by one.
    rules = [f for f in report["findings"] if f["resource"] == "rule"]
    referencing = sorted(s.key for s in plan.rules if s.peer_group == gone.group)
    assert sorted(f["name"] for f in rules) == referencing
    assert {f["status"] for f in rules} == {"missing"}


def test_strict_egress_lab_from_a_lab_file_is_clean(
    cli: Cli, moto_server: MotoServer, aws_env: None
) -> None:
    lab = load_lab(CONTOSO)
    plan = plan_aws(resolve(load_catalogue(), lab.options), lab.name, egress=lab.aws.egress)
    assert any(r.direction == "egress" and r.peer_group for r in plan.rules)
    ec2 = moto_server.ec2(lab.aws.region)
    vpc = ec2.create_vpc(CidrBlock=lab.aws.vpc_cidr)["Vpc"]["VpcId"]
    apply_plan_with_boto3(ec2, plan, vpc)

    code, report = audit_json(cli, moto_server.url, "--lab", str(CONTOSO))

    assert (code, report["findings"]) == (0, [])
    assert report["lab"] == "contoso-claims"
    assert report["scope"]["region"] == "eu-west-1"


def test_table_and_markdown_name_each_finding(
    cli: Cli, lab: tuple[MotoServer, Any, dict[str, str]]
) -> None:
    server, ec2, ids = lab
    spec = default_plan().rules[0]
    ec2.revoke_security_group_ingress(GroupId=ids[spec.group], SecurityGroupRuleIds=[ids[spec.key]])
    table = cli("audit", "aws", "--topology", "full-server", "--endpoint-url", server.url)
    markdown = cli(
        "audit", "aws", "--topology", "full-server", "--endpoint-url", server.url,
        "--format", "markdown",
    )  # fmt: skip
    assert (table.code, markdown.code) == (1, 1)
    assert "drift: 1 missing, 0 unexpected, 0 changed." in table.out
    assert spec.key in table.out.replace("\n", "")
    [row] = [line for line in markdown.out.splitlines() if line.startswith("| missing")]
    assert spec.key in row and default_plan().security_group(spec.group).name in row


# Exit 2: one line on stderr, nothing on stdout, no traceback.


def assert_one_line_error(result: Result, *needles: str) -> None:
    assert result.code == 2, result
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("crm-ports: error: "), result.err
    for needle in needles:
        assert needle in lines[0]


def test_no_credentials(cli: Cli, moto_server: MotoServer, aws_env: None, monkeypatch: Any) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = cli("audit", "aws", "--endpoint-url", moto_server.url)
    assert_one_line_error(result, "no usable AWS credentials", moto_server.url)


def test_no_such_lab(cli: Cli, moto_server: MotoServer, aws_env: None) -> None:
    result = cli("audit", "aws", "--lab-name", "nobody", "--endpoint-url", moto_server.url)
    assert_one_line_error(result, "no such lab", "crm-ports:lab=nobody")


def test_unreachable_endpoint_is_one_line(cli: Cli, aws_env: None) -> None:
    """(How long the retries take is the client's configuration, not asserted on the
    clock: a busy machine must not fail this.)"""
    import socket

    with socket.socket() as sock:  # a port nobody listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        result = cli("audit", "aws", "--endpoint-url", url)
    assert_one_line_error(
        result, f'cannot reach EC2: Could not connect to the endpoint URL: "{url}/"'
    )


def test_unknown_region_and_bad_url(cli: Cli, aws_env: None) -> None:
    assert_one_line_error(cli("audit", "aws", "--region", "mars-north-1"), "unknown AWS region")
    assert_one_line_error(
        cli("audit", "aws", "--endpoint-url", "localhost:5000"), "http:// or https://"
    )


def test_a_region_an_emulator_does_not_serve_is_one_line(
    cli: Cli, moto_server: MotoServer, aws_env: None, tmp_path: Path
) -> None:
    """A region typo in a lab aimed at moto: moto answers with an HTML error page, which
    botocore cannot parse (`ResponseParserError`), and the audit printed that traceback,
    exit 1. Now one line naming the region and the endpoint, exit 2."""
    lab = tmp_path / "lab.yaml"
    lab.write_text(
        "name: typo\nclouds: [aws]\ntopology: full-server\n"
        f"aws: {{region: eu-wset-1, endpoint_url: '{moto_server.url}'}}\n"
    )
    assert_one_line_error(
        cli("audit", "aws", "--lab", str(lab)),
        f"aws eu-wset-1 at {moto_server.url}",
        "region 'eu-wset-1' is not an AWS region",
        "check aws.region",
    )
    result = cli("audit", "aws", "--endpoint-url", moto_server.url, "--region", "eu-wset-1")
    assert_one_line_error(result, "region 'eu-wset-1'", moto_server.url)


def test_a_rule_added_by_hand_gets_a_fix_in_the_cloud_or_the_lab(
    cli: Cli, lab: tuple[MotoServer, Any, dict[str, str]]
) -> None:
    """CRM006 told the owner of a hand-made live rule to add `cites:` to the catalogue;
    the rule is fixed in the cloud, or taken into the lab with its reason."""
    server, ec2, ids = lab
    open_rdp_to_the_world(ec2, ids[default_plan().security_groups[0].group])
    _, report = audit_json(cli, server.url, "--topology", "full-server")
    crm006 = [f for f in report["policy"]["findings"] if f["check"] == "CRM006"]
    assert len(crm006) == 1, report["policy"]
    assert "catalogue" not in crm006[0]["fix"]
    assert "Remove the rule in the cloud" in crm006[0]["fix"]
    assert "`extra_rules:` with its reason" in crm006[0]["fix"]


@pytest.fixture(scope="module")
def moto_with_iam(start_moto: StartMoto) -> Iterator[MotoServer]:
    """A moto that checks credentials like AWS (its first two calls are free: they
    create the user whose key the test then uses)."""
    with start_moto(extra_env={"INITIAL_NO_AUTH_ACTION_COUNT": "2"}) as server:
        yield server


def test_access_denied(
    cli: Cli, moto_with_iam: MotoServer, aws_env: None, monkeypatch: Any
) -> None:
    import boto3

    iam = boto3.client(
        "iam",
        region_name="us-east-1",
        endpoint_url=moto_with_iam.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    iam.create_user(UserName="auditor")
    key = iam.create_access_key(UserName="auditor")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    result = cli("audit", "aws", "--endpoint-url", moto_with_iam.url)
    assert_one_line_error(result, "access denied (AccessDenied)", "ec2:DescribeSecurityGroups")

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN000000000")
    result = cli("audit", "aws", "--endpoint-url", moto_with_iam.url)
    assert_one_line_error(result, "access denied (AuthFailure)")


@pytest.mark.parametrize("code", ["UnauthorizedOperation", "AuthFailure"])
def test_access_error_codes_of_real_ec2(code: str, aws_env: None) -> None:
    """What AWS itself answers (moto says AccessDenied), through botocore's own stubber."""
    import boto3

    from crm_ports.errors import InputError

    client = boto3.session.Session(region_name="eu-west-1").client("ec2")
    stubber = Stubber(client)
    stubber.add_client_error("describe_security_groups", code, "You are not authorized", 403)
    with stubber, pytest.raises(InputError) as caught:
        audit_aws(default_plan(), AwsTarget("eu-west-1"), client_factory=lambda _t: client)
    assert f"access denied ({code})" in str(caught.value)
    assert "\n" not in str(caught.value)


def described_groups(plan: AwsPlan, first: int = 0) -> list[dict[str, Any]]:
    """The plan's groups as DescribeSecurityGroups answers for them, their ids numbered
    from `first`."""
    return [
        {
            "GroupId": f"sg-{first + i:017x}",
            "GroupName": sg.name,
            "Description": sg.description,
            "Tags": _tags(sg.tags),
        }
        for i, sg in enumerate(plan.security_groups)
    ]


def test_client_factory_seam_reads_through_pagination(aws_env: None) -> None:
    """Two pages of groups and of rules: everything on both pages is compared."""
    import boto3

    plan = default_plan()
    client = boto3.session.Session(region_name="eu-west-1").client("ec2")
    stubber = Stubber(client)
    groups = described_groups(plan)
    stubber.add_response(
        "describe_security_groups", {"SecurityGroups": groups[:2], "NextToken": "t"}
    )
    stubber.add_response("describe_security_groups", {"SecurityGroups": groups[2:]})
    stubber.add_response(
        "describe_security_group_rules", {"SecurityGroupRules": [], "NextToken": "u"}
    )
    stubber.add_response("describe_security_group_rules", {"SecurityGroupRules": []})
    with stubber:
        report = audit_aws(plan, AwsTarget("eu-west-1"), client_factory=lambda _t: client)
    stubber.assert_no_pending_responses()
    assert {f.resource for f in report.findings} == {"rule"}
    assert len(report.findings) == len(plan.rules)
    assert {f.status for f in report.findings} == {"missing"}


def test_policy_error_in_live_rules_sets_the_exit_code(
    cli: Cli, lab: tuple[MotoServer, Any, dict[str, str]], tmp_path: Path
) -> None:
    """Drift and policy both found; --fail-on never only reports; a waiver in the lab
    file covers the finding, which the report then repeats."""
    server, ec2, ids = lab
    plan = default_plan()
    open_rdp_to_the_world(ec2, ids[plan.security_groups[0].group])
    table = cli("audit", "aws", "--topology", "full-server", "--endpoint-url", server.url)
    assert table.code == 1
    assert "Policy: 2 error(s), 0 warning(s), 0 waived in the live rules." in table.out
    assert "CRM001" in table.out and "error" in table.out
    never = cli(
        "audit",
        "aws",
        "--topology",
        "full-server",
        "--endpoint-url",
        server.url,
        "--fail-on",
        "never",
        "--format",
        "markdown",
    )
    assert never.code == 0 and "| CRM001 | error |" in never.out
    waived = tmp_path / "lab.yaml"
    waived.write_text(
        "name: jump-lab\ntopology: full-server\nwaivers:\n"
        "  - {check: CRM001, reason: the jump host of this lab}\n"
        "  - {check: CRM006, reason: opened by hand for a test}\n"
    )
    # Lab files may not take a default lab's name: the deployed one is given apart.
    code, report = audit_json(cli, server.url, "--lab", str(waived), "--lab-name", "full-server")
    assert report["policy"]["counts"] == {"errors": 0, "warnings": 0, "waived": 2}
    assert report["policy"]["findings"][0]["waived"] == "the jump host of this lab"
    assert code == 1  # the rule is still drift


def test_a_group_keeps_the_description_it_was_deployed_with(aws_env: None) -> None:
    """A group created by an older crm-ports, whose description listed its roles: the
    stacks leave a description as deployed (EC2 cannot change one), so it is no drift."""
    import boto3

    plan = default_plan()
    client = boto3.session.Session(region_name="eu-west-1").client("ec2")
    stubber = Stubber(client)
    groups = [
        {
            "GroupId": f"sg-{i:017x}",
            "GroupName": sg.name,
            "Description": f"CRM 2013 lab full-server (full-server), {sg.group}: roles: x y z",
            "Tags": _tags(sg.tags),
        }
        for i, sg in enumerate(plan.security_groups)
    ]
    stubber.add_response("describe_security_groups", {"SecurityGroups": groups})
    stubber.add_response("describe_security_group_rules", {"SecurityGroupRules": []})
    with stubber:
        report = audit_aws(plan, AwsTarget("eu-west-1"), client_factory=lambda _t: client)
    assert groups[0]["Description"] != plan.security_groups[0].description
    assert [f for f in report.findings if f.resource != "rule"] == []
    assert {f.status for f in report.findings} == {"missing"}  # the rules, not listed


def test_a_live_policy_error_without_drift_sets_the_exit_code(
    cli: Cli, moto_server: MotoServer, aws_env: None, tmp_path: Path
) -> None:
    """The documented "exit 1 on a live policy error", on its own: the lab is deployed
    exactly as planned (no drift), but its plan opens RDP to the internet (admin_cidrs
    0.0.0.0/0), so the live rules break CRM001. Every other policy test is also drift,
    which hid a command that exited 0 here."""
    options = Options(topology="full-server", admin_cidrs=("0.0.0.0/0",))
    plan = plan_aws(resolve(load_catalogue(), options), "full-server")
    ec2 = moto_server.ec2()
    apply_plan_with_boto3(ec2, plan, ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"])
    args = ("--topology", "full-server", "--admin-cidr", "0.0.0.0/0")

    code, report = audit_json(cli, moto_server.url, *args)

    assert report["findings"] == [] and report["counts"] == {
        "missing": 0,
        "unexpected": 0,
        "changed": 0,
    }
    assert {f["check"] for f in report["policy"]["findings"]} == {"CRM001"}
    assert report["policy"]["counts"]["errors"] >= 1
    assert code == 1
    table = cli("audit", "aws", *args, "--endpoint-url", moto_server.url)
    assert (table.code, table.err) == (1, "")
    assert "no drift" in table.out and "CRM001" in table.out
    never = cli("audit", "aws", *args, "--endpoint-url", moto_server.url, "--fail-on", "never")
    assert (never.code, never.err) == (0, "")


def test_the_report_goes_to_the_file_output_names(
    cli: Cli, lab: tuple[MotoServer, Any, dict[str, str]], tmp_path: Path
) -> None:
    """`-o FILE`: the report in the file, nothing on standard output, the exit status of
    the audit; and FILE replaced whole on a second run."""
    server, ec2, ids = lab
    report_file = tmp_path / "audit.json"
    args = ("--topology", "full-server", "--endpoint-url", server.url, "--format", "json")
    clean = cli("audit", "aws", *args, "-o", str(report_file))
    assert (clean.code, clean.out, clean.err) == (0, "", "")
    assert json.loads(report_file.read_text())["findings"] == []

    open_rdp_to_the_world(ec2, ids[default_plan().security_groups[0].group])
    drift = cli("audit", "aws", *args, "-o", str(report_file))
    assert (drift.code, drift.out, drift.err) == (1, "", "")
    assert json.loads(report_file.read_text())["counts"]["unexpected"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.json"]

    # A file the file system refuses (its scratch file's name is too long): one line, exit
    # 2 after the audit, and nothing left behind.
    refused = cli("audit", "aws", *args, "-o", str(tmp_path / ("r" * 255)))
    assert (refused.code, refused.out) == (2, "")
    assert refused.err.startswith("crm-ports: error: ") and refused.err.count("\n") == 1
    assert "field '--output': cannot write: File name too long" in refused.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.json"]


# EC2's other answers, through botocore's own stubber behind the command line (the client
# the audit builds is replaced; everything after it is the command's).


def stubbed_ec2(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    """An EC2 client for eu-west-1 whose answers the test queues, used by `audit aws`."""
    import boto3

    from crm_ports.audit import aws as audit_module

    client = boto3.session.Session(region_name="eu-west-1").client("ec2")
    monkeypatch.setattr(audit_module, "default_client", lambda _target: client)
    return Stubber(client)


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (
            "OptInRequired",
            "You are not subscribed to this service.",
            "region not enabled for this account (OptInRequired): You are not subscribed",
        ),
        (
            "RequestLimitExceeded",
            "Request limit exceeded.",
            "EC2 refused the request (RequestLimitExceeded): Request limit exceeded.",
        ),
        (
            "InvalidParameterValue",
            "The filter 'tag:crm-ports:lab' is invalid",
            "EC2 refused the request (InvalidParameterValue): The filter",
        ),
    ],
)
def test_other_ec2_errors_are_one_line(
    cli: Cli,
    aws_env: None,
    monkeypatch: pytest.MonkeyPatch,
    code: str,
    message: str,
    expected: str,
) -> None:
    stubber = stubbed_ec2(monkeypatch)
    stubber.add_client_error("describe_security_groups", code, message, 400)
    with stubber:
        result = cli("audit", "aws", "--region", "eu-west-1")
    assert_one_line_error(result, "aws eu-west-1", expected)


def test_an_error_of_botocore_itself_is_one_line(
    cli: Cli, aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A BotoCoreError that is neither credentials nor an unreachable endpoint: the proxy
    the environment names refuses the connection (a port bound, never listening), so
    nothing leaves the machine."""
    import socket

    from botocore.exceptions import EndpointConnectionError, ProxyConnectionError

    assert not issubclass(ProxyConnectionError, EndpointConnectionError)  # the last branch
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{sock.getsockname()[1]}"
        monkeypatch.setenv("HTTPS_PROXY", proxy)
        monkeypatch.setenv("https_proxy", proxy)
        result = cli("audit", "aws", "--region", "eu-west-1")
    assert_one_line_error(result, "aws eu-west-1", "Failed to connect to proxy URL", proxy)


def test_more_groups_than_one_filter_takes_are_read_in_batches(aws_env: None) -> None:
    """EC2 takes at most 200 values in one filter: the rules of 201 tagged groups are asked
    for in two calls, each naming its own groups, and the rules of both are compared (the
    planned groups straddle the two batches, each holding a hand-made rule)."""
    import boto3

    plan = default_plan()
    client = boto3.session.Session(region_name="eu-west-1").client("ec2")
    stubber = Stubber(client)
    strays = [
        {
            "GroupId": f"sg-{i:017x}",
            "GroupName": f"full-server-stray-{i}",
            "Description": "left behind",
            "Tags": [{"Key": "crm-ports:lab", "Value": "full-server"}],
        }
        for i in range(201 - len(plan.security_groups))
    ]
    planned = described_groups(plan, first=len(strays))
    ids = [g["GroupId"] for g in strays + planned]  # already in order
    stubber.add_response("describe_security_groups", {"SecurityGroups": planned + strays})
    for chunk, group in ((ids[:200], ids[199]), (ids[200:], ids[200])):
        rdp = {
            "SecurityGroupRuleId": f"sgr-rdp-{group}",
            "GroupId": group,
            "IsEgress": False,
            "IpProtocol": "tcp",
            "FromPort": 3389,
            "ToPort": 3389,
            "CidrIpv4": "0.0.0.0/0",
            "Tags": [],
        }
        stubber.add_response(
            "describe_security_group_rules",
            {"SecurityGroupRules": [rdp]},
            {"Filters": [{"Name": "group-id", "Values": chunk}]},
        )
    with stubber:
        report = audit_aws(plan, AwsTarget("eu-west-1"), client_factory=lambda _t: client)
    stubber.assert_no_pending_responses()
    groups = [f for f in report.findings if f.resource == "security-group"]
    assert len(groups) == len(strays) and {f.status for f in groups} == {"unexpected"}
    hand_made = [f for f in report.findings if f.resource == "rule" and f.status == "unexpected"]
    assert sorted(f.live_id for f in hand_made) == [f"sgr-rdp-{ids[199]}", f"sgr-rdp-{ids[200]}"]
