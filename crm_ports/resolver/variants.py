"""How two options reshape a catalogue topology before the resolver places its roles:
`exchange_in_lab` makes Exchange a server group of the lab, `load_balancer: cloud` gives
the cloud's balancer a group of its own.

Every resolve may need them, so they live apart from `crm_ports.lab.placement` (a lab's own
hosts and their checks), which only labs with a placement load.
"""

from __future__ import annotations

from dataclasses import replace

from crm_ports.catalogue.model import (
    BALANCER_KIND,
    CLOUD_BALANCER_GROUP,
    EXCHANGE,
    EXCHANGE_GROUP,
    LOAD_BALANCER,
    Catalogue,
    HostGroup,
    Topology,
)
from crm_ports.errors import InputError


def exchange_inside(catalogue: Catalogue, topology: Topology) -> Topology:
    """`exchange_in_lab` for a topology that keeps Exchange outside: the `exchange` role
    leaves the outside mail peers for a server group of its own, as a lab placement that
    puts it on a host does. Server-side synchronization needs Exchange Server 2013
    on-premises (seed 001), so in a hosted lab it is a server to protect like the others."""
    kinds = {r.id: r.kind for r in catalogue.roles}
    groups: list[HostGroup] = []
    for group in topology.groups:
        kind = group.kind or kinds.get(group.roles[0], "")
        if EXCHANGE in group.roles and kind == "server":
            return topology  # already a server of the lab
        if EXCHANGE in group.roles:
            rest = tuple(r for r in group.roles if r != EXCHANGE)
            if rest:
                groups.append(replace(group, roles=rest))
            continue
        groups.append(group)
    if any(g.name == EXCHANGE_GROUP for g in groups):
        return topology
    inside = HostGroup(EXCHANGE_GROUP, (EXCHANGE,), kind="server")
    return replace(topology, groups=(*groups, inside))


def cloud_balancer(topology: Topology) -> Topology:
    """`load_balancer: cloud`: the `load-balancer` role leaves the web servers (where
    Windows NLB would run, which neither cloud can: KB 2721672 for Azure, no broadcast or
    multicast in an EC2 VPC) for a group of its own, the cloud's balancer. It is no
    server of the lab: it carries no members group and no every-server flow reaches it,
    but on AWS it holds a security group that the Application Load Balancer carries."""
    groups: list[HostGroup] = []
    for group in topology.groups:
        if group.name == CLOUD_BALANCER_GROUP:
            raise InputError(
                group.location.file or topology.location.file,
                f"topology '{topology.id}'",
                "groups",
                f"host name '{CLOUD_BALANCER_GROUP}' is reserved for the cloud's load "
                f"balancer (load_balancer cloud): rename the host",
                group.location.line,
            )
        if LOAD_BALANCER not in group.roles:
            groups.append(group)
            continue
        rest = tuple(r for r in group.roles if r != LOAD_BALANCER)
        if not rest:
            raise InputError(
                group.location.file or topology.location.file,
                f"host '{group.name}'",
                "roles",
                f"with load_balancer cloud the cloud's balancer takes the role "
                f"'{LOAD_BALANCER}', leaving host '{group.name}' with none: remove the host",
                group.location.line,
            )
        groups.append(replace(group, roles=rest))
    balancer = HostGroup(CLOUD_BALANCER_GROUP, (LOAD_BALANCER,), kind=BALANCER_KIND)
    return replace(topology, groups=(*groups, balancer))
