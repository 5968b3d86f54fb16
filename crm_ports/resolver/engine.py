"""Topology + options -> RuleSet. Pure Python: no cdktf, no jsii, no I/O.

The steps, in order: refuse what the seeds call unsupported; place roles on the
topology's host groups; expand every active flow into (from group, to group, protocol,
port range, service) candidates; drop flows inside one group (no firewall between) and
flows between two outside peers; then merge per (from, to, protocol): duplicates collapse,
overlapping and adjacent ranges join, and each merged rule keeps every service, flow and
citation that asked for it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NamedTuple

from crm_ports.catalogue.model import (
    BALANCER_KIND,
    EVERY_SERVER,
    REPEATABLE,
    Catalogue,
    Citation,
    Flow,
    Topology,
)
from crm_ports.errors import InputError
from crm_ports.net import PortRange, Protocol
from crm_ports.options import Options
from crm_ports.resolver.variants import cloud_balancer, exchange_inside
from crm_ports.ruleset import Advisory, Group, Rule, RuleSet

if TYPE_CHECKING:  # a lab, its own placement and its lab-local rules only reach `resolve_lab`
    from crm_ports.lab.model import Lab
    from crm_ports.lab.placement import Placement


# The two records below live only inside one `resolve` call: named tuples, which compare,
# hash and sort like a frozen dataclass with `order=True` over the same fields, cost a
# fraction of one to define, and every command pays for defining its classes at import.
class _Candidate(NamedTuple):
    source: str
    target: str
    protocol: Protocol
    start: int
    end: int
    service: str
    flow: str


class _Placement(NamedTuple):
    topology: Topology
    groups: tuple[Group, ...]
    group_of: dict[str, tuple[str, ...]]  # role id -> group names (active groups only)

    def server_groups(self) -> list[Group]:
        return [g for g in self.groups if not g.is_peer and not g.is_members and not g.is_balancer]


@dataclass(frozen=True)
class ResolvedLab:
    """A lab with the rule set it resolved to: what a review compares and a check judges."""

    lab: Lab
    ruleset: RuleSet


def resolve_lab(catalogue: Catalogue, lab: Lab) -> RuleSet:
    """A lab's rule set: its own placement (when its options still name it; a
    `--topology` flag may have chosen a catalogue topology instead), then its
    lab-local rules. Every command that takes a lab comes through here."""
    from crm_ports.lab.extra import add_extra_rules

    placement = lab.placement
    if placement is not None and lab.options.topology == placement.name:
        from crm_ports.lab.placement import idle_roles, topology_for

        if any(t.id == placement.name for t in catalogue.topologies):
            raise InputError(
                placement.origin,
                f"lab '{lab.name}'",
                "topology",
                f"the lab's own placement would hide the catalogue's topology "
                f"'{placement.name}' of the same name: rename the lab",
            )
        catalogue = catalogue.with_topology(topology_for(catalogue, placement, lab.options))
        options = _with_placed_servers(lab, placement)
        ruleset = resolve(catalogue, options, spread_members=lab.adopted_estate)
        ruleset = replace(
            ruleset, idle_roles=idle_roles(catalogue, placement, options), own_placement=True
        )
        return add_extra_rules(ruleset, lab.extra_rules)
    return add_extra_rules(resolve(catalogue, lab.options), lab.extra_rules)


def _with_placed_servers(lab: Lab, placement: Placement) -> Options:
    """In a lab's own placement the hosts say how many domain controllers there are and
    whether Exchange is a server of the lab; `domain_controllers` and `exchange_in_lab`
    follow them, so the flows' conditions hold, and may not contradict them."""
    count = sum(1 for h in placement.hosts if "domain-controller" in h.roles)
    exchange = any("exchange" in h.roles for h in placement.hosts)
    for name, said, placed, fix in (
        (
            "domain_controllers",
            lab.options.domain_controllers == 2,
            count >= 2,
            "place domain-controller on a second host",
        ),
        ("exchange_in_lab", lab.options.exchange_in_lab, exchange, "place exchange on a host"),
    ):
        if said and not placed:
            raise InputError(
                placement.origin,
                f"lab '{lab.name}'",
                f"options.{name}",
                f"{name} asks for what the placement does not hold: {fix}",
            )
    return replace(lab.options, domain_controllers=max(count, 1), exchange_in_lab=exchange)


def resolve(catalogue: Catalogue, options: Options, *, spread_members: bool = False) -> RuleSet:
    """With `spread_members` (an adopted estate, whose instances hold only their own
    group) there is no group every server carries: each every-server flow becomes one rule
    from each server group, so no instance needs a group it does not already hold."""
    _refuse_unsupported(catalogue, options)
    placement = _place(catalogue, options)
    if spread_members:
        placement = placement._replace(
            groups=tuple(g for g in placement.groups if not g.is_members)
        )
    candidates: list[_Candidate] = []
    advisories: list[Advisory] = []
    kinds = {g.name: g.kind for g in placement.groups}
    # A one-host lab: what "every server" opens to that host crosses no firewall.
    lone = {g.name: set(g.members) for g in placement.groups if g.is_members}
    for flow in catalogue.flows:
        if not flow.when.matches(options):
            continue
        if not flow.recommended and flow.warning:
            advisories.append(Advisory(flow.id, flow.warning))
        sources = _sources(flow, placement, catalogue)
        targets = _targets(flow, placement, catalogue)
        services = [catalogue.service(s) for s in flow.services]
        for source in sources:
            for target in targets:
                if source == target or (kinds[source] == "peer" and kinds[target] == "peer"):
                    continue
                if source in lone and lone[source] <= {target}:
                    continue
                for service in services:
                    if not service.when.matches(options):
                        continue
                    for spec in service.ports:
                        ports = spec.resolve(options)
                        candidates.append(
                            _Candidate(
                                source,
                                target,
                                spec.protocol,
                                ports.start,
                                ports.end,
                                service.id,
                                flow.id,
                            )
                        )
    rules = _merge(candidates, catalogue)
    return RuleSet(
        topology=placement.topology.id,
        options=options,
        groups=placement.groups,
        rules=rules,
        advisories=tuple(sorted(set(advisories), key=lambda a: a.flow)),
    )


def _refuse_unsupported(catalogue: Catalogue, options: Options) -> None:
    for entry in catalogue.unsupported:
        if entry.when.matches(options):
            names = [name for name, _ in entry.when.terms]
            settings = ", ".join(f"{name}={options.text(name)}" for name in names)
            raise InputError(
                options.origin,
                "options",
                ", ".join(names),
                f'unsupported combination ({settings}); the seed says: "{entry.quote}" '
                f"({entry.location.file}: {entry.id})",
                min((at for at in map(options.line, names) if at is not None), default=None),
            )


def _place(catalogue: Catalogue, options: Options) -> _Placement:
    try:
        topology = catalogue.topology(options.topology)
        if options.exchange_in_lab:
            topology = exchange_inside(catalogue, topology)
        if options.load_balancer == "cloud":
            topology = cloud_balancer(topology)
    except StopIteration:
        known = ", ".join(t.id for t in catalogue.topologies)
        raise InputError(
            options.origin,
            "options",
            "topology",
            f"unknown topology '{options.topology}' (known: {known})",
            options.line("topology"),
        ) from None
    group_of: dict[str, tuple[str, ...]] = {}
    groups: list[Group] = []
    server_roles: list[str] = []
    server_names: list[str] = []
    for host in topology.groups:
        if not host.when.matches(options):
            continue
        for role in host.roles:
            if role in group_of and (role not in REPEATABLE or len(group_of[role]) >= 2):
                raise InputError(
                    host.location.file,
                    f"topology '{topology.id}'",
                    "groups",
                    f"role '{role}' is placed on both '{group_of[role][-1]}' and '{host.name}'",
                    host.location.line,
                )
            group_of[role] = (*group_of.get(role, ()), host.name)
        kind = host.kind or catalogue.role(host.roles[0]).kind
        cidrs: tuple[str, ...] = ()
        cidr_option = catalogue.role(host.roles[0]).cidr_option if kind == "peer" else None
        if kind == "peer" and cidr_option:
            cidrs = tuple(options.value(cidr_option))
        elif kind != BALANCER_KIND:  # the cloud's balancer is no server of the lab
            server_roles.extend(host.roles)
            server_names.append(host.name)
        groups.append(Group(host.name, host.roles, kind, cidrs=cidrs, cidr_option=cidr_option))
    members = Group(
        topology.members_group,
        tuple(server_roles),
        "server",
        members=tuple(server_names),
        description=topology.members_description,
    )
    ordered = sorted([*groups, members], key=lambda g: (g.kind != "server", g.name))
    return _Placement(topology, tuple(ordered), group_of)


def _group_of(role: str, flow: Flow, field: str, placement: _Placement) -> tuple[str, ...]:
    groups = placement.group_of.get(role)
    if groups is None:
        raise InputError(
            flow.location.file,
            f"flow '{flow.id}'",
            field,
            f"role '{role}' is not placed by topology '{placement.topology.id}' with these options",
            flow.location.line,
        )
    return groups


def _sources(flow: Flow, placement: _Placement, catalogue: Catalogue) -> list[str]:
    if flow.sources == (EVERY_SERVER,):
        if not any(g.is_members for g in placement.groups):  # spread over the servers
            return [g.name for g in placement.server_groups()]
        return [placement.topology.members_group]
    absent = placement.topology.absent
    return sorted(
        {g for r in flow.sources if r not in absent for g in _group_of(r, flow, "from", placement)}
    )


def _targets(flow: Flow, placement: _Placement, catalogue: Catalogue) -> list[str]:
    if flow.targets == (EVERY_SERVER,):
        skip = {g for r in flow.excluded for g in placement.group_of.get(r, ())}
        return [g.name for g in placement.server_groups() if g.name not in skip]
    absent = placement.topology.absent
    return sorted(
        {g for r in flow.targets if r not in absent for g in _group_of(r, flow, "to", placement)}
    )


def _merge(candidates: Iterable[_Candidate], catalogue: Catalogue) -> tuple[Rule, ...]:
    by_pair: dict[tuple[str, str, Protocol], list[_Candidate]] = defaultdict(list)
    for c in set(candidates):
        by_pair[(c.source, c.target, c.protocol)].append(c)
    spans: list[tuple[str, str, Protocol, PortRange, set[str], set[str]]] = []
    for (source, target, protocol), items in by_pair.items():
        items.sort()
        items.sort(key=lambda c: (c.start, c.end))
        current: tuple[int, int, set[str], set[str]] | None = None
        for c in items:
            if current is not None and c.start <= current[1] + 1:
                current[2].add(c.service)
                current[3].add(c.flow)
                current = (current[0], max(current[1], c.end), current[2], current[3])
                continue
            if current is not None:
                spans.append((source, target, protocol, PortRange(*current[:2]), *current[2:]))
            current = (c.start, c.end, {c.service}, {c.flow})
        if current is not None:
            spans.append((source, target, protocol, PortRange(*current[:2]), *current[2:]))

    def base_id(span: tuple[str, str, Protocol, PortRange, set[str], set[str]]) -> str:
        source, target, protocol, _, services, _ = span
        return f"{source}.{target}.{protocol.value}.{'_'.join(sorted(services))}"

    counts: dict[str, int] = defaultdict(int)
    for span in spans:
        counts[base_id(span)] += 1
    # Every rule names its services, flows and citations: look each up once by id rather
    # than scanning the catalogue's tuples (`Catalogue.service` and friends) per rule.
    services_by_id = {s.id: s for s in catalogue.services}
    flows_by_id = {f.id: f for f in catalogue.flows}
    sources_by_id = {s.id: s for s in catalogue.sources}

    def cite(citation: Citation) -> str:  # as `Catalogue.cite`
        return sources_by_id[citation.source].cite(citation.at)

    rules = []
    for span in spans:
        source, target, protocol, ports, services, flows = span
        rule_id = base_id(span)
        if counts[rule_id] > 1:  # one service on two separate ranges: the range tells them apart
            rule_id += f".{ports}"
        service_list = sorted(services)
        flow_list = sorted(flows)
        names = ", ".join(services_by_id[s].name for s in service_list)
        titles = "; ".join(flows_by_id[fid].title for fid in flow_list)
        refs: set[str] = set()
        for fid in flow_list:
            refs.update(cite(c) for c in flows_by_id[fid].cites)
        for sid in service_list:
            refs.update(cite(c) for c in services_by_id[sid].cites)
        rules.append(
            Rule(
                id=rule_id,
                source=source,
                target=target,
                protocol=protocol,
                ports=ports,
                service="+".join(service_list),
                description=f"{names}: {titles}",
                refs=tuple(sorted(refs)),
                flows=tuple(flow_list),
            )
        )
    return tuple(sorted(rules, key=Rule.sort_key))
