"""Tabular output in the four formats every listing command offers.

Tables are plain text with the layout of tabulate's "simple" format (which, unlike
terminal-width-aware renderers, gives the same bytes on every machine, so table output can
be diffed and pinned like JSON). They are drawn here rather than by tabulate because
importing tabulate (which loads `importlib.metadata` and the `email` package for its
version) and its per-cell width handling cost more than the rest of `crm-ports rules`
together; `tests/test_formats.py` checks byte for byte against tabulate, which stays a test
dependency as the reference.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from typing import Any

FORMATS = ("table", "json", "markdown", "csv")
# `crm-ports diagram`'s own formats, here so that declaring the command's options does not
# load the renderer (`crm_ports.review.diagram`).
DIAGRAM_FORMATS = ("mermaid", "dot")


def to_json(data: Any) -> str:
    import json  # only for JSON output

    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _cell_md(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_rows(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: str,
    *,
    wrap: dict[int, int] | None = None,
) -> str:
    """Rows as a terminal table, GitHub markdown or CSV (JSON is the caller's own shape)."""
    if fmt == "csv":
        out = io.StringIO()
        import csv  # only for CSV output

        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)
        return out.getvalue()
    if fmt == "markdown":
        # Unpadded: GitHub renders it the same, and a changed cell stays a one-line diff.
        lines = [list(headers), ["---"] * len(headers), *rows]
        return "".join("| " + " | ".join(_cell_md(c) for c in line) + " |\n" for line in lines)
    if fmt == "table":
        return render_table(headers, rows, wrap or {})
    raise ValueError(f"unknown format {fmt}")


class _Wrapper(textwrap.TextWrapper):
    """The standard wrapper, but a word longer than a line is cut at the line's end even
    where it has a hyphen (as tabulate cuts it; Python's own wrapper since 3.10 prefers the
    hyphen), so tables keep their bytes."""

    def _handle_long_word(
        self, reversed_chunks: list[str], cur_line: list[str], cur_len: int, width: int
    ) -> None:
        space_left = 1 if width < 1 else width - cur_len
        if space_left > 0:
            chunk = reversed_chunks[-1]
            cur_line.append(chunk[:space_left])
            reversed_chunks[-1] = chunk[space_left:]
        elif not cur_line:
            cur_line.append(reversed_chunks.pop())


def _cell(value: Any, width: int | None) -> str:
    """A cell's text, wrapped to `width` (blank lines dropped)."""
    text = "" if value is None else str(value)
    if width is not None:
        wrapper = _Wrapper(width)
        text = "\n".join(
            "\n".join(wrapper.wrap(line)) for line in text.splitlines() if line.strip()
        )
    return text


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], wrap: dict[int, int]
) -> str:
    """Left-aligned columns two spaces apart, a dashed line under the headers, cells with
    several lines spread over several lines, trailing blanks removed; column `i` wrapped
    at `wrap[i]` characters."""
    texts = [[_cell(value, wrap.get(i)) for i, value in enumerate(row)] for row in rows]
    heads = [str(h) for h in headers]
    # as tabulate: a line break anywhere (even one stripped away below) lays out every row
    # line by line, where an empty row has no line at all
    multiline = any("\n" in c or "\r" in c for row in texts for c in row) or any(
        "\n" in h or "\r" in h for h in heads
    )
    cells = [[c.strip() for c in row] for row in texts]
    widths = [len(h) + 2 for h in heads]
    for row in cells:
        for i, text in enumerate(row):
            width = max(map(len, text.replace("\r", "\n").split("\n"))) if multiline else len(text)
            widths[i] = max(widths[i], width)
    lines = ["  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        if not multiline:
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
            continue
        columns = [
            [part.ljust(w) for part in c.splitlines()] for c, w in zip(row, widths, strict=True)
        ]
        height = max(map(len, columns), default=0)
        for n in range(height):
            parts = (
                col[n] if n < len(col) else " " * w for col, w in zip(columns, widths, strict=True)
            )
            lines.append("  ".join(parts).rstrip())
    return "\n".join(lines) + "\n"
