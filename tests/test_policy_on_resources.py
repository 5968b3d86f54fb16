"""The policy checks on stack resources (`check --synth` and the live rules `audit` reads),
built by hand in Terraform's attribute shape: how a rule resource's ports are read, and
when CRM004 accepts an all-traffic rule.

The synthesized stacks the other tests check hold only what the renderer writes, so the
shapes a hand edit or the cloud gives (a missing port, `-1`, a protocol number, a port
list with `*`) and the waiver of an all-ports rule by the rule ids it carries are pinned
here; a check that misread them would pass an open port or fail a lab that is right.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from crm_ports.catalogue.load import load_catalogue
from crm_ports.lab.model import Lab
from crm_ports.net import PortRange, Protocol
from crm_ports.options import Options
from crm_ports.plans.text import RULE_TAG
from crm_ports.policy.base import Stack, Subject
from crm_ports.policy.crm004_all_traffic_ingress import accepted_unrestricted
from crm_ports.policy.reading import (
    ALL_PORTS,
    aws_sources,
    aws_spans,
    azure_sources,
    azure_spans,
    overlaps,
    rule_tags,
    span_text,
)
from crm_ports.policy.registry import run_checks
from crm_ports.resolver.engine import resolve
from crm_ports.ruleset import Rule

INGRESS = "aws_vpc_security_group_ingress_rule"
EXCHANGE_TO_DC = "exchange.domain-controller.all.all-traffic"
DC_TO_EXCHANGE = "domain-controller.exchange.all.all-traffic"


@pytest.mark.parametrize(
    ("attributes", "spans"),
    [
        ({"ip_protocol": "-1"}, [ALL_PORTS]),
        ({"ip_protocol": "ALL"}, [ALL_PORTS]),
        ({"ip_protocol": "icmp", "from_port": 8, "to_port": 0}, []),
        ({"ip_protocol": "1"}, []),
        ({"ip_protocol": "icmpv6"}, []),
        ({"ip_protocol": "58"}, []),
        ({"ip_protocol": "esp"}, []),
        ({"ip_protocol": "50", "from_port": -1, "to_port": -1}, []),
        ({"ip_protocol": "tcp", "from_port": 443, "to_port": 443}, [(443, 443)]),
        ({"ip_protocol": "TCP", "from_port": 0, "to_port": 0}, [(0, 0)]),
        ({"ip_protocol": "udp", "from_port": 49152, "to_port": 65535}, [(49152, 65535)]),
        # unreadable ports are judged as every port: a check must not skip what it cannot see
        ({"ip_protocol": "tcp", "from_port": "${var.port}", "to_port": 443}, [ALL_PORTS]),
        ({"ip_protocol": "tcp", "from_port": 443, "to_port": None}, [ALL_PORTS]),
        ({"ip_protocol": "tcp", "from_port": -1, "to_port": -1}, [ALL_PORTS]),
        ({"ip_protocol": "6"}, [ALL_PORTS]),
    ],
)
def test_aws_rule_ports(attributes: dict[str, Any], spans: list[tuple[int, int]]) -> None:
    assert aws_spans(attributes) == spans


@pytest.mark.parametrize(
    ("attributes", "spans"),
    [
        ({"protocol": "Tcp", "destination_port_range": "3389"}, [(3389, 3389)]),
        ({"protocol": "Tcp", "destination_port_range": "5985-5986"}, [(5985, 5986)]),
        ({"protocol": "Tcp", "destination_port_ranges": ["80", "443"]}, [(80, 80), (443, 443)]),
        (
            {"protocol": "Tcp", "destination_port_ranges": ["80"], "destination_port_range": "88"},
            [(80, 80), (88, 88)],
        ),
        ({"protocol": "*", "destination_port_ranges": ["80", " * "]}, [ALL_PORTS]),
        ({"protocol": "Icmp", "destination_port_range": "*"}, []),
        ({"protocol": "Esp", "destination_port_range": "*"}, []),
        ({"protocol": "Tcp", "destination_port_range": "${var.p}"}, [ALL_PORTS]),
        ({"protocol": "Tcp"}, []),
    ],
)
def test_azure_rule_ports(attributes: dict[str, Any], spans: list[tuple[int, int]]) -> None:
    assert azure_spans(attributes) == spans


def test_aws_sources_are_both_address_families() -> None:
    assert aws_sources({"cidr_ipv4": "10.0.0.0/8", "cidr_ipv6": "::/0"}) == ["10.0.0.0/8", "::/0"]
    assert aws_sources({"cidr_ipv4": None, "referenced_security_group_id": "sg-1"}) == []


def _crm004(rule_ids: dict[str, tuple[str, ...]]) -> dict[str, str | None]:
    """CRM004's verdict on live all-traffic ingress rules carrying these rule ids:
    address -> the waiver's reason, or None when the finding stands."""
    options = Options(exchange_in_lab=True)
    ruleset = resolve(load_catalogue(), options)
    resources = {address: {"ip_protocol": "-1"} for address in rule_ids}
    stack = Stack("aws-lab", "aws", resources, rule_ids, live=True)
    subject = Subject(Lab(name="lab", options=options), ruleset, (stack,))
    return {
        f.subject: f.waived for f in run_checks([subject], rule_set=False) if f.check == "CRM004"
    }


def test_crm004_accepts_a_live_rule_only_when_every_rule_it_carries_is_accepted() -> None:
    found = _crm004(
        {
            f"{INGRESS}.exchange": (EXCHANGE_TO_DC,),
            f"{INGRESS}.both": (EXCHANGE_TO_DC, DC_TO_EXCHANGE),
            f"{INGRESS}.same-twice": (EXCHANGE_TO_DC, EXCHANGE_TO_DC),
            f"{INGRESS}.with-another": (EXCHANGE_TO_DC, "crm-front-end.sql-server.tcp.ms-sql"),
            f"{INGRESS}.unknown": ("no.such.rule",),
            f"{INGRESS}.by-hand": (),
        }
    )
    assert set(found) == {
        f"{INGRESS}.{name}"
        for name in ("exchange", "both", "same-twice", "with-another", "unknown", "by-hand")
    }
    one = found[f"{INGRESS}.exchange"]
    assert one is not None and one.startswith("accepted, flow exchange-directory: ")
    assert found[f"{INGRESS}.same-twice"] == one
    both = found[f"{INGRESS}.both"]
    assert both is not None and both.count("accepted, flow ") == 2
    assert both.index("flow directory-exchange") < both.index("flow exchange-directory")
    assert "; accepted, flow exchange-directory" in both
    for name in ("with-another", "unknown", "by-hand"):
        assert found[f"{INGRESS}.{name}"] is None, name


def _all_traffic(service: str, flows: tuple[str, ...]) -> Rule:
    return Rule(
        "exchange.domain-controller.all.x",
        "exchange",
        "domain-controller",
        Protocol.ALL,
        PortRange(0, 65535),
        service,
        "",
        ("seed one", "seed two"),
        flows,
    )


def test_only_exchanges_own_all_traffic_flows_are_accepted() -> None:
    """Exchange and its domain controllers, in either direction or both, and nothing
    else: not another service, not another flow beside them, not a rule without flows."""
    both = _all_traffic("all-traffic", ("directory-exchange", "exchange-directory"))
    assert accepted_unrestricted(both) == (
        "accepted, flow directory-exchange, exchange-directory: seed one; seed two"
    )
    assert accepted_unrestricted(_all_traffic("all-traffic", ("exchange-directory",)))
    for service, flows in (
        ("all-traffic", ("exchange-directory", "crm-sql")),
        ("ldap", ("exchange-directory",)),
        ("all-traffic", ()),
        ("all-traffic", ("extra:exchange-directory",)),
    ):
        assert accepted_unrestricted(_all_traffic(service, flows)) is None, (service, flows)


def test_crm004_on_stack_finds_every_protocol_and_every_port_and_nothing_less() -> None:
    """`-1` and Azure's `*` admit every protocol; ports 0 or 1 to 65535 admit every port;
    2-65535, one port, or an outbound or denying rule do not. The finding names the rule
    ids the resource carries, so a waiver can name them."""
    options = Options()
    ruleset = resolve(load_catalogue(), options)
    azure = {"direction": "Inbound", "access": "Allow", "source_address_prefix": "10.0.0.0/8"}
    resources: dict[str, dict[str, Any]] = {
        f"{INGRESS}.every-protocol": {"ip_protocol": "-1", "cidr_ipv4": "10.0.0.0/8"},
        f"{INGRESS}.from-1": {"ip_protocol": "tcp", "from_port": 1, "to_port": 65535},
        f"{INGRESS}.from-0": {"ip_protocol": "udp", "from_port": 0, "to_port": 65535},
        f"{INGRESS}.from-2": {"ip_protocol": "tcp", "from_port": 2, "to_port": 65535},
        f"{INGRESS}.to-65534": {"ip_protocol": "tcp", "from_port": 0, "to_port": 65534},
        f"{INGRESS}.https": {"ip_protocol": "tcp", "from_port": 443, "to_port": 443},
        "aws_vpc_security_group_egress_rule.out": {"ip_protocol": "-1"},
        "azurerm_network_security_rule.any": {
            **azure,
            "protocol": "*",
            "destination_port_range": "443",
        },
        "azurerm_network_security_rule.ports": {
            **azure,
            "protocol": "Tcp",
            "destination_port_range": "*",
        },
        "azurerm_network_security_rule.no-ports": {**azure, "protocol": "*"},
        "azurerm_network_security_rule.deny": {
            **azure,
            "access": "Deny",
            "protocol": "*",
            "destination_port_range": "*",
        },
    }
    stack = Stack("aws-lab", "aws", resources, {f"{INGRESS}.from-1": ("a.b.tcp.c",)})
    subject = Subject(Lab(name="lab", options=options), ruleset, (stack,))
    found = {f.subject: f for f in run_checks([subject], rule_set=False) if f.check == "CRM004"}
    assert sorted(found) == sorted(
        [
            f"{INGRESS}.every-protocol",
            f"{INGRESS}.from-1",
            f"{INGRESS}.from-0",
            "azurerm_network_security_rule.any",
            "azurerm_network_security_rule.ports",
            "azurerm_network_security_rule.no-ports",
        ]
    )
    assert found["azurerm_network_security_rule.no-ports"].message == (
        "protocol *, ports none: admits all traffic"
    )
    one = found[f"{INGRESS}.from-1"]
    assert (one.where, one.lab, one.rules, one.waived) == ("aws-lab", "lab", ("a.b.tcp.c",), None)
    assert one.message == "protocol tcp, ports 1-65535: admits all traffic"
    assert found[f"{INGRESS}.every-protocol"].message == (
        "protocol -1, ports 0-65535: admits all traffic"
    )
    assert found["azurerm_network_security_rule.any"].message == (
        "protocol *, ports 443: admits all traffic"
    )
    assert all(
        f.severity == "error" and f.rules == () for a, f in found.items() if "from-1" not in a
    )


def test_azure_sources_and_the_helpers_reports_use() -> None:
    assert azure_sources(
        {"source_address_prefixes": ["10.0.0.0/8", "10.1.0.0/16"], "source_address_prefix": "*"}
    ) == ["10.0.0.0/8", "10.1.0.0/16", "*"]
    assert azure_sources({"source_address_prefix": None}) == []
    assert span_text([(80, 80), (443, 445)]) == "80, 443-445"
    assert rule_tags({"a.b": {"tags": {RULE_TAG: "x.y.tcp.z"}}, "a.c": {"tags": None}}) == {
        "a.b": ("x.y.tcp.z",)
    }


@pytest.mark.parametrize(
    ("spans", "found"),
    [
        ([(1, 65535)], [(3389, 3389), (5985, 5986)]),
        ([(3389, 3389)], [(3389, 3389)]),
        ([(5986, 6000)], [(5985, 5986)]),
        ([(5000, 5985)], [(5985, 5986)]),
        ([(3390, 5984)], []),
        ([], []),
    ],
)
def test_overlaps_finds_each_guarded_range_a_span_touches(
    spans: list[tuple[int, int]], found: list[tuple[int, int]]
) -> None:
    assert overlaps(spans, [(5985, 5986), (3389, 3389)]) == found


def test_crm004_on_the_rule_set_flags_all_ports_rules_but_not_outbound_to_peers() -> None:
    """Exchange and its domain controllers are accepted with their reason, 1-65535 is
    every port, 2-65535 is not, and a peer's rule (outbound to a peer) never stops the
    rules after it from being judged."""
    options = Options(exchange_in_lab=True)
    ruleset = resolve(load_catalogue(), options)
    peer = next(g.name for g in ruleset.groups if g.is_peer)
    base = replace(ruleset.rules[0], source="exchange", protocol=Protocol.TCP, flows=("f",))
    # the peer's rule first: judging must go on past it
    rules = (
        replace(base, id="to-peer", target=peer, ports=PortRange(1, 65535)),
        *ruleset.rules,
        *(
            replace(base, id=f"wide-{start}", target="sql-server", ports=PortRange(start, 65535))
            for start in (1, 2)
        ),
    )
    subject = Subject(Lab(name="lab", options=options), replace(ruleset, rules=rules))
    found = {f.subject: f for f in run_checks([subject]) if f.check == "CRM004"}
    assert sorted(found) == sorted([EXCHANGE_TO_DC, DC_TO_EXCHANGE, "wide-1"])
    one = found["wide-1"]
    assert (one.where, one.waived, one.rules) == ("rule set", None, ("wide-1",))
    assert one.message == "TCP 1-65535 from exchange to sql-server admits everything"
    assert found[EXCHANGE_TO_DC].waived and found[DC_TO_EXCHANGE].waived
