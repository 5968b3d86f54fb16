"""The test emulator answers as EC2 does where moto 5.2.5 does not: a revoke of an unknown
rule id, and the description of a rule that references a group."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.moto_server import MotoServer

pytestmark = pytest.mark.slow


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
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "10.1.0.0/24"}],
            }
        ],
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
