"""CDK Terrain's own CLI, once, end to end against moto: the cdktn session of
docs/cdk-flavours.md word for word (`cdktn synth`, `deploy` and `destroy` through the same
`cdktf.json`, on the Node 22 that `make setup-node` installs, with CRM_PORTS_CDK=cdktn), in
a fresh copy of the repository whose lab file points at the emulator, as
`tests/test_deploy_readme.py` does.

After the deploy, the same lab synthesized on cdktf is planned against the state cdktn
wrote and Terraform finds nothing to change: the two flavours share state file and resource
addresses, which moving a deployed lab across (docs/cdk-flavours.md) relies on.
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any

import pytest

from tests.flavours import cdktn_cli, require_flavour, without_metadata
from tests.readme import CDK_FLAVOURS, block
from tests.test_deploy_readme import Session, fresh_copy, point_at_emulator, words
from tests.test_e2e_moto import describe
from tests.tf_harness import require_tool, terraform_env

if TYPE_CHECKING:
    from pathlib import Path

    from tests.moto_server import MotoServer

pytestmark = [pytest.mark.slow, pytest.mark.e2e(seconds=130)]

LAB = "labs/contoso-claims.yaml"


def session_commands() -> list[str]:
    """The lines of the cdktn block of docs/cdk-flavours.md, as written."""
    fence = re.search(r"```sh\n(.*?)```", block("cdktn", CDK_FLAVOURS), re.DOTALL)
    assert fence, "the cdktn block of docs/cdk-flavours.md has no sh fence"
    return [line for line in fence.group(1).splitlines() if line.strip()]


@pytest.fixture
def session(tmp_path: Path, moto_server: MotoServer) -> Session:
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
            "PATH": f"{root / '.venv' / 'bin'}{os.pathsep}{env['PATH']}",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
            "AWS_CONFIG_FILE": "/nonexistent/config",
            "AWS_EC2_METADATA_DISABLED": "true",
            "CI": "1",
            "TF_CLI_ARGS_apply": "-parallelism=4",
            "TF_CLI_ARGS_destroy": "-parallelism=4",
        }
    )
    return Session(root, env, moto_server)


def test_the_readme_cdktn_session(session: Session) -> None:
    cdktf_json = (session.root / "cdktf.json").read_bytes()
    steps: list[str] = []
    theirs: dict[str, Any] = {}  # the stack as cdktn synthesized it
    for line in session_commands():
        argv = words(line)
        if argv[0] == "export":
            session.export(line)
            continue
        assert argv[0] == "cdktn", f"the cdktn block runs something else: {line}"
        steps.append(argv[1])
        if argv[1] == "synth":
            assert session.run("node --version").stdout.startswith("v22."), "not on Node 22"
            session.run(line)
            theirs = stack_json(session, "aws-contoso-claims")
            assert theirs["//"]["metadata"]["version"].startswith("0.24."), theirs["//"]
        elif argv[1] == "deploy":
            assert theirs, "the cdktn block deploys before `cdktn synth`"
            (stack,) = session.stacks([argv[2]])
            deployed = session.run(line)
            assert "Apply complete" in deployed.stdout, deployed.stdout[-2000:]
            session.deployed.add(stack)
            assert session.resources(stack), f"{stack}: no resources in its state"
            assert session.groups(stack), f"{stack}: no security group on the emulator"
            the_other_flavour_plans_no_change(session, stack, theirs)
        elif argv[1] == "destroy":
            session.run(line)
            for stack in session.deployed:
                assert session.groups(stack) == [], f"{stack}: groups left after destroy"
                assert session.resources(stack) == [], f"{stack}: resources left in its state"
        else:
            pytest.fail(f"the cdktn block has a command this test does not know: {line}")
    assert steps == ["synth", "deploy", "destroy"]
    assert (session.root / "cdktf.json").read_bytes() == cdktf_json, "cdktn-cli edited cdktf.json"


def the_other_flavour_plans_no_change(session: Session, stack: str, theirs: dict[str, Any]) -> None:
    """cdktf writes the same stack (version aside) into the same folder, and Terraform plans
    it against the state cdktn wrote: nothing to create, replace or destroy."""
    session.run(f"CRM_PORTS_CDK=cdktf crm-ports synth --lab {LAB}")
    ours = stack_json(session, stack)
    assert ours["//"]["metadata"]["version"] == "0.21.0"
    assert without_metadata(theirs) == without_metadata(ours)
    folder = f"cdktf.out/stacks/{stack}"
    session.run(f"terraform -chdir={folder} init -input=false -no-color")
    session.run(f"terraform -chdir={folder} plan -input=false -no-color -out=plan")
    shown = session.run(f"terraform -chdir={folder} show -json plan")
    plan: dict[str, Any] = json.loads(shown.stdout)
    changes = [c for c in plan.get("resource_changes", []) if c["change"]["actions"] != ["no-op"]]
    described = [describe(c) for c in changes]
    assert described == [], f"cdktf's stack would change what cdktn deployed: {described}"


def stack_json(session: Session, stack: str) -> dict[str, Any]:
    path = session.root / "cdktf.out" / "stacks" / stack / "cdk.tf.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
