"""An NSG's security rules, the resource group's application security groups and the
network interfaces holding them, as Azure Resource Manager reports them, in the plain
values the inference reads (`crm_ports.adopt.live`: one live group per ASG, one live
rule per source, destination ASG and port range of an ARM rule).

The reading and its errors are the audit's (`crm_ports.audit.azure`): same client, same
credentials, same one-line messages. ARM writes one value in `x` and several in `xs`
(`destinationPortRange` / `destinationPortRanges`), `*` for any, and references ASGs by
id objects whose case may differ from the ASG's own id; all of that stops here. What the
inference cannot read (deny and outbound rules, destinations that are no ASG, service
tags) is kept as report lines."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crm_ports.adopt.live import Estate, LiveGroup, LiveRule
from crm_ports.audit.azure import AzureTarget, NetworkClient, translated
from crm_ports.audit.azure_live import model_field, model_text
from crm_ports.errors import InputError
from crm_ports.net import INTERNET

PROTOCOLS = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "*": "-1"}
# What the first apply does to a live rule the lab leaves out: Terraform holds the NSG's
# rules as one inline set (`crm_ports.constructs.azure`), so it removes it.
REMOVED = "the first apply removes it (the NSG's rules are one set in Terraform)"


@dataclass(frozen=True)
class LiveNsg:
    id: str
    name: str
    location: str
    subnets: tuple[str, ...]  # ids of the subnets it is associated with


@dataclass(frozen=True)
class AzureEstate:
    """The estate (`estate.rules` are the parts of the ARM rules), the NSG, where each
    part came from and the report lines for the rules the inference cannot read."""

    estate: Estate
    nsg: LiveNsg
    resource_group: str
    rule_ids: Mapping[str, str]  # part's rule_id -> the ARM rule's id
    others: tuple[str, ...]


def _many(model: Any, many: str, one: str) -> list[str]:
    values = model_field(model, many) or []
    single = model_field(model, one)
    return [model_text(v) for v in values] or ([model_text(single)] if single else [])


def _ports(text: str) -> tuple[int, int]:
    if text == "*":
        return 0, 65535
    low, _, high = text.partition("-")
    return int(low), int(high or low)


def _cidr(prefix: str) -> str | None:
    """An address prefix as a CIDR; the internet's spellings as they are; None for a
    service tag (VirtualNetwork, AzureLoadBalancer), which no lab range can say."""
    if prefix.strip().lower() in INTERNET:
        return prefix
    try:
        return str(ipaddress.ip_network(prefix, strict=False))
    except ValueError:
        return None


def _asg_ids(model: Any, name: str, canonical: Mapping[str, str]) -> list[str]:
    return [
        canonical.get(str(model_field(ref, "id")).lower(), str(model_field(ref, "id")))
        for ref in model_field(model, name) or []
    ]


def _parts(
    rule: Any, canonical: Mapping[str, str]
) -> tuple[list[tuple[str, str | None, str | None, str, int, int]], str]:
    """(destination ASG, source ASG, source CIDR, protocol, first, last port) per part of
    an ARM rule, or no parts and why the inference cannot read it."""
    name = model_text(model_field(rule, "name"))
    direction = model_text(model_field(rule, "direction"))
    access = model_text(model_field(rule, "access"))
    protocol = PROTOCOLS.get(model_text(model_field(rule, "protocol")).lower(), "")
    if direction != "Inbound" or access != "Allow":
        return [], f"{direction.lower()} {access.lower()} rule"
    if _many(rule, "source_port_ranges", "source_port_range") not in ([], ["*"]):
        return [], "it limits source ports"
    if not protocol:
        return [], f"protocol {model_text(model_field(rule, 'protocol'))}"
    targets = _asg_ids(rule, "destination_application_security_groups", canonical)
    if not targets:
        where = ", ".join(_many(rule, "destination_address_prefixes", "destination_address_prefix"))
        return [], f"its destination ({where}) is no application security group"
    sources: list[tuple[str | None, str | None]] = [
        (asg, None) for asg in _asg_ids(rule, "source_application_security_groups", canonical)
    ]
    for prefix in _many(rule, "source_address_prefixes", "source_address_prefix"):
        cidr = _cidr(prefix)
        if cidr is None:
            return [], f"its source {prefix} is a service tag, which no lab range can say"
        sources.append((None, cidr))
    ports = _many(rule, "destination_port_ranges", "destination_port_range") or ["*"]
    out = [
        (target, asg, cidr, protocol, *_ports(text))
        for target in targets
        for asg, cidr in sources
        for text in ports
    ]
    if not out:
        return [], f"rule {name} names no source"
    return out, ""


def read_estate(client: NetworkClient, target: AzureTarget, nsg_name: str) -> AzureEstate:
    """The NSG's rules and the ASGs they name; an unknown NSG or resource group, an ASG
    in another resource group or location, and an NSG with no rule into an ASG are one
    line each."""
    group = target.resource_group
    missing = f"no network security group '{nsg_name}' in resource group '{group}'"
    with translated(target, nsg_name, not_found=missing):
        nsg = client.network_security_groups.get(group, nsg_name)
        rules = list(client.security_rules.list(group, nsg_name))
        asgs = list(client.application_security_groups.list(group))
        nics = list(client.network_interfaces.list(group))
    live_nsg = LiveNsg(
        id=str(model_field(nsg, "id")),
        name=str(model_field(nsg, "name")),
        location=str(model_field(nsg, "location")),
        subnets=tuple(sorted(str(model_field(s, "id")) for s in model_field(nsg, "subnets") or [])),
    )
    canonical = {str(model_field(a, "id")).lower(): str(model_field(a, "id")) for a in asgs}
    by_id = {str(model_field(a, "id")): a for a in asgs}
    parts: list[LiveRule] = []
    rule_ids: dict[str, str] = {}
    others: list[str] = []
    used: set[str] = set()
    for rule in sorted(rules, key=lambda r: str(model_field(r, "name"))):
        name = str(model_field(rule, "name"))
        found, why = _parts(rule, canonical)
        if not found:
            others.append(f"{name} (priority {model_field(rule, 'priority')}): {why}; {REMOVED}")
            continue
        for n, (asg, peer, cidr, protocol, low, high) in enumerate(found):
            for ref in (asg, peer):
                if ref is not None and ref not in by_id:
                    raise InputError(
                        target.where,
                        f"rule '{name}'",
                        "application security group",
                        f"{ref} is not in resource group '{group}': adopt reads the NSG's "
                        "resource group only",
                    )
            every = protocol in ("-1", "icmp")
            part = LiveRule(
                rule_id=name if len(found) == 1 else f"{name}#{n + 1}",
                group_id=asg,
                egress=False,
                protocol=protocol,
                from_port=None if every else low,
                to_port=None if every else high,
                cidr=cidr,
                peer_group=peer,
            )
            rule_ids[part.rule_id] = str(model_field(rule, "id"))
            parts.append(part)
            used.add(asg)
    if not parts:
        raise InputError(
            target.where,
            "",
            "nsg",
            f"network security group '{nsg_name}' has no rule allowing traffic into an "
            "application security group: nothing to adopt",
        )
    for asg_id in sorted(used):
        location = str(model_field(by_id[asg_id], "location"))
        if location != live_nsg.location:
            raise InputError(
                target.where,
                f"application security group '{model_field(by_id[asg_id], 'name')}'",
                "location",
                f"is in {location}, the NSG in {live_nsg.location}: a lab keeps its NSG "
                "and ASGs in one location",
            )
    holders = _holders(nics)
    groups = tuple(
        LiveGroup(
            group_id=asg_id,
            name=str(model_field(by_id[asg_id], "name")),
            description="",
            holders=tuple(sorted(holders.get(asg_id.lower(), ()))),
        )
        for asg_id in sorted(used)
    )
    estate = Estate(live_nsg.id, target.where, groups, tuple(parts))
    return AzureEstate(estate, live_nsg, group, rule_ids, tuple(others))


def _holders(nics: list[Any]) -> dict[str, set[str]]:
    """ASG id (lower case) -> the names of the network interfaces whose IP
    configurations carry it."""
    out: dict[str, set[str]] = {}
    for nic in nics:
        for config in model_field(nic, "ip_configurations") or []:
            for ref in model_field(config, "application_security_groups") or []:
                out.setdefault(str(model_field(ref, "id")).lower(), set()).add(
                    str(model_field(nic, "name"))
                )
    return out
