"""`verify`'s interval sets (crm_ports/verify/spans.py) against Python's own sets.

Verify's verdicts are unions, intersections and differences of port and address ranges;
an off-by-one there (an adjacent interval not joined, a difference that keeps its edge)
would let a missing port or an extra range through unnoticed, and the stack tests only
reach the shapes the snapshots happen to hold. So every operation is checked against the
same operation on the plain set of integers, over small random ranges where edges meet.
"""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_ports.errors import InputError
from crm_ports.verify.spans import (
    ALL_ADDRESSES,
    ALL_PORTS,
    MAX_ADDRESS,
    MAX_PORT,
    Spans,
    cidr_span,
    port_span,
)

# Ranges over 0..20, some empty (start > end): small enough that edges touch and overlap.
PAIRS = st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), max_size=6)


def as_set(spans: Spans) -> set[int]:
    return {n for start, end in spans for n in range(start, end + 1)}


def pairs_set(pairs: list[tuple[int, int]]) -> set[int]:
    return {n for start, end in pairs for n in range(start, end + 1)}


def canonical(spans: Spans) -> bool:
    """Sorted, disjoint, never adjacent and never empty: equal sets compare equal."""
    items = spans.items
    return all(a <= b for a, b in items) and all(b + 1 < c for (_, b), (c, _) in pairwise(items))


@settings(max_examples=300, deadline=None)
@given(PAIRS, PAIRS)
def test_set_algebra_matches_python_sets(
    left: list[tuple[int, int]], right: list[tuple[int, int]]
) -> None:
    a, b = Spans.of(left), Spans.of(right)
    assert as_set(a) == pairs_set(left) and canonical(a)
    for result, expected in (
        (a | b, pairs_set(left) | pairs_set(right)),
        (a & b, pairs_set(left) & pairs_set(right)),
        (a - b, pairs_set(left) - pairs_set(right)),
    ):
        assert as_set(result) == expected
        assert canonical(result)
    assert a.covers(b) == (pairs_set(right) <= pairs_set(left))
    assert a.overlaps(b) == bool(pairs_set(left) & pairs_set(right))
    assert bool(a) == bool(pairs_set(left))
    assert [n for n in range(-1, 22) if n in a] == sorted(pairs_set(left))


@settings(max_examples=100, deadline=None)
@given(st.integers(-1, 21), st.integers(-1, 21))
def test_one_is_the_inclusive_range_or_nothing(start: int, end: int) -> None:
    assert as_set(Spans.one(start, end)) == set(range(start, end + 1))
    assert Spans.one(start, end) == Spans.of([(start, end)])


def test_adjacent_ranges_join_and_equal_sets_compare_equal() -> None:
    assert Spans.of([(5, 9), (1, 4)]) == Spans.one(1, 9)
    assert Spans.of([(1, 3), (5, 9)]).items == ((1, 3), (5, 9))
    assert Spans.one(1, 9) - Spans.one(4, 4) == Spans.of([(1, 3), (5, 9)])
    assert "4" not in Spans.one(1, 9)  # only integers are members


def test_ports_text_names_single_ports_and_ranges() -> None:
    assert Spans.of([(80, 80), (443, 443), (49152, 65535)]).ports_text() == "80, 443, 49152-65535"
    assert Spans().ports_text() == ""


def test_cidrs_are_the_fewest_blocks() -> None:
    ten = cidr_span("10.0.0.0/8")
    assert ten.items == ((10 << 24, (11 << 24) - 1),)
    assert ten.cidrs() == ("10.0.0.0/8",)
    assert (ALL_ADDRESSES - ten).cidrs() == ("0.0.0.0/5", "8.0.0.0/7", *_above_ten())
    assert cidr_span(" 192.168.1.7/24 ") == cidr_span("192.168.1.0/24")  # host bits dropped
    assert ALL_ADDRESSES.items == ((0, MAX_ADDRESS),) and MAX_ADDRESS == 2**32 - 1
    with pytest.raises(ValueError):
        cidr_span("2001:db8::/32")


def _above_ten() -> tuple[str, ...]:
    return (
        "11.0.0.0/8",
        "12.0.0.0/6",
        "16.0.0.0/4",
        "32.0.0.0/3",
        "64.0.0.0/2",
        "128.0.0.0/1",
    )


def test_port_span_reads_azure_syntax() -> None:
    assert port_span(" * ") == ALL_PORTS == Spans.one(0, MAX_PORT)
    assert MAX_PORT == 65535
    assert port_span("443") == Spans.one(443, 443)
    assert port_span(" 5985-5986 ") == Spans.one(5985, 5986)
    with pytest.raises((InputError, ValueError)):
        port_span("5986-5985")
