"""CRM010: a change replaces no group that servers hold. Neither cloud deletes a security
group, ASG or NSG in use, so such an apply hangs or fails midway; it needs the lab as
deployed (`check --base`) to be seen at all."""

from __future__ import annotations

from collections.abc import Iterator

from crm_ports.policy.base import ERROR, Check, Finding, Subject
from crm_ports.policy.registry import register
from crm_ports.terraform.hazards import group_hazards
from crm_ports.terraform.impact import compare
from crm_ports.terraform.resources import lab_resources


@register
class GroupsKept(Check):
    id = "CRM010"
    title = (
        "A change replaces no security group, ASG or NSG that stays in the lab (servers hold "
        "them, and neither cloud deletes a group in use); needs --base"
    )
    fix = (
        "Keep the group's name (the host's name) and network as deployed; for a host that "
        "goes, stop or move its servers before the apply."
    )

    def on_rules(self, subject: Subject) -> Iterator[Finding]:
        if subject.base is None:
            return
        base_lab, base_rules = subject.base
        known = base_lab.network_known and subject.lab.network_known
        for cloud in ("aws", "azure"):
            changes = compare(
                lab_resources(base_lab, base_rules, cloud, network=known),
                lab_resources(subject.lab, subject.ruleset, cloud, network=known),
            )
            stack = subject.label or f"{cloud}-{subject.lab.name}"
            for hazard in group_hazards(cloud, stack, changes):
                # a group replaced while it stays takes the pack's severity; one deleted
                # with its host keeps the hazard's own, lower one
                severity = None if hazard.severity == ERROR else hazard.severity
                yield self.finding(
                    subject, hazard.stack, hazard.address, hazard.message, severity=severity
                )
