"""CRM011: every role a lab places on a host has a flow under the lab's options. AD FS on
a host of a lab with `auth: iwa` gets no AD FS rule at all, only RDP and what every
server gets: the placement says one thing and the rules another, and neither `validate`
nor a deploy would fail. A warning, since the rule set is what the options ask for."""

from __future__ import annotations

from collections.abc import Iterator

from crm_ports.policy.base import Check, Finding, Subject
from crm_ports.policy.registry import register


@register
class RoleWithoutFlow(Check):
    id = "CRM011"
    title = "Every role a lab places on a host has a flow under the lab's options"
    fix = "Set the options the role's flows need, or take the role off the host."

    def on_rules(self, subject: Subject) -> Iterator[Finding]:
        for idle in subject.ruleset.idle_roles:
            fix = (
                f"Set {idle.needs} for the role's flows, or take '{idle.role}' off host "
                f"'{idle.group}'."
                if idle.needs
                else f"Take '{idle.role}' off host '{idle.group}': no flow names it."
            )
            yield self.finding(
                subject, "options", f"role {idle.role} on {idle.group}", idle.message(), fix=fix
            )
