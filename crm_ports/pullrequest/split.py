"""A review body cut into numbered comments no longer than a platform accepts (GitHub
refuses a comment over 65,536 characters; Atlantis learnt to split in runatlantis#66).

The body is a header (the summary, which always opens part 1) and sections. Sections go
whole into a part while they fit, else whole into the next part; only a section too long
for any part is cut, at line boundaries, and each piece is wrapped again in the section's
own opening and closing lines (its `<details>`), with an open code fence closed before the
cut and reopened after it, and a table's header repeated, so every part is valid Markdown
on its own. Every part starts with the hidden marker and its number, which is how
`crm_ports.pullrequest.post` finds the comments to update.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from crm_ports.errors import InputError

MARKER = "<!-- crm-ports-review -->"
TAG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/]{0,63}")  # nothing that could end the comment
PART_RE = re.compile(r"<!-- crm-ports-review part (\d+)/(\d+) -->")
CONTINUED = "### crm-ports plan review (continued)"
FENCE = "```"
MIN_LINE = 40  # the shortest line a cut may leave
TABLE_RULE = re.compile(r"^\|(\s*:?-+:?\s*\|)+$")


def marker(tag: str | None = None) -> str:
    """The hidden marker of a review; a tagged one (`--tag`) is another review's, so two
    jobs reviewing two folders of one pull request keep a comment each instead of
    overwriting each other's."""
    return MARKER if tag is None else f"<!-- crm-ports-review tag={tag} -->"


def check_tag(tag: str | None) -> None:
    if tag is not None and not TAG_RE.fullmatch(tag):
        raise InputError(
            "command line",
            "",
            "--tag",
            f"{tag!r}: 1 to 64 letters, digits, '.', '_' or '/', starting with a letter or digit",
        )


def part_marker(number: int, total: int) -> str:
    return f"<!-- crm-ports-review part {number}/{total} -->"


def part_number(body: str, tag: str | None = None) -> int | None:
    """The part number a comment's marker carries; None: not a part of this review (of
    this `tag`). Our parts start with the two markers; a comment that only holds them
    further down (a reviewer quoting or pasting a part) is a person's, never to be edited
    or deleted."""
    lines = body.lstrip("\ufeff").splitlines()[:2]
    if len(lines) < 2 or lines[0].strip() != marker(tag):
        return None
    found = PART_RE.fullmatch(lines[1].strip())
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class Section:
    """A block of the body: `lines` wrapped in `opening` and `closing` (a `<details>`
    block's, or none), which a cut repeats around every piece."""

    lines: tuple[str, ...]
    opening: tuple[str, ...] = ()
    closing: tuple[str, ...] = ()

    def all_lines(self) -> list[str]:
        return [*self.opening, *self.lines, *self.closing]


def _size(lines: list[str]) -> int:
    """Characters of the lines joined with newlines, the last one ended too."""
    return sum(len(line) + 1 for line in lines)


@dataclass
class _Context:
    """Where a cut falls: inside a code fence (its opening line) and/or a table (its
    header row and rule), both of which the next piece must reopen."""

    fence: str | None = None
    table: tuple[str, str] | None = None
    previous: str = ""

    def see(self, line: str) -> None:
        stripped = line.lstrip()
        if stripped.startswith(FENCE):
            self.fence = None if self.fence is not None else line
            self.table = None
        elif self.fence is None:
            if TABLE_RULE.match(line.strip()) and self.previous.startswith("|"):
                self.table = (self.previous, line)
            elif not line.startswith("|"):
                self.table = None
        self.previous = line

    def reopen(self) -> list[str]:
        if self.fence is not None:
            return [self.fence]
        return list(self.table) if self.table is not None else []

    def close(self) -> list[str]:
        return [FENCE] if self.fence is not None else []


@dataclass
class _Packer:
    budget: int  # characters a part may hold after its markers
    parts: list[list[str]] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    piece: tuple[int, int] = (0, 0)  # where the open piece's lines start, its wrapper's size

    def room(self) -> int:
        return self.budget - _size(self.current)

    def flush(self) -> None:
        self.parts.append(self.current)
        self.current = [CONTINUED, ""]

    def add_section(self, section: Section) -> None:
        whole = section.all_lines()
        if _size(whole) <= self.room():
            self.current.extend(whole)
            return
        if _size(whole) <= self.budget - _size([CONTINUED, ""]):
            self.flush()
            self.current.extend(whole)
            return
        self._cut(section)

    def _cut(self, section: Section) -> None:
        """The section in pieces, each wrapped in its opening and closing lines. Lines are
        at most `line_limit(section)` long (`split_body` cut longer ones), so a piece of a
        line and a reopened table header or fence always fits in a fresh part; a code
        block that fits in a fresh part is kept whole (half a diagram draws nothing)."""
        context = _Context()
        fresh = self.budget - _size([CONTINUED, "", *section.opening, *section.closing])
        self._open_piece(section, [])
        for unit in _units(section.lines, fresh):
            if _size([*unit, *context.close(), *section.closing]) > self.room():
                self._next_piece(section, context)
            for line in unit:
                if _size([line, *context.close(), *section.closing]) > self.room():
                    self._next_piece(section, context)
                self.current.append(line)
                context.see(line)
        self.current.extend([*context.close(), *section.closing])

    def _open_piece(self, section: Section, reopened: list[str]) -> None:
        self.current.extend([*section.opening, *reopened])
        self.piece = (len(self.current), len(section.opening) + len(reopened))

    def _next_piece(self, section: Section, context: _Context) -> None:
        """Close the piece, start a part, and open the next piece there; a piece still
        empty (or holding only a table's header) moves to the new part whole."""
        reopened = context.reopen()
        start, wrapper = self.piece
        if reopened and self.current[-len(reopened) :] == reopened:
            del self.current[-len(reopened) :]  # a table's header with no row yet moves on
        if len(self.current) <= start:  # nothing in this piece: no empty <details>
            del self.current[start - wrapper :]
        else:
            self.current.extend([*context.close(), *section.closing])
        self.flush()
        self._open_piece(section, reopened)

    def finish(self) -> list[list[str]]:
        if self.current and self.current != [CONTINUED, ""]:
            self.parts.append(self.current)
        return self.parts


def _units(lines: tuple[str, ...], fresh: int) -> list[list[str]]:
    """The lines as units a cut keeps together: a code block (fence to fence) no larger
    than `fresh`, else one line each."""
    units: list[list[str]] = []
    block: list[str] | None = None
    for line in lines:
        if block is not None:
            block.append(line)
            if line.lstrip().startswith(FENCE):
                units.extend([block] if _size(block) <= fresh else [[x] for x in block])
                block = None
        elif line.lstrip().startswith(FENCE):
            block = [line]
        else:
            units.append([line])
    if block is not None:  # a fence the section never closes
        units.extend([x] for x in block)
    return units


def line_limit(budget: int, section: Section) -> int:
    """The longest line a cut section may hold: three of them (a table's header, its
    rule, and a row) with a fence, the section's wrapper and the continued heading fill
    a part at most."""
    wrapper = _size([CONTINUED, "", *section.opening, *section.closing, FENCE])
    return (budget - wrapper) // 3 - 1


def _short_lines(section: Section, limit: int) -> Section:
    """The section with every line longer than `limit` cut into lines of `limit` (and
    an element holding several lines, such as a rendered diagram, taken line by line)."""
    lines: list[str] = []
    for line in (one for element in section.lines for one in element.split("\n")):
        lines.extend([line[i : i + limit] for i in range(0, len(line), limit)] or [""])
    return Section(tuple(lines), section.opening, section.closing)


def split_body(
    header: list[str], sections: list[Section], max_chars: int, tag: str | None = None
) -> list[str]:
    """The parts, each at most `max_chars` characters with its markers; the header must
    fit in the first."""
    check_tag(tag)
    # markers sized for the largest numbers a part count below max_chars can have
    widest = len(f"{marker(tag)}\n{part_marker(max_chars, max_chars)}\n")
    budget = max_chars - widest
    minimum = _size(header) + widest
    if minimum > max_chars:
        raise InputError(
            "command line",
            "",
            "--max-chars",
            f"{max_chars} is too small: the summary alone takes {minimum} characters",
        )
    if any(line_limit(budget, section) < MIN_LINE for section in sections):
        raise InputError(
            "command line",
            "",
            "--max-chars",
            f"{max_chars} is too small to hold a section's opening and closing lines",
        )
    packer = _Packer(budget, current=list(header))
    for section in sections:
        packer.add_section(_short_lines(section, line_limit(budget, section)))
    parts = packer.finish()
    total = len(parts)
    out = []
    for number, lines in enumerate(parts, 1):
        text = "\n".join([marker(tag), part_marker(number, total), *lines]).rstrip("\n") + "\n"
        out.append(text)
    return out
