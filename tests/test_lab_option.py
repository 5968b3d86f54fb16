"""`--lab` given more than once: every command either takes each lab (one section, stack or
diagram per lab) or refuses the second with exit status 2 and one line; none drops one.
(`check --lab a.yaml --lab b.yaml` checked b only, exit 0.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from crm_ports.cli import LazyGroup
from tests.conftest import REPO, Result

CLI = Callable[..., Result]
CONTOSO = str(REPO / "labs" / "contoso-claims.yaml")
FABRIKAM = str(REPO / "labs" / "fabrikam-full-server.yaml")
INTERNET_ADMIN = str(REPO / "tests" / "fixtures" / "review" / "internet-admin.yaml")

# What each command that takes --lab does with two: "several" or "one" (refused).
DECIDED = {
    "synth": "several",
    "check": "several",
    "diagram": "several",
    "verify": "several",
    "why": "several",
    "review": "several",  # tests/test_review.py: test_lab_option_reviews_only_the_files_given
    "rules": "one",
    "matrix": "one",
    "ports": "one",
    "audit aws": "one",
    "audit azure": "one",
}


def test_every_command_taking_lab_is_decided(cli: CLI) -> None:
    """A new command with --lab must be decided here, and tested below."""
    names = [n for n in LazyGroup.COMMANDS if n != "audit"] + ["audit aws", "audit azure"]
    taking = {n for n in names if "--lab " in cli(*n.split(), "--help").out}
    assert taking == set(DECIDED)


@pytest.mark.parametrize("command", [c for c, how in DECIDED.items() if how == "one"])
def test_a_second_lab_is_refused_where_one_lab_is_shown(cli: CLI, command: str) -> None:
    result = cli(*command.split(), "--lab", CONTOSO, "--lab", FABRIKAM)
    assert result.code == 2, result
    assert result.out == "" and result.err.count("\n") == 1
    assert result.err.startswith("crm-ports: error: command line: Invalid value for '--lab': ")
    assert f"given 2 times, but `crm-ports {command}` shows one lab" in result.err
    assert cli(*command.split(), "--lab", CONTOSO, "--help").code == 0


def test_check_reports_every_lab(cli: CLI) -> None:
    """The lab with findings first: it used to be dropped for the clean one after it."""
    result = cli("check", "--lab", INTERNET_ADMIN, "--lab", FABRIKAM, "--format", "json")
    assert result.code == 1, result.out
    data = json.loads(result.out)
    assert data["labs"] == ["fabrikam-full-server", "internet-admin"]
    assert {f["lab"] for f in data["findings"]} == {"internet-admin"}
    assert "CRM001" in {f["check"] for f in data["findings"]}
    table = cli("check", "--lab", CONTOSO, "--lab", FABRIKAM)
    assert "2 lab(s) checked (contoso-claims, fabrikam-full-server)" in table.out


def test_check_refuses_one_lab_twice(cli: CLI) -> None:
    result = cli("check", "--lab", CONTOSO, "--lab", CONTOSO)
    assert result.code == 2 and result.err.count("\n") == 1
    assert "lab 'contoso-claims': field 'name': name already used by" in result.err


def test_diagram_draws_every_lab(cli: CLI) -> None:
    md = cli("diagram", "--lab", FABRIKAM, "--lab", CONTOSO, "--format", "markdown")
    assert md.code == 0, md.err
    assert [line for line in md.out.splitlines() if line.startswith("#### ")] == [
        "#### contoso-claims",
        "#### fabrikam-full-server",
    ]
    dot = cli("diagram", "--lab", FABRIKAM, "--lab", CONTOSO, "--format", "dot")
    assert dot.code == 0 and dot.out.count("digraph") == 2
    one = cli("diagram", "--lab", FABRIKAM, "--lab", CONTOSO)  # Mermaid: one lab a diagram
    assert one.code == 2 and one.err.count("\n") == 1
    assert "2 labs given (contoso-claims, fabrikam-full-server)" in one.err


@pytest.mark.slow
def test_synth_verify_and_why_take_every_lab(cli: CLI, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli("synth", "--lab", CONTOSO, "--lab", FABRIKAM, "--out", str(out)).code == 0
    stacks = sorted(p.name for p in (out / "stacks").iterdir())
    assert stacks == ["aws-contoso-claims", "aws-fabrikam-full-server", "azure-contoso-claims"]
    verified = cli(
        "verify", "--synth", str(out), "--lab", CONTOSO, "--lab", FABRIKAM, "--format", "json"
    )
    assert verified.code == 0, verified.out
    assert sorted(s["stack"] for s in json.loads(verified.out)["stacks"]) == stacks
    why = cli(
        "why", "crm-full-server", "sql-server", "tcp/1433", "--synth", str(out), "--lab", FABRIKAM
    )
    assert why.code == 0 and "aws-fabrikam-full-server" in why.out, why.out
    packet = ("why", "sql-server", "domain-controller", "tcp/88", "--synth", str(out))
    both = cli(*packet, "--lab", CONTOSO, "--lab", FABRIKAM)
    assert both.code == 0, both
    assert all(stack in both.out for stack in stacks), both.out
