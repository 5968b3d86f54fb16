"""The inference of `crm-ports adopt` on estates built from a plan's own rules: what a
person opens by hand for a lab with those options is read back as those options, those
roles and those peers (no cloud involved; tests/test_adopt_moto.py reads EC2)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from crm_ports.adopt.infer import Explained, classify_peers, explain, infer_options
from crm_ports.adopt.live import Estate, LiveGroup, LiveRule
from crm_ports.catalogue.load import load_catalogue
from crm_ports.lab.file import load_lab
from crm_ports.plans.aws import plan_aws
from crm_ports.resolver.engine import resolve_lab

HOSTS = {
    "crm-web": ["web-application", "deployment-web-service"],
    "crm-app": ["asynchronous-service", "sandbox-processing"],
    "sql": ["sql-server", "reporting-services"],
    "ad": ["domain-controller"],
}


def estate_for(tmp_path: Path, options: dict[str, Any]) -> Estate:
    """The ingress rules of a lab with `options`, opened by hand on four groups."""
    hosts = "\n".join(f"    - {{name: {h}, roles: [{', '.join(r)}]}}" for h, r in HOSTS.items())
    adopt = "\n".join(
        f"  {h}: {{group_id: sg-{i}, name: {h}, description: d}}" for i, h in enumerate(HOSTS)
    )
    opts = "".join(f"  {k}: {v}\n" for k, v in options.items())
    opts = f"options:\n{opts}" if opts else ""
    path = tmp_path / "reference.yaml"
    path.write_text(
        f"name: ref\nclouds: [aws]\ntopology:\n  hosts:\n{hosts}\n{opts}"
        "client_cidrs: [10.1.0.0/16]\nadmin_cidrs: [10.2.0.0/24]\n"
        f"adopt:\n{adopt}\n",
        encoding="utf-8",
    )
    lab = load_lab(path)
    plan = plan_aws(resolve_lab(load_catalogue(), lab), lab.name, adopt=lab.adopt)
    ids = {h: f"sg-{i}" for i, h in enumerate(HOSTS)}
    rules = tuple(
        LiveRule(
            rule_id=f"sgr-{n:04x}",
            group_id=ids[spec.group],
            egress=False,
            protocol=spec.ip_protocol,
            from_port=spec.from_port,
            to_port=spec.to_port,
            cidr=spec.cidr_ipv4,
            peer_group=ids[spec.peer_group] if spec.peer_group else None,
        )
        for n, spec in enumerate(plan.rules)
        if spec.direction == "ingress"
    )
    groups = tuple(LiveGroup(ids[h], h, f"{h} by hand", ()) for h in HOSTS)
    return Estate("vpc-0abc", "aws us-east-1", groups, rules)


def explain_acme(estate: Estate, *, keep_unexplained: bool = False) -> Explained:
    """`estate` adopted as lab `acme`, nothing given by --hosts."""
    return explain(
        estate,
        load_catalogue(),
        name="acme",
        region="us-east-1",
        endpoint_url=None,
        given={},
        keep_unexplained=keep_unexplained,
    )


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"web_port": 5555},
        {"https": "false"},
        {"rpc_range": "50000-50100"},
        {"sql_named_instance": "true"},
        {"sql_port": 14330},
        {"sql_port": 14330, "sql_named_instance": "true"},
    ],
    ids=[
        "defaults",
        "web-port",
        "no-https",
        "rpc-range",
        "named-instance",
        "sql-port",
        "sql-port-named-instance",
    ],
)
def test_options_roles_and_peers_are_read_back(tmp_path: Path, options: dict[str, Any]) -> None:
    estate = estate_for(tmp_path, options)
    explained = explain_acme(estate)
    shown = {k: str(v).lower() for k, v in explained.raw_options.items()}
    assert shown == {k: str(v).lower() for k, v in options.items()}
    assert explained.peers == {"admin_cidrs": ("10.2.0.0/24",), "client_cidrs": ("10.1.0.0/16",)}
    placed = {h.name: set(h.roles) for h in explained.lab.placement.hosts}  # type: ignore[union-attr]
    for host, roles in HOSTS.items():
        assert set(roles) <= placed[host], (host, placed[host])
    # every live rule is a planned rule the lab imports: nothing left out, no extra rule
    assert explained.left_out == ()
    assert explained.lab.extra_rules == ()
    imported = {rule_id for a in explained.lab.adopt for _, rule_id in a.rules}
    assert imported == {r.rule_id for r in estate.rules}


def _with_port(estate: Estate, port: int, target: str, sources: tuple[str, ...]) -> Estate:
    """`estate` with TCP `port` opened on group `target` from each of `sources`."""
    added = tuple(
        LiveRule(f"sgr-f{n:03x}", target, False, "tcp", port, port, None, source)
        for n, source in enumerate(sources)
    )
    return replace(estate, rules=estate.rules + added)


def test_sql_port_is_the_unopened_port_most_groups_reach(tmp_path: Path) -> None:
    """A custom port from one group beside SQL Server's from two: the SQL port wins; the
    same custom port from as many groups as SQL Server's is a tie, left unread."""
    catalogue = load_catalogue()
    estate = estate_for(tmp_path, {"sql_port": 14330})
    sql_sources = {
        r.peer_group for r in estate.rules if r.from_port == 14330 and r.peer_group is not None
    }
    assert len(sql_sources) == 2  # the front end and the application server

    def inferred(changed: Estate) -> dict[str, Any]:
        return infer_options(changed, classify_peers(changed, catalogue), catalogue)

    one = _with_port(estate, 9000, "sg-3", ("sg-0",))
    assert inferred(one)["sql_port"] == 14330
    tie = _with_port(estate, 9000, "sg-3", tuple(sorted(s for s in sql_sources if s)))
    assert "sql_port" not in inferred(tie)
    # nothing read when the default port is reached: 14330 is then a custom port
    default = estate_for(tmp_path, {})
    assert "sql_port" not in inferred(_with_port(default, 14330, "sg-2", ("sg-0", "sg-1")))
