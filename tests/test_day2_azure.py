"""Day-2 changes on the Azure stacks: the edits a deployed lab goes through keep every
ASG's and the NSG's ForceNew attributes, never give two rules one priority, and write the
NSG's rules in one request (inline); and a lab deployed by the previous version (its
synthesized JSON is stored in tests/fixtures/upgrade/) upgrades without losing a rule.

No azurerm provider binary is reachable here, so these are judged on the synthesized JSON
(the attributes azurerm marks ForceNew are listed in `crm_ports.terraform.impact`), and the
`removed` blocks by Terraform itself, with its built-in `terraform_data` resources
standing in for the rule resources of the old state.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from crm_ports.catalogue.load import load_catalogue
from crm_ports.lab.file import load_lab
from crm_ports.plans.azure import plan_azure
from crm_ports.resolver.engine import resolve_lab
from crm_ports.terraform.impact import FORCE_NEW
from tests.stacks import synth_stack
from tests.tf_harness import require_tool

UPGRADE = Path(__file__).parent / "fixtures" / "upgrade"
ASG = "azurerm_application_security_group"
NSG = "azurerm_network_security_group"
RULE = "azurerm_network_security_rule"

START = """\
name: day2
clouds: [azure]
topology:
  hosts:
    - {name: fe, roles: [web-application, load-balancer, sandbox-processing]}
    - {name: be, roles: [asynchronous-service, deployment-web-service, email-router]}
    - {name: db, roles: [sql-server, reporting-services]}
    - {name: dc, roles: [domain-controller]}
"""
ADFS = "    - {name: adfs, roles: [adfs]}\n"
DC2 = "    - {name: dc2, roles: [domain-controller]}\n"
OPTIONS = "options: {auth: claims, web_port: 5555, sql_port: 1533}\n"
RANGES = "client_cidrs: [10.110.0.0/16, 192.168.50.0/24]\nadmin_cidrs: [10.210.4.0/24]\n"
EXTRA = """\
extra_rules:
  - {from: administrators, to: db, protocol: tcp, ports: 1433, name: ssms,
     reason: DBAs query the CRM databases from SQL Server Management Studio}
"""
# The edits of the day-2 sequence, each the whole lab file after it.
STEPS: dict[str, str] = {
    "start": START,
    "adfs host": START + ADFS + "options: {auth: claims}\n",
    "second dc": START + ADFS + DC2 + "options: {auth: claims}\n",
    "options and ranges": START + ADFS + DC2 + OPTIONS + RANGES,
    "cloud balancer": START + ADFS + DC2 + OPTIONS.replace("}", ", load_balancer: cloud}") + RANGES,
    "lab-local rule": START
    + ADFS
    + DC2
    + OPTIONS.replace("}", ", load_balancer: cloud}")
    + RANGES
    + EXTRA,
    "host removed": START + ADFS + OPTIONS.replace("}", ", load_balancer: cloud}") + RANGES + EXTRA,
}


def _stack(tmp_path: Path, name: str, text: str) -> dict[str, Any]:
    path = tmp_path / f"{name.replace(' ', '-')}.yaml"
    path.write_text(text, encoding="utf-8")
    return synth_stack(load_lab(path), "azure")


def _force_new(stack: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        key: {a: body.get(a) for a in sorted(FORCE_NEW[kind])}
        for key, body in stack["resource"].get(kind, {}).items()
    }


def _inline(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rules = stack["resource"][NSG]["nsg"]["security_rule"]
    named = {rule["name"]: rule for rule in rules}
    assert len(named) == len(rules), "two inline rules share a name"
    return named


@pytest.mark.slow
@pytest.mark.flavoured
def test_each_edit_keeps_the_groups_and_writes_the_rules_in_one_request(tmp_path: Path) -> None:
    previous: dict[str, Any] | None = None
    for step, text in STEPS.items():
        stack = _stack(tmp_path, step, text)
        assert RULE not in stack["resource"], f"{step}: rules outside the NSG's one update"
        rules = _inline(stack)
        priorities = [(r["direction"], r["priority"]) for r in rules.values()]
        assert len(priorities) == len(set(priorities)), f"{step}: two rules at one priority"
        assert all(100 <= p <= 4096 for _, p in priorities)
        if previous is not None:
            for kind in (ASG, NSG):
                before, after = _force_new(previous, kind), _force_new(stack, kind)
                kept = set(before) & set(after)
                assert {k: before[k] for k in kept} == {k: after[k] for k in kept}, (
                    f"{step}: a kept {kind} would be replaced"
                )
            assert _force_new(previous, NSG).keys() == _force_new(stack, NSG).keys()
        previous = stack


def _colliding_second_dc(folder: Path) -> tuple[str, str, int, int]:
    """A second domain controller's name whose new rules take the priority slot of a rule
    the lab already has (the newcomer sorts first): the edit that one lab in eight to one
    in three meets. Returns (host, moved rule, old priority, new priority)."""
    catalogue = load_catalogue()
    base_lab = load_lab(UPGRADE / "azure-day2.yaml")
    base = {r.name: r.priority for r in plan_azure(resolve_lab(catalogue, base_lab), "day2").rules}
    text = (UPGRADE / "azure-day2.yaml").read_text(encoding="utf-8")
    for index in range(2, 400):
        host = f"dc-{index}"
        path = folder / f"{host}.yaml"
        path.write_text(text + f"    - {{name: {host}, roles: [domain-controller]}}\n", "utf-8")
        plan = plan_azure(resolve_lab(catalogue, load_lab(path)), "day2")
        for rule in plan.rules:
            if rule.name in base and base[rule.name] != rule.priority:
                return host, rule.name, base[rule.name], rule.priority
    raise AssertionError("no colliding host name among dc-2 .. dc-399")


@pytest.mark.slow
@pytest.mark.flavoured
def test_a_priority_handed_over_moves_inside_the_nsgs_one_update(tmp_path: Path) -> None:
    """Priorities hash the rule's name, so a new rule can take an existing rule's slot and
    move that rule. As separate resources, Azure would refuse the new rule while the old
    one still held the slot; inline, the NSG's new set is judged whole."""
    host, moved, old, new = _colliding_second_dc(tmp_path)
    assert old != new
    text = (UPGRADE / "azure-day2.yaml").read_text(encoding="utf-8")
    before = _inline(_stack(tmp_path, "before", text))
    after = _inline(
        _stack(tmp_path, "after", text + f"    - {{name: {host}, roles: [domain-controller]}}\n")
    )
    assert before[moved]["priority"] == old and after[moved]["priority"] == new
    taker = next(r for r in after.values() if r["priority"] == old)
    assert taker["name"] not in before, "the slot goes to a rule the edit adds"
    assert len({r["priority"] for r in after.values()}) == len(after)


# -- upgrading from the previous version ---------------------------------------------------


def _previous() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (UPGRADE / "azure-day2.previous.cdk.tf.json").read_text(encoding="utf-8")
    )
    return document


def _comparable(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule's own attributes, whether written as a resource or inline (nulls unset)."""
    skip = {"//", "provider", "resource_group_name", "network_security_group_name"}
    return {k: v for k, v in rule.items() if v is not None and k not in skip}


@pytest.mark.slow
@pytest.mark.flavoured
def test_upgrade_keeps_the_groups_and_takes_the_rules_over_in_place() -> None:
    old = _previous()
    new = synth_stack(load_lab(UPGRADE / "azure-day2.yaml"), "azure")
    for kind in (ASG, NSG):
        assert _force_new(old, kind) == _force_new(new, kind), f"a {kind} would be replaced"
    old_rules = old["resource"][RULE]
    inline = _inline(new)
    # The NSG's one update writes exactly what the old rule resources hold ...
    assert {r["name"]: _comparable(r) for r in old_rules.values()} == {
        name: _comparable(rule) for name, rule in inline.items()
    }
    # ... and Terraform forgets those resources instead of destroying them afterwards.
    removed = {block["from"]: block["lifecycle"] for block in new["removed"]}
    assert removed == {f"{RULE}.{key}": {"destroy": False} for key in old_rules}


@pytest.mark.slow
def test_terraform_forgets_the_old_rule_resources_instead_of_destroying_them(
    tmp_path: Path,
) -> None:
    """The stack's own `removed` blocks, read by Terraform: against a state holding the old
    rule resources, the plan destroys nothing. `terraform_data` stands in for the rule
    resources (no azurerm provider is reachable); Terraform core handles `removed` alike
    for every resource type."""
    terraform = str(require_tool("terraform", "reads the stack's removed blocks"))
    new = synth_stack(load_lab(UPGRADE / "azure-day2.yaml"), "azure")
    stand_in = "terraform_data"
    keys = [block["from"].split(".", 1)[1] for block in new["removed"]]
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}
    env.pop("TF_CLI_CONFIG_FILE", None)
    old = {"resource": {stand_in: {key: {"input": key} for key in keys}}}
    (tmp_path / "main.tf.json").write_text(json.dumps(old), encoding="utf-8")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [terraform, *args, "-no-color"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    run("init")
    run("apply", "-auto-approve")
    blocks = [
        {**block, "from": f"{stand_in}.{block['from'].split('.', 1)[1]}"}
        for block in new["removed"]
    ]
    (tmp_path / "main.tf.json").write_text(json.dumps({"removed": blocks}), encoding="utf-8")
    run("validate")
    run("plan", "-out=tfplan")
    plan = json.loads(run("show", "-json", "tfplan").stdout)
    actions = {c["address"]: c["change"]["actions"] for c in plan["resource_changes"]}
    assert len(actions) == len(keys)
    assert set(map(tuple, actions.values())) == {("forget",)}, actions
