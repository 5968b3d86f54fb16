"""Synthesis runs under `python -O`: `cdktf.json`'s app and `make synth` pass it, because it
skips the per-argument type checks jsii's generated bindings run on every call into cdktf
(our calls are checked by mypy strict instead). `-O` also drops `assert` statements, so no
check of crm-ports may be one."""

from __future__ import annotations

import ast
import json
import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_no_assert_statement_in_the_package() -> None:
    found = []
    for path in sorted((REPO / "crm_ports").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found += [
            f"{path.relative_to(REPO)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Assert)
        ]
    assert not found, f"`python -O` would skip these checks; raise instead: {found}"


def test_cdktf_app_and_make_synth_run_optimized() -> None:
    app = shlex.split(json.loads((REPO / "cdktf.json").read_text(encoding="utf-8"))["app"])
    assert app[1:] == ["-O", "-m", "crm_ports.app"], app
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^synth:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe is not None
    assert "$(BIN)/python -O -m crm_ports synth" in recipe.group(1), recipe.group(1)
