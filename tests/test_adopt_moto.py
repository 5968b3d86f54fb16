"""Adopting a hand-built estate (issue 22), end to end on moto with the real `terraform`.

A hosting provider's CRM estate is built with boto3 as a person would: four groups with
the provider's own names and descriptions, an instance holding each, the CRM flows between
them (each every-server flow from each other group, since no instance holds a common
group), one custom rule and one RDP rule from 0.0.0.0/0. `crm-ports adopt aws` writes the
lab; it validates and names the stray rule; `crm-ports synth` and `terraform apply` take
the estate over: the first plan imports every group, deletes or replaces none and updates
the web group in place without the stray rule, which the apply revokes; every instance
keeps its own group (same id), the re-plan is empty and the audit is clean. On day 2 a
cloud load balancer joins: its new group gets separate rule resources, the adopted web
group's inline rules reference it, and that apply too replaces nothing and leaves an
empty re-plan and a clean audit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from crm_ports.catalogue.load import load_catalogue
from crm_ports.lab.file import load_lab
from crm_ports.plans.aws import plan_aws
from crm_ports.resolver.engine import resolve_lab
from tests.test_e2e_moto import Cli, changes, terraform_for

if TYPE_CHECKING:
    from tests.moto_server import MotoServer

pytestmark = pytest.mark.slow

AMI = "ami-12c6146b"
LAB = "acme"
# host in the reference lab -> (the provider's group name, its description, roles)
ESTATE = {
    "web": ("crm-web-01", "CRM web tier", ["web-application", "deployment-web-service"]),
    "back": ("crm-app-01", "CRM async and sandbox", ["asynchronous-service", "sandbox-processing"]),
    "sql": ("sql-01", "SQL and reporting", ["sql-server", "reporting-services"]),
    "dc": ("ad-01", "Active Directory", ["domain-controller"]),
}
CLIENTS = "10.1.0.0/16"
ADMINS = "10.2.0.0/24"
CUSTOM = ("tcp", 8443, "10.30.0.0/24")  # a monitoring probe no flow explains


def reference_rules(tmp_path: Path) -> list[Any]:
    """The CRM flows between the four hosts as a person would open them by hand: each
    every-server flow from each other host (the planner's own spreading, used here only
    to know which ports to open)."""
    hosts = "\n".join(
        f"    - {{name: {h}, roles: [{', '.join(r)}]}}" for h, (_, _, r) in ESTATE.items()
    )
    adopt = "\n".join(
        f"  {h}: {{group_id: sg-{i:x}, name: n{i}, description: d}}" for i, h in enumerate(ESTATE)
    )
    path = tmp_path / "reference.yaml"
    path.write_text(
        f"name: ref\nclouds: [aws]\ntopology:\n  hosts:\n{hosts}\n"
        f"client_cidrs: [{CLIENTS}]\nadmin_cidrs: [{ADMINS}]\nadopt:\n{adopt}\n",
        encoding="utf-8",
    )
    lab = load_lab(path)
    plan = plan_aws(resolve_lab(load_catalogue(), lab), lab.name, adopt=lab.adopt)
    return [spec for spec in plan.rules if spec.direction == "ingress"]


def build_estate(ec2: Any, tmp_path: Path) -> tuple[str, dict[str, str], dict[str, str]]:
    """The hand-built estate: VPC id, host -> group id, host -> instance id."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    groups = {
        host: ec2.create_security_group(GroupName=name, Description=text, VpcId=vpc)["GroupId"]
        for host, (name, text, _) in ESTATE.items()
    }
    for spec in reference_rules(tmp_path):
        permission: dict[str, Any] = {
            "IpProtocol": spec.ip_protocol,
            "FromPort": spec.from_port,
            "ToPort": spec.to_port,
        }
        if spec.peer_group:
            permission["UserIdGroupPairs"] = [{"GroupId": groups[spec.peer_group]}]
        else:
            permission["IpRanges"] = [{"CidrIp": spec.cidr_ipv4}]
        ec2.authorize_security_group_ingress(GroupId=groups[spec.group], IpPermissions=[permission])
    protocol, port, cidr = CUSTOM
    for source in (cidr, "0.0.0.0/0"):
        number = port if source == cidr else 3389
        ec2.authorize_security_group_ingress(
            GroupId=groups["web"],
            IpPermissions=[
                {
                    "IpProtocol": protocol,
                    "FromPort": number,
                    "ToPort": number,
                    "IpRanges": [{"CidrIp": source}],
                }
            ],
        )
    instances = {
        host: ec2.run_instances(
            ImageId=AMI, MinCount=1, MaxCount=1, SubnetId=subnet, SecurityGroupIds=[group]
        )["Instances"][0]["InstanceId"]
        for host, group in groups.items()
    }
    return vpc, groups, instances


def live_rules(ec2: Any, groups: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every rule of the estate's groups by its id (sgr-...)."""
    found = ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": sorted(groups.values())}]
    )["SecurityGroupRules"]
    return {r["SecurityGroupRuleId"]: r for r in found}


def _shape(rule: dict[str, Any]) -> tuple[Any, ...]:
    """What EC2 identifies a rule by: its group, direction, protocol, ports and source."""
    source = (rule.get("ReferencedGroupInfo") or {}).get("GroupId") or rule.get("CidrIpv4")
    return (
        rule["GroupId"],
        rule["IsEgress"],
        rule["IpProtocol"],
        rule.get("FromPort"),
        rule.get("ToPort"),
        source,
    )


def _is_stray(block: dict[str, Any]) -> bool:
    return block["from_port"] == 3389 and "0.0.0.0/0" in block["cidr_blocks"]


def held(ec2: Any, instances: dict[str, str]) -> dict[str, set[str]]:
    reservations = ec2.describe_instances(InstanceIds=sorted(instances.values()))["Reservations"]
    by_id = {
        i["InstanceId"]: {g["GroupId"] for g in i["SecurityGroups"]}
        for r in reservations
        for i in r["Instances"]
    }
    return {host: by_id[instance] for host, instance in instances.items()}


@pytest.mark.e2e(seconds=120)
def test_adopt_takes_a_hand_built_estate_over(
    cli: Cli,
    moto_server: MotoServer,
    aws_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ec2 = moto_server.ec2()
    vpc, groups, instances = build_estate(ec2, tmp_path)
    lab_path = tmp_path / "labs" / f"{LAB}.yaml"
    lab_path.parent.mkdir()
    adopted = cli(
        "adopt", "aws", "--vpc-id", vpc, "--name", LAB, "--endpoint-url", moto_server.url,
        "-o", str(lab_path),
    )  # fmt: skip
    assert adopted.code == 0, adopted.err
    stray = [line for line in adopted.err.splitlines() if line.startswith("left out:")]
    assert len(stray) == 1 and "TCP 3389 from 0.0.0.0/0 breaks policy" in stray[0], adopted.err
    assert "group " in adopted.err and "web-application" in adopted.err
    assert cli("validate", str(lab_path)).code == 0
    lab = load_lab(lab_path)
    assert {a.group_id for a in lab.adopt} == set(groups.values())
    assert [e.reason for e in lab.extra_rules] == [f"adopted from {groups['web']}: review"]
    [removed] = [(a.host, r) for a in lab.adopt for r in a.removes]  # what diff shows first
    assert removed[0] == "crm-web-01" and removed[1].rule_id in stray[0]
    assert removed[1].reason.startswith("breaks CRM001: administrative port(s) 3389")
    # the same estate, the same bytes
    again = tmp_path / "again.yaml"
    cli("adopt", "aws", "--vpc-id", vpc, "--name", LAB, "--endpoint-url", moto_server.url,
        "-o", str(again))  # fmt: skip
    assert again.read_bytes() == lab_path.read_bytes()

    out = tmp_path / "build" / "cdktf.out"
    synth = cli("synth", "--lab", str(lab_path), "--out", str(out))
    assert synth.code == 0, synth.err
    terraform = terraform_for(out / "stacks" / f"aws-{LAB}", tmp_path / "work")
    plan = terraform.show_plan()
    imported = {
        c["change"]["importing"]["id"]
        for c in plan["resource_changes"]
        if c["type"] == "aws_security_group" and c["change"].get("importing")
    }
    assert imported == set(groups.values())
    assert not any({"delete", "create"} & set(c["change"]["actions"]) for c in changes(plan)), [
        c["address"] for c in changes(plan)
    ]
    # The stray RDP rule is live, so imported, and not planned: the web group, which holds
    # its rules inline, is updated in place without it.
    [web] = [
        c
        for c in plan["resource_changes"]
        if (c["change"].get("importing") or {}).get("id") == groups["web"]
    ]
    assert web["change"]["actions"] == ["update"], web["change"]["actions"]
    assert [b for b in web["change"]["before"]["ingress"] if _is_stray(b)]
    assert not [b for b in web["change"]["after"]["ingress"] if _is_stray(b)]
    [rdp] = [
        r
        for r in live_rules(ec2, groups).values()
        if r.get("CidrIpv4") == "0.0.0.0/0" and r.get("FromPort") == 3389
    ]
    assert rdp["SecurityGroupRuleId"] in stray[0]
    before = live_rules(ec2, groups)
    terraform.run("apply", "-no-color", "-input=false", "tfplan")
    after = live_rules(ec2, groups)
    assert held(ec2, instances) == {host: {group} for host, group in groups.items()}
    assert rdp["SecurityGroupRuleId"] not in after
    assert not [r for r in after.values() if r.get("CidrIpv4") == "0.0.0.0/0" and not r["IsEgress"]]
    # The lab's egress is allow-all: each group keeps (or regains) its allow-all egress.
    open_egress = {
        r["GroupId"]
        for r in after.values()
        if r["IsEgress"] and r["IpProtocol"] == "-1" and r.get("CidrIpv4") == "0.0.0.0/0"
    }
    assert open_egress == set(groups.values())
    # What the apply did to the live rules it kept: a rule whose description changes is
    # revoked and authorized again (the provider cannot describe an inline rule in place),
    # so it comes back with a new id.
    kept = {_shape(r) for r in before.values()} & {_shape(r) for r in after.values()}
    renewed = [i for i, r in before.items() if _shape(r) in kept and i not in after]
    with capsys.disabled():  # `pytest -s -k hand_built` prints it
        print(
            f"\nfirst apply: {len(before)} live rules before, {len(after)} after; "
            f"{len(before) - len(kept)} revoked, {len(after) - len(kept)} authorized new, "
            f"{len(renewed)} of the {len(kept)} kept were revoked and authorized again"
        )
    terraform.assert_no_changes()
    audit = cli("audit", "aws", "--lab", str(lab_path), "--format", "json")
    assert audit.code == 0, audit.out + audit.err
    assert json.loads(audit.out)["findings"] == []

    # Day 2: a cloud load balancer in front of the web servers. Its group is new, so the
    # stack creates it with separate rule resources, and the adopted web group's inline
    # rules reference it: no cycle, nothing adopted replaced, and the re-plan is empty.
    text = lab_path.read_text(encoding="utf-8")
    assert "\noptions:" not in text
    text = text.replace("\naws: ", "\noptions: {load_balancer: cloud}\naws: ")
    lab_path.write_text(text, encoding="utf-8")
    synth = cli("synth", "--lab", str(lab_path), "--out", str(tmp_path / "day2"))
    assert synth.code == 0, synth.err
    stack = tmp_path / "day2" / "stacks" / f"aws-{LAB}" / "cdk.tf.json"
    (terraform.workdir / "cdk.tf.json").write_bytes(stack.read_bytes())
    plan = terraform.show_plan()
    actions = {c["address"]: c["change"]["actions"] for c in changes(plan)}
    assert actions.pop("aws_security_group.sg_cloud-load-balancer") == ["create"]
    created = {a for a, act in actions.items() if act == ["create"]}
    assert created and all(a.startswith("aws_vpc_security_group_") for a in created)
    assert {tuple(act) for a, act in actions.items() if a not in created} == {("update",)}
    terraform.run("apply", "-no-color", "-input=false", "tfplan")
    assert held(ec2, instances) == {host: {group} for host, group in groups.items()}
    terraform.assert_no_changes()
    audit = cli("audit", "aws", "--lab", str(lab_path), "--format", "json")
    assert audit.code == 0, audit.out + audit.err
    assert json.loads(audit.out)["findings"] == []


def _front_end(ec2: Any, vpc: str, name: str) -> str:
    group: str = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
    for port, ranges in ((80, [CLIENTS, ADMINS]), (443, [CLIENTS, ADMINS]), (3389, [ADMINS])):
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                 "IpRanges": [{"CidrIp": cidr} for cidr in ranges]}
            ],
        )  # fmt: skip
    return group


@pytest.mark.parametrize(
    "case", ["unknown vpc", "no groups", "unknown role", "two front ends", "bad name"]
)
def test_bad_estate_or_mapping_is_one_line(
    cli: Cli, moto_server: MotoServer, aws_env: None, tmp_path: Path, case: str
) -> None:
    ec2 = moto_server.ec2()
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    args = ["adopt", "aws", "--name", LAB, "--endpoint-url", moto_server.url]
    expected = {
        "unknown vpc": ["field 'vpc-id'", "no VPC vpc-0123456789abcdef0"],
        "no groups": ["field 'vpc-id'", "nothing to adopt"],
        "unknown role": ["hosts.yaml", "group 'crm-web-01'", "field 'roles'", "'web-app'"],
        "two front ends": ["role 'web-application'", "claimed by 2 groups", "--hosts FILE"],
        "bad name": ["field 'name'", "'Acme_1' cannot name a lab"],
    }[case]
    if case == "bad name":
        args[3] = "Acme_1"
    if case == "unknown vpc":
        vpc = "vpc-0123456789abcdef0"
    if case == "unknown role":
        _front_end(ec2, vpc, "crm-web-01")
        (tmp_path / "hosts.yaml").write_text("crm-web-01: [web-app]\n", encoding="utf-8")
        args += ["--hosts", str(tmp_path / "hosts.yaml")]
    if case == "two front ends":
        _front_end(ec2, vpc, "crm-web-01")
        _front_end(ec2, vpc, "crm-web-02")
    out = tmp_path / "lab.yaml"
    result = cli(*args, "--vpc-id", vpc, "-o", str(out))
    assert result.code == 2, result
    assert len(result.err.strip().splitlines()) == 1, result.err
    for fragment in expected:
        assert fragment in result.err
    assert not out.exists()
