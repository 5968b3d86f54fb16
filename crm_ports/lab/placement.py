"""A lab's own layout: roles placed on hosts of the user's choosing, checked and turned
into a `Topology` the resolver treats like a catalogue one.

The two seed layouts are not the only real ones (hosting providers run front and back
end on one box, keep SQL Server with SSRS, run their own Exchange), so a lab file or the
construct API may name hosts and their roles. The rules below decide what a placement
must hold; each violation is one located error naming the host and the role.

Which server roles must be placed. CRM 2013 cannot run without:

- `web-application`, `asynchronous-service`, `sandbox-processing`,
  `deployment-web-service`: the CRM server roles. Seed 000 installs all of them on the
  Full Server; seed 001 splits them over the Front End, Back End and Deployment servers,
  and both list their ports as the minimum a deployment opens.
- `sql-server` and `reporting-services`: both seeds give SQL Server and the Reporting
  Services connector their own computer ("except for the Microsoft SQL Server role, and
  the Microsoft Dynamics CRM Connector for SQL Server Reporting Services server role, all
  server roles are installed on the same computer"); CRM Setup asks for both.
- `domain-controller`: "Active Directory directory service required for Active Directory
  access and authentication" (seed 000, every table).
- `adfs`, with `auth: claims` only: seed 001's claims-based access is redirected to AD FS.

Optional roles: `load-balancer` (Windows NLB runs on the web servers, so left unplaced it
joins the host of `web-application`), `email-router` (server-side synchronization runs in
the Asynchronous Service; without it its flows are dropped), `exchange` and `mail-server`
(placed, they are lab servers with their own group; unplaced, outside peers reached
through `mail_cidrs`). The other peers (`client`, `admin`) are always outside the lab.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# The options' own changes to a catalogue topology live in `crm_ports.resolver.variants`, which the
# resolver needs for every lab; the group name stays importable from here as before.
from crm_ports.catalogue.model import CLOUD_BALANCER_GROUP as CLOUD_BALANCER_GROUP
from crm_ports.catalogue.model import NOWHERE, REPEATABLE, Catalogue, HostGroup, Location, Topology
from crm_ports.errors import InputError
from crm_ports.options import Options
from crm_ports.ruleset import IdleRole

REQUIRED = (
    "web-application",
    "asynchronous-service",
    "sandbox-processing",
    "deployment-web-service",
    "sql-server",
    "reporting-services",
    "domain-controller",
)
# role -> (option, values under which the role is required)
REQUIRED_WHEN: dict[str, tuple[str, tuple[str, ...]]] = {"adfs": ("auth", ("claims",))}
# An optional role left unplaced runs on the host of another role (NLB on the web servers).
FOLLOWS = {"load-balancer": "web-application"}
MAX_HOSTS_PER_REPEATABLE = 2
# Peer roles a lab may run itself; every other peer is always outside the lab.
PLACEABLE_PEERS = ("exchange", "mail-server")

# A host name becomes a security group name, an ASG name, a Terraform key and part of
# every rule id (`[a-z0-9._-]`): lower-case words joined by single hyphens.
HOST_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
HOST_NAME_MAX = 40
DEFAULT_MEMBERS = ("lab-servers", "Every server of the lab")


@dataclass(frozen=True)
class Host:
    """One host (or a set of identical hosts sharing one firewall identity) and its roles."""

    name: str
    roles: tuple[str, ...]
    location: Location = field(default=NOWHERE, compare=False)
    field_path: str = field(default="", compare=False)  # e.g. topology.hosts[1]


@dataclass(frozen=True)
class Placement:
    """Roles on hosts, as a lab file's `topology: {hosts: ...}` or `AwsCrmLab.add_host`
    give them. `name` is the topology id the rule set carries (the lab's name)."""

    name: str
    hosts: tuple[Host, ...]
    origin: str = field(default="<placement>", compare=False)

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)


def _error(placement: Placement, host: Host | None, field_path: str, message: str) -> InputError:
    entry = f"host '{host.name}'" if host is not None else f"placement '{placement.name}'"
    line = host.location.line if host is not None else None
    return InputError(placement.origin, entry, field_path, message, line)


def _members(catalogue: Catalogue) -> tuple[str, str]:
    if catalogue.topologies:
        first = catalogue.topologies[0]
        return first.members_group, first.members_description
    return DEFAULT_MEMBERS


def _peer_groups(catalogue: Catalogue, outside: list[str]) -> list[HostGroup]:
    """Outside peers keep the group names the catalogue's own topologies give them
    (`clients`, `administrators`, `mail-system`), so rule ids read the same as in the
    built-in layouts."""
    name_of: dict[str, str] = {}
    for topology in catalogue.topologies:
        for group in topology.groups:
            for role in group.roles:
                name_of.setdefault(role, group.name)
    by_name: dict[str, list[str]] = {}
    for role in outside:
        by_name.setdefault(name_of.get(role, role), []).append(role)
    return [HostGroup(name, tuple(roles)) for name, roles in by_name.items()]


def check_hosts(catalogue: Catalogue, placement: Placement) -> None:
    """Everything that can be said of a placement without the options: names, roles
    known, placeable and placed once. Raises InputError naming the host and role."""
    kinds = {r.id: r.kind for r in catalogue.roles}
    members, _ = _members(catalogue)
    reserved = {members} | {
        g.name for t in catalogue.topologies for g in t.groups if kinds.get(g.roles[0]) == "peer"
    }
    names: set[str] = set()
    placed: dict[str, str] = {}
    repeats: dict[str, int] = {}
    for index, host in enumerate(placement.hosts):
        where = host.field_path or f"hosts[{index}]"
        if not HOST_NAME.match(host.name) or len(host.name) > HOST_NAME_MAX:
            raise _error(
                placement,
                host,
                f"{where}.name",
                f"invalid host name '{host.name}': it names a security group, an ASG and "
                f"Terraform resources, so use lower-case letters, digits and single hyphens, "
                f"starting with a letter, at most {HOST_NAME_MAX} characters",
            )
        if host.name in names:
            raise _error(placement, host, f"{where}.name", f"duplicate host name '{host.name}'")
        if host.name in reserved:
            raise _error(
                placement,
                host,
                f"{where}.name",
                f"host name '{host.name}' is reserved for "
                + ("the group every server carries" if host.name == members else "outside peers"),
            )
        names.add(host.name)
        if not host.roles:
            raise _error(placement, host, f"{where}.roles", "a host needs at least one role")
        for ri, role in enumerate(host.roles):
            at = f"{where}.roles[{ri}]"
            if role not in kinds:
                known = ", ".join(sorted(r for r, k in kinds.items() if k == "server"))
                raise _error(placement, host, at, f"unknown role '{role}' (servers: {known})")
            if kinds[role] == "peer" and role not in PLACEABLE_PEERS:
                raise _error(
                    placement,
                    host,
                    at,
                    f"role '{role}' is always outside the lab (reached through its address "
                    f"ranges) and cannot be placed on a host",
                )
            if role in placed and role not in REPEATABLE:
                raise _error(
                    placement,
                    host,
                    at,
                    f"role '{role}' is placed on both '{placed[role]}' and '{host.name}'; "
                    f"only {', '.join(REPEATABLE)} may sit on two hosts",
                )
            if role in placed and repeats.get(role, 1) >= MAX_HOSTS_PER_REPEATABLE:
                raise _error(
                    placement,
                    host,
                    at,
                    f"role '{role}' is placed on more than {MAX_HOSTS_PER_REPEATABLE} hosts "
                    f"(domain_controllers is 1 or 2)",
                )
            repeats[role] = repeats.get(role, 0) + 1
            placed[role] = host.name


def topology_for(catalogue: Catalogue, placement: Placement, options: Options) -> Topology:
    """The placement as a topology of `catalogue`, after every check of this module."""
    check_hosts(catalogue, placement)
    kinds = {r.id: r.kind for r in catalogue.roles}
    placed = {role: host.name for host in placement.hosts for role in host.roles}
    # The hosts' own field as their source names it (`topology.hosts` in a lab file).
    first = placement.hosts[0].field_path if placement.hosts else ""
    hosts_field = first.rpartition("[")[0] if first.endswith("]") else "hosts"
    for role in REQUIRED:
        if role in kinds and role not in placed:
            raise _error(
                placement,
                None,
                hosts_field,
                f"role '{role}' ({catalogue.role(role).name}) is placed on no host; "
                f"CRM 2013 cannot run without it",
            )
    for role, (option, values) in REQUIRED_WHEN.items():
        if role in kinds and role not in placed and options.text(option) in values:
            raise _error(
                placement,
                None,
                hosts_field,
                f"role '{role}' ({catalogue.role(role).name}) is placed on no host; "
                f"{option} {options.text(option)} needs it",
            )
    extra: dict[str, list[str]] = {}
    for role, leader in FOLLOWS.items():
        if role in kinds and role not in placed and leader in placed:
            extra.setdefault(placed[leader], []).append(role)
            placed[role] = placed[leader]
    groups = [
        HostGroup(
            host.name,
            (*host.roles, *extra.get(host.name, ())),
            location=host.location,
            kind="server",
        )
        # by name: the order hosts were written or added in must change nothing
        for host in sorted(placement.hosts, key=lambda h: h.name)
    ]
    outside = [r.id for r in catalogue.roles if r.kind == "peer" and r.id not in placed]
    absent = tuple(r.id for r in catalogue.roles if r.kind == "server" and r.id not in placed)
    members, description = _members(catalogue)
    return Topology(
        id=placement.name,
        title=f"Lab placement '{placement.name}'",
        members_group=members,
        members_description=description,
        groups=(*groups, *_peer_groups(catalogue, outside)),
        cites=(),
        location=Location(placement.origin),
        absent=absent,
    )


def idle_roles(
    catalogue: Catalogue, placement: Placement, options: Options
) -> tuple[IdleRole, ...]:
    """The placed roles no flow of `catalogue` names under `options`, by host and role.

    A flow names a role as its source or target; the every-server flows name none, which
    is the point: a host whose roles have no flow of their own gets only those. The needed
    options are the conditions of the flows that would name the role."""
    out = []
    for host in sorted(placement.hosts, key=lambda h: h.name):
        for role in host.roles:
            naming = [f for f in catalogue.flows if role in (*f.sources, *f.targets)]
            if any(f.when.matches(options) for f in naming):
                continue
            needs = " or ".join(dict.fromkeys(str(f.when) for f in naming if str(f.when)))
            out.append(IdleRole(host.name, role, needs))
    return tuple(out)
