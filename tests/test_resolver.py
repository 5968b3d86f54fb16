"""The resolver on the built-in catalogue: every option mix resolves to the documented
JSON shape, and the options change exactly what the seeds say they change."""

from __future__ import annotations

import itertools

import pytest

from crm_ports.catalogue.model import Catalogue
from crm_ports.errors import InputError
from crm_ports.net import PortRange
from crm_ports.options import Options
from crm_ports.resolver.engine import resolve
from crm_ports.ruleset import RuleSet

MIXES = list(
    itertools.product(
        ["full-server", "split-roles"],
        ["iwa", "claims"],
        ["none", "outlook", "exchange", "pop3-smtp"],
        [True, False],  # https
        ["setup", "operation"],
        [True, False],  # sql_views
        [True, False],  # sql_named_instance
    )
)


def _options(mix: tuple[object, ...]) -> Options:
    topology, auth, email, https, phase, views, named = mix
    return Options(
        topology=str(topology),
        auth=str(auth),
        email=str(email),
        https=bool(https),
        phase=str(phase),
        sql_views=bool(views),
        sql_named_instance=bool(named),
    )


def _ports(ruleset: RuleSet, source: str, target: str) -> set[tuple[str, int]]:
    return {
        (r.protocol.value, port)
        for r in ruleset.rules
        if r.source == source and r.target == target
        for port in range(r.from_port, min(r.to_port, r.from_port + 3) + 1)
    }


def test_every_topology_and_option_mix_resolves(catalogue: Catalogue) -> None:
    keys = {
        "id",
        "from",
        "to",
        "protocol",
        "from_port",
        "to_port",
        "service",
        "description",
        "refs",
    }
    for mix in MIXES:
        data = resolve(catalogue, _options(mix)).to_json()
        assert data["topology"] == mix[0]
        assert isinstance(data["options"], dict)
        names = {g["name"] for g in data["groups"]}
        for group in data["groups"]:
            assert group["kind"] in ("server", "peer")
            assert isinstance(group["roles"], list)
        assert data["rules"], mix
        for rule in data["rules"]:
            assert keys <= rule.keys()
            assert rule["from"] in names and rule["to"] in names
            assert rule["protocol"] in ("tcp", "udp", "icmp", "all")
            assert 0 <= rule["from_port"] <= rule["to_port"] <= 65535
            assert rule["description"] and rule["refs"]


def test_no_rule_inside_one_group_or_between_two_peers(catalogue: Catalogue) -> None:
    for mix in MIXES[:64]:
        ruleset = resolve(catalogue, _options(mix))
        peers = {g.name for g in ruleset.groups if g.is_peer}
        for rule in ruleset.rules:
            assert rule.source != rule.target
            assert not (rule.source in peers and rule.target in peers)


def test_full_server_keeps_crm_roles_on_one_box(catalogue: Catalogue) -> None:
    ruleset = resolve(catalogue, Options(topology="full-server"))
    # web -> sandbox (808) crosses no firewall when both run on the Full Server
    assert not any(r.service == "crm-sandbox" for r in ruleset.rules)
    assert ("tcp", 808) in _ports(ruleset, "sql-server", "crm-full-server")  # Fetch reports


def test_split_roles_sandbox_and_fetch(catalogue: Catalogue) -> None:
    ruleset = resolve(catalogue, Options())
    assert ("tcp", 808) in _ports(ruleset, "crm-front-end", "crm-back-end")
    assert ("tcp", 808) in _ports(ruleset, "ssrs", "crm-front-end")
    assert {("tcp", 80), ("tcp", 443)} <= _ports(ruleset, "crm-front-end", "ssrs")
    assert ("tcp", 1433) in _ports(ruleset, "ssrs", "sql-server")


def test_configurable_ports(catalogue: Catalogue) -> None:
    ruleset = resolve(
        catalogue,
        Options(web_port=5555, sql_port=1533, sandbox_port=8080, rpc_range=PortRange(50000, 50100)),
    )
    assert ("tcp", 5555) in _ports(ruleset, "clients", "crm-front-end")
    assert ("tcp", 1533) in _ports(ruleset, "crm-front-end", "sql-server")
    assert ("tcp", 8080) in _ports(ruleset, "crm-front-end", "crm-back-end")
    rpc = [r for r in ruleset.rules if r.service == "rpc-dynamic"]
    assert [(r.from_port, r.to_port) for r in rpc] == [(50000, 50100)]
    assert ("tcp", 808) in _ports(ruleset, "ssrs", "crm-front-end")  # listener stays on 808


def test_operation_phase_drops_setup_only_netbios_to_sql(catalogue: Catalogue) -> None:
    setup = resolve(catalogue, Options(phase="setup"))
    operation = resolve(catalogue, Options(phase="operation"))
    assert ("tcp", 139) in _ports(setup, "lab-servers", "sql-server")
    assert ("tcp", 139) not in _ports(operation, "lab-servers", "sql-server")
    assert ("tcp", 139) in _ports(operation, "lab-servers", "crm-front-end")


def test_https_off_drops_443_but_not_adfs(catalogue: Catalogue) -> None:
    ruleset = resolve(catalogue, Options(https=False, auth="claims"))
    assert ("tcp", 443) not in _ports(ruleset, "clients", "crm-front-end")
    assert ("tcp", 443) in _ports(ruleset, "clients", "adfs")


def test_claims_adds_adfs_and_drops_client_kerberos(catalogue: Catalogue) -> None:
    iwa = resolve(catalogue, Options())
    claims = resolve(catalogue, Options(auth="claims"))
    assert "adfs" not in {g.name for g in iwa.groups}
    assert ("tcp", 88) in _ports(iwa, "clients", "domain-controller")
    assert ("tcp", 88) not in _ports(claims, "clients", "domain-controller")
    assert ("tcp", 443) in _ports(claims, "crm-front-end", "adfs")


def test_sql_views_is_flagged(catalogue: Catalogue) -> None:
    ruleset = resolve(catalogue, Options(sql_views=True, sql_named_instance=True))
    assert {("tcp", 1433), ("udp", 1434)} <= _ports(ruleset, "clients", "sql-server")
    assert [a.flow for a in ruleset.advisories] == ["client-sql-browser", "client-sql-views"]
    assert not resolve(catalogue, Options()).advisories


def test_adjacent_ports_merge_and_keep_every_service(catalogue: Catalogue) -> None:
    ruleset = resolve(catalogue, Options())
    rule = next(
        r for r in ruleset.rules if r.id == "lab-servers.crm-front-end.udp.netbios-dgm_netbios-ns"
    )
    assert (rule.from_port, rule.to_port) == (137, 138)
    assert rule.service == "netbios-dgm+netbios-ns"
    epm = next(
        r
        for r in ruleset.rules
        if r.source == "lab-servers"
        and r.target == "domain-controller"
        and r.protocol.value == "tcp"
        and r.from_port == 135
    )
    assert epm.service == "msrpc+rpc-endpoint-mapper"  # same port from two tables: one rule


def test_members_group_lists_every_server_group(catalogue: Catalogue) -> None:
    ruleset = resolve(catalogue, Options())
    members = ruleset.group("lab-servers")
    servers = {g.name for g in ruleset.groups if not g.is_peer and not g.is_members}
    assert set(members.members) == servers
    assert ruleset.group("clients").cidrs == ("10.100.0.0/16",)


@pytest.mark.parametrize(
    ("values", "field", "quote"),
    [
        (
            {"exchange_server": "2007"},
            "exchange_server",
            "Exchange Server 2003 and Exchange Server 2007",
        ),
        ({"exchange_server": "online"}, "exchange_server", "(on-premises) with Exchange Online"),
        (
            {"email_outgoing": "pop3-smtp"},
            "email_outgoing",
            "Mix of Exchange/SMTP and POP3/Exchange",
        ),
        ({"email": "pop3-smtp", "email_outgoing": "exchange"}, "email_outgoing", "Mix of Exchange"),
    ],
)
def test_unsupported_sync_combinations_quote_the_seed(
    catalogue: Catalogue, values: dict[str, str], field: str, quote: str
) -> None:
    with pytest.raises(InputError) as err:
        resolve(catalogue, Options().with_values(values))
    assert field in err.value.field
    assert quote in err.value.message


def test_pop3_smtp_with_exchange_2007_is_fine(catalogue: Catalogue) -> None:
    """The Exchange version only matters when the router talks to Exchange."""
    resolve(catalogue, Options(email="pop3-smtp", exchange_server="2007"))
