"""Sets of integers kept as sorted, disjoint, inclusive intervals: ports and IPv4 addresses.

Both dimensions of a firewall rule are integer ranges, and the questions verify asks
("is every port of this flow allowed?", "which part of 0.0.0.0/0 is no known peer?") are
union, intersection and difference of such sets. Python's `ipaddress` parses CIDRs but
has no set algebra over arbitrary ranges, and the interval libraries on PyPI model
continuous intervals without type hints; this is the few lines we need, exactly.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from crm_ports.net import PortRange

MAX_PORT = 65535
MAX_ADDRESS = 2**32 - 1

# Protocols without ports: a rule for one of them admits the whole protocol.
PORTLESS = ("all", "icmp", "esp")


@dataclass(frozen=True)
class Spans:
    """An immutable set of integers as ((start, end), ...), inclusive, sorted, disjoint,
    and never two adjacent intervals (so equal sets compare equal)."""

    items: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, pairs: Iterable[tuple[int, int]]) -> Spans:
        merged: list[tuple[int, int]] = []
        for start, end in sorted(p for p in pairs if p[0] <= p[1]):
            if merged and start <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return cls(tuple(merged))

    @classmethod
    def one(cls, start: int, end: int) -> Spans:
        return cls(((start, end),) if start <= end else ())

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and any(a <= value <= b for a, b in self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self.items)

    def __or__(self, other: Spans) -> Spans:
        return Spans.of([*self.items, *other.items])

    def __and__(self, other: Spans) -> Spans:
        out = []
        i = j = 0
        while i < len(self.items) and j < len(other.items):
            (a, b), (c, d) = self.items[i], other.items[j]
            if max(a, c) <= min(b, d):
                out.append((max(a, c), min(b, d)))
            if b < d:
                i += 1
            else:
                j += 1
        return Spans(tuple(out))

    def __sub__(self, other: Spans) -> Spans:
        out: list[tuple[int, int]] = []
        for start, end in self.items:
            cursor = start
            for c, d in other.items:
                if d < cursor or c > end:
                    continue
                if c > cursor:
                    out.append((cursor, c - 1))
                cursor = max(cursor, d + 1)
                if cursor > end:
                    break
            if cursor <= end:
                out.append((cursor, end))
        return Spans(tuple(out))

    def covers(self, other: Spans) -> bool:
        return not (other - self)

    def overlaps(self, other: Spans) -> bool:
        return bool(self & other)

    def ports_text(self) -> str:
        """'80, 443, 49152-65535'."""
        return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in self.items)

    def cidrs(self) -> tuple[str, ...]:
        """The set as the fewest CIDR blocks, for messages."""
        out: list[str] = []
        for start, end in self.items:
            first, last = ipaddress.IPv4Address(start), ipaddress.IPv4Address(end)
            out.extend(str(n) for n in ipaddress.summarize_address_range(first, last))
        return tuple(out)


ALL_PORTS = Spans.one(0, MAX_PORT)
ALL_ADDRESSES = Spans.one(0, MAX_ADDRESS)


def cidr_span(text: str) -> Spans:
    """'10.0.0.0/8' -> its addresses; raises ValueError for anything else (IPv6 included:
    the stacks write IPv4 rules only, and an IPv6 range is never one of the lab's peers)."""
    network = ipaddress.IPv4Network(text.strip(), strict=False)
    return Spans.one(int(network.network_address), int(network.broadcast_address))


def port_span(text: str) -> Spans:
    """'*', '443' or '5985-5986' (Azure's syntax) -> the ports."""
    text = text.strip()
    if text == "*":
        return ALL_PORTS
    # The catalogue's own parser: one syntax, one set of messages (range, inversion).
    ports = PortRange.parse(text)
    return Spans.one(ports.start, ports.end)
