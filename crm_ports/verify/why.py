"""`crm-ports why`: one packet, one answer per stack, with the rules that decide it and
the catalogue flows (and their citations) that ask for it, or why nothing allows it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from crm_ports.errors import InputError
from crm_ports.verify.compare import principals
from crm_ports.verify.expected import PROTOCOLS, Expected, Want
from crm_ports.verify.model import Firewall, Principal, Verdict
from crm_ports.verify.spans import MAX_PORT, PORTLESS, Spans, cidr_span

_PACKET = re.compile(r"^(tcp|udp|icmp|esp)(?:/(\d{1,5}))?$", re.IGNORECASE)


@dataclass(frozen=True)
class Packet:
    protocol: str
    port: int

    def __str__(self) -> str:
        if self.protocol in PORTLESS:
            return self.protocol.upper()
        return f"{self.protocol.upper()} {self.port}"


def parse_packet(text: str) -> Packet:
    """'tcp/1433', 'udp/53', 'icmp', 'esp'."""
    match = _PACKET.match(text.strip())
    if not match or (match.group(1).lower() not in PORTLESS and match.group(2) is None):
        raise InputError("command line", "why", "PROTO/PORT", f"'{text}': expected e.g. tcp/1433")
    port = int(match.group(2) or 0)
    if port > MAX_PORT:
        raise InputError("command line", "why", "PROTO/PORT", f"port {port} is outside 0-65535")
    protocol = match.group(1).lower()
    if protocol not in PROTOCOLS:  # the pattern only matches these; kept under `python -O`
        raise InputError("command line", "why", "PROTO/PORT", f"'{text}': unknown protocol")
    return Packet(protocol, port)


class UnknownName(InputError):
    """FROM or TO is not a principal of this lab (it may be of another one)."""


def find(name: str, known: list[Principal], side: str) -> Principal:
    for principal in known:
        if principal.name == name:
            return principal
    try:
        addresses = cidr_span(name)
    except ValueError:
        names = ", ".join(p.name for p in known)
        raise UnknownName(
            "command line", "why", side, f"'{name}' is no host group, peer or IPv4 range ({names})"
        ) from None
    return Principal(name, "address", addresses)


@dataclass(frozen=True)
class Answer:
    stack: str
    packet: Packet
    source: str
    target: str
    verdict: Verdict
    wants: tuple[Want, ...]
    refs: tuple[str, ...]

    @property
    def agrees(self) -> bool:
        return self.verdict.full == bool(self.wants)

    def text(self) -> str:
        head = f"{self.stack}: {self.packet} from {self.source} to {self.target}: "
        lines = [head + ("allowed" if self.verdict.full else "not allowed")]
        if self.verdict.full:
            lines.append("  by " + ", ".join(self.verdict.rules))
        else:
            lines.append("  " + self.verdict.reason)
        if self.wants:
            for want in self.wants:
                lines.append(f"  catalogue: flow {', '.join(want.flows)} (rule {want.rule})")
            lines.extend(f"    {ref}" for ref in self.refs)
        else:
            lines.append("  catalogue: no flow asks for it")
        if not self.agrees:
            lines.append("  the stack and the catalogue disagree: run `crm-ports verify`")
        return "\n".join(lines) + "\n"


def explain(
    expected: Expected,
    firewall: Firewall,
    stack: str,
    source_name: str,
    target_name: str,
    packet: Packet,
) -> Answer:
    known, _ = principals(expected, firewall)
    source = find(source_name, known, "FROM")
    target = find(target_name, known, "TO")
    if source.kind == "address" and target.kind == "address":
        raise InputError("command line", "why", "TO", "name a host group or peer on one side")
    verdict = firewall.decide(source, target, packet.protocol, packet.port)
    port = Spans.one(packet.port, packet.port)
    sources = [source.name]
    if source.kind == "address":  # the peers the address belongs to
        sources = [
            p.name
            for p in known
            if p.kind == "peer"
            and p.addresses is not None
            and p.addresses.covers(source.addresses or Spans())
        ]
    wants = tuple(
        w
        for name in sources
        for w in expected.between(name, target.name, packet.protocol)
        if w.ports.overlaps(port)
    )
    refs = tuple(sorted({ref for w in wants for ref in w.refs}))
    return Answer(stack, packet, source.name, target.name, verdict, wants, refs)
