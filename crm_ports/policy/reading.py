"""Ports and sources read off a rule of the rule set, or off a rule resource as Terraform
would apply it (AWS ingress rules; Azure rules, standalone or inline), so that every
check judges the two in the same terms: port spans and source ranges.

A value that cannot be read (a hand edit, a variable) is judged as every port: a check
that skipped it would pass what it cannot see.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from crm_ports.net import Protocol
from crm_ports.plans.text import RULE_TAG
from crm_ports.policy.base import Stack
from crm_ports.ruleset import Rule
from crm_ports.terraform.resources import (
    AWS_INGRESS_KINDS,
    AZURE_RULE_KINDS,
    Resources,
    resource_type,
)

ALL_PORTS = (0, 65535)

Span = tuple[int, int]


def overlaps(spans: Iterable[Span], guarded: Iterable[Span]) -> list[Span]:
    return sorted({g for s in spans for g in guarded if s[0] <= g[1] and g[0] <= s[1]})


def rule_spans(rule: Rule) -> list[Span]:
    if rule.protocol == Protocol.ALL:
        return [ALL_PORTS]
    if rule.protocol in (Protocol.ICMP, Protocol.ESP):
        return []
    return [(rule.ports.start, rule.ports.end)]


def aws_spans(attributes: dict[str, Any]) -> list[Span]:
    protocol = str(attributes.get("ip_protocol", "")).lower()
    if protocol in ("-1", "all"):
        return [ALL_PORTS]
    if protocol in ("icmp", "1", "icmpv6", "58", "esp", "50"):
        return []
    low, high = attributes.get("from_port"), attributes.get("to_port")
    if not isinstance(low, int) or not isinstance(high, int) or low < 0:
        return [ALL_PORTS]
    return [(low, high)]


def azure_spans(attributes: dict[str, Any]) -> list[Span]:
    if str(attributes.get("protocol", "")).lower() in ("icmp", "esp"):
        return []
    texts = list(attributes.get("destination_port_ranges") or ())
    if attributes.get("destination_port_range") is not None:
        texts.append(attributes["destination_port_range"])
    spans = []
    for text in texts:
        if str(text).strip() == "*":
            return [ALL_PORTS]
        low, _, high = str(text).partition("-")
        try:
            spans.append((int(low), int(high or low)))
        except ValueError:  # a hand-edited value we cannot read: judge it as every port
            return [ALL_PORTS]
    return spans


def aws_sources(attributes: dict[str, Any]) -> list[str]:
    return [str(attributes[k]) for k in ("cidr_ipv4", "cidr_ipv6") if attributes.get(k)]


def azure_sources(attributes: dict[str, Any]) -> list[str]:
    prefixes = list(attributes.get("source_address_prefixes") or ())
    if attributes.get("source_address_prefix") is not None:
        prefixes.append(attributes["source_address_prefix"])
    return [str(p) for p in prefixes]


def azure_allows_inbound(attributes: dict[str, Any]) -> bool:
    allow = str(attributes.get("access", "")).lower() == "allow"
    return allow and str(attributes.get("direction", "")).lower() == "inbound"


def inbound(stack: Stack) -> Iterator[tuple[str, dict[str, Any], list[str], list[Span]]]:
    """(address, attributes, sources, port spans) of every rule that admits traffic."""
    for address, attributes in stack.resources.items():
        kind = resource_type(address)
        if kind in AWS_INGRESS_KINDS:
            yield address, attributes, aws_sources(attributes), aws_spans(attributes)
        elif kind in AZURE_RULE_KINDS and azure_allows_inbound(attributes):
            yield address, attributes, azure_sources(attributes), azure_spans(attributes)


def span_text(spans: list[Span]) -> str:
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def rule_tags(resources: Resources) -> dict[str, tuple[str, ...]]:
    """AWS rule address -> the rule id its `crm-ports:rule` tag names."""
    out: dict[str, tuple[str, ...]] = {}
    for address, attributes in resources.items():
        tags = attributes.get("tags")
        if isinstance(tags, dict) and RULE_TAG in tags:
            out[address] = (str(tags[RULE_TAG]),)
    return out
