"""Marked blocks of the documentation (README.md and docs/*.md):
`<!-- NAME:begin -->` ... `<!-- NAME:end -->`.

Some are generated (ports, checks, bench: `python -m tests.readme` rewrites them in whichever
page holds them), the others are run word for word by a test, which names the page it reads:
`block("deploy", DEPLOYING)`.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REPO

README = REPO / "README.md"
DOCS = REPO / "docs"
DEPLOYING = DOCS / "deploying.md"
COMMAND_LINE = DOCS / "command-line.md"
CATALOGUE = DOCS / "catalogue.md"
CONSTRUCTS = DOCS / "constructs.md"
REVIEWING = DOCS / "reviewing.md"
CDK_FLAVOURS = DOCS / "cdk-flavours.md"
SPEED = DOCS / "speed.md"


def pages() -> list[Path]:
    """The documentation: the README, then the pages of docs/ by name."""
    return [README, *sorted(DOCS.glob("*.md"))]


def _name(page: Path) -> str:
    return page.relative_to(REPO).as_posix()


def _pattern(name: str) -> re.Pattern[str]:
    marker = re.escape(name)
    return re.compile(rf"<!-- {marker}:begin -->\n(.*?)<!-- {marker}:end -->", re.DOTALL)


def block(name: str, page: Path, text: str | None = None) -> str:
    """The text between the NAME markers of `page` (or of `text`, that page's contents)."""
    source = page.read_text(encoding="utf-8") if text is None else text
    match = _pattern(name).search(source)
    assert match, f"{_name(page)} has no {name} block"
    return match.group(1)


def holder(name: str) -> Path:
    """The one page that holds block NAME."""
    found = [p for p in pages() if _pattern(name).search(p.read_text(encoding="utf-8"))]
    assert len(found) == 1, f"block {name} is on {[_name(p) for p in found] or 'no page'}"
    return found[0]


def python_block(name: str, page: Path) -> str:
    """The code of the Python block NAME of `page`."""
    return block(name, page).split("```python\n", 1)[1].rsplit("```", 1)[0]


def run_python_block(name: str, page: Path, folder: Path) -> Path:
    """Run the Python app of block NAME as a user would (`python app.py` in `folder`, this
    checkout's crm_ports importable); its `cdktf.out`, or a failure with its stderr."""
    return run_python_app(python_block(name, page), folder)


def run_python_app(code: str, folder: Path) -> Path:
    """Run `code` as `python app.py` in `folder` (this checkout's crm_ports importable);
    its `cdktf.out`, or a failure with its stderr."""
    import os
    import subprocess
    import sys

    (folder / "app.py").write_text(code, encoding="utf-8")
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return folder / "cdktf.out"


def replace_block(name: str, content: str) -> Path:
    """Rewrite one block where it is (used by `python -m tests.readme`, never by a test)."""
    page = holder(name)
    text = page.read_text(encoding="utf-8")
    old = block(name, page, text)
    page.write_text(
        text.replace(
            f"<!-- {name}:begin -->\n{old}<!-- {name}:end -->",
            f"<!-- {name}:begin -->\n{content}<!-- {name}:end -->",
        ),
        encoding="utf-8",
    )
    return page


if __name__ == "__main__":
    import json

    from benchmarks.report import readme_tables
    from crm_ports.catalogue.load import load_catalogue
    from crm_ports.options import Options
    from crm_ports.policy.report import list_checks
    from crm_ports.views import render_ports

    results = json.loads((REPO / "benchmarks" / "results.json").read_text(encoding="utf-8"))
    generated = {
        "ports": render_ports(load_catalogue(), Options(), "markdown"),
        "checks": list_checks("markdown"),
        "bench": readme_tables(results),
    }
    for name, content in generated.items():
        print(f"{_name(replace_block(name, content))}: {name} block regenerated")
