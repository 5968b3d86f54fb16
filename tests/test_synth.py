"""`crm-ports synth`: the default stacks, terraform validate on every AWS stack, byte-
identical output from anywhere, cloud limits refused by name, nothing half-written."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, Result
from tests.tf_harness import terraform_validate

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


@pytest.mark.parametrize("stack", sorted(s for s in DEFAULT_STACKS if s.startswith("aws-")))
def test_aws_stacks_pass_terraform_validate(default_out: Path, stack: str) -> None:
    terraform_validate(default_out / "stacks" / stack)


def test_lab_stacks_pass_terraform_validate(tmp_path: Path) -> None:
    result = _synth_in(
        tmp_path,
        "--lab",
        str(REPO / "labs" / "contoso-claims.yaml"),
        "--lab",
        str(REPO / "labs" / "fabrikam-full-server.yaml"),
    )
    assert result.returncode == 0, result.stderr
    for stack in ("aws-contoso-claims", "aws-fabrikam-full-server"):
        terraform_validate(tmp_path / "cdktf.out" / "stacks" / stack)


def test_byte_identical_from_another_directory(default_out: Path, tmp_path: Path) -> None:
    other = tmp_path / "somewhere" / "else"
    result = _synth_in(other, "--out", "build/out")
    assert result.returncode == 0, result.stderr
    again = _tree(other / "build" / "out")
    assert again == _tree(default_out)
    for content in again.values():
        assert str(REPO).encode() not in content and str(tmp_path).encode() not in content


def test_endpoint_url_points_the_provider_at_an_emulator(tmp_path: Path) -> None:
    result = _synth_in(
        tmp_path,
        "--lab",
        str(REPO / "labs" / "fabrikam-full-server.yaml"),
        "--aws-endpoint-url",
        "http://127.0.0.1:5999",
    )
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "cdktf.out/stacks/aws-fabrikam-full-server/cdk.tf.json").read_text()
    assert (
        '"ec2": "http://127.0.0.1:5999"' in text and '"skip_credentials_validation": true' in text
    )


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
    state = Path("out/stacks/aws-full-server/terraform.tfstate")
    state.parent.mkdir(parents=True)
    state.write_text("{}")
    (state.parent / "cdk.tf.json").write_text("previous")

    def explode(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("crm_ports.app.synth_app", explode)
    assert cli("synth", "--out", "out").code == 130
    assert (state.parent / "cdk.tf.json").read_text() == "previous"
    assert state.read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no scratch folder left


def test_stale_stacks_are_retired_but_state_is_kept(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli("synth", "--out", "out").code == 0
    state = Path("out/stacks/aws-split-roles/terraform.tfstate")
    state.write_text("{}")
    result = cli("synth", "--out", "out", "--lab", str(REPO / "labs" / "fabrikam-full-server.yaml"))
    assert result.code == 0
    assert "removed stale stack aws-split-roles" in result.err
    assert sorted(p.name for p in Path("out/stacks").iterdir()) == [
        "aws-fabrikam-full-server",
        "aws-split-roles",
    ]
    assert [p.name for p in state.parent.iterdir()] == ["terraform.tfstate"]
