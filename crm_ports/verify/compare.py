"""Expected against effective: every flow allowed on every one of its ports, and nothing
allowed into a lab server that no flow asks for.

Effective reachability is asked of the evaluator port by port, but only once per stretch
of ports no rule boundary splits, so a 16,000-port RPC range costs one question. Traffic
into an outside peer is checked only for the flows that need it: the peer's own firewall
is not in the stack, and AWS's allow-all egress (a lab setting) opens every outbound port
on purpose. A host group's traffic to itself crosses no firewall and is not compared.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from crm_ports.verify.expected import PROTOCOLS, Expected, Want
from crm_ports.verify.model import Firewall, Principal, source_label
from crm_ports.verify.spans import MAX_PORT, PORTLESS, Spans, cidr_span


@dataclass(frozen=True)
class Missing:
    """A flow the stack does not allow (on some of its ports)."""

    source: str
    target: str
    protocol: str
    ports: Spans
    flows: tuple[str, ...]
    rule: str
    reason: str

    def text(self) -> str:
        flows = ", ".join(self.flows)
        return (
            f"{self.protocol.upper()} {self.ports.ports_text()} from {self.source} to "
            f"{self.target} is not allowed (flow {flows}; rule {self.rule}): {self.reason}"
        )


@dataclass(frozen=True)
class Extra:
    """Reach no flow asks for: from a host group, a peer or an address range."""

    source: str
    target: str
    protocol: str
    ports: Spans
    rules: tuple[str, ...]

    def text(self) -> str:
        return (
            f"{self.protocol.upper()} {self.ports.ports_text()} from {self.source} to "
            f"{self.target} is allowed but no flow asks for it (by {', '.join(self.rules)})"
        )


@dataclass(frozen=True)
class Result:
    lab: str
    stack: str
    cloud: str
    flows: int  # (source, target, protocol) pairs the catalogue asks for
    missing: tuple[Missing, ...]
    extra: tuple[Extra, ...]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.extra


def principals(expected: Expected, firewall: Firewall) -> tuple[list[Principal], list[str]]:
    """The lab's host groups as the stack places them, and its peers with the ranges the
    stack's variables give them; plus a note for each host group the stack lacks."""
    out: list[Principal] = []
    notes: list[str] = []
    for name in expected.servers:
        server = firewall.server(name)
        if server is None:
            notes.append(name)
            continue
        out.append(server)
    for peer in expected.peers:
        cidrs = (firewall.variable_cidrs(peer.option) if peer.option else None) or peer.cidrs
        addresses = Spans()
        for cidr in cidrs:
            addresses = addresses | cidr_span(cidr)
        if addresses:
            out.append(Principal(peer.name, "peer", addresses))
    return out, notes


def segments(boundaries: set[int], protocol: str) -> Iterator[tuple[int, int]]:
    """Stretches of ports over which no rule's verdict can change."""
    if protocol in PORTLESS:
        yield (0, MAX_PORT)
        return
    points = sorted({0, *(b for b in boundaries if 0 < b <= MAX_PORT)})
    for index, start in enumerate(points):
        end = points[index + 1] - 1 if index + 1 < len(points) else MAX_PORT
        yield (start, end)


def _boundaries(firewall: Firewall, wants: tuple[Want, ...], protocol: str) -> set[int]:
    out = set(firewall.boundaries(protocol))
    for want in wants:
        if want.protocol == protocol:
            for start, end in want.ports:
                out.update((start, end + 1))
    return out


def _group(items: list[tuple[int, int, tuple[str, ...]]]) -> dict[tuple[str, ...], Spans]:
    out: dict[tuple[str, ...], Spans] = {}
    for start, end, key in items:
        out[key] = out.get(key, Spans()) | Spans.one(start, end)
    return out


def _absent(expected: Expected, names: list[str]) -> list[Missing]:
    """Every flow of a host group the stack's outputs do not place."""
    return [
        Missing(
            w.source,
            w.target,
            w.protocol,
            w.ports,
            w.flows,
            w.rule,
            f"host group {name} has no instances in the stack's outputs",
        )
        for name in names
        for w in expected.wants
        if name in (w.source, w.target)
    ]


def _pair(
    firewall: Firewall,
    source: Principal,
    target: Principal,
    protocol: str,
    stretches: list[tuple[int, int]],
    wants: tuple[Want, ...],
) -> tuple[list[Missing], list[Extra]]:
    """One (source, target, protocol): the wanted ports not allowed for every address of
    the source, and, into a server, the allowed ports nobody wants."""
    wanted = Spans()
    for want in wants:
        wanted = wanted | want.ports
    allowed = Spans()
    reasons: dict[int, str] = {}
    extra: list[Extra] = []
    for start, end in stretches:
        span = Spans.one(start, end)
        if not target.is_server and not wanted.overlaps(span):
            continue
        verdict = firewall.decide(source, target, protocol, start)
        if verdict.full:
            allowed = allowed | span
        else:
            reasons[start] = verdict.reason
        if verdict.partial and target.is_server and not wanted.covers(span):
            extra.append(Extra(source.name, target.name, protocol, span - wanted, verdict.rules))
    missing = []
    for want in wants:
        gap = want.ports - allowed
        if gap:
            first = max(s for s, _ in stretches if s <= gap.items[0][0])
            reason = reasons.get(first, "not allowed")
            missing.append(
                Missing(source.name, target.name, protocol, gap, want.flows, want.rule, reason)
            )
    return missing, extra


def _from_addresses(
    firewall: Firewall,
    target: Principal,
    protocol: str,
    stretches: list[tuple[int, int]],
    known: Spans,
) -> list[Extra]:
    """Reach into a server from addresses no host group or peer holds (0.0.0.0/0, a
    stray range, any IPv6 range), named as the rule wrote the source."""
    found: list[tuple[int, int, tuple[str, ...]]] = []
    for start, end in stretches:
        for reach in firewall.address_reach(target, protocol, start):
            if reach.ipv6 or reach.addresses - known:
                found.append((start, end, (source_label(reach.source), reach.rule)))
    return [
        Extra(label, target.name, protocol, ports, (rule,))
        for (label, rule), ports in _group(found).items()
    ]


def compare(expected: Expected, firewall: Firewall, stack: str) -> Result:
    everyone, absent = principals(expected, firewall)
    missing = _absent(expected, absent)
    extra: list[Extra] = []
    known = firewall.lab_addresses()
    for principal in everyone:
        if principal.addresses is not None and principal.kind == "peer":
            known = known | principal.addresses
    pairs = 0
    for protocol in PROTOCOLS:
        stretches = list(segments(_boundaries(firewall, expected.wants, protocol), protocol))
        for target in everyone:
            for source in everyone:
                if source is target or (not source.is_server and not target.is_server):
                    continue
                wants = expected.between(source.name, target.name, protocol)
                pairs += bool(wants)
                lost, more = _pair(firewall, source, target, protocol, stretches, wants)
                missing.extend(lost)
                extra.extend(more)
            if target.is_server:
                extra.extend(_from_addresses(firewall, target, protocol, stretches, known))
    return Result(
        lab=expected.lab,
        stack=stack,
        cloud=firewall.cloud,
        flows=pairs,
        missing=tuple(_merge_missing(missing)),
        extra=tuple(_merge_extra(extra)),
    )


def _merge_missing(items: list[Missing]) -> list[Missing]:
    merged: dict[tuple[str, str, str, tuple[str, ...], str], Missing] = {}
    for item in items:
        key = (item.source, item.target, item.protocol, item.flows, item.rule)
        if key in merged:
            old = merged[key]
            item = Missing(*key[:3], old.ports | item.ports, item.flows, item.rule, old.reason)
        merged[key] = item
    return sorted(merged.values(), key=lambda m: (m.target, m.source, m.protocol, m.ports.items))


def _merge_extra(items: list[Extra]) -> list[Extra]:
    merged: dict[tuple[str, str, str], Extra] = {}
    for item in items:
        key = (item.source, item.target, item.protocol)
        if key in merged:
            old = merged[key]
            rules = tuple(sorted({*old.rules, *item.rules}))
            item = Extra(*key, old.ports | item.ports, rules)
        merged[key] = Extra(*key, item.ports, tuple(sorted(set(item.rules))))
    return sorted(merged.values(), key=lambda e: (e.target, e.source, e.protocol, e.ports.items))
