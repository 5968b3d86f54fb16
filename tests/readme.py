"""Generated blocks of README.md: `<!-- NAME:begin -->` ... `<!-- NAME:end -->`."""

from __future__ import annotations

import re

from tests.conftest import REPO

README = REPO / "README.md"


def block(name: str, text: str | None = None) -> str:
    source = README.read_text(encoding="utf-8") if text is None else text
    match = re.search(rf"<!-- {name}:begin -->\n(.*?)<!-- {name}:end -->", source, re.DOTALL)
    assert match, f"README.md has no {name} block"
    return match.group(1)


def replace_block(name: str, content: str) -> None:
    """Rewrite one block (used by `python -m tests.readme`, never by a test)."""
    text = README.read_text(encoding="utf-8")
    old = block(name, text)
    README.write_text(
        text.replace(
            f"<!-- {name}:begin -->\n{old}<!-- {name}:end -->",
            f"<!-- {name}:begin -->\n{content}<!-- {name}:end -->",
        ),
        encoding="utf-8",
    )


if __name__ == "__main__":
    import json

    from benchmarks.report import readme_tables
    from crm_ports.catalogue.load import load_catalogue
    from crm_ports.options import Options
    from crm_ports.policy.report import list_checks
    from crm_ports.views import render_ports

    replace_block("ports", render_ports(load_catalogue(), Options(), "markdown"))
    replace_block("checks", list_checks("markdown"))
    results = json.loads((REPO / "benchmarks" / "results.json").read_text(encoding="utf-8"))
    replace_block("bench", readme_tables(results))
    print("README.md: ports, checks and bench blocks regenerated")
