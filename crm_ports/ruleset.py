"""The resolved, cloud-neutral rule set: the one thing every renderer consumes.

A `Rule` allows traffic from one host group into another on one protocol and port
range. Identity is the rule id, `FROM.TO.PROTOCOL.SERVICE[_SERVICE...]` (only
`[a-z0-9._-]`, so it is a valid tag value and Azure rule name everywhere), derived from
the two groups, the protocol and the services it carries, never from a position in a
list (the terraform-aws-modules v5 lesson: positional identity replaces every rule
after an insertion).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crm_ports.net import PortRange, Protocol
from crm_ports.options import Options


@dataclass(frozen=True)
class Group:
    """A host group: servers that share a firewall identity, or an outside peer."""

    name: str
    roles: tuple[str, ...]
    kind: str  # "server" | "peer" | "balancer" (the cloud's load balancer, load_balancer cloud)
    cidrs: tuple[str, ...] = ()
    cidr_option: str | None = None  # peers: the option (and stack variable) holding `cidrs`
    members: tuple[str, ...] = ()  # set on the members group: the groups that carry it
    description: str = ""

    @property
    def is_peer(self) -> bool:
        return self.kind == "peer"

    @property
    def is_balancer(self) -> bool:
        """The cloud's load balancer: a security group of its own on AWS (the ALB carries
        it); on Azure no ASG, since Azure Load Balancer passes the client's address on."""
        return self.kind == "balancer"

    @property
    def is_members(self) -> bool:
        return bool(self.members)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "roles": list(self.roles), "kind": self.kind}
        if self.cidrs:
            out["cidrs"] = list(self.cidrs)
        if self.cidr_option:
            out["cidr_option"] = self.cidr_option
        if self.members:
            out["members"] = list(self.members)
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True)
class Rule:
    id: str
    source: str  # group name ("from")
    target: str  # group name ("to")
    protocol: Protocol
    ports: PortRange
    service: str
    description: str
    refs: tuple[str, ...]
    flows: tuple[str, ...]

    @property
    def from_port(self) -> int:
        return self.ports.start

    @property
    def to_port(self) -> int:
        return self.ports.end

    def sort_key(self) -> tuple[str, str, str, int, int]:
        return (self.target, self.source, self.protocol.value, self.ports.start, self.ports.end)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.source,
            "to": self.target,
            "protocol": self.protocol.value,
            "from_port": self.ports.start,
            "to_port": self.ports.end,
            "service": self.service,
            "description": self.description,
            "refs": list(self.refs),
            "flows": list(self.flows),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rule:
        return cls(
            id=data["id"],
            source=data["from"],
            target=data["to"],
            protocol=Protocol(data["protocol"]),
            ports=PortRange(int(data["from_port"]), int(data["to_port"])),
            service=data["service"],
            description=data["description"],
            refs=tuple(data.get("refs", ())),
            flows=tuple(data.get("flows", ())),
        )


def ports_text(rule: Rule) -> str:
    """'TCP 1433', 'UDP 137-138', 'all traffic': how every view names a rule's ports."""
    if rule.protocol.value == "all":
        return "all traffic"
    if rule.protocol.value == "icmp":
        return "ICMP"
    if rule.protocol.value == "esp":
        return "ESP (IP protocol 50)"
    return f"{rule.protocol.value.upper()} {rule.ports}"


# The order the views list protocols in.
PROTOCOL_ORDER = {"tcp": 0, "udp": 1, "icmp": 2, "esp": 3, "all": 4}


def ports_label(ports: tuple[str, ...]) -> str:
    """'TCP 80, 443 · UDP 88' from ('TCP 80', 'TCP 443', 'UDP 88')."""
    by_protocol: dict[str, list[str]] = {}
    for text in ports:
        word, _, number = text.partition(" ")
        by_protocol.setdefault(word, []).append(number)
    parts = [f"{p} {', '.join(n for n in nums if n)}".strip() for p, nums in by_protocol.items()]
    return " · ".join(parts)


@dataclass(frozen=True)
class Advisory:
    """Something the seeds advise against that the options turned on."""

    flow: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"flow": self.flow, "message": self.message}


@dataclass(frozen=True)
class IdleRole:
    """A role a lab placed on a host that no flow names under the lab's options (AD FS in a
    lab with `auth: iwa`): the host gets only the rules every server gets, which is seldom
    what the placement meant, so it is said rather than passed over."""

    group: str
    role: str
    needs: str  # the options its flows need ("auth=claims"); "" when no flow names it

    def message(self) -> str:
        why = f"its flows need {self.needs}" if self.needs else "no flow of the catalogue names it"
        return (
            f"the options leave role '{self.role}' without a flow ({why}): "
            "its host gets only the rules every server gets"
        )

    def to_json(self) -> dict[str, str]:
        return {"group": self.group, "role": self.role, "needs": self.needs}


@dataclass(frozen=True)
class RuleSet:
    topology: str
    options: Options
    groups: tuple[Group, ...]
    rules: tuple[Rule, ...]
    advisories: tuple[Advisory, ...] = ()
    # Roles of the lab's own placement the options leave without a flow (`idle_roles`).
    idle_roles: tuple[IdleRole, ...] = ()
    # Resolved from a lab's own placement (`resolve_lab`): its groups are that lab's hosts,
    # which only the lab can say, so a firewall rendering it must be handed the lab too.
    # Not part of the rule set's value (nor of its JSON): two equal rule sets are equal.
    own_placement: bool = field(default=False, compare=False)

    def group(self, name: str) -> Group:
        return next(g for g in self.groups if g.name == name)

    @property
    def server_groups(self) -> tuple[Group, ...]:
        """Groups that get their own security group (the members group and the cloud's
        balancer included; Azure gives the balancer no ASG)."""
        return tuple(g for g in self.groups if not g.is_peer)

    def inbound(self, group: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.target == group)

    def outbound(self, group: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.source == group)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "topology": self.topology,
            "options": self.options.to_json(),
            "groups": [g.to_json() for g in self.groups],
            "rules": [r.to_json() for r in self.rules],
            "advisories": [a.to_json() for a in self.advisories],
        }
        if self.idle_roles:  # only then: every other rule set reads as it always has
            out["idle_roles"] = [i.to_json() for i in self.idle_roles]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any], *, origin: str = "JSON") -> RuleSet:
        """The inverse of `to_json`: a synthesized folder keeps its rule set as JSON so
        that a review can compare it without the catalogue that produced it.

        Malformed data raises KeyError, TypeError or ValueError; the caller knows which
        file it read and turns them into an InputError."""
        groups = tuple(
            Group(
                name=g["name"],
                roles=tuple(g["roles"]),
                kind=g["kind"],
                cidrs=tuple(g.get("cidrs", ())),
                cidr_option=g.get("cidr_option"),
                members=tuple(g.get("members", ())),
                description=g.get("description", ""),
            )
            for g in data["groups"]
        )
        return cls(
            topology=data["topology"],
            options=Options.from_json(data["options"], origin=origin),
            groups=groups,
            rules=tuple(Rule.from_json(r) for r in data["rules"]),
            advisories=tuple(Advisory(a["flow"], a["message"]) for a in data.get("advisories", ())),
            idle_roles=tuple(
                IdleRole(i["group"], i["role"], i["needs"]) for i in data.get("idle_roles", ())
            ),
        )
