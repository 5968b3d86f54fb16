"""`.pre-commit-hooks.yaml`: the hooks as pre-commit installs and runs them from a clone of
this repository (pip-installing crm-ports into a hook environment of its own), in a
scratch labs repository: with `pre-commit try-repo`, a clean lab passes both hooks and RDP
open to the internet (`admin_cidrs: [0.0.0.0/0]`) fails crm-ports-check; with `pre-commit
run` and docs/ci.md's configuration, the same failure, a lab that does not load failing
crm-ports-validate, and files the hooks do not concern skipping them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.ci_tools import CLEAN_LAB, git, labs_repository, open_admin_lab
from tests.conftest import REPO
from tests.tf_harness import require_tool

pytestmark = [pytest.mark.slow, pytest.mark.e2e(seconds=35)]

HOOKS = REPO / ".pre-commit-hooks.yaml"


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A clone of this checkout with its uncommitted changes to tracked files committed
    (what try-repo itself does, with a new shadow commit on each call; `pre-commit run`
    needs a commit to name as `rev`), and one pre-commit cache for the module, where
    `pre-commit run` builds the hook environment once (try-repo builds it on each call)."""
    folder = tmp_path_factory.mktemp("hooks")
    clone = folder / "crm-ports"
    git(folder, "clone", "-q", str(REPO), str(clone))
    diff = subprocess.run(
        ["git", "diff", "HEAD", "--binary"], cwd=REPO, capture_output=True, check=True
    ).stdout
    if diff:
        subprocess.run(["git", "apply", "--binary"], input=diff, cwd=clone, check=True)
        git(clone, "commit", "-q", "-a", "-m", "uncommitted changes")
    yield clone, folder / "pre-commit-home"


def _try_repo(root: Path, hooks: tuple[Path, Path]) -> subprocess.CompletedProcess[str]:
    repo, home = hooks
    return _pre_commit(root, home, "try-repo", str(repo), "--all-files")


def _pre_commit(root: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pre-commit run in `root` with the module's cache."""
    tool = require_tool(
        str(Path(sys.executable).parent / "pre-commit"), "runs the hooks (pip: pre-commit)"
    )
    return subprocess.run(
        [str(tool), *args, "--color", "never"],
        cwd=root,
        env={**_environ(), "PRE_COMMIT_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _environ() -> dict[str, str]:
    import os

    # git's own variables (a test run from a git hook has GIT_DIR set) would point
    # pre-commit's clone at another repository
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def test_the_hooks_are_declared_as_pre_commit_reads_them() -> None:
    hooks = {h["id"]: h for h in YAML(typ="safe").load(HOOKS.read_text(encoding="utf-8"))}
    assert set(hooks) == {"crm-ports-validate", "crm-ports-check"}
    assert {h["language"] for h in hooks.values()} == {"python"}
    assert hooks["crm-ports-validate"]["entry"] == "crm-ports validate"
    assert hooks["crm-ports-check"]["entry"] == "crm-ports check --all"
    assert hooks["crm-ports-check"]["pass_filenames"] is False


def _verdicts(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Each hook's verdict in pre-commit's report: name -> Passed, Failed or Skipped."""
    found = {}
    for line in done.stdout.splitlines():
        for verdict in ("Passed", "Failed", "Skipped"):
            if line.startswith("crm-ports ") and line.endswith(verdict):
                found[line.split(".", 1)[0].split("(", 1)[0].strip()] = verdict
    return found


def test_try_repo_a_clean_lab_passes_and_rdp_from_anywhere_fails(
    tmp_path: Path, hooks: tuple[Path, Path]
) -> None:
    """`pre-commit try-repo` runs every hook of the repository; each call builds the hook
    environment anew (try-repo keeps no cache), so this test alone uses it."""
    root = labs_repository(tmp_path / "mine")
    done = _try_repo(root, hooks)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _verdicts(done) == {"crm-ports validate": "Passed", "crm-ports check": "Passed"}

    lab = root / "labs" / "mylab.yaml"
    lab.write_text(open_admin_lab())
    done = _try_repo(root, hooks)
    assert done.returncode == 1, done.stdout + done.stderr
    # the lab still loads: only the policy hook fails it
    assert _verdicts(done) == {"crm-ports validate": "Passed", "crm-ports check": "Failed"}
    assert "CRM001" in done.stdout


def _config(root: Path, hooks: tuple[Path, Path]) -> str:
    """docs/ci.md's .pre-commit-config.yaml, its `repo` and `rev` pointing at the clone,
    written in `root`: `pre-commit run` builds the hook environment once, in the cache."""
    from tests.readme import DOCS, block

    repo, _ = hooks
    text = block("ci-pre-commit", DOCS / "ci.md").split("```yaml\n", 1)[1].rsplit("```", 1)[0]
    assert "repo: https://github.com/OWNER/crm-ports\n" in text and "rev: v0.1.0\n" in text
    rev = git(repo, "rev-parse", "HEAD").strip()
    text = text.replace("https://github.com/OWNER/crm-ports", str(repo)).replace("v0.1.0", rev)
    (root / ".pre-commit-config.yaml").write_text(text)
    return text


def _run(root: Path, hooks: tuple[Path, Path]) -> subprocess.CompletedProcess[str]:
    _config(root, hooks)
    return _pre_commit(root, hooks[1], "run", "--all-files")


def test_the_docs_configuration_runs(tmp_path: Path, hooks: tuple[Path, Path]) -> None:
    root = labs_repository(tmp_path / "mine", open_admin_lab())
    done = _run(root, hooks)
    assert done.returncode == 1, done.stdout + done.stderr
    assert _verdicts(done) == {"crm-ports validate": "Passed", "crm-ports check": "Failed"}


def test_a_lab_that_does_not_load_fails_validate(tmp_path: Path, hooks: tuple[Path, Path]) -> None:
    root = labs_repository(tmp_path / "mine", CLEAN_LAB.replace("client_cidrs", "client_cidr"))
    done = _run(root, hooks)
    assert done.returncode == 1, done.stdout + done.stderr
    assert _verdicts(done)["crm-ports validate"] == "Failed"
    assert "labs/mylab.yaml" in done.stdout and "'client_cidr': unknown key" in done.stdout


def test_files_the_hooks_do_not_concern_skip_them(tmp_path: Path, hooks: tuple[Path, Path]) -> None:
    root = labs_repository(tmp_path / "mine")
    (root / "labs" / "mylab.yaml").unlink()
    (root / "crm-ports.yaml").unlink()
    (root / "notes.yaml").write_text("not: a lab\n")
    done = _run(root, hooks)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _verdicts(done) == {"crm-ports validate": "Skipped", "crm-ports check": "Skipped"}
