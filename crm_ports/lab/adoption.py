"""An adopted estate (`adopt:`): the live security groups a lab takes over instead of
creating its own, one per host, each with what EC2 cannot change in place.

A security group's name and description force its replacement, and EC2 refuses to delete
a group its instances hold, so an adopted group keeps the live name and description word
for word; its live id becomes a Terraform `import` block, so the first apply takes it over
rather than creating a new one beside it, and the group holds its rules inline, so that
apply also revokes the live rules the lab leaves out (`crm_ports.plans.aws.adopted`).
`rules` (the planned rule's key -> the live rule's `sgr-...`) records which live rules
`crm-ports adopt aws` found the plan keeps, for the reader: nothing imports them any more
(the group's import reads them all), and a lab edited since the adoption may plan other
rules, so the keys are not held against the plan. Accepted as written before; checked
here against the lab's own hosts, and no live rule may be listed twice.

The first apply makes an adopted group's rules the plan's, so it revokes every live rule
the lab does not plan. `crm-ports diff` and `review` compare lab files and synthesized
folders and never read the cloud, so the lab file carries what adopt saw: `removes`, the
live rules adopt left out, each with why it goes, which they list before anything else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crm_ports.catalogue.model import NOWHERE, Location
from crm_ports.errors import InputError
from crm_ports.net import PortRange, cidr_range

GROUP_ID = re.compile(r"sg-[0-9a-f]+")
PREFIX_LIST_ID = re.compile(r"pl-[0-9a-f]+")
ICMP_PORTS = re.compile(r"all|type \d{1,3}( code \d{1,3})?")
EVERY_PORT = "all"


@dataclass(frozen=True)
class RemovedRule:
    """A live rule of an adopted group that the lab does not plan, as adopt saw it: the
    first apply revokes it. Kept in words a reviewer reads without the cloud at hand."""

    rule_id: str  # sgr-...
    direction: str  # "ingress" | "egress"
    protocol: str  # tcp, udp, icmp, icmpv6, all, or an IP protocol number
    ports: str  # "3389", "49152-65535", "all"; ICMP: "all", "type 8" or "type 3 code 4"
    peer: str  # the source (ingress) or destination (egress): a CIDR, sg-... or pl-...
    reason: str  # why it goes: the policy it breaks, or why no lab rule can say it
    description: str = ""  # the live rule's own description

    def words(self) -> str:
        """'inbound TCP 3389 from 0.0.0.0/0'."""
        if self.protocol == "all":
            what = "all traffic"
        elif self.ports == EVERY_PORT:
            what = f"{self.protocol.upper()} all"
        else:
            what = f"{self.protocol.upper()} {self.ports}"
        if self.direction == "egress":
            return f"outbound {what} to {self.peer}"
        return f"inbound {what} from {self.peer}"

    def to_json(self) -> dict[str, str]:
        """As the lab file and `crm-ports.json` hold it."""
        return {
            "rule_id": self.rule_id,
            "direction": self.direction,
            "protocol": self.protocol,
            "ports": self.ports,
            "peer": self.peer,
            "description": self.description,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> RemovedRule:
        return cls(
            rule_id=str(raw["rule_id"]),
            direction=str(raw["direction"]),
            protocol=str(raw["protocol"]),
            ports=str(raw["ports"]),
            peer=str(raw["peer"]),
            reason=str(raw["reason"]),
            description=str(raw.get("description", "")),
        )

    def problem(self) -> tuple[str, str] | None:
        """(field, what is wrong) for what the schema cannot say, else None."""
        if self.protocol in ("tcp", "udp"):
            try:
                PortRange.parse(self.ports)
            except ValueError as exc:
                return "ports", f"{exc} ({self.protocol} has ports)"
        elif self.protocol in ("icmp", "icmpv6"):
            if not ICMP_PORTS.fullmatch(self.ports):
                return "ports", f"'{self.ports}' is not all, type N or type N code M"
        elif self.ports != EVERY_PORT:
            return (
                "ports",
                f"'{self.ports}' for protocol {self.protocol}: it has no ports, write all",
            )
        if GROUP_ID.fullmatch(self.peer) or PREFIX_LIST_ID.fullmatch(self.peer):
            return None
        try:
            cidr_range(self.peer)
        except ValueError as exc:
            return (
                "peer",
                f"{exc}; a peer is a CIDR range, a group id (sg-...) or a prefix list id (pl-...)",
            )
        return None


@dataclass(frozen=True)
class AdoptedGroup:
    """One host's live security group."""

    host: str
    group_id: str  # sg-...
    name: str  # the live GroupName, kept
    description: str  # the live Description, kept
    rules: tuple[tuple[str, str], ...] = ()  # (planned rule key, live rule id sgr-...), sorted
    removes: tuple[RemovedRule, ...] = ()  # live rules the first apply revokes, by rule id
    location: Location = field(default=NOWHERE, compare=False)

    @property
    def field_path(self) -> str:
        return f"adopt.{self.host}"

    def error(self, field_name: str, message: str) -> InputError:
        where = self.field_path + (f".{field_name}" if field_name else "")
        return InputError(
            self.location.file, f"host '{self.host}'", where, message, self.location.line
        )


def adopted_from(
    raw: Mapping[str, Any],
    *,
    hosts: tuple[str, ...] | None,
    clouds: tuple[str, ...],
    file: str,
    entry: str,
    line_of: Any,
) -> tuple[AdoptedGroup, ...]:
    """The `adopt:` section, schema-checked already, against the lab's own placement
    (`hosts`, None when the lab names a catalogue topology)."""
    if not raw:
        return ()
    if hosts is None:
        raise InputError(
            file,
            entry,
            "adopt",
            "an adopted estate needs the lab's own hosts (topology: {hosts: [...]}), one per "
            "live group",
            line_of(("adopt",)),
        )
    if "aws" not in clouds:
        raise InputError(
            file, entry, "adopt", "adopt: names AWS security groups: add aws to clouds", None
        )
    groups: list[AdoptedGroup] = []
    seen: dict[str, str] = {}
    for host, item in sorted(raw.items()):
        line = line_of(("adopt", host))
        if host not in hosts:
            raise InputError(
                file,
                entry,
                f"adopt.{host}",
                f"no host '{host}' in the lab's topology (hosts: {', '.join(sorted(hosts))})",
                line,
            )
        group_id = str(item["group_id"])
        if group_id in seen:
            raise InputError(
                file,
                entry,
                f"adopt.{host}.group_id",
                f"group {group_id} is adopted by host '{seen[group_id]}' already",
                line_of(("adopt", host, "group_id")),
            )
        seen[group_id] = host
        rules = item.get("rules") or {}
        owners: dict[str, str] = {}
        for key, rule_id in rules.items():
            if rule_id in owners:
                raise InputError(
                    file,
                    entry,
                    f"adopt.{host}.rules.{key}",
                    f"live rule {rule_id} is adopted by '{owners[rule_id]}' already",
                    line_of(("adopt", host, "rules", key)),
                )
            owners[rule_id] = key
        groups.append(
            AdoptedGroup(
                host=host,
                group_id=group_id,
                name=str(item["name"]),
                description=str(item.get("description", "")),
                rules=tuple(sorted((str(k), str(v)) for k, v in rules.items())),
                removes=tuple(RemovedRule.from_json(r) for r in item.get("removes") or ()),
                location=Location(file, line),
            )
        )
    _check_removes(groups, file, entry, line_of)
    return tuple(groups)


def _check_removes(groups: list[AdoptedGroup], file: str, entry: str, line_of: Any) -> None:
    """Each removed rule well formed, named once, and not also a rule the lab takes over."""
    adopted = {rule_id: f"adopt.{g.host}.rules.{key}" for g in groups for key, rule_id in g.rules}
    seen: dict[str, str] = {}
    for group in groups:
        for index, rule in enumerate(group.removes):
            where = f"adopt.{group.host}.removes[{index}]"
            problem = rule.problem()
            if problem is None and rule.rule_id in seen:
                listed = seen[rule.rule_id]
                problem = "rule_id", f"live rule {rule.rule_id} is listed at {listed} already"
            elif problem is None and rule.rule_id in adopted:
                taken = adopted[rule.rule_id]
                problem = "rule_id", f"live rule {rule.rule_id} is adopted as {taken}, so kept"
            if problem is not None:
                name, message = problem
                line = line_of(("adopt", group.host, "removes", index, name))
                raise InputError(file, entry, f"{where}.{name}", message, line)
            seen[rule.rule_id] = where
