"""Tabular output in the four formats every listing command offers.

Tables are rendered by tabulate, which (unlike terminal-width-aware renderers) gives the
same bytes on every machine, so table output can be diffed and pinned like JSON. It is
imported only for tables: JSON, markdown and CSV do not need it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

FORMATS = ("table", "json", "markdown", "csv")


def to_json(data: Any) -> str:
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
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)
        return out.getvalue()
    if fmt == "markdown":
        # Unpadded: GitHub renders it the same, and a changed cell stays a one-line diff.
        lines = [list(headers), ["---"] * len(headers), *rows]
        return "".join("| " + " | ".join(_cell_md(c) for c in line) + " |\n" for line in lines)
    if fmt == "table":
        from tabulate import tabulate

        widths = None
        if wrap:
            widths = [wrap.get(i) for i in range(len(headers))]
        return (
            tabulate(
                [list(r) for r in rows],
                headers=list(headers),
                tablefmt="simple",
                maxcolwidths=widths,
                disable_numparse=True,
            )
            + "\n"
        )
    raise ValueError(f"unknown format {fmt}")
