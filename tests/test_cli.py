"""The command line: formats, the JSON interface, help texts, and that the commands which
do not synthesize never load cdktf or jsii (so never start Node)."""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, Result
from tests.readme import DEPLOYING


@pytest.mark.parametrize("command", ["ports", "rules", "matrix"])
@pytest.mark.parametrize("fmt", ["table", "json", "markdown", "csv"])
def test_formats(cli: Callable[..., Result], command: str, fmt: str) -> None:
    result = cli(command, "--format", fmt)
    assert result.code == 0, result.err
    if fmt == "json":
        json.loads(result.out)
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(result.out)))
        assert len(rows) > 5 and len({len(r) for r in rows}) == 1
    elif fmt == "markdown":
        assert result.out.splitlines()[1].startswith("| --- |")
    else:
        assert "\n" in result.out and "|" not in result.out.splitlines()[0]


def test_rules_json_shape(cli: Callable[..., Result]) -> None:
    data = json.loads(cli("rules", "--format", "json").out)
    assert set(data) >= {"topology", "options", "groups", "rules"}
    assert data["topology"] == "split-roles"
    rule = data["rules"][0]
    assert set(rule) >= {
        "id",
        "from",
        "to",
        "protocol",
        "from_port",
        "to_port",
        "service",
        "description",
        "refs",
    }


def test_json_is_sorted_and_stable_across_directories(tmp_path: Path) -> None:
    outputs = []
    for where in (REPO, tmp_path):
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "crm_ports",
                "rules",
                "--format",
                "json",
                "--lab",
                str(REPO / "labs" / "contoso-claims.yaml"),
            ],
            cwd=where,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": str(len(str(where)))},
        )
        outputs.append(run.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0] == json.dumps(json.loads(outputs[0]), indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--all", "--format", "json"],
        ["diagram", "--lab", "labs/contoso-claims.yaml", "--format", "dot"],
        ["matrix", "--format", "csv"],
    ],
)
def test_output_independent_of_the_hash_seed(args: list[str]) -> None:
    outputs = {
        subprocess.run(
            [sys.executable, "-m", "crm_ports", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1 and outputs.pop()


def test_output_file_is_written_whole(cli: Callable[..., Result], tmp_path: Path) -> None:
    target = tmp_path / "rules.csv"
    assert cli("rules", "--format", "csv", "-o", str(target)).code == 0
    assert target.read_text().startswith("From,To,Protocol")
    assert [p.name for p in tmp_path.iterdir()] == ["rules.csv"]


def test_output_over_an_existing_file_is_a_redirection(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    """`-o FILE` on an existing file leaves what `> FILE` would: the file keeps its own
    permissions (a private report stays private), and a symbolic link is written through
    to its target rather than replaced by a file."""
    private = tmp_path / "private.csv"
    private.write_text("old\n")
    private.chmod(0o600)
    assert cli("rules", "--format", "csv", "-o", str(private)).code == 0
    assert private.read_text().startswith("From,To,Protocol")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    target = tmp_path / "target.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to("target.csv")
    assert cli("rules", "--format", "csv", "-o", str(link)).code == 0
    assert link.is_symlink() and target.read_text().startswith("From,To,Protocol")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "private.csv", "target.csv"]


def test_lab_options_and_flag_overrides(cli: Callable[..., Result]) -> None:
    lab = str(REPO / "labs" / "fabrikam-full-server.yaml")
    data = json.loads(cli("rules", "--lab", lab, "--format", "json").out)
    assert data["options"]["web_port"] == 5555 and data["options"]["phase"] == "operation"
    data = json.loads(cli("rules", "--lab", lab, "--web-port", "8080", "--format", "json").out)
    assert data["options"]["web_port"] == 8080 and data["options"]["sql_port"] == 1533


COMMANDS = [
    "audit",
    "audit aws",
    "audit azure",
    "check",
    "diagram",
    "diff",
    "init",
    "matrix",
    "ports",
    "review",
    "rules",
    "synth",
    "validate",
    "verify",
    "why",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_examples(cli: Callable[..., Result], command: str) -> None:
    result = cli(*command.split(), "--help")
    assert result.code == 0 and "Examples:" in result.out


def test_why_help_names_the_peer_groups(cli: Callable[..., Result]) -> None:
    """`why` takes host groups and peer groups by name: its help names the peers as
    `rules` calls them (a role name such as mail-server is no group)."""
    help_text = " ".join(cli("why", "--help").out.split())
    listed = help_text.split("peers (", 1)[1].split(")", 1)[0].split(", ")
    groups = json.loads(cli("rules", "--format", "json").out)["groups"]
    assert sorted(listed) == sorted(g["name"] for g in groups if g["kind"] == "peer")


def _check_ids(text: str) -> list[str]:
    """`CRM001-CRM004, CRM006` as the ids it names."""
    ids = []
    for part in text.split(", "):
        first, _, last = part.partition("-")
        ids += [f"CRM{n:03d}" for n in range(int(first[3:]), int((last or first)[3:]) + 1)]
    return ids


@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_audit_help_names_the_checks_live_rules_can_fail(
    cli: Callable[..., Result], cloud: str
) -> None:
    """--fail-on's help lists the error checks that judge live rules (those with a stack
    side, and the quotas), as docs/deploying.md does; CRM005 and CRM008 judge options only."""
    from crm_ports.policy.base import ERROR, Check
    from crm_ports.policy.crm007_quotas import Quotas
    from crm_ports.policy.registry import REGISTRY

    live = sorted(
        c.id
        for c in REGISTRY.values()
        if c.severity == ERROR and (type(c).on_stack is not Check.on_stack or isinstance(c, Quotas))
    )
    help_text = " ".join(cli("audit", cloud, "--help").out.split())
    listed = help_text.split("a policy error (", 1)[1].split(")", 1)[0]
    assert _check_ids(listed) == live
    page = " ".join(DEPLOYING.read_text(encoding="utf-8").split())
    assert f"policy checks ({listed};" in page


def _help_examples(cli: Callable[..., Result], command: str) -> list[str]:
    text = cli(command, "--help").out
    lines = text.split("Examples:", 1)[1].splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.strip().startswith("crm-")]


@pytest.mark.parametrize("command", ["ports", "rules", "matrix", "validate", "check", "diagram"])
def test_help_examples_run(
    cli: Callable[..., Result], command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each example of a command's --help runs as a new user would type it, in a folder
    holding the files the examples name (those needing a git ref, a synthesized folder or
    a pipe run in the documentation's tests, tests/test_readme.py)."""
    (tmp_path / "labs").symlink_to(REPO / "labs")
    (tmp_path / "catalog").symlink_to(REPO / "catalog")
    (tmp_path / "my-catalog").symlink_to(REPO / "catalog")
    catalogue = "".join(p.read_text() for p in sorted((REPO / "catalog").glob("*.yaml")))
    (tmp_path / "my-catalogue.yaml").write_text(catalogue)
    monkeypatch.chdir(tmp_path)
    examples = _help_examples(cli, command)
    assert examples
    for example in examples:
        if any(skip in example for skip in ("origin/", "cdktf.out", "|", "--all")):
            continue
        words = shlex.split(example.split(">", 1)[0])[1:]
        result = cli(*words)
        assert result.code in (0, 1) and "Traceback" not in result.err, (example, result.err)


def test_core_commands_never_load_cdktf() -> None:
    code = (
        "import sys; from crm_ports.cli import run;"
        "codes = [run(a) for a in (['rules'], ['ports'], ['matrix'], ['validate', 'catalog'],"
        " ['--help'])];"
        "print(codes, sorted(m for m in sys.modules if m.split('.')[0] in ('cdktf', 'cdktn',"
        " 'jsii', 'constructs')))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert run.stdout.strip().endswith("[0, 0, 0, 0, 0] []")
