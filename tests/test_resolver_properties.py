"""Properties of the resolver over generated option mixes and shuffled catalogues."""

from __future__ import annotations

import ipaddress
import itertools
from collections import defaultdict
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_ports.catalogue.load import load_catalogue
from crm_ports.net import PortRange
from crm_ports.options import Options
from crm_ports.resolver.engine import resolve

CATALOGUE = load_catalogue()

ports = st.integers(min_value=1, max_value=65535)
cidrs = st.lists(
    st.builds(
        lambda a, b, n: str(ipaddress.ip_network(f"10.{a}.{b}.0/{n}", strict=False)),
        st.integers(0, 255),
        st.integers(0, 255),
        st.integers(16, 28),
    ),
    min_size=1,
    max_size=3,
).map(tuple)


@st.composite
def rpc_ranges(draw: st.DrawFn) -> PortRange:
    start = draw(st.integers(1025, 65000))
    return PortRange(start, draw(st.integers(start, 65535)))


options_strategy = st.builds(
    Options,
    topology=st.sampled_from(["full-server", "split-roles"]),
    auth=st.sampled_from(["iwa", "claims"]),
    email=st.sampled_from(["none", "outlook", "exchange", "pop3-smtp"]),
    web_port=ports,
    https=st.booleans(),
    sql_port=ports,
    sql_named_instance=st.booleans(),
    sandbox_port=ports,
    rpc_range=rpc_ranges(),
    phase=st.sampled_from(["setup", "operation"]),
    sql_views=st.booleans(),
    load_balancer=st.sampled_from(["none", "cloud"]),
    exchange_in_lab=st.booleans(),
    client_cidrs=cidrs,
    admin_cidrs=cidrs,
)


@settings(max_examples=150, deadline=None)
@given(options_strategy)
def test_ids_unique_and_ranges_disjoint(options: Options) -> None:
    ruleset = resolve(CATALOGUE, options)
    ids = [r.id for r in ruleset.rules]
    assert len(ids) == len(set(ids))
    spans = defaultdict(list)
    for r in ruleset.rules:
        spans[(r.source, r.target, r.protocol)].append((r.from_port, r.to_port))
    for ranges in spans.values():
        ranges.sort()
        for (_, end), (start, _) in itertools.pairwise(ranges):
            assert start > end + 1, "overlapping or adjacent ranges left unmerged"


@settings(max_examples=150, deadline=None)
@given(options_strategy)
def test_every_requested_port_is_allowed(options: Options) -> None:
    """Merging never loses a port: the configurable ports all reach their group."""
    ruleset = resolve(CATALOGUE, options)
    front = "crm-full-server" if options.topology == "full-server" else "crm-front-end"
    # with a cloud balancer users reach it, and it reaches the front end, on the web port
    hops = [("clients", front)]
    if options.load_balancer == "cloud":
        hops = [("clients", "cloud-load-balancer"), ("cloud-load-balancer", front)]
    for source, target in hops:
        assert any(
            r.source == source
            and r.target == target
            and r.protocol.value == "tcp"
            and r.from_port <= options.web_port <= r.to_port
            for r in ruleset.rules
        )
    sql_sources = {
        r.source
        for r in ruleset.rules
        if r.target == "sql-server"
        and r.from_port <= options.sql_port <= r.to_port
        and r.protocol.value == "tcp"
    }
    assert front in sql_sources


@settings(max_examples=60, deadline=None)
@given(options_strategy, st.randoms(use_true_random=False))
def test_output_independent_of_catalogue_order(options: Options, rnd: object) -> None:
    shuffled = replace(
        CATALOGUE,
        flows=tuple(rnd.sample(CATALOGUE.flows, len(CATALOGUE.flows))),  # type: ignore[attr-defined]
        services=tuple(rnd.sample(CATALOGUE.services, len(CATALOGUE.services))),  # type: ignore[attr-defined]
        sources=tuple(rnd.sample(CATALOGUE.sources, len(CATALOGUE.sources))),  # type: ignore[attr-defined]
    )
    assert resolve(shuffled, options).to_json() == resolve(CATALOGUE, options).to_json()
