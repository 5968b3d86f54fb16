"""Pair planned resources with live ones, then say what is missing, unexpected or changed.

Both clouds reduce each side to `Item`s. Pairing goes by *content* first (what the
resource allows: group, direction, protocol, ports, peer), because that is what matters
for security and it survives a rule being re-created by hand without tags. What is left
is paired by its name or tag: those pairs are the rules someone edited in place, reported
as changed with the fields that differ. Anything still unpaired is missing or unexpected,
so a hand-added rule without tags always ends up unexpected.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

from crm_ports.audit.model import CHANGED, MISSING, UNEXPECTED, Change, Finding


@dataclass(frozen=True)
class Item:
    resource: str
    container: str
    name: str  # the plan's name (expected), or the resource's tag or name (live)
    identity: tuple[str, ...]  # content: equal identities are the same permission
    fallback: tuple[str, ...] | None  # second key (tag, name); None pairs by content only
    fields: tuple[tuple[str, str], ...]  # compared once paired; their order is the output's
    summary: str
    live_id: str = ""
    note: str = ""


Key = Callable[[Item], Hashable | None]


def tag_text(tags: Mapping[str, str] | None, keys: frozenset[str]) -> str:
    """Tags as compared: only the keys the plan sets, so default_tags and people's own
    tags on a resource are not drift."""
    return ", ".join(f"{k}={v}" for k, v in sorted((tags or {}).items()) if k in keys)


def _content(item: Item) -> Hashable:
    return (item.resource, item.container, item.identity)


def _fallback(item: Item) -> Hashable | None:
    if item.fallback is None:
        return None
    return (item.resource, item.container, item.fallback)


def _pair(
    expected: Sequence[Item], live: Sequence[Item], key: Key
) -> tuple[list[tuple[Item, Item]], list[Item], list[Item]]:
    pool: dict[Hashable, list[Item]] = defaultdict(list)
    for item in live:
        k = key(item)
        if k is not None:
            pool[k].append(item)
    pairs: list[tuple[Item, Item]] = []
    unpaired: list[Item] = []
    for item in expected:
        k = key(item)
        bucket = pool.get(k) if k is not None else None
        if bucket:
            pairs.append((item, bucket.pop(0)))
        else:
            unpaired.append(item)
    taken = {id(found) for _, found in pairs}
    return pairs, unpaired, [item for item in live if id(item) not in taken]


def _changes(expected: Item, live: Item) -> tuple[Change, ...]:
    actual = dict(live.fields)
    return tuple(
        Change(name, value, actual.get(name, ""))
        for name, value in expected.fields
        if actual.get(name, "") != value
    )


def compare(expected: Sequence[Item], live: Sequence[Item]) -> tuple[Finding, ...]:
    """Findings, sorted; an empty tuple means live state is what the plan says."""
    want = sorted(expected, key=lambda i: (i.resource, i.container, i.name, i.identity))
    have = sorted(live, key=lambda i: (i.resource, i.container, i.live_id, i.identity))
    by_content, want, have = _pair(want, have, _content)
    by_name, want, have = _pair(want, have, _fallback)
    findings: list[Finding] = []
    for planned, found in [*by_content, *by_name]:
        changes = _changes(planned, found)
        if changes:
            findings.append(
                Finding(
                    CHANGED,
                    planned.resource,
                    planned.container,
                    planned.name,
                    planned.summary,
                    found.live_id,
                    changes,
                )
            )
    for planned in want:
        findings.append(
            Finding(
                MISSING,
                planned.resource,
                planned.container,
                planned.name,
                planned.summary,
                note=planned.note,
            )
        )
    for found in have:
        findings.append(
            Finding(
                UNEXPECTED,
                found.resource,
                found.container,
                found.name,
                found.summary,
                found.live_id,
                note=found.note,
            )
        )
    return tuple(sorted(findings, key=Finding.sort_key))
