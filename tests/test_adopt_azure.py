"""`crm-ports adopt azure` through the real NetworkManagementClient, only the socket
replaced (the audit's seam, tests/test_audit_azure.py): a hand-built NSG with four ASGs
in ARM's response shape (tests/fixtures/azure/adopt-estate.json, which says how it was
written) becomes a lab that validates, names the stray rule, and synthesizes import
blocks whose ids are the fixture's resources; bad input is one line, exit 2, nothing
written.

The fixture's CRM rules were written once from the flows of a reference lab (the hosts of
`REFERENCE` below, SQL Server on port 14330) and are data since: when the catalogue's
flows move away from them, the first test says so (a rule no longer taken over)."""

from __future__ import annotations

import copy
import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crm_ports.audit import azure as audit_module
from crm_ports.catalogue.load import load_catalogue
from crm_ports.lab.file import load_lab
from crm_ports.plans.azure import plan_azure
from crm_ports.resolver.engine import resolve_lab
from crm_ports.terraform.metadata import read_stack
from tests.conftest import REPO, Result
from tests.readme import block
from tests.test_audit_azure import Replay, ReplayTransport, fixture

Cli = Callable[..., Result]
LAB = "acme"
REFERENCE = {  # the ASG each role runs behind in the fixture
    "crm-web-asg": {"web-application", "deployment-web-service"},
    "crm-app-asg": {"asynchronous-service", "sandbox-processing"},
    "crm-sql-asg": {"sql-server", "reporting-services"},
    "crm-dc-asg": {"domain-controller"},
}
STRAY = ("RDP-Anywhere", "Deny-All-Inbound")  # reported, and not taken over
CUSTOM = "Allow-Web-To-App-Monitoring"  # an extra rule to review


def estate() -> dict[str, Any]:
    return fixture("adopt-estate")


def bodies(data: dict[str, Any]) -> dict[str, Any]:
    """The last path segment -> the recorded response body."""
    out: dict[str, Any] = {}
    for item in data["interactions"]:
        path = item["request"]["path"]
        kind = (
            path.rsplit("/", 1)[-1] if path.endswith(("Rules", "Groups", "Interfaces")) else "nsg"
        )
        out[kind] = item["response"]["body"]
    return out


def adopt(
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    data: dict[str, Any],
    *extra: str,
    nsg: str | None = None,
    name: str = LAB,
) -> Result:
    recorded = Replay(ReplayTransport(data["interactions"]))
    monkeypatch.setattr(audit_module, "default_client", recorded.client)
    return cli(
        "adopt", "azure",
        "--subscription-id", data["subscription_id"],
        "--resource-group", data["resource_group"],
        "--nsg", nsg or data["nsg"],
        "--name", name,
        *extra,
    )  # fmt: skip


def test_adopted_lab_validates_and_imports_the_fixtures_resources(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = estate()
    recorded = bodies(data)
    lab_path = tmp_path / "labs" / f"{LAB}.yaml"
    lab_path.parent.mkdir()
    result = adopt(cli, monkeypatch, data, "-o", str(lab_path))
    assert result.code == 0, result.err
    assert cli("validate", str(lab_path)).code == 0

    lab = load_lab(lab_path)
    placed = {h.name: set(h.roles) for h in lab.placement.hosts}  # type: ignore[union-attr]
    assert placed == REFERENCE
    assert lab.options.sql_port == 14330  # the SQL rules are on 14330, and so is the plan
    assert (lab.azure.location, lab.azure.resource_group_name) == (
        recorded["nsg"]["location"],
        data["resource_group"],
    )
    assert lab.azure.subnet_id == recorded["nsg"]["properties"]["subnets"][0]["id"]

    # the stray rules are reported, by name, with what the first apply does to them
    left_out = [line for line in result.err.splitlines() if line.startswith("left out: ")]
    assert [line.split()[2] for line in left_out] == list(STRAY)
    assert "breaks policy (open to the internet)" in left_out[0]
    assert all("the first apply removes it" in line for line in left_out)
    assert all(line.count("the first apply") == 1 for line in left_out), left_out
    # the custom rule is an extra rule to review
    [extra] = lab.extra_rules
    assert (extra.source, extra.target, str(extra.ports)) == ("crm-web-asg", "crm-app-asg", "8080")
    assert extra.reason == f"adopted from NSG rule {CUSTOM}: review"

    # every live rule but the stray ones is taken over, by its own ARM id
    adopted = lab.adopt_azure
    assert adopted is not None
    rules = {r["name"]: r["id"] for r in recorded["securityRules"]["value"]}
    taken = sorted(i for _, ids in adopted.rules for i in ids)
    assert taken == sorted(i for name, i in rules.items() if name not in STRAY)

    out = tmp_path / "cdktf.out"
    synth = cli("synth", "--lab", str(lab_path), "--out", str(out))
    assert synth.code == 0, synth.err
    stack = json.loads((out / "stacks" / f"azure-{LAB}" / "cdk.tf.json").read_text("utf-8"))
    asgs = {a["name"]: a["id"] for a in recorded["applicationSecurityGroups"]["value"]}
    resources = stack["resource"]
    imports = {block["to"]: block["id"] for block in stack["import"]}
    # the import ids are the fixture's resources: the NSG, and each ASG a rule names
    assert imports.pop("azurerm_network_security_group.nsg") == recorded["nsg"]["id"]
    assert sorted(imports.values()) == sorted(asgs[name] for name in REFERENCE)
    for address, asg_id in imports.items():
        kind, key = address.split(".")
        assert resources[kind][key]["name"] == asg_id.rsplit("/", 1)[-1]  # the live name
    nsg = resources["azurerm_network_security_group"]["nsg"]
    assert nsg["name"] == data["nsg"]
    # the stack adds no network: the NSG's subnet is given, so it stays associated
    assert stack["variable"]["subnet_id"]["default"] == lab.azure.subnet_id
    assert stack["variable"]["resource_group_name"]["default"] == data["resource_group"]
    verify = cli("verify", "--synth", str(out))
    assert verify.code == 0, verify.out + verify.err
    # what the review commands read back from the folder still adopts the same estate
    record = read_stack(out / "stacks" / f"azure-{LAB}")
    assert record.lab.lab.adopt_azure == adopted


def test_the_same_estate_gives_the_same_bytes(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Twice the same bytes, and those of tests/fixtures/labs/adopted-azure.yaml (the
    adopted lab tests/test_azure_equivalence.py builds on the prebuilt bindings)."""
    first = adopt(cli, monkeypatch, estate(), name="adopted-azure")
    second = adopt(cli, monkeypatch, estate(), name="adopted-azure")
    assert first.code == second.code == 0
    assert first.out == second.out
    kept = REPO / "tests" / "fixtures" / "labs" / "adopted-azure.yaml"
    assert first.out == kept.read_text(encoding="utf-8"), f"write it again: {kept}"


def test_hosts_file_names_an_asg_by_name(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text("crm-dc-asg: [domain-controller]\n", encoding="utf-8")
    result = adopt(cli, monkeypatch, estate(), "--hosts", str(hosts))
    assert result.code == 0, result.err
    assert "crm-dc-asg -> crm-dc-asg: domain-controller (from --hosts)" in result.err


def test_keep_unexplained_keeps_the_rdp_rule_as_an_extra_rule(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """ARM's `Internet` is no CIDR: the kept rule says 0.0.0.0/0, validates, and is a
    live rule the plan takes over; only the estate's own deny rule is left out."""
    path = tmp_path / f"{LAB}.yaml"
    result = adopt(cli, monkeypatch, estate(), "--keep-unexplained", "-o", str(path))
    assert result.code == 0, result.err
    assert cli("validate", str(path)).code == 0
    lab = load_lab(path)
    kept = [e for e in lab.extra_rules if str(e.ports) == "3389"]
    assert [(e.source, e.target) for e in kept] == [("0.0.0.0/0", "crm-web-asg")]
    left_out = [line for line in result.err.splitlines() if line.startswith("left out: ")]
    assert [line.split()[2] for line in left_out] == ["Deny-All-Inbound"]
    assert lab.adopt_azure is not None
    taken = {i.rsplit("/", 1)[-1] for _, ids in lab.adopt_azure.rules for i in ids}
    assert "RDP-Anywhere" in taken


def test_a_rule_no_lab_rule_can_say_is_reported_once(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An ICMP rule has no lab rule to carry it; its line says once what the first apply
    does to it (Azure's words, not AWS's 'revokes')."""
    data = estate()
    page = data["interactions"][1]["response"]["body"]
    [template] = [r for r in page["value"] if r["name"] == CUSTOM]
    ping = copy.deepcopy(template)
    ping["name"] = "Allow-Ping-Web-To-App"
    ping["id"] = template["id"].rsplit("/", 1)[0] + "/" + ping["name"]
    ping["properties"].update(protocol="Icmp", priority=4000, destinationPortRange="*")
    ping["properties"]["destinationPortRanges"] = []
    page["value"].append(ping)
    result = adopt(cli, monkeypatch, data, "-o", str(tmp_path / f"{LAB}.yaml"))
    assert result.code == 0, result.err
    [line] = [line for line in result.err.splitlines() if "Allow-Ping-Web-To-App" in line]
    assert "no lab rule can say it" in line
    assert line.count("the first apply") == 1, line
    assert line.endswith("the first apply removes it (the NSG's rules are one set in Terraform)")


def _not_found(data: dict[str, Any], code: str, message: str) -> dict[str, Any]:
    nsg = data["interactions"][0]
    nsg["response"] = {
        "status": 404,
        "headers": {**nsg["response"]["headers"], "x-ms-failure-cause": "gateway"},
        "body": {"error": {"code": code, "message": message}},
    }
    return data


def _unknown_nsg(data: dict[str, Any]) -> dict[str, Any]:
    data["interactions"][0]["request"]["path"] += "-old"
    return _not_found(
        data,
        "ResourceNotFound",
        "The Resource 'Microsoft.Network/networkSecurityGroups/crm-prod-nsg-old' under "
        "resource group 'rg-crm-prod' was not found. For more details please go to "
        "https://aka.ms/ARMResourceNotFoundFix",
    )


def _unknown_group(data: dict[str, Any]) -> dict[str, Any]:
    data["interactions"][0]["request"]["path"] = data["interactions"][0]["request"]["path"].replace(
        "rg-crm-prod", "rg-crm-prd"
    )
    data["resource_group"] = "rg-crm-prd"
    return _not_found(
        data, "ResourceGroupNotFound", "Resource group 'rg-crm-prd' could not be found."
    )


def _only_stray_rules(data: dict[str, Any]) -> dict[str, Any]:
    page = data["interactions"][1]["response"]["body"]
    page["value"] = [r for r in page["value"] if r["name"] == "Deny-All-Inbound"]
    return data


def _two_front_ends(data: dict[str, Any]) -> dict[str, Any]:
    """The users' and administrators' web rules opened on the application server's ASG
    too."""
    page = data["interactions"][1]["response"]["body"]
    web = ("Allow-Clients-Web-", "Allow-Admins-To-Web-")
    for rule in [r for r in page["value"] if r["name"].startswith(web)]:
        twin = copy.deepcopy(rule)
        twin["name"] += "-App"
        twin["id"] += "-App"
        [target] = twin["properties"]["destinationApplicationSecurityGroups"]
        target["id"] = target["id"].replace("crm-web-asg", "crm-app-asg")
        page["value"].append(twin)
    return data


@pytest.mark.parametrize(
    ("change", "args", "needles"),
    [
        (
            _unknown_nsg,
            ("--nsg", "crm-prod-nsg-old"),
            ("no network security group 'crm-prod-nsg-old'", "ResourceNotFound"),
        ),
        (_unknown_group, (), ("resource group 'rg-crm-prd'", "ResourceGroupNotFound")),
        (
            _only_stray_rules,
            (),
            ("no rule allowing traffic into an application security group", "nothing to adopt"),
        ),
        (_two_front_ends, (), ("claimed by 2 groups: crm-app-asg, crm-web-asg;", "--hosts")),
        (
            None,
            ("--hosts", "HOSTS:crm-web-asg: [web-server]"),
            ("hosts.yaml", "unknown role 'web-server'"),
        ),
        (
            None,
            ("--hosts", "HOSTS:crm-mail-asg: [exchange]"),
            ("group 'crm-mail-asg'", "no such group in resource group rg-crm-prod"),
        ),
        (None, ("--name", "full-server"), ("'full-server' cannot name a lab",)),
    ],
    ids=[
        "unknown-nsg",
        "unknown-resource-group",
        "no-rules-to-adopt",
        "two-front-ends",
        "unknown-role",
        "unknown-asg",
        "default-lab-name",
    ],
)
def test_bad_input_is_one_line_exit_2_nothing_written(
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    change: Callable[[dict[str, Any]], dict[str, Any]] | None,
    args: tuple[str, ...],
    needles: tuple[str, ...],
) -> None:
    data = estate() if change is None else change(estate())
    given = list(args)
    if given and given[0] == "--hosts":
        hosts = tmp_path / "hosts.yaml"
        hosts.write_text(given[1].removeprefix("HOSTS:") + "\n", encoding="utf-8")
        given[1] = str(hosts)
    named = dict(zip(given[::2], given[1::2], strict=True))
    out = tmp_path / "lab.yaml"
    result = adopt(
        cli,
        monkeypatch,
        data,
        *(f"--hosts={named['--hosts']}" for _ in [1] if "--hosts" in named),
        "-o",
        str(out),
        nsg=named.get("--nsg"),
        name=named.get("--name", LAB),
    )
    assert result.code == 2, result
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert "Traceback" not in result.err
    for needle in needles:
        assert needle in result.err, result.err
    assert not out.exists()


@pytest.mark.parametrize(
    ("edit", "needles"),
    [
        (
            lambda text: text.replace("    crm-dc-asg: {", "    crm-mail: {", 1),
            ("adopt_azure.hosts.crm-mail", "no host 'crm-mail'"),
        ),
        (
            lambda text: text.replace(
                "applicationSecurityGroups/crm-dc-asg", "networkSecurityGroups/crm-dc-asg", 1
            ),
            ("adopt_azure.hosts.crm-dc-asg.id", "is not an application security group's ARM id"),
        ),
        (
            lambda text: text.replace('"clients.crm-dc-asg.udp"', '"clients.crm-dc-asg.esp"', 1),
            ("adopt_azure.rules.clients.crm-dc-asg.esp", "no planned NSG rule is named"),
        ),
        (
            lambda text: text.replace("/Allow-Clients-To-Dc-Udp", "/Allow-Clients-To-Dc-Tcp", 1),
            ("is adopted by",),
        ),
        (
            lambda text: text.replace("clouds: [azure]", "clouds: [aws]", 1),
            ("add azure to clouds",),
        ),
    ],
    ids=["unknown-host", "not-an-asg-id", "unplanned-rule", "rule-adopted-twice", "not-on-azure"],
)
def test_a_broken_adopt_azure_section_is_one_line(
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    edit: Callable[[str], str],
    needles: tuple[str, ...],
) -> None:
    written = adopt(cli, monkeypatch, estate())
    assert written.code == 0, written.err
    path = tmp_path / f"{LAB}.yaml"
    path.write_text(edit(written.out), encoding="utf-8")
    out = tmp_path / "cdktf.out"
    result = cli("synth", "--lab", str(path), "--out", str(out))
    assert result.code == 2, result
    assert len(result.err.strip().splitlines()) == 1, result.err
    for needle in needles:
        assert needle in result.err, result.err
    assert not out.exists()


def test_the_adopting_session_runs_as_written(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """docs/adopting.md's Azure block, line by line, each in-process with the client
    answering from the fixture (the seam is in-process, so no shell runs it)."""
    data = estate()
    recorded = Replay(ReplayTransport(data["interactions"]))
    monkeypatch.setattr(audit_module, "default_client", recorded.client)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "labs").mkdir()
    fence = block("adopt-azure", REPO / "docs" / "adopting.md").split("```sh\n", 1)[1]
    for line in fence.rsplit("```", 1)[0].splitlines():
        words = shlex.split(line.replace("$SUB", data["subscription_id"]))
        assert words[0] == "crm-ports", line
        result = cli(*words[1:])
        assert result.code == 0, f"{line}\n{result.err}"
    lab = load_lab(tmp_path / "labs" / "acme.yaml")
    assert lab.adopt_azure is not None
    assert lab.adopt_azure.nsg.id == data["interactions"][0]["response"]["body"]["id"]
    stack = json.loads(
        (tmp_path / "cdktf.out" / "stacks" / "azure-acme" / "cdk.tf.json").read_text("utf-8")
    )
    assert len(stack["import"]) == 1 + len(REFERENCE)


def test_adopt_azure_needs_the_labs_own_hosts(cli: Cli, tmp_path: Path) -> None:
    data = estate()
    nsg = data["interactions"][0]["response"]["body"]["id"]
    asg = nsg.replace("networkSecurityGroups", "applicationSecurityGroups")
    path = tmp_path / "lab.yaml"
    path.write_text(
        "name: acme\nclouds: [azure]\ntopology: full-server\nadopt_azure:\n"
        f"  network_security_group: {{id: {nsg}, name: crm-prod-nsg}}\n"
        f"  hosts: {{lab-servers: {{id: {asg}, name: x}}}}\n",
        encoding="utf-8",
    )
    result = cli("validate", str(path))
    assert result.code == 2, result
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert "field 'adopt_azure'" in result.err
    assert "needs the lab's own hosts" in result.err


def test_the_audit_before_the_first_apply_agrees_with_adopt(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`audit azure` of the adopted lab against the same estate, before any apply: the
    NSG and every ASG are found; a planned rule one live rule stands for pairs with it
    (changed: name, priority, description); one that several live rules stand for is
    missing and they are unexpected, as is a rule the lab leaves out: as adopt_azure.rules
    says."""
    data = estate()
    path = tmp_path / f"{LAB}.yaml"
    written = adopt(cli, monkeypatch, data, "-o", str(path))
    assert written.code == 0, written.err
    adopted = load_lab(path).adopt_azure
    assert adopted is not None
    recorded = Replay(ReplayTransport(data["interactions"]))
    monkeypatch.setattr(audit_module, "default_client", recorded.client)
    plan = plan_azure(resolve_lab(load_catalogue(), load_lab(path)), LAB, adopt=adopted)
    target = audit_module.AzureTarget(data["subscription_id"], data["resource_group"])
    report = audit_module.audit_azure(plan, target, client_factory=recorded.client)
    found = {(f.status, f.resource, f.name) for f in report.findings}
    # the NSG and every ASG are there, their crm-ports tags still to come
    assert {(s, r) for s, r, _ in found if r != "nsg-rule"} == {
        ("changed", "nsg"),
        ("changed", "application-security-group"),
    }
    assert len([r for _, r, _ in found if r == "application-security-group"]) == len(REFERENCE)
    several = {name for name, ids in adopted.rules if len(ids) > 1}
    assert {n for s, _, n in found if s == "missing"} == several
    taken = {i.rsplit("/", 1)[-1] for _, ids in adopted.rules for i in ids}
    unexpected = {n for s, _, n in found if s == "unexpected"}
    by_one = {name for name, ids in adopted.rules if len(ids) == 1}
    assert by_one <= {n for s, _, n in found if s == "changed"}
    assert "RDP-Anywhere" in unexpected
    assert unexpected - {"RDP-Anywhere"} <= taken  # the live parts of several-to-one
