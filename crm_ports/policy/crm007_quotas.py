"""CRM007: each security group and NSG stays below its cloud's rule quota, with a warning
as it nears it, since an apply that crosses the quota fails halfway.

Without stacks the plans are counted (a plan refused for its quota is itself the
finding); with stacks, each stack's resources, one rule per for_each instance. A
synthesized folder's counts are reported together as "synthesized stacks", the
counterpart of "plan"; live counts (`audit`) under the stack they were read from.
"""

from __future__ import annotations

from collections.abc import Iterator

from crm_ports.errors import InputError
from crm_ports.plans.aws import RULES_PER_GROUP, plan_aws
from crm_ports.plans.azure import RULES_PER_NSG, plan_azure
from crm_ports.policy.base import WARNING, Check, Finding, QuotaRow, Stack, Subject
from crm_ports.policy.registry import register
from crm_ports.terraform.resources import (
    AWS_INGRESS_KINDS,
    AWS_RULE_KINDS,
    AZURE_INLINE_RULE,
    AZURE_RULE,
    holder_address,
    resource_type,
)

NEAR_QUOTA = 0.9  # warn once a group uses this share of its quota
SYNTHESIZED = "synthesized stacks"


def _plan_rows(subject: Subject) -> tuple[list[QuotaRow], list[str]]:
    """Quota rows from the plans; a plan refused for its quota gives the refusal instead."""
    rows: list[QuotaRow] = []
    refused: list[str] = []
    lab = subject.lab
    if "aws" in lab.clouds:
        try:
            plan = plan_aws(
                subject.ruleset,
                lab.name,
                egress=lab.aws.egress,
                origin=lab.origin,
                adopt=lab.adopt,
            )
        except InputError as exc:
            refused.append(exc.message)
        else:
            for (group, direction), used in sorted(plan.counts().items()):
                name = plan.security_group(group).name
                rows.append(QuotaRow(subject.name, "aws", name, direction, used, RULES_PER_GROUP))
    if "azure" in lab.clouds:
        try:
            azure = plan_azure(subject.ruleset, lab.name, origin=lab.origin, adopt=lab.adopt_azure)
        except InputError as exc:
            refused.append(exc.message)
        else:
            used = len(azure.rules)
            rows.append(QuotaRow(subject.name, "azure", azure.nsg_name, "all", used, RULES_PER_NSG))
    return rows, refused


def _stack_rows(lab: str, stack: Stack) -> list[QuotaRow]:
    """Quota rows counted in the stack's resources (one per for_each instance)."""
    counted: dict[tuple[str, str], int] = {}
    names = {  # a reference to a security group or NSG -> its name
        f"${{{address}.{attribute}}}": str(attributes["name"])
        for address, attributes in stack.resources.items()
        if "name" in attributes
        for attribute in ("id", "name")
    }
    for address, attributes in stack.resources.items():
        kind = resource_type(address)
        if kind in AWS_RULE_KINDS:  # standalone, or inline in an adopted group
            holder = str(attributes.get("security_group_id"))
            key = (names.get(holder, holder), "ingress" if kind in AWS_INGRESS_KINDS else "egress")
            counted[key] = counted.get(key, 0) + 1
        elif kind == AZURE_RULE:
            holder = str(attributes.get("network_security_group_name"))
            key = (names.get(holder, holder), "all")
            counted[key] = counted.get(key, 0) + 1
        elif kind == AZURE_INLINE_RULE:
            nsg = holder_address(address)
            key = (str(stack.resources.get(nsg, {}).get("name", nsg)), "all")
            counted[key] = counted.get(key, 0) + 1
    limit = RULES_PER_GROUP if stack.cloud == "aws" else RULES_PER_NSG
    return [
        QuotaRow(lab, stack.cloud, name, direction, used, limit)
        for (name, direction), used in sorted(counted.items())
    ]


def quota_rows(subject: Subject) -> tuple[list[QuotaRow], list[str]]:
    """The headroom table of `check`: the stacks' counts when given, else the plans'."""
    if subject.stacks:
        rows = [r for s in subject.stacks for r in _stack_rows(subject.name, s)]
        return rows, []
    return _plan_rows(subject)


@register
class Quotas(Check):
    id = "CRM007"
    title = (
        f"Each security group stays below AWS's {RULES_PER_GROUP} rules per direction, "
        f"each NSG below Azure's {RULES_PER_NSG} rules (warning from {NEAR_QUOTA:.0%})"
    )
    fix = "Narrow or merge peer CIDRs (AWS counts one rule per CIDR) or split the group."

    def on_rules(self, subject: Subject) -> Iterator[Finding]:
        if subject.stacks:
            return  # what is applied is counted: `on_stack`
        rows, refused = _plan_rows(subject)
        for message in refused:
            yield self.finding(subject, "plan", "quota", message)
        yield from self._judge(subject, "plan", rows)

    def on_stack(self, subject: Subject, stack: Stack) -> Iterator[Finding]:
        where = stack.name if stack.live else SYNTHESIZED
        yield from self._judge(subject, where, _stack_rows(subject.name, stack))

    def _judge(self, subject: Subject, where: str, rows: list[QuotaRow]) -> Iterator[Finding]:
        """Over the quota at the pack's severity; near it, a warning."""
        for row in rows:
            if row.used > row.limit or row.used >= row.limit * NEAR_QUOTA:
                yield self.finding(
                    subject,
                    where,
                    row.container,
                    f"{row.used} of {row.limit} {row.direction} rules used "
                    f"(headroom {row.headroom})",
                    severity=None if row.used > row.limit else WARNING,
                )
