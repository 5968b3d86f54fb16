"""An adopted estate in a lab file (`adopt:`): parsed and checked with one-line errors,
resolved without a group every server carries, and planned with the live groups' names,
descriptions and import ids."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from crm_ports.catalogue.load import load_catalogue
from crm_ports.lab.file import load_lab
from crm_ports.plans.aws import plan_aws
from crm_ports.resolver import resolve_lab
from crm_ports.terraform.resources import aws_import_blocks
from tests.conftest import Result

LAB = """\
name: acme
clouds: [aws]
topology:
  hosts:
    - {name: web, roles: [web-application, deployment-web-service]}
    - {name: back, roles: [asynchronous-service, sandbox-processing]}
    - {name: sql, roles: [sql-server, reporting-services]}
    - {name: dc, roles: [domain-controller]}
client_cidrs: [10.1.0.0/16]
admin_cidrs: [10.2.0.0/24]
aws: {vpc_id: vpc-0abc}
adopt:
  web:
    group_id: sg-0a1
    name: launch-wizard-1
    description: launch-wizard-1 created 2026-01-01
    rules:
      in_administrators_web_tcp_rdp_10_2_0_0_24: sgr-01
      out_web_all-traffic: sgr-02
      in_back_web_tcp_msrpc: sgr-03
  sql: {group_id: sg-0a2, name: sql-box, description: SQL}
  dc: {group_id: sg-0a3, name: dc-box, description: DC}
  back: {group_id: sg-0a4, name: back-box, description: back}
"""


def _lab(tmp_path: Path, text: str = LAB) -> Path:
    path = tmp_path / "acme.yaml"
    path.write_text(text)
    return path


def test_adopted_lab_plans_the_live_groups(tmp_path: Path) -> None:
    lab = load_lab(_lab(tmp_path))
    assert [a.host for a in lab.adopt] == ["back", "dc", "sql", "web"]
    ruleset = resolve_lab(load_catalogue(), lab)
    # No group every server carries: the live instances hold only their own groups.
    assert not any(g.is_members for g in ruleset.groups)
    spread = {r.source for r in ruleset.rules if r.target == "dc" and r.service == "dns"}
    assert spread == {"web", "back", "sql"}
    plan = plan_aws(ruleset, lab.name, adopt=lab.adopt)
    web = plan.security_group("web")
    assert (web.name, web.description, web.import_id) == (
        "launch-wizard-1",
        "launch-wizard-1 created 2026-01-01",
        "sg-0a1",
    )
    assert ("Name", "launch-wizard-1") in web.tags
    assert aws_import_blocks(plan) == [
        {"to": "aws_security_group.sg_back", "id": "sg-0a4"},
        {"to": "aws_security_group.sg_dc", "id": "sg-0a3"},
        {"to": "aws_security_group.sg_sql", "id": "sg-0a2"},
        {"to": "aws_security_group.sg_web", "id": "sg-0a1"},
    ]  # the rules come with their groups: an adopted group holds them inline


def test_a_lab_without_adopt_still_has_the_members_group(tmp_path: Path) -> None:
    text = LAB.split("adopt:")[0]
    lab = load_lab(_lab(tmp_path, text))
    ruleset = resolve_lab(load_catalogue(), lab)
    assert any(g.is_members for g in ruleset.groups)
    assert aws_import_blocks(plan_aws(ruleset, lab.name)) == []


def test_a_rule_key_the_plan_lacks_is_left_alone(tmp_path: Path) -> None:
    """`rules:` records what adopt matched; nothing imports a rule any more (the group holds
    them inline), so a lab edited since, which plans other rules, still plans."""
    lab = load_lab(
        _lab(tmp_path, LAB.replace("in_back_web_tcp_msrpc: sgr", "in_back_web_tcp_x: sgr"))
    )
    plan = plan_aws(resolve_lab(load_catalogue(), lab), lab.name, adopt=lab.adopt)
    assert all(spec.inline for spec in plan.rules)


BREAKS = [
    (
        ("  sql: {group_id: sg-0a2", "  sqlx: {group_id: sg-0a2"),
        ["field 'adopt.sqlx'", "no host 'sqlx'"],
    ),
    (
        ("group_id: sg-0a3", "group_id: sg-0a2"),
        ["field 'adopt.sql.group_id'", "sg-0a2 is adopted by host 'dc' already"],
    ),
    (("group_id: sg-0a3", "group_id: 0a3"), ["field 'adopt.dc.group_id'", "sg-0abc1234"]),
    (("out_web_all-traffic: sgr-02", "out_web_all-traffic: sgr-01"), ["sgr-01 is adopted"]),
    (("clouds: [aws]", "clouds: [azure]"), ["field 'adopt'", "add aws to clouds"]),
]


@pytest.mark.parametrize(("change", "fragments"), BREAKS)
def test_a_bad_adopt_section_is_one_line(
    cli: Callable[..., Result],
    tmp_path: Path,
    change: tuple[str, str],
    fragments: list[str],
) -> None:
    path = _lab(tmp_path, LAB.replace(*change))
    result = cli("validate", str(path))
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "acme.yaml" in lines[0]
    for fragment in fragments:
        assert fragment in lines[0]


def test_adopt_needs_the_labs_own_hosts(cli: Callable[..., Result], tmp_path: Path) -> None:
    text = "name: acme\nclouds: [aws]\ntopology: split-roles\n" + "adopt:" + LAB.split("adopt:")[1]
    result = cli("validate", str(_lab(tmp_path, text)))
    assert result.code == 2
    assert "field 'adopt'" in result.err and "own hosts" in result.err
