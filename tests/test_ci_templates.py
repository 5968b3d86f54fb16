"""The CI templates of `ci/`, checked with what runs here:

- GitLab (`ci/gitlab/crm-ports-review.gitlab-ci.yml`): GitLab CI's JSON schema (vendored
  by check-jsonschema), and the job run by gitlab-ci-local with the shell executor in a
  merge request's scratch checkout, this checkout's crm-ports on PATH, posting its note to
  a local server that plays GitLab's notes API.
- Azure Pipelines (`ci/azure-pipelines/crm-ports-review.yml`): the Azure Pipelines schema
  (Microsoft's, vendored by check-jsonschema, expressions resolved by its
  `azure-pipelines` transform), and the review step's script run with bash as an agent
  runs it, with the variables Azure gives a pull request's build, posting its thread to a
  local server that plays Azure DevOps' threads API. No Azure Pipelines agent runs here:
  the template's expansion, the tasks (UsePythonVersion, NodeTool) and the checkout are
  Azure's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests import ci_tools
from tests.ci_tools import ci_tool, tools_env
from tests.conftest import REPO
from tests.platform_server import AzureFake, GitLabFake, serving
from tests.tf_harness import require_tool

GITLAB = REPO / "ci" / "gitlab" / "crm-ports-review.gitlab-ci.yml"
AZURE = REPO / "ci" / "azure-pipelines" / "crm-ports-review.yml"
MARKER = "<!-- crm-ports-review -->"


def _yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def check_schema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with one of its vendored schemas (and the transform that turns
    the platform's own syntax, `!reference` or `${{ }}`, into plain YAML first)."""
    tool = require_tool(
        str(Path(sys.executable).parent / "check-jsonschema"),
        "validates the CI templates against their platforms' schemas (pip: check-jsonschema)",
    )
    return subprocess.run(
        [str(tool), "--builtin-schema", f"vendor.{schema}", "--data-transform", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("schema", "path"), [("gitlab-ci", GITLAB), ("azure-pipelines", AZURE)], ids=["gitlab", "azure"]
)
def test_the_templates_match_their_platforms_schema(schema: str, path: Path) -> None:
    done = check_schema(schema, path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_catches_a_broken_template(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(AZURE.read_text().replace("    steps:\n", "    stepz:\n"))
    done = check_schema("azure-pipelines", broken)
    assert done.returncode == 1 and "'stepz' was unexpected" in done.stdout


# -- GitLab --------------------------------------------------------------------------------


def test_the_gitlab_job_runs_on_merge_requests_only() -> None:
    job = _yaml(GITLAB)["crm-ports-review"]
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    script = "\n".join(job["script"])
    assert "crm-ports review" in script and "--post gitlab" in script
    assert job["artifacts"]["when"] == "always"


def _gitlab_ci_local(checkout: Path, url: str) -> subprocess.CompletedProcess[str]:
    tool = ci_tool("gitlab-ci-local", "runs the GitLab template's job (npm: gitlab-ci-local)")
    require_tool("rsync", "gitlab-ci-local copies the project with rsync (Debian: rsync)")
    variables = {
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_MERGE_REQUEST_IID": "3",
        "CI_PROJECT_ID": "42",
        "CI_API_V4_URL": f"{url}/api/v4",
        "CRM_PORTS_GITLAB_TOKEN": "glpat-secret",
        "CRM_PORTS": "",  # this checkout's crm-ports is on PATH, as in an image that has it
        "CRM_PORTS_NODE": "",
    }
    args = [str(tool), "crm-ports-review", "--force-shell-executor", "--no-color"]
    args += ["--ignore-predefined-vars", ",".join(variables)]
    for name, value in variables.items():
        args += ["--variable", f"{name}={value}"]
    environ = {k: v for k, v in tools_env().items() if not k.startswith("GIT_")}
    environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environ["PATH"]])
    return subprocess.run(
        args, cwd=checkout, env=environ, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.mark.slow
def test_the_gitlab_job_posts_one_note_and_fails_on_a_policy_error(tmp_path: Path) -> None:
    """A merge request opening RDP to 0.0.0.0/0: the job fetches the target branch,
    reviews, posts the note (and edits that same note on the next run) and fails."""
    checkout, _ = ci_tools.pull_request(tmp_path, ci_tools.open_admin_lab())
    (checkout / "ci").mkdir()
    (checkout / "ci" / GITLAB.name).write_bytes(GITLAB.read_bytes())
    (checkout / ".gitlab-ci.yml").write_text(f"include:\n  - local: ci/{GITLAB.name}\n")
    ci_tools.git(checkout, "add", "-A")  # gitlab-ci-local reads local includes from git
    ci_tools.git(checkout, "commit", "-q", "-m", "the pipeline")
    with serving(GitLabFake(("PRIVATE-TOKEN", "glpat-secret"))) as fake:
        for _ in range(2):
            done = _gitlab_ci_local(checkout, fake.url)
            log = done.stdout + done.stderr
            assert done.returncode == 1 and "FAIL  crm-ports-review" in log, log
            assert len(fake.live()) == 1, fake.writes()
        (note,) = fake.live().values()
    assert MARKER in note and "CRM001" in note
    assert fake.writes()[0] == ("POST", "/api/v4/projects/42/merge_requests/3/notes")
    assert "POST" not in [method for method, _ in fake.writes()[1:]]
    assert (checkout / "crm-ports-review" / "review.json").is_file()


# -- Azure Pipelines -----------------------------------------------------------------------


def _azure_review_step() -> dict[str, Any]:
    (job,) = _yaml(AZURE)["jobs"]
    (step,) = [s for s in job["steps"] if "crm-ports review" in s.get("script", "")]
    return dict(step)


def test_the_azure_template_maps_the_token_and_runs_on_pull_requests() -> None:
    template = _yaml(AZURE)
    names = {p["name"] for p in template["parameters"]}
    assert names == {"crmPorts", "cdk", "failOn", "comment", "pythonVersion"} | {
        "workingDirectory",
        "pool",
    }
    (job,) = template["jobs"]
    assert job["condition"] == "eq(variables['Build.Reason'], 'PullRequest')"
    step = _azure_review_step()
    assert step["env"]["SYSTEM_ACCESSTOKEN"] == "$(System.AccessToken)"
    assert "--post azure-devops" in step["script"]
    assert "${{" not in step["script"] and "$(" not in step["script"]  # macros only in env


@pytest.mark.slow
def test_the_azure_review_step_posts_a_thread_and_fails_on_a_policy_error(
    tmp_path: Path,
) -> None:
    checkout, _ = ci_tools.pull_request(tmp_path, ci_tools.open_admin_lab())
    step = _azure_review_step()
    script = tmp_path / "script.sh"
    script.write_text(step["script"], encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environ["PATH"]])
    with serving(AzureFake(("Authorization", "Bearer ado-secret"))) as fake:
        environ.update(
            # the step's env, as the template maps it
            TARGET_BRANCH="refs/heads/main",
            FAIL_ON="error",
            COMMENT="update",
            CRM_PORTS_CDK="cdktf",
            SYSTEM_ACCESSTOKEN="ado-secret",
            # what Azure Pipelines sets in a pull request's build
            SYSTEM_COLLECTIONURI=f"{fake.url}/org/",
            SYSTEM_TEAMPROJECT="Contoso CRM",
            BUILD_REPOSITORY_ID="repo-1",
            SYSTEM_PULLREQUEST_PULLREQUESTID="5",
        )
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", str(script)],
            cwd=checkout,
            env=environ,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 1, done.stdout + done.stderr
        (thread,) = fake.live().values()
    assert MARKER in thread and "CRM001" in thread
    summary = checkout / "crm-ports-review" / "summary.md"
    assert f"##vso[task.uploadsummary]{summary}" in done.stdout
