"""Two states -> what changes, lab by lab: in the reviewer's words (flows, and rules
between host groups) and in Terraform's (resources created, updated, replaced, deleted).

Rules are matched by id, never by position, so a rule whose ports, flows or text change
is one "changed" rule rather than a removal and an addition. The cloud impact comes from
planning both sides with the same plan functions the stacks use and comparing the
resources by address (`crm_ports.terraform.impact`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_ports.lab.model import Lab
from crm_ports.resolver.engine import ResolvedLab
from crm_ports.review.reach import Exposure, PeerChange, new_exposure, peer_changes
from crm_ports.review.removes import LiveRemoval, new_removals
from crm_ports.review.sides import Side
from crm_ports.ruleset import Rule, RuleSet, ports_text
from crm_ports.terraform.hazards import GroupHazard, group_hazards
from crm_ports.terraform.impact import ResourceChange, compare, counts
from crm_ports.terraform.metadata import AWS_NETWORK, AZURE_NETWORK
from crm_ports.terraform.resources import AZURE_RULE_KINDS, Resources, lab_resources

RULE_FIELDS = ("ports", "service", "flows", "description", "refs")


def _values(rule: Rule) -> dict[str, Any]:
    return {
        "ports": ports_text(rule),
        "service": rule.service,
        "flows": rule.flows,
        "description": rule.description,
        "refs": rule.refs,
    }


@dataclass(frozen=True)
class RuleChange:
    kind: str  # "added" | "removed" | "changed"
    rule_id: str
    group: str  # the host group it is listed under: the target, or the source for peers
    base: Rule | None
    head: Rule | None
    fields: tuple[str, ...] = ()

    @property
    def rule(self) -> Rule:
        found = self.head or self.base
        if found is None:  # an explicit check: the app may run with `python -O`
            raise ValueError(f"change of {self.rule_id} has neither a base nor a head rule")
        return found

    def words(self) -> str:
        """'TCP 1433 from crm-front-end to sql-server, added'."""
        rule = self.rule
        text = f"{ports_text(rule)} from {rule.source} to {rule.target}, {self.kind}"
        if self.kind != "changed" or self.base is None or self.head is None:
            return text
        parts = []
        old, new = _values(self.base), _values(self.head)
        for name in self.fields:
            if name == "ports":
                parts.append(f"ports {old[name]} -> {new[name]}")
            elif name == "flows":
                gone = sorted(set(old[name]) - set(new[name]))
                came = sorted(set(new[name]) - set(old[name]))
                parts.append(
                    "flows " + ", ".join([*(f"+{f}" for f in came), *(f"-{f}" for f in gone)])
                )
            else:
                parts.append(f"{name} reworded" if name == "description" else f"{name} changed")
        return f"{text} ({'; '.join(parts)})"

    def flows(self) -> tuple[str, ...]:
        both = {*(self.base.flows if self.base else ()), *(self.head.flows if self.head else ())}
        return tuple(sorted(both))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "id": self.rule_id,
            "group": self.group,
            "text": self.words(),
            "flows": list(self.flows()),
        }
        if self.fields:
            out["fields"] = list(self.fields)
        if self.base is not None:
            out["base"] = self.base.to_json()
        if self.head is not None:
            out["head"] = self.head.to_json()
        return out


def _listed_under(rule: Rule, ruleset: RuleSet) -> str:
    target = next((g for g in ruleset.groups if g.name == rule.target), None)
    return rule.source if target is not None and target.is_peer else rule.target


def rule_changes(base: RuleSet | None, head: RuleSet | None) -> tuple[RuleChange, ...]:
    old = {r.id: r for r in base.rules} if base else {}
    new = {r.id: r for r in head.rules} if head else {}
    out = []
    for rule_id in sorted(set(old) | set(new)):
        before, after = old.get(rule_id), new.get(rule_id)
        if before is None and after is not None and head is not None:
            out.append(RuleChange("added", rule_id, _listed_under(after, head), None, after))
        elif after is None and before is not None and base is not None:
            out.append(RuleChange("removed", rule_id, _listed_under(before, base), before, None))
        elif before is not None and after is not None and head is not None:
            was, now = _values(before), _values(after)
            fields = tuple(f for f in RULE_FIELDS if was[f] != now[f])
            if fields:
                group = _listed_under(after, head)
                out.append(RuleChange("changed", rule_id, group, before, after, fields))
    return tuple(sorted(out, key=lambda c: (c.group, c.rule.source, c.rule_id)))


@dataclass(frozen=True)
class PriorityTouch:
    """An Azure NSG rule whose resource changes, with its priority on each side."""

    name: str
    action: str
    before: int | None
    after: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "action": self.action,
            "before": self.before,
            "after": self.after,
        }


@dataclass(frozen=True)
class CloudImpact:
    cloud: str
    stack: str
    changes: tuple[ResourceChange, ...]

    def priorities(self) -> tuple[PriorityTouch, ...]:
        out = []
        for change in self.changes:
            if change.type not in AZURE_RULE_KINDS:
                continue
            before, after = change.before or {}, change.after or {}
            out.append(
                PriorityTouch(
                    str(after.get("name", before.get("name"))),
                    change.action,
                    before.get("priority"),
                    after.get("priority"),
                )
            )
        return tuple(sorted(out, key=lambda p: p.name))

    def hazards(self) -> tuple[GroupHazard, ...]:
        return group_hazards(self.cloud, self.stack, self.changes)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cloud": self.cloud,
            "stack": self.stack,
            "counts": counts(self.changes),
            "resources": [c.to_json() for c in self.changes],
            "hazards": [h.to_json() for h in self.hazards()],
        }
        if self.cloud == "azure":
            out["priorities"] = [p.to_json() for p in self.priorities()]
        return out


def cloud_resources(side: ResolvedLab | None, cloud: str, *, network: bool = True) -> Resources:
    """The resources one lab's stack on `cloud` holds; none when the lab skips that cloud."""
    return {} if side is None else lab_resources(side.lab, side.ruleset, cloud, network=network)


def network_known(*sides: ResolvedLab | None) -> bool:
    """Whether every side knows its network (a folder of an older crm-ports may not)."""
    return all(side.lab.network_known for side in sides if side is not None)


@dataclass(frozen=True)
class LabDiff:
    name: str
    status: str  # "added" | "removed" | "changed" | "unchanged"
    base: ResolvedLab | None
    head: ResolvedLab | None
    options: tuple[tuple[str, Any, Any], ...]
    groups_added: tuple[str, ...]
    groups_removed: tuple[str, ...]
    flows_added: tuple[str, ...]
    flows_removed: tuple[str, ...]
    flows_changed: tuple[str, ...]
    rules: tuple[RuleChange, ...]
    clouds: tuple[CloudImpact, ...]
    peers: tuple[PeerChange, ...] = ()
    exposure: tuple[Exposure, ...] = ()
    removes: tuple[LiveRemoval, ...] = ()  # live rules the head's first apply revokes

    @property
    def changed(self) -> bool:
        return self.status != "unchanged"

    @property
    def hazards(self) -> tuple[GroupHazard, ...]:
        """Groups servers hold that the change replaces (errors) or deletes (warnings)."""
        return tuple(h for cloud in self.clouds for h in cloud.hazards())

    def deploys_to(self, cloud: str) -> bool:
        """Whether either side of the lab has a stack on `cloud`."""
        return any(s is not None and cloud in s.lab.clouds for s in (self.base, self.head))

    def to_json(self) -> dict[str, Any]:
        # only when a rule is removed, so every other diff reads as before
        removes = (
            {"live_rules_removed": [r.to_json() for r in self.removes]} if self.removes else {}
        )
        return {
            **removes,
            "name": self.name,
            "status": self.status,
            "options": [{"name": n, "base": b, "head": h} for n, b, h in self.options],
            "groups": {"added": list(self.groups_added), "removed": list(self.groups_removed)},
            "flows": {
                "added": list(self.flows_added),
                "removed": list(self.flows_removed),
                "changed": list(self.flows_changed),
            },
            "rules": [r.to_json() for r in self.rules],
            "clouds": [c.to_json() for c in self.clouds],
            "not_deployed": [c for c in ("aws", "azure") if not self.deploys_to(c)],
            "reach": {
                "peers": [p.to_json() for p in self.peers],
                "internet_exposure": [e.to_json() for e in self.exposure],
            },
        }


def _flows(ruleset: RuleSet | None) -> set[str]:
    return {f for r in ruleset.rules for f in r.flows} if ruleset else set()


def _settings(lab: Lab, network: bool) -> dict[str, Any]:
    """What a lab decides beyond the catalogue, as JSON values (lists, not tuples); with
    `network`, where its stacks' network lives too."""
    out = {**lab.options.to_json(), "aws.egress": lab.aws.egress, "clouds": list(lab.clouds)}
    if network:
        for cloud, settings, keys in (
            ("aws", lab.aws, AWS_NETWORK),
            ("azure", lab.azure, AZURE_NETWORK),
        ):
            out.update({f"{cloud}.{key}": getattr(settings, key) for key in keys})
    return out


def _options(base: Lab | None, head: Lab | None) -> tuple[tuple[str, Any, Any], ...]:
    if base is None or head is None:
        return ()
    known = base.network_known and head.network_known
    old, new = _settings(base, known), _settings(head, known)
    names = sorted(set(old) | set(new))
    return tuple((n, old.get(n), new.get(n)) for n in names if old.get(n) != new.get(n))


def diff_lab(
    name: str, base: ResolvedLab | None, head: ResolvedLab | None, *, construct: bool = False
) -> LabDiff:
    """One lab's change, or with `construct` one construct's of an app (`name` is then its
    path, `<stack>/<id>`, which is also the stack its impact is reported on)."""
    old_rules = base.ruleset if base else None
    new_rules = head.ruleset if head else None
    rules = rule_changes(old_rules, new_rules)
    old_flows, new_flows = _flows(old_rules), _flows(new_rules)
    touched = {f for change in rules for f in change.flows()}
    old_groups = {g.name for g in old_rules.groups} if old_rules else set()
    new_groups = {g.name for g in new_rules.groups} if new_rules else set()
    clouds = []
    for cloud in ("aws", "azure"):
        known = network_known(base, head)
        changes = compare(
            cloud_resources(base, cloud, network=known), cloud_resources(head, cloud, network=known)
        )
        if changes:
            stack = name if construct else f"{cloud}-{name}"
            clouds.append(CloudImpact(cloud, stack, changes))
    options = _options(base.lab if base else None, head.lab if head else None)
    removes = new_removals(base.lab if base else None, head.lab if head else None)
    if base is None:
        status = "added"
    elif head is None:
        status = "removed"
    elif rules or clouds or options or removes:
        status = "changed"
    else:
        status = "unchanged"
    return LabDiff(
        name=name,
        status=status,
        base=base,
        head=head,
        options=options,
        groups_added=tuple(sorted(new_groups - old_groups)) if base else (),
        groups_removed=tuple(sorted(old_groups - new_groups)) if head else (),
        flows_added=tuple(sorted(new_flows - old_flows)),
        flows_removed=tuple(sorted(old_flows - new_flows)),
        flows_changed=tuple(sorted(touched & old_flows & new_flows)),
        rules=rules,
        clouds=tuple(clouds),
        peers=peer_changes(old_rules, new_rules),
        exposure=new_exposure(old_rules, new_rules),
        removes=removes,
    )


def diff_sides(base: Side, head: Side) -> tuple[LabDiff, ...]:
    names = sorted(set(base.names()) | set(head.names()))
    return tuple(diff_lab(n, base.get(n), head.get(n), construct=_path(n)) for n in names)


def _path(name: str) -> bool:
    """Whether a side's name is a construct's path (`<stack>/<id>`): a lab's name holds
    no `/`."""
    return "/" in name


def diff_json(base: Side, head: Side, labs: tuple[LabDiff, ...]) -> dict[str, Any]:
    return {
        "base": base.label,
        "head": head.label,
        "changed": any(lab.changed for lab in labs),
        "labs": [lab.to_json() for lab in labs],
    }
