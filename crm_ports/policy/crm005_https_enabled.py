"""CRM005: HTTPS is on. The seeds strongly recommend it; turning it off is a lab's choice a
reviewer should see, and waive with the reason."""

from __future__ import annotations

from collections.abc import Iterator

from crm_ports.policy.base import Check, Finding, Subject
from crm_ports.policy.registry import register


@register
class HttpsEnabled(Check):
    id = "CRM005"
    title = "HTTPS is enabled (the seeds strongly recommend it)"
    fix = "Remove `https: false` from the lab, or waive CRM005 with the reason."

    def on_rules(self, subject: Subject) -> Iterator[Finding]:
        if not subject.ruleset.options.https:
            yield self.finding(
                subject, "options", "https", "HTTPS is off: CRM traffic travels unencrypted"
            )
