"""Policy checks, one small class per check id, in a registry (the checkov layout).

Each check looks at a lab's rule set (what the catalogue and options decided) and, when a
synthesized folder is given, at the stack's resources as written in `cdk.tf.json` (what
Terraform would actually apply), so a hand edit or a construct bug cannot slip past a
check that only trusted the rule set.

Deliberate choices:
- The allow-all egress rule AWS stacks keep by default (`aws.egress: allow-all`) is not
  an "all traffic" finding: outbound allow-all is AWS's own default for a new security
  group and the lab can opt into `strict`. CRM004 looks at inbound rules only.
- Azure's explicit deny-all rule uses `*` for source and ports; deny rules are never
  findings.
- Database ports include the lab's own `sql_port`, so a SQL Server moved to 1533 is
  still guarded.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from crm_ports.errors import InputError
from crm_ports.lab.extra import is_extra
from crm_ports.lab.model import Lab
from crm_ports.net import Protocol, internet_wide
from crm_ports.options import Options
from crm_ports.plans.aws import RULES_PER_GROUP, plan_aws
from crm_ports.plans.azure import RULES_PER_NSG, plan_azure
from crm_ports.plans.text import TAG_PREFIX
from crm_ports.ruleset import Rule, RuleSet, ports_text
from crm_ports.terraform.hazards import group_hazards
from crm_ports.terraform.impact import compare
from crm_ports.terraform.resources import (
    AWS_EGRESS,
    AWS_INGRESS,
    AZURE_INLINE_RULE,
    AZURE_RULE,
    AZURE_RULE_KINDS,
    Resources,
    holder_address,
    lab_resources,
    resource_type,
)

ERROR = "error"
WARNING = "warning"
NEAR_QUOTA = 0.9  # warn once a group uses this share of its quota
ALL_PORTS = (0, 65535)

Span = tuple[int, int]


@dataclass(frozen=True)
class Stack:
    """One synthesized stack as the checks see it."""

    name: str  # `<cloud>-<lab>`
    cloud: str
    resources: Resources
    rule_ids: dict[str, tuple[str, ...]]  # resource address -> rule ids it carries


@dataclass(frozen=True)
class Subject:
    """One lab to check: its rule set, its synthesized stacks when given, and the lab as
    it was at a base state (`check --base`) when the lab existed there."""

    lab: Lab
    ruleset: RuleSet
    stacks: tuple[Stack, ...] = ()
    base: tuple[Lab, RuleSet] | None = None


@dataclass(frozen=True)
class Finding:
    check: str
    severity: str
    lab: str
    where: str  # "rule set", "options", or the stack name
    subject: str  # rule id, option, resource address or group
    message: str
    fix: str
    rules: tuple[str, ...] = ()  # rule ids a waiver may name
    waived: str | None = None  # the waiver's reason

    @property
    def blocking(self) -> bool:
        return self.severity == ERROR and self.waived is None

    def sort_key(self) -> tuple[str, ...]:
        """Total order: two findings on one subject (ingress and egress of a group) still
        sort the same way whatever the hash seed."""
        return (
            self.lab,
            self.check,
            self.where,
            self.subject,
            self.severity,
            self.message,
            self.waived or "",
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "check": self.check,
            "severity": self.severity,
            "lab": self.lab,
            "where": self.where,
            "subject": self.subject,
            "message": self.message,
            "fix": self.fix,
        }
        if self.waived is not None:
            out["waived"] = self.waived
        return out


@dataclass(frozen=True)
class QuotaRow:
    lab: str
    cloud: str
    container: str  # security group or NSG name
    direction: str
    used: int
    limit: int

    @property
    def headroom(self) -> int:
        return self.limit - self.used

    def to_json(self) -> dict[str, Any]:
        return {
            "lab": self.lab,
            "cloud": self.cloud,
            "container": self.container,
            "direction": self.direction,
            "used": self.used,
            "limit": self.limit,
            "headroom": self.headroom,
        }


class Check(ABC):
    """A policy: `on_rules` judges the rule set, `on_stack` the synthesized resources."""

    id: ClassVar[str]
    severity: ClassVar[str] = ERROR
    title: ClassVar[str]
    fix: ClassVar[str]

    def on_rules(self, subject: Subject) -> Iterator[Finding]:
        return iter(())

    def on_stack(self, subject: Subject, stack: Stack) -> Iterator[Finding]:
        return iter(())

    def finding(
        self,
        subject: Subject,
        where: str,
        about: str,
        message: str,
        rules: tuple[str, ...] = (),
        severity: str | None = None,
        fix: str | None = None,
    ) -> Finding:
        return Finding(
            self.id,
            severity or self.severity,
            subject.lab.name,
            where,
            about,
            message,
            fix or self.fix,
            rules,
        )


REGISTRY: dict[str, Check] = {}


def register(cls: type[Check]) -> type[Check]:
    if cls.id in REGISTRY:
        raise ValueError(f"check id {cls.id} registered twice")
    REGISTRY[cls.id] = cls()
    return cls


# -- reading ports and sources off rules and resources -----------------------------------


def _overlaps(spans: Iterable[Span], guarded: Iterable[Span]) -> list[Span]:
    return sorted({g for s in spans for g in guarded if s[0] <= g[1] and g[0] <= s[1]})


def _rule_spans(rule: Rule) -> list[Span]:
    if rule.protocol == Protocol.ALL:
        return [ALL_PORTS]
    if rule.protocol in (Protocol.ICMP, Protocol.ESP):
        return []
    return [(rule.ports.start, rule.ports.end)]


def _aws_spans(attributes: dict[str, Any]) -> list[Span]:
    protocol = str(attributes.get("ip_protocol", "")).lower()
    if protocol in ("-1", "all"):
        return [ALL_PORTS]
    if protocol in ("icmp", "1", "icmpv6", "58", "esp", "50"):
        return []
    low, high = attributes.get("from_port"), attributes.get("to_port")
    if not isinstance(low, int) or not isinstance(high, int) or low < 0:
        return [ALL_PORTS]
    return [(low, high)]


def _azure_spans(attributes: dict[str, Any]) -> list[Span]:
    if str(attributes.get("protocol", "")).lower() in ("icmp", "esp"):
        return []
    texts = list(attributes.get("destination_port_ranges") or ())
    if attributes.get("destination_port_range") is not None:
        texts.append(attributes["destination_port_range"])
    spans = []
    for text in texts:
        if str(text).strip() == "*":
            return [ALL_PORTS]
        low, _, high = str(text).partition("-")
        try:
            spans.append((int(low), int(high or low)))
        except ValueError:  # a hand-edited value we cannot read: judge it as every port
            return [ALL_PORTS]
    return spans


def _aws_sources(attributes: dict[str, Any]) -> list[str]:
    return [str(attributes[k]) for k in ("cidr_ipv4", "cidr_ipv6") if attributes.get(k)]


def _azure_sources(attributes: dict[str, Any]) -> list[str]:
    prefixes = list(attributes.get("source_address_prefixes") or ())
    if attributes.get("source_address_prefix") is not None:
        prefixes.append(attributes["source_address_prefix"])
    return [str(p) for p in prefixes]


def _azure_allows_inbound(attributes: dict[str, Any]) -> bool:
    allow = str(attributes.get("access", "")).lower() == "allow"
    return allow and str(attributes.get("direction", "")).lower() == "inbound"


def _inbound(stack: Stack) -> Iterator[tuple[str, dict[str, Any], list[str], list[Span]]]:
    """(address, attributes, sources, port spans) of every rule that admits traffic."""
    for address, attributes in stack.resources.items():
        kind = resource_type(address)
        if kind == AWS_INGRESS:
            yield address, attributes, _aws_sources(attributes), _aws_spans(attributes)
        elif kind in AZURE_RULE_KINDS and _azure_allows_inbound(attributes):
            yield address, attributes, _azure_sources(attributes), _azure_spans(attributes)


def _span_text(spans: list[Span]) -> str:
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


# -- CRM001-CRM003: internet-wide sources on sensitive ports -----------------------------


class InternetWide(Check):
    """Shared by the three port families: only `ports` differs (checkov's port base)."""

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
            hit = _overlaps(_rule_spans(rule), guarded)
            if wide and hit:
                where = f" in {source.cidr_option}" if source.cidr_option else ""
                yield self.finding(
                    subject,
                    "rule set",
                    rule.id,
                    f"{ports_text(rule)} from {rule.source} ({', '.join(wide)}{where}) to "
                    f"{rule.target} opens {self.family} port(s) {_span_text(hit)} to the internet",
                    (rule.id,),
                    fix=self.option_fix(subject, rule.source, wide),
                )

    def on_stack(self, subject: Subject, stack: Stack) -> Iterator[Finding]:
        guarded = self.ports(subject.ruleset.options)
        sources_of = {r.id: r.source for r in subject.ruleset.rules}
        for address, _, sources, spans in _inbound(stack):
            wide = [s for s in sources if internet_wide(s)]
            hit = _overlaps(spans, guarded)
            if wide and hit:
                rule_ids = stack.rule_ids.get(address, ())
                peers = sorted({sources_of[r] for r in rule_ids if r in sources_of})
                yield self.finding(
                    subject,
                    stack.name,
                    address,
                    f"source {', '.join(wide)} reaches {self.family} port(s) {_span_text(hit)}",
                    rule_ids,
                    fix=self.option_fix(subject, peers[0], wide) if len(peers) == 1 else None,
                )


@register
class InternetAdminPorts(InternetWide):
    id = "CRM001"
    family = "administrative"
    guarded = ((3389, 3389), (5985, 5986), (135, 135), (139, 139), (445, 445))
    title = "No internet-wide source (0.0.0.0/0, ::/0, *, Internet) on RDP, WinRM, RPC or SMB"
    fix = "Set admin_cidrs (or the peer's CIDR option) to the administrators' own ranges."


@register
class InternetDirectoryPorts(InternetWide):
    id = "CRM002"
    family = "directory"
    guarded = ((88, 88), (389, 389), (636, 636), (3268, 3269))
    title = "No internet-wide source on Kerberos, LDAP, LDAPS or Global Catalog"
    fix = "Set client_cidrs to the users' ranges; publish AD FS, never the domain controller."


@register
class InternetDatabasePorts(InternetWide):
    id = "CRM003"
    family = "database"
    guarded = ((1433, 1434),)
    title = "No internet-wide source on SQL Server (1433, 1434 and the lab's sql_port)"
    fix = "Keep SQL Server reachable from the CRM servers only; narrow the peer's CIDRs."

    def ports(self, options: Options) -> tuple[Span, ...]:
        return (*self.guarded, (options.sql_port, options.sql_port))


# -- CRM004: all protocols or all ports ---------------------------------------------------

# The catalogue's one all-ports requirement: Exchange 2013 is supported only with free
# communication to its domain controllers ("Network ports for clients and mail flow in
# Exchange 2013"). A rule carrying these flows and nothing else is accepted, its finding
# shown as waived with the rule's citations; any other all-ports rule is still an error.
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
            spans = _rule_spans(rule)
            if rule.protocol == Protocol.ALL or any(a <= 1 and b == 65535 for a, b in spans):
                found = self.finding(
                    subject,
                    "rule set",
                    rule.id,
                    f"{ports_text(rule)} from {rule.source} to {rule.target} admits everything",
                    (rule.id,),
                )
                yield replace(found, waived=accepted_unrestricted(rule))

    def on_stack(self, subject: Subject, stack: Stack) -> Iterator[Finding]:
        for address, attributes, _, spans in _inbound(stack):
            every_protocol = str(attributes.get("ip_protocol", attributes.get("protocol")))
            if every_protocol in ("-1", "*") or any(a <= 1 and b == 65535 for a, b in spans):
                ids = stack.rule_ids.get(address, ())
                found = self.finding(
                    subject,
                    stack.name,
                    address,
                    f"protocol {every_protocol}, ports {_span_text(spans) or 'none'}: "
                    "admits all traffic",
                    ids,
                )
                yield replace(found, waived=self._accepted(subject, ids))

    @staticmethod
    def _accepted(subject: Subject, ids: tuple[str, ...]) -> str | None:
        """A stack resource is accepted when every rule it carries is."""
        by_id = {r.id: r for r in subject.ruleset.rules}
        reasons = [accepted_unrestricted(by_id[i]) if i in by_id else None for i in ids]
        if not reasons or any(r is None for r in reasons):
            return None
        return reasons[0] if len(set(reasons)) == 1 else "; ".join(sorted(set(map(str, reasons))))


# -- CRM005: HTTPS ------------------------------------------------------------------------


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


# -- CRM006: described and cited ----------------------------------------------------------


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
            described = (AWS_INGRESS, AWS_EGRESS, *AZURE_RULE_KINDS)
            if kind in described and not attributes.get("description"):
                yield self.finding(
                    subject,
                    stack.name,
                    address,
                    "resource has no description",
                    stack.rule_ids.get(address, ()),
                )


# -- CRM007: quotas -----------------------------------------------------------------------


def _plan_rows(subject: Subject) -> tuple[list[QuotaRow], list[str]]:
    """Quota rows from the plans; a plan refused for its quota gives the refusal instead."""
    rows: list[QuotaRow] = []
    refused: list[str] = []
    lab = subject.lab
    if "aws" in lab.clouds:
        try:
            plan = plan_aws(subject.ruleset, lab.name, egress=lab.aws.egress, origin=lab.origin)
        except InputError as exc:
            refused.append(exc.message)
        else:
            for (group, direction), used in sorted(plan.counts().items()):
                name = plan.security_group(group).name
                rows.append(QuotaRow(lab.name, "aws", name, direction, used, RULES_PER_GROUP))
    if "azure" in lab.clouds:
        try:
            azure = plan_azure(subject.ruleset, lab.name, origin=lab.origin)
        except InputError as exc:
            refused.append(exc.message)
        else:
            used = len(azure.rules)
            rows.append(QuotaRow(lab.name, "azure", azure.nsg_name, "all", used, RULES_PER_NSG))
    return rows, refused


def _stack_rows(lab: str, stack: Stack) -> list[QuotaRow]:
    """Quota rows counted in the synthesized resources (one per for_each instance)."""
    counted: dict[tuple[str, str], int] = {}
    names = {  # a reference to a security group or NSG -> its name
        f"${{{address}.{attribute}}}": str(attributes["name"])
        for address, attributes in stack.resources.items()
        if "name" in attributes
        for attribute in ("id", "name")
    }
    for address, attributes in stack.resources.items():
        kind = resource_type(address)
        if kind in (AWS_INGRESS, AWS_EGRESS):
            holder = str(attributes.get("security_group_id"))
            key = (names.get(holder, holder), "ingress" if kind == AWS_INGRESS else "egress")
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
    if subject.stacks:
        rows = [r for s in subject.stacks for r in _stack_rows(subject.lab.name, s)]
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
        rows, refused = quota_rows(subject)
        where = "synthesized stacks" if subject.stacks else "plan"
        for message in refused:
            yield self.finding(subject, where, "quota", message)
        for row in rows:
            if row.used > row.limit or row.used >= row.limit * NEAR_QUOTA:
                yield self.finding(
                    subject,
                    where,
                    row.container,
                    f"{row.used} of {row.limit} {row.direction} rules used "
                    f"(headroom {row.headroom})",
                    severity=ERROR if row.used > row.limit else WARNING,
                )


# -- CRM008: options the seeds advise against ---------------------------------------------


@register
class NotRecommended(Check):
    id = "CRM008"
    severity = WARNING
    title = "No option the seeds mark as not recommended (e.g. users reaching SQL Server)"
    fix = "Turn the option off, or keep it and waive CRM008 with the reason."

    def on_rules(self, subject: Subject) -> Iterator[Finding]:
        for advisory in subject.ruleset.advisories:
            rules = tuple(r.id for r in subject.ruleset.rules if advisory.flow in r.flows)
            yield self.finding(subject, "options", advisory.flow, advisory.message, rules)


# -- CRM009: lab-local rules --------------------------------------------------------------


@register
class LabLocalRule(Check):
    id = "CRM009"
    severity = WARNING
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


# -- CRM010: groups servers hold ----------------------------------------------------------


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
        for cloud in ("aws", "azure"):
            changes = compare(
                lab_resources(base_lab, base_rules, cloud),
                lab_resources(subject.lab, subject.ruleset, cloud),
            )
            for hazard in group_hazards(cloud, f"{cloud}-{subject.lab.name}", changes):
                yield self.finding(
                    subject, hazard.stack, hazard.address, hazard.message, severity=hazard.severity
                )


# -- running ------------------------------------------------------------------------------


def waive(finding: Finding, lab: Lab) -> Finding:
    """The finding with the reason of the lab's first waiver that covers it."""
    if finding.waived is not None:
        return finding  # accepted by the check itself, with its citation
    for waiver in lab.waivers:
        if waiver.check != finding.check:
            continue
        if waiver.rule is None or waiver.rule in (*finding.rules, finding.subject):
            return replace(finding, waived=waiver.reason)
    return finding


def run_checks(subjects: Iterable[Subject]) -> tuple[Finding, ...]:
    out: list[Finding] = []
    for subject in subjects:
        for check in REGISTRY.values():
            found = list(check.on_rules(subject))
            for stack in subject.stacks:
                found.extend(check.on_stack(subject, stack))
            out.extend(waive(f, subject.lab) for f in found)
    return tuple(sorted(set(out), key=Finding.sort_key))


def rule_tags(resources: Resources) -> dict[str, tuple[str, ...]]:
    """AWS rule address -> the rule id its `crm-ports:rule` tag names."""
    out: dict[str, tuple[str, ...]] = {}
    for address, attributes in resources.items():
        tags = attributes.get("tags")
        if isinstance(tags, dict) and f"{TAG_PREFIX}rule" in tags:
            out[address] = (str(tags[f"{TAG_PREFIX}rule"]),)
    return out
