"""Azure semantics: the NSG's rules in priority order, lowest number first, the first rule
that matches a packet decides (Allow or Deny), then Azure's default rules: inbound
AllowVnetInBound (65000), AllowAzureLoadBalancerInBound (65001), DenyAllInBound (65500);
outbound AllowVnetOutBound, AllowInternetOutBound, DenyAllOutBound. A rule matches an
instance through the ASGs its NIC carries or an address prefix or service tag that holds
it. The NSG sits on the subnet and is stateful: a connection between two lab servers
passes the source's outbound and the target's inbound evaluation, return traffic needs
no rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_ports.errors import InputError
from crm_ports.terraform.metadata import ConstructRecord
from crm_ports.terraform.resources import (
    AZURE_INLINE_RULE,
    AZURE_RULE_KINDS,
    holder_address,
    resource_type,
)
from crm_ports.verify.model import AddressReach, Principal, Verdict
from crm_ports.verify.spans import (
    ALL_ADDRESSES,
    ALL_PORTS,
    PORTLESS,
    Spans,
    cidr_span,
    port_span,
)
from crm_ports.verify.stack import Stack, carried_groups, reference

MEMBERSHIP_OUTPUT = "nic_application_security_group_ids"
LOAD_BALANCER = "168.63.129.16/32"
_PROTOCOLS = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "esp": "esp", "*": "all"}


@dataclass(frozen=True)
class Match:
    """One side of an NSG rule: addresses it holds, whether it holds every lab instance
    (`*`, VirtualNetwork) and the ASGs it names."""

    addresses: Spans
    all_instances: bool
    groups: frozenset[str]
    text: str
    ipv6: bool = False  # holds IPv6 sources (an IPv6 prefix, `*`, a tag)

    def whole(self, principal: Principal) -> bool:
        if principal.identities & self.groups:
            return True
        if principal.is_server and self.all_instances:
            return True
        return (
            principal.addresses is not None
            and bool(principal.addresses)
            and (self.addresses.covers(principal.addresses))
        )


@dataclass(frozen=True)
class NsgRule:
    address: str
    priority: int
    inbound: bool
    allow: bool
    protocol: str
    ports: Spans
    source: Match
    destination: Match

    def matches(self, protocol: str, port: int) -> bool:
        return self.protocol in ("all", protocol) and port in self.ports


class AzureFirewall:
    cloud = "azure"

    def __init__(self, stack: Stack, construct: ConstructRecord | None = None) -> None:
        self.stack = stack
        self.construct = construct
        subnets = [raw.get("address_prefixes") for _, raw in stack.of_type("azurerm_subnet")]
        self.subnet = self._spans(subnets[0]) if len(subnets) == 1 and subnets[0] else None
        vnets = [raw.get("address_space") for _, raw in stack.of_type("azurerm_virtual_network")]
        self.vnet = self._spans(vnets[0]) if len(vnets) == 1 and vnets[0] else Spans()
        if self.subnet is not None:
            self.vnet = self.vnet | self.subnet
        explicit = [
            self._rule(address, raw)
            for kind in AZURE_RULE_KINDS
            for address, raw in stack.of_kind(kind)
            if self._governs(address, raw)
        ]
        self.rules = sorted(explicit + self._defaults(), key=lambda r: (r.priority, r.address))
        self._by_direction: dict[tuple[bool, str], list[NsgRule]] = {}
        self.carries = carried_groups(
            stack, MEMBERSHIP_OUTPUT, "which ASGs each host group's NICs carry", construct
        )

    def _governs(self, address: str, raw: dict[str, Any]) -> bool:
        """Whether a rule is one of the NSG a construct's machines sit behind: a stack of
        the user's own may hold other NSGs (another construct's, the user's), which
        decide nothing for them. A lab stack has one NSG."""
        if self.construct is None or self.construct.network_security_group is None:
            return True
        nsg = reference(self.construct.network_security_group)
        if resource_type(address) == AZURE_INLINE_RULE:
            return holder_address(address) == nsg
        return reference(raw.get("network_security_group_name")) == nsg

    def _spans(self, prefixes: Any) -> Spans:
        out = Spans()
        for prefix in prefixes if isinstance(prefixes, tuple | list) else (prefixes,):
            out = out | cidr_span(str(prefix))
        return out

    def _match(self, raw: dict[str, Any], side: str, address: str) -> Match:
        groups = frozenset(
            reference(g) for g in raw.get(f"{side}_application_security_group_ids") or ()
        )
        prefixes = list(raw.get(f"{side}_address_prefixes") or ())
        single = raw.get(f"{side}_address_prefix")
        if single is not None:
            prefixes.append(single)
        addresses = Spans()
        every = False
        ipv6 = False
        for prefix in (str(p) for p in prefixes):
            if ":" in prefix:
                ipv6 = True
            elif prefix in ("*", "Any", "any", "0.0.0.0/0"):
                addresses, every = addresses | ALL_ADDRESSES, True
                ipv6 = ipv6 or prefix != "0.0.0.0/0"
            elif prefix == "VirtualNetwork":
                addresses, every = addresses | self.vnet, True
            elif prefix == "Internet":
                addresses, ipv6 = addresses | (ALL_ADDRESSES - self.vnet), True
            elif prefix == "AzureLoadBalancer":
                addresses = addresses | cidr_span(LOAD_BALANCER)
            elif prefix[:1].isdigit():
                try:
                    addresses = addresses | cidr_span(prefix)
                except ValueError:
                    raise InputError(
                        self.stack.name,
                        address,
                        f"{side}_address_prefix",
                        f"'{prefix}' is not an IPv4 CIDR or service tag",
                    ) from None
            # any other service tag names Azure's own services: no lab host or peer
        text = ", ".join([*(str(p) for p in prefixes), *sorted(groups)])
        return Match(addresses, every, groups, text, ipv6)

    def _rule(self, address: str, raw: dict[str, Any]) -> NsgRule:
        ranges = list(raw.get("destination_port_ranges") or ())
        if raw.get("destination_port_range") is not None:
            ranges.append(raw["destination_port_range"])
        ports = Spans()
        try:
            for text in ranges:
                ports = ports | port_span(str(text))
        except ValueError as exc:
            raise InputError(
                self.stack.name, address, "destination_port_ranges", f"{exc}"
            ) from None
        protocol = _PROTOCOLS.get(str(raw.get("protocol", "")).lower(), "other")
        if protocol in PORTLESS:
            ports = ALL_PORTS if ports else ports
        try:
            priority = int(raw.get("priority", 0))
        except (TypeError, ValueError):
            raise InputError(self.stack.name, address, "priority", "not a number") from None
        return NsgRule(
            address=address,
            priority=priority,
            inbound=str(raw.get("direction", "")).lower() == "inbound",
            allow=str(raw.get("access", "")).lower() == "allow",
            protocol=protocol,
            ports=ports,
            source=self._match(raw, "source", address),
            destination=self._match(raw, "destination", address),
        )

    def _defaults(self) -> list[NsgRule]:
        vnet = Match(self.vnet, True, frozenset(), "VirtualNetwork")
        anything = Match(ALL_ADDRESSES, True, frozenset(), "*", ipv6=True)
        internet = Match(ALL_ADDRESSES - self.vnet, False, frozenset(), "Internet")
        balancer = Match(cidr_span(LOAD_BALANCER), False, frozenset(), "AzureLoadBalancer")
        rows = [
            ("AllowVnetInBound", 65000, True, True, vnet, vnet),
            ("AllowAzureLoadBalancerInBound", 65001, True, True, balancer, anything),
            ("DenyAllInBound", 65500, True, False, anything, anything),
            ("AllowVnetOutBound", 65000, False, True, vnet, vnet),
            ("AllowInternetOutBound", 65001, False, True, anything, internet),
            ("DenyAllOutBound", 65500, False, False, anything, anything),
        ]
        return [
            NsgRule(f"default rule {n} ({p})", p, i, a, "all", ALL_PORTS, s, d)
            for n, p, i, a, s, d in rows
        ]

    def server(self, name: str) -> Principal | None:
        if name not in self.carries:
            return None
        return Principal(name, "server", self.subnet, self.carries[name])

    def variable_cidrs(self, option: str) -> tuple[str, ...] | None:
        return self.stack.peer_ranges(self.construct, option)

    def lab_addresses(self) -> Spans:
        return self.vnet

    def boundaries(self, protocol: str) -> set[int]:
        out: set[int] = set()
        for rule in self.rules:
            if rule.protocol in ("all", protocol):
                for start, end in rule.ports:
                    out.update((start, end + 1))
        return out

    def _walk(
        self, inbound: bool, local: Principal, remote: Principal, protocol: str, port: int
    ) -> tuple[bool, bool, tuple[str, ...], str]:
        """Priority order over the rules whose local side holds `local`: the first rule
        that holds (part of) `remote` decides that part."""
        near, far = ("destination", "source") if inbound else ("source", "destination")
        remaining = remote.addresses if not remote.is_server else None
        allowed: list[str] = []
        denied: list[str] = []
        for rule in self._ordered(inbound, protocol):
            if port not in rule.ports:
                continue
            if not getattr(rule, near).whole(local):
                continue
            side: Match = getattr(rule, far)
            if remaining is None:  # a server is decided whole
                if side.whole(remote):
                    return rule.allow, rule.allow, (rule.address,), rule.address
                continue
            hit = remaining & side.addresses
            if not hit:
                continue
            (allowed if rule.allow else denied).append(rule.address)
            remaining = remaining - hit
            if not remaining:
                break
        full = not denied and bool(allowed)
        return full, bool(allowed), tuple(allowed or denied), (denied or allowed or [""])[0]

    def _ordered(self, inbound: bool, protocol: str) -> list[NsgRule]:
        """The rules of one direction that can match `protocol`, in priority order."""
        key = (inbound, protocol)
        if key not in self._by_direction:
            self._by_direction[key] = [
                r for r in self.rules if r.inbound == inbound and r.protocol in ("all", protocol)
            ]
        return self._by_direction[key]

    def decide(self, source: Principal, target: Principal, protocol: str, port: int) -> Verdict:
        what = f"{protocol.upper()} {port} from {source.name} to {target.name}"
        rules: tuple[str, ...] = ()
        full = partial = True
        for inbound, local, remote, server in (
            (False, source, target, source.is_server),
            (True, target, source, target.is_server),
        ):
            if not server:
                continue
            f, p, used, decider = self._walk(inbound, local, remote, protocol, port)
            direction = "inbound" if inbound else "outbound"
            if not p:
                return Verdict(False, False, used, f"{what} is denied {direction} by {decider}")
            full, partial, rules = full and f, partial and p, rules + used
        reason = "allowed" if full else "allowed for part of the source's addresses only"
        return Verdict(full, partial, rules, reason)

    def address_reach(self, target: Principal, protocol: str, port: int) -> list[AddressReach]:
        out: list[AddressReach] = []
        remaining = ALL_ADDRESSES
        ipv6_open = True  # the IPv6 space, one block: no lab peer lives there
        for rule in self.rules:
            if not rule.inbound or not rule.matches(protocol, port):
                continue
            if not rule.destination.whole(target):
                continue
            hit = remaining & rule.source.addresses
            if hit and rule.allow:
                out.append(AddressReach(hit, rule.address, rule.source.text))
            if ipv6_open and rule.source.ipv6:
                if rule.allow:
                    out.append(AddressReach(Spans(), rule.address, rule.source.text, ipv6=True))
                ipv6_open = False
            remaining = remaining - hit
        return out
