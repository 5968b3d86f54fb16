"""End to end against a moto server, with the real `terraform`: peer ranges given at deploy
time over the quota fail at plan time; and the helpers the other moto tests share (a lab
file pointed at the server, `terraform init` with the stack's own backend, plan checks).

The split-roles apply, audit, tampering and destroy that lived here are the deploy
session's (docs/deploying.md, tests/test_deploy_readme.py), on its split-roles lab through
cdktf-cli; the cloud lab (tests/test_cloud_lab.py) and two-box
(tests/test_layout_snapshots.py) apply through plain terraform.

Terraform comes from PATH and the aws provider from a local filesystem mirror
(tests/tf_harness.py); missing either skips, or fails under CRM_PORTS_REQUIRE_TOOLS=1.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import Result
from tests.tf_harness import require_tool, terraform_env

if TYPE_CHECKING:  # the plugin below imports it, so that pytest rewrites its asserts
    from tests.moto_server import MotoServer


pytestmark = [pytest.mark.slow, pytest.mark.e2e]

Cli = Callable[..., Result]
TIMEOUT_S = 600


@dataclass(frozen=True)
class Terraform:
    binary: Path
    workdir: Path
    env: dict[str, str]

    def run(self, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        """`terraform ARGS` (give -no-color and -input=false where the command takes
        them); fails the test with Terraform's output on an unexpected exit status."""
        result = subprocess.run(
            [str(self.binary), *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        assert result.returncode in ok, (
            f"terraform {args[0]} exited {result.returncode}:\n{result.stdout[-4000:]}\n"
            f"{result.stderr[-4000:]}"
        )
        return result

    def apply(self, command: str = "apply") -> None:
        self.run(command, "-auto-approve", "-no-color", "-input=false")

    def plan_status(self) -> int:
        """0 no changes, 2 changes (`plan -detailed-exitcode`)."""
        return self.run(
            "plan", "-detailed-exitcode", "-no-color", "-input=false", ok=(0, 2)
        ).returncode

    def assert_no_changes(self) -> None:
        """`plan -detailed-exitcode` exits 0: no resource and no output would change.
        Only when it does not, a second plan says what would (for the message)."""
        if self.plan_status() != 0:
            pending = [describe(c) for c in changes(self.show_plan())]
            pytest.fail("plan after apply is not empty:\n" + "\n".join(pending), pytrace=False)

    def show_plan(self) -> dict[str, Any]:
        """Plan to a file and read it back as JSON."""
        self.run("plan", "-out=tfplan", "-no-color", "-input=false")
        document: dict[str, Any] = json.loads(self.run("show", "-json", "tfplan").stdout)
        return document


def terraform_for(stack_dir: Path, workdir: Path) -> Terraform:
    """`terraform init` with the stack's own (local) backend: `tf_harness.terraform_init`
    passes -backend=false, which `apply` refuses. Same mirror and isolated environment.
    The copy keeps the `<out>/stacks/<stack>/` layout: the state path is relative to it
    and lands in `workdir`, beside the copied output folder."""
    binary = require_tool("terraform", "applies the synthesized stack to moto")
    mirror = require_tool("aws-provider-mirror", "terraform init cannot reach the registry")
    run_dir = workdir / "cdktf.out" / "stacks" / stack_dir.name
    run_dir.mkdir(parents=True)
    run_dir.joinpath("cdk.tf.json").write_bytes(stack_dir.joinpath("cdk.tf.json").read_bytes())
    terraform = Terraform(binary, run_dir, terraform_env(workdir / "tf", mirror))
    terraform.run("init", "-no-color", "-input=false")
    return terraform


def emulator_lab(folder: Path, topology: str, url: str) -> tuple[Path, str]:
    """A lab file of `topology` whose stacks go to the moto server at `url`; returns its
    path and the lab's name (lab files may not take a default lab's name)."""
    name = f"moto-{topology}"
    path = folder / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nclouds: [aws]\ntopology: {topology}\naws: {{endpoint_url: {url}}}\n",
        encoding="utf-8",
    )
    return path, name


def changes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in plan.get("resource_changes", []) if c["change"]["actions"] != ["no-op"]]


def describe(change: dict[str, Any]) -> str:
    """`address: attribute before -> after, ...` for an assertion message."""
    before, after = change["change"]["before"] or {}, change["change"]["after"] or {}
    differing = sorted(k for k in {*before, *after} if before.get(k) != after.get(k))
    text = ", ".join(f"{k} {before.get(k)!r} -> {after.get(k)!r}" for k in differing)
    return f"{change['address']} ({'/'.join(change['change']['actions'])}): {text}"


@pytest.mark.e2e(seconds=40)
def test_peer_ranges_over_the_quota_fail_at_plan_time(
    cli: Cli, moto_server: MotoServer, aws_env: None, tmp_path: Path
) -> None:
    """Synthesis checked the quota with the lab's ranges; ranges given at deploy time
    (TF_VAR_client_cidrs) are checked by the security groups' preconditions."""
    out = tmp_path / "cdktf.out"
    lab, name = emulator_lab(tmp_path, "full-server", moto_server.url)
    synth = cli("synth", "--lab", str(lab), "--out", str(out))
    assert synth.code == 0, synth.err
    terraform = terraform_for(out / "stacks" / f"aws-{name}", tmp_path / "work")
    assert terraform.plan_status() == 2  # the lab's own ranges plan fine
    many = json.dumps([f"10.{i}.0.0/16" for i in range(100, 110)])
    result = terraform.run(
        "plan", "-no-color", "-input=false", f"-var=client_cidrs={many}", ok=(1,)
    )
    text = " ".join((result.stdout + result.stderr).split())
    assert f"Security group {name}-domain-controller would need more than 60 inbound" in text
