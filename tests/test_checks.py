"""`crm-ports check`: every check id on rule sets and on synthesized Terraform, waivers,
quotas with headroom, the checks table, exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crm_ports.catalogue.load import load_catalogue
from crm_ports.net import internet_wide
from crm_ports.options import Options
from crm_ports.policy.registry import REGISTRY
from crm_ports.resolver.engine import resolve
from tests.conftest import REPO, Result
from tests.test_diff import write_stack

FIXTURES = Path(__file__).parent / "fixtures" / "review"
CLI = Callable[..., Result]


def _json(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.out)
    return data


def _ids(result: Result) -> set[str]:
    return {f["check"] for f in _json(result)["findings"] if "waived" not in f}


def test_default_labs_and_lab_files_pass(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--all` reads the repository of the working folder: this one's, wherever pytest
    was started."""
    monkeypatch.chdir(REPO)
    result = cli("check", "--all", "--format", "json")
    assert result.code == 0, result.out
    data = _json(result)
    assert data["labs"] == ["contoso-claims", "fabrikam-full-server", "full-server", "split-roles"]
    assert data["summary"] == {"errors": 0, "warnings": 0, "waived": 0}


def test_injected_internet_rdp_is_reported_with_its_id(cli: CLI) -> None:
    result = cli("check", "--admin-cidr", "0.0.0.0/0", "--format", "markdown")
    assert result.code == 1
    assert "CRM001" in result.out
    assert "TCP 3389 from administrators (0.0.0.0/0 in admin_cidrs) to crm-front-end" in result.out
    assert "Remove 0.0.0.0/0 from admin_cidrs (lab file key, or --admin-cidr)" in result.out
    assert "CRM001" in cli("check", "--lab", str(FIXTURES / "internet-admin.yaml")).out


def test_internet_wide_sources_on_directory_and_database_ports(cli: CLI) -> None:
    result = cli("check", "--client-cidr", "0.0.0.0/0", "--sql-views", "--format", "json")
    assert result.code == 1
    assert {"CRM002", "CRM003", "CRM008"} <= _ids(result)
    args = ("--client-cidr", "0.0.0.0/0", "--sql-views", "--sql-port", "1533")
    moved = cli("check", *args, "--format", "json")
    database = [f for f in _json(moved)["findings"] if f["check"] == "CRM003"]
    assert database and all("1533" in f["message"] for f in database)


@pytest.mark.parametrize(
    ("prefix", "wide"),
    [("0.0.0.0/0", True), ("::/0", True), ("*", True), ("Internet", True), ("10.0.0.0/8", False)],
)
def test_internet_wide(prefix: str, wide: bool) -> None:
    assert internet_wide(prefix) is wide


def test_https_off_is_an_error_and_advisories_are_warnings(cli: CLI) -> None:
    off = cli("check", "--no-https", "--format", "json")
    assert off.code == 1 and _ids(off) == {"CRM005"}
    views = cli("check", "--sql-views", "--format", "json")
    assert views.code == 0  # warnings do not fail
    (finding,) = _json(views)["findings"]
    assert (finding["check"], finding["severity"]) == ("CRM008", "warning")
    assert finding["subject"] == "client-sql-views"


def test_waiver_passes_and_repeats_its_reason(cli: CLI) -> None:
    result = cli(
        "check", "--lab", str(FIXTURES / "internet-admin-waived.yaml"), "--format", "markdown"
    )
    assert result.code == 0, result.out
    assert "waived: Throw-away lab behind a jump host" in result.out
    data = _json(
        cli("check", "--lab", str(FIXTURES / "internet-admin-waived.yaml"), "--format", "json")
    )
    assert data["summary"]["errors"] == 0 and data["summary"]["waived"] == 8


def test_waiver_for_one_rule_leaves_the_others(cli: CLI) -> None:
    result = cli("check", "--lab", str(FIXTURES / "rdp-waived-one.yaml"), "--format", "json")
    assert result.code == 1
    findings = _json(result)["findings"]
    waived = [f["subject"] for f in findings if "waived" in f]
    assert waived == ["administrators.crm-deployment.tcp.rdp"]
    assert len(findings) == 8


def test_quota_overrun_is_a_finding_not_a_crash(cli: CLI) -> None:
    cidrs = [f"10.{i}.0.0/16" for i in range(61)]
    args = [a for c in cidrs for a in ("--client-cidr", c)]
    result = cli("check", *args, "--format", "json")
    assert result.code == 1, result.err
    quota = [f for f in _json(result)["findings"] if f["check"] == "CRM007"]
    assert quota and "AWS allows 60 inbound rules" in quota[0]["message"]


def test_quota_headroom_is_shown(cli: CLI) -> None:
    data = _json(cli("check", "--topology", "full-server", "--format", "json"))
    rows = {(q["cloud"], q["container"], q["direction"]): q for q in data["quotas"]}
    nsg = rows[("azure", "full-server-nsg", "all")]
    assert nsg["limit"] == 1000 and nsg["headroom"] == 1000 - nsg["used"]
    assert all(q["limit"] == 60 for (cloud, _, _), q in rows.items() if cloud == "aws")
    # the table only when asked for, or when a group is at 90% or more
    assert "Headroom" not in cli("check").out
    assert "Headroom" in cli("check", "--quotas").out
    assert "Quota headroom" in cli("check", "--quotas", "--format", "markdown").out


def test_near_quota_group_shows_the_table_unasked(cli: CLI) -> None:
    cidrs = [a for i in range(14) for a in ("--admin-cidr", f"10.{i}.0.0/24")]
    result = cli("check", *cidrs)
    assert "CRM007" in result.out and "Headroom" in result.out
    rows = [line for line in result.out.splitlines() if line.startswith("split-roles  aws")]
    assert rows and all(int(line.split()[4]) >= 54 for line in rows)


def test_finding_on_the_clients_range_names_client_cidrs(cli: CLI) -> None:
    result = cli("check", "--client-cidr", "0.0.0.0/0", "--format", "json")
    fixes = {f["fix"] for f in json.loads(result.out)["findings"] if f["check"] == "CRM002"}
    assert fixes == {
        "Remove 0.0.0.0/0 from client_cidrs (lab file key, or --client-cidr) and list only "
        "the ranges of clients."
    }


def test_list_prints_every_check_once(cli: CLI) -> None:
    result = cli("check", "--list", "--format", "markdown")
    assert result.code == 0
    lines = [line for line in result.out.splitlines() if line.startswith("| CRM")]
    assert [line.split("|")[1].strip() for line in lines] == sorted(REGISTRY)
    for check in REGISTRY.values():
        assert check.title and check.fix and check.severity in ("error", "warning")


def test_reports_are_stable(cli: CLI) -> None:
    for fmt in ("table", "json", "markdown"):
        args = ("check", "--admin-cidr", "0.0.0.0/0", "--sql-views", "--format", fmt)
        assert cli(*args).out == cli(*args).out
    assert "### crm-ports policy check fails" in cli(*args).out


# -- synthesized output -------------------------------------------------------------------

SG = "${aws_security_group.sg_crm-front-end.id}"


def _aws_tf(cidr: str, ip_protocol: str = "tcp", port: int = 3389) -> dict[str, Any]:
    return {
        "variable": {"admin_cidrs": {"default": [cidr], "type": "list(string)"}},
        "resource": {
            "aws_security_group": {"sg_crm-front-end": {"name": "lab-crm-front-end"}},
            "aws_vpc_security_group_ingress_rule": {
                "in_administrators_crm-front-end_tcp_rdp": {
                    "for_each": "${toset(var.admin_cidrs)}",
                    "cidr_ipv4": "${each.value}",
                    "security_group_id": SG,
                    "ip_protocol": ip_protocol,
                    "from_port": port,
                    "to_port": port,
                    "description": "RDP",
                    "tags": {"crm-ports:rule": "administrators.crm-front-end.tcp.rdp"},
                },
            },
        },
    }


def _azure_tf(prefix: str, ports: list[str]) -> dict[str, Any]:
    return {
        "resource": {
            "azurerm_network_security_rule": {
                "nsr_clients_sql-server_tcp": {
                    "name": "clients.sql-server.tcp",
                    "access": "Allow",
                    "direction": "Inbound",
                    "protocol": "Tcp",
                    "priority": 123,
                    "source_address_prefix": prefix,
                    "destination_port_ranges": ports,
                    "network_security_group_name": "lab-nsg",
                    "description": "",
                },
                "nsr_deny-all-other-inbound": {
                    "name": "deny-all-other-inbound",
                    "access": "Deny",
                    "direction": "Inbound",
                    "protocol": "*",
                    "priority": 4096,
                    "source_address_prefix": "*",
                    "destination_port_range": "*",
                    "network_security_group_name": "lab-nsg",
                    "description": "Deny the rest",
                },
            }
        }
    }


@pytest.fixture
def ruleset_json() -> Any:
    return resolve(load_catalogue(), Options(origin="test"))


def test_synthesized_values_are_checked(cli: CLI, tmp_path: Path, ruleset_json: Any) -> None:
    out = tmp_path / "out"
    write_stack(out, "aws", "lab", ruleset_json, _aws_tf("0.0.0.0/0"))
    write_stack(out, "azure", "lab", ruleset_json, _azure_tf("Internet", ["1433", "1434"]))
    result = cli("check", "--synth", str(out), "--format", "json")
    assert result.code == 1
    found = {(f["check"], f["where"], f["subject"]) for f in _json(result)["findings"]}
    assert found == {
        (
            "CRM001",
            "aws-lab",
            'aws_vpc_security_group_ingress_rule.in_administrators_crm-front-end_tcp_rdp["0.0.0.0/0"]',
        ),
        ("CRM003", "azure-lab", "azurerm_network_security_rule.nsr_clients_sql-server_tcp"),
        ("CRM006", "azure-lab", "azurerm_network_security_rule.nsr_clients_sql-server_tcp"),
    }


def test_synthesized_all_traffic_rule_and_counts(
    cli: CLI, tmp_path: Path, ruleset_json: Any
) -> None:
    out = tmp_path / "out"
    write_stack(out, "aws", "lab", ruleset_json, _aws_tf("10.1.0.0/16", ip_protocol="-1"))
    data = _json(cli("check", "--synth", str(out), "--format", "json"))
    assert {f["check"] for f in data["findings"]} == {"CRM004"}
    assert data["quotas"] == [
        {
            "lab": "lab",
            "cloud": "aws",
            "container": "lab-crm-front-end",
            "direction": "ingress",
            "used": 1,
            "limit": 60,
            "headroom": 59,
        }
    ]


def test_synth_waivers_come_from_the_lab_file(cli: CLI, tmp_path: Path) -> None:
    lab = FIXTURES / "internet-admin-waived.yaml"
    ruleset = resolve(load_catalogue(), Options(admin_cidrs=("0.0.0.0/0",)))
    write_stack(tmp_path / "out", "aws", "internet-admin-waived", ruleset, _aws_tf("0.0.0.0/0"))
    result = cli("check", "--lab", str(lab), "--synth", str(tmp_path / "out"), "--format", "json")
    assert result.code == 0, result.out
    assert {f["where"] for f in _json(result)["findings"]} == {
        "rule set",
        "aws-internet-admin-waived",
    }


def test_a_lab_beside_a_folder_without_its_stacks_is_checked_on_its_own(
    cli: CLI, tmp_path: Path, ruleset_json: Any
) -> None:
    """`--lab` names a lab the folder holds no stack of: both are checked, apart."""
    write_stack(tmp_path / "out", "aws", "lab", ruleset_json, _aws_tf("10.1.0.0/16"))
    lab = FIXTURES / "internet-admin-waived.yaml"
    result = cli("check", "--lab", str(lab), "--synth", str(tmp_path / "out"), "--format", "json")
    assert result.code == 0, result.err
    data = _json(result)
    assert data["labs"] == ["internet-admin-waived", "lab"]
    assert {(f["lab"], f["where"]) for f in data["findings"]} == {
        ("internet-admin-waived", "rule set")
    }


def test_var_file_values_reach_the_stacks_of_a_lab_given_with_them(
    cli: CLI, tmp_path: Path
) -> None:
    """A lab joined to its stacks is judged on the --var-file's values, not the defaults."""
    lab = tmp_path / "lab.yaml"
    lab.write_text("name: lab\ntopology: split-roles\n", encoding="utf-8")
    ruleset = resolve(load_catalogue(), Options(origin=str(lab)))
    write_stack(tmp_path / "out", "aws", "lab", ruleset, _aws_tf("10.200.0.0/24"))
    values = tmp_path / "prod.tfvars.json"
    values.write_text('{"admin_cidrs": ["0.0.0.0/0"]}', encoding="utf-8")
    args = ("check", "--lab", str(lab), "--synth", str(tmp_path / "out"), "--format", "json")
    assert cli(*args).code == 0
    result = cli(*args, "--var-file", str(values))
    assert result.code == 1, result.err
    assert [(f["check"], f["where"]) for f in _json(result)["findings"]] == [("CRM001", "aws-lab")]


def test_unresolvable_for_each_is_bad_input(cli: CLI, tmp_path: Path, ruleset_json: Any) -> None:
    tf = _aws_tf("0.0.0.0/0")
    del tf["variable"]
    write_stack(tmp_path / "out", "aws", "lab", ruleset_json, tf)
    result = cli("check", "--synth", str(tmp_path / "out"))
    assert result.code == 2 and result.out == ""
    assert "cdk.tf.json" in result.err and "field 'for_each'" in result.err
    assert "admin_cidrs" in result.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--all", "--lab", str(FIXTURES / "internet-admin.yaml")],
            "--all checks every lab as it is: drop --lab and option flags",
        ),
        (
            ["--all", "--admin-cidr", "0.0.0.0/0"],
            "--all checks every lab as it is: drop --lab and option flags",
        ),
        (
            ["--var-file", str(FIXTURES / "internet-admin.yaml")],
            "--var-file gives the values of --synth's stacks: add --synth",
        ),
    ],
)
def test_check_usage_errors_are_one_line(cli: CLI, args: list[str], message: str) -> None:
    """Refused before anything is read: one line, exit 2, nothing on standard output."""
    result = cli("check", *args)
    assert (result.code, result.out) == (2, "")
    assert result.err == f"crm-ports: error: command line: {message}\n"


def test_crm006_on_live_rules_fixes_them_in_the_cloud_or_the_lab() -> None:
    """A live rule without a description: one of the plan's (its `crm-ports:rule` tag, or
    an Azure rule's name) lost it in the cloud and a deploy restores it; one the plan does
    not hold was added by hand. Neither is fixed in the catalogue, as the fix said."""
    from crm_ports.audit.azure_live import azure_live_resources
    from crm_ports.audit.policy import PolicyScope, policy_findings
    from crm_ports.lab.model import Lab
    from crm_ports.plans.azure import plan_azure
    from crm_ports.plans.text import RULE_TAG

    ruleset = resolve(load_catalogue(), Options())
    scope = PolicyScope(Lab(name="split-roles", options=Options()), ruleset)
    rule = {"ip_protocol": "tcp", "from_port": 8080, "to_port": 8080, "description": ""}
    resources = {
        "aws_vpc_security_group_ingress_rule.sgr-1": {**rule, "cidr_ipv4": "10.1.0.0/16"},
        "aws_vpc_security_group_ingress_rule.sgr-2": {**rule, "tags": {RULE_TAG: "x.y.tcp.z"}},
    }
    fixes = {
        f.subject: f.fix
        for f in policy_findings(scope, "aws-split-roles", "aws", resources)
        if f.check == "CRM006"
    }
    assert fixes["aws_vpc_security_group_ingress_rule.sgr-1"].startswith(
        "Remove the rule in the cloud"
    )
    assert fixes["aws_vpc_security_group_ingress_rule.sgr-2"].startswith("Deploy the lab again")
    assert not any("catalogue" in fix for fix in fixes.values())

    class Model:  # an NSG rule as azure-mgmt-network's models give it
        def __init__(self, name: str) -> None:
            self.name, self.priority, self.direction, self.access = name, 200, "Inbound", "Allow"
            self.protocol, self.description, self.destination_port_range = "Tcp", "", "8080"

    planned = plan_azure(ruleset, "split-roles").rules[0].name
    live = azure_live_resources("split-roles-nsg", [Model(planned), Model("by-hand")])
    fixes = {
        f.subject: f.fix
        for f in policy_findings(scope, "azure-split-roles", "azure", live)
        if f.check == "CRM006"
    }
    assert fixes[f"azurerm_network_security_rule.{planned}"].startswith("Deploy the lab again")
    assert fixes["azurerm_network_security_rule.by-hand"].startswith("Remove the rule in the cloud")


@pytest.mark.slow
def test_a_synthesized_labs_findings_name_their_rules_option_and_waivers(
    cli: CLI, tmp_path: Path
) -> None:
    """`crm-ports synth` then `check --synth` with the lab's waiver of one RDP rule: on
    AWS that rule's finding is waived; on Azure the NSG rule behind it carries WinRM too,
    so its finding stands. Every finding names admin_cidrs, which the stacks' rules, AWS's
    tags and the NSG's inline rule names alike, lead back to."""
    lab = FIXTURES / "rdp-waived-one.yaml"
    out = tmp_path / "cdktf.out"
    assert cli("synth", "--lab", str(lab), "--out", str(out)).code == 0
    result = cli("check", "--synth", str(out), "--lab", str(lab), "--format", "json")
    assert result.code == 1, result.err
    findings = [f for f in _json(result)["findings"] if f["where"] != "rule set"]
    waived = {(f["where"], f["subject"]) for f in findings if "waived" in f}
    assert waived == {
        (
            "aws-rdp-waived-one",
            "aws_vpc_security_group_ingress_rule."
            'in_administrators_crm-deployment_tcp_rdp["0.0.0.0/0"]',
        )
    }
    nsg = "azurerm_network_security_group.nsg.security_rule"
    deployment = f'{nsg}["administrators.crm-deployment.tcp"]'
    assert ("azure-rdp-waived-one", deployment) in {(f["where"], f["subject"]) for f in findings}
    assert {f["where"] for f in findings} == {"aws-rdp-waived-one", "azure-rdp-waived-one"}
    assert all("from admin_cidrs" in f["fix"] for f in findings), findings


LB_LAB = """\
name: lb4
clouds: [azure]
options: {topology: split-roles, load_balancer: cloud}
extra_rules:
  - from: clients
    to: crm-front-end
    protocol: tcp
    ports: 1-65535
    name: admin-any
    reason: Administrators manage the web server on any port in this lab
waivers:
  - check: CRM004
    rule: clients.crm-front-end.tcp.admin-any
    reason: Throw-away lab, administrators need every port on the web server.
"""


@pytest.mark.slow
def test_a_waived_all_ports_rule_sharing_an_nsg_rule_with_the_balancers_http_is_waived(
    cli: CLI, tmp_path: Path
) -> None:
    """On Azure the clients' rules to the web servers, the balancer's HTTP among them, are
    one NSG rule: its CRM004 finding is the all-ports rule's, which the lab waives."""
    lab = tmp_path / "lb4.yaml"
    lab.write_text(LB_LAB, encoding="utf-8")
    out = tmp_path / "cdktf.out"
    assert cli("synth", "--lab", str(lab), "--out", str(out)).code == 0
    result = cli("check", "--lab", str(lab), "--synth", str(out), "--format", "json")
    assert result.code == 0, result.out
    crm004 = [f for f in _json(result)["findings"] if f["check"] == "CRM004"]
    assert [(f["where"], f.get("waived")) for f in crm004] == [
        ("azure-lb4", "Throw-away lab, administrators need every port on the web server."),
        ("rule set", "Throw-away lab, administrators need every port on the web server."),
    ]
