"""Value objects of the catalogue: sources and citations, services with their ports, roles,
flows with their conditions, topologies, and the catalogue that holds them. All frozen,
so a loaded catalogue can be shared and cached without anyone changing it underneath the
resolver. Protocols and port ranges are the shared vocabulary of `crm_ports.net`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from crm_ports.net import PortRange, Protocol

if TYPE_CHECKING:
    from crm_ports.options import Options


@dataclass(frozen=True)
class Location:
    """Where an entry was written, for messages; never part of equality."""

    file: str
    line: int | None = None


NOWHERE = Location("<built-in>")


@dataclass(frozen=True)
class Citation:
    source: str
    at: str


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    file: str | None = None
    url: str | None = None

    def cite(self, at: str) -> str:
        """The reference string a rule carries: the document by its title, then the table
        or sentence. (`file` is where the catalogue's authors read it, a name such as
        `000_9894c7c41747a4bf.txt` that tells a reader nothing.)"""
        return f"{self.title}: {at}"


PLACEHOLDER = re.compile(r"^\$\{([a-z_]+)\}$")


@dataclass(frozen=True)
class PortSpec:
    """One `protocol/port` of a service as written: a number, a range, or an option."""

    protocol: Protocol
    value: str

    @property
    def option(self) -> str | None:
        match = PLACEHOLDER.match(self.value)
        return match.group(1) if match else None

    def resolve(self, options: Options) -> PortRange:
        name = self.option
        if name is None:
            return PortRange.parse(self.value)
        value = options.value(name)
        if isinstance(value, PortRange):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return PortRange(value, value)
        raise ValueError(f"option {name} is not a port")

    def __str__(self) -> str:
        return f"{self.protocol}/{self.value}"


@dataclass(frozen=True)
class Condition:
    """`when:` of an entry: every named option must take one of the listed values."""

    terms: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def matches(self, options: Options) -> bool:
        return all(options.text(name) in values for name, values in self.terms)

    def __str__(self) -> str:
        return ", ".join(f"{name}={'|'.join(values)}" for name, values in self.terms)


ALWAYS = Condition()

# The catalogue's sections: one file and one top-level key each, in the order they load.
SECTIONS = ("sources", "services", "roles", "flows", "topologies", "unsupported")
# The sections a catalogue cannot do without: one with no entries in any of them is refused.
REQUIRED_SECTIONS = SECTIONS[:-1]
SINGULAR = {
    "sources": "source",
    "services": "service",
    "roles": "role",
    "flows": "flow",
    "topologies": "topology",
    "unsupported": "unsupported",
}

EVERY_SERVER = "every-server"

# Groups two options add to a topology (`crm_ports.resolver.variants`), by the names and
# kinds every layer that meets them knows them by.
EXCHANGE = "exchange"
EXCHANGE_GROUP = "exchange"
LOAD_BALANCER = "load-balancer"
CLOUD_BALANCER_GROUP = "cloud-load-balancer"
BALANCER_KIND = "balancer"
# The one role that may sit on two hosts: a second domain controller replicates with the
# first through the firewall (seed 001, "Replicating traffic between domain controllers").
REPEATABLE = ("domain-controller",)


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    explanation: str
    ports: tuple[PortSpec, ...]
    cites: tuple[Citation, ...]
    when: Condition = ALWAYS
    note: str | None = None
    location: Location = field(default=NOWHERE, compare=False)


@dataclass(frozen=True)
class Role:
    id: str
    name: str
    kind: str  # "server" or "peer"
    cidr_option: str | None = None
    location: Location = field(default=NOWHERE, compare=False)


@dataclass(frozen=True)
class Flow:
    """Who talks to whom on which services. `sources`/`targets` hold role ids or
    EVERY_SERVER; `excluded` removes destination groups hosting those roles."""

    id: str
    title: str
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    services: tuple[str, ...]
    cites: tuple[Citation, ...]
    when: Condition = ALWAYS
    excluded: tuple[str, ...] = ()
    recommended: bool = True
    warning: str | None = None
    note: str | None = None
    location: Location = field(default=NOWHERE, compare=False)


@dataclass(frozen=True)
class HostGroup:
    """Roles that share one firewall identity. `kind` overrides the roles' own kind: a
    lab that runs Exchange itself places the `exchange` peer role on a server host."""

    name: str
    roles: tuple[str, ...]
    when: Condition = ALWAYS
    location: Location = field(default=NOWHERE, compare=False)
    kind: str = ""


@dataclass(frozen=True)
class Topology:
    id: str
    title: str
    members_group: str
    members_description: str
    groups: tuple[HostGroup, ...]
    cites: tuple[Citation, ...]
    location: Location = field(default=NOWHERE, compare=False)
    # Optional roles a lab's own placement leaves out: flows from or to them are dropped
    # (no Email Router, say) instead of failing as an unplaced role.
    absent: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unsupported:
    id: str
    when: Condition
    quote: str
    cites: tuple[Citation, ...]
    location: Location = field(default=NOWHERE, compare=False)


@dataclass(frozen=True)
class Catalogue:
    """Everything in `catalog/`, validated and cross-checked."""

    sources: tuple[Source, ...]
    services: tuple[Service, ...]
    roles: tuple[Role, ...]
    flows: tuple[Flow, ...]
    topologies: tuple[Topology, ...]
    unsupported: tuple[Unsupported, ...]

    def source(self, source_id: str) -> Source:
        return next(s for s in self.sources if s.id == source_id)

    def service(self, service_id: str) -> Service:
        return next(s for s in self.services if s.id == service_id)

    def flow(self, flow_id: str) -> Flow:
        return next(f for f in self.flows if f.id == flow_id)

    def role(self, role_id: str) -> Role:
        return next(r for r in self.roles if r.id == role_id)

    def topology(self, topology_id: str) -> Topology:
        return next(t for t in self.topologies if t.id == topology_id)

    def with_topology(self, topology: Topology) -> Catalogue:
        """The same catalogue plus one more topology (a lab's own placement)."""
        return replace(self, topologies=(*self.topologies, topology))

    def cite(self, citation: Citation) -> str:
        return self.source(citation.source).cite(citation.at)
