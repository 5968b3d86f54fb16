"""AWS semantics: a security group allows the union of its rules; an instance carrying
several groups is allowed the union over all of them; a rule referencing a group matches
every instance that carries it. Security groups are stateful, so only the direction a
connection is opened in is evaluated: the source's egress and the target's ingress (an
outside peer's own firewall is not in the stack, so that side is taken as open).
Terraform removes the allow-all egress AWS adds to a new group, so no egress rule means
no egress."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_ports.errors import InputError
from crm_ports.terraform.metadata import ConstructRecord
from crm_ports.terraform.resources import AWS_EGRESS_KINDS, AWS_RULE_KINDS
from crm_ports.verify.model import AddressReach, Principal, Verdict
from crm_ports.verify.spans import ALL_ADDRESSES, ALL_PORTS, PORTLESS, Spans, cidr_span, port_span
from crm_ports.verify.stack import Stack, carried_groups, reference

MEMBERSHIP_OUTPUT = "instance_security_group_ids"
_PROTOCOLS = {"-1": "all", "all": "all", "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp"}
_PROTOCOLS |= {"icmp": "icmp", "1": "icmp", "esp": "esp", "50": "esp"}


@dataclass(frozen=True)
class SgRule:
    address: str
    group: str  # the security group it belongs to
    egress: bool
    protocol: str  # tcp | udp | icmp | esp | all | other
    ports: Spans
    cidr: str | None
    addresses: Spans  # of `cidr`; empty for a group reference
    peer_group: str | None  # referenced_security_group_id
    cidr_ipv6: str | None = None  # never one of the lab's (IPv4) peers or instances

    def matches(self, protocol: str, port: int) -> bool:
        return self.protocol in ("all", protocol) and port in self.ports

    def covers(self, other: Principal) -> bool:
        """Whether the rule's far side is `other`, whole."""
        if self.peer_group is not None:
            return self.peer_group in other.identities
        if self.addresses == ALL_ADDRESSES:  # holds every instance, wherever it is
            return True
        return other.addresses is not None and self.addresses.covers(other.addresses)


def _ports(raw: dict[str, Any], protocol: str) -> Spans:
    """Raises ValueError (with the reason) on ports EC2 would refuse."""
    if protocol in PORTLESS:
        return ALL_PORTS
    start, end = raw.get("from_port"), raw.get("to_port")
    if start is None or end is None or int(start) < 0:
        return ALL_PORTS
    return port_span(f"{int(start)}-{int(end)}")


def _rule(address: str, raw: dict[str, Any], egress: bool, shown: str) -> SgRule:
    protocol = _PROTOCOLS.get(str(raw.get("ip_protocol", "")).lower(), "other")
    cidr = raw.get("cidr_ipv4")
    try:
        addresses = cidr_span(str(cidr)) if cidr is not None else Spans()
    except ValueError:
        raise InputError(shown, address, "cidr_ipv4", f"'{cidr}' is not an IPv4 CIDR") from None
    try:
        ports = _ports(raw, protocol)
    except ValueError as exc:
        raise InputError(shown, address, "from_port", str(exc)) from None
    peer = raw.get("referenced_security_group_id")
    return SgRule(
        address=address,
        group=reference(raw.get("security_group_id")),
        egress=egress,
        protocol=protocol,
        ports=ports,
        cidr=str(cidr) if cidr is not None else None,
        addresses=addresses,
        peer_group=reference(peer) if peer is not None else None,
        cidr_ipv6=str(raw["cidr_ipv6"]) if raw.get("cidr_ipv6") is not None else None,
    )


class AwsFirewall:
    cloud = "aws"

    def __init__(self, stack: Stack, construct: ConstructRecord | None = None) -> None:
        self.stack = stack
        self.construct = construct
        self.rules: list[SgRule] = []
        self._held: dict[tuple[frozenset[str], bool, str], list[SgRule]] = {}
        # Standalone rules, and an adopted group's inline ones (read as standalone rules)
        for kind in AWS_RULE_KINDS:
            egress = kind in AWS_EGRESS_KINDS
            self.rules.extend(_rule(a, raw, egress, stack.name) for a, raw in stack.of_kind(kind))
        self.carries = carried_groups(
            stack, MEMBERSHIP_OUTPUT, "which groups each host group's instances carry", construct
        )
        subnets = [raw.get("cidr_block") for _, raw in stack.of_type("aws_subnet")]
        self.subnet = cidr_span(str(subnets[0])) if len(subnets) == 1 and subnets[0] else None

    def server(self, name: str) -> Principal | None:
        if name not in self.carries:
            return None
        return Principal(name, "server", self.subnet, self.carries[name])

    def variable_cidrs(self, option: str) -> tuple[str, ...] | None:
        return self.stack.peer_ranges(self.construct, option)

    def lab_addresses(self) -> Spans:
        return self.subnet or Spans()

    def boundaries(self, protocol: str) -> set[int]:
        out: set[int] = set()
        for rule in self.rules:
            if rule.protocol in ("all", protocol):
                for start, end in rule.ports:
                    out.update((start, end + 1))
        return out

    def _side(self, rules: list[SgRule], far: Principal) -> tuple[bool, bool, tuple[str, ...]]:
        """(whole of `far` allowed, some of it, the rules) over the union of `rules`."""
        whole = [r for r in rules if r.covers(far)]
        if whole:
            return True, True, tuple(r.address for r in whole)
        if far.addresses is None:
            return False, False, ()
        touching = [
            r for r in rules if r.peer_group is None and r.addresses.overlaps(far.addresses)
        ]
        union = Spans()
        for rule in touching:
            union = union | rule.addresses
        full = union.covers(far.addresses) and bool(touching)
        return full, bool(touching), tuple(r.address for r in touching)

    def _rules(self, holder: Principal, egress: bool, protocol: str, port: int) -> list[SgRule]:
        key = (holder.identities, egress, protocol)
        held = self._held.get(key)
        if held is None:
            held = [
                r
                for r in self.rules
                if r.egress == egress
                and r.group in holder.identities
                and r.protocol in ("all", protocol)
            ]
            self._held[key] = held
        return [r for r in held if r.matches(protocol, port)]

    def decide(self, source: Principal, target: Principal, protocol: str, port: int) -> Verdict:
        what = f"{protocol.upper()} {port} from {source.name} to {target.name}"
        rules: tuple[str, ...] = ()
        full = partial = True
        if source.is_server:
            f, p, used = self._side(self._rules(source, True, protocol, port), target)
            if not p:
                groups = ", ".join(sorted(source.identities))
                return Verdict(False, False, (), f"no egress rule of {groups} allows {what}")
            full, partial, rules = full and f, partial and p, rules + used
        if target.is_server:
            f, p, used = self._side(self._rules(target, False, protocol, port), source)
            if not p:
                groups = ", ".join(sorted(target.identities))
                return Verdict(False, False, (), f"no ingress rule of {groups} allows {what}")
            full, partial, rules = full and f, partial and p, rules + used
        reason = "allowed" if full else "allowed for part of the source's addresses only"
        return Verdict(full, partial, rules, reason)

    def address_reach(self, target: Principal, protocol: str, port: int) -> list[AddressReach]:
        out = []
        for rule in self._rules(target, False, protocol, port):
            if rule.cidr is not None:
                out.append(AddressReach(rule.addresses, rule.address, rule.cidr))
            elif rule.cidr_ipv6 is not None:
                out.append(AddressReach(Spans(), rule.address, rule.cidr_ipv6, ipv6=True))
        return out
