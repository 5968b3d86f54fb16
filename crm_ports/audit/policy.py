"""The policy checks applied to what is live, not only to what is planned.

A rule opened by hand (RDP from 0.0.0.0/0) is drift, but above all it breaks a policy:
the audit says which, with the check's id and severity, and its exit status follows the
errors. The live rules are put into Terraform's attribute shape (the one the checks read
in a synthesized stack), so each check keeps one implementation for both. Checks about
the lab's options (CRM005 HTTPS, CRM008 advice) judge the plan; live rules cannot break
them, so they are not repeated here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from crm_ports.lab.model import Lab
from crm_ports.policy.checks import (
    REGISTRY,
    Finding,
    Quotas,
    Stack,
    Subject,
    rule_tags,
    waive,
)
from crm_ports.ruleset import RuleSet
from crm_ports.terraform.resources import (
    Resources,
)


@dataclass(frozen=True)
class PolicyScope:
    """What the live rules are judged against: the lab (its waivers) and its rule set
    (which peer a rule serves, the lab's sql_port)."""

    lab: Lab
    ruleset: RuleSet


def policy_findings(
    scope: PolicyScope, stack_name: str, cloud: str, resources: Resources
) -> tuple[Finding, ...]:
    """Every finding the live rules give (CRM001-CRM004, CRM006, CRM007), waivers applied,
    sorted."""
    stack = Stack(stack_name, cloud, resources, rule_tags(resources))
    subject = Subject(scope.lab, scope.ruleset, (stack,))
    found: list[Finding] = []
    for check in REGISTRY.values():
        found.extend(check.on_stack(subject, stack))
        if isinstance(check, Quotas):  # counted in the stack's (live) resources
            found.extend(replace(f, where=stack_name) for f in check.on_rules(subject))
    return tuple(sorted({waive(f, scope.lab) for f in found}, key=Finding.sort_key))
