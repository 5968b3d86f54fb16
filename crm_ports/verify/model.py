"""What the evaluators answer about: principals (a lab host group's instances, or an
outside peer's address ranges) and the verdict on one packet, with the rules that decided
it, as Azure Network Watcher's "IP flow verify" or AWS Reachability Analyzer would say."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from crm_ports.net import internet_wide
from crm_ports.verify.spans import Spans


@dataclass(frozen=True)
class Principal:
    """A source or destination of traffic.

    Servers are identified by the groups their instances carry (security groups, ASGs)
    and, when the stack creates the subnet, by its addresses; peers by their ranges."""

    name: str
    kind: str  # "server" | "peer" | "address"
    addresses: Spans | None
    identities: frozenset[str] = frozenset()

    @property
    def is_server(self) -> bool:
        return self.kind == "server"


@dataclass(frozen=True)
class Verdict:
    """`full`: every address of the source is allowed; `partial`: some are. `rules` are
    the resource addresses (or Azure default rule names) that decided."""

    full: bool
    partial: bool
    rules: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class AddressReach:
    """Part of the address space a rule lets into a server: `source` as the rule wrote it
    (a CIDR, a service tag)."""

    addresses: Spans
    rule: str
    source: str
    ipv6: bool = False  # an IPv6 range: never a lab peer (they are IPv4), always extra


class Firewall(Protocol):
    """A stack evaluated with its cloud's semantics."""

    cloud: str

    def server(self, name: str) -> Principal | None: ...

    def boundaries(self, protocol: str) -> set[int]: ...

    def decide(self, source: Principal, target: Principal, protocol: str, port: int) -> Verdict: ...

    def address_reach(self, target: Principal, protocol: str, port: int) -> list[AddressReach]: ...

    def variable_cidrs(self, option: str) -> tuple[str, ...] | None: ...

    def lab_addresses(self) -> Spans: ...


def source_label(source: str) -> str:
    """'0.0.0.0/0 (the internet)' for internet-wide sources (as the policy checks judge
    them), else the source as written."""
    return f"{source} (the internet)" if internet_wide(source) else source
