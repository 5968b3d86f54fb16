"""The base of CRM001-CRM003: an internet-wide source reaching a guarded port family.
The three differ only in the ports they guard (checkov's parametrised port check), so
the reading of rules and resources, the messages and the fix naming the option that
holds the offending range are written once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from crm_ports.net import internet_wide
from crm_ports.options import Options
from crm_ports.policy.base import Check, Finding, Stack, Subject
from crm_ports.policy.reading import Span, inbound, overlaps, rule_spans, span_text
from crm_ports.ruleset import ports_text


class InternetWide(Check):
    family: ClassVar[str]
    guarded: ClassVar[tuple[Span, ...]]

    def ports(self, options: Options) -> tuple[Span, ...]:
        return self.guarded

    def option_fix(self, subject: Subject, peer: str, wide: list[str]) -> str | None:
        """The fix naming the option that holds the offending range, so a finding on the
        clients' range never tells the reader to set admin_cidrs."""
        group = next((g for g in subject.ruleset.groups if g.name == peer), None)
        if group is None or group.cidr_option is None:
            return None
        flag = "--" + group.cidr_option.replace("_", "-")[:-1]
        return (
            f"Remove {', '.join(wide)} from {group.cidr_option} (lab file key, or {flag}) and "
            f"list only the ranges of {peer}."
        )

    def on_rules(self, subject: Subject) -> Iterator[Finding]:
        guarded = self.ports(subject.ruleset.options)
        for rule in subject.ruleset.rules:
            source = subject.ruleset.group(rule.source)
            wide = [c for c in source.cidrs if internet_wide(c)] if source.is_peer else []
            hit = overlaps(rule_spans(rule), guarded)
            if wide and hit:
                where = f" in {source.cidr_option}" if source.cidr_option else ""
                yield self.finding(
                    subject,
                    "rule set",
                    rule.id,
                    f"{ports_text(rule)} from {rule.source} ({', '.join(wide)}{where}) to "
                    f"{rule.target} opens {self.family} port(s) {span_text(hit)} to the internet",
                    (rule.id,),
                    fix=self.option_fix(subject, rule.source, wide),
                )

    def on_stack(self, subject: Subject, stack: Stack) -> Iterator[Finding]:
        guarded = self.ports(subject.ruleset.options)
        by_id = {r.id: r for r in subject.ruleset.rules}
        for address, _, sources, spans in inbound(stack):
            wide = [s for s in sources if internet_wide(s)]
            hit = overlaps(spans, guarded)
            if wide and hit:
                # only the rules behind the hit: an NSG rule carrying HTTP and RDP is an
                # RDP finding, which a waiver of the RDP rule alone covers
                rule_ids = tuple(
                    r
                    for r in stack.rule_ids.get(address, ())
                    if r not in by_id or overlaps(rule_spans(by_id[r]), hit)
                )
                peers = sorted({by_id[r].source for r in rule_ids if r in by_id})
                yield self.finding(
                    subject,
                    stack.name,
                    address,
                    f"source {', '.join(wide)} reaches {self.family} port(s) {span_text(hit)}",
                    rule_ids,
                    fix=self.option_fix(subject, peers[0], wide) if len(peers) == 1 else None,
                )
