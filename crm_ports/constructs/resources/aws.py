"""Typed ``hashicorp/aws`` provider and the few resources crm-ports emits.

Attribute names were checked against ``terraform providers schema -json`` of
hashicorp/aws 5.100.0 (``tests/test_resources.py`` re-checks them whenever a
provider binary is reachable).  A group the stack creates carries no inline
``ingress``/``egress``: every rule is its own
``aws_vpc_security_group_*_rule`` resource so that rules have stable
addresses, can be tagged and described, and never fight an inline rule set.
An adopted group is the exception: it holds its rules inline
(``SecurityGroupInlineRule``), so that it owns its whole rule set and an apply
revokes the live rules the plan leaves out.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from constructs import Construct

from crm_ports.constructs.cdk import (
    TerraformProvider,
    TerraformProviderGeneratorMetadata,
)
from crm_ports.constructs.resources._base import C, JsonResource, compact
from crm_ports.lab import emulator

__all__ = [
    "AWS_PROVIDER_SOURCE",
    "AWS_PROVIDER_VERSION",
    "AwsEndpoints",
    "AwsProvider",
    "AwsProviderConfig",
    "SecurityGroup",
    "SecurityGroupConfig",
    "SecurityGroupInlineRule",
    "SecurityGroupRuleConfig",
    "Subnet",
    "SubnetConfig",
    "Vpc",
    "VpcConfig",
    "VpcSecurityGroupEgressRule",
    "VpcSecurityGroupIngressRule",
    "check_aws_description",
]

AWS_PROVIDER_SOURCE = "hashicorp/aws"
# 5.30 is the first release whose aws_vpc_security_group_*_rule resources
# accept tags and referenced_security_group_id the way we use them; 7 is the
# next major we have not validated against.
AWS_PROVIDER_VERSION = ">= 5.30, < 7"

_METADATA = TerraformProviderGeneratorMetadata(
    provider_name="aws", provider_version_constraint=AWS_PROVIDER_VERSION
)

# EC2 accepts only these characters in security group and rule descriptions;
# anything else is a plan-time success and an apply-time InvalidParameterValue.
_AWS_DESCRIPTION = re.compile(r"[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]*\Z")
_MAX_DESCRIPTION = 255


def check_aws_description(text: str, what: str = "description") -> str:
    """Fail early on descriptions EC2 would reject only at apply time."""
    if len(text) > _MAX_DESCRIPTION or not _AWS_DESCRIPTION.match(text):
        raise ValueError(
            f"{what} {text!r} is not a valid EC2 description: at most {_MAX_DESCRIPTION} "
            "characters from a-zA-Z0-9 space and ._-:/()#,@[]+=&;{}!$*"
        )
    return text


# --------------------------------------------------------------------------
# Provider
# --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AwsEndpoints:
    """Service endpoint overrides, e.g. a moto server URL for both."""

    ec2: str | None = None
    sts: str | None = None
    iam: str | None = None

    def to_terraform(self) -> dict[str, Any]:
        return compact({"ec2": self.ec2, "iam": self.iam, "sts": self.sts})


@dataclass(frozen=True, kw_only=True)
class AwsProviderConfig:
    region: str
    endpoints: AwsEndpoints | None = None
    access_key: str | None = None
    secret_key: str | None = None
    skip_credentials_validation: bool | None = None
    skip_requesting_account_id: bool | None = None
    skip_metadata_api_check: bool | None = None
    skip_region_validation: bool | None = None

    @classmethod
    def for_emulator(cls, endpoint_url: str, region: str = "us-east-1") -> AwsProviderConfig:
        """Point EC2, IAM and STS at a local emulator (moto) with dummy credentials.

        The account id is still requested (moto answers STS GetCallerIdentity): without
        it the provider cannot tell a referenced security group is in its own account,
        stores it as "ACCOUNT/sg-..." and plans an update of every such rule forever.
        """
        return cls(
            region=region,
            endpoints=AwsEndpoints(ec2=endpoint_url, iam=endpoint_url, sts=endpoint_url),
            access_key=emulator.ACCESS_KEY,
            secret_key=emulator.SECRET_KEY,
            skip_credentials_validation=True,
            skip_requesting_account_id=False,
            skip_metadata_api_check=True,
            skip_region_validation=True,
        )

    def to_terraform(self) -> dict[str, Any]:
        endpoints = self.endpoints.to_terraform() if self.endpoints else None
        # The provider schema types skip_metadata_api_check as a string
        # ("true"/"false"), unlike the other skip_* flags.
        skip_metadata = (
            None
            if self.skip_metadata_api_check is None
            else ("true" if self.skip_metadata_api_check else "false")
        )
        return compact(
            {
                "region": self.region,
                # endpoints is a set-nested block: a one-element list in JSON.
                "endpoints": [endpoints] if endpoints else None,
                "access_key": self.access_key,
                "secret_key": self.secret_key,
                "skip_credentials_validation": self.skip_credentials_validation,
                "skip_requesting_account_id": self.skip_requesting_account_id,
                "skip_metadata_api_check": skip_metadata,
                "skip_region_validation": self.skip_region_validation,
            }
        )


class AwsProvider(TerraformProvider):
    """``provider "aws"`` plus its ``required_providers`` entry."""

    def __init__(self, scope: Construct, id: str, config: AwsProviderConfig) -> None:
        self._crm_config = config
        self._crm_attributes = config.to_terraform()
        super().__init__(
            scope,
            id,
            terraform_resource_type="aws",
            terraform_generator_metadata=_METADATA,
            terraform_provider_source=AWS_PROVIDER_SOURCE,
        )

    @property
    def config(self) -> AwsProviderConfig:
        return self._crm_config

    def _synthesize_attributes(self) -> Mapping[str, Any]:
        return self._crm_attributes

    def _synthesize_hcl_attributes(self) -> Mapping[str, Any]:
        raise NotImplementedError("AwsProvider supports JSON synthesis only")


# --------------------------------------------------------------------------
# Resources
# --------------------------------------------------------------------------


class _AwsResource(JsonResource[C]):
    GENERATOR_METADATA: ClassVar[TerraformProviderGeneratorMetadata] = _METADATA

    @property
    def arn(self) -> str:
        return self._string_attribute("arn")


@dataclass(frozen=True, kw_only=True)
class VpcConfig:
    cidr_block: str
    enable_dns_support: bool | None = None
    enable_dns_hostnames: bool | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def to_terraform(self) -> dict[str, Any]:
        return compact(
            {
                "cidr_block": self.cidr_block,
                "enable_dns_support": self.enable_dns_support,
                "enable_dns_hostnames": self.enable_dns_hostnames,
                "tags": dict(self.tags) or None,
            }
        )


class Vpc(_AwsResource[VpcConfig]):
    TERRAFORM_TYPE = "aws_vpc"

    @property
    def default_security_group_id(self) -> str:
        return self._string_attribute("default_security_group_id")


@dataclass(frozen=True, kw_only=True)
class SubnetConfig:
    vpc_id: str
    cidr_block: str
    availability_zone: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def to_terraform(self) -> dict[str, Any]:
        return compact(
            {
                "vpc_id": self.vpc_id,
                "cidr_block": self.cidr_block,
                "availability_zone": self.availability_zone,
                "tags": dict(self.tags) or None,
            }
        )


class Subnet(_AwsResource[SubnetConfig]):
    TERRAFORM_TYPE = "aws_subnet"


@dataclass(frozen=True, kw_only=True)
class SecurityGroupInlineRule:
    """One block of a security group's inline ``ingress`` / ``egress`` set.

    The set is written in attribute syntax (``ConfigMode: SchemaConfigModeAttr``), where
    each object must name every attribute: all four kinds of source and ``self`` are
    always written, empty or false when unused. An all-traffic rule (``-1``) has ports
    0-0, as the provider requires and reads back. A source list may be a Terraform
    expression (``${var.client_cidrs}``) that evaluates to a list."""

    protocol: str
    from_port: int
    to_port: int
    cidr_blocks: Sequence[str] | str = ()
    security_groups: Sequence[str] = ()
    self_reference: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        sources = bool(self.cidr_blocks) + bool(self.security_groups) + self.self_reference
        if sources != 1:
            raise ValueError(
                "an inline rule needs exactly one kind of source: cidr_blocks, "
                f"security_groups or self (got {sources})"
            )
        if self.protocol in _PORTLESS_PROTOCOLS and (self.from_port, self.to_port) != (0, 0):
            raise ValueError(f"ip_protocol {self.protocol} takes ports 0-0 inline")
        if isinstance(self.cidr_blocks, str):
            if "${" not in self.cidr_blocks:
                raise ValueError(f"cidr_blocks {self.cidr_blocks!r} is no list or expression")
        else:
            for cidr in self.cidr_blocks:
                _check_cidr(cidr, ipaddress.IPv4Network)
        if self.description:
            check_aws_description(self.description, "rule description")

    def to_terraform(self) -> dict[str, Any]:
        cidrs = self.cidr_blocks if isinstance(self.cidr_blocks, str) else list(self.cidr_blocks)
        return {
            "cidr_blocks": cidrs,
            "description": self.description,
            "from_port": self.from_port,
            "ipv6_cidr_blocks": [],
            "prefix_list_ids": [],
            "protocol": self.protocol,
            "security_groups": list(self.security_groups),
            "self": self.self_reference,
            "to_port": self.to_port,
        }


@dataclass(frozen=True, kw_only=True)
class SecurityGroupConfig:
    """A security group; with `ingress` / `egress` given (an empty list included) it owns
    that whole rule set, and the provider revokes any live rule the set does not list."""

    name: str
    description: str
    vpc_id: str
    tags: Mapping[str, str] = field(default_factory=dict)
    revoke_rules_on_delete: bool | None = None
    ingress: Sequence[SecurityGroupInlineRule] | None = None
    egress: Sequence[SecurityGroupInlineRule] | None = None

    def __post_init__(self) -> None:
        if self.name.lower().startswith("sg-"):
            raise ValueError(f"security group name {self.name!r} may not start with 'sg-'")
        if len(self.name) > _MAX_DESCRIPTION:
            raise ValueError(f"security group name {self.name!r} exceeds 255 characters")
        check_aws_description(self.description, "security group description")

    def to_terraform(self) -> dict[str, Any]:
        # Without ingress/egress the provider leaves rules to the standalone rule
        # resources; an empty list (kept by `compact`) would revoke every rule.
        return compact(
            {
                "name": self.name,
                "description": self.description,
                "vpc_id": self.vpc_id,
                "tags": dict(self.tags) or None,
                "revoke_rules_on_delete": self.revoke_rules_on_delete,
                "ingress": _blocks(self.ingress),
                "egress": _blocks(self.egress),
            }
        )


def _blocks(rules: Sequence[SecurityGroupInlineRule] | None) -> list[dict[str, Any]] | None:
    return None if rules is None else [rule.to_terraform() for rule in rules]


class SecurityGroup(_AwsResource[SecurityGroupConfig]):
    TERRAFORM_TYPE = "aws_security_group"

    @property
    def name(self) -> str:
        return self._string_attribute("name")


_PORTLESS_PROTOCOLS = frozenset({"-1", "all"})
# Protocols EC2 knows by number only (ESP is 50): ports are ignored, reported as -1.
_NUMBERED_PROTOCOLS = frozenset({"50", "esp"})
_PORTED_PROTOCOLS = frozenset({"tcp", "udp", "6", "17"})
_ICMP_PROTOCOLS = frozenset({"icmp", "1", "icmpv6", "58"})


def _check_cidr(
    value: str | None, network: type[ipaddress.IPv4Network] | type[ipaddress.IPv6Network]
) -> None:
    # Unresolved cdktf tokens ("${TfToken[...]}") and Terraform expressions
    # are only known at apply time; check literals only.
    if value is None or "${" in value:
        return
    try:
        network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a network CIDR: {exc}") from None


@dataclass(frozen=True, kw_only=True)
class SecurityGroupRuleConfig:
    """One ``aws_vpc_security_group_{ingress,egress}_rule``.

    ``terraform validate`` already rejects a missing or doubled peer and a
    non-network CIDR, but not ports on ``-1``, a tcp rule without ports, a
    reversed range or a description EC2 refuses; those surface only at
    apply time, so all of them are checked here, at construction.
    """

    security_group_id: str
    ip_protocol: str
    from_port: int | None = None
    to_port: int | None = None
    cidr_ipv4: str | None = None
    cidr_ipv6: str | None = None
    prefix_list_id: str | None = None
    referenced_security_group_id: str | None = None
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        peers = [
            p
            for p in (
                self.cidr_ipv4,
                self.cidr_ipv6,
                self.prefix_list_id,
                self.referenced_security_group_id,
            )
            if p is not None
        ]
        if len(peers) != 1:
            raise ValueError(
                "set exactly one of cidr_ipv4, cidr_ipv6, prefix_list_id, "
                f"referenced_security_group_id (got {len(peers)})"
            )
        _check_cidr(self.cidr_ipv4, ipaddress.IPv4Network)
        _check_cidr(self.cidr_ipv6, ipaddress.IPv6Network)
        protocol = self.ip_protocol.lower()
        if protocol in _PORTLESS_PROTOCOLS:
            if self.from_port is not None or self.to_port is not None:
                raise ValueError(f"ip_protocol {self.ip_protocol} takes no from_port/to_port")
        elif protocol in _PORTED_PROTOCOLS:
            if self.from_port is None or self.to_port is None:
                raise ValueError(f"ip_protocol {self.ip_protocol} needs from_port and to_port")
            if not 0 <= self.from_port <= self.to_port <= 65535:
                raise ValueError(
                    f"port range {self.from_port}-{self.to_port} is not within 0-65535 "
                    "in ascending order"
                )
        elif protocol in _NUMBERED_PROTOCOLS:
            if {self.from_port, self.to_port} - {None, -1}:
                raise ValueError(f"ip_protocol {self.ip_protocol} has no ports: give -1 or none")
        elif protocol in _ICMP_PROTOCOLS:
            for port in (self.from_port, self.to_port):
                if port is not None and not -1 <= port <= 255:
                    raise ValueError(f"ICMP type/code {port} is not within -1..255")
        if self.description is not None:
            check_aws_description(self.description, "rule description")

    def to_terraform(self) -> dict[str, Any]:
        return compact(
            {
                "security_group_id": self.security_group_id,
                "ip_protocol": self.ip_protocol,
                "from_port": self.from_port,
                "to_port": self.to_port,
                "cidr_ipv4": self.cidr_ipv4,
                "cidr_ipv6": self.cidr_ipv6,
                "prefix_list_id": self.prefix_list_id,
                "referenced_security_group_id": self.referenced_security_group_id,
                "description": self.description,
                "tags": dict(self.tags) or None,
            }
        )


class _SecurityGroupRule(_AwsResource[SecurityGroupRuleConfig]):
    @property
    def security_group_rule_id(self) -> str:
        return self._string_attribute("security_group_rule_id")


class VpcSecurityGroupIngressRule(_SecurityGroupRule):
    TERRAFORM_TYPE = "aws_vpc_security_group_ingress_rule"


class VpcSecurityGroupEgressRule(_SecurityGroupRule):
    TERRAFORM_TYPE = "aws_vpc_security_group_egress_rule"
