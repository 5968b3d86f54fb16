"""CRM008: an option the seeds advise against (users reaching SQL Server, for one) is
named for review. A warning: the seeds allow it, and a lab may have its reason."""

from __future__ import annotations

from collections.abc import Iterator

from crm_ports.policy.base import Check, Finding, Subject
from crm_ports.policy.registry import register


@register
class NotRecommended(Check):
    id = "CRM008"
    title = "No option the seeds mark as not recommended (e.g. users reaching SQL Server)"
    fix = "Turn the option off, or keep it and waive CRM008 with the reason."

    def on_rules(self, subject: Subject) -> Iterator[Finding]:
        for advisory in subject.ruleset.advisories:
            rules = tuple(r.id for r in subject.ruleset.rules if advisory.flow in r.flows)
            yield self.finding(subject, "options", advisory.flow, advisory.message, rules)
