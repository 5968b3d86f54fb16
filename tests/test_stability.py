"""Stability guarantee: a catalogue edit changes only the resources of the rules it
touches. Adding a service to a flow changes exactly that flow's rules in both clouds
(no renamed resource, no Azure priority shifted); rewording a description renames
nothing.

`resources_of` returns {resource address: attributes} for a lab's plans; a synthesized
version only needs another function with the same shape
(`crm_ports.terraform.stack_json.read_stack_resources` reads cdk.tf.json that way), added to
`SOURCES`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from crm_ports.catalogue.load import load_catalogue
from crm_ports.lab.model import Lab, default_labs
from crm_ports.plans.aws import plan_aws
from crm_ports.plans.azure import AzurePlan, plan_azure
from crm_ports.resolver.engine import resolve
from crm_ports.terraform.impact import compare
from crm_ports.terraform.resources import (
    AZURE_INLINE_RULE,
    Resources,
    aws_resources,
    azure_resources,
    nsg_rule_address,
)
from crm_ports.terraform.stack_json import stack_resources
from tests.stacks import synth_stack

FLOW = "crm-sql"  # CRM servers -> SQL Server, services [ms-sql]
ADDED = "rdp"  # TCP 3389: no other rule between those groups carries it
CRM_SQL = (
    "  - id: crm-sql\n"
    "    title: SQL Server access from the CRM servers\n"
    "    from: [web-application, asynchronous-service, deployment-web-service]\n"
    "    to: sql-server\n"
    "    services: [ms-sql]\n"
)


def plan_resources(catalogue_dir: Path | None, lab: Lab) -> Resources:
    """{address: attributes} of both clouds' plans, plus the rule ids of each resource."""
    ruleset = resolve(load_catalogue(catalogue_dir), lab.options)
    aws = plan_aws(ruleset, lab.name, egress=lab.aws.egress)
    azure = plan_azure(ruleset, lab.name)
    return _with_rules({**aws_resources(aws), **azure_resources(azure)}, azure)


def _with_rules(resources: Resources, azure: AzurePlan) -> Resources:
    """Each resource with the rule ids it carries: AWS rules by their tag, Azure rules by
    the plan (one NSG rule carries several)."""
    carried = {nsg_rule_address(r): r.rule_ids for r in azure.rules}
    out: Resources = {}
    for address, attributes in resources.items():
        tags = attributes.get("tags", {})
        rules = carried.get(address) or (
            (tags["crm-ports:rule"],) if "crm-ports:rule" in tags else ()
        )
        out[address] = {**attributes, "__rules__": rules}
    return out


def synth_resources(catalogue_dir: Path | None, lab: Lab) -> Resources:
    """The same, read from both clouds' synthesized cdk.tf.json (for_each expanded)."""
    catalogue = load_catalogue(catalogue_dir)
    out: Resources = {}
    for cloud in ("aws", "azure"):
        out.update(stack_resources(synth_stack(lab, cloud, catalogue), f"{cloud}-{lab.name}"))
    return _with_rules(out, plan_azure(resolve(catalogue, lab.options), lab.name))


SOURCES: dict[str, Callable[[Path | None, Lab], Resources]] = {
    "plan": plan_resources,
    "synth": synth_resources,
}
LABS = {lab.name: lab for lab in default_labs()}


def _edit(catalogue: Path, old: str, new: str) -> None:
    path = catalogue / "flows.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def _flow_rules(resources: Resources, flow_rules: set[str]) -> set[str]:
    return {a for a, attrs in resources.items() if set(attrs["__rules__"]) & flow_rules}


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("lab", sorted(LABS))
def test_adding_a_service_changes_only_that_flows_rules(
    catalogue_copy: Path, source: str, lab: str
) -> None:
    resources = SOURCES[source]
    before = resources(None, LABS[lab])
    _edit(catalogue_copy, CRM_SQL, CRM_SQL.replace("[ms-sql]", f"[ms-sql, {ADDED}]"))
    after = resources(catalogue_copy, LABS[lab])
    ruleset = resolve(load_catalogue(catalogue_copy), LABS[lab].options)
    flow_rules = {r.id for r in ruleset.rules if FLOW in r.flows}
    changes = compare(_strip(before), _strip(after))
    assert changes, "the edit must change something"
    touched = _flow_rules(after, flow_rules) | _flow_rules(before, flow_rules)
    for change in changes:
        assert change.address in touched, f"{change.address} changed but is not a {FLOW} rule"
        assert change.action in ("create", "update"), f"{change.address}: {change.action}"
    assert not [a for a in before if a not in after], "no resource may disappear (renamed)"
    priorities = {a: v["priority"] for a, v in before.items() if "priority" in v}
    assert all(after[a]["priority"] == p for a, p in priorities.items())
    created = {c.address for c in changes if c.action == "create"}
    assert any(ADDED in a and "aws_vpc_security_group_ingress_rule" in a for a in created)
    updated_azure = {c.address for c in changes if c.type == AZURE_INLINE_RULE}
    assert updated_azure, "the Azure rule of the flow carries the new port"


def _strip(resources: Resources) -> Resources:
    return {
        a: {k: v for k, v in attrs.items() if k != "__rules__"} for a, attrs in resources.items()
    }


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("lab", sorted(LABS))
def test_rewording_a_description_renames_nothing(
    catalogue_copy: Path, source: str, lab: str
) -> None:
    resources = SOURCES[source]
    before = _strip(resources(None, LABS[lab]))
    _edit(
        catalogue_copy,
        "title: SQL Server access from the CRM servers",
        "title: CRM servers query SQL",
    )
    after = _strip(resources(catalogue_copy, LABS[lab]))
    assert set(before) == set(after)
    changes = compare(before, after)
    assert changes
    for change in changes:
        assert change.action == "update" and change.attributes == ("description",), change
    assert all(before[a].get("priority") == after[a].get("priority") for a in before)
