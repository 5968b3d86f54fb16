"""The test emulator answers a revoke of an unknown rule id as EC2 does."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
