"""A rule set as a picture: host groups and the traffic allowed between them, as a Mermaid
flowchart (GitHub renders it in pull-request comments) or Graphviz DOT.

Server groups sit in one box named after the members group; outside peers (clients,
administrators, mail servers) are drawn outside it in another shape with their address
ranges. The members group is a source, not a place: its rules to *every* server become
one edge into the box ("any server to any server"), the rest one edge per group it
reaches, so the Windows base ports do not draw a dozen identical arrows.

Given a base rule set as well, edges are compared by (from, to) and marked added, changed
or removed, so a reviewer sees where the change is.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from crm_ports.formats import DIAGRAM_FORMATS
from crm_ports.lab.extra import is_extra
from crm_ports.review.reach import peer_changes
from crm_ports.ruleset import PROTOCOL_ORDER, Group, Rule, RuleSet, ports_label, ports_text

BOX = "every-server"  # edge endpoint standing for the box of all server groups
FORMATS = DIAGRAM_FORMATS
STATUS_COLOURS = {"added": "#1a7f37", "changed": "#bf8700", "removed": "#cf222e"}


@dataclass(frozen=True)
class Edge:
    source: str  # group name
    target: str  # group name, or BOX
    ports: tuple[str, ...]  # 'TCP 80', 'UDP 137-138', sorted by protocol then port
    status: str = ""  # "" | "added" | "changed" | "removed"

    added: tuple[str, ...] = ()  # changed edges: ports that came, and that went
    removed: tuple[str, ...] = ()
    note: str = ""  # what changed besides the ports (a peer's ranges)

    @property
    def label(self) -> str:
        """'TCP 80, 443 · UDP 88': ports grouped under their protocol; a changed edge says
        what changed ('changed: +TCP 1533 · +UDP 1434, -TCP 1433; kept TCP 80, 443')."""
        if self.status != "changed":
            text = ports_label(self.ports)
            return f"{self.status}: {text}" if self.status else text
        parts = []
        if self.added:
            parts.append("+" + ports_label(self.added).replace(" · ", " · +"))
        if self.removed:
            parts.append("-" + ports_label(self.removed).replace(" · ", " · -"))
        kept = tuple(p for p in self.ports if p not in self.added)
        text = ", ".join(parts)
        if self.note:
            text = f"{self.note}; {text}" if text else self.note
        if kept and (self.added or self.removed):
            text += f"; kept {ports_label(kept)}"
        elif kept:
            text += f": {ports_label(kept)}"
        return f"changed: {text}"


@dataclass(frozen=True)
class Graph:
    title: str
    servers: tuple[Group, ...]  # server groups, members group excluded
    members: Group | None
    peers: tuple[Group, ...]
    edges: tuple[Edge, ...]


def _port_key(rule: Rule) -> tuple[int, int, int]:
    return (PROTOCOL_ORDER.get(rule.protocol.value, 9), rule.ports.start, rule.ports.end)


def _text(rule: Rule) -> str:
    """A lab-local rule carries its reason into the picture: 'TCP 8080 (Lab rule: ...)'."""
    return f"{ports_text(rule)} ({rule.description})" if is_extra(rule) else ports_text(rule)


def _texts(rules: list[Rule]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_text(r) for r in sorted(rules, key=_port_key)))


def edges(ruleset: RuleSet) -> dict[tuple[str, str], tuple[str, ...]]:
    """(from, to) -> port texts. What the members group or a peer opens on *every* server
    group is folded into one edge to BOX; only the rest stays per group."""
    pairs: dict[tuple[str, str], list[Rule]] = defaultdict(list)
    for rule in ruleset.rules:
        pairs[(rule.source, rule.target)].append(rule)
    out = {pair: _texts(rules) for pair, rules in pairs.items()}
    servers = next((g.members for g in ruleset.groups if g.is_members), ())
    for source in (g.name for g in ruleset.groups if g.is_peer or g.is_members):
        reached = [set(out.get((source, name), ())) for name in servers]
        common = set.intersection(*reached) if reached else set()
        if not common:
            continue
        one = pairs[(source, servers[0])]
        out[(source, BOX)] = _texts([r for r in one if _text(r) in common])
        for name in servers:
            rest = tuple(t for t in out.pop((source, name)) if t not in common)
            if rest:
                out[(source, name)] = rest
    return dict(sorted(out.items()))


def graph(head: RuleSet, base: RuleSet | None = None, title: str = "") -> Graph:
    """The head rule set's graph; with `base`, edges carry their change status."""
    now = edges(head)
    before = edges(base) if base is not None else now
    ranges = _range_notes(base, head)
    out = []
    for pair in sorted(set(now) | set(before)):
        if pair not in before:
            out.append(Edge(*pair, now[pair], "added"))
        elif pair not in now:
            out.append(Edge(*pair, before[pair], "removed"))
        elif now[pair] != before[pair] or pair[0] in ranges:
            came = tuple(p for p in now[pair] if p not in before[pair])
            went = tuple(p for p in before[pair] if p not in now[pair])
            out.append(Edge(*pair, now[pair], "changed", came, went, ranges.get(pair[0], "")))
        else:
            out.append(Edge(*pair, now[pair]))
    members = next((g for g in head.groups if g.is_members), None)
    return Graph(
        title=title or head.topology,
        servers=tuple(
            g for g in head.groups if not g.is_peer and not g.is_members and not g.is_balancer
        ),
        members=members,
        # the cloud's load balancer is no server of the lab: drawn outside the box
        peers=tuple(g for g in head.groups if g.is_peer or g.is_balancer),
        edges=tuple(out),
    )


def _range_notes(base: RuleSet | None, head: RuleSet) -> dict[str, str]:
    """Peer -> 'ranges +0.0.0.0/0, -10.100.0.0/16' for peers whose ranges changed: their
    edges carry the same ports to other addresses, which is a change to review."""

    return {
        change.peer: "ranges "
        + ", ".join([f"+{c}" for c in change.added] + [f"-{c}" for c in change.removed])
        for change in peer_changes(base, head)
    }


# -- Mermaid ------------------------------------------------------------------------------


def mermaid_id(name: str) -> str:
    """Node ids: letters, digits and '_' only, prefixed so none is a Mermaid keyword
    ('end', 'graph') and none starts with 'o' or 'x' right after an arrow."""
    return "g_" + re.sub(r"[^A-Za-z0-9]", "_", name)


def _mermaid_text(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "#quot;").replace("<", "&lt;")


def _group_label(group: Group) -> str:
    roles = "" if group.roles == (group.name,) else ", ".join(group.roles)
    detail = ", ".join(group.cidrs) if group.is_peer else roles
    return f"{group.name}\n{detail}" if detail else group.name


def mermaid(g: Graph) -> str:
    members = g.members.name if g.members else "servers"
    lines = ["flowchart LR"]
    lines.append(f'  subgraph {mermaid_id(BOX)}["{_mermaid_text(members)}: every server"]')
    for group in g.servers:
        label = _mermaid_text(_group_label(group)).replace("\n", "<br/>")
        lines.append(f'    {mermaid_id(group.name)}["{label}"]')
    lines.append("  end")
    if g.members is not None:
        lines.append(
            f'  {mermaid_id(g.members.name)}{{{{"{_mermaid_text(members)}<br/>any server"}}}}'
        )
    for peer in g.peers:
        label = _mermaid_text(_group_label(peer)).replace("\n", "<br/>")
        lines.append(f'  {mermaid_id(peer.name)}(["{label}"])')
    styles = []
    for index, edge in enumerate(g.edges):
        arrow = "-.->" if edge.status == "removed" else "-->"
        label = _mermaid_text(edge.label)
        lines.append(f'  {mermaid_id(edge.source)} {arrow}|"{label}"| {mermaid_id(edge.target)}')
        if edge.status:
            styles.append(
                f"  linkStyle {index} stroke:{STATUS_COLOURS[edge.status]},stroke-width:3px"
            )
    lines.extend(styles)
    lines.append("  classDef peer fill:#f6f8fa,stroke:#57606a,stroke-dasharray:4 3")
    lines.append("  classDef members fill:#ddf4ff,stroke:#0969da")
    if g.peers:
        lines.append(f"  class {','.join(mermaid_id(p.name) for p in g.peers)} peer")
    if g.members is not None:
        lines.append(f"  class {mermaid_id(g.members.name)} members")
    return "\n".join(lines) + "\n"


# -- Graphviz DOT -------------------------------------------------------------------------


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot(g: Graph) -> str:
    members = g.members.name if g.members else "servers"
    lines = [
        f"digraph {_dot_text(g.title)} {{",
        '  graph [rankdir=LR, compound=true, fontname="Helvetica", nodesep=0.4];',
        '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
        "  subgraph cluster_every_server {",
        f"    label={_dot_text(f'{members}: every server')};",
        '    style="rounded,dashed";',
    ]
    for group in g.servers:
        lines.append(f"    {_dot_text(group.name)} [label={_dot_text(_group_label(group))}];")
    lines.append("  }")
    if g.members is not None:
        label = _dot_text(f"{members}\nany server")
        lines.append(f'  {_dot_text(members)} [shape=hexagon, fillcolor="#ddf4ff", label={label}];')
    for peer in g.peers:
        lines.append(
            f'  {_dot_text(peer.name)} [shape=ellipse, style="dashed,filled", '
            f'fillcolor="#f6f8fa", label={_dot_text(_group_label(peer))}];'
        )
    anchor = g.servers[0].name if g.servers else members
    for edge in g.edges:
        attributes = [f"label={_dot_text(edge.label)}"]
        head = edge.target
        if edge.target == BOX:
            head = anchor
            attributes.append("lhead=cluster_every_server")
        if edge.status:
            attributes.append(f'color="{STATUS_COLOURS[edge.status]}", penwidth=2.5')
        if edge.status == "removed":
            attributes.append("style=dashed")
        lines.append(f"  {_dot_text(edge.source)} -> {_dot_text(head)} [{', '.join(attributes)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(ruleset: RuleSet, fmt: str, base: RuleSet | None = None, title: str = "") -> str:
    g = graph(ruleset, base, title)
    return mermaid(g) if fmt == "mermaid" else dot(g)
