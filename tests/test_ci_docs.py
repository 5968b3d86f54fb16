"""docs/ci.md, "Plan review in your CI": each platform's snippet checked as far as the
platform allows here (the pre-commit one is run in tests/test_pre_commit.py), and the
screenshot's rendering of a review comment."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from tests.readme import DOCS, block
from tests.review_screenshot import IMAGE, render
from tests.test_action import action, action_validator
from tests.test_ci_templates import check_schema
from tests.test_workflow import assert_lints_clean

CI = DOCS / "ci.md"


def snippet(name: str) -> str:
    """The YAML of block `name` of docs/ci.md."""
    return block(name, CI).split("```yaml\n", 1)[1].rsplit("```", 1)[0]


def test_the_github_workflow_lints_and_names_only_the_actions_inputs(tmp_path: Path) -> None:
    workflow = tmp_path / ".github" / "workflows" / "crm-ports-review.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(snippet("ci-github"), encoding="utf-8")
    assert_lints_clean(tmp_path, ".github/workflows/crm-ports-review.yml", "lints the docs")
    done = action_validator(workflow)
    assert done.returncode == 0, done.stdout + done.stderr
    (job,) = YAML(typ="safe").load(workflow.read_text())["jobs"].values()
    (step,) = [s for s in job["steps"] if s.get("uses", "").startswith("OWNER/crm-ports@")]
    assert set(step["with"]) <= set(action()["inputs"])


def test_the_azure_pipeline_matches_the_schema(tmp_path: Path) -> None:
    pipeline = tmp_path / "azure-pipelines.yml"
    pipeline.write_text(snippet("ci-azure"), encoding="utf-8")
    done = check_schema("azure-pipelines", pipeline)
    assert done.returncode == 0, done.stdout + done.stderr
    parameters = YAML(typ="safe").load(pipeline.read_text())["extends"]["parameters"]
    declared = YAML(typ="safe").load(
        (DOCS.parent / "ci" / "azure-pipelines" / "crm-ports-review.yml").read_text()
    )["parameters"]
    assert set(parameters) <= {p["name"] for p in declared}


def test_the_gitlab_include_matches_the_schema(tmp_path: Path) -> None:
    config = tmp_path / ".gitlab-ci.yml"
    config.write_text(snippet("ci-gitlab"), encoding="utf-8")
    done = check_schema("gitlab-ci", config)
    assert done.returncode == 0, done.stdout + done.stderr
    (include,) = YAML(typ="safe").load(config.read_text())["include"]
    assert include["file"] == "ci/gitlab/crm-ports-review.gitlab-ci.yml"
    assert (DOCS.parent / include["file"]).is_file()


def test_the_screenshot_is_the_comment_as_github_renders_it() -> None:
    comment = (
        "<!-- crm-ports-review -->\n### crm-ports plan review\n\n| | |\n|---|---|\n"
        "| Policy errors | **1** |\n\n> [!CAUTION]\n> **Newly reachable**\n\n"
        "<details>\n<summary><b>mylab</b></summary>\n\ntext\n\n</details>\n\n"
        "<details>\n<summary>more</summary>\n\nx\n\n</details>\n"
    )
    page = render(comment)
    assert "<!-- crm-ports-review -->" in page  # the marker stays hidden
    assert "<td>Policy errors</td>" in page and "<strong>1</strong>" in page
    assert page.count("<details open>") == 1 and page.count("<details>") == 1
    assert "<blockquote class='caution'>" in page and "[!CAUTION]" not in page
    assert IMAGE.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert f"]({IMAGE.relative_to(DOCS).as_posix()})" in CI.read_text()
