"""The Azure audit against ARM responses in Microsoft's shape, not ours.

`fixtures/azure/microsoft-shape.json` is the full-server lab written by hand as ARM
returns it, in the shapes of the azure-rest-api-specs examples for Microsoft.Network
(NetworkSecurityGroupGet, SecurityRuleGet, ApplicationSecurityGroupList) and the
azure-mgmt-network models: a rule's one port in `destinationPortRange` and several in
`destinationPortRanges` (either one left out, or present and empty), a source prefix in
`sourceAddressPrefix` or a one-item `sourceAddressPrefixes`, ports in another order than
the plan's, `*` for any, ASGs referenced as `{"id": ...}` (one with the resource group in
upper case, as ARM ids are case-insensitive), `defaultSecurityRules`, etags, tags of
people's own beside the lab's, an ASG of another workload without tags and one of another
lab, and both lists in two pages joined by `nextLink`. Unlike the round trip in
`fixtures/azure/regenerate.py`, nothing here is written from the plan, so a clean audit
shows the audit maps ARM's fields onto the plan. The drift cases are that lab with one
thing changed, each a copy edited in the test that names it.

A catalogue change to full-server's rules makes the clean audit fail with the rules that
differ: edit the fixture by hand to match (no generator writes it), and review it like a
snapshot.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from crm_ports.audit import azure as audit_module
from crm_ports.audit.azure import AzureTarget, audit_azure
from crm_ports.audit.model import AuditReport, Finding
from crm_ports.audit.policy import PolicyScope
from crm_ports.catalogue.load import load_catalogue
from crm_ports.lab.model import Lab
from crm_ports.options import Options
from crm_ports.plans.text import LAB_TAG
from crm_ports.resolver.engine import resolve
from tests.conftest import Result
from tests.test_audit_azure import Replay, ReplayTransport, fixture, plan

Cli = Callable[..., Result]
Interactions = list[dict[str, Any]]
SQL_ASG = "full-server-sql-server-asg"


def microsoft_shape() -> dict[str, Any]:
    return copy.deepcopy(fixture("microsoft-shape"))


def bodies(document: dict[str, Any], tail: str) -> Iterator[dict[str, Any]]:
    """The response bodies of the requests whose path ends in `tail`, page by page."""
    for item in document["interactions"]:
        if item["request"]["path"].endswith(tail):
            yield item["response"]["body"]


def nsg(document: dict[str, Any]) -> dict[str, Any]:
    return next(bodies(document, "/networkSecurityGroups/full-server-nsg"))


def audit(
    document: dict[str, Any], policy: PolicyScope | None = None
) -> tuple[AuditReport, Replay]:
    recorded = Replay(ReplayTransport(document["interactions"]))
    target = AzureTarget(document["subscription_id"], document["resource_group"])
    report = audit_azure(plan(), target, client_factory=recorded.client, policy=policy)
    return report, recorded


def findings(report: AuditReport) -> list[tuple[str, str, str]]:
    return [(f.status, f.resource, f.name) for f in report.findings]


def only_finding(document: dict[str, Any], status: str, resource: str, name: str) -> Finding:
    """The audit's one finding, which must be `status` of `resource` `name`."""
    report, _ = audit(document)
    assert findings(report) == [(status, resource, name)]
    return report.findings[0]


def test_the_fixture_is_in_microsofts_shapes() -> None:
    """Guards the fixture itself: the variants the audit must read are all still there."""
    document = microsoft_shape()
    rules = [r["properties"] for page in bodies(document, "/securityRules") for r in page["value"]]
    assert len(rules) == len(plan().rules)
    assert any("destinationPortRanges" not in r for r in rules)  # singular only
    assert any(r.get("destinationPortRanges") == [] for r in rules)  # singular, plural empty
    assert any(len(r.get("destinationPortRanges", [])) == 1 for r in rules)  # plural of one
    assert any("sourceAddressPrefix" in r for r in rules)
    assert any("sourceAddressPrefixes" in r for r in rules)
    assert any(r.get("destinationPortRange") == "*" and r["protocol"] == "*" for r in rules)
    references = [ref["id"] for r in rules for ref in r.get("sourceApplicationSecurityGroups", [])]
    assert any("/resourceGroups/RG-CRM-LAB/" in ref for ref in references)
    assert len(nsg(document)["properties"]["defaultSecurityRules"]) == 6
    asg_pages = list(bodies(document, "/applicationSecurityGroups"))
    assert "nextLink" in asg_pages[0] and len(asg_pages) == 2
    assert any("tags" not in a for page in asg_pages for a in page["value"])


def test_the_lab_in_microsofts_shapes_audits_clean() -> None:
    report, recorded = audit(microsoft_shape())
    assert report.findings == (), (
        "the plan or the audit's reading of ARM changed; if the plan, edit "
        "tests/fixtures/azure/microsoft-shape.json by hand to match"
    )
    assert dict(report.checked) == {"application_security_groups": 4, "nsg_rules": 15}
    assert [(s.path.rsplit("/", 1)[-1], sorted(s.query)) for s in recorded.seen] == [
        ("full-server-nsg", []),
        ("securityRules", []),
        ("securityRules", ["$skiptoken"]),
        ("applicationSecurityGroups", []),
        ("applicationSecurityGroups", ["$skiptoken"]),
    ]


def missing_asg() -> dict[str, Any]:
    """The SQL Server ASG deleted by hand, with the rules naming it (ARM refuses to
    delete an ASG that a security rule references)."""
    document = microsoft_shape()
    for page in bodies(document, "/applicationSecurityGroups"):
        page["value"] = [a for a in page["value"] if a["name"] != SQL_ASG]
    for page in bodies(document, "/securityRules"):
        page["value"] = [r for r in page["value"] if SQL_ASG not in json.dumps(r)]
    return document


def test_a_missing_asg_is_reported_with_the_rules_it_carried() -> None:
    report, _ = audit(missing_asg())
    carried = [r.name for r in plan().rules if "sql-server" in (r.source_group, r.target_group)]
    assert len(carried) == 5
    assert sorted(findings(report)) == [
        ("missing", "application-security-group", SQL_ASG),
        *(("missing", "nsg-rule", name) for name in sorted(carried)),
    ]
    assert {f.live_id for f in report.findings} == {""}  # nothing live to point at


def stale_asg() -> dict[str, Any]:
    """An ASG an older plan of this lab made (SSRS on a host of its own), left behind:
    no rule names it, only its `crm-ports:lab` tag says whose it is."""
    document = microsoft_shape()
    page = list(bodies(document, "/applicationSecurityGroups"))[-1]
    left = copy.deepcopy(next(a for a in page["value"] if a["name"] == SQL_ASG))
    left["name"] = "full-server-ssrs-asg"
    left["id"] = left["id"].replace(SQL_ASG, left["name"])
    left["tags"]["crm-ports:group"] = "ssrs"
    left["tags"]["crm-ports:roles"] = "reporting-services"
    page["value"].append(left)
    return document


def test_a_stale_asg_tagged_for_the_lab_is_unexpected() -> None:
    """Only the tag finds it; the untagged ASG and the other lab's stay out of it."""
    finding = only_finding(
        stale_asg(), "unexpected", "application-security-group", "full-server-ssrs-asg"
    )
    assert finding.live_id.endswith("/applicationSecurityGroups/full-server-ssrs-asg")
    assert finding.container == "rg-crm-lab"
    assert finding.summary == "application security group full-server-ssrs-asg"


def nsg_tag_drift() -> dict[str, Any]:
    """The NSG's topology tag edited in the portal (people's own tags are not drift)."""
    document = microsoft_shape()
    tags = nsg(document)["tags"]
    tags["crm-ports:topology"] = "split-roles"
    tags["owner"] = "someone-else"
    return document


def test_nsg_tag_drift_is_a_change_of_the_nsg() -> None:
    document = nsg_tag_drift()
    finding = only_finding(document, "changed", "nsg", "full-server-nsg")
    assert (finding.container, finding.summary, finding.live_id) == (
        "rg-crm-lab",
        "network security group full-server-nsg",
        nsg(document)["id"],
    )
    assert [(c.field, c.expected, c.actual) for c in finding.changes] == [
        (
            "tags",
            f"{LAB_TAG}=full-server, crm-ports:topology=full-server",
            f"{LAB_TAG}=full-server, crm-ports:topology=split-roles",
        )
    ]


def hand_added_rule() -> dict[str, Any]:
    """SQL Server opened to the Internet service tag in the portal: the plural fields the
    portal writes for one value, and no description (the portal does not ask for one)."""
    document = microsoft_shape()
    page = list(bodies(document, "/securityRules"))[-1]
    nsg_id = nsg(document)["id"]
    page["value"].append(
        {
            "name": "vendor-sql",
            "id": f"{nsg_id}/securityRules/vendor-sql",
            "properties": {
                "provisioningState": "Succeeded",
                "protocol": "Tcp",
                "sourcePortRange": "*",
                "sourceAddressPrefixes": ["Internet"],
                "destinationAddressPrefix": "*",
                "destinationPortRanges": ["1433"],
                "access": "Allow",
                "priority": 200,
                "direction": "Inbound",
            },
        }
    )
    return document


def test_a_hand_added_rule_in_plural_fields_is_unexpected_and_breaks_the_policy() -> None:
    options = Options(topology=plan().lab)
    scope = PolicyScope(Lab(name=plan().lab, options=options), resolve(load_catalogue(), options))
    report, _ = audit(hand_added_rule(), policy=scope)
    [finding] = report.findings
    assert (finding.status, finding.name, finding.summary) == (
        "unexpected",
        "vendor-sql",
        "200 Inbound Allow Tcp 1433 from Internet to *",
    )
    assert {(f.check, f.severity, f.subject) for f in report.policy} == {
        ("CRM003", "error", "azurerm_network_security_rule.vendor-sql"),
        ("CRM006", "error", "azurerm_network_security_rule.vendor-sql"),
    }


@pytest.mark.parametrize(
    ("drift", "counts"),
    [
        (missing_asg, {"missing": 6, "unexpected": 0, "changed": 0}),
        (stale_asg, {"missing": 0, "unexpected": 1, "changed": 0}),
        (nsg_tag_drift, {"missing": 0, "unexpected": 0, "changed": 1}),
        (hand_added_rule, {"missing": 0, "unexpected": 1, "changed": 0}),
        (microsoft_shape, {"missing": 0, "unexpected": 0, "changed": 0}),
    ],
)
def test_cli_exit_status_of_each_drift(
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    drift: Callable[[], dict[str, Any]],
    counts: dict[str, int],
) -> None:
    document = drift()
    recorded = Replay(ReplayTransport(document["interactions"]))
    monkeypatch.setattr(audit_module, "default_client", recorded.client)
    result = cli(
        "audit", "azure", "--topology", "full-server", "--format", "json",
        "--subscription-id", document["subscription_id"],
        "--resource-group", document["resource_group"],
    )  # fmt: skip
    assert result.err == ""
    assert result.code == (1 if any(counts.values()) else 0)
    assert json.loads(result.out)["counts"] == counts


def admins_from_anywhere() -> dict[str, Any]:
    """The lab deployed as planned with `--admin-cidr 0.0.0.0/0`: the administrators'
    rules from 0.0.0.0/0, in whichever field (singular or plural) the fixture holds."""
    document = microsoft_shape()
    for rule in rules_of(document):
        if rule.get("sourceAddressPrefix") == "10.200.0.0/24":
            rule["sourceAddressPrefix"] = "0.0.0.0/0"
        if rule.get("sourceAddressPrefixes") == ["10.200.0.0/24"]:
            rule["sourceAddressPrefixes"] = ["0.0.0.0/0"]
    return document


def test_cli_a_live_policy_error_without_drift_exits_1(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The documented "exit 1 on a live policy error", on its own, for Azure: the live
    NSG is the plan (no drift), but the plan opens RDP to the internet, so the live rules
    break CRM001. Every other Azure policy case is also drift, which hid a command that
    exited 0 here; `--fail-on never` still only reports."""
    document = admins_from_anywhere()
    args = (
        "audit", "azure", "--topology", "full-server", "--admin-cidr", "0.0.0.0/0",
        "--subscription-id", document["subscription_id"],
        "--resource-group", document["resource_group"],
    )  # fmt: skip

    def run(*more: str) -> Result:
        recorded = Replay(ReplayTransport(document["interactions"]))
        monkeypatch.setattr(audit_module, "default_client", recorded.client)
        return cli(*args, *more)

    result = run("--format", "json")
    assert (result.code, result.err) == (1, "")
    report = json.loads(result.out)
    assert report["findings"] == []
    assert report["counts"] == {"missing": 0, "unexpected": 0, "changed": 0}
    assert "CRM001" in {f["check"] for f in report["policy"]["findings"]}
    assert report["policy"]["counts"]["errors"] >= 1
    never = run("--fail-on", "never")
    assert (never.code, never.err) == (0, "")
    assert "no drift" in never.out and "CRM001" in never.out


# The shapes below are ARM's too, but the full-server lab never returns them: the audit must
# read each the same way, so the clean ones audit clean and the drift ones say what moved.

LAB_SERVERS_TO_CRM = "lab-servers.crm-full-server.tcp"
CRM_ASG = "full-server-crm-full-server-asg"


def rules_of(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every security rule's `properties`, across the pages."""
    for page in bodies(document, "/securityRules"):
        for rule in page["value"]:
            yield rule["properties"]


def rule_named(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(
        r["properties"]
        for page in bodies(document, "/securityRules")
        for r in page["value"]
        if r["name"] == name
    )


def asg_named(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(
        a for page in bodies(document, "/applicationSecurityGroups") for a in page["value"]
        if a["name"] == name
    )  # fmt: skip


def asg_id(document: dict[str, Any], name: str) -> str:
    return str(asg_named(document, name)["id"])


PLURALS = {
    "sourcePortRange": "sourcePortRanges",
    "sourceAddressPrefix": "sourceAddressPrefixes",
    "destinationAddressPrefix": "destinationAddressPrefixes",
    "destinationPortRange": "destinationPortRanges",
}


def plural_fields_only() -> dict[str, Any]:
    """Every value in the plural field, the singular left out (as ARM returns a rule
    written with the plural fields): `sourcePortRanges` and `destinationAddressPrefixes`
    among them, which the full-server fixture never uses."""
    document = microsoft_shape()
    for rule in rules_of(document):
        for one, many in PLURALS.items():
            if one in rule:
                rule[many] = [*rule.get(many, []), rule.pop(one)]
    return document


def protocols_in_lower_case() -> dict[str, Any]:
    """`tcp`, `udp`: the SDK and ARM take the protocol in any case."""
    document = microsoft_shape()
    for rule in rules_of(document):
        rule["protocol"] = rule["protocol"].lower()
    return document


def asgs_in_another_order() -> dict[str, Any]:
    """ARM promises no order: the ASGs listed last first, page by page."""
    document = microsoft_shape()
    for page in bodies(document, "/applicationSecurityGroups"):
        page["value"].reverse()
    return document


@pytest.mark.parametrize(
    "shape", [plural_fields_only, protocols_in_lower_case, asgs_in_another_order]
)
def test_other_shapes_of_the_same_rules_audit_clean(shape: Callable[[], dict[str, Any]]) -> None:
    document = shape()
    assert document != microsoft_shape()
    report, _ = audit(document)
    assert report.findings == ()


def source_ports_narrowed() -> dict[str, Any]:
    """One rule's source ports narrowed by hand to two ranges, in ARM's plural field."""
    document = microsoft_shape()
    rule = rule_named(document, LAB_SERVERS_TO_CRM)
    del rule["sourcePortRange"]
    rule["sourcePortRanges"] = ["49152-65535", "1024", "*"]
    return document


def test_source_ports_narrowed_are_a_change_listed_in_port_order() -> None:
    """Ranges sort by their first port, `*` first: the same order on either side."""
    finding = only_finding(source_ports_narrowed(), "changed", "nsg-rule", LAB_SERVERS_TO_CRM)
    assert [(c.field, c.expected, c.actual) for c in finding.changes] == [
        ("source_ports", "*", "*,1024,49152-65535")
    ]


def rule_between_two_asgs_and_a_lost_one() -> dict[str, Any]:
    """A rule added by hand from two of the lab's ASGs (named in the other order, one
    by an id in upper case) to an ASG that is not in the resource group's list, with its
    ports in no order."""
    document = microsoft_shape()
    page = list(bodies(document, "/securityRules"))[-1]
    nsg_id = nsg(document)["id"]
    sql, crm = asg_id(document, SQL_ASG), asg_id(document, CRM_ASG)
    page["value"].append(
        {
            "name": "by-hand",
            "id": f"{nsg_id}/securityRules/by-hand",
            "properties": {
                "protocol": "Tcp",
                "sourcePortRange": "*",
                "sourceApplicationSecurityGroups": [{"id": sql}, {"id": crm.upper()}],
                "destinationApplicationSecurityGroups": [{"id": f"{sql}-Gone"}],
                "destinationPortRanges": ["3389", "1024-65535", "80", "135"],
                "access": "Allow",
                "priority": 200,
                "direction": "Inbound",
            },
        }
    )
    return document


def test_a_rule_with_two_asgs_names_both_and_keeps_an_unknown_asgs_id() -> None:
    document = rule_between_two_asgs_and_a_lost_one()
    finding = only_finding(document, "unexpected", "nsg-rule", "by-hand")
    assert finding.summary == (
        f"200 Inbound Allow Tcp 80,135,1024-65535,3389 from asg:{CRM_ASG},asg:{SQL_ASG} "
        f"to asg:{asg_id(document, SQL_ASG)}-Gone"
    )


def asg_lost_its_tags() -> dict[str, Any]:
    """The SQL Server ASG's tags removed by hand: still the lab's, found by its name."""
    document = microsoft_shape()
    del asg_named(document, SQL_ASG)["tags"]
    return document


def asg_roles_tag_edited() -> dict[str, Any]:
    """An ASG's roles tag edited by hand: a key only the ASGs carry, not the NSG."""
    document = microsoft_shape()
    asg_named(document, SQL_ASG)["tags"]["crm-ports:roles"] = "sql-server"
    return document


@pytest.mark.parametrize(
    ("drift", "actual"),
    [
        (asg_lost_its_tags, ""),
        (
            asg_roles_tag_edited,
            f"crm-ports:group=sql-server, {LAB_TAG}=full-server, "
            "crm-ports:roles=sql-server, crm-ports:topology=full-server",
        ),
    ],
)
def test_an_asgs_tags_edited_by_hand_are_a_change_of_the_asg(
    drift: Callable[[], dict[str, Any]], actual: str
) -> None:
    finding = only_finding(drift(), "changed", "application-security-group", SQL_ASG)
    assert [(c.field, c.expected, c.actual) for c in finding.changes] == [
        (
            "tags",
            f"crm-ports:group=sql-server, {LAB_TAG}=full-server, "
            "crm-ports:roles=sql-server+reporting-services, crm-ports:topology=full-server",
            actual,
        )
    ]


def rule_renamed() -> dict[str, Any]:
    """A rule renamed by hand (ARM deletes and recreates it): the same content under a
    new name, so it pairs by content and the name is the change."""
    document = microsoft_shape()
    for page in bodies(document, "/securityRules"):
        for rule in page["value"]:
            if rule["name"] == LAB_SERVERS_TO_CRM:
                rule["name"] = "renamed-by-hand"
                rule["id"] = rule["id"].replace(LAB_SERVERS_TO_CRM, rule["name"])
    return document


def test_a_rule_renamed_by_hand_is_a_change_of_its_name() -> None:
    finding = only_finding(rule_renamed(), "changed", "nsg-rule", LAB_SERVERS_TO_CRM)
    assert finding.live_id.endswith("/securityRules/renamed-by-hand")
    assert [(c.field, c.expected, c.actual) for c in finding.changes] == [
        ("name", LAB_SERVERS_TO_CRM, "renamed-by-hand")
    ]
