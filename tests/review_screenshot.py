"""The screenshot of a review comment in docs/ci.md (docs/images/review-comment.png), made
again with `.venv/bin/python -m tests.review_screenshot`.

A scratch labs repository gets a pull request that opens RDP to the internet and adds an
AD FS server; `crm-ports review --base main -o` writes its comment, which is rendered to
HTML the way GitHub renders a comment (CommonMark with GitHub's tables and raw HTML, the
first <details> opened, as a reader would) by markdown-it-py, and photographed by
headless Chromium (Debian's package).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from markdown_it import MarkdownIt

from tests.ci_tools import CLEAN_LAB, OPEN_ADMIN, git, labs_repository
from tests.conftest import REPO

IMAGE = REPO / "docs" / "images" / "review-comment.png"
WIDTH = 900

# A sober imitation of GitHub's comment style: enough to read the comment as a reviewer
# sees it, nothing fetched from the network.
STYLE = """
body { font: 14px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif;
       color: #1f2328; background: #fff; margin: 0; padding: 16px; }
.comment { border: 1px solid #d1d9e0; border-radius: 6px; max-width: 860px; }
.header { background: #f6f8fa; border-bottom: 1px solid #d1d9e0; padding: 8px 16px;
          color: #59636e; border-radius: 6px 6px 0 0; }
.header b { color: #1f2328; }
.body { padding: 8px 16px 16px; }
h3 { font-size: 1.25em; margin: 16px 0 8px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #d1d9e0; padding: 4px 12px; text-align: left; }
tr:nth-child(2n) td { background: #f6f8fa; }
code { background: #eff1f3; border-radius: 4px; padding: 1px 4px; font-size: 85%;
       font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: #f6f8fa; padding: 12px; border-radius: 6px; overflow: hidden; }
pre code { background: none; padding: 0; }
blockquote { margin: 8px 0; padding: 0 12px; border-left: 4px solid #d1d9e0; }
blockquote.caution { border-left-color: #d1242f; }
blockquote.caution .title { color: #d1242f; font-weight: 600; }
details { margin: 6px 0; }
summary { cursor: pointer; }
"""


def render(markdown: str) -> str:
    """The comment as an HTML page: GitHub's flavour of Markdown with raw HTML kept (the
    markers stay comments, <details> stays folded but the first, opened), its caution
    alert drawn as GitHub draws it."""
    parser = MarkdownIt("commonmark", {"html": True}).enable("table")
    body = parser.render(markdown).replace("<details>", "<details open>", 1)
    # GitHub's alerts (`> [!CAUTION]`), which CommonMark leaves a plain quote
    body = body.replace(
        "<blockquote>\n<p>[!CAUTION]",
        "<blockquote class='caution'>\n<p><span class='title'>Caution</span><br>",
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<style>{STYLE}</style></head><body><div class='comment'>"
        "<div class='header'><b>github-actions</b> bot commented</div>"
        f"<div class='body'>{body}</div></div></body></html>"
    )


def review_comment(folder: Path) -> str:
    """The first part of the review of a pull request of a scratch labs repository."""
    root = labs_repository(folder / "labs")
    git(root, "checkout", "-q", "-b", "change")
    lab = CLEAN_LAB.replace("admin_cidrs: [10.210.4.0/24]", OPEN_ADMIN)
    lab = lab.replace(
        "topology: split-roles\n", "topology: split-roles\noptions:\n  auth: claims\n"
    )
    (root / "labs" / "mylab.yaml").write_text(lab, encoding="utf-8")
    out = folder / "review"
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "crm-ports"),
            "review",
            "--base",
            "main",
            "-o",
            str(out),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1):
        raise SystemExit(done.stderr)
    return (out / "comment-1.md").read_text(encoding="utf-8")


def screenshot(page: str, image: Path, folder: Path, height: int) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium is not installed (Debian: apt-get install chromium)")
    source = folder / "comment.html"
    source.write_text(page, encoding="utf-8")
    image.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",  # as root in a container
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={folder / 'profile'}",
            f"--window-size={WIDTH},{height}",
            f"--screenshot={image}",
            source.as_uri(),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "HOME": str(folder)},
    )


def main(argv: list[str]) -> int:
    image = Path(argv[0]) if argv else IMAGE
    height = int(argv[1]) if len(argv) > 1 else 1100
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        page = render(review_comment(folder))
        screenshot(page, image, folder, height)
    print(f"wrote {image.relative_to(REPO) if image.is_relative_to(REPO) else image}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
