"""`verify`'s comparison (crm_ports/verify/compare.py) against a firewall made by hand.

The stack tests (tests/test_verify.py) reach the comparison only through whole labs whose
stretches of ports, peers and sources are what the snapshots happen to hold; a missing
port that one stretch hides, or an extra range reported with the wanted ports left in,
would pass them. So these judge `compare` against a table of allows whose verdicts are
known in advance: which ports are missing and why, which reach is extra and by which
rule, from which addresses, and how findings merge and sort.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from crm_ports.verify.compare import Extra, Missing, compare, segments
from crm_ports.verify.expected import Expected, Peer, Want
from crm_ports.verify.model import AddressReach, Principal, Verdict
from crm_ports.verify.spans import MAX_PORT, Spans, cidr_span


@dataclass(frozen=True)
class Allow:
    """One allow of the table: `source` is a principal's name, or a CIDR for reach from
    addresses; `partial` says the rule lets in only some of the source's addresses."""

    rule: str
    source: str
    target: str
    protocol: str
    ports: tuple[int, int]
    partial: bool = False


@dataclass
class TableFirewall:
    """A Firewall whose verdicts are read off a list of allows, no cloud semantics."""

    servers: dict[str, Principal]
    allows: list[Allow]
    lab: Spans = field(default_factory=Spans)
    variables: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cloud: str = "aws"
    asked: list[tuple[str, str, str, int]] = field(default_factory=list)

    def server(self, name: str) -> Principal | None:
        return self.servers.get(name)

    def boundaries(self, protocol: str) -> set[int]:
        return {
            edge
            for a in self.allows
            if a.protocol == protocol
            for edge in (a.ports[0], a.ports[1] + 1)
        }

    def _matching(self, source: str, target: Principal, protocol: str, port: int) -> list[Allow]:
        return [
            a
            for a in self.allows
            if a.source == source
            and a.target == target.name
            and a.protocol == protocol
            and a.ports[0] <= port <= a.ports[1]
        ]

    def decide(self, source: Principal, target: Principal, protocol: str, port: int) -> Verdict:
        self.asked.append((source.name, target.name, protocol, port))
        found = self._matching(source.name, target, protocol, port)
        full = any(not a.partial for a in found)
        rules = tuple(a.rule for a in found)
        reason = f"nothing allows {protocol} {port}" if not found else "only some addresses"
        return Verdict(full, bool(found), rules, "" if full else reason)

    def address_reach(self, target: Principal, protocol: str, port: int) -> list[AddressReach]:
        return [
            AddressReach(cidr_span(a.source), a.rule, a.source)
            for a in self.allows
            if "/" in a.source and a in self._matching(a.source, target, protocol, port)
        ]

    def variable_cidrs(self, option: str) -> tuple[str, ...] | None:
        return self.variables.get(option)

    def lab_addresses(self) -> Spans:
        return self.lab


def server(name: str) -> Principal:
    return Principal(name, "server", None, frozenset({f"sg-{name}"}))


def want(
    source: str,
    target: str,
    ports: tuple[int, int],
    protocol: str = "tcp",
    flow: str = "F1",
    rule: str = "r1",
) -> Want:
    return Want(source, target, protocol, Spans.one(*ports), (flow,), ("ref",), rule)


def expected(*wants: Want, peers: Sequence[Peer] = ()) -> Expected:
    return Expected("lab", ("web", "sql"), tuple(peers), wants)


def firewall(
    *allows: Allow, lab: Spans | None = None, variables: dict[str, tuple[str, ...]] | None = None
) -> TableFirewall:
    """The two servers web and sql, and these allows."""
    servers = {n: server(n) for n in ("web", "sql")}
    return TableFirewall(servers, list(allows), lab or Spans(), variables or {})


def test_segments_split_at_every_boundary_from_port_1() -> None:
    """A boundary at port 1 splits port 0 off (a rule from 1 does not cover 0); 0 and
    anything past the last port are not boundaries."""
    assert list(segments({1, 80, 81, MAX_PORT + 1, 0}, "tcp")) == [
        (0, 0),
        (1, 79),
        (80, 80),
        (81, MAX_PORT),
    ]
    assert list(segments(set(), "udp")) == [(0, MAX_PORT)]
    assert list(segments({MAX_PORT}, "tcp")) == [(0, MAX_PORT - 1), (MAX_PORT, MAX_PORT)]


def test_portless_protocols_are_one_stretch_whatever_the_boundaries() -> None:
    for protocol in ("icmp", "esp", "all"):
        assert list(segments({80, 443}, protocol)) == [(0, MAX_PORT)]


def test_texts_name_every_flow_and_rule() -> None:
    missing = Missing(
        "web",
        "sql",
        "tcp",
        Spans.of([(1433, 1433), (1434, 1434)]),
        ("F1", "F2"),
        "r1",
        "nothing allows it",
    )
    assert missing.text() == (
        "TCP 1433-1434 from web to sql is not allowed (flow F1, F2; rule r1): nothing allows it"
    )
    extra = Extra("web", "sql", "udp", Spans.of([(53, 53), (88, 88)]), ("a", "b"))
    assert extra.text() == (
        "UDP 53, 88 from web to sql is allowed but no flow asks for it (by a, b)"
    )


def test_everything_wanted_and_allowed_is_clean() -> None:
    result = compare(
        expected(want("web", "sql", (1433, 1433))),
        firewall(Allow("sg1", "web", "sql", "tcp", (1433, 1433))),
        "stack",
    )
    assert (result.lab, result.stack, result.cloud) == ("lab", "stack", "aws")
    assert (result.missing, result.extra, result.flows, result.ok) == ((), (), 1, True)


def test_ports_left_out_of_an_allow_are_missing_with_the_first_gaps_reason() -> None:
    result = compare(
        expected(want("web", "sql", (1433, 1440))),
        firewall(Allow("sg1", "web", "sql", "tcp", (1433, 1435))),
        "stack",
    )
    assert result.missing == (
        Missing(
            "web", "sql", "tcp", Spans.one(1436, 1440), ("F1",), "r1", "nothing allows tcp 1436"
        ),
    )
    assert result.extra == () and not result.ok


def test_a_partial_allow_is_missing_not_allowed() -> None:
    """Some of the source's addresses let in is not the flow allowed."""
    result = compare(
        expected(want("web", "sql", (443, 443))),
        firewall(Allow("sg1", "web", "sql", "tcp", (443, 443), partial=True)),
        "stack",
    )
    assert [(m.ports, m.reason) for m in result.missing] == [
        (Spans.one(443, 443), "only some addresses")
    ]
    assert result.extra == ()


def test_extra_reach_is_reported_without_the_wanted_ports() -> None:
    result = compare(
        expected(want("web", "sql", (1433, 1433))),
        firewall(Allow("wide", "web", "sql", "tcp", (1430, 1439))),
        "stack",
    )
    assert result.missing == ()
    assert result.extra == (
        Extra("web", "sql", "tcp", Spans.of([(1430, 1432), (1434, 1439)]), ("wide",)),
    )


def test_extra_reach_from_two_rules_merges_into_one_finding_naming_both() -> None:
    result = compare(
        expected(),
        firewall(
            Allow("b-rule", "web", "sql", "udp", (53, 53)),
            Allow("a-rule", "web", "sql", "udp", (88, 88)),
            Allow("a-rule", "web", "sql", "udp", (90, 90)),
        ),
        "stack",
    )
    assert result.extra == (
        Extra("web", "sql", "udp", Spans.of([(53, 53), (88, 88), (90, 90)]), ("a-rule", "b-rule")),
    )
    assert result.flows == 0


def test_into_a_peer_only_the_wanted_ports_are_asked() -> None:
    """The peer's own firewall is not in the stack: nothing into it is extra, and the
    evaluator is asked only about the stretches a flow wants."""
    fw = firewall(Allow("egress", "web", "partner", "tcp", (0, MAX_PORT)))
    peer = Peer("partner", None, ("192.0.2.0/24",))
    result = compare(expected(want("web", "partner", (443, 443)), peers=[peer]), fw, "stack")
    assert result.ok and result.flows == 1
    into_peer = [port for _, target, _, port in fw.asked if target == "partner"]
    assert into_peer == [443]


def test_a_peer_takes_its_ranges_from_the_stack_variable_else_the_lab() -> None:
    peer = Peer("admins", "admin_cidrs", ("10.9.0.0/16",))
    allow = Allow("rdp-any", "0.0.0.0/0", "web", "tcp", (3389, 3389))
    wanted = want("admins", "web", (3389, 3389))
    known = compare(expected(wanted, peers=[peer]), firewall(allow), "s")
    # the rule's source is wider than the peer: reach from addresses nobody holds
    assert [e.source for e in known.extra] == ["0.0.0.0/0 (the internet)"]
    from_variable = compare(
        expected(wanted, peers=[peer]),
        firewall(
            Allow("rdp", "10.1.0.0/16", "web", "tcp", (3389, 3389)),
            variables={"admin_cidrs": ("10.1.0.0/16",)},
        ),
        "s",
    )
    assert from_variable.extra == ()


def test_reach_from_addresses_no_peer_or_lab_holds_is_extra_by_its_source() -> None:
    lab = cidr_span("10.0.0.0/24")
    peer = Peer("users", None, ("10.5.0.0/16",))
    fw = firewall(
        Allow("from-lab", "10.0.0.0/24", "web", "tcp", (80, 80)),
        Allow("from-users", "10.5.1.0/24", "web", "tcp", (443, 443)),
        Allow("stray", "172.16.0.0/12", "web", "tcp", (8080, 8081)),
        lab=lab,
    )
    result = compare(expected(peers=[peer]), fw, "s")
    assert result.extra == (
        Extra("172.16.0.0/12", "web", "tcp", Spans.one(8080, 8081), ("stray",)),
    )


def test_a_host_group_the_stack_lacks_misses_each_of_its_flows() -> None:
    """The groups after the absent one are still compared: extra reach into sql shows."""
    fw = TableFirewall({"sql": server("sql")}, [])
    result = compare(
        expected(
            want("web", "sql", (1433, 1433)),
            want("sql", "web", (80, 80), protocol="udp", flow="F2", rule="r2"),
        ),
        fw,
        "s",
    )
    note = "host group web has no instances in the stack's outputs"
    assert result.missing == (
        Missing("web", "sql", "tcp", Spans.one(1433, 1433), ("F1",), "r1", note),
        Missing("sql", "web", "udp", Spans.one(80, 80), ("F2",), "r2", note),
    )
    fw.allows.append(Allow("stray", "10.0.0.0/8", "sql", "tcp", (22, 22)))
    assert [e.rules for e in compare(expected(), fw, "s").extra] == [("stray",)]


def test_findings_of_one_rule_merge_and_sort_by_target_then_source() -> None:
    fw = firewall()
    result = compare(
        expected(
            want("web", "sql", (1433, 1433)),
            want("web", "sql", (1434, 1434)),
            want("sql", "web", (80, 80), rule="r2"),
        ),
        fw,
        "s",
    )
    nothing = "nothing allows tcp "
    assert result.missing == (
        Missing("web", "sql", "tcp", Spans.one(1433, 1434), ("F1",), "r1", nothing + "1433"),
        Missing("sql", "web", "tcp", Spans.one(80, 80), ("F1",), "r2", nothing + "80"),
    )
    assert result.flows == 2


def test_a_group_to_itself_and_peer_to_peer_are_never_compared() -> None:
    peer = Peer("users", None, ("10.5.0.0/16",))
    fw = firewall()
    compare(expected(peers=[peer, Peer("admins", None, ("10.6.0.0/16",))]), fw, "s")
    assert all(s != t for s, t, _, _ in fw.asked)
    assert not any({s, t} == {"users", "admins"} for s, t, _, _ in fw.asked)
