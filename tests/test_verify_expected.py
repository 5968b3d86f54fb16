"""`verify`'s expected side (crm_ports/verify/expected.py) for a rule set with no members
group.

An adopted estate's instances hold only their own groups, so its rule set spreads the
"every server" flows over the servers and has no members group; the snapshot labs all
have one, so only this reaches `expected_reach` without it.
"""

from __future__ import annotations

from pathlib import Path

from crm_ports.catalogue.load import load_catalogue
from crm_ports.lab.file import load_lab
from crm_ports.resolver import resolve_lab
from crm_ports.verify.expected import expected_reach
from tests.test_adopt_lab import LAB


def test_an_adopted_estate_is_expected_server_by_server(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(LAB, encoding="utf-8")
    lab = load_lab(path)
    catalogue = load_catalogue()
    ruleset = resolve_lab(catalogue, lab)
    assert not any(g.is_members for g in ruleset.groups)
    expected = expected_reach(catalogue, lab)
    assert (expected.lab, expected.servers) == ("acme", ("back", "dc", "sql", "web"))
    named = set(expected.servers) | {p.name for p in expected.peers}
    assert all({w.source, w.target} <= named for w in expected.wants)
    dns = {w.source for w in expected.wants if w.target == "dc" and w.rule.endswith(".dns")}
    assert dns == {"web", "back", "sql"}
