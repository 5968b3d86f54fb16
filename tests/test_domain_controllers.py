"""Two domain controllers replicating through the firewall, in each of seed 001's three
approaches (`ad_replication`), and Exchange Server 2013 as a server of the lab: the rule
set, the KB citations of every new port, ESP as a protocol without ports in both clouds'
plans, the one all-ports flow CRM004 accepts, and the bad input each option refuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from crm_ports.catalogue.model import Catalogue
from crm_ports.errors import InputError
from crm_ports.lab.file import load_lab
from crm_ports.net import Protocol
from crm_ports.options import Options
from crm_ports.plans.aws import plan_aws
from crm_ports.plans.azure import plan_azure
from crm_ports.resolver.engine import resolve, resolve_lab
from crm_ports.ruleset import Rule, RuleSet
from tests.conftest import Result

Cli = Callable[..., Result]
LABS = Path(__file__).parent / "fixtures" / "labs"
TWO_DCS = LABS / "two-dcs.yaml"
MODES = ("rpc-dynamic", "rpc-fixed", "ipsec")

# KB 179442, "Ports for Active Directory", without the dynamic RPC range.
KB_179442 = {
    ("tcp", 53, 53),
    ("udp", 53, 53),
    ("tcp", 88, 88),
    ("udp", 88, 88),
    ("tcp", 135, 135),
    ("tcp", 389, 389),
    ("udp", 389, 389),
    ("tcp", 445, 445),
    ("tcp", 464, 464),
    ("udp", 464, 464),
    ("tcp", 636, 636),
    ("tcp", 3268, 3269),
}
EXPECTED = {
    "rpc-dynamic": KB_179442 | {("tcp", 49152, 65535)},
    "rpc-fixed": KB_179442 | {("tcp", 38901, 38902)},  # NTDS and Netlogon, adjacent
    "ipsec": {("udp", 500, 500), ("udp", 4500, 4500), ("esp", 0, 65535)},
}
ARTICLE = {"rpc-dynamic": "KB 179442", "rpc-fixed": "KB 224196", "ipsec": "KB 832017"}


def _replication(ruleset: RuleSet, source: str, target: str) -> list[Rule]:
    return [
        r
        for r in ruleset.rules
        if (r.source, r.target) == (source, target)
        and any(f.startswith("dc-replication-") for f in r.flows)
    ]


def _ports(rules: list[Rule]) -> set[tuple[str, int, int]]:
    return {(r.protocol.value, r.ports.start, r.ports.end) for r in rules}


@pytest.mark.parametrize("mode", MODES)
def test_built_in_topology_with_two_dcs(catalogue: Catalogue, mode: str) -> None:
    options = Options(domain_controllers=2, ad_replication=mode)
    ruleset = resolve(catalogue, options)
    dcs = [g.name for g in ruleset.groups if "domain-controller" in g.roles and not g.is_members]
    assert dcs == ["domain-controller", "domain-controller-2"]
    for source, target in (dcs, dcs[::-1]):
        rules = _replication(ruleset, source, target)
        assert _ports(rules) == EXPECTED[mode]
        for rule in rules:  # every replication port names the article it comes from
            assert any(ARTICLE[mode] in ref for ref in rule.refs), rule.id
            assert any("Replicating traffic between domain controllers" in ref for ref in rule.refs)


def test_one_dc_has_no_replication_rules(catalogue: Catalogue) -> None:
    for mode in MODES:
        ruleset = resolve(catalogue, Options(ad_replication=mode))
        assert not any(f.startswith("dc-replication-") for r in ruleset.rules for f in r.flows)
        assert "domain-controller-2" not in {g.name for g in ruleset.groups}


def test_dynamic_rpc_replication_carries_the_seeds_advice(catalogue: Catalogue) -> None:
    ruleset = resolve(catalogue, Options(domain_controllers=2, ad_replication="rpc-dynamic"))
    [advisory] = [a for a in ruleset.advisories if a.flow == "dc-replication-rpc-dynamic"]
    assert "more cons than pros" in advisory.message
    quiet = resolve(catalogue, Options(domain_controllers=2, ad_replication="ipsec"))
    assert not any(a.flow.startswith("dc-replication") for a in quiet.advisories)


def test_fixed_ports_follow_the_options(catalogue: Catalogue) -> None:
    options = Options(
        domain_controllers=2, ad_replication="rpc-fixed", ntds_port=50100, netlogon_port=50200
    )
    rules = _replication(resolve(catalogue, options), "domain-controller", "domain-controller-2")
    assert {("tcp", 50100, 50100), ("tcp", 50200, 50200)} <= _ports(rules)
    assert ("tcp", 38901, 38902) not in _ports(rules)


def test_esp_renders_without_ports_on_both_clouds(catalogue: Catalogue) -> None:
    ruleset = resolve(catalogue, Options(domain_controllers=2, ad_replication="ipsec"))
    esp = [r for r in ruleset.rules if r.protocol == Protocol.ESP]
    assert len(esp) == 2 and all(r.to_json()["protocol"] == "esp" for r in esp)
    aws = [r for r in plan_aws(ruleset, "lab").rules if r.rule_id in {e.id for e in esp}]
    assert {(r.ip_protocol, r.from_port, r.to_port) for r in aws} == {("50", -1, -1)}
    azure = [r for r in plan_azure(ruleset, "lab").rules if r.protocol == "Esp"]
    assert len(azure) == 2 and all(r.port_ranges == ("*",) for r in azure)
    deny = next(r for r in plan_azure(ruleset, "lab").rules if r.access == "Deny")
    assert all(r.priority < deny.priority for r in azure)


def test_rules_json_and_ports_show_the_new_ports(cli: Cli) -> None:
    result = cli(
        "rules", "--format", "json", "--domain-controllers", "2", "--ad-replication", "ipsec"
    )
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["options"]["domain_controllers"] == 2
    assert "esp" in {r["protocol"] for r in data["rules"]}
    ports = cli("ports", "--format", "json")
    assert ports.code == 0, ports.err
    refs = {s["id"]: " ".join(s["refs"]) for s in json.loads(ports.out)["services"]}
    for service, source in (
        ("esp", "KB 832017"),
        ("ike", "KB 832017"),
        ("ipsec-nat-t", "KB 832017"),
        ("ntds-fixed", "KB 224196"),
        ("netlogon-fixed", "KB 224196"),
        ("kerberos-password", "KB 179442"),
        ("smb", "KB 179442"),
        ("exchange-https", "Exchange 2013"),
        ("autodiscover-http", "Exchange 2013"),
        ("all-traffic", "Exchange 2013"),
    ):
        assert source in refs[service], service
    table = cli("ports").out
    assert "ESP" in table and "KB 224196" in table


# -- placements ---------------------------------------------------------------------------


def test_inline_placement_with_two_dcs_replicates(catalogue: Catalogue) -> None:
    ruleset = resolve_lab(catalogue, load_lab(TWO_DCS))
    assert ruleset.options.domain_controllers == 2  # the hosts say so
    assert _ports(_replication(ruleset, "dc-a", "dc-b")) == EXPECTED["ipsec"]
    assert _ports(_replication(ruleset, "dc-b", "dc-a")) == EXPECTED["ipsec"]


def _lab(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lab.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_third_dc_and_a_repeated_other_role_are_refused(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    text = TWO_DCS.read_text(encoding="utf-8")
    three = text.replace(
        "    - {name: dc-b, roles: [domain-controller]}\n",
        "    - {name: dc-b, roles: [domain-controller]}\n"
        "    - {name: dc-c, roles: [domain-controller]}\n",
    )
    with pytest.raises(InputError, match="more than 2 hosts"):
        resolve_lab(catalogue, load_lab(_lab(tmp_path, three)))
    twice = text.replace("roles: [exchange]", "roles: [exchange, sql-server]")
    with pytest.raises(InputError, match="only domain-controller may sit on two hosts"):
        resolve_lab(catalogue, load_lab(_lab(tmp_path, twice)))


def test_options_may_not_contradict_the_placement(catalogue: Catalogue, tmp_path: Path) -> None:
    text = TWO_DCS.read_text(encoding="utf-8")
    one_dc = text.replace("    - {name: dc-b, roles: [domain-controller]}\n", "").replace(
        "ad_replication: ipsec", "domain_controllers: 2"
    )
    with pytest.raises(InputError, match="domain_controllers"):
        resolve_lab(catalogue, load_lab(_lab(tmp_path, one_dc)))
    no_exchange = text.replace("    - {name: exchange, roles: [exchange]}\n", "").replace(
        "ad_replication: ipsec", "exchange_in_lab: true"
    )
    with pytest.raises(InputError, match="exchange_in_lab"):
        resolve_lab(catalogue, load_lab(_lab(tmp_path, no_exchange)))


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ("--ntds-port", "40000", "--netlogon-port", "40000"),
            ["field 'netlogon_port'", "both 40000"],
        ),
        (("--domain-controllers", "3"), ["'3' is not one of"]),
        (("--ad-replication", "smtp"), ["'smtp' is not one of"]),
        (
            ("--exchange-in-lab", "--exchange-server", "2007", "--email", "none"),
            ["field 'exchange_in_lab'", "exchange_server is 2007"],
        ),
    ],
)
def test_bad_options_fail_in_one_line(
    cli: Cli, args: tuple[str, ...], fragments: list[str]
) -> None:
    result = cli("rules", *args)
    assert result.code == 2
    assert result.out == ""
    assert len(result.err.strip().splitlines()) == 1, result.err
    for fragment in fragments:
        assert fragment in result.err


def test_lab_file_ports_must_differ(cli: Cli, tmp_path: Path) -> None:
    lab = _lab(tmp_path, "name: x\noptions: {ntds_port: 50000, netlogon_port: 50000}\n")
    result = cli("rules", "--lab", str(lab))
    assert result.code == 2 and result.err.count("\n") == 1
    assert str(lab) in result.err or "lab.yaml" in result.err
    assert "netlogon_port" in result.err


# -- Exchange inside the lab --------------------------------------------------------------


def test_exchange_in_a_built_in_topology(catalogue: Catalogue) -> None:
    ruleset = resolve(catalogue, Options(exchange_in_lab=True))
    groups = {g.name: g for g in ruleset.groups}
    assert groups["exchange"].kind == "server" and groups["exchange"].roles == ("exchange",)
    assert groups["mail-system"].roles == ("mail-server",)
    into = {(r.source, r.protocol.value, str(r.ports)) for r in ruleset.inbound("exchange")}
    assert {("clients", "tcp", "80"), ("clients", "tcp", "443")} <= into
    assert {("crm-back-end", "tcp", "80"), ("crm-back-end", "tcp", "443")} <= into  # EWS
    assert ("domain-controller", "all", "0-65535") in into
    to_dc = {(r.source, r.protocol.value) for r in ruleset.inbound("domain-controller")}
    assert ("exchange", "all") in to_dc
    outside = resolve(catalogue, Options())
    assert not any(r.protocol == Protocol.ALL for r in outside.rules)


def test_check_accepts_exactly_the_exchange_directory_flow(cli: Cli, tmp_path: Path) -> None:
    result = cli("check", "--exchange-in-lab", "--format", "json")
    assert result.code == 0, result.out + result.err
    findings = json.loads(result.out)["findings"]
    crm004 = [f for f in findings if f["check"] == "CRM004"]
    assert len(crm004) == 2 and all("Exchange 2013" in f["waived"] for f in crm004)
    assert {f["subject"].split(".")[0] for f in crm004} == {"exchange", "domain-controller"}
    # Any other all-traffic rule is still an error: a lab-local one, say.
    lab = _lab(
        tmp_path,
        "name: x\noptions: {exchange_in_lab: true}\nextra_rules:\n"
        "  - {from: 10.20.0.0/24, to: crm-front-end, protocol: tcp, ports: 1-65535,\n"
        "     reason: a scanner that needs every port}\n",
    )
    other = cli("check", "--lab", str(lab), "--format", "json")
    assert other.code == 1, other.out + other.err
    blocking = [f for f in json.loads(other.out)["findings"] if "waived" not in f]
    assert [f["check"] for f in blocking if f["check"] == "CRM004"] == ["CRM004"]
