"""CRM009: a lab-local rule (`extra_rules:`) cites no Microsoft document, only the lab's
reason, so each one is listed for a reviewer to weigh. A warning, not an error: the
reason may well hold."""

from __future__ import annotations

from collections.abc import Iterator

from crm_ports.lab.extra import is_extra
from crm_ports.policy.base import Check, Finding, Subject
from crm_ports.policy.registry import register
from crm_ports.ruleset import ports_text


@register
class LabLocalRule(Check):
    id = "CRM009"
    title = "Every lab-local rule (`extra_rules:`) is listed for review, with its reason"
    fix = "Keep it if the reason holds (waive CRM009 for that rule), or remove it from the lab."

    def on_rules(self, subject: Subject) -> Iterator[Finding]:
        for rule in subject.ruleset.rules:
            if is_extra(rule):
                yield self.finding(
                    subject,
                    "rule set",
                    rule.id,
                    f"lab-local {ports_text(rule)} from {rule.source} to {rule.target}, "
                    f"not in the catalogue; {'; '.join(rule.refs)}",
                    (rule.id,),
                )
