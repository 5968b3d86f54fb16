"""Properties over random valid placements of every role onto 1 to 9 hosts: each flow
between two different hosts yields its rule, roles sharing a host yield none between
them, and adding an unrelated host renames no rule."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_ports.catalogue.load import load_catalogue
from crm_ports.catalogue.model import EVERY_SERVER, Flow
from crm_ports.lab.model import Lab
from crm_ports.lab.placement import REQUIRED, Host, Placement
from crm_ports.options import Options
from crm_ports.resolver.engine import resolve_lab
from crm_ports.ruleset import RuleSet

CATALOGUE = load_catalogue()
# Optional roles a placement may leave out (adfs is required under claims, see below).
OPTIONAL = ("load-balancer", "email-router", "exchange", "mail-server", "adfs")
HOST_NAMES = tuple(f"host{i}" for i in range(1, 10))

options_strategy = st.builds(
    Options,
    auth=st.sampled_from(["iwa", "claims"]),
    email=st.sampled_from(["none", "outlook", "exchange", "pop3-smtp"]),
    https=st.booleans(),
    sql_named_instance=st.booleans(),
    phase=st.sampled_from(["setup", "operation"]),
    sql_views=st.booleans(),
)


@st.composite
def placements(draw: st.DrawFn) -> tuple[Placement, Options]:
    options = draw(options_strategy)
    count = draw(st.integers(1, 9))
    optional = [r for r in OPTIONAL if draw(st.booleans())]
    if options.auth == "claims" and "adfs" not in optional:
        optional.append("adfs")
    roles = [*REQUIRED, *optional]
    assignment = {role: draw(st.integers(0, count - 1)) for role in roles}
    hosts = tuple(
        Host(HOST_NAMES[i], tuple(r for r in roles if assignment[r] == i))
        for i in range(count)
        if any(assignment[r] == i for r in roles)
    )
    placement = Placement("prop-lab", hosts, origin="<property>")
    return placement, replace(options, topology="prop-lab")


def resolved(placement: Placement, options: Options) -> RuleSet:
    return resolve_lab(CATALOGUE, Lab("prop-lab", options, placement=placement))


def host_of(placement: Placement, role: str) -> str | None:
    return next((h.name for h in placement.hosts if role in h.roles), None)


def group_of(ruleset: RuleSet, placement: Placement, role: str) -> str | None:
    """The host of a placed role (NLB follows the web application), else its peer group."""
    for group in ruleset.groups:
        if role in group.roles and not group.is_members:
            return group.name
    return None


def active(flow: Flow, options: Options) -> bool:
    return flow.when.matches(options)


@settings(max_examples=60, deadline=None)
@given(placements())
def test_every_flow_between_two_hosts_yields_its_rule(case: tuple[Placement, Options]) -> None:
    placement, options = case
    ruleset = resolved(placement, options)
    options = ruleset.options  # as the hosts set them: Exchange placed is Exchange in the lab
    kinds = {g.name: g.kind for g in ruleset.groups}
    for flow in CATALOGUE.flows:
        if not active(flow, options) or EVERY_SERVER in (*flow.sources, *flow.targets):
            continue
        for source_role in flow.sources:
            for target_role in flow.targets:
                source = group_of(ruleset, placement, source_role)
                target = group_of(ruleset, placement, target_role)
                if source is None or target is None:
                    continue  # an optional role left out: its flows are dropped
                if source == target or kinds[source] == kinds[target] == "peer":
                    continue
                for sid in flow.services:
                    service = CATALOGUE.service(sid)
                    if not service.when.matches(options):
                        continue
                    for spec in service.ports:
                        ports = spec.resolve(options)
                        assert any(
                            r.source == source
                            and r.target == target
                            and r.protocol == spec.protocol
                            and r.ports.start <= ports.start
                            and ports.end <= r.ports.end
                            and flow.id in r.flows
                            for r in ruleset.rules
                        ), f"{flow.id}: {spec} from {source} to {target} has no rule"


@settings(max_examples=60, deadline=None)
@given(placements())
def test_roles_on_one_host_yield_no_rule_between_them(case: tuple[Placement, Options]) -> None:
    placement, options = case
    ruleset = resolved(placement, options)
    servers = {h.name for h in placement.hosts}
    for rule in ruleset.rules:
        assert rule.source != rule.target
        if rule.source in servers and rule.target in servers:
            # justified by a flow from a role on the source host to a role on the target
            sources = set(ruleset.group(rule.source).roles)
            targets = set(ruleset.group(rule.target).roles)
            assert any(
                sources & set(f.sources) and (targets & set(f.targets))
                for f in CATALOGUE.flows
                if f.id in rule.flows
            ), rule.id
    if len(placement.hosts) == 1:
        (host,) = servers
        assert not [r for r in ruleset.rules if {r.source, r.target} <= {host, "lab-servers"}]


@settings(max_examples=40, deadline=None)
@given(placements(), st.sampled_from(["email-router", "adfs", "load-balancer"]))
def test_an_unrelated_host_renames_no_rule(case: tuple[Placement, Options], role: str) -> None:
    placement, options = case
    if host_of(placement, role) is not None or (role == "load-balancer"):
        placement = replace(
            placement,
            hosts=tuple(
                replace(h, roles=tuple(r for r in h.roles if r != role)) for h in placement.hosts
            ),
        )
        placement = replace(placement, hosts=tuple(h for h in placement.hosts if h.roles))
    if role == "adfs" and options.auth == "claims":
        options = replace(options, auth="iwa")
    before = resolved(placement, options)
    grown = replace(placement, hosts=(*placement.hosts, Host("newcomer", (role,))))
    after = {r.id: r for r in resolved(grown, options).rules}
    for rule in before.rules:
        if role == "load-balancer" and host_of(placement, "web-application") in (
            rule.source,
            rule.target,
        ):
            continue  # NLB moved off the web host: its flows now end at the newcomer
        assert after.get(rule.id) == rule, rule.id
