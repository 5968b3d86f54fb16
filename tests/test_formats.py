"""Tables are drawn by `crm_ports.formats` itself; tabulate's "simple" format, which they
replaced, is the reference they must match byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tabulate import tabulate

from crm_ports.formats import render_rows, render_table

# Text as the catalogue and the reports have it: words, hyphens, punctuation, accents,
# tabs and line breaks (runs of blanks and blank lines included).
TEXT = st.text(st.sampled_from(list("ab cd-é,./:\n\t")), max_size=60)
HEADER = st.text(st.sampled_from(list("abXY \\")), max_size=8)


def reference(headers: list[str], rows: list[list[str]], wrap: dict[int, int]) -> str:
    widths = [wrap.get(i) for i in range(len(headers))] if wrap else None
    table: str = tabulate(
        rows, headers=headers, tablefmt="simple", maxcolwidths=widths, disable_numparse=True
    )
    return table + "\n"


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]], dict[int, int]]:
    columns = draw(st.integers(1, 5))
    headers = draw(st.lists(HEADER, min_size=columns, max_size=columns))
    rows = draw(st.lists(st.lists(TEXT, min_size=columns, max_size=columns), max_size=6))
    wrap = draw(st.dictionaries(st.integers(0, columns - 1), st.integers(1, 30)))
    # tabulate casts a wrapped cell that is blank but not empty with int() and fails
    for row in rows:
        for i in wrap:
            if row[i] and not row[i].strip():
                row[i] = ""
    return headers, rows, wrap


@settings(max_examples=400, deadline=None)
@given(tables())
def test_tables_match_tabulate(table: tuple[list[str], list[list[str]], dict[int, int]]) -> None:
    headers, rows, wrap = table
    assert render_table(headers, rows, wrap) == reference(headers, rows, wrap)


@pytest.mark.parametrize(
    ("rows", "wrap"),
    [
        ([["aaaa-a.", "x"]], {0: 3}),  # a long word is cut at the width, not at its hyphen
        ([["", "\n"]], {}),  # a line break anywhere: a row of empty cells has no line
        ([], {}),  # headers and the dashed line only
        ([["first line\nsecond", "  padded  "]], {}),
        ([[None, 3]], {}),  # not text: None is empty, numbers as str() gives them
    ],
)
def test_edge_cases_match_tabulate(rows: list[list[object]], wrap: dict[int, int]) -> None:
    headers = ["From", "To"]
    expected = reference(headers, [["" if c is None else str(c) for c in r] for r in rows], wrap)
    assert render_rows(headers, rows, "table", wrap=wrap) == expected
