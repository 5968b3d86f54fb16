"""The README and the pages of docs/ stay true: their generated tables match the code,
their `crm-ports` examples run, and the README's construct example synthesizes."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from crm_ports.catalogue.load import load_catalogue
from crm_ports.options import Options
from crm_ports.policy.report import list_checks
from crm_ports.views import render_ports
from tests.conftest import REPO, Result
from tests.readme import (
    CATALOGUE,
    COMMAND_LINE,
    README,
    REVIEWING,
    SPEED,
    block,
    pages,
    run_python_block,
)


def test_ports_table_matches_the_catalogue() -> None:
    expected = render_ports(load_catalogue(), Options(), "markdown")
    assert block("ports", CATALOGUE) == expected, "regenerate: .venv/bin/python -m tests.readme"


def test_checks_table_matches_the_registry() -> None:
    assert block("checks", REVIEWING) == list_checks("markdown"), (
        "regenerate: .venv/bin/python -m tests.readme"
    )


def test_speed_tables_are_one_benchmark_run() -> None:
    """The speed page's figures are `benchmarks/results.json`'s, printed by the
    benchmark's own report (`synth_bench.py --markdown`), never edited by hand."""
    from benchmarks.report import readme_tables

    results = json.loads((REPO / "benchmarks" / "results.json").read_text(encoding="utf-8"))
    assert block("bench", SPEED) == readme_tables(results), (
        "regenerate: .venv/bin/python -m tests.readme"
    )


def test_validate_count_is_what_validate_prints(cli: Callable[..., Result]) -> None:
    """The catalogue page says how many topology and option combinations `validate`
    resolves for the built-in catalogue: the number the command prints."""
    stated = re.search(
        r"\((\d+)\s+for\s+the\s+built-in\s+one\)", CATALOGUE.read_text(encoding="utf-8")
    )
    assert stated, "docs/catalogue.md no longer states the count"
    result = cli("validate", str(REPO / "catalog"))
    printed = re.search(r"resolved (\d+) topology and option combinations", result.out)
    assert result.code == 0 and printed, result
    assert stated.group(1) == printed.group(1)


def test_options_are_on_the_commands_the_readme_names(cli: Callable[..., Result]) -> None:
    """The command line page's Options section names the commands that take the option
    flags: those whose --help lists them (validate, diff, verify and why take none)."""
    text = COMMAND_LINE.read_text(encoding="utf-8")
    section = text.split("\n## Options\n", 1)[1].split(") and in lab files", 1)[0]
    named = set(re.findall(r"`((?:audit )?[a-z]+)`", section))
    commands = ["check", "diagram", "diff", "matrix", "ports", "rules", "synth", "validate"]
    commands += ["verify", "why", "audit aws", "audit azure"]
    taking = {c for c in commands if "--web-port" in cli(*c.split(), "--help").out}
    assert named == taking


def _examples() -> list[str]:
    """The `crm-ports` lines of every sh block of the README and docs/, each once."""
    lines: list[str] = []
    for page in pages():
        for code in re.findall(r"```sh\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL):
            for line in code.splitlines():
                command = line.split("#", 1)[0].strip()
                # Those needing a git ref, a synth folder, a cloud, a pipe or the scaffold
                # of `crm-ports init` (tests/test_init.py) or an adopted estate
                # (tests/test_user_repository.py) run in their own tests.
                needs = (" synth", "audit", "origin/", "HEAD~", "cdktf.out", "|")
                needs += ("labs/example.yaml",)
                needs += ("adopt ", "labs/acme.yaml")
                if command.startswith("crm-ports ") and not any(n in command for n in needs):
                    lines.append(command)
    return list(dict.fromkeys(lines))


def test_the_pages_have_examples() -> None:
    """A page renamed or moved out of docs/ would silently drop its examples."""
    assert len(_examples()) >= 15


@pytest.mark.parametrize("command", _examples())
def test_readme_examples_run(
    cli: Callable[..., Result], command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    words = shlex.split(command.split(">", 1)[0])[1:]
    if "--catalog" in words:
        i = words.index("--catalog")
        words[i + 1] = str(REPO / "catalog")
    words = [
        str(REPO / w) if w.startswith(("labs/", "catalog/", "tests/fixtures/")) else w
        for w in words
    ]
    if "labs/*.yaml" in command:
        words = [w for w in words if not w.endswith("*.yaml")] + [
            str(p) for p in sorted((REPO / "labs").glob("*.yaml"))
        ]
    if "--all" in words:
        # `--all` is every lab of the project: a user's folder holding the command line
        # page's project file and this repository's lab files.
        (tmp_path / "crm-ports.yaml").write_text(project_file_block())
        (tmp_path / "labs").symlink_to(REPO / "labs")
    monkeypatch.chdir(tmp_path)
    result = cli(*words)
    # Each example succeeds as written: one exiting 1 (drift, a policy error, a failing
    # verify) would show the reader a failing command as if it were the way to work.
    assert result.code == 0, (command, result.code, result.err)


def project_file_block() -> str:
    """The project file of the command line page, as written there."""
    text = block("project-file", COMMAND_LINE)
    found = re.search(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert found, "the project-file block holds no yaml"
    return found.group(1)


def test_readme_construct_example_synthesizes(tmp_path: Path) -> None:
    """The README's construct example, run as written: an `AwsCrmFirewall` for a resolved
    rule set, the client ranges a Terraform variable, the front end's groups an output."""
    out = run_python_block("construct-app", README, tmp_path)
    data = json.loads((out / "stacks" / "my-crm" / "cdk.tf.json").read_text())
    assert data["output"]["web_sgs"]["value"] == [
        "${aws_security_group.sg_crm-front-end.id}",
        "${aws_security_group.sg_lab-servers.id}",
    ]
    assert "office_ranges" in data["variable"]
    assert data["resource"]["aws_vpc_security_group_egress_rule"], "egress: strict writes egress"


def test_the_mirror_block_is_the_one_the_tests_use(tmp_path: Path) -> None:
    """docs/deploying.md's `filesystem_mirror` block is, its folder aside, the CLI
    configuration every Terraform test runs with (`tests/tf_harness.write_cli_config`)."""
    from tests.readme import DEPLOYING
    from tests.tf_harness import write_cli_config

    shown = block("tf-mirror", DEPLOYING).split("```hcl\n", 1)[1].rsplit("```", 1)[0]
    folder = re.search(r'path\s+=\s+"([^"]+)"', shown)
    assert folder, shown
    assert shown == write_cli_config(tmp_path, Path(folder.group(1))).read_text(encoding="utf-8")
