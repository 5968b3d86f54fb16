"""The network vocabulary every layer shares: protocols, port ranges, and whether an
address prefix is the whole internet however a cloud spells it (`*`, `Internet`,
`0.0.0.0/0`, `::/0`, `any`).

A leaf: it imports nothing of crm-ports, so the catalogue, the options, the rule set, the
policy checks, the diff's reach report and `why` can all use it without loading each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Protocol(StrEnum):
    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"
    ALL = "all"
    # IPsec's Encapsulating Security Payload, IP protocol 50: a protocol without ports.
    ESP = "esp"


# Protocols a rule opens whole, without ports; they carry the range 0-65535.
PORTLESS = frozenset({Protocol.ALL, Protocol.ESP})


@dataclass(frozen=True, order=True)
class PortRange:
    """An inclusive port range; a single port has start == end."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not (0 <= self.start <= 65535 and 0 <= self.end <= 65535):
            raise ValueError(f"port outside 0-65535: {self}")
        if self.start > self.end:
            raise ValueError(f"inverted range {self.start}-{self.end}")

    @classmethod
    def parse(cls, text: str) -> PortRange:
        """'80' or '49152-65535'; raises ValueError with a human message."""
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
        if not match:
            raise ValueError(f"'{text}' is not a port or START-END range")
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) is not None else start
        for port in (start, end):
            if port > 65535:
                raise ValueError(f"port {port} is outside 0-65535")
        if start > end:
            raise ValueError(f"range {start}-{end} is inverted")
        return cls(start, end)

    def __str__(self) -> str:
        return str(self.start) if self.start == self.end else f"{self.start}-{self.end}"


INTERNET = frozenset({"*", "internet", "any", "0.0.0.0/0", "::/0"})


def internet_wide(prefix: str) -> bool:
    if prefix.strip().lower() in INTERNET:
        return True
    import ipaddress  # only for a prefix that is not one of the spellings above

    try:
        return ipaddress.ip_network(prefix, strict=False).prefixlen == 0
    except ValueError:
        return False


def cidr_range(text: str) -> str:
    """`text` as an address range in CIDR form (`10.20.0.0/16`), or ValueError whose message
    names the value once and says what is wrong with it: the prefix length, host bits or
    the address (`ipaddress` repeats the value and names neither)."""
    import ipaddress

    try:
        return str(ipaddress.ip_network(text, strict=True))
    except ValueError:
        pass
    address, slash, length = text.partition("/")
    try:
        longest = ipaddress.ip_address(address).max_prefixlen
    except ValueError:
        raise ValueError(
            f"'{text}' is not a CIDR range: the address is not an IP address"
        ) from None
    if slash and not (length.isdigit() and int(length) <= longest):
        raise ValueError(f"'{text}' is not a CIDR range: the prefix length must be 0 to {longest}")
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"'{text}' is not a CIDR range") from None
    raise ValueError(f"'{text}' has host bits set: the range is {network}")
