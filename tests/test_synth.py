"""`crm-ports synth`: the default stacks, terraform validate on every AWS stack, byte-
identical output from anywhere, cloud limits refused by name, nothing half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, Result
from tests.tf_harness import Validation, terraform_validate_many

pytestmark = pytest.mark.slow
DEFAULT_STACKS = {"aws-full-server", "aws-split-roles", "azure-full-server", "azure-split-roles"}


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _synth_in(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    directory.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "crm_ports", "synth", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


@pytest.fixture(scope="module")
def default_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("first")
    result = _synth_in(where)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert [line for line in lines if line.startswith("[")] == [
        f"[{i}/4] built {name}" + line.split(name, 1)[1]
        for i, (name, line) in enumerate(
            zip(
                ["aws-full-server", "azure-full-server", "aws-split-roles", "azure-split-roles"],
                [ln for ln in lines if ln.startswith("[")],
                strict=True,
            ),
            1,
        )
    ]
    assert "Node 20 is end-of-life" not in result.stderr
    return where / "cdktf.out"


def test_default_stacks(default_out: Path) -> None:
    assert {p.name for p in (default_out / "stacks").iterdir()} == DEFAULT_STACKS
    for name in DEFAULT_STACKS:
        assert (default_out / "stacks" / name / "cdk.tf.json").is_file()
        assert (default_out / "stacks" / name / "crm-ports.json").is_file()
    assert (default_out / "manifest.json").is_file()


LAB_STACKS = ("aws-contoso-claims", "aws-fabrikam-full-server")


@pytest.fixture(scope="module")
def validated(default_out: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Validation]:
    """The default AWS stacks and two labs' through one `terraform validate` run (the
    provider reads its schema once, not once per stack); each test judges its own."""
    where = tmp_path_factory.mktemp("labs")
    result = _synth_in(
        where,
        "--lab",
        str(REPO / "labs" / "contoso-claims.yaml"),
        "--lab",
        str(REPO / "labs" / "fabrikam-full-server.yaml"),
    )
    assert result.returncode == 0, result.stderr
    stacks = {s: default_out / "stacks" / s for s in DEFAULT_STACKS if s.startswith("aws-")}
    stacks.update({s: where / "cdktf.out" / "stacks" / s for s in LAB_STACKS})
    results = terraform_validate_many(stacks.values())
    return {name: results[stack_dir] for name, stack_dir in stacks.items()}


@pytest.mark.parametrize("stack", sorted(s for s in DEFAULT_STACKS if s.startswith("aws-")))
def test_aws_stacks_pass_terraform_validate(validated: dict[str, Validation], stack: str) -> None:
    validated[stack].assert_valid()


def test_lab_stacks_pass_terraform_validate(validated: dict[str, Validation]) -> None:
    for stack in LAB_STACKS:
        validated[stack].assert_valid()


def test_byte_identical_from_another_directory(default_out: Path, tmp_path: Path) -> None:
    other = tmp_path / "somewhere" / "else"
    result = _synth_in(other, "--out", "build/out")
    assert result.returncode == 0, result.stderr
    again = _tree(other / "build" / "out")
    assert again == _tree(default_out)
    for content in again.values():
        assert str(REPO).encode() not in content and str(tmp_path).encode() not in content


def test_several_processes_write_the_same_output(default_out: Path, tmp_path: Path) -> None:
    """Four stacks over three processes (shares of 2, 1, 1; `crm_ports.synth.shards`): the same
    bytes as one process wrote, manifest included, and no worker folder left behind."""
    result = _synth_in(tmp_path, "--jobs", "3", "--out", "out")
    assert result.returncode == 0, result.stderr
    assert "2 of 4 stacks go to 2 more process(es)" in result.stderr
    assert _tree(tmp_path / "out") == _tree(default_out)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["manifest.json", "stacks"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_lab_file_points_the_provider_at_an_emulator(tmp_path: Path) -> None:
    lab = tmp_path / "emulated.yaml"
    lab.write_text(
        "name: emulated\nclouds: [aws]\ntopology: full-server\n"
        "aws: {endpoint_url: 'http://127.0.0.1:5999'}\n"
        "backend: {s3: {bucket: lab-state}}\n"
    )
    result = _synth_in(tmp_path, "--lab", str(lab))
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "cdktf.out/stacks/aws-emulated/cdk.tf.json").read_text())
    [provider] = document["provider"]["aws"]
    assert provider["endpoints"] == [
        {
            "ec2": "http://127.0.0.1:5999",
            "iam": "http://127.0.0.1:5999",
            "sts": "http://127.0.0.1:5999",
        }
    ]
    assert provider["skip_credentials_validation"] is True
    # The state goes to the same emulator, one key per stack, with the native lock file.
    backend = document["terraform"]["backend"]["s3"]
    assert backend["endpoints"]["s3"] == "http://127.0.0.1:5999"
    assert (backend["bucket"], backend["key"], backend["region"]) == (
        "lab-state",
        "crm-ports/aws-emulated.tfstate",
        "us-east-1",
    )
    assert backend["use_lockfile"] is True and backend["encrypt"] is True


def test_the_endpoint_flag_is_refused_for_the_lab_file(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flag only `crm-ports synth` knew would be lost by the next `npx cdktf deploy`."""
    monkeypatch.chdir(tmp_path)
    result = cli("synth", "--aws-endpoint-url", "http://127.0.0.1:5000")
    assert result.code == 2 and result.err.count("\n") == 1
    assert "set aws.endpoint_url in the lab file" in result.err
    assert list(tmp_path.iterdir()) == []


def test_local_state_lies_beside_the_output_folder(tmp_path: Path) -> None:
    result = _synth_in(tmp_path, "--out", "build/cdktf.out")
    assert result.returncode == 0, result.stderr
    for stack in ("aws-split-roles", "azure-full-server"):
        document = json.loads(
            (tmp_path / f"build/cdktf.out/stacks/{stack}/cdk.tf.json").read_text()
        )
        path = document["terraform"]["backend"]["local"]["path"]
        assert path == f"../../../terraform.{stack}.tfstate"
        stack_dir = tmp_path / "build/cdktf.out/stacks" / stack
        assert (stack_dir / path).resolve() == (tmp_path / "build" / f"terraform.{stack}.tfstate")


def test_lab_over_the_aws_quota_fails_by_name(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cidrs = ", ".join(f"10.{i}.0.0/16" for i in range(100, 130))
    Path("big.yaml").write_text(f"name: big\nclouds: [aws]\nclient_cidrs: [{cidrs}]\n")
    result = cli("synth", "--lab", "big.yaml", "--out", "out")
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "big.yaml" in result.err and "'big-crm-front-end'" in result.err
    assert "AWS allows 60 inbound rules per security group" in result.err
    assert not Path("out").exists()


def test_lab_over_an_azure_limit_fails_by_name(
    cli: Callable[..., Result],
    catalogue_copy: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topologies = catalogue_copy / "topologies.yaml"
    long_name = "reporting-services-with-the-crm-reporting-extensions-on-a-separate-box"
    topologies.write_text(
        topologies.read_text().replace("- name: ssrs\n", f"- name: {long_name}\n")
    )
    monkeypatch.chdir(tmp_path)
    result = cli("--catalog", "catalog", "synth", "--out", "out")
    assert result.code == 2 and "Azure allows 80" in result.err and long_name in result.err
    assert not Path("out").exists()


def test_failed_synth_keeps_the_previous_output(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    stack = Path("out/stacks/aws-full-server")
    (stack / ".terraform").mkdir(parents=True)
    (stack / ".terraform" / "terraform.tfstate").write_text("{}")  # backend settings only
    (stack / "cdk.tf.json").write_text("previous")

    def explode(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("crm_ports.commands.synth.synth_app", explode)
    assert cli("synth", "--out", "out").code == 130
    assert (stack / "cdk.tf.json").read_text() == "previous"
    assert (stack / ".terraform" / "terraform.tfstate").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no scratch folder left


def test_stale_stacks_are_retired_keeping_other_files(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli("synth", "--out", "out").code == 0
    working = Path("out/stacks/aws-split-roles/.terraform")
    working.mkdir()
    result = cli("synth", "--out", "out", "--lab", str(REPO / "labs" / "fabrikam-full-server.yaml"))
    assert result.code == 0
    assert "removed stale stack aws-split-roles" in result.err
    assert sorted(p.name for p in Path("out/stacks").iterdir()) == [
        "aws-fabrikam-full-server",
        "aws-split-roles",
    ]
    assert [p.name for p in working.parent.iterdir()] == [".terraform"]


@pytest.mark.parametrize(
    "name",
    ["terraform.tfstate", "terraform.tfstate.backup", "terraform.tfstate.1700000000.backup"],
)
def test_state_inside_the_output_folder_is_refused(
    name: str, cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The earlier layout kept state beside cdk.tf.json, where cdktf-cli's next synth
    (which removes the folders of stacks it does not build) or `make clean` deletes it."""
    monkeypatch.chdir(tmp_path)
    state = Path("out/stacks/aws-split-roles") / name
    state.parent.mkdir(parents=True)
    state.write_text('{"serial": 7}')
    (state.parent / "cdk.tf.json").write_text("previous")
    result = cli("synth", "--out", "out")
    assert result.code == 2 and result.err.count("\n") == 1, result.err
    assert f"out/stacks/aws-split-roles/{name}: stack 'aws-split-roles'" in result.err
    target = "terraform.aws-split-roles.tfstate" + name.removeprefix("terraform.tfstate")
    assert f"move it to {target}" in result.err
    assert state.read_text() == '{"serial": 7}'
    assert (state.parent / "cdk.tf.json").read_text() == "previous"
    assert sorted(p.name for p in Path("out/stacks").iterdir()) == ["aws-split-roles"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_cdktf_app_refuses_state_inside_its_output_folder(tmp_path: Path) -> None:
    """cdktf-cli runs the app first and removes orphaned stack folders after it: an app
    that fails keeps them (and the state in them) in place."""
    state = tmp_path / "cdktf.out/stacks/aws-contoso-claims/terraform.tfstate"
    state.parent.mkdir(parents=True)
    state.write_text("{}")
    env = {**os.environ, "CDKTF_OUTDIR": "cdktf.out"}
    env.pop("CRM_PORTS_LABS", None)
    result = subprocess.run(
        [sys.executable, "-m", "crm_ports.app"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "move it to terraform.aws-contoso-claims.tfstate" in result.stderr
    assert result.stdout == "" and state.read_text() == "{}"
    assert sorted(p.name for p in (tmp_path / "cdktf.out/stacks").iterdir()) == [
        "aws-contoso-claims"
    ]
