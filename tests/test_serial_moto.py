"""The test emulator answers as EC2 does where moto 5.2.5 does not: a revoke of an unknown
rule id, the description of a rule that references a group, and DeleteSecurityGroup of a
group still in use (DependencyViolation), which is what a day-2 apply that replaces a group
the lab's instances hold runs into on a real account. And one answer of its own: a retried
attempt of a call it has carried out gets the first answer again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.moto_server import MotoServer

pytestmark = pytest.mark.slow

# One rule to add and take back: HTTPS from a range.
HTTPS_FROM_A_RANGE = [
    {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.1.0.0/24"}]}
]


@pytest.mark.parametrize("direction", ["ingress", "egress"])
def test_revoking_an_unknown_rule_id_is_ec2s_not_found(
    moto_server: MotoServer, aws_env: None, direction: str
) -> None:
    from botocore.exceptions import ClientError

    ec2 = moto_server.ec2()
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    authorize = getattr(ec2, f"authorize_security_group_{direction}")
    revoke = getattr(ec2, f"revoke_security_group_{direction}")
    added = authorize(
        GroupId=group,
        IpPermissions=HTTPS_FROM_A_RANGE,
    )["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    revoke(GroupId=group, SecurityGroupRuleIds=[added])  # a known id goes as in moto
    with pytest.raises(ClientError) as again:
        revoke(GroupId=group, SecurityGroupRuleIds=[added])
    assert again.value.response["Error"]["Code"] == "InvalidSecurityGroupRuleId.NotFound"
    assert "crm-ports-moto:" in moto_server.failed_requests()


@pytest.mark.parametrize("direction", ["ingress", "egress"])
def test_a_group_reference_keeps_its_description_as_in_ec2(
    moto_server: MotoServer, aws_env: None, direction: str
) -> None:
    """DescribeSecurityGroupRules returns the description of a rule naming a group (moto
    5.2.5 reads it from the CIDR range only), and a modified one wins over it."""
    ec2 = moto_server.ec2()
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    peer = ec2.create_security_group(GroupName="p", Description="p", VpcId=vpc)["GroupId"]
    authorize = getattr(ec2, f"authorize_security_group_{direction}")
    [added] = authorize(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 1433,
                "ToPort": 1433,
                "UserIdGroupPairs": [{"GroupId": peer, "Description": "SQL from the app"}],
            }
        ],
    )["SecurityGroupRules"]

    def described() -> dict[str, Any]:
        [rule] = ec2.describe_security_group_rules(
            SecurityGroupRuleIds=[added["SecurityGroupRuleId"]]
        )["SecurityGroupRules"]
        return dict(rule)

    rule = described()
    assert (rule["Description"], rule["ReferencedGroupInfo"]["GroupId"]) == (
        "SQL from the app",
        peer,
    )
    ec2.modify_security_group_rules(
        GroupId=group,
        SecurityGroupRules=[
            {
                "SecurityGroupRuleId": added["SecurityGroupRuleId"],
                "SecurityGroupRule": {
                    "IpProtocol": "tcp",
                    "FromPort": 1433,
                    "ToPort": 1433,
                    "ReferencedGroupId": peer,
                    "Description": "SQL from the app server",
                },
            }
        ],
    )
    assert described()["Description"] == "SQL from the app server"


def _lab_network(ec2: Any) -> tuple[str, str]:
    """A VPC and a subnet in it: (vpc id, subnet id)."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    return vpc, subnet


def _refused(ec2: Any, group: str) -> str:
    """Delete `group`, expecting EC2's refusal; returns the error message."""
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as refused:
        ec2.delete_security_group(GroupId=group)
    error = refused.value.response["Error"]
    assert error["Code"] == "DependencyViolation", error
    assert ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"]  # still there
    return str(error["Message"])


def _deleted(ec2: Any, vpc: str, group: str) -> None:
    ec2.delete_security_group(GroupId=group)
    live = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    assert group not in {g["GroupId"] for g in live["SecurityGroups"]}


def test_a_group_an_instance_holds_is_not_deleted_until_the_instance_is_terminated(
    moto_server: MotoServer, aws_env: None
) -> None:
    """The replaced-group failure of a day-2 apply: EC2 refuses while an instance runs in
    the group, and deletes it once the instance (and its primary interface) is gone."""
    ec2 = moto_server.ec2()
    vpc, subnet = _lab_network(ec2)
    group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    [instance] = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet, SecurityGroupIds=[group]
    )["Instances"]
    assert instance["NetworkInterfaces"][0]["Attachment"]["DeleteOnTermination"] is True
    assert _refused(ec2, group) == f"resource {group} has a dependent object"
    assert f"DeleteSecurityGroup {group} refused" in moto_server.failed_requests()

    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    interfaces = ec2.describe_network_interfaces(
        Filters=[{"Name": "subnet-id", "Values": [subnet]}]
    )["NetworkInterfaces"]
    assert interfaces == []  # the primary interface went with the instance, as on EC2
    _deleted(ec2, vpc, group)


def test_a_group_a_standalone_interface_holds_is_not_deleted(
    moto_server: MotoServer, aws_env: None
) -> None:
    ec2 = moto_server.ec2()
    vpc, subnet = _lab_network(ec2)
    group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    eni = ec2.create_network_interface(SubnetId=subnet, Groups=[group])["NetworkInterface"]
    _refused(ec2, group)
    ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    _deleted(ec2, vpc, group)


@pytest.mark.parametrize("direction", ["ingress", "egress"])
def test_a_group_another_groups_rule_references_is_not_deleted(
    moto_server: MotoServer, aws_env: None, direction: str
) -> None:
    """Until that rule is revoked; Terraform destroys rules before their groups."""
    ec2 = moto_server.ec2()
    vpc, _ = _lab_network(ec2)
    group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    other = ec2.create_security_group(GroupName="o", Description="o", VpcId=vpc)["GroupId"]
    authorize = getattr(ec2, f"authorize_security_group_{direction}")
    [rule] = authorize(
        GroupId=other,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 1433,
                "ToPort": 1433,
                "UserIdGroupPairs": [{"GroupId": group}],
            }
        ],
    )["SecurityGroupRules"]
    _refused(ec2, group)
    getattr(ec2, f"revoke_security_group_{direction}")(
        GroupId=other, SecurityGroupRuleIds=[rule["SecurityGroupRuleId"]]
    )
    _deleted(ec2, vpc, group)
    _deleted(ec2, vpc, other)


def test_a_group_referencing_itself_is_deleted(moto_server: MotoServer, aws_env: None) -> None:
    ec2 = moto_server.ec2()
    vpc, _ = _lab_network(ec2)
    group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group}]},
        ],
    )
    _deleted(ec2, vpc, group)


def test_a_retried_attempt_gets_the_first_answer_and_a_new_call_ec2s(
    moto_server: MotoServer, aws_env: None
) -> None:
    """An SDK's retry of an authorize the server carried out (its answer lost in transit)
    gets the same answer again and adds nothing; the same request as a new call (a new
    invocation id) still gets EC2's InvalidPermission.Duplicate."""
    import urllib.error
    import urllib.request
    import uuid

    ec2 = moto_server.ec2()
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    sent: list[Any] = []

    def keep(request: Any, **_: Any) -> None:
        sent.append(request)

    ec2.meta.events.register("before-send.ec2.AuthorizeSecurityGroupIngress", keep)
    [added] = ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=HTTPS_FROM_A_RANGE,
    )["SecurityGroupRules"]
    [request] = sent
    invocation = request.headers["amz-sdk-invocation-id"]
    invocation = invocation.decode() if isinstance(invocation, bytes) else invocation

    def send(invocation_id: str, attempt: int) -> tuple[int, str]:
        headers = {
            k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()
        }
        headers["amz-sdk-invocation-id"] = invocation_id
        headers["amz-sdk-request"] = f"attempt={attempt}; max=25"
        body = request.body.encode() if isinstance(request.body, str) else request.body
        again = urllib.request.Request(request.url, data=body, headers=headers)
        try:
            with urllib.request.urlopen(again, timeout=60) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read().decode()

    status, body = send(invocation, 2)
    assert status == 200 and added["SecurityGroupRuleId"] in body
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])
    assert [r["SecurityGroupRuleId"] for r in rules["SecurityGroupRules"] if not r["IsEgress"]] == [
        added["SecurityGroupRuleId"]
    ]
    assert f"attempt 2 of invocation {invocation}" in moto_server.failed_requests()
    status, body = send(str(uuid.uuid4()), 1)
    assert status == 400 and "InvalidPermission.Duplicate" in body
