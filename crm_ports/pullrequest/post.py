"""The review's parts on the pull request, the way infracost's `--behavior update` and
tfcmt keep theirs: one comment per part, found again by its hidden marker and edited in
place, so the conversation holds one review and its notifications stay few.

`update` edits the part whose number matches (the first such comment), creates the parts
that have none, leaves a part whose text is unchanged alone, and deletes the parts past
the new last one; `new` adds every part again; `off` posts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_ports.pullrequest.platforms import Comment, Platform
from crm_ports.pullrequest.split import part_number

MODES = ("update", "new", "off")


@dataclass(frozen=True)
class Posted:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    def words(self) -> str:
        return (
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.deleted} deleted"
        )


def _ours(comments: list[Comment], tag: str | None) -> tuple[dict[int, Comment], list[Comment]]:
    """The first comment of each part number, and every other part of ours (of this tag:
    another tag's parts are another review's)."""
    first: dict[int, Comment] = {}
    others = []
    for comment in comments:
        number = part_number(comment.body, tag)
        if number is None:
            continue
        if number in first:
            others.append(comment)
        else:
            first[number] = comment
    return first, others


def post(target: Platform, parts: list[str], mode: str, tag: str | None = None) -> Posted:
    if mode == "off":
        return Posted()
    if mode == "new":
        for body in parts:
            target.create(body)
        return Posted(created=len(parts))
    first, others = _ours(target.comments(), tag)
    created = updated = unchanged = 0
    for number, body in enumerate(parts, 1):
        found = first.get(number)
        if found is None:
            target.create(body)
            created += 1
        elif found.body.rstrip("\n") == body.rstrip("\n"):  # platforms may trim the end
            unchanged += 1
        else:
            target.update(found, body)
            updated += 1
    stale = [c for n, c in sorted(first.items()) if n > len(parts)]
    stale += [c for c in others if (part_number(c.body, tag) or 0) > len(parts)]
    for comment in stale:
        target.delete(comment)
    return Posted(created, updated, unchanged, len(stale))
