"""End to end against a moto server: `crm-ports synth` of a lab file whose
`aws.endpoint_url` names the server, then `terraform init / apply`, a `plan` that shows
no changes, `crm-ports audit aws` clean, tampering reported by the audit, and `destroy`
leaving no group behind.

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

from crm_ports.catalogue import load_catalogue
from crm_ports.options import Options
from crm_ports.plans.aws import plan_aws
from crm_ports.resolver import resolve
from tests.conftest import Result
from tests.test_audit_aws import open_rdp_to_the_world
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


def lab_audit(cli: Cli, lab: Path) -> tuple[int, dict[str, Any]]:
    """`crm-ports audit aws --lab LAB` as JSON: the lab's endpoint, its test credentials."""
    result = cli("audit", "aws", "--lab", str(lab), "--format", "json")
    assert result.err == "", result.err
    report: dict[str, Any] = json.loads(result.out)
    return result.code, report


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


# split-roles, the topology with the most groups and references. full-server goes to
# moto in tests/test_deploy_readme.py (the README's session deploys, diffs, audits and
# destroys a lab of each topology through cdktf-cli); a second run here would add two
# minutes and exercise no other code.
@pytest.mark.e2e(seconds=115)
@pytest.mark.parametrize("topology", ["split-roles"])
def test_synth_apply_audit_tamper_destroy(
    topology: str,
    cli: Cli,
    moto_server: MotoServer,
    aws_env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "cdktf.out"
    lab, name = emulator_lab(tmp_path, topology, moto_server.url)
    synth = cli("synth", "--lab", str(lab), "--out", str(out))
    assert synth.code == 0, synth.err
    terraform = terraform_for(out / "stacks" / f"aws-{name}", tmp_path / "work")
    plan = plan_aws(resolve(load_catalogue(), Options(topology=topology)), name)

    terraform.apply()
    terraform.assert_no_changes()

    # The lab's own endpoint, with the emulator's credentials: none in the environment.
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(variable)
    code, report = lab_audit(cli, lab)
    assert (code, report["findings"]) == (0, [])
    assert report["checked"] == {
        "security_groups": len(plan.security_groups),
        "rules": len(plan.rules),
    }

    ec2 = moto_server.ec2()
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "tag:crm-ports:lab", "Values": [name]}]
    )["SecurityGroups"]
    group_id = {
        {t["Key"]: t["Value"] for t in g["Tags"]}["crm-ports:group"]: g["GroupId"] for g in groups
    }
    victim = next(r for r in plan.rules if r.direction == "ingress" and r.peer_group)
    live = ec2.describe_security_group_rules(
        Filters=[
            {"Name": "group-id", "Values": [group_id[victim.group]]},
            {"Name": "tag:crm-ports:rule", "Values": [victim.rule_id]},
        ]
    )["SecurityGroupRules"]
    [victim_id] = [r["SecurityGroupRuleId"] for r in live if not r["IsEgress"]]
    ec2.revoke_security_group_ingress(
        GroupId=group_id[victim.group], SecurityGroupRuleIds=[victim_id]
    )
    exposed = plan.security_groups[0]
    open_rdp_to_the_world(ec2, group_id[exposed.group])

    code, report = lab_audit(cli, lab)
    assert code == 1
    assert sorted((f["status"], f["container"], f["name"]) for f in report["findings"]) == [
        ("missing", plan.security_group(victim.group).name, victim.key),
        ("unexpected", exposed.name, "(untagged)"),
    ]

    terraform.apply("destroy")
    assert (
        ec2.describe_security_groups(Filters=[{"Name": "tag:crm-ports:lab", "Values": [name]}])[
            "SecurityGroups"
        ]
        == []
    )
    gone = cli("audit", "aws", "--lab", str(lab))
    assert gone.code == 2 and "no such lab" in gone.err


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
