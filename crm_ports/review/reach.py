"""A change seen as reach: who can now get to what, rather than which rules moved.

Adding `0.0.0.0/0` to `client_cidrs` adds no rule a reviewer would notice, yet every
port the clients reach becomes open to the internet. So a peer-range change is stated as
the reach it changes ("clients now include 0.0.0.0/0 (the internet): TCP 88, 389 to
domain-controller"), and anything newly reachable from an internet-wide range is listed
first in the report.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from crm_ports.net import internet_wide
from crm_ports.ruleset import PROTOCOL_ORDER, Rule, RuleSet, ports_label, ports_text


def _cidr_words(cidrs: tuple[str, ...]) -> str:
    return ", ".join(f"{c} (the internet)" if internet_wide(c) else c for c in cidrs)


def _sorted_ports(rules: list[Rule]) -> tuple[str, ...]:
    ordered = sorted(
        rules, key=lambda r: (PROTOCOL_ORDER.get(r.protocol.value, 9), r.ports.start, r.ports.end)
    )
    return tuple(dict.fromkeys(ports_text(r) for r in ordered))


def peer_reach(ruleset: RuleSet, peer: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(target, port texts) the peer reaches, by target."""
    by_target: dict[str, list[Rule]] = defaultdict(list)
    for rule in ruleset.rules:
        if rule.source == peer:
            by_target[rule.target].append(rule)
    return tuple((t, _sorted_ports(by_target[t])) for t in sorted(by_target))


def reach_words(reach: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    """'TCP 88, 389 · UDP 88 to domain-controller; TCP 80, 443 to crm-front-end'."""
    return "; ".join(f"{ports_label(ports)} to {target}" for target, ports in reach)


@dataclass(frozen=True)
class PeerChange:
    """A peer whose address ranges differ between the two sides, and what it reaches."""

    peer: str
    option: str | None
    added: tuple[str, ...]
    removed: tuple[str, ...]
    reach: tuple[tuple[str, tuple[str, ...]], ...]  # on the head side

    @property
    def exposes(self) -> bool:
        return any(internet_wide(c) for c in self.added) and bool(self.reach)

    def words(self) -> str:
        parts = []
        if self.added:
            text = f"{self.peer} now include {_cidr_words(self.added)}"
            if self.reach:
                text += f": {reach_words(self.reach)}"
            parts.append(text)
        if self.removed:
            parts.append(f"{self.peer} no longer include {_cidr_words(self.removed)}")
        where = f" (`{self.option}`)" if self.option else ""
        return "; ".join(parts) + where

    def to_json(self) -> dict[str, Any]:
        return {
            "peer": self.peer,
            "option": self.option,
            "added": list(self.added),
            "removed": list(self.removed),
            "reach": [{"to": t, "ports": list(p)} for t, p in self.reach],
            "text": self.words(),
        }


def peer_changes(base: RuleSet | None, head: RuleSet | None) -> tuple[PeerChange, ...]:
    if base is None or head is None:
        return ()
    old = {g.name: g for g in base.groups if g.is_peer}
    out = []
    for group in (g for g in head.groups if g.is_peer):
        before = old.get(group.name)
        if before is None or before.cidrs == group.cidrs:
            continue
        out.append(
            PeerChange(
                group.name,
                group.cidr_option,
                tuple(c for c in group.cidrs if c not in before.cidrs),
                tuple(c for c in before.cidrs if c not in group.cidrs),
                peer_reach(head, group.name),
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class Exposure:
    """Ports of one host group newly reachable from an internet-wide range."""

    peer: str
    cidrs: tuple[str, ...]
    target: str
    ports: tuple[str, ...]

    def words(self) -> str:
        return (
            f"{ports_label(self.ports)} to {self.target} from {self.peer} "
            f"({_cidr_words(self.cidrs)})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.peer,
            "cidrs": list(self.cidrs),
            "to": self.target,
            "ports": list(self.ports),
            "text": self.words(),
        }


def _exposed(ruleset: RuleSet | None) -> dict[tuple[str, str], set[str]]:
    if ruleset is None:
        return {}
    wide = {g.name for g in ruleset.groups if g.is_peer and any(internet_wide(c) for c in g.cidrs)}
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for rule in ruleset.rules:
        if rule.source in wide:
            out[(rule.source, rule.target)].add(ports_text(rule))
    return out


def new_exposure(base: RuleSet | None, head: RuleSet | None) -> tuple[Exposure, ...]:
    """What the head opens to the internet that the base did not."""
    if head is None:
        return ()
    before, now = _exposed(base), _exposed(head)
    out = []
    for (peer, target), ports in sorted(now.items()):
        came = ports - before.get((peer, target), set())
        if not came:
            continue
        ordered = tuple(p for t, ps in peer_reach(head, peer) if t == target for p in ps)
        group = next(g for g in head.groups if g.name == peer)
        wide = tuple(c for c in group.cidrs if internet_wide(c))
        out.append(Exposure(peer, wide, target, tuple(p for p in ordered if p in came)))
    return tuple(out)
