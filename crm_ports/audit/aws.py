"""Audit an AWS lab: its security groups and rules, as EC2 reports them, against the plan.

Groups are found by the `crm-ports:lab` tag the plan puts on them (names can collide
across labs and VPCs; the tag cannot), rules through DescribeSecurityGroupRules, the one
call that returns each rule with its id, description and tags. This module reads EC2 and
turns its errors into the CLI's; `aws_pairing` compares what it read with the plan and
`aws_live` puts it in Terraform's shape for the policy checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlparse

from crm_ports.audit.aws_live import aws_live_resources
from crm_ports.audit.aws_pairing import compare_lab
from crm_ports.audit.model import AuditReport
from crm_ports.audit.policy import PolicyScope, policy_findings
from crm_ports.errors import InputError
from crm_ports.lab import emulator
from crm_ports.plans.aws import AwsPlan
from crm_ports.plans.text import LAB_TAG

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
    if not _known_region(target.region):
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
def translated(target: AwsTarget) -> Iterator[None]:
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
    from botocore.parsers import ResponseParserError

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
    except ResponseParserError:
        # An answer that is not EC2's XML: an emulator's error page (moto answers an unknown
        # region with HTML and status 500), or an endpoint that is not EC2 at all.
        if not _known_region(target.region):
            raise fail(
                f"region '{target.region}' is not an AWS region this botocore knows, and the "
                "endpoint did not answer as EC2 does for it: check aws.region (or --region)"
            ) from None
        raise fail(
            f"the endpoint did not answer as EC2 does for region '{target.region}': is it "
            "an EC2 endpoint, and does it serve that region?"
        ) from None


def _known_region(region: str) -> bool:
    import boto3

    session = boto3.session.Session()
    return any(
        region in session.get_available_regions("ec2", partition_name=partition)
        for partition in session.get_available_partitions()
    )


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
    with translated(target):
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
