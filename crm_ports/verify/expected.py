"""The expected side of verify: catalogue + lab -> what should be reachable, per pair of
host groups and peers, with the ports, catalogue flows and citations that ask for it.

It goes through `resolve_lab`, so a lab's own placement and its lab-local rules are
expected like the catalogue's flows; the evaluators never see it. The members group
(`lab-servers`) is a rendering device, "every server", so its flows are stated here for
each server group it stands for.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_ports.catalogue.model import Catalogue
from crm_ports.lab.model import Lab
from crm_ports.resolver.engine import resolve_lab
from crm_ports.ruleset import Group, Rule
from crm_ports.verify.spans import ALL_PORTS, PORTLESS, Spans

PROTOCOLS = ("tcp", "udp", "icmp", "esp")
# Azure Load Balancer's probes come from this address (service tag AzureLoadBalancer).
AZURE_LOAD_BALANCER = "168.63.129.16/32"


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


def expected_reach(catalogue: Catalogue, lab: Lab, cloud: str = "aws") -> Expected:
    """What the catalogue asks the lab's firewalls to allow, in `cloud`.

    The cloud's load balancer (`load_balancer: cloud`) is the one thing the clouds see
    differently. On AWS the ALB is a holder of its own security group, so it is expected
    like a server. Azure Load Balancer passes the client's address on and probes from
    168.63.129.16: traffic into the balancer is expected straight into the groups behind
    it, and the balancer's own traffic from that address, as an outside peer."""
    ruleset = resolve_lab(catalogue, lab)
    members = next((g for g in ruleset.groups if g.is_members), None)
    seen_through = cloud == "azure"
    balancers = {g.name for g in ruleset.groups if g.is_balancer}
    behind = {b: sorted({r.target for r in ruleset.outbound(b)}) for b in balancers}
    servers = tuple(
        g.name
        for g in ruleset.groups
        if not g.is_peer and not g.is_members and not (seen_through and g.is_balancer)
    )
    peers = tuple(Peer(g.name, g.cidr_option, tuple(g.cidrs)) for g in ruleset.groups if g.is_peer)
    if seen_through:
        peers += tuple(Peer(name, None, (AZURE_LOAD_BALANCER,)) for name in sorted(balancers))
    wants: list[Want] = []
    for rule in ruleset.rules:
        targets = (
            behind[rule.target] if seen_through and rule.target in balancers else [rule.target]
        )
        for target in targets:
            if target != rule.source:
                wants.extend(_wants(rule, target, members))
    return Expected(
        lab=lab.name,
        servers=servers,
        peers=peers,
        wants=tuple(wants),
    )


def _wants(rule: Rule, target: str, members: Group | None) -> list[Want]:
    """One resolved rule as wants per protocol and (for the members group) per server."""
    wants: list[Want] = []
    protocols = PROTOCOLS if rule.protocol.value == "all" else (rule.protocol.value,)
    sources = (
        tuple(s for s in members.members if s != target)
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
            Want(source, target, protocol, ports, rule.flows, rule.refs, rule.id)
            for source in sources
        )
    return wants
