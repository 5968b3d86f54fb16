"""CRM004: no inbound rule admits every protocol or every port.

Inbound only: the allow-all egress rule AWS stacks keep by default (`aws.egress:
allow-all`) is AWS's own default for a new security group, and a lab can opt into
`strict`; it is not an "all traffic" finding.

The catalogue's one all-ports requirement: Exchange 2013 is supported only with free
communication to its domain controllers ("Network ports for clients and mail flow in
Exchange 2013"). A rule carrying these flows and nothing else is accepted, its finding
shown as waived with the rule's citations; any other all-ports rule is still an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace

from crm_ports.lab.extra import is_extra
from crm_ports.net import Protocol
from crm_ports.policy.base import Check, Finding, Stack, Subject
from crm_ports.policy.reading import Span, inbound, rule_spans, span_text
from crm_ports.policy.registry import register
from crm_ports.ruleset import Rule, ports_text

UNRESTRICTED_FLOWS = frozenset({"exchange-directory", "directory-exchange"})
UNRESTRICTED_SERVICE = "all-traffic"


def accepted_unrestricted(rule: Rule) -> str | None:
    """The reason an all-ports rule is accepted (its citations), or None."""
    if rule.service != UNRESTRICTED_SERVICE or not set(rule.flows) <= UNRESTRICTED_FLOWS:
        return None
    if not rule.flows or is_extra(rule):
        return None
    return f"accepted, flow {', '.join(rule.flows)}: {'; '.join(rule.refs)}"


@register
class AllTrafficIngress(Check):
    id = "CRM004"
    title = "No inbound rule for all protocols or all ports (AWS's allow-all egress is exempt)"
    fix = "Name the services in the catalogue; a flow never needs every port."

    def on_rules(self, subject: Subject) -> Iterator[Finding]:
        for rule in subject.ruleset.rules:
            if subject.ruleset.group(rule.target).is_peer:
                continue  # outbound to a peer: not an inbound rule of ours
            if _admits_everything(rule):
                found = self.finding(
                    subject,
                    "rule set",
                    rule.id,
                    f"{ports_text(rule)} from {rule.source} to {rule.target} admits everything",
                    (rule.id,),
                )
                yield replace(found, waived=accepted_unrestricted(rule))

    def on_stack(self, subject: Subject, stack: Stack) -> Iterator[Finding]:
        by_id = {r.id: r for r in subject.ruleset.rules}
        for address, attributes, _, spans in inbound(stack):
            every_protocol = str(attributes.get("ip_protocol", attributes.get("protocol")))
            if every_protocol in ("-1", "*") or _every_port(spans):
                # the rules behind it, for a lab's waivers: an NSG rule carrying an
                # all-ports rule and the balancer's HTTP is the all-ports rule's finding.
                # The catalogue's acceptance stays stricter: every rule carried.
                carried = stack.rule_ids.get(address, ())
                ids = tuple(i for i in carried if i not in by_id or _admits_everything(by_id[i]))
                ids = ids or carried
                found = self.finding(
                    subject,
                    stack.name,
                    address,
                    f"protocol {every_protocol}, ports {span_text(spans) or 'none'}: "
                    "admits all traffic",
                    ids,
                )
                yield replace(found, waived=_accepted(by_id, carried))


def _accepted(by_id: Mapping[str, Rule], ids: tuple[str, ...]) -> str | None:
    """A stack resource is accepted when every rule it carries is."""
    reasons = [accepted_unrestricted(by_id[i]) if i in by_id else None for i in ids]
    if not reasons or any(r is None for r in reasons):
        return None
    return reasons[0] if len(set(reasons)) == 1 else "; ".join(sorted(set(map(str, reasons))))


def _every_port(spans: Iterable[Span]) -> bool:
    return any(a <= 1 and b == 65535 for a, b in spans)


def _admits_everything(rule: Rule) -> bool:
    return rule.protocol == Protocol.ALL or _every_port(rule_spans(rule))
