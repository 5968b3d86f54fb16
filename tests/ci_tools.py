"""What the CI-integration tests share: the tools of tests/ci-tools/ (npm: action-validator,
gitlab-ci-local and the Node 22 it runs on; `make setup-node` installs them), and a scratch
git repository of a user's own holding a lab, built in a test's tmp_path."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import REPO
from tests.tf_harness import require_tool

CI_TOOLS = REPO / "tests" / "ci-tools" / "node_modules" / ".bin"

# A lab that passes every policy check, and the line that makes it fail CRM001: RDP
# (an admin port) open to the whole internet.
CLEAN_LAB = """\
name: mylab
description: A CRM 2013 lab of our own
clouds: [aws]
topology: split-roles
client_cidrs: [10.110.0.0/16]
admin_cidrs: [10.210.4.0/24]
aws:
  region: eu-west-1
  egress: strict
"""
OPEN_ADMIN = "admin_cidrs: [0.0.0.0/0]"


def ci_tool(name: str, reason: str) -> Path:
    """An npm tool of tests/ci-tools/, else one on PATH; a skip (a failure under
    CRM_PORTS_REQUIRE_TOOLS=1) when neither has it."""
    local = CI_TOOLS / name
    return require_tool(str(local) if local.exists() else name, reason)


def tools_env(**extra: str) -> dict[str, str]:
    """The environment to run a tool of tests/ci-tools/ in: its folder first on PATH, so
    that `#!/usr/bin/env node` finds the Node 22 installed there (gitlab-ci-local needs
    it), as `npx` would put it."""
    path = os.pathsep.join([str(CI_TOOLS), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, **extra}


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` as a committer of its own; its stdout."""
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def labs_repository(root: Path, lab: str = CLEAN_LAB) -> Path:
    """A git repository of a user's own at `root` (branch main, one commit): a project
    file naming labs/*.yaml and one lab, `lab`."""
    require_tool("git", "the scratch repository is a git repository")
    (root / "labs").mkdir(parents=True)
    (root / "crm-ports.yaml").write_text("labs:\n  - labs/*.yaml\n", encoding="utf-8")
    (root / "labs" / "mylab.yaml").write_text(lab, encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "my lab")
    return root


def pull_request(folder: Path, change: str) -> tuple[Path, str]:
    """A pull request's checkout as a CI job gets it: one commit deep, of the pull
    request's branch `feature` (the lab rewritten as `change`), cloned from an origin
    whose main moved on since the branch left it. Returns the checkout and origin's main
    commit."""
    work = labs_repository(folder / "work")
    origin = folder / "origin.git"
    git(folder, "clone", "-q", "--bare", str(work), str(origin))
    git(work, "checkout", "-q", "-b", "feature")
    (work / "labs" / "mylab.yaml").write_text(change, encoding="utf-8")
    git(work, "commit", "-q", "-am", "the change")
    git(work, "push", "-q", str(origin), "feature")
    git(work, "checkout", "-q", "main")
    (work / "crm-ports.yaml").write_text("labs: [labs/*.yaml]\n", encoding="utf-8")
    git(work, "commit", "-q", "-am", "main moves on")
    git(work, "push", "-q", str(origin), "main")
    main = git(work, "rev-parse", "main").strip()
    checkout = folder / "checkout"
    url = origin.as_uri()  # file://: a local path would ignore --depth
    git(folder, "clone", "-q", "--depth=1", "--branch", "feature", url, str(checkout))
    return checkout, main


def open_admin_lab() -> str:
    """The clean lab with RDP open to the whole internet: a CRM001 policy error."""
    lab = CLEAN_LAB.replace("admin_cidrs: [10.210.4.0/24]", OPEN_ADMIN)
    assert OPEN_ADMIN in lab
    return lab
