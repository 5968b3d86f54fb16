"""`action.yml`, the composite GitHub Action: judged by action-validator (npm
@action-validator/cli, the action and workflow schemas), its promises pinned (inputs,
outputs, no input expanded inside a script, the SARIF upload pinned to a release), and its
shell steps run as they are written, with bash, on what a runner gives them: the inputs
refused with a one-line error, the base branch fetched into a shallow pull-request
checkout, the review's arguments, outputs and job summary from what `crm-ports review`
writes, and its exit status passed through.

The steps that only call other actions (setup-python, setup-node, upload-sarif) and the
install step (pip installs this checkout) are not run here; GitHub runs them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests import ci_tools
from tests.ci_tools import ci_tool, git, tools_env
from tests.conftest import REPO
from tests.platform_server import GitHubFake, serving

ACTION = REPO / "action.yml"
# this repository's workflows, and the one `crm-ports init` writes
WORKFLOWS = [
    *sorted((REPO / ".github" / "workflows").glob("*.yml")),
    REPO / "crm_ports" / "scaffold" / "crm-ports-review.yml",
]


def action() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(ACTION.read_text(encoding="utf-8"))
    return data


def _step(key: str) -> dict[str, Any]:
    """The step of action.yml with this id, else this name."""
    steps: list[dict[str, Any]] = action()["runs"]["steps"]
    found = [s for s in steps if s.get("id") == key] or [s for s in steps if s.get("name") == key]
    assert len(found) == 1, f"action.yml has no one step {key!r}"
    return found[0]


# -- the validators --------------------------------------------------------------------


def action_validator(path: Path) -> subprocess.CompletedProcess[str]:
    tool = ci_tool("action-validator", "validates action.yml and the workflows (npm)")
    return subprocess.run(
        [str(tool), str(path)],
        env=tools_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("path", [ACTION, *WORKFLOWS], ids=lambda p: p.name)
def test_action_validator_passes(path: Path) -> None:
    done = action_validator(path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_action_validator_catches_a_broken_action(tmp_path: Path) -> None:
    """The validator tells an action from a workflow by its name, so the copy is named
    action.yml too; a composite step without `shell` is refused."""
    broken = tmp_path / "action.yml"
    text = ACTION.read_text(encoding="utf-8")
    broken.write_text(text.replace("      shell: bash\n", "", 1), encoding="utf-8")
    done = action_validator(broken)
    assert done.returncode == 1, done.stdout + done.stderr
    assert '"path": "/runs/steps/0/shell"' in done.stderr, done.stderr


# -- what the action promises ------------------------------------------------------------


def test_inputs_and_outputs() -> None:
    spec = action()
    assert spec["runs"]["using"] == "composite"
    inputs = spec["inputs"]
    assert set(inputs) == {
        "base",
        "cdk",
        "fail-on",
        "comment",
        "sarif",
        "python-version",
        "working-directory",
        "tag",
        "github-token",
    }
    assert inputs["base"]["default"] == "${{ github.base_ref }}"
    assert (inputs["fail-on"]["default"], inputs["comment"]["default"]) == ("error", "update")
    assert inputs["sarif"]["default"] == "false" and inputs["cdk"]["default"] == "cdktf"
    outputs = spec["outputs"]
    assert outputs["changed"]["value"] == "${{ steps.review.outputs.changed }}"
    assert outputs["errors"]["value"] == "${{ steps.review.outputs.errors }}"


def test_no_input_is_expanded_inside_a_script() -> None:
    """An input or event field written as `${{ }}` inside `run:` becomes shell code
    (a branch named `$(curl ...)`): every script reads them from `env:`."""
    for step in action()["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step.get("name")


def test_other_actions_are_pinned() -> None:
    uses = {s["uses"].split("@")[0]: s for s in action()["runs"]["steps"] if "uses" in s}
    assert set(uses) == {
        "actions/setup-python",
        "actions/setup-node",
        "github/codeql-action/upload-sarif",
    }
    assert uses["actions/setup-python"]["with"]["python-version"] == "${{ inputs.python-version }}"
    sarif = uses["github/codeql-action/upload-sarif"]
    assert re.fullmatch(r"v\d+\.\d+\.\d+", sarif["uses"].split("@")[1])  # a release, not @v4
    assert sarif["if"] == "inputs.sarif == 'true'"
    assert sarif["with"]["sarif_file"] == "${{ runner.temp }}/crm-ports.sarif"
    check = _step("Policy findings as SARIF (crm-ports check --format sarif)")
    assert 'crm-ports check --all --format sarif -o "$RUNNER_TEMP/crm-ports.sarif"' in check["run"]


def test_the_install_is_the_actions_own_checkout() -> None:
    run = _step("Install crm-ports from the action's checkout")["run"]
    assert '"${GITHUB_ACTION_PATH}${extra}"' in run and 'extra="[cdktn]"' in run


# -- the scripts, run ----------------------------------------------------------------------


class Runner:
    """A step's script run as GitHub runs a composite `shell: bash` step (`bash
    --noprofile --norc -eo pipefail`), with the files a runner gives it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.output = folder / "github_output"
        self.summary = folder / "step_summary"
        self.temp = folder / "runner_temp"
        self.temp.mkdir()
        for path in (self.output, self.summary):
            path.write_text("")

    def run(
        self,
        key: str,
        env: dict[str, str],
        cwd: Path,
        path: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run step `key` in `cwd` with its `env:` values; `extra`: variables the runner
        sets (GITHUB_API_URL, ...), not the step."""
        step = _step(key)
        script = self.folder / "step.sh"
        script.write_text(step["run"], encoding="utf-8")
        declared = set(step.get("env", {}))
        assert set(env) <= declared | {"PATH"}, f"{key}: env beyond the step's {sorted(declared)}"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        if path is not None:
            environ["PATH"] = path
        environ.update(
            GITHUB_OUTPUT=str(self.output),
            GITHUB_STEP_SUMMARY=str(self.summary),
            RUNNER_TEMP=str(self.temp),
            **env,
            **(extra or {}),
        )
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def outputs(self) -> dict[str, str]:
        lines = self.output.read_text().splitlines()
        return dict(line.split("=", 1) for line in lines)


GOOD = {"BASE": "main", "CDK": "cdktf", "FAIL_ON": "error", "COMMENT": "update", "SARIF": "false"}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CDK", "cdk8s", "input cdk: 'cdk8s' is not one of cdktf, cdktn"),
        ("FAIL_ON", "errors", "input fail-on: 'errors' is not one of error, warning, never"),
        ("COMMENT", "edit", "input comment: 'edit' is not one of update, new, off"),
        ("SARIF", "yes", "input sarif: 'yes' is not one of true, false"),
        ("BASE", "", "input base: empty: outside a pull request there is no base branch"),
    ],
)
def test_a_bad_input_is_one_error_line(tmp_path: Path, name: str, value: str, message: str) -> None:
    runner = Runner(tmp_path)
    assert runner.run("inputs", GOOD, tmp_path).returncode == 0
    done = runner.run("inputs", {**GOOD, name: value}, tmp_path)
    assert done.returncode == 2
    assert done.stdout.startswith(f"::error title=crm-ports::{message}"), done.stdout
    assert len(done.stdout.splitlines()) == 1


@pytest.fixture
def pull_request(tmp_path: Path) -> tuple[Path, str]:
    checkout, main = ci_tools.pull_request(tmp_path, ci_tools.open_admin_lab())
    assert git(checkout, "rev-parse", "--is-shallow-repository").strip() == "true"
    return checkout, main


def test_the_base_branch_is_fetched_into_a_shallow_checkout(
    tmp_path: Path, pull_request: tuple[Path, str]
) -> None:
    checkout, main = pull_request
    runner = Runner(tmp_path)
    done = runner.run("base", {"BASE": "main"}, checkout)
    assert done.returncode == 0, done.stderr
    assert runner.outputs() == {"ref": "origin/main"}
    assert git(checkout, "rev-parse", "origin/main").strip() == main
    assert git(checkout, "rev-parse", "--is-shallow-repository").strip() == "true"
    # a ref the checkout has is used as it is, nothing fetched
    runner.output.write_text("")
    head = git(checkout, "rev-parse", "HEAD").strip()
    assert runner.run("base", {"BASE": head}, checkout).returncode == 0
    assert runner.outputs() == {"ref": head}
    runner.output.write_text("")
    done = runner.run("base", {"BASE": "no-such-branch"}, checkout)
    assert done.returncode != 0 and "no-such-branch" in done.stderr
    assert runner.outputs() == {}


def _fake_crm_ports(folder: Path, status: int, review: dict[str, Any]) -> str:
    """A `crm-ports` standing in for the review command (the test is of the step's
    script, not of the review): it records its arguments and writes what `review -o DIR`
    writes. The PATH to run the step with."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "crm-ports"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, pathlib, sys\n"
        "args = sys.argv[1:]\n"
        f"pathlib.Path({str(folder / 'args.json')!r}).write_text(json.dumps(args))\n"
        f"status = {status}\n"
        "if status < 2:\n"
        "    out = pathlib.Path(args[args.index('-o') + 1])\n"
        "    out.mkdir(parents=True)\n"
        f"    (out / 'review.json').write_text({json.dumps(review)!r})\n"
        "    (out / 'summary.md').write_text('| labs changed | 1 |\\n')\n"
        "    (out / 'comment-1.md').write_text('<!-- crm-ports-review -->\\n')\n"
        "else:\n"
        "    print('crm-ports: error: command line: field --base: no such ref', file=sys.stderr)\n"
        "sys.exit(status)\n"
    )
    fake.chmod(0o755)
    python = shutil.which("python3") or sys.executable
    return os.pathsep.join([str(bin_dir), str(Path(python).parent), "/usr/bin", "/bin"])


REVIEW = {
    "changed": True,
    "errors": 3,
    "warnings": 1,
    "labs_changed": ["mylab"],
    "internet_reachable_new": 0,
    "groups_replaced": 0,
    "verify": "pass",
    "parts": 1,
}
REVIEW_ENV = {
    "BASE_REF": "origin/main",
    "CDK": "cdktf",
    "FAIL_ON": "error",
    "COMMENT": "update",
    "PR_NUMBER": "7",
    "GITHUB_TOKEN": "t0ken",
}


def test_the_review_step_posts_and_sets_the_outputs(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    path = _fake_crm_ports(tmp_path, 1, REVIEW)
    done = runner.run("review", REVIEW_ENV, tmp_path, path)
    assert done.returncode == 0, done.stderr  # findings: reported, failed by the last step
    out = runner.temp / "crm-ports-review"
    args = json.loads((tmp_path / "args.json").read_text())
    assert args == [
        *("review", "--base", "origin/main", "--fail-on", "error", "-o", str(out)),
        *("--post", "github", "--comment", "update"),
    ]
    assert runner.outputs() == {
        "changed": "true",
        "errors": "3",
        "directory": str(out),
        "status": "1",
    }
    assert runner.summary.read_text() == "| labs changed | 1 |\n"

    last = _step("Fail on findings at fail-on")
    assert last["if"] == "steps.review.outputs.status != '0'"
    failed = runner.run(last["name"], {"STATUS": "1", "FAIL_ON": "error"}, tmp_path)
    assert failed.returncode == 1 and failed.stdout.startswith("::error title=crm-ports::")


def test_a_tag_names_the_review_and_its_code_scanning_category(tmp_path: Path) -> None:
    """Two uses of the action on one pull request (two working directories) keep a
    comment each: the tag goes to `crm-ports review --tag`, and to the SARIF category."""
    runner = Runner(tmp_path)
    path = _fake_crm_ports(tmp_path, 0, {**REVIEW, "errors": 0})
    done = runner.run("review", {**REVIEW_ENV, "TAG": "labs/east"}, tmp_path, path)
    assert done.returncode == 0, done.stderr
    args = json.loads((tmp_path / "args.json").read_text())
    assert args[args.index("--tag") + 1] == "labs/east"
    untagged = runner.run("review", {**REVIEW_ENV, "TAG": ""}, tmp_path, path)
    assert untagged.returncode == 0 and "--tag" not in json.loads(
        (tmp_path / "args.json").read_text()
    )
    upload = _step("Upload the findings to code scanning")
    category = upload["with"]["category"]
    assert "inputs.tag" in category and "'crm-ports'" in category


def test_a_pull_request_from_a_fork_is_reviewed_but_not_posted(tmp_path: Path) -> None:
    """A fork's pull request runs with a read-only token: posting was refused (403), exit
    2, and the job summary never written."""
    runner = Runner(tmp_path)
    path = _fake_crm_ports(tmp_path, 0, {**REVIEW, "errors": 0})
    env = {**REVIEW_ENV, "HEAD_REPOSITORY": "someone/crm-labs"}
    runner_sets = {"GITHUB_REPOSITORY": "acme/crm-labs"}
    done = runner.run("review", env, tmp_path, path, runner_sets)
    assert done.returncode == 0, done.stderr
    assert "--post" not in json.loads((tmp_path / "args.json").read_text())
    assert "a pull request from a fork (someone/crm-labs)" in done.stdout
    assert runner.summary.read_text() == "| labs changed | 1 |\n"
    same = {**env, "HEAD_REPOSITORY": "acme/crm-labs"}
    assert runner.run("review", same, tmp_path, path, runner_sets).returncode == 0
    assert "--post" in json.loads((tmp_path / "args.json").read_text())


def test_outside_a_pull_request_nothing_is_posted(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    path = _fake_crm_ports(tmp_path, 0, {**REVIEW, "changed": False, "errors": 0})
    env = {**REVIEW_ENV, "PR_NUMBER": "", "CDK": "cdktn"}
    done = runner.run("review", env, tmp_path, path)
    assert done.returncode == 0, done.stderr
    assert "--post" not in json.loads((tmp_path / "args.json").read_text())
    assert done.stdout.startswith("::notice title=crm-ports::not a pull request")
    assert runner.outputs()["changed"] == "false" and runner.outputs()["status"] == "0"


def test_bad_input_stops_the_review_step_with_its_status(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    path = _fake_crm_ports(tmp_path, 2, REVIEW)
    done = runner.run("review", REVIEW_ENV, tmp_path, path)
    assert done.returncode == 2 and "no such ref" in done.stderr
    assert runner.outputs() == {} and runner.summary.read_text() == ""


def test_the_review_step_posts_with_the_real_command(
    tmp_path: Path, pull_request: tuple[Path, str]
) -> None:
    """The steps as a pull request's job runs them, this checkout's crm-ports on PATH:
    the base fetched, the review posted to a local server playing GitHub's API (one
    comment, then the same comment again on the next run), the outputs from review.json,
    and the policy error (RDP from 0.0.0.0/0) failing the last step with status 1."""
    checkout, _ = pull_request
    runner = Runner(tmp_path)
    assert runner.run("base", {"BASE": "main"}, checkout).returncode == 0
    ref = runner.outputs()["ref"]
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}), encoding="utf-8")
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    with serving(GitHubFake(("Authorization", "Bearer ghs-secret"))) as fake:
        github = {
            "GITHUB_API_URL": fake.url,
            "GITHUB_REPOSITORY": "contoso/labs",
            "GITHUB_EVENT_PATH": str(event),
        }
        env = {**REVIEW_ENV, "BASE_REF": ref, "GITHUB_TOKEN": "ghs-secret"}
        for _ in range(2):
            runner.output.write_text("")
            done = runner.run("review", env, checkout, path, extra=github)
            assert done.returncode == 0, done.stderr
            assert len(fake.live()) == 1, fake.writes()
        (body,) = fake.live().values()
        assert "<!-- crm-ports-review -->" in body and "CRM001" in body
    outputs = runner.outputs()
    assert (outputs["changed"], outputs["status"]) == ("true", "1")
    assert int(outputs["errors"]) >= 1
    assert "Policy errors" in runner.summary.read_text()


def test_the_sarif_step_writes_the_log_despite_a_policy_error(
    tmp_path: Path, pull_request: tuple[Path, str]
) -> None:
    """`sarif: true`: the policy error (status 1) is in the log, which upload-sarif then
    uploads; only bad input would stop the step."""
    checkout, _ = pull_request
    runner = Runner(tmp_path)
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    step = "Policy findings as SARIF (crm-ports check --format sarif)"
    done = runner.run(step, {}, checkout, path)
    assert done.returncode == 0, done.stderr
    log = json.loads((runner.temp / "crm-ports.sarif").read_text())
    assert log["version"] == "2.1.0"
    results = log["runs"][0]["results"]
    assert any(r["ruleId"] == "CRM001" and r["level"] == "error" for r in results)
