"""The project file (`crm-ports.yaml`) in a repository of the user's own: found from the
working directory upwards, its globs and catalogue chosen by every command that picks labs
(`synth`, `cdktf.json`'s app, `check --all`, `verify --all`, `diff` and `diagram` on the
working tree and on git refs), `--lab` and CRM_PORTS_LABS before it, bad project files as
one line, and `--all` with nothing to check said so."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crm_ports.catalogue.load import default_catalogue_dir
from crm_ports.errors import InputError
from crm_ports.lab.project import PROJECT_FILE, find_project
from crm_ports.synth.plan import LABS_ENV, labs_from_environment
from tests.conftest import REPO, Result
from tests.tf_harness import require_tool

CLI = Callable[..., Result]
FIXTURES = Path(__file__).parent / "fixtures" / "review"

MYLAB = """\
name: mylab
clouds: [aws]
topology: split-roles
options: {sql_port: 1433}
"""
OTHER = """\
name: other
clouds: [aws]
topology: full-server
"""


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def _commit(root: Path, message: str) -> None:
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", message)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _json(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.out)
    return data


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of the user's own, no git: a project file and one lab; cwd."""
    root = tmp_path / "mine"
    _write(root, {PROJECT_FILE: "labs:\n  - labs/*.yaml\n", "labs/mylab.yaml": MYLAB})
    monkeypatch.chdir(root)
    monkeypatch.delenv(LABS_ENV, raising=False)
    return root


@pytest.fixture
def repo(project: Path) -> Path:
    """The same folder as a git repository of the user's own (no catalog/), committed."""
    require_tool("git", "a git ref is read with git")
    _git(project, "init", "-q", "-b", "main")
    _commit(project, "my lab")
    return project


# -- the file ------------------------------------------------------------------------------


def test_found_from_a_folder_below_and_globs_relative_to_it(project: Path) -> None:
    (project / "labs" / "deeper").mkdir()
    found = find_project(project / "labs" / "deeper")
    assert found is not None and found.root == project.resolve()
    assert found.lab_files() == (project.resolve() / "labs" / "mylab.yaml",)
    assert find_project(project.parent) is None


def test_lab_files_are_sorted_and_listed_once(project: Path) -> None:
    for name in ("zeta", "alpha", "mid"):  # created out of order
        _write(project, {f"labs/{name}.yaml": f"name: {name}\n"})
    _write(project, {"envs/b/lab.yaml": "name: b\n", "envs/a/lab.yaml": "name: a\n"})
    _write(project, {PROJECT_FILE: "labs: [labs/zeta.yaml, 'labs/*.yaml', 'envs/**/lab.yaml']\n"})
    found = find_project(project)
    assert found is not None
    names = [p.relative_to(project.resolve()).as_posix() for p in found.lab_files()]
    assert names == [
        "envs/a/lab.yaml",
        "envs/b/lab.yaml",
        "labs/alpha.yaml",
        "labs/mid.yaml",
        "labs/mylab.yaml",
        "labs/zeta.yaml",
    ]


@pytest.mark.parametrize(
    "globs",
    [["labs/*.yaml"], ["**/*.yaml"], ["labs/**/*.yaml"], ["labs/[a-m]*.yaml"], ["labs/?y*"]],
)
def test_a_git_ref_is_matched_as_the_disk_is(project: Path, globs: list[str]) -> None:
    """`select` (a git ref's file list) chooses exactly what `lab_files` finds on disk."""
    _write(project, {"labs/sub/deep.yaml": "x", "labs/.hidden.yaml": "x", "labs/b.yml": "x"})
    _write(project, {PROJECT_FILE: json.dumps({"labs": globs})})
    found = find_project(project)
    assert found is not None
    listing = [p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()]
    on_disk = [p.relative_to(found.root).as_posix() for p in found.lab_files()]
    assert list(found.select(listing)) == on_disk


def test_the_project_file_and_its_catalogue_are_never_labs(cli: CLI, repo: Path) -> None:
    """`labs: ["*.yaml"]` matched crm-ports.yaml itself (and `**/*.yaml` the catalogue's
    files), which then failed as a lab file."""
    shutil.copytree(default_catalogue_dir(), repo / "my-catalog")
    _write(repo, {"top.yaml": OTHER.replace("other", "top")})
    _write(repo, {PROJECT_FILE: "labs: ['*.yaml', '**/*.yaml']\ncatalog: my-catalog\n"})
    found = find_project(repo)
    assert found is not None
    assert [p.name for p in found.lab_files()] == ["mylab.yaml", "top.yaml"]
    listing = [p.relative_to(repo).as_posix() for p in repo.rglob("*.yaml")]
    assert found.select(listing) == ("labs/mylab.yaml", "top.yaml")
    result = cli("check", "--all", "--format", "json")
    assert result.code == 0, result.err
    assert _json(result)["labs"] == ["mylab", "top"]
    _commit(repo, "labs at the top")
    same = cli("diff", "--base", "HEAD", "--format", "json")  # the ref's side alike
    assert same.code == 0, same.err
    _write(repo, {PROJECT_FILE: "labs: ['crm-*.yaml']\n"})
    alone = cli("check", "--all")
    assert alone.code == 2 and alone.err.count("\n") == 1
    assert alone.err.endswith(
        "field 'labs[0]': 'crm-*.yaml' matches no file but the project file and the "
        "catalogue, never labs\n"
    )


BAD_PROJECTS = [
    (
        "lab: [labs/*.yaml]\n",
        "crm-ports.yaml:1: project: field 'lab': unknown key",
        "labs, catalog",
    ),
    ("labs: [labs/*.yaml]\ncatalogue: x\n", "crm-ports.yaml:2: project: field 'catalogue'", "labs"),
    (
        "labs:\n  - labs/*.yaml\n  - lab/*.yaml\n",
        "crm-ports.yaml:3: project: field 'labs[1]'",
        "'lab/*.yaml' matches no file",
    ),
    ("labs: ['../labs/*.yaml']\n", "crm-ports.yaml:1: project: field 'labs[0]'", "no '..'"),
    ("labs: [/etc/*.yaml]\n", "crm-ports.yaml:1: project: field 'labs[0]'", "relative to the"),
    ("labs: labs/*.yaml\n", "crm-ports.yaml:1: project: field 'labs'", "not of type 'array'"),
    ("labs: []\n", "crm-ports.yaml:1: project: field 'labs'", "non-empty"),
    ("catalog: catalog\n", "crm-ports.yaml:1: project", "'labs' is missing"),
    ("labs: [labs/*.yaml]\ncatalog: my-catalog\n", "crm-ports.yaml:2", "'my-catalog' is no"),
    ("- labs/*.yaml\n", "crm-ports.yaml:1: project", "expected a mapping"),
    ("labs: [labs/*.yaml\n", "crm-ports.yaml", "malformed YAML"),
]


# Every command reads the project file (for its catalogue); those choosing labs expand its
# globs too, so a glob matching nothing is theirs.
CHOOSING = [["synth", "--out", "out"], ["check", "--all"], ["verify", "--all"]]


@pytest.mark.parametrize(
    ("text", "where", "what", "args"),
    [
        (*bad, args)
        for bad in BAD_PROJECTS
        for args in [*CHOOSING, *([] if "matches no file" in bad[2] else [["rules"]])]
    ],
)
def test_a_bad_project_file_is_one_line_and_exit_2(
    cli: CLI, project: Path, text: str, where: str, what: str, args: list[str]
) -> None:
    (project / PROJECT_FILE).write_text(text, encoding="utf-8")
    before = sorted(p.name for p in project.iterdir())
    result = cli(*args)
    assert result.code == 2, result
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert result.err.startswith(f"crm-ports: error: {where}"), result.err
    assert what in result.err
    assert result.out == "" and sorted(p.name for p in project.iterdir()) == before


# -- which labs --------------------------------------------------------------------------


def test_labs_come_from_the_option_then_the_environment_then_the_project(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = find_project(project)
    _write(project, {"elsewhere/other.yaml": OTHER})
    assert [lab.name for lab in labs_from_environment(found)] == ["mylab"]
    assert [lab.name for lab in labs_from_environment(None)] == ["full-server", "split-roles"]
    monkeypatch.setenv(LABS_ENV, "elsewhere/other.yaml")
    assert [lab.name for lab in labs_from_environment(found)] == ["other"]


def test_check_all_is_exactly_the_projects_labs(cli: CLI, project: Path) -> None:
    """Never the built-in default labs beside the user's (outside git too)."""
    result = cli("check", "--all", "--format", "json")
    assert result.code == 0, result.err
    assert _json(result)["labs"] == ["mylab"]


def test_a_bare_check_is_the_projects_labs_or_crm_ports_labs(
    cli: CLI, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bare `check` in a project repository checked the built-in `split-roles` lab and
    passed; CRM_PORTS_LABS was ignored the same way."""
    _write(project, {"labs/other.yaml": OTHER, "elsewhere/third.yaml": "name: third\n"})
    result = cli("check", "--format", "json")
    assert result.code == 0, result.err
    assert _json(result)["labs"] == ["mylab", "other"]
    monkeypatch.setenv(LABS_ENV, "labs/other.yaml:elsewhere/third.yaml")
    assert _json(cli("check", "--format", "json"))["labs"] == ["other", "third"]


def test_crm_ports_labs_is_a_bare_checks_labs_without_a_project_too(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, {"mylab.yaml": MYLAB})
    monkeypatch.setenv(LABS_ENV, "mylab.yaml")
    assert _json(cli("check", "--format", "json"))["labs"] == ["mylab"]
    monkeypatch.delenv(LABS_ENV)  # crm-ports' own layout: the default options alone
    assert _json(cli("check", "--format", "json"))["labs"] == ["split-roles"]


@pytest.mark.parametrize(
    "args",
    [
        ["rules"],
        ["matrix"],
        ["ports"],
        ["diagram"],
        ["check", "--auth", "claims"],
        ["rules", "--sql-port", "1533"],
        ["audit", "aws"],
    ],
)
def test_one_lab_commands_in_a_project_take_a_lab(cli: CLI, project: Path, args: list[str]) -> None:
    """`rules`, `matrix`, `ports` and `diagram` with no --lab showed the built-in
    `split-roles` lab in a repository whose labs are its own."""
    _write(project, {"labs/other.yaml": OTHER})
    result = cli(*args)
    assert result.code == 2, result
    assert result.out == "" and result.err.count("\n") == 1
    assert "field '--lab': no lab given" in result.err
    assert "give --lab (the project's labs: labs/mylab.yaml, labs/other.yaml)" in result.err
    assert "split-roles" not in result.err


@pytest.mark.parametrize("command", ["rules", "matrix", "ports", "diagram", "check"])
def test_an_explicit_topology_is_a_catalogue_topology_in_a_project(
    cli: CLI, project: Path, command: str
) -> None:
    """Asked for by name, a catalogue topology with the flags is no default lab leaking."""
    result = cli(command, "--topology", "full-server", "--sql-port", "1533")
    assert result.code == 0, result.err
    assert "1533" in result.out or command == "check"
    if command == "check":
        assert "(full-server)" in result.out


def test_check_all_with_nothing_to_check_is_exit_2(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside a git repository, without a project file, `check --all` checked the default
    labs alone and passed: a silent pass of labs the user never wrote."""
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, {"labs/mylab.yaml": MYLAB})  # no project file, no repository
    for verb in ("check", "verify"):
        result = cli(verb, "--all")
        assert result.code == 2, result
        assert result.err.count("\n") == 1 and result.out == ""
        assert f"field '--all': nothing to {verb}: no crm-ports.yaml" in result.err


def test_a_repository_without_labs_has_nothing_to_check(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tool("git", "a git repository")
    _git(tmp_path, "init", "-q")
    monkeypatch.chdir(tmp_path)
    result = cli("check", "--all")
    assert result.code == 2 and "nothing to check" in result.err


def test_crm_ports_own_layout_keeps_its_labs(cli: CLI) -> None:
    """No project file: the default labs and labs/*.yaml of a git repository (crm-ports'
    own, which has no project file on purpose)."""
    assert find_project(REPO) is None
    data = _json(cli("check", "--all", "--format", "json"))
    assert data["labs"] == ["contoso-claims", "fabrikam-full-server", "full-server", "split-roles"]


def test_the_project_catalogue_is_every_commands(cli: CLI, project: Path) -> None:
    """`catalog:` is the catalogue of `rules` (and every command); `--catalog` wins."""
    shutil.copytree(default_catalogue_dir(), project / "my-catalog")
    flows = project / "my-catalog" / "flows.yaml"
    flows.write_text(flows.read_text("utf-8") + (FIXTURES / "added-flow.yaml").read_text("utf-8"))
    _write(project, {PROJECT_FILE: "labs: [labs/*.yaml]\ncatalog: my-catalog\n"})
    rules = cli("rules", "--lab", "labs/mylab.yaml", "--format", "json")
    assert "crm-deployment.ssrs.tcp.winrm" in rules.out, rules.err
    builtin = cli("--catalog", str(default_catalogue_dir()), "rules", "--lab", "labs/mylab.yaml")
    assert builtin.code == 0 and "crm-deployment.ssrs.tcp.winrm" not in builtin.out
    assert "crm-deployment" in builtin.out


# -- git refs in a repository of the user's own ---------------------------------------------


def test_diff_of_a_commit_in_a_repository_without_catalog(cli: CLI, repo: Path) -> None:
    """`diff --base HEAD~1` after an edit: exit 1, the change shown, only the user's lab.
    (It said `HEAD~1: no catalog/ directory at this git ref`.)"""
    lab = repo / "labs" / "mylab.yaml"
    lab.write_text(MYLAB.replace("sql_port: 1433", "sql_port: 1533"), encoding="utf-8")
    _commit(repo, "move SQL Server")
    result = cli("diff", "--base", "HEAD~1")
    assert result.code == 1, result.err
    assert "1 of 1 lab(s) change" in result.out
    assert "Option `sql_port`: `1433` -> `1533`" in result.out
    assert "TCP 1533 from crm-front-end to sql-server, changed (ports TCP 1433 -> TCP 1533)" in (
        result.out
    )
    data = _json(cli("diff", "--base", "HEAD~1", "--format", "json"))
    assert [lab["name"] for lab in data["labs"]] == ["mylab"]
    drawn = cli("diagram", "--base", "HEAD~1", "--format", "markdown")
    assert drawn.code == 0 and drawn.out.startswith("#### mylab\n"), drawn.err
    assert cli("diff", "--base", "HEAD").code == 0
    check = cli("check", "--all", "--base", "HEAD~1", "--format", "json")
    assert check.code == 0 and _json(check)["labs"] == ["mylab"], check.err


def test_the_refs_own_catalogue_folder_is_read(cli: CLI, repo: Path) -> None:
    """A ref with the project's catalogue folder is judged by it: a flow added to the
    folder since is a change."""
    shutil.copytree(default_catalogue_dir(), repo / "my-catalog")
    _write(repo, {PROJECT_FILE: "labs: [labs/*.yaml]\ncatalog: my-catalog\n"})
    _commit(repo, "my catalogue")
    flows = repo / "my-catalog" / "flows.yaml"
    flows.write_text(flows.read_text("utf-8") + (FIXTURES / "added-flow.yaml").read_text("utf-8"))
    result = cli("diff", "--base", "HEAD")
    assert result.code == 1, result.err
    assert "Flows added: `deployment-ssrs-powershell`" in result.out
    # HEAD~1 has no catalogue folder: the working tree's is used, so the flow is no change
    # there, and HEAD~1 has no project file: the working tree's globs are.
    older = cli("diff", "--base", "HEAD~1", "--format", "json")
    assert older.code == 0 and _json(older)["changed"] is False, older.out


def test_a_ref_without_a_project_file_takes_the_working_trees_globs(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tool("git", "a git ref is read with git")
    root = tmp_path / "repo"
    _write(root, {"README.md": "mine\n"})
    _git(root, "init", "-q", "-b", "main")
    _commit(root, "empty")
    _write(root, {"envs/mylab.yaml": MYLAB})
    _commit(root, "a lab, no project file")
    _write(root, {PROJECT_FILE: "labs: [envs/*.yaml]\n"})
    monkeypatch.chdir(root)
    same = cli("diff", "--base", "HEAD", "--format", "json")
    assert same.code == 0, same.err
    assert [lab["name"] for lab in _json(same)["labs"]] == ["mylab"]
    new = cli("diff", "--base", "HEAD~1")  # older than the labs: every lab is new
    assert new.code == 1 and "1 of 1 lab(s) change" in new.out, new.err


def test_a_refs_own_project_file_chooses_its_labs(cli: CLI, repo: Path) -> None:
    _write(repo, {"labs/other.yaml": OTHER, PROJECT_FILE: "labs: [labs/mylab.yaml]\n"})
    _commit(repo, "another lab, not yet in the project")
    _write(repo, {PROJECT_FILE: "labs: [labs/*.yaml]\n"})
    data = _json(cli("diff", "--base", "HEAD", "--format", "json"))
    labs = {lab["name"]: lab for lab in data["labs"]}
    assert sorted(labs) == ["mylab", "other"]
    assert (labs["other"]["status"], labs["mylab"]["status"]) == ("added", "unchanged")


def test_a_bad_project_file_at_a_ref_is_named_by_ref(cli: CLI, repo: Path) -> None:
    _write(repo, {PROJECT_FILE: "labs:\n  - labs/*.yaml\n  - lab/*.yaml\n"})
    _commit(repo, "a glob matching nothing")
    _write(repo, {PROJECT_FILE: "labs: [labs/*.yaml]\n"})
    result = cli("diff", "--base", "HEAD")
    assert result.code == 2 and result.err.count("\n") == 1, result.err
    assert result.err.startswith(
        "crm-ports: error: HEAD:crm-ports.yaml:3: project: field 'labs[1]': "
        "'lab/*.yaml' matches no file"
    )


def test_a_project_in_a_subfolder_of_the_repository(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The project file and its labs below the repository's top, read from there at the
    ref too; messages name the ref's files from the top (`HEAD:infra/labs/...`)."""
    require_tool("git", "a git ref is read with git")
    root = tmp_path / "repo"
    _write(root, {f"infra/{PROJECT_FILE}": "labs: [labs/*.yaml]\n", "infra/labs/mylab.yaml": MYLAB})
    _git(root, "init", "-q", "-b", "main")
    _commit(root, "infra")
    (root / "infra" / "labs" / "mylab.yaml").write_text("name: mylab\nclouds: [gcp]\n")
    monkeypatch.chdir(root / "infra" / "labs")
    assert cli("diff", "--base", "HEAD", "--head", "HEAD").code == 0
    _commit(root, "break the lab")
    result = cli("diff", "--base", "HEAD", "--head", "HEAD~1")
    assert result.code == 2, result.err
    assert result.err.startswith("crm-ports: error: HEAD:infra/labs/mylab.yaml:2"), result.err


# -- synthesis: the command and cdktf.json's app ---------------------------------------------


def _stacks(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "stacks").iterdir())


@pytest.mark.slow
def test_synth_builds_the_projects_labs_unless_told_otherwise(
    cli: CLI, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(project, {"elsewhere/other.yaml": OTHER})
    assert cli("synth", "--out", "a").code == 0
    assert _stacks(project / "a") == ["aws-mylab"]
    assert cli("synth", "--lab", "elsewhere/other.yaml", "--out", "b").code == 0
    assert _stacks(project / "b") == ["aws-other"]
    monkeypatch.setenv(LABS_ENV, "elsewhere/other.yaml")
    assert cli("synth", "--out", "c").code == 0
    assert _stacks(project / "c") == ["aws-other"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "env", "field", "where"),
    [
        (["--topology", "full-server"], None, "--topology", "lab files (crm-ports.yaml)"),
        (["--auth", "claims"], None, "--auth", "from crm-ports.yaml, built as their files"),
        (["--sql-port", "1533"], "labs/mylab.yaml", "--sql-port", "from CRM_PORTS_LABS"),
        (["--lab", "labs/mylab.yaml", "--topology", "full-server"], None, "--topology", "(--lab)"),
    ],
)
def test_synth_never_rewrites_the_projects_labs_with_flags(
    cli: CLI,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: str | None,
    field: str,
    where: str,
) -> None:
    """`synth --topology T` in a project repository replaced each lab's own placement
    (failing on a lab rule naming one of its hosts, or silently without one)."""
    if env is not None:
        monkeypatch.setenv(LABS_ENV, env)
    result = cli("synth", *args, "--out", "out")
    assert result.code == 2, result
    assert result.err.count("\n") == 1 and result.out == ""
    assert result.err.startswith(f"crm-ports: error: command line: synth: field '{field}': ")
    assert where in result.err
    assert not (project / "out").exists()


def test_the_cdktf_app_builds_the_projects_labs_with_its_catalogue(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cdktf.json`'s app without CRM_PORTS_LABS, run where cdktf-cli runs it (the
    project's folder): the project's lab, resolved by the project's catalogue."""
    from crm_ports.app import main

    shutil.copytree(default_catalogue_dir(), project / "my-catalog")
    flows = project / "my-catalog" / "flows.yaml"
    flows.write_text(flows.read_text("utf-8") + (FIXTURES / "added-flow.yaml").read_text("utf-8"))
    _write(project, {PROJECT_FILE: "labs: [labs/*.yaml]\ncatalog: my-catalog\n"})
    monkeypatch.setenv("CDKTF_OUTDIR", "cdktf.out")
    main()
    assert _stacks(project / "cdktf.out") == ["aws-mylab"]
    stack = json.loads((project / "cdktf.out/stacks/aws-mylab/cdk.tf.json").read_text())
    rules = stack["resource"]["aws_vpc_security_group_ingress_rule"]
    assert "in_crm-deployment_ssrs_tcp_winrm" in rules
    _write(project, {"elsewhere/other.yaml": OTHER})
    monkeypatch.setenv(LABS_ENV, "elsewhere/other.yaml")  # still overrides the project
    monkeypatch.setenv("CDKTF_OUTDIR", "again")
    main()
    assert _stacks(project / "again") == ["aws-other"]


def test_the_cdktf_app_refuses_a_bad_project_file(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from crm_ports.app import main

    _write(project, {PROJECT_FILE: "labs: [labs/*.yml]\n"})
    monkeypatch.setenv("CDKTF_OUTDIR", "cdktf.out")
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        "crm-ports: error: crm-ports.yaml:1: project: field 'labs[0]': "
        "'labs/*.yml' matches no file\n"
    )
    assert not (project / "cdktf.out").exists()


@pytest.mark.slow
def test_verify_all_synthesizes_the_projects_labs(cli: CLI, project: Path) -> None:
    result = cli("verify", "--all", "--format", "json")
    assert result.code == 0, result.out + result.err
    assert [s["stack"] for s in _json(result)["stacks"]] == ["aws-mylab"]


def test_find_project_checks_the_catalogue_it_names(project: Path) -> None:
    _write(project, {PROJECT_FILE: "labs: [labs/*.yaml]\ncatalog: gone\n"})
    with pytest.raises(InputError, match="'gone' is no catalogue folder"):
        find_project(project)


def test_a_report_never_replaces_the_project_file(cli: CLI, project: Path) -> None:
    before = (project / PROJECT_FILE).read_text()
    result = cli("check", "--all", "-o", PROJECT_FILE)
    assert result.code == 2 and "is an input of this command (crm-ports.yaml)" in result.err
    assert (project / PROJECT_FILE).read_text() == before
