"""`crm-ports diagram`: Mermaid checked for structure (and rendered by mermaid-cli when it
is installed), DOT parsed by Graphviz; both deterministic, with changes marked."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from crm_ports.catalogue.load import load_catalogue
from crm_ports.lab.model import default_labs
from crm_ports.options import Options
from crm_ports.resolver.engine import resolve
from crm_ports.review.diagram import BOX, mermaid_id, render
from tests.conftest import REPO, Result
from tests.tf_harness import require_tool

CLI = Callable[..., Result]
TOPOLOGIES = [lab.options.topology for lab in default_labs()]
NODE = re.compile(r"^\s+(g_\w+)(\[\"|\{\{\"|\(\[\")")
EDGE = re.compile(r'^\s+(g_\w+) (-->|-\.->)\|"[^"]*"\| (g_\w+)$')


def node_bin(name: str) -> str:
    """An npm tool: the repository's node_modules/.bin first, then PATH (for require_tool)."""
    local = REPO / "node_modules" / ".bin" / name
    return str(local) if local.exists() else name


def check_mermaid(text: str) -> None:
    """What a Mermaid flowchart needs to parse: a header, balanced subgraphs, every edge
    between declared nodes or subgraphs, and linkStyle indexes that exist."""
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    depth, declared, edges, styles = 0, set(), 0, []
    for line in lines[1:]:
        if line.strip().startswith("subgraph "):
            depth += 1
            declared.add(line.split()[1].split("[")[0])
        elif line.strip() == "end":
            depth -= 1
            assert depth >= 0
        elif m := NODE.match(line):
            assert m.group(1) not in declared, f"node declared twice: {line}"
            declared.add(m.group(1))
        elif m := EDGE.match(line):
            assert m.group(1) in declared and m.group(3) in declared, line
            edges += 1
        elif line.strip().startswith("linkStyle "):
            styles.append(int(line.split()[1]))
        else:
            assert line.strip().startswith(("classDef ", "class ")), f"unexpected line: {line}"
    assert depth == 0
    assert all(0 <= i < edges for i in styles)


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_mermaid_structure(cli: CLI, topology: str) -> None:
    result = cli("diagram", "--topology", topology)
    assert result.code == 0
    check_mermaid(result.out)
    assert result.out == cli("diagram", "--topology", topology).out
    members = next(
        g for g in resolve(load_catalogue(), Options(topology=topology)).groups if g.is_members
    )
    # the members group: one hexagon, and what every server opens is one edge into the box
    assert f'{mermaid_id(members.name)}{{{{"' in result.out
    assert f"{mermaid_id(members.name)} -->" in result.out
    assert result.out.count(f"| {mermaid_id(BOX)}") >= 1
    assert "class g_administrators,g_clients" in result.out  # peers styled apart


def test_changed_edges_are_marked() -> None:
    catalogue = load_catalogue()
    base = resolve(catalogue, Options())
    head = resolve(catalogue, Options(sql_port=1533, https=False))
    text = render(head, "mermaid", base=base)
    check_mermaid(text)
    assert '"changed: +TCP 1533, -TCP 1433"| g_sql_server' in text  # says what changed
    assert "linkStyle" in text and "#bf8700" in text
    dot_text = render(head, "dot", base=base)
    assert 'label="changed: +TCP 1533, -TCP 1433"' in dot_text


def test_changed_edge_keeps_the_ports_that_stay_apart() -> None:
    catalogue = load_catalogue()
    base = resolve(catalogue, Options(topology="full-server"))
    head = resolve(
        catalogue, Options(topology="full-server", sql_port=1533, sql_named_instance=True)
    )
    text = render(head, "mermaid", base=base)
    assert '"changed: +TCP 1533 · +UDP 1434, -TCP 1433; kept TCP 80, 443"' in text


def test_peer_range_change_marks_its_edges() -> None:
    catalogue = load_catalogue()
    base = resolve(catalogue, Options())
    head = resolve(catalogue, Options(client_cidrs=("10.100.0.0/16", "0.0.0.0/0")))
    text = render(head, "mermaid", base=base)
    check_mermaid(text)
    assert '"changed: ranges +0.0.0.0/0: TCP 88, 135, 389, 636, 3268-3269' in text


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_dot_renders_with_graphviz(cli: CLI, tmp_path: Path, topology: str) -> None:
    dot = require_tool("dot", "Graphviz must parse the DOT output (Debian package graphviz)")
    result = cli(
        "diagram", "--topology", topology, "--format", "dot", "-o", str(tmp_path / "g.dot")
    )
    assert result.code == 0
    done = subprocess.run(
        [str(dot), "-Tsvg", str(tmp_path / "g.dot")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and "<svg" in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_mermaid_renders_with_mermaid_cli(cli: CLI, tmp_path: Path, topology: str) -> None:
    mmdc = require_tool(
        node_bin("mmdc"),
        "mermaid-cli renders the flowchart (npm @mermaid-js/mermaid-cli, installed with "
        "PUPPETEER_SKIP_DOWNLOAD=1, plus the Debian chromium package)",
    )
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    browser = require_tool(chromium or "chromium", "mermaid-cli drives a headless Chromium")
    config = tmp_path / "puppeteer.json"
    config.write_text(f'{{"executablePath": "{browser}", "args": ["--no-sandbox"]}}')
    source = tmp_path / "g.mmd"
    assert cli("diagram", "--topology", topology, "-o", str(source)).code == 0
    done = subprocess.run(
        [str(mmdc), "-q", "-p", str(config), "-i", str(source), "-o", str(tmp_path / "g.svg")],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "<svg" in (tmp_path / "g.svg").read_text()


def test_lab_file_title_and_bad_option(cli: CLI) -> None:
    dot = cli("diagram", "--lab", str(REPO / "labs" / "contoso-claims.yaml"), "--format", "dot")
    assert dot.out.startswith('digraph "contoso-claims" {')
    bad = cli("diagram", "--sql-port", "70000")
    assert bad.code == 2 and bad.out == ""


def test_diagram_base_draws_the_changed_lab(cli: CLI, tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    head = tmp_path / "head.yaml"
    base.write_text("name: lab\nclouds: [aws]\n")
    head.write_text("name: lab\nclouds: [aws]\noptions: {sql_port: 1533}\n")
    result = cli("diagram", "--base", str(base), "--lab", str(head))
    assert result.code == 0, result.err
    check_mermaid(result.out)
    assert '"changed: +TCP 1533, -TCP 1433"| g_sql_server' in result.out
    markdown = cli("diagram", "--base", str(base), "--lab", str(head), "--format", "markdown")
    assert markdown.out.startswith("#### lab\n\n```mermaid\nflowchart LR\n")
    same = cli("diagram", "--base", str(base), "--lab", str(base), "--format", "markdown")
    assert same.code == 0 and same.out == f"No lab changed since `{base}`.\n"
    flags = cli("diagram", "--base", str(base), "--sql-port", "1533")
    assert flags.code == 2 and "drop the option flags" in flags.err
