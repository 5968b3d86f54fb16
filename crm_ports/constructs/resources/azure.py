"""Typed ``hashicorp/azurerm`` (4.x) provider and the resources crm-ports emits.

No azurerm binary is reachable from our CI, so attribute names were checked
against the generated ``synthesizeAttributes`` of cdktf-cdktf-provider-azurerm
14.23.1 (built from azurerm 4.55.0) instead of a live schema.

The lab's NSG carries its rules inline (``security_rule``): azurerm then writes the whole
rule set in one request, which Azure validates as a whole, so a change that moves one
rule's priority onto a slot another rule is leaving never meets the refusal of two rules
at one priority that separate ``azurerm_network_security_rule`` resources, written one by
one, run into. ``NetworkSecurityRule`` stays for apps that manage rules one by one.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from constructs import Construct

from crm_ports.constructs.cdk import (
    TerraformProvider,
    TerraformProviderGeneratorMetadata,
)
from crm_ports.constructs.resources._base import NULL, C, JsonResource, compact, with_nulls

__all__ = [
    "AZURERM_PROVIDER_SOURCE",
    "AZURERM_PROVIDER_VERSION",
    "ApplicationSecurityGroup",
    "ApplicationSecurityGroupConfig",
    "AzurermProvider",
    "AzurermProviderConfig",
    "NetworkSecurityGroup",
    "NetworkSecurityGroupConfig",
    "NetworkSecurityGroupSecurityRule",
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
    """An ASG and an NSG take the same four attributes (the NSG also its rules)."""

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
class NetworkSecurityGroupSecurityRule:
    """One rule of an NSG's inline ``security_rule`` set (the prebuilt bindings' struct
    of the same name).

    The checks mirror what ARM rejects at apply time (priority range, one
    port spec and one address spec per side) so a bad catalogue entry fails
    during synthesis instead of halfway through a deployment.
    """

    name: str
    priority: int
    direction: str
    access: str
    protocol: str
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

    def rule_attributes(self) -> dict[str, Any]:
        """The rule's own attributes, None where unset."""
        return {
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
        }

    def to_terraform(self) -> dict[str, Any]:
        """Every attribute, unset ones as null: ``security_rule`` is a block that azurerm
        takes in attribute syntax, where an object must name them all (the bindings
        write it so too)."""
        return {
            key: NULL if value is None else value
            for key, value in sorted(self.rule_attributes().items())
        }


@dataclass(frozen=True, kw_only=True)
class NetworkSecurityRuleConfig(NetworkSecurityGroupSecurityRule):
    """One standalone ``azurerm_network_security_rule``: the inline rule's attributes
    plus the NSG it belongs to."""

    resource_group_name: str
    network_security_group_name: str

    def to_terraform(self) -> dict[str, Any]:
        return compact(
            {
                **self.rule_attributes(),
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
class NetworkSecurityGroupConfig(_GroupConfig):
    """An NSG; with `security_rule` given (an empty list included) it owns its whole rule
    set, and azurerm removes any rule it does not list."""

    security_rule: Sequence[NetworkSecurityGroupSecurityRule] | None = None

    def __post_init__(self) -> None:
        names = [r.name for r in self.security_rule or ()]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"NSG {self.name}: security rule names used twice: {twice}")

    def to_terraform(self) -> dict[str, Any]:
        attributes = super().to_terraform()
        if self.security_rule is not None:
            attributes["security_rule"] = [r.to_terraform() for r in self.security_rule]
        return attributes


class NetworkSecurityGroup(_NamedAzureResource[NetworkSecurityGroupConfig]):
    TERRAFORM_TYPE = "azurerm_network_security_group"

    def __init__(self, *args: Any, **kw: Any) -> None:
        self._crm_rule_overrides: list[tuple[str, str, Any]] = []  # before Node can call
        super().__init__(*args, **kw)

    def override_security_rule(self, name: str, path: str, value: Any) -> None:
        """What `add_override` does, for one inline rule, found by name (its place in the
        list is no identity): `path` is dotted (`description`). Applied at synthesis, so
        it reaches rules that are only known then; an unknown name fails there."""
        if not path or any(not part for part in path.split(".")):
            raise ValueError(f"invalid override path {path!r}")
        self._crm_rule_overrides.append((name, path, value))

    def _crm_body(self) -> dict[str, Any]:
        """The attributes before the rule overrides (a per-role lab's come late)."""
        return self._crm_attributes

    def _synthesize_attributes(self) -> Mapping[str, Any]:
        attributes = self._crm_body()
        if self._crm_rule_overrides:
            attributes = copy.deepcopy(attributes)
            for name, path, value in self._crm_rule_overrides:
                override_inline_rule(attributes, name, path, value)
        synthesized: Mapping[str, Any] = with_nulls(attributes)
        return synthesized


def override_inline_rule(attributes: dict[str, Any], name: str, path: str, value: Any) -> None:
    """Set `path` of the inline security rule `name` in an NSG's attribute body."""
    parts = path.split(".")
    if not path or any(not part for part in parts):
        raise ValueError(f"invalid override path {path!r}")
    rule = next((r for r in attributes.get("security_rule") or () if r.get("name") == name), None)
    if rule is None:
        raise KeyError(f"the NSG has no security rule named {name!r}")
    for part in parts[:-1]:
        rule = rule.setdefault(part, {})
    rule[parts[-1]] = compact({"value": value}).get("value", NULL)


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
