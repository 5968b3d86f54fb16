"""Typed ``hashicorp/azurerm`` (4.x) provider and the resources crm-ports emits.

No azurerm binary is reachable from our CI, so attribute names were checked
against the generated ``synthesizeAttributes`` of cdktf-cdktf-provider-azurerm
14.23.1 (built from azurerm 4.55.0) instead of a live schema.  NSGs carry no
inline ``security_rule``: every rule is an ``azurerm_network_security_rule``
so rules have stable addresses and never fight an inline rule set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from constructs import Construct

from crm_ports.cdk import (
    TerraformProvider,
    TerraformProviderGeneratorMetadata,
)
from crm_ports.constructs.resources._base import C, JsonResource, compact

__all__ = [
    "AZURERM_PROVIDER_SOURCE",
    "AZURERM_PROVIDER_VERSION",
    "ApplicationSecurityGroup",
    "ApplicationSecurityGroupConfig",
    "AzurermProvider",
    "AzurermProviderConfig",
    "NetworkSecurityGroup",
    "NetworkSecurityGroupConfig",
    "NetworkSecurityRule",
    "NetworkSecurityRuleConfig",
    "ResourceGroup",
    "ResourceGroupConfig",
    "Subnet",
    "SubnetConfig",
    "SubnetNetworkSecurityGroupAssociation",
    "SubnetNetworkSecurityGroupAssociationConfig",
    "VirtualNetwork",
    "VirtualNetworkConfig",
]

AZURERM_PROVIDER_SOURCE = "hashicorp/azurerm"
AZURERM_PROVIDER_VERSION = "~> 4.0"

_METADATA = TerraformProviderGeneratorMetadata(
    provider_name="azurerm", provider_version_constraint=AZURERM_PROVIDER_VERSION
)


# --------------------------------------------------------------------------
# Provider
# --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AzurermProviderConfig:
    """azurerm 4.x needs a subscription id here or in ARM_SUBSCRIPTION_ID."""

    subscription_id: str | None = None
    # "none" stops the provider registering resource providers, which a
    # least-privilege principal is not allowed to do.
    resource_provider_registrations: str | None = None

    def to_terraform(self) -> dict[str, Any]:
        return compact(
            {
                "subscription_id": self.subscription_id,
                "resource_provider_registrations": self.resource_provider_registrations,
                # azurerm refuses a provider block without `features {}`.  In
                # Terraform JSON a block is a list of bodies; [{}] is one
                # empty block, which is also what the prebuilt cdktf binding
                # emits.  ({} alone would survive cdktf's deep merge too.)
                "features": [{}],
            }
        )


class AzurermProvider(TerraformProvider):
    """``provider "azurerm"`` with its mandatory empty ``features`` block."""

    def __init__(
        self, scope: Construct, id: str, config: AzurermProviderConfig | None = None
    ) -> None:
        self._crm_config = config or AzurermProviderConfig()
        self._crm_attributes = self._crm_config.to_terraform()
        super().__init__(
            scope,
            id,
            terraform_resource_type="azurerm",
            terraform_generator_metadata=_METADATA,
            terraform_provider_source=AZURERM_PROVIDER_SOURCE,
        )

    @property
    def config(self) -> AzurermProviderConfig:
        return self._crm_config

    def _synthesize_attributes(self) -> Mapping[str, Any]:
        return self._crm_attributes

    def _synthesize_hcl_attributes(self) -> Mapping[str, Any]:
        raise NotImplementedError("AzurermProvider supports JSON synthesis only")


# --------------------------------------------------------------------------
# Resources
# --------------------------------------------------------------------------


class _AzureResource(JsonResource[C]):
    GENERATOR_METADATA: ClassVar[TerraformProviderGeneratorMetadata] = _METADATA


class _NamedAzureResource(_AzureResource[C]):
    @property
    def name(self) -> str:
        """Token for ``name``; using it (not the literal) orders creation."""
        return self._string_attribute("name")


@dataclass(frozen=True, kw_only=True)
class ResourceGroupConfig:
    name: str
    location: str
    tags: Mapping[str, str] = field(default_factory=dict)

    def to_terraform(self) -> dict[str, Any]:
        return compact(
            {"name": self.name, "location": self.location, "tags": dict(self.tags) or None}
        )


class ResourceGroup(_NamedAzureResource[ResourceGroupConfig]):
    TERRAFORM_TYPE = "azurerm_resource_group"

    @property
    def location(self) -> str:
        return self._string_attribute("location")


@dataclass(frozen=True, kw_only=True)
class VirtualNetworkConfig:
    name: str
    location: str
    resource_group_name: str
    address_space: Sequence[str]
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.address_space, str) or not self.address_space:
            raise ValueError("address_space must be a non-empty list of CIDRs")

    def to_terraform(self) -> dict[str, Any]:
        return compact(
            {
                "name": self.name,
                "location": self.location,
                "resource_group_name": self.resource_group_name,
                "address_space": list(self.address_space),
                "tags": dict(self.tags) or None,
            }
        )


class VirtualNetwork(_NamedAzureResource[VirtualNetworkConfig]):
    TERRAFORM_TYPE = "azurerm_virtual_network"


@dataclass(frozen=True, kw_only=True)
class SubnetConfig:
    name: str
    resource_group_name: str
    virtual_network_name: str
    address_prefixes: Sequence[str]

    def __post_init__(self) -> None:
        if isinstance(self.address_prefixes, str) or not self.address_prefixes:
            raise ValueError("address_prefixes must be a non-empty list of CIDRs")

    def to_terraform(self) -> dict[str, Any]:
        return compact(
            {
                "name": self.name,
                "resource_group_name": self.resource_group_name,
                "virtual_network_name": self.virtual_network_name,
                "address_prefixes": list(self.address_prefixes),
            }
        )


class Subnet(_NamedAzureResource[SubnetConfig]):
    TERRAFORM_TYPE = "azurerm_subnet"


@dataclass(frozen=True, kw_only=True)
class _GroupConfig:
    """An ASG and an NSG take the same four attributes. The NSG's security_rule is
    deliberately absent: it is optional+computed, so leaving it unset lets standalone
    rules own the set."""

    name: str
    location: str
    resource_group_name: str
    tags: Mapping[str, str] = field(default_factory=dict)

    def to_terraform(self) -> dict[str, Any]:
        return compact(
            {
                "name": self.name,
                "location": self.location,
                "resource_group_name": self.resource_group_name,
                "tags": dict(self.tags) or None,
            }
        )


@dataclass(frozen=True, kw_only=True)
class ApplicationSecurityGroupConfig(_GroupConfig):
    pass


class ApplicationSecurityGroup(_NamedAzureResource[ApplicationSecurityGroupConfig]):
    TERRAFORM_TYPE = "azurerm_application_security_group"


@dataclass(frozen=True, kw_only=True)
class NetworkSecurityGroupConfig(_GroupConfig):
    pass


class NetworkSecurityGroup(_NamedAzureResource[NetworkSecurityGroupConfig]):
    TERRAFORM_TYPE = "azurerm_network_security_group"


# Azure's documented rule-name pattern: 1-80 chars, starts alphanumeric,
# ends alphanumeric or underscore, middle may add '.', '-' and '_'.
_RULE_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,78}[A-Za-z0-9_])?\Z")
_PORT = re.compile(r"\*|(\d{1,5})(?:-(\d{1,5}))?\Z")
_DIRECTIONS = frozenset({"Inbound", "Outbound"})
_ACCESS = frozenset({"Allow", "Deny"})
_PROTOCOLS = frozenset({"Tcp", "Udp", "Icmp", "Esp", "Ah", "*"})
_MAX_RULE_DESCRIPTION = 140


def _check_port(spec: str) -> None:
    match = _PORT.match(spec)
    if match is None:
        raise ValueError(f"port {spec!r} is not '*', 'N' or 'N-M'")
    if spec == "*":
        return
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) else low
    if not 0 <= low <= high <= 65535:
        raise ValueError(f"port range {spec!r} is not within 0-65535 in ascending order")


def _exactly_one(label: str, **candidates: object) -> None:
    present = [name for name, value in candidates.items() if value is not None]
    if len(present) != 1:
        raise ValueError(
            f"{label}: set exactly one of {', '.join(candidates)} (got {present or 'none'})"
        )


@dataclass(frozen=True, kw_only=True)
class NetworkSecurityRuleConfig:
    """One ``azurerm_network_security_rule``.

    The checks mirror what ARM rejects at apply time (priority range, one
    port spec and one address spec per side) so a bad catalogue entry fails
    during synthesis instead of halfway through a deployment.
    """

    name: str
    priority: int
    direction: str
    access: str
    protocol: str
    resource_group_name: str
    network_security_group_name: str
    # Neither source port field set means any source port ("*"), which is
    # what nearly every rule wants; set one of them to narrow it.
    source_port_range: str | None = None
    source_port_ranges: Sequence[str] | None = None
    destination_port_range: str | None = None
    destination_port_ranges: Sequence[str] | None = None
    source_address_prefix: str | None = None
    source_address_prefixes: Sequence[str] | None = None
    source_application_security_group_ids: Sequence[str] | None = None
    destination_address_prefix: str | None = None
    destination_address_prefixes: Sequence[str] | None = None
    destination_application_security_group_ids: Sequence[str] | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        if not _RULE_NAME.match(self.name):
            raise ValueError(f"NSG rule name {self.name!r} is not a valid Azure rule name")
        if not 100 <= self.priority <= 4096:
            raise ValueError(f"priority {self.priority} is not within 100-4096")
        if self.direction not in _DIRECTIONS:
            raise ValueError(f"direction {self.direction!r} is not one of {sorted(_DIRECTIONS)}")
        if self.access not in _ACCESS:
            raise ValueError(f"access {self.access!r} is not one of {sorted(_ACCESS)}")
        if self.protocol not in _PROTOCOLS:
            raise ValueError(f"protocol {self.protocol!r} is not one of {sorted(_PROTOCOLS)}")
        if self.source_port_range is not None and self.source_port_ranges is not None:
            raise ValueError(
                f"rule {self.name} source ports: set source_port_range or "
                "source_port_ranges, not both"
            )
        _exactly_one(
            f"rule {self.name} destination ports",
            destination_port_range=self.destination_port_range,
            destination_port_ranges=self.destination_port_ranges,
        )
        _exactly_one(
            f"rule {self.name} source",
            source_address_prefix=self.source_address_prefix,
            source_address_prefixes=self.source_address_prefixes,
            source_application_security_group_ids=self.source_application_security_group_ids,
        )
        _exactly_one(
            f"rule {self.name} destination",
            destination_address_prefix=self.destination_address_prefix,
            destination_address_prefixes=self.destination_address_prefixes,
            destination_application_security_group_ids=(
                self.destination_application_security_group_ids
            ),
        )
        for single in (self.source_port_range, self.destination_port_range):
            if single is not None:
                _check_port(single)
        for many in (self.source_port_ranges, self.destination_port_ranges):
            if many is not None:
                if isinstance(many, str) or not many:
                    raise ValueError(f"rule {self.name}: port lists must be non-empty lists")
                for spec in many:
                    _check_port(spec)
        if self.description is not None and len(self.description) > _MAX_RULE_DESCRIPTION:
            raise ValueError(
                f"rule {self.name}: description exceeds {_MAX_RULE_DESCRIPTION} characters"
            )

    def to_terraform(self) -> dict[str, Any]:
        return compact(
            {
                "name": self.name,
                "priority": self.priority,
                "direction": self.direction,
                "access": self.access,
                "protocol": self.protocol,
                "source_port_range": (
                    "*"
                    if self.source_port_range is None and self.source_port_ranges is None
                    else self.source_port_range
                ),
                "source_port_ranges": _list_or_none(self.source_port_ranges),
                "destination_port_range": self.destination_port_range,
                "destination_port_ranges": _list_or_none(self.destination_port_ranges),
                "source_address_prefix": self.source_address_prefix,
                "source_address_prefixes": _list_or_none(self.source_address_prefixes),
                "source_application_security_group_ids": _list_or_none(
                    self.source_application_security_group_ids
                ),
                "destination_address_prefix": self.destination_address_prefix,
                "destination_address_prefixes": _list_or_none(self.destination_address_prefixes),
                "destination_application_security_group_ids": _list_or_none(
                    self.destination_application_security_group_ids
                ),
                "description": self.description,
                "resource_group_name": self.resource_group_name,
                "network_security_group_name": self.network_security_group_name,
            }
        )


def _list_or_none(values: Sequence[str] | str | None) -> list[str] | str | None:
    """A list attribute, or a Terraform expression string that evaluates to one
    (e.g. "${var.client_cidrs}"), passed through untouched."""
    if values is None or isinstance(values, str):
        return values
    return list(values)


class NetworkSecurityRule(_NamedAzureResource[NetworkSecurityRuleConfig]):
    TERRAFORM_TYPE = "azurerm_network_security_rule"


@dataclass(frozen=True, kw_only=True)
class SubnetNetworkSecurityGroupAssociationConfig:
    subnet_id: str
    network_security_group_id: str

    def to_terraform(self) -> dict[str, Any]:
        return compact(
            {
                "subnet_id": self.subnet_id,
                "network_security_group_id": self.network_security_group_id,
            }
        )


class SubnetNetworkSecurityGroupAssociation(
    _AzureResource[SubnetNetworkSecurityGroupAssociationConfig]
):
    TERRAFORM_TYPE = "azurerm_subnet_network_security_group_association"
