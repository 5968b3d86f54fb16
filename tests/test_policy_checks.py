"""The house checks that judge the rule set and each stack's resources, one at a time, on
rule sets and resources built to fail them.

The catalogue's own labs pass these checks (every rule is described and cited), so the
lab-file tests never see them fire: a check that stopped reporting, or that reported the
wrong rule, field or fix, would pass them. Each test here builds the one thing a check
must catch and pins the finding it gives.
"""

from __future__ import annotations

from dataclasses import replace

from crm_ports.catalogue.load import load_catalogue
from crm_ports.lab.model import AzureSettings, Lab
from crm_ports.options import Options
from crm_ports.policy.base import Finding, Stack, Subject
from crm_ports.policy.registry import run_checks
from crm_ports.resolver.engine import resolve
from crm_ports.ruleset import Advisory, IdleRole, RuleSet

INGRESS = "aws_vpc_security_group_ingress_rule"
AZURE_RULE = "azurerm_network_security_rule"


LAB = Lab(name="lab", options=Options())


def ruleset(options: Options | None = None) -> RuleSet:
    return resolve(load_catalogue(), options or Options())


def findings(check: str, subject: Subject, *, rule_set: bool = True) -> list[Finding]:
    return [f for f in run_checks([subject], rule_set=rule_set) if f.check == check]


def test_crm006_names_each_rule_without_description_or_refs() -> None:
    rules = ruleset()
    first, second, third, *rest = rules.rules
    edited = replace(
        rules,
        rules=(
            replace(first, description=""),
            replace(second, refs=()),
            replace(third, description="", refs=()),
            *rest,
        ),
    )
    found = findings("CRM006", Subject(LAB, edited))
    assert [(f.where, f.subject, f.message, f.rules) for f in found] == sorted(
        [
            ("rule set", first.id, "rule has no description", (first.id,)),
            ("rule set", second.id, "rule has no refs", (second.id,)),
            ("rule set", third.id, "rule has no description and no refs", (third.id,)),
        ],
        key=lambda t: t[1],
    )
    assert all(f.lab == "lab" and f.fix.startswith("Give the flow") for f in found)


def test_crm006_on_a_synthesized_stack_names_the_resource_and_its_rules() -> None:
    resources = {
        f"{INGRESS}.bare": {"description": ""},
        f"{INGRESS}.described": {"description": "SQL from the front end"},
        f'{AZURE_RULE}.nsg["no-text"]': {},
        "aws_security_group.group": {},
    }
    rule_ids: dict[str, tuple[str, ...]] = {f"{INGRESS}.bare": ("a.b.tcp.c",)}
    stack = Stack("aws-lab", "aws", resources, rule_ids)
    found = findings("CRM006", Subject(LAB, ruleset(), (stack,)), rule_set=False)
    assert [(f.where, f.subject, f.message, f.rules) for f in found] == [
        ("aws-lab", f"{INGRESS}.bare", "resource has no description", ("a.b.tcp.c",)),
        ("aws-lab", f'{AZURE_RULE}.nsg["no-text"]', "resource has no description", ()),
    ]
    # synthesized: the fix is the catalogue's, as for the rule set
    assert all(f.fix.startswith("Give the flow") for f in found)


def test_crm006_on_live_rules_says_how_to_fix_the_cloud() -> None:
    resources = {f"{INGRESS}.planned": {}, f"{INGRESS}.by-hand": {"description": None}}
    stack = Stack("aws-lab", "aws", resources, {f"{INGRESS}.planned": ("a.b.tcp.c",)}, live=True)
    found = {
        f.subject: f for f in findings("CRM006", Subject(LAB, ruleset(), (stack,)), rule_set=False)
    }
    assert found[f"{INGRESS}.planned"].fix == (
        "Deploy the lab again (npx cdktf deploy aws-lab): its plan describes this rule, "
        "which the cloud lost."
    )
    assert found[f"{INGRESS}.by-hand"].rules == ()
    assert found[f"{INGRESS}.by-hand"].fix == (
        "Remove the rule in the cloud (no plan of the lab holds it), or, if the lab needs "
        "it, add it to the lab file's `extra_rules:` with its reason and deploy."
    )


def test_crm005_names_the_https_option() -> None:
    off = Options(https=False)
    found = findings("CRM005", Subject(Lab(name="lab", options=off), ruleset(off)))
    assert [(f.where, f.subject, f.message) for f in found] == [
        ("options", "https", "HTTPS is off: CRM traffic travels unencrypted")
    ]
    assert findings("CRM005", Subject(LAB, ruleset())) == []


def test_crm011_says_which_option_a_role_needs_or_to_take_it_off() -> None:
    idle = (IdleRole("crm-1", "adfs", "auth=claims"), IdleRole("crm-1", "fax", ""))
    found = findings("CRM011", Subject(LAB, replace(ruleset(), idle_roles=idle)))
    assert [(f.where, f.subject, f.message, f.fix) for f in found] == [
        (
            "options",
            "role adfs on crm-1",
            idle[0].message(),
            "Set auth=claims for the role's flows, or take 'adfs' off host 'crm-1'.",
        ),
        (
            "options",
            "role fax on crm-1",
            idle[1].message(),
            "Take 'fax' off host 'crm-1': no flow names it.",
        ),
    ]


def test_crm009_lists_a_lab_local_rule_with_its_reason() -> None:
    rules = ruleset()
    catalogued = next(r for r in rules.rules if r.protocol.value == "tcp")
    local = replace(
        catalogued,
        id="crm-app.cidr-10-20-0-0-24.tcp.patch-proxy",
        flows=("extra:patch-proxy",),
        refs=("lab.yaml:13: extra_rules[0]: Windows Update through a proxy", "ticket 42"),
    )
    found = findings("CRM009", Subject(LAB, replace(rules, rules=(*rules.rules, local))))
    assert [(f.where, f.subject, f.message, f.rules) for f in found] == [
        (
            "rule set",
            local.id,
            f"lab-local TCP {local.ports} from {local.source} to {local.target}, not in the "
            "catalogue; lab.yaml:13: extra_rules[0]: Windows Update through a proxy; ticket 42",
            (local.id,),
        )
    ]


def test_crm008_names_the_advised_against_flow_and_only_its_rules() -> None:
    rules = ruleset()
    flow = rules.rules[0].flows[0]
    advised = replace(rules, advisories=(Advisory(flow, "the seeds advise against it"),))
    found = findings("CRM008", Subject(LAB, advised))
    assert [(f.where, f.subject, f.message, f.rules) for f in found] == [
        (
            "options",
            flow,
            "the seeds advise against it",
            tuple(r.id for r in rules.rules if flow in r.flows),
        )
    ]
    assert 0 < len(found[0].rules) < len(rules.rules)


def _crm010(base: Lab, head: Lab, label: str = "") -> list[tuple[str, str, str, str]]:
    catalogue = load_catalogue()
    subject = Subject(
        head,
        resolve(catalogue, head.options),
        base=(base, resolve(catalogue, base.options)),
        label=label,
    )
    return [
        (f.severity, f.where, f.subject, f.message.split(":")[0])
        for f in findings("CRM010", subject)
    ]


def test_crm010_grades_a_replaced_group_an_error_and_a_deleted_one_a_warning() -> None:
    """Exchange leaves the lab (its groups are deleted with it: a warning) while the Azure
    location moves (every other ASG, the NSG and the subnet are replaced: errors)."""
    base = Lab("lab", Options(exchange_in_lab=True))
    head = Lab("lab", Options(), azure=AzureSettings(location="northeurope"))
    found = _crm010(base, head)
    assert (
        "warning",
        "aws-lab",
        "aws_security_group.sg_exchange",
        "deletes security group lab-exchange",
    ) in found
    assert (
        "warning",
        "azure-lab",
        "azurerm_application_security_group.asg_exchange",
        "deletes application security group lab-exchange-asg",
    ) in found
    assert (
        "error",
        "azure-lab",
        "azurerm_network_security_group.nsg",
        "replaces network security group lab-nsg (forced by location)",
    ) in found
    assert (
        "error",
        "azure-lab",
        "azurerm_subnet.lab[0]",
        "replaces subnet crm (forced by virtual_network_name)",
    ) in found
    assert {severity for severity, _, address, _ in found if "exchange" not in address} == {"error"}
    assert _crm010(base, base) == []
    assert _crm010(head, head) == []


def test_crm010_leaves_the_network_out_when_the_base_did_not_record_it() -> None:
    """A base read back from an older folder does not say where its network was, so the
    location's replacements are not claimed; the stack is named by the subject's label."""
    base = replace(Lab("lab", Options(exchange_in_lab=True)), network_known=False)
    head = Lab("lab", Options(), azure=AzureSettings(location="northeurope"))
    assert _crm010(base, head, label="app/lab") == [
        (
            "warning",
            "app/lab",
            "aws_security_group.sg_exchange",
            "deletes security group lab-exchange",
        ),
        (
            "warning",
            "app/lab",
            "azurerm_application_security_group.asg_exchange",
            "deletes application security group lab-exchange-asg",
        ),
    ]
