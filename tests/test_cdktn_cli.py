"""CDK Terrain's own CLI, once, end to end against moto: `cdktn synth`, `deploy` and
`destroy` through the same `cdktf.json`, on the Node 22 that `make setup-node` installs,
with CRM_PORTS_CDK=cdktn as the README says.

Between deploy and destroy, the same lab synthesized on cdktf is planned against the state
cdktn wrote and Terraform finds nothing to change: the two flavours share state file and
resource addresses, which moving a deployed lab across (README, "CDK flavours") relies on.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from crm_ports.lab import load_lab
from tests.flavours import cdktn_cli, require_flavour, without_metadata
from tests.test_deploy_readme import fresh_copy, point_at_emulator
from tests.test_e2e_moto import describe, only_moto_description_gap
from tests.tf_harness import require_tool, terraform_env

if TYPE_CHECKING:
    from tests.moto_server import MotoServer

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

TIMEOUT_S = 600
LAB = "labs/contoso-claims.yaml"
STACK = "aws-contoso-claims"


@dataclass(frozen=True)
class Project:
    root: Path
    env: dict[str, str]
    moto: MotoServer

    def run(self, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            argv,
            cwd=self.root,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        assert result.returncode == 0, (
            f"`{' '.join(argv)}` exited {result.returncode}:\n{result.stdout[-6000:]}\n"
            f"{result.stderr[-4000:]}"
        )
        return result

    def cdktn(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("cdktn", *args, CRM_PORTS_CDK="cdktn")

    def stack_json(self, out: str = "cdktf.out") -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (self.root / out / "stacks" / STACK / "cdk.tf.json").read_text(encoding="utf-8")
        )
        return data

    def planned_changes(self) -> list[dict[str, Any]]:
        """What `terraform plan` in the stack's folder would change (no-ops left out)."""
        folder = str(self.root / "cdktf.out" / "stacks" / STACK)
        self.run("terraform", f"-chdir={folder}", "init", "-input=false", "-no-color")
        self.run("terraform", f"-chdir={folder}", "plan", "-input=false", "-out=plan")
        shown = self.run("terraform", f"-chdir={folder}", "show", "-json", "plan")
        plan: dict[str, Any] = json.loads(shown.stdout)
        return [c for c in plan.get("resource_changes", []) if c["change"]["actions"] != ["no-op"]]

    def groups(self) -> list[str]:
        lab = load_lab(self.root / LAB)
        found = self.moto.ec2(lab.aws.region).describe_security_groups(
            Filters=[{"Name": "tag:crm-ports:lab", "Values": [lab.name]}]
        )["SecurityGroups"]
        return sorted(g["GroupId"] for g in found)


@pytest.fixture
def project(tmp_path: Path, moto_server: MotoServer) -> Iterator[Project]:
    require_flavour("cdktn")
    bin_dir = cdktn_cli()
    require_tool("terraform", "cdktn-cli deploys through terraform")
    mirror = require_tool("aws-provider-mirror", "terraform init cannot reach the registry")
    root = fresh_copy(tmp_path / "crm-ports")
    (root / "flavours" / "cdktn" / "node_modules").symlink_to(bin_dir.parent)
    point_at_emulator(root / LAB, moto_server.url, s3_state=False)
    env = {
        k: v
        for k, v in terraform_env(tmp_path / "tf", mirror).items()
        if not k.startswith(("AWS_", "CRM_PORTS_LABS", "CRM_PORTS_CDK", "CDKTF_", "TF_DATA_DIR"))
    }
    env.update(
        {
            # As the README's export: cdktn and Node 22 first, then the venv's crm-ports.
            "PATH": os.pathsep.join(
                [
                    str(root / "flavours/cdktn/node_modules/.bin"),
                    str(root / ".venv/bin"),
                    env["PATH"],
                ]
            ),
            "CRM_PORTS_LABS": LAB,
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
            "AWS_CONFIG_FILE": "/nonexistent/config",
            "AWS_EC2_METADATA_DISABLED": "true",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "CI": "1",
            "TF_CLI_ARGS_apply": "-parallelism=4",
            "TF_CLI_ARGS_destroy": "-parallelism=4",
        }
    )
    yield Project(root, env, moto_server)


def test_cdktn_synth_deploy_then_cdktf_plans_no_change_then_destroy(project: Project) -> None:
    cdktf_json = (project.root / "cdktf.json").read_bytes()
    assert project.run("node", "--version").stdout.startswith("v22.")

    project.cdktn("synth")
    theirs = project.stack_json()
    assert theirs["//"]["metadata"]["version"].startswith("0.24."), theirs["//"]
    deployed = project.cdktn(
        "deploy", STACK, "--skip-synth", "--skip-provider-lock", "--auto-approve"
    )
    assert "Apply complete" in deployed.stdout, deployed.stdout[-2000:]
    assert project.groups(), "no security group on the emulator after cdktn deploy"
    state = json.loads((project.root / f"terraform.{STACK}.tfstate").read_text())
    assert state["resources"], "cdktn deploy left no resources in the lab's state file"

    # The other flavour writes the same stack (version aside) into the same folder, and
    # Terraform plans it against the state cdktn wrote: nothing to create or destroy.
    project.run("crm-ports", "synth", "--lab", LAB, CRM_PORTS_CDK="cdktf")
    ours = project.stack_json()
    assert ours["//"]["metadata"]["version"] == "0.21.0"
    assert without_metadata(theirs) == without_metadata(ours)
    changes = project.planned_changes()
    unexplained = [describe(c) for c in changes if not only_moto_description_gap(c)]
    assert unexplained == [], f"cdktf's stack would change what cdktn deployed: {unexplained}"

    project.cdktn("destroy", STACK, "--skip-provider-lock", "--auto-approve")
    assert project.groups() == [], "groups left after cdktn destroy"
    assert (project.root / "cdktf.json").read_bytes() == cdktf_json, "cdktn-cli edited cdktf.json"
