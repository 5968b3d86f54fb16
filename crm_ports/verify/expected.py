"""The expected side of verify: catalogue + lab -> what should be reachable, per pair of
host groups and peers, with the ports, catalogue flows and citations that ask for it.

It goes through `resolve_lab`, so a lab's own placement and its lab-local rules are
expected like the catalogue's flows; the evaluators never see it. The members group
(`lab-servers`) is a rendering device, "every server", so its flows are stated here for
each server group it stands for.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_ports.lab import Lab
from crm_ports.model import Catalogue
from crm_ports.resolver import resolve_lab
from crm_ports.verify.spans import ALL_PORTS, PORTLESS, Spans

PROTOCOLS = ("tcp", "udp", "icmp", "esp")


@dataclass(frozen=True)
class Peer:
    """An outside peer: its name, the option (and stack variable) holding its ranges, and
    the lab's ranges, used when a stack has no such variable."""

    name: str
    option: str | None
    cidrs: tuple[str, ...]


@dataclass(frozen=True)
class Want:
    """Traffic the catalogue asks for: from `source` into `target` on these ports."""

    source: str
    target: str
    protocol: str  # tcp | udp | icmp | esp
    ports: Spans
    flows: tuple[str, ...]
    refs: tuple[str, ...]
    rule: str  # the resolved rule id, to name it in messages


@dataclass(frozen=True)
class Expected:
    lab: str
    servers: tuple[str, ...]
    peers: tuple[Peer, ...]
    wants: tuple[Want, ...]

    def between(self, source: str, target: str, protocol: str) -> tuple[Want, ...]:
        return tuple(
            w
            for w in self.wants
            if w.source == source and w.target == target and w.protocol == protocol
        )


def expected_reach(catalogue: Catalogue, lab: Lab) -> Expected:
    """What the catalogue asks the lab's firewalls to allow."""
    ruleset = resolve_lab(catalogue, lab)
    members = next((g for g in ruleset.groups if g.is_members), None)
    servers = tuple(g.name for g in ruleset.groups if not g.is_peer and not g.is_members)
    peers = tuple(Peer(g.name, g.cidr_option, tuple(g.cidrs)) for g in ruleset.groups if g.is_peer)
    wants: list[Want] = []
    for rule in ruleset.rules:
        protocols = PROTOCOLS if rule.protocol.value == "all" else (rule.protocol.value,)
        sources = (
            tuple(s for s in members.members if s != rule.target)
            if members is not None and rule.source == members.name
            else (rule.source,)
        )
        for protocol in protocols:
            ports = (
                ALL_PORTS
                if rule.protocol.value == "all" or protocol in PORTLESS
                else Spans.one(rule.ports.start, rule.ports.end)
            )
            wants.extend(
                Want(source, rule.target, protocol, ports, rule.flows, rule.refs, rule.id)
                for source in sources
            )
    return Expected(
        lab=lab.name,
        servers=servers,
        peers=peers,
        wants=tuple(wants),
    )
