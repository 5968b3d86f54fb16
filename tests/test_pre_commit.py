"""`.pre-commit-hooks.yaml`: the hooks as pre-commit installs and runs them from this
repository (`pre-commit try-repo`, which pip-installs crm-ports from a clone into a hook
environment of its own), in a scratch labs repository: a clean lab passes both hooks,
RDP open to the internet (`admin_cidrs: [0.0.0.0/0]`) fails crm-ports-check, a lab that
does not load fails crm-ports-validate, and files the hooks do not concern skip them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.ci_tools import CLEAN_LAB, OPEN_ADMIN, git, labs_repository, open_admin_lab
from tests.conftest import REPO
from tests.tf_harness import require_tool

pytestmark = [pytest.mark.slow, pytest.mark.e2e(seconds=120)]

HOOKS = REPO / ".pre-commit-hooks.yaml"


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A clone of this checkout with its uncommitted changes to tracked files committed
    (what try-repo itself would do, but once: try-repo's own shadow commit is new on each
    call, and so would be the hook environment it builds), and one pre-commit cache for
    the module, so that the environment is built once."""
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


def _try_repo(root: Path, hooks: tuple[Path, Path], hook: str) -> subprocess.CompletedProcess[str]:
    repo, home = hooks
    return _pre_commit(root, home, "try-repo", str(repo), hook, "--all-files")


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


def test_a_clean_lab_passes_and_rdp_from_anywhere_fails(
    tmp_path: Path, hooks: tuple[Path, Path]
) -> None:
    root = labs_repository(tmp_path / "mine")
    for hook in ("crm-ports-validate", "crm-ports-check"):
        done = _try_repo(root, hooks, hook)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Passed" in done.stdout, done.stdout

    lab = root / "labs" / "mylab.yaml"
    lab.write_text(CLEAN_LAB.replace("admin_cidrs: [10.210.4.0/24]", OPEN_ADMIN))
    assert OPEN_ADMIN in lab.read_text()
    done = _try_repo(root, hooks, "crm-ports-check")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Failed" in done.stdout and "CRM001" in done.stdout, done.stdout
    # the lab still loads: only the policy hook fails it
    assert _try_repo(root, hooks, "crm-ports-validate").returncode == 0


def test_a_lab_that_does_not_load_fails_validate(tmp_path: Path, hooks: tuple[Path, Path]) -> None:
    root = labs_repository(tmp_path / "mine", CLEAN_LAB.replace("client_cidrs", "client_cidr"))
    done = _try_repo(root, hooks, "crm-ports-validate")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "labs/mylab.yaml" in done.stdout and "'client_cidr': unknown key" in done.stdout


def test_files_the_hooks_do_not_concern_skip_them(tmp_path: Path, hooks: tuple[Path, Path]) -> None:
    root = labs_repository(tmp_path / "mine")
    (root / "labs" / "mylab.yaml").unlink()
    (root / "crm-ports.yaml").unlink()
    (root / "notes.yaml").write_text("not: a lab\n")
    done = _try_repo(root, hooks, "crm-ports-validate")
    assert done.returncode == 0 and "(no files to check)Skipped" in done.stdout, done.stdout


def test_the_docs_configuration_runs(tmp_path: Path, hooks: tuple[Path, Path]) -> None:
    """docs/ci.md's .pre-commit-config.yaml, its `repo` and `rev` pointing at the clone."""
    from tests.readme import DOCS, block

    repo, home = hooks
    text = block("ci-pre-commit", DOCS / "ci.md").split("```yaml\n", 1)[1].rsplit("```", 1)[0]
    rev = git(repo, "rev-parse", "HEAD").strip()
    assert "repo: https://github.com/OWNER/crm-ports\n" in text and "rev: v0.1.0\n" in text
    text = text.replace("https://github.com/OWNER/crm-ports", str(repo))
    root = labs_repository(tmp_path / "mine", open_admin_lab())
    (root / ".pre-commit-config.yaml").write_text(text.replace("v0.1.0", rev))
    done = _pre_commit(root, home, "run", "--all-files")
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("crm-ports validate") and line.endswith("Passed") for line in lines)
    assert any(line.startswith("crm-ports check") and line.endswith("Failed") for line in lines)
