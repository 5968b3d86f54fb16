"""`crm-ports check --list`: the checks table people read and the JSON tools read.

The markdown list is tested by id only (tests/test_checks.py); these pin the JSON keys a
tool relies on and that the terminal table wraps its two long columns.
"""

from __future__ import annotations

import json

from crm_ports.policy.registry import REGISTRY
from crm_ports.policy.report import list_checks


def test_json_list_names_each_check_with_its_severity_title_and_fix() -> None:
    assert json.loads(list_checks("json")) == [
        {"id": c.id, "severity": c.severity, "title": c.title, "fix": c.fix}
        for c in (REGISTRY[k] for k in sorted(REGISTRY))
    ]


def test_table_wraps_the_title_and_fix_columns() -> None:
    """The title wraps at 50 characters and the fix at 45, so the table fits a wide
    terminal; every word of each is still there, in order."""
    lines = list_checks("table").splitlines()
    widths = [len(dashes) for dashes in lines[1].split("  ") if dashes]
    assert lines[0].split() == ["ID", "Severity", "Check", "Fix"]
    assert widths[2] <= 50 and widths[3] <= 45
    assert any(len(c.title) > 50 for c in REGISTRY.values())  # so the wrap is exercised
    text = " ".join(" ".join(lines[2:]).split())
    for check in (REGISTRY[k] for k in sorted(REGISTRY)):
        assert check.id in text
        assert all(word in text for word in check.title.split())
