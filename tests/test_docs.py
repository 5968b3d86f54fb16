"""The documentation holds together: every relative link of README.md and docs/*.md leads to
a file that exists, every `#anchor` to a heading of its page (GitHub's anchors), and every
page of docs/ says what it is, links back to the README and is linked from it.

The pages are parsed with markdown-it-py (CommonMark, plus GitHub's tables), so links in
code spans and fenced blocks are not links, and reference-style links count."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from tests.conftest import REPO
from tests.readme import DOCS, README, pages

# Pages other work writes: linked already, checked like any page once they exist.
PENDING: set[Path] = set()

_PARSER = MarkdownIt("commonmark").enable("table")


def slug(text: str) -> str:
    """GitHub's anchor for a heading's text: lower case, punctuation dropped except '-' and
    '_', each space a '-' (github-slugger)."""
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def _plain(inline: Token) -> str:
    """A heading's text as rendered: code spans' contents, link texts, no markup."""
    parts = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)


def anchors(text: str) -> set[str]:
    """The anchors of a page's headings; a repeated one gets -1, -2, ... as on GitHub."""
    tokens = _PARSER.parse(text)
    seen: Counter[str] = Counter()
    found = set()
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            base = slug(_plain(tokens[index + 1]))
            found.add(f"{base}-{seen[base]}" if seen[base] else base)
            seen[base] += 1
    return found


@dataclass(frozen=True)
class Link:
    page: Path
    line: int
    href: str

    def __str__(self) -> str:
        return f"{self.page.name}:{self.line}: {self.href}"


def links(page: Path, text: str | None = None) -> list[Link]:
    """Every link and image target of a page, with the line it starts on."""
    source = page.read_text(encoding="utf-8") if text is None else text
    found = []
    for token in _PARSER.parse(source):
        if token.type != "inline":
            continue
        line = token.map[0] + 1 if token.map else 0
        for child in token.children or []:
            target = child.attrGet("href") if child.type == "link_open" else None
            if child.type == "image":
                target = child.attrGet("src")
            if isinstance(target, str):
                found.append(Link(page, line, target))
    return found


def broken(link: Link, root: Path = REPO) -> str | None:
    """Why a relative link leads nowhere, or None (external links are not followed)."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", link.href, re.IGNORECASE) or link.href.startswith("//"):
        return None
    path, _, fragment = link.href.partition("#")
    target = (link.page.parent / unquote(path)).resolve() if path else link.page.resolve()
    if not target.is_relative_to(root.resolve()):
        return "leads out of the repository"
    if not target.exists():
        return None if target in PENDING and not fragment else "no such file"
    if fragment:
        if target.suffix != ".md":
            return f"an anchor into {target.name}, which is not a Markdown page"
        if unquote(fragment) not in anchors(target.read_text(encoding="utf-8")):
            return f"{target.relative_to(root.resolve())} has no heading with anchor #{fragment}"
    return None


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page: Path) -> None:
    problems = [f"{link}: {why}" for link in links(page) if (why := broken(link))]
    assert not problems, "\n".join(problems)


def test_the_docs_pages_are_linked_and_link_back() -> None:
    """Each page of docs/ opens with its title and one line saying what it is, with a link
    back to the README, which links to every page."""
    from_readme = {
        (README.parent / link.href.partition("#")[0]).resolve() for link in links(README)
    }
    docs = sorted(DOCS.glob("*.md"))
    assert docs, "docs/ holds no page"
    for page in docs:
        name = page.relative_to(REPO)
        assert page in from_readme, f"README.md does not link to {name}"
        tokens = _PARSER.parse(page.read_text(encoding="utf-8"))
        assert [t.tag for t in tokens[:1]] == ["h1"], f"{name} does not start with a title"
        intro = tokens[4] if len(tokens) > 4 and tokens[3].type == "paragraph_open" else None
        assert intro is not None, f"{name}: no paragraph under the title"
        assert any(child.attrGet("href") == "../README.md" for child in intro.children or []), (
            f"{name}: the paragraph under the title does not link back to ../README.md"
        )
    for pending in PENDING:
        assert pending in from_readme, f"README.md does not link to {pending.relative_to(REPO)}"


def test_anchors_are_githubs() -> None:
    text = (
        "# Reviewing a change\n"
        "## What the stacks really allow: `crm-ports verify` and `crm-ports why`\n"
        "## CDK flavours: cdktf or CDK Terrain\n"
        "## Notes\n## Notes\n"
        "## Per-role constructs: `AwsCrmLab`, `AzureCrmLab`\n"
        "## snake_case and [a link](x.md)\n"
    )
    assert anchors(text) == {
        "reviewing-a-change",
        "what-the-stacks-really-allow-crm-ports-verify-and-crm-ports-why",
        "cdk-flavours-cdktf-or-cdk-terrain",
        "notes",
        "notes-1",
        "per-role-constructs-awscrmlab-azurecrmlab",
        "snake_case-and-a-link",
    }


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    """The checker itself, on a small repository: a missing file, a missing anchor, and
    what is not a link (code, fences, external addresses)."""
    (tmp_path / "README.md").write_text("# Tool\n\n## The two commands\n", encoding="utf-8")
    page = tmp_path / "docs" / "example.md"
    page.parent.mkdir()
    page.write_text(
        "# Example\n\nBack to the [README](../README.md#the-two-commands).\n\n"
        "[gone](gone.md), [no anchor](../README.md#no-such-heading), [here](#example), "
        "[web](https://example.com/x.md), ![img](../missing.png), [out](../../x.md)\n\n"
        "`[code](not-a-link.md)`\n\n```\n[fenced](not-a-link.md)\n```\n\n"
        "[by reference][ref]\n\n[ref]: ../README.md#tool\n",
        encoding="utf-8",
    )
    found = {link.href: broken(link, tmp_path) for link in links(page)}
    assert found == {
        "../README.md#the-two-commands": None,
        "gone.md": "no such file",
        "../README.md#no-such-heading": "README.md has no heading with anchor #no-such-heading",
        "#example": None,
        "https://example.com/x.md": None,
        "../missing.png": "no such file",
        "../../x.md": "leads out of the repository",
        "../README.md#tool": None,
    }
