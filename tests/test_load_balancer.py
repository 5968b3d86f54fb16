"""`load_balancer: none | cloud`: the cloud's balancer in front of the web servers.

On AWS the Application Load Balancer holds a security group of its own (clients, the
Email Router and the deployment server reach it; it reaches the front end on the web and
health-check ports); on Azure the balancer passes the client's address on, so the client
rules stay and one allow from the `AzureLoadBalancer` service tag, numbered below the
explicit deny, admits the probes. Also: POP3/SMTP to an Exchange of the lab. Verify is
run on the synthesized stacks (the layout snapshots), so the evaluators, not the plans,
judge what each cloud allows."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from crm_ports.catalogue.model import Catalogue
from crm_ports.errors import InputError
from crm_ports.lab.file import load_lab
from crm_ports.lab.model import Lab
from crm_ports.lab.placement import Host, Placement
from crm_ports.options import Options
from crm_ports.plans.aws import plan_aws
from crm_ports.plans.azure import DENY_PRIORITY, plan_azure
from crm_ports.resolver.engine import resolve, resolve_lab
from crm_ports.ruleset import RuleSet
from crm_ports.verify.compare import compare
from crm_ports.verify.expected import expected_reach
from crm_ports.verify.run import firewall
from crm_ports.verify.stack import parse_stack
from tests.conftest import REPO, Result

LABS = Path(__file__).parent / "fixtures" / "labs"
CLOUD_LB = LABS / "cloud-lb.yaml"
SNAPSHOTS = REPO / "tests" / "__snapshots__" / "test_layout_snapshots"
BALANCER = "cloud-load-balancer"
WEB = {("tcp", 80, 80), ("tcp", 443, 443)}


def _pairs(ruleset: RuleSet, source: str, target: str) -> set[tuple[str, int, int]]:
    return {
        (r.protocol.value, r.ports.start, r.ports.end)
        for r in ruleset.rules
        if (r.source, r.target) == (source, target)
    }


@pytest.mark.parametrize("topology", ["split-roles", "full-server"])
def test_none_is_the_default_and_changes_nothing(catalogue: Catalogue, topology: str) -> None:
    default = resolve(catalogue, Options(topology=topology))
    assert Options().load_balancer == "none"
    assert default == resolve(catalogue, Options(topology=topology, load_balancer="none"))
    assert all(not g.is_balancer for g in default.groups)


@pytest.mark.parametrize(
    ("topology", "front"), [("split-roles", "crm-front-end"), ("full-server", "crm-full-server")]
)
def test_cloud_balancer_group_and_rules(catalogue: Catalogue, topology: str, front: str) -> None:
    ruleset = resolve(catalogue, Options(topology=topology, load_balancer="cloud"))
    balancer = ruleset.group(BALANCER)
    assert balancer.is_balancer and balancer.roles == ("load-balancer",)
    assert "load-balancer" not in ruleset.group(front).roles
    members = next(g for g in ruleset.groups if g.is_members)
    assert BALANCER not in members.members  # no lab server: no every-server flow reaches it
    assert "load-balancer" not in members.roles
    assert {r.source for r in ruleset.inbound(BALANCER)} >= {"clients", "administrators"}
    assert not any(r.source == "admin" or r.service == "rdp" for r in ruleset.inbound(BALANCER))
    assert _pairs(ruleset, "clients", BALANCER) == WEB
    assert _pairs(ruleset, "clients", front) == set()  # on AWS only the ALB admits users
    assert _pairs(ruleset, BALANCER, front) == WEB
    [probe] = [r for r in ruleset.outbound(BALANCER) if "lb-health-check" in r.service]
    assert (probe.ports.start, probe.flows) == (
        80,
        ("load-balancer-health-check", "load-balancer-web"),
    )
    assert any("Security groups for your Application Load Balancer" in ref for ref in probe.refs)
    assert any("Troubleshoot Azure Load Balancer health probe status" in ref for ref in probe.refs)
    if topology == "split-roles":  # the Email Router and deployment server reach the ALB
        assert _pairs(ruleset, "email-router", BALANCER) == WEB
        assert _pairs(ruleset, "crm-deployment", BALANCER) == WEB


def test_health_check_follows_the_web_port(catalogue: Catalogue) -> None:
    ruleset = resolve(catalogue, Options(load_balancer="cloud", web_port=5555))
    assert _pairs(ruleset, BALANCER, "crm-front-end") == {("tcp", 443, 443), ("tcp", 5555, 5555)}


def test_aws_plan_gives_the_alb_its_own_group(catalogue: Catalogue) -> None:
    ruleset = resolve(catalogue, Options(load_balancer="cloud"))
    plan = plan_aws(ruleset, "lb")
    sg = plan.security_group(BALANCER)
    assert "Application Load Balancer" in sg.description
    into_front = [s for s in plan.rules if s.group == "crm-front-end" and s.peer_group == BALANCER]
    assert {(s.from_port, s.to_port) for s in into_front} == {(80, 80), (443, 443)}
    strict = plan_aws(ruleset, "lb", egress="strict")  # the ALB's own outbound to its targets
    out = [s for s in strict.rules if s.group == BALANCER and s.direction == "egress"]
    assert {(s.peer_group, s.from_port) for s in out} == {
        ("crm-front-end", 80),
        ("crm-front-end", 443),
    }


def test_azure_plan_sees_through_the_balancer(catalogue: Catalogue) -> None:
    none = plan_azure(resolve(catalogue, Options()), "lb")
    cloud = plan_azure(resolve(catalogue, Options(load_balancer="cloud")), "lb")
    assert BALANCER not in {a.group for a in cloud.asgs}
    by_name = {r.name: r for r in cloud.rules}
    # the client's address reaches the front end through Azure Load Balancer: rules stay
    for name in ("clients.crm-front-end.tcp", "email-router.crm-front-end.tcp"):
        assert by_name[name].port_ranges == {r.name: r for r in none.rules}[name].port_ranges
    assert by_name["crm-deployment.crm-front-end.tcp"].port_ranges == ("80", "443")
    probe = by_name[f"{BALANCER}.crm-front-end.tcp"]
    assert probe.source_prefixes == ("AzureLoadBalancer",) and probe.source_group is None
    assert probe.port_ranges == ("80", "443") and probe.access == "Allow"
    assert probe.priority < DENY_PRIORITY  # ahead of the deny, unlike Azure's own 65001
    assert {r.name for r in cloud.rules} - {r.name for r in none.rules} == {probe.name}


def test_inline_placement_with_a_cloud_balancer(catalogue: Catalogue) -> None:
    ruleset = resolve_lab(catalogue, load_lab(CLOUD_LB))  # built-in topology
    assert ruleset.group(BALANCER).is_balancer
    placed = load_lab(LABS / "two-dcs.yaml")
    the_lab = Lab(
        name=placed.name,
        options=placed.options.with_values({"load_balancer": "cloud"}),
        clouds=placed.clouds,
        placement=placed.placement,
    )
    ruleset = resolve_lab(catalogue, the_lab)
    assert "load-balancer" not in ruleset.group("front-end").roles
    assert _pairs(ruleset, BALANCER, "front-end") == WEB


def _placed(options: Options, *hosts: tuple[str, tuple[str, ...]]) -> Lab:
    base = [
        ("app", ("web-application", "asynchronous-service", "sandbox-processing")),
        ("deploy", ("deployment-web-service",)),
        ("data", ("sql-server", "reporting-services")),
        ("dc", ("domain-controller",)),
    ]
    placement = Placement("lb-lab", tuple(Host(n, r) for n, r in (*base, *hosts)), "lb.yaml")
    return Lab(
        name="lb-lab", options=options.with_values({"topology": "lb-lab"}), placement=placement
    )


@pytest.mark.parametrize(
    ("host", "field", "words"),
    [
        (("nlb", ("load-balancer",)), "roles", "leaving host 'nlb' with none"),
        ((BALANCER, ("email-router",)), "groups", "reserved for the cloud's load balancer"),
    ],
)
def test_placement_refusals(catalogue: Catalogue, host: Any, field: str, words: str) -> None:
    with pytest.raises(InputError) as err:
        resolve_lab(catalogue, _placed(Options(load_balancer="cloud"), host))
    assert err.value.field == field and words in str(err.value)


def test_bad_load_balancer_value(cli: Any) -> None:
    result: Result = cli("rules", "--load-balancer", "nlb")
    assert result.code == 2


def test_lab_file_refuses_a_bad_value(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\noptions: {load_balancer: nlb}\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_lab(path)
    assert err.value.field == "load_balancer" and "none, cloud" in str(err.value)


@pytest.mark.parametrize("inside", [True, False])
def test_pop3_smtp_goes_to_the_exchange_of_the_lab(catalogue: Catalogue, inside: bool) -> None:
    options = Options(email="pop3-smtp", exchange_in_lab=inside)
    ruleset = resolve(catalogue, options)
    mail = {("tcp", 25, 25), ("tcp", 110, 110)}
    for source in ("email-router", "crm-back-end"):
        if inside:
            assert _pairs(ruleset, source, "exchange") == mail
            assert _pairs(ruleset, source, "mail-system") == set()
            [rule] = [
                r
                for r in ruleset.outbound(source)
                if r.target == "exchange" and r.ports.start == 25
            ]
            assert rule.flows == ("pop3-smtp-exchange",)
            assert any(
                "Exchange Server Connectivity (EWS / SMTP / POP3)" in ref for ref in rule.refs
            )
        else:
            assert _pairs(ruleset, source, "mail-system") == mail
    # EWS is not opened for a POP3/SMTP profile
    assert ("tcp", 80, 80) not in _pairs(ruleset, "crm-back-end", "exchange")


def test_ports_lists_the_new_services_with_citations(cli: Any) -> None:
    result: Result = cli("ports", "--format", "json")
    assert result.code == 0, result.err
    [service] = [s for s in json.loads(result.out)["services"] if s["id"] == "lb-health-check"]
    assert [(p["protocol"], p["from_port"], p["option"]) for p in service["ports"]] == [
        ("tcp", 80, "web_port")
    ]
    titles = " ".join(service["refs"])
    for title in (
        "Security groups for your Application Load Balancer",
        "Health checks for Application Load Balancer target groups",
        "Troubleshoot Azure Load Balancer health probe status",
    ):
        assert title in titles


def test_rules_cite_why_windows_nlb_is_not_the_answer(cli: Any) -> None:
    result: Result = cli("rules", "--load-balancer", "cloud", "--format", "json")
    assert result.code == 0, result.err
    probes = [r for r in json.loads(result.out)["rules"] if "lb-health-check" in r["service"]]
    assert [r["from"] for r in probes] == [BALANCER]
    assert any("KB 2721672" in ref for ref in probes[0]["refs"])


def _snapshot(cloud: str) -> Any:
    path = SNAPSHOTS / f"test_layout_snapshot[cloud-lb-{cloud}].json"
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_verify_passes_each_clouds_view(catalogue: Catalogue, cloud: str) -> None:
    stack = parse_stack(_snapshot(cloud), f"{cloud}-cloud-lb", "stack", {})
    result = compare(expected_reach(catalogue, load_lab(CLOUD_LB), cloud), firewall(stack), "s")
    assert (result.missing, result.extra) == ((), ())


def test_verify_misses_the_probe_allow_on_azure(catalogue: Catalogue) -> None:
    """Without the AzureLoadBalancer allow the deny at 4096 hides Azure's own rule at
    65001 from the probes: verify reports the balancer's flows missing."""
    document = copy.deepcopy(_snapshot("azure"))
    rules = document["resource"]["azurerm_network_security_group"]["nsg"]["security_rule"]
    [probe] = [r for r in rules if r.get("source_address_prefix") == "AzureLoadBalancer"]
    rules.remove(probe)
    stack = parse_stack(document, "azure-cloud-lb", "stack", {})
    result = compare(expected_reach(catalogue, load_lab(CLOUD_LB), "azure"), firewall(stack), "s")
    assert {(m.source, m.target) for m in result.missing} == {(BALANCER, "crm-front-end")}


def test_verify_reports_clients_straight_to_the_front_end_on_aws(catalogue: Catalogue) -> None:
    """On AWS only the ALB admits users: a client rule into the front end is reach no
    flow asks for."""
    document = copy.deepcopy(_snapshot("aws"))
    rules = document["resource"]["aws_vpc_security_group_ingress_rule"]
    into_alb = rules["in_clients_cloud-load-balancer_tcp_crm-https"]
    rules["in_clients_crm-front-end_tcp_crm-https"] = {
        **into_alb,
        "security_group_id": "${aws_security_group.sg_crm-front-end.id}",
    }
    stack = parse_stack(document, "aws-cloud-lb", "stack", {})
    result = compare(expected_reach(catalogue, load_lab(CLOUD_LB), "aws"), firewall(stack), "s")
    assert [(e.source, e.target) for e in result.extra] == [("clients", "crm-front-end")]


def test_azure_audit_reads_the_probe_allow_back(catalogue: Catalogue) -> None:
    """The live NSG rule as the SDK gives it (a service tag in `source_address_prefix`) is
    the planned one: same identity, same fields, so the audit finds no drift in it."""
    from types import SimpleNamespace as Model

    from crm_ports.audit.azure_pairing import _expected_rule, _live_rule

    plan = plan_azure(resolve(catalogue, Options(load_balancer="cloud")), "lb")
    [spec] = [r for r in plan.rules if r.source_prefixes == ("AzureLoadBalancer",)]
    network = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network"
    asg = f"{network}/applicationSecurityGroups/lb-crm-front-end-asg"
    live = Model(
        name=spec.name,
        id=f"{asg}/rule",
        priority=spec.priority,
        direction="Inbound",
        access="Allow",
        protocol="Tcp",
        source_application_security_groups=None,
        source_address_prefixes=[],
        source_address_prefix="AzureLoadBalancer",
        source_port_ranges=[],
        source_port_range="*",
        destination_application_security_groups=[Model(id=asg)],
        destination_address_prefixes=[],
        destination_address_prefix=None,
        destination_port_ranges=["80", "443"],
        destination_port_range=None,
        description=spec.description,
    )
    expected = _expected_rule(spec, plan)
    found = _live_rule(live, plan.nsg_name, {asg.lower(): "lb-crm-front-end-asg"})
    assert (found.identity, dict(found.fields)) == (expected.identity, dict(expected.fields))
    assert found.identity[3] == "AzureLoadBalancer"
