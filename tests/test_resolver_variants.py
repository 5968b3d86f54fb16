"""The two topology variants on catalogues other than the built-in one, where group order
and role kinds differ, and their refusals word for word from a lab file: what the
built-in topologies (Exchange's group last, every group's kind taken from its roles)
never show."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from crm_ports.catalogue.model import EXCHANGE_GROUP, Catalogue, HostGroup, Topology
from crm_ports.resolver.variants import exchange_inside
from tests.conftest import Result
from tests.test_placement import HOSTS  # a placement lab without the optional roles

Cli = Callable[..., Result]


def _split_roles(catalogue: Catalogue) -> Topology:
    return catalogue.topology("split-roles")


def test_exchange_moves_inside_wherever_its_group_stands(catalogue: Catalogue) -> None:
    """Exchange's outside group first: the groups after it stay, Exchange's other role
    keeps its group, and Exchange gets a server group of its own."""
    topology = _split_roles(catalogue)
    [mail] = [g for g in topology.groups if "exchange" in g.roles]
    others = tuple(g for g in topology.groups if g is not mail)
    inside = exchange_inside(catalogue, replace(topology, groups=(mail, *others)))
    assert [(g.name, g.roles, g.kind) for g in inside.groups] == [
        (mail.name, ("mail-server",), ""),
        *((g.name, g.roles, g.kind) for g in others),
        (EXCHANGE_GROUP, ("exchange",), "server"),
    ]


def test_a_group_whose_kind_says_server_already_holds_exchange(catalogue: Catalogue) -> None:
    """A lab placement marks Exchange's host a server, whatever the role's own kind."""
    topology = _split_roles(catalogue)
    placed = replace(
        topology, groups=(*topology.groups, HostGroup("mx", ("exchange",), kind="server"))
    )
    assert exchange_inside(catalogue, placed) is placed


def test_a_catalogue_whose_exchange_role_is_a_server_keeps_its_groups(
    catalogue: Catalogue,
) -> None:
    """A user's catalogue may declare the exchange role a server: its group has no kind of
    its own, so the role's kind says Exchange is already in the lab."""
    own = replace(
        catalogue,
        roles=tuple(
            replace(r, kind="server") if r.id == "exchange" else r for r in catalogue.roles
        ),
    )
    topology = _split_roles(own)
    mx = HostGroup("mx", ("exchange",))
    placed = replace(
        topology, groups=(*(g for g in topology.groups if "exchange" not in g.roles), mx)
    )
    assert exchange_inside(own, placed) is placed


@pytest.mark.parametrize(
    ("host", "line"),
    [
        (
            "    - {name: nlb, roles: [load-balancer]}\n",
            "{lab}:6: host 'nlb': field 'roles': with load_balancer cloud the cloud's balancer "
            "takes the role 'load-balancer', leaving host 'nlb' with none: remove the host",
        ),
        (
            "    - {name: cloud-load-balancer, roles: [email-router]}\n",
            "{lab}:6: topology 'my-lab': field 'groups': host name 'cloud-load-balancer' is "
            "reserved for the cloud's load balancer (load_balancer cloud): rename the host",
        ),
    ],
    ids=["balancer-only-host", "reserved-name"],
)
def test_cloud_balancer_refusals_name_the_file_line_entry_and_field(
    cli: Cli, tmp_path: Path, host: str, line: str
) -> None:
    lab = tmp_path / "lab.yaml"
    text = HOSTS.replace("    - {name: sql", host + "    - {name: sql", 1)
    lab.write_text(text + "options: {load_balancer: cloud}\n", encoding="utf-8")
    out = tmp_path / "rules.json"
    result = cli("rules", "--lab", str(lab), "-o", str(out))
    assert (result.code, result.out) == (2, "")
    assert result.err == "crm-ports: error: " + line.format(lab=lab) + "\n"
    assert not out.exists()
