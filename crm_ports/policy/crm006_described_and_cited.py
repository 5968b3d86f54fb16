"""CRM006: every rule says what it is for and where the requirement comes from, in the rule
set and on the resource a console shows, so a reviewer never meets an anonymous port."""

from __future__ import annotations

from collections.abc import Iterator

from crm_ports.policy.base import Check, Finding, Stack, Subject
from crm_ports.policy.registry import register
from crm_ports.terraform.resources import AWS_RULE_KINDS, AZURE_RULE_KINDS, resource_type


@register
class DescribedAndCited(Check):
    id = "CRM006"
    title = "Every rule has a description and cites its source (refs)"
    fix = "Give the flow and its services a title and `cites:` in the catalogue."

    def on_rules(self, subject: Subject) -> Iterator[Finding]:
        for rule in subject.ruleset.rules:
            missing = [
                n for n, v in (("description", rule.description), ("refs", rule.refs)) if not v
            ]
            if missing:
                yield self.finding(
                    subject,
                    "rule set",
                    rule.id,
                    f"rule has no {' and no '.join(missing)}",
                    (rule.id,),
                )

    def on_stack(self, subject: Subject, stack: Stack) -> Iterator[Finding]:
        for address, attributes in stack.resources.items():
            kind = resource_type(address)
            described = (*AWS_RULE_KINDS, *AZURE_RULE_KINDS)
            if kind in described and not attributes.get("description"):
                rules = stack.rule_ids.get(address, ())
                yield self.finding(
                    subject,
                    stack.name,
                    address,
                    "resource has no description",
                    rules,
                    fix=_live_fix(stack, rules) if stack.live else None,
                )


def _live_fix(stack: Stack, rules: tuple[str, ...]) -> str:
    """A rule read from the cloud is fixed in the cloud or in the lab, not the catalogue:
    one the plan holds lost its description there; one it does not hold was added by hand."""
    if rules:
        return (
            f"Deploy the lab again (npx cdktf deploy {stack.name}): its plan describes this "
            "rule, which the cloud lost."
        )
    return (
        "Remove the rule in the cloud (no plan of the lab holds it), or, if the lab needs "
        "it, add it to the lab file's `extra_rules:` with its reason and deploy."
    )
