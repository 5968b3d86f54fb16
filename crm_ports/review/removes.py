"""The live rules a change removes: what the first apply of an adopted lab revokes.

An adopted group's rules become the plan's on the first apply, so every live rule the lab
does not plan goes. A review compares two lab files (or synthesized folders) and never
reads the cloud, so it takes those rules from the lab itself (`adopt.<host>.removes`,
written by `crm-ports adopt aws`): the ones the head lists and the base does not, for a
newly adopted lab every one. They are the only change a merge makes that the plan's own
rules cannot show, so the report lists them before anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_ports.lab.adoption import RemovedRule
from crm_ports.lab.model import Lab


@dataclass(frozen=True)
class LiveRemoval:
    """One live rule the head lab's first apply revokes, on the group one host adopts."""

    host: str
    group_id: str  # sg-...
    rule: RemovedRule

    def words(self, groups: dict[str, str]) -> str:
        """'`sgr-0abc` on `web` (sg-0a1): inbound TCP 3389 from 0.0.0.0/0, live
        description `vendor`: breaks CRM001: ...'; a peer group the lab adopts is named
        by its host too (`groups`: group id -> host)."""
        rule = self.rule
        text = rule.words()
        if rule.peer in groups:
            text += f" (`{groups[rule.peer]}`)"
        if rule.description:  # a code span: a description may hold Markdown's marks
            described = rule.description.replace("`", "'")
            text += f", described `{described}`"
        return f"`{rule.rule_id}` on `{self.host}` ({self.group_id}): {text}: {rule.reason}"

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "group_id": self.group_id, **self.rule.to_json()}


def new_removals(base: Lab | None, head: Lab | None) -> tuple[LiveRemoval, ...]:
    """The removed rules the head lab lists that the base lab does not, by rule id."""
    if head is None:
        return ()
    known = {r.rule_id for a in (base.adopt if base is not None else ()) for r in a.removes}
    found = [
        LiveRemoval(group.host, group.group_id, rule)
        for group in head.adopt
        for rule in group.removes
        if rule.rule_id not in known
    ]
    return tuple(sorted(found, key=lambda r: (r.host, r.rule.rule_id)))


def adopted_groups(lab: Lab | None) -> dict[str, str]:
    """Group id -> the host that adopts it, to name a removed rule's peer group."""
    return {a.group_id: a.host for a in lab.adopt} if lab is not None else {}
