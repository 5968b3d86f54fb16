"""Lab-local rules (`extra_rules:`): the one more port a lab needs that the catalogue
does not know (egress to a patching proxy, a monitoring agent), each with its reason.

They join the resolved rule set as ordinary rules, so every view, both clouds, the quota
checks, diff and audit treat them like the catalogue's. What marks them is their flow id
(`extra:NAME`) and their citation of the lab file and line; `check` lists every one as a
warning so none passes review silently.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

from crm_ports.catalogue.model import NOWHERE, Location
from crm_ports.errors import InputError
from crm_ports.net import PortRange, Protocol
from crm_ports.ruleset import Group, Rule, RuleSet

EXTRA_FLOW_PREFIX = "extra:"
PROTOCOLS = (Protocol.TCP, Protocol.UDP)
NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class ExtraRule:
    """One lab-local rule as written: `from`/`to` name a host (group), a peer group, a
    role, or an IPv4 CIDR."""

    source: str
    target: str
    protocol: Protocol
    ports: PortRange
    reason: str
    name: str | None = None
    location: Location = field(default=NOWHERE, compare=False)
    field_path: str = field(default="extra_rules", compare=False)
    # What the rule cites instead of its location: a construct's lab name, so the rule
    # `AwsCrmLab` and `AzureCrmLab` add to one lab is one rule (errors still name the
    # construct, through `location`).
    cited_as: str | None = field(default=None, compare=False)

    @property
    def service(self) -> str:
        """The rule id's service part: the given name, else `lab-PORTS`."""
        return self.name or f"lab-{self.ports}"

    @classmethod
    def parse(
        cls,
        *,
        source: str,
        target: str,
        protocol: str,
        ports: int | str,
        reason: str,
        name: str | None,
        location: Location,
        field_path: str,
        cited_as: str | None = None,
    ) -> ExtraRule:
        """One lab rule as a lab file or `AwsCrmLab.add_rule` gives it: the one place its
        values are checked, so both ways in accept and refuse the same rules."""
        rule = cls(
            source,
            target,
            Protocol.TCP,
            PortRange(1, 1),
            reason,
            name,
            location,
            field_path,
            cited_as,
        )
        for which, text in (("from", source), ("to", target)):
            if "/" in str(text) and _cidr(str(text)) is None:  # hosts and roles know no '/'
                raise rule.error(which, f"'{text}' is not an IPv4 CIDR range (e.g. 10.20.0.0/24)")
        if protocol not in {p.value for p in PROTOCOLS}:
            raise rule.error("protocol", f"'{protocol}' is not one of tcp, udp")
        try:
            parsed = PortRange.parse(str(ports))
            if parsed.start < 1:
                raise ValueError("port 0 is not usable")
        except ValueError as exc:
            raise rule.error("ports", str(exc)) from None
        text = " ".join(str(reason).split())
        if len(text) < 10:
            raise rule.error("reason", "say why this lab needs the rule (10 characters or more)")
        if name is not None and not NAME.match(name):
            raise rule.error("name", f"'{name}' is not lower-case words and hyphens")
        return replace(rule, protocol=Protocol(protocol), ports=parsed, reason=text)

    def error(self, field_name: str, message: str) -> InputError:
        return InputError(
            self.location.file,
            f"extra rule {self.source} -> {self.target}",
            f"{self.field_path}.{field_name}" if field_name else self.field_path,
            message,
            self.location.line,
        )


def citation(extra: ExtraRule) -> str:
    """`two-box.yaml:13`: the lab file by its name and the line. Never the folder it was
    read from (an absolute path, a temporary checkout of a git ref, `REF:` in front), so
    the rule is the same rule wherever the lab file is read, as the stacks and diff need.
    A construct's rule cites its lab's name, whichever cloud's construct added it."""
    if extra.cited_as is not None:
        return extra.cited_as
    name = PurePosixPath(extra.location.file.replace("\\", "/").rpartition(":")[2]).name
    return f"{name}:{extra.location.line}" if extra.location.line else name


def is_extra(rule: Rule) -> bool:
    return any(f.startswith(EXTRA_FLOW_PREFIX) for f in rule.flows)


def cidr_group_name(cidr: str) -> str:
    """`10.20.0.0/24` -> `cidr-10-20-0-0-24`: a group name like any other."""
    return "cidr-" + re.sub(r"[./]", "-", cidr)


def _cidr(text: str) -> str | None:
    if "/" not in text:
        return None
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError:
        return None
    return str(net) if net.version == 4 else None


def _endpoint(extra: ExtraRule, which: str, ruleset: RuleSet, added: dict[str, Group]) -> str:
    text = extra.source if which == "from" else extra.target
    names = {g.name for g in ruleset.groups}
    if text in names:
        return text
    holders = [g.name for g in ruleset.groups if text in g.roles and not g.is_members]
    if holders:
        return holders[0]
    cidr = _cidr(text)
    if cidr is None:
        if "/" in text:
            raise extra.error(which, f"'{text}' is not an IPv4 CIDR range (e.g. 10.20.0.0/24)")
        known = ", ".join(sorted(names))
        raise extra.error(
            which, f"'{text}' is no host, peer, role or CIDR of this lab (groups: {known})"
        )
    name = cidr_group_name(cidr)
    added.setdefault(name, Group(name, (), "peer", cidrs=(cidr,), description=f"range {cidr}"))
    return name


def add_extra_rules(ruleset: RuleSet, extras: tuple[ExtraRule, ...]) -> RuleSet:
    """The rule set with the lab's own rules added; each is refused, with its file and
    line, when it would duplicate a rule, cross no firewall or overlap a catalogue rule."""
    if not extras:
        return ruleset
    added: dict[str, Group] = {}
    rules = list(ruleset.rules)
    ids = {r.id for r in rules}
    for extra in extras:
        source = _endpoint(extra, "from", ruleset, added)
        target = _endpoint(extra, "to", ruleset, added)
        kinds = {g.name: g.kind for g in (*ruleset.groups, *added.values())}
        if source == target:
            raise extra.error("to", f"'{source}' to itself crosses no firewall")
        if kinds[source] == "peer" and kinds[target] == "peer":
            raise extra.error("to", "both ends are outside the lab: no lab firewall is crossed")
        rule_id = f"{source}.{target}.{extra.protocol.value}.{extra.service}"
        if rule_id in ids:
            raise extra.error("name", f"rule '{rule_id}' exists already: give it another name")
        for other in rules:
            if (other.source, other.target, other.protocol) == (
                source,
                target,
                extra.protocol,
            ) and not (other.ports.end < extra.ports.start or extra.ports.end < other.ports.start):
                raise extra.error(
                    "ports",
                    f"{extra.protocol.value.upper()} {extra.ports} overlaps rule '{other.id}' "
                    f"({other.protocol.value.upper()} {other.ports}) between the same groups",
                )
        where = citation(extra)
        ids.add(rule_id)
        rules.append(
            Rule(
                id=rule_id,
                source=source,
                target=target,
                protocol=extra.protocol,
                ports=extra.ports,
                service=extra.service,
                description=f"Lab rule: {extra.reason}",
                refs=(f"{where}: {extra.field_path}: {extra.reason}",),
                flows=(f"{EXTRA_FLOW_PREFIX}{extra.service}",),
            )
        )
    groups = sorted([*ruleset.groups, *added.values()], key=lambda g: (g.kind != "server", g.name))
    return replace(ruleset, groups=tuple(groups), rules=tuple(sorted(rules, key=Rule.sort_key)))
