"""The policy checks applied to what is live, not only to what is planned.

A rule opened by hand (RDP from 0.0.0.0/0) is drift, but above all it breaks a policy:
the audit says which, with the check's id and severity, and its exit status follows the
errors. The live rules are put into Terraform's attribute shape (the one the checks read
in a synthesized stack) and judged as a stack by the registry, like `check --synth`: the
checks with a verdict on stacks (CRM001-CRM004, CRM006, CRM007) are the ones live rules
can break. Checks about the lab's options or its change (CRM005 HTTPS, CRM008 advice,
CRM009, CRM010, CRM011) judge the plan; they are not repeated here.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_ports.lab.model import Lab
from crm_ports.plans.azure import plan_azure
from crm_ports.policy.base import Finding, Stack, Subject
from crm_ports.policy.reading import rule_tags
from crm_ports.policy.registry import run_checks
from crm_ports.ruleset import RuleSet
from crm_ports.terraform.resources import AZURE_RULE, Resources


@dataclass(frozen=True)
class PolicyScope:
    """What the live rules are judged against: the lab (its waivers) and its rule set
    (which peer a rule serves, the lab's sql_port)."""

    lab: Lab
    ruleset: RuleSet


def policy_findings(
    scope: PolicyScope, stack_name: str, cloud: str, resources: Resources
) -> tuple[Finding, ...]:
    """Every finding the live rules give, waivers applied, sorted. A live rule carries the
    ids of the planned rules it stands for: on AWS by its `crm-ports:rule` tag, on Azure
    by its name (NSG rules have no tags), so a finding knows a planned rule from one
    added by hand."""
    rule_ids = rule_tags(resources)
    if cloud == "azure":
        plan = plan_azure(
            scope.ruleset, scope.lab.name, origin=scope.lab.origin, adopt=scope.lab.adopt_azure
        )
        rule_ids.update({f"{AZURE_RULE}.{r.name}": r.rule_ids for r in plan.rules})
    stack = Stack(stack_name, cloud, resources, rule_ids, live=True)
    return run_checks([Subject(scope.lab, scope.ruleset, (stack,))], rule_set=False)
