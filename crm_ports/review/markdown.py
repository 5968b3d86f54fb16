"""The diff as a pull-request comment: a summary table, then one collapsed section per
changed lab with its flows, its rules by host group in plain words, what each cloud's
stack would create, update, replace or delete (with the Azure priorities touched), and
the head topology with the changed edges coloured.

Everything is sorted and carries no time or absolute path, so the same two states always
give the same bytes and the comment only changes when the plan does.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from crm_ports.lab.extra import is_extra
from crm_ports.net import internet_wide
from crm_ports.review.diagram import render as render_diagram
from crm_ports.review.diff import CloudImpact, LabDiff, RuleChange
from crm_ports.review.removes import adopted_groups
from crm_ports.terraform.impact import ResourceChange, counts
from crm_ports.terraform.resources import plain

CLOUD_NAMES = {"aws": "AWS", "azure": "Azure"}
ACTION_WORDS = {
    "create": "create",
    "update": "update in place",
    "replace": "**replace** (destroy, then create)",
    "delete": "destroy",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _impact_counts(impact: CloudImpact | None) -> str:
    if impact is None:
        return "no change"
    n = counts(impact.changes)
    return f"+{n['create']} ~{n['update']} ±{n['replace']} -{n['delete']}"


def _rule_counts(lab: LabDiff) -> str:
    kinds = [c.kind for c in lab.rules]
    parts = [f"{kinds.count(k)} {k}" for k in ("added", "removed", "changed") if k in kinds]
    return ", ".join(parts) or "none"


def _cloud(lab: LabDiff, cloud: str) -> CloudImpact | None:
    return next((c for c in lab.clouds if c.cloud == cloud), None)


def _cloud_cell(lab: LabDiff, cloud: str) -> str:
    """The cloud's counts, or that the lab has no stack there (not a "no change")."""
    if not lab.deploys_to(cloud):
        return "not deployed there"
    return _impact_counts(_cloud(lab, cloud))


def _reach_cell(lab: LabDiff) -> str:
    """'clients +0.0.0.0/0 (internet)': the peer ranges that changed, in brief."""
    parts = []
    for change in lab.peers:
        ranges = [
            *(f"+{c}" + (" (internet)" if internet_wide(c) else "") for c in change.added),
            *(f"-{c}" for c in change.removed),
        ]
        parts.append(f"{change.peer} {' '.join(ranges)}")
    if lab.exposure and not any(c.exposes for c in lab.peers):
        parts.append("new internet exposure")
    return "; ".join(parts) or "same"


def exposure_items(labs: tuple[LabDiff, ...]) -> list[str]:
    """What becomes reachable from the internet, one item per peer range or flow, in
    words: what the diff's caution block lists and `review` counts."""
    lines = []
    for lab in labs:
        told = set()
        for change in lab.peers:
            if change.exposes:
                lines.append(f"`{lab.name}`: {change.words()}")
                told.add(change.peer)
        for exposure in lab.exposure:
            if exposure.peer not in told:
                lines.append(f"`{lab.name}`: {exposure.words()}")
    return lines


def exposure_count(labs: tuple[LabDiff, ...]) -> int:
    """The flows newly reachable from the internet, one per internet-wide peer and host
    group: what the summary row counts. A peer that gains 0.0.0.0/0 is one item of the
    caution block but opens every group it reaches, and each counts."""
    count = 0
    for lab in labs:
        told = set()
        for change in lab.peers:
            if change.exposes:
                count += len(change.reach)
                told.add(change.peer)
        count += sum(1 for exposure in lab.exposure if exposure.peer not in told)
    return count


def exposure_lines(labs: tuple[LabDiff, ...]) -> list[str]:
    """What becomes reachable from the internet: the first thing a reviewer must see
    after the live rules removed."""
    return _caution("Newly reachable from the internet", exposure_items(labs))


def _caution(title: str, items: list[str], intro: str = "") -> list[str]:
    """A caution block of `items` under `title` (none without items): what a reviewer
    must see before the details."""
    if not items:
        return []
    return [
        "> [!CAUTION]",
        f"> **{title}**",
        ">",
        *((f"> {intro}", ">") if intro else ()),
        *(f"> - {item}" for item in items),
        "",
    ]


def _removals(lab: LabDiff) -> list[str]:
    """The live rules the lab's first apply revokes, in words, a peer group the lab
    adopts named by its host."""
    groups = adopted_groups(lab.head.lab if lab.head is not None else None)
    return [removal.words(groups) for removal in lab.removes]


def removal_items(labs: tuple[LabDiff, ...]) -> list[str]:
    """The live rules the head's first apply revokes, one item each, in words."""
    return [f"`{lab.name}`: {words}" for lab in labs for words in _removals(lab)]


def removal_lines(labs: tuple[LabDiff, ...]) -> list[str]:
    """Live rules the merge's apply revokes: nothing in the plan's rules shows them, and
    nothing brings them back once revoked, so they come before anything else."""
    intro = (
        "The first apply of an adopted lab revokes each live rule of its groups that the "
        "lab does not plan (`adopt.<host>.removes` in the lab file):"
    )
    return _caution("Live rules this change removes", removal_items(labs), intro)


def replaced_items(labs: tuple[LabDiff, ...]) -> list[str]:
    """Groups (and subnets) a change would replace while servers hold them, in words."""
    return [
        f"`{lab.name}` ({hazard.stack}): {hazard.message}"
        for lab in labs
        for hazard in lab.hazards
        if hazard.severity == "error"
    ]


def hazard_lines(labs: tuple[LabDiff, ...]) -> list[str]:
    """Groups a change would replace while servers hold them: the apply would fail
    half-way on a real cloud, so this comes right after the internet exposure."""
    return _caution("Groups replaced while servers hold them", replaced_items(labs))


def _summary_table(labs: tuple[LabDiff, ...]) -> list[str]:
    lines = [
        "| Lab | Status | Reach | Rules | AWS (+ ~ ± -) | Azure (+ ~ ± -) |",
        "|---|---|---|---|---|---|",
    ]
    for lab in labs:
        lines.append(
            f"| `{lab.name}` | {lab.status} | {_reach_cell(lab)} | {_rule_counts(lab)} | "
            f"{_cloud_cell(lab, 'aws')} | {_cloud_cell(lab, 'azure')} |"
        )
    return lines


def _flow_lines(lab: LabDiff) -> list[str]:
    lines = [f"- Reach: {change.words()}" for change in lab.peers]
    for word, flows in (
        ("added", lab.flows_added),
        ("removed", lab.flows_removed),
        ("changed", lab.flows_changed),
    ):
        if flows:
            lines.append(f"- Flows {word}: {', '.join(f'`{f}`' for f in flows)}")
    for word, groups in (("added", lab.groups_added), ("removed", lab.groups_removed)):
        if groups:
            lines.append(f"- Host groups {word}: {', '.join(f'`{g}`' for g in groups)}")
    for name, before, after in lab.options:
        lines.append(f"- Option `{name}`: `{before}` -> `{after}`")
    return lines


def _rule_line(change: RuleChange) -> str:
    flows = ", ".join(f"`{f}`" for f in change.flows())
    line = f"  - {change.words()} — rule `{change.rule_id}`; flow {flows}"
    if is_extra(change.rule):  # a lab-local rule is reviewed with its reason
        line += f"; {change.rule.description}"
    return line


def _rules_by_group(lab: LabDiff) -> list[str]:
    by_group: dict[str, list[RuleChange]] = defaultdict(list)
    for change in lab.rules:
        by_group[change.group].append(change)
    lines = []
    for group in sorted(by_group):
        lines.append(f"- **{group}**")
        lines.extend(_rule_line(c) for c in by_group[group])
    return lines


KEY_ATTRIBUTES = (
    "ip_protocol",
    "from_port",
    "to_port",
    "cidr_ipv4",
    "referenced_security_group_id",
    "access",
    "protocol",
    "priority",
    "destination_port_range",
    "destination_port_ranges",
    "source_address_prefix",
    "source_address_prefixes",
    "source_application_security_group_ids",
    "destination_application_security_group_ids",
    "name",
)


def _value(value: Any) -> str:
    plain_value = plain(value)
    if isinstance(plain_value, list):
        return "[" + ", ".join(str(v) for v in plain_value) + "]"
    return str(plain_value)


def _attributes(change: ResourceChange) -> str:
    """The attributes a row changes: old -> new for an update or replacement, the values
    that say what a created or destroyed rule allows (its ports and its source)."""
    if change.action in ("update", "replace"):
        before, after = change.before or {}, change.after or {}
        parts = []
        for name in change.attributes:
            text = f"`{name}`"
            old, new = before.get(name), after.get(name)
            if name != "tags" and old is not None and new is not None and old != new:
                text += f" {_cell(_value(old))} -> {_cell(_value(new))}"
            if name in change.forced_by:
                text += " (forces replacement)"
            parts.append(text)
        return ", ".join(parts)
    values = change.after if change.action == "create" else change.before
    shown = [(k, (values or {}).get(k)) for k in KEY_ATTRIBUTES]
    return ", ".join(f"`{k}` = {_cell(_value(v))}" for k, v in shown if v is not None)


def _impact_table(impact: CloudImpact) -> list[str]:
    lines = [
        f"**{CLOUD_NAMES[impact.cloud]}** (stack `{impact.stack}`): "
        f"{_impact_counts(impact)} (create, update, replace, destroy)",
        "",
        "| Action | Resource | Attributes |",
        "|---|---|---|",
    ]
    for change in impact.changes:
        detail = _attributes(change)
        lines.append(f"| {ACTION_WORDS[change.action]} | `{_cell(change.address)}` | {detail} |")
    priorities = impact.priorities()
    if priorities:
        lines.append("")
        lines.append(
            "The NSG's rules change in one update of the NSG (one request to Azure), so a "
            "priority handed from one rule to another is never held by two. "
            "Azure priorities touched:"
        )
        for p in priorities:
            if p.before is not None and p.after is not None and p.before != p.after:
                value = f"{p.before} -> {p.after}"
            else:
                value = str(p.after if p.after is not None else p.before)
            lines.append(f"- `{p.name}`: priority {value} ({ACTION_WORDS[p.action]})")
    return lines


def _diagram(lab: LabDiff) -> list[str]:
    if lab.head is None:
        return []
    base = lab.base.ruleset if lab.base is not None else None
    text = render_diagram(lab.head.ruleset, "mermaid", base=base, title=lab.name)
    return [
        "Topology after the change (green: added, amber: changed, red dashed: removed):",
        "",
        "```mermaid",
        text.rstrip("\n"),
        "```",
    ]


def section_summary(lab: LabDiff) -> str:
    """The one line a changed lab's collapsed section shows."""
    return (
        f"<b>{lab.name}</b> ({lab.status}): rules {_rule_counts(lab)}; "
        f"AWS {_cloud_cell(lab, 'aws')}; Azure {_cloud_cell(lab, 'azure')}"
    )


def section_body(lab: LabDiff) -> list[str]:
    """What a changed lab's collapsed section holds: the live rules its apply removes,
    its flows, rules, groups servers hold, each cloud's resources and the diagram."""
    lines: list[str] = []
    removed = [f"- {words}" for words in _removals(lab)]
    if removed:
        lines.extend(["**Live rules removed by the first apply**", "", *removed, ""])
    flows = _flow_lines(lab)
    if flows:
        lines.extend(["**What changes**", "", *flows, ""])
    if lab.rules:
        lines.extend(["**Rules by host group**", "", *_rules_by_group(lab), ""])
    hazards = [f"- {h.severity}: {h.message}" for h in lab.hazards]
    if hazards:
        lines.extend(["**Groups servers hold**", "", *hazards, ""])
    for impact in lab.clouds:
        lines.extend([*_impact_table(impact), ""])
    lines.extend(_diagram(lab))
    return lines


def _section(lab: LabDiff) -> list[str]:
    return [
        "<details>",
        f"<summary>{section_summary(lab)}</summary>",
        "",
        *section_body(lab),
        "",
        "</details>",
        "",
    ]


def render_markdown(base: str, head: str, labs: tuple[LabDiff, ...]) -> str:
    changed = [lab for lab in labs if lab.changed]
    lines = [
        "### crm-ports plan review",
        "",
        *removal_lines(labs),  # before anything else: what the apply takes away live
        *exposure_lines(labs),  # then what the internet can now reach
        *hazard_lines(labs),
        f"Base `{base}`, head `{head}`: {len(changed)} of {len(labs)} lab(s) change.",
        "",
    ]
    if not changed:
        lines.append("No flow, rule or cloud resource changes.")
        return "\n".join(lines) + "\n"
    lines.extend([*_summary_table(labs), ""])
    for lab in changed:
        lines.extend(_section(lab))
    return "\n".join(lines).rstrip("\n") + "\n"
