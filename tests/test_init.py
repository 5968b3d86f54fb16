"""`crm-ports init [DIR]`: the scaffold of a labs repository. Every file as promised, the
example lab valid and synthesizable, cdktf.json's app running from the scaffold as a
user's shell runs it (and through cdktf-cli / cdktn-cli), the .gitignore keeping state out
of git, the workflow passing actionlint; a refusal that lists every file in the way and
writes nothing, `--force`, a second run that touches nothing, byte-identical output."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from crm_ports import __version__
from crm_ports.commands import init as init_module
from tests.conftest import REPO, Result
from tests.readme import DEPLOYING, block
from tests.test_workflow import assert_lints_clean
from tests.tf_harness import require_tool

FILES = [
    "cdktf.json",
    "package.json",
    ".gitignore",
    "crm-ports.yaml",
    "labs/example.yaml",
    ".github/workflows/crm-ports-review.yml",
]
VENV_BIN = Path(sys.executable).parent  # where `source .venv/bin/activate` puts python


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _stats(root: Path) -> dict[str, tuple[int, int]]:
    """Each file's inode and modification time: a file rewritten, even with the same
    bytes, gets a new inode (written by rename) and a new time."""
    return {
        name: ((root / name).stat().st_ino, (root / name).stat().st_mtime_ns)
        for name in _tree(root)
    }


def _age(root: Path) -> None:
    """Every file dated to a fixed past moment, so that a rewrite shows in its mtime
    whatever the clock's resolution."""
    for name in _tree(root):
        os.utime(root / name, ns=(1_000_000_000, 1_000_000_000))


def _yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


@pytest.fixture
def scaffold(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Result]:
    """`crm-ports init my-labs` run in an empty folder: the new folder and what it said."""
    monkeypatch.chdir(tmp_path)
    result = cli("init", "my-labs")
    assert result.code == 0, result.err
    return tmp_path / "my-labs", result


def test_every_file_as_promised(scaffold: tuple[Path, Result]) -> None:
    root, result = scaffold
    assert sorted(_tree(root)) == sorted(FILES)
    assert [line for line in result.out.splitlines() if line.startswith("wrote ")] == [
        f"wrote my-labs/{name}" for name in FILES
    ]

    config = json.loads((root / "cdktf.json").read_text())
    assert config["app"] == "python -O -m crm_ports.app"
    ours = json.loads((REPO / "cdktf.json").read_text())
    assert config["app"] != ours["app"] and ".venv" not in config["app"]
    # The rest as crm-ports' own: a fixed projectId keeps cdktf-cli from writing one in.
    assert set(config) == set(ours) and config["projectId"] != ours["projectId"]
    assert {k: v for k, v in config.items() if k not in ("app", "projectId")} == {
        k: v for k, v in ours.items() if k not in ("app", "projectId")
    }

    package = json.loads((root / "package.json").read_text())
    pinned = json.loads((REPO / "package.json").read_text())["devDependencies"]["cdktf-cli"]
    locked = json.loads((REPO / "package-lock.json").read_text())["packages"]
    assert package["devDependencies"] == {"cdktf-cli": pinned}
    assert locked["node_modules/cdktf-cli"]["version"] == pinned
    assert package["private"] is True

    project = (root / "crm-ports.yaml").read_text()
    assert _yaml(root / "crm-ports.yaml") == {"labs": ["labs/*.yaml"]}
    assert "\n# catalog: catalog\n" in project  # how to name a catalogue folder

    lab = (root / "labs" / "example.yaml").read_text()
    assert _yaml(root / "labs" / "example.yaml")["name"] == "example"
    assert sum(line.lstrip().startswith("#") for line in lab.splitlines()) >= 20

    workflow = _yaml(root / ".github" / "workflows" / "crm-ports-review.yml")
    assert set(workflow["on"]) == {"pull_request"}
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}
    (job,) = workflow["jobs"].values()
    assert job["env"]["CRM_PORTS"] == f"crm-ports=={__version__}"
    steps = job["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@")
    assert steps[0]["with"]["fetch-depth"] == 0  # the review reads the base branch
    runs = {step.get("name", ""): step for step in steps}
    assert runs["Install crm-ports"]["run"] == 'python -m pip install "$CRM_PORTS"'
    review = runs["Review the change (crm-ports review)"]
    assert review["env"] == {
        "BASE_REF": "${{ github.base_ref }}",
        "GITHUB_TOKEN": "${{ github.token }}",
    }
    assert 'crm-ports review --base "origin/${BASE_REF}" --post github' in review["run"]
    assert '>> "$GITHUB_STEP_SUMMARY"' in review["run"]


def test_next_steps_are_printed(scaffold: tuple[Path, Result]) -> None:
    _, result = scaffold
    steps = result.out.split("\nNext:\n", 1)[1].splitlines()
    commands = [line.split("#", 1)[0].strip() for line in steps]
    assert commands == [
        "cd my-labs",
        "npm install",
        "crm-ports validate labs/example.yaml",
        "npx cdktf deploy aws-example --skip-provider-lock",
    ]
    assert "npm ci" in steps[1]


def test_the_docs_session_is_what_init_prints(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/deploying.md's session: its `crm-ports` lines run as written, in a fresh
    folder; the lines after `crm-ports init` are word for word the next steps init
    printed. (npm install and npx cdktf deploy need the npm registry and a cloud: the
    deploy session tests run cdktf-cli, and test_cdktf_cli_runs_the_scaffold below runs
    it on the scaffold.)"""
    monkeypatch.chdir(tmp_path)
    lines = [line for line in block("init", DEPLOYING).splitlines() if not line.startswith("```")]
    assert lines[0].startswith("source .venv/bin/activate")
    init_line = lines.index("crm-ports init my-labs")
    result = cli(*shlex.split(lines[init_line])[1:])
    assert result.code == 0, result.err
    printed = result.out.split("\nNext:\n", 1)[1].splitlines()
    assert [line.strip() for line in printed] == lines[init_line + 1 :]
    for line in lines[init_line + 1 :]:
        words = shlex.split(line.split("#", 1)[0])
        if words[0] == "cd":
            monkeypatch.chdir(words[1])
        elif words[0] == "crm-ports":
            ran = cli(*words[1:])
            assert ran.code == 0, (line, ran.err)


def test_byte_identical_in_any_folder_and_run(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli("init", "first").code == 0
    (tmp_path / "deeper" / "elsewhere").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "deeper" / "elsewhere")
    assert cli("init").code == 0
    first, second = _tree(tmp_path / "first"), _tree(tmp_path / "deeper" / "elsewhere")
    assert first == second
    text = b"".join(first.values()).decode()
    for machine_specific in (str(tmp_path), str(REPO), sys.executable, str(Path.home())):
        assert machine_specific not in text


def test_the_example_lab_validates_checks_and_synthesizes(
    cli: Callable[..., Result], scaffold: tuple[Path, Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = scaffold
    monkeypatch.chdir(root)
    validated = cli("validate", "labs/example.yaml")
    assert validated.code == 0, validated.err
    assert validated.out == "labs/example.yaml: lab 'example' is valid\n"
    checked = cli("check", "--lab", "labs/example.yaml")  # what the workflow runs, per lab
    assert checked.code == 0 and "0 error(s), 0 warning(s)" in checked.out, checked
    synth = subprocess.run(
        [sys.executable, "-m", "crm_ports", "synth", "--lab", "labs/example.yaml"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "CRM_PORTS_CDK"},
    )
    assert synth.returncode == 0, synth.stderr
    assert synth.stdout == "cdktf.out/stacks/aws-example/cdk.tf.json\n"
    stack = json.loads((root / "cdktf.out" / "stacks" / "aws-example" / "cdk.tf.json").read_text())
    assert stack["resource"]["aws_security_group"]


def _app_env(outdir: Path) -> dict[str, str]:
    """A user's shell after `source .venv/bin/activate`: the venv's python first on PATH,
    no CRM_PORTS_CDK of the test run's own. CRM_PORTS_LABS names the example lab until the
    app reads crm-ports.yaml itself (the project file's module is built apart)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CRM_PORTS_CDK", "PYTHONPATH")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(CDKTF_OUTDIR=str(outdir), CRM_PORTS_LABS="labs/example.yaml")
    return env


@pytest.mark.slow
@pytest.mark.parametrize(("cdk", "version"), [("cdktf", "0.21.0"), ("cdktn", "0.24.0")])
def test_the_app_of_cdktf_json_runs(
    cli: Callable[..., Result],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cdk: str,
    version: str,
) -> None:
    """The app command, run by the shell from the scaffold as cdktf-cli runs it, writes
    the example's stack on the flavour the scaffold chose."""
    if not (VENV_BIN / "python").is_file():
        pytest.fail(f"no python beside {sys.executable}: run the tests from a virtualenv")
    monkeypatch.chdir(tmp_path)
    assert cli("init", "--cdk", cdk, "labs-repo").code == 0
    root = tmp_path / "labs-repo"
    app = json.loads((root / "cdktf.json").read_text())["app"]
    done = subprocess.run(
        ["sh", "-c", app],
        cwd=root,
        env=_app_env(tmp_path / "out"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[1/1] built aws-example" in done.stdout
    stack = json.loads((tmp_path / "out" / "stacks" / "aws-example" / "cdk.tf.json").read_text())
    assert stack["//"]["metadata"]["version"] == version  # the flavour that wrote it


@pytest.mark.slow
@pytest.mark.e2e(seconds=40)
@pytest.mark.parametrize("cdk", ["cdktf", "cdktn"])
def test_cdktf_cli_runs_the_scaffold(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cdk: str
) -> None:
    """`npx cdktf synth` (`npx cdktn synth`) in the scaffold, with the packages its
    package.json pins (linked from this checkout, which pins the same), synthesizes the
    example and leaves cdktf.json as init wrote it, so init again is still a no-op."""
    require_tool("npx", "runs the scaffold's pinned CLI")
    modules = REPO / "node_modules" if cdk == "cdktf" else REPO / "flavours/cdktn/node_modules"
    require_tool(
        str(modules / ".bin" / cdk), f"{cdk}-cli, as `npm ci` / `make setup-node` install it"
    )
    monkeypatch.chdir(tmp_path)
    assert cli("init", "--cdk", cdk, "labs-repo").code == 0
    root = tmp_path / "labs-repo"
    before = _tree(root)
    (root / "node_modules").symlink_to(modules)
    env = _app_env(tmp_path / "unused")
    del env["CDKTF_OUTDIR"]
    env.update(CHECKPOINT_DISABLE="1", CI="1")
    done = subprocess.run(
        ["npx", "--no-install", cdk, "synth"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / "cdktf.out" / "stacks" / "aws-example" / "cdk.tf.json").is_file()
    after = {k: v for k, v in _tree(root).items() if not k.startswith("cdktf.out/")}
    assert after == before
    monkeypatch.chdir(root)
    again = cli("init", "--cdk", cdk)
    assert again.code == 0 and again.out.startswith("nothing to do"), again


def test_refusal_lists_every_file_in_the_way_and_writes_nothing(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "mine"
    (root / "labs").mkdir(parents=True)
    (root / "cdktf.json").write_text('{"app": "my own app"}\n')
    (root / ".gitignore").write_text("*.pyc\n")
    (root / "labs" / "example.yaml").write_text(init_module.scaffold("cdktf")["labs/example.yaml"])
    before = _tree(root)
    result = cli("init", "mine")
    assert result.code == 2
    assert result.err == (
        "crm-ports: error: mine: field 'DIR': 2 files exist and differ from what init "
        "writes (mine/cdktf.json, mine/.gitignore): nothing written; move them away, or "
        "pass --force to replace them\n"
    )
    assert result.out == ""
    assert _tree(root) == before  # not even the missing files
    (root / ".gitignore").unlink()
    single = cli("init", "mine")
    assert single.code == 2
    assert single.err.endswith(
        ": 1 file exists and differs from what init writes (mine/cdktf.json): nothing "
        "written; move it away, or pass --force to replace it\n"
    )


def test_force_replaces_what_differs_and_only_that(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli("init", "mine").code == 0
    (tmp_path / "mine" / "cdktf.json").write_text('{"app": "my own app"}\n')
    (tmp_path / "mine" / "package.json").unlink()
    _age(tmp_path / "mine")
    before = _stats(tmp_path / "mine")
    result = cli("init", "--force", "mine")
    assert result.code == 0, result.err
    assert result.out.splitlines()[:6] == [
        "replaced mine/cdktf.json",
        "wrote mine/package.json",
        "unchanged mine/.gitignore",
        "unchanged mine/crm-ports.yaml",
        "unchanged mine/labs/example.yaml",
        "unchanged mine/.github/workflows/crm-ports-review.yml",
    ]
    assert _tree(tmp_path / "mine") == {
        name: text.encode() for name, text in init_module.scaffold("cdktf").items()
    }
    after = _stats(tmp_path / "mine")
    assert after["cdktf.json"] != before["cdktf.json"]
    assert {k: v for k, v in after.items() if k not in ("cdktf.json", "package.json")} == {
        k: v for k, v in before.items() if k != "cdktf.json"
    }


def test_a_second_run_is_a_no_op(scaffold: tuple[Path, Result], cli: Callable[..., Result]) -> None:
    root, _ = scaffold
    _age(root)
    before = _stats(root)
    for args in (["init", "my-labs"], ["init", "--force", "my-labs"]):
        result = cli(*args)
        assert result.code == 0, result.err
        assert result.out == "nothing to do: my-labs already holds this scaffold\n"
    assert _stats(root) == before


def test_a_deleted_example_lab_stays_deleted(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second `init` wrote `labs/example.yaml` again once the user had deleted it for a
    lab of their own, and the project's `labs/*.yaml` then deployed it."""
    monkeypatch.chdir(tmp_path)
    assert cli("init", "s3").code == 0
    (tmp_path / "s3/labs/example.yaml").unlink()
    (tmp_path / "s3/labs/mylab.yaml").write_text("name: mylab\nclouds: [aws]\n")
    (tmp_path / "s3/.gitignore").unlink()  # something for init to do
    for args in (["init", "s3"], ["init", "--force", "s3"]):
        result = cli(*args)
        assert result.code == 0, result.err
        assert result.out.splitlines()[0] == (
            "kept your labs: example lab not written (s3/labs/example.yaml; "
            "crm-ports.yaml names lab files already)"
        )
        assert "crm-ports validate labs/example.yaml" not in result.out
        assert sorted(p.name for p in (tmp_path / "s3/labs").iterdir()) == ["mylab.yaml"]
    assert "wrote s4/labs/example.yaml" in cli("init", "s4").out  # fresh: an example
    (tmp_path / "s4/labs/example.yaml").write_text("name: edited\n")  # the user's lab now
    (tmp_path / "s4/cdktf.json").unlink()
    edited = cli("init", "--force", "s4")
    assert edited.code == 0 and "kept your labs" in edited.out
    assert (tmp_path / "s4/labs/example.yaml").read_text() == "name: edited\n"


def test_a_project_without_labs_gets_the_example(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s5").mkdir()
    (tmp_path / "s5/crm-ports.yaml").write_text(init_module.scaffold("cdktf")["crm-ports.yaml"])
    result = cli("init", "s5")
    assert result.code == 0, result.err
    assert "wrote s5/labs/example.yaml" in result.out and "kept" not in result.out


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_a_symbolic_link_in_the_scaffold_is_refused(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, force: list[str]
) -> None:
    """`init --force` replaced the file outside DIR that `s1/.gitignore` linked to, and the
    refusal without --force named the link's target, not the link."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outside.txt").write_text("not the repository's\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "s1").mkdir()
    (tmp_path / "s1/.gitignore").symlink_to("../outside.txt")
    (tmp_path / "s1/labs").symlink_to("../elsewhere")
    before = _tree(tmp_path)
    result = cli("init", *force, "s1")
    assert result.code == 2, result
    assert result.err == (
        "crm-ports: error: s1: field 'DIR': cannot write the scaffold: s1/.gitignore is a "
        "symbolic link; s1/labs is a symbolic link: nothing written\n"
    )
    assert result.out == "" and _tree(tmp_path) == before
    (tmp_path / "s1/labs").unlink()
    (tmp_path / "s1/.gitignore").unlink()
    (tmp_path / "s1/.gitignore").symlink_to("../gone")  # dangling: would create ../gone
    dangling = cli("init", *force, "s1")
    assert dangling.code == 2 and "s1/.gitignore is a symbolic link" in dangling.err
    assert not (tmp_path / "gone").exists()


def test_what_force_cannot_replace_is_refused(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine" / "package.json").mkdir(parents=True)
    (tmp_path / "mine" / "labs").write_text("a file where the labs folder goes\n")
    before = _tree(tmp_path)
    result = cli("init", "--force", "mine")
    assert result.code == 2
    assert result.err == (
        "crm-ports: error: mine: field 'DIR': cannot write the scaffold: mine/package.json "
        "is a folder; mine/labs is not a folder: nothing written\n"
    )
    assert _tree(tmp_path) == before
    (tmp_path / "a-file").write_text("x\n")
    result = cli("init", "a-file")
    assert result.code == 2
    assert result.err == "crm-ports: error: a-file: field 'DIR': exists and is not a folder\n"


def test_writes_are_atomic(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file is written beside its target and renamed into place: when the rename fails,
    the file under the target's name is the old one, whole, and no temporary is left."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "package.json").write_text("{}\n")
    real = os.replace

    def failing(src: Any, dst: Any) -> None:
        if str(dst).endswith("package.json"):
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    result = cli("init", "--force", "mine")
    assert result.code == 2
    assert "mine/package.json: field 'DIR': cannot write: No space left on device" in result.err
    assert (tmp_path / "mine" / "package.json").read_text() == "{}\n"
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["cdktf.json", "package.json"]


def test_cdk_terrain(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli("init", "--cdk", "cdktn", "terrain").code == 0
    assert cli("init", "plain").code == 0
    terrain, plain = _tree(tmp_path / "terrain"), _tree(tmp_path / "plain")
    assert {k for k in terrain if terrain[k] != plain[k]} == {"cdktf.json", "package.json"}
    config = json.loads(terrain["cdktf.json"])
    assert config["app"] == "CRM_PORTS_CDK=cdktn python -O -m crm_ports.app"
    assert {k: v for k, v in config.items() if k != "app"} == {
        k: v for k, v in json.loads(plain["cdktf.json"]).items() if k != "app"
    }
    pins = json.loads((REPO / "flavours" / "cdktn" / "package.json").read_text())
    assert json.loads(terrain["package.json"])["devDependencies"] == pins["devDependencies"]
    # The other flavour over a scaffold is a conflict like any edit.
    switched = cli("init", "--cdk", "cdktn", "plain")
    assert switched.code == 2
    assert "2 files exist and differ" in switched.err
    assert "(plain/cdktf.json, plain/package.json)" in switched.err


def test_gitignore_keeps_state_and_outputs_out_of_git(scaffold: tuple[Path, Result]) -> None:
    git = require_tool("git", "asks git what the scaffold's .gitignore ignores")
    root, _ = scaffold
    subprocess.run([git, "init", "-q", "."], cwd=root, check=True)
    ignored = [
        "terraform.aws-example.tfstate",
        "terraform.aws-example.tfstate.backup",
        ".terraform.tfstate.lock.info",
        "build/terraform.aws-example.tfstate",
        "cdktf.out/stacks/aws-example/cdk.tf.json",
        "build/cdktf.out/manifest.json",
        ".terraform/providers/x",
        "node_modules/cdktf-cli/package.json",
        ".cdktf.out.host-123-abcd/stacks/x",
        "build/.cdktf.out.host-123-abcd/manifest.json",
        ".venv/bin/python",
        "labs/__pycache__/x.pyc",
    ]
    for name in ignored:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x\n")
    (root / "linked").mkdir()
    (root / "linked" / "node_modules").symlink_to(root / "node_modules")  # npm workspaces
    status = subprocess.run(
        [git, "status", "--porcelain", "--untracked-files=all"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    )
    assert sorted(line[3:] for line in status.stdout.splitlines()) == sorted(FILES)


def test_the_workflow_passes_actionlint(scaffold: tuple[Path, Result]) -> None:
    root, _ = scaffold
    workflow = ".github/workflows/crm-ports-review.yml"
    assert_lints_clean(root, workflow, "lints the scaffold's workflow")


def test_a_note_when_python_on_path_is_not_crm_ports_interpreter(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    activated = cli("init", "a")
    assert activated.code == 0 and activated.err == WORKFLOW_NOTE
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no python at all
    other = cli("init", "b")
    assert other.code == 0
    python, workflow = other.err.splitlines(keepends=True)
    assert python.startswith(
        "note: cdktf.json's app runs `python -O -m crm_ports.app` with the python on PATH, "
        f"which is missing, not the interpreter crm-ports runs in ({sys.executable}): "
    )
    assert python.endswith(" before npx cdktf\n") and workflow == WORKFLOW_NOTE


WORKFLOW_NOTE = (
    f"note: the review workflow installs crm-ports=={__version__} from PyPI, where crm-ports "
    "is not published yet: set CRM_PORTS in .github/workflows/crm-ports-review.yml to a git "
    "URL or a wheel committed to the repository (docs/deploying.md, Start a labs "
    "repository)\n"
)


def test_a_note_says_the_workflow_needs_crm_ports_from_a_git_url_or_wheel(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scaffolded workflow installs `crm-ports==VERSION` from PyPI, which fails until
    the package is published: init says so when it writes the workflow, and only then."""
    monkeypatch.chdir(tmp_path)
    first = cli("init", "w")
    assert first.code == 0 and first.err.endswith(WORKFLOW_NOTE)
    assert (
        f'CRM_PORTS: "crm-ports=={__version__}"'
        in (tmp_path / "w/.github/workflows/crm-ports-review.yml").read_text()
    )
    (tmp_path / "w/cdktf.json").unlink()
    again = cli("init", "w")  # the workflow is already there: no note
    assert again.code == 0 and "review workflow" not in again.err
    assert "Start a labs repository" in (REPO / "docs/deploying.md").read_text()
    assert "CRM_PORTS" in (REPO / "docs/deploying.md").read_text()


def test_help_examples_run(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each example of `init --help`, one after the other in an empty folder, as a new
    user would type them (not in test_cli's folder, whose labs/ links to this checkout's)."""
    monkeypatch.chdir(tmp_path)
    text = cli("init", "--help").out
    examples = [
        line.split("#", 1)[0].strip()
        for line in text.split("Examples:", 1)[1].splitlines()
        if line.strip().startswith("crm-ports ")
    ]
    assert len(examples) == 4
    for example in examples:
        result = cli(*shlex.split(example)[1:])
        assert result.code == 0, (example, result.err)
    assert sorted(_tree(tmp_path / "my-labs")) == sorted(FILES)


def test_init_never_loads_cdktf(tmp_path: Path) -> None:
    code = (
        "import sys; from crm_ports.cli import run; code = run(['init', 'x']);"
        "print(code, sorted(m for m in sys.modules if m.split('.')[0] in ('cdktf', 'cdktn',"
        " 'jsii', 'constructs')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.stdout.strip().splitlines()[-1] == "0 []"
