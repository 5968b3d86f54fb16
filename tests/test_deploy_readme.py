"""The deploy session of docs/deploying.md, word for word, in a fresh copy of the
repository, against moto standing in for EC2 and S3.

The commands are read from the page's `deploy` block, so the test and the documentation
cannot drift apart, and run one by one with bash in the copy, as a new user would type them
(with the venv's `bin` on PATH, as after `source .venv/bin/activate`). What the test adds
is what a user's own setup supplies: the two lab files point at the emulator
(`aws.endpoint_url`), the second keeps its state in an S3 bucket on it, and Terraform
installs the provider from the local mirror. Between commands it checks what the session
promises: the state of every deployed lab survives every later command (local file and S3
object alike), `cdktf diff` reports no changes, the audit is clean (every planned group
and rule read back) and then reports exactly a planned rule revoked and a rule added by
hand, and `destroy` leaves no group behind but keeps the (empty) state, so the audit then
finds no such lab. (These are the assertions the split-roles apply of
`tests/test_e2e_moto.py` made on the default split-roles lab through plain terraform; the
session's contoso-claims lab is split-roles too, deployed through cdktf-cli.)

moto answers as EC2 would where moto 5.2.5 does not (tests/serial_moto_server.py), so the
first diff after a deploy must show no change at all.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from crm_ports.catalogue.load import load_catalogue
from crm_ports.lab.backend import LocalState, S3State, local_state_file
from crm_ports.lab.file import load_lab
from crm_ports.lab.model import Lab
from crm_ports.plans.aws import plan_aws
from crm_ports.resolver.engine import resolve_lab
from tests.conftest import REPO
from tests.readme import DEPLOYING, block
from tests.test_audit_aws import open_rdp_to_the_world
from tests.tf_harness import require_tool, terraform_env

if TYPE_CHECKING:
    from tests.moto_server import MotoServer

pytestmark = [pytest.mark.slow, pytest.mark.e2e(seconds=250)]

TIMEOUT_S = 900
BUCKET = "crm-ports-state"
TAG = "tag:crm-ports:lab"


def deploy_commands() -> list[str]:
    """The lines of the deploy block of docs/deploying.md, as written."""
    fence = re.search(r"```sh\n(.*?)```", block("deploy", DEPLOYING), re.DOTALL)
    assert fence, "the deploy block of docs/deploying.md has no sh fence"
    return [line for line in fence.group(1).splitlines() if line.strip()]


def words(line: str) -> list[str]:
    return shlex.split(line, comments=True)


def fresh_copy(target: Path) -> Path:
    """The files a clone of this work tree would hold (tracked, and new files not ignored),
    plus the set-up `.venv` and `node_modules` linked in: installing them again would take
    minutes and is what `make test` itself does before this test runs."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    for name in (".venv", "node_modules"):
        (target / name).symlink_to(REPO / name)
    return target


def point_at_emulator(lab_file: Path, url: str, *, s3_state: bool) -> None:
    text = lab_file.read_text(encoding="utf-8")
    text, count = re.subn(r"(?m)^aws:\n", f"aws:\n  endpoint_url: {url}\n", text)
    assert count == 1, f"{lab_file.name} has no aws: section to point at the emulator"
    if s3_state:
        text += f"backend:\n  s3: {{bucket: {BUCKET}}}\n"
    lab_file.write_text(text, encoding="utf-8")


@dataclass
class Session:
    root: Path
    env: dict[str, str]
    moto: MotoServer
    exports: list[str] = field(default_factory=list)
    labs: dict[str, Lab] = field(default_factory=dict)  # stack -> lab
    deployed: set[str] = field(default_factory=set)
    audited: list[str] = field(default_factory=list)  # lab files, as the session names them

    def run(self, line: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        script = "\n".join([*self.exports, line])
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        assert result.returncode in ok, (
            f"`{line}` exited {result.returncode}:\n{result.stdout[-6000:]}\n"
            f"{result.stderr[-4000:]}\nmoto's last error answers:\n{self.moto.failed_requests()}"
        )
        return result

    def export(self, line: str) -> None:
        self.exports.append(line)
        name, _, value = words(line)[1].partition("=")
        if name == "CRM_PORTS_LABS":
            for path in value.split(":"):
                lab = load_lab(self.root / path)
                self.labs.update({lab.stack_name(cloud): lab for cloud in lab.clouds})

    def stacks(self, names: list[str]) -> list[str]:
        """Stack names and patterns, as cdktf-cli expands them over the app's stacks."""
        return sorted({s for n in names for s in self.labs if fnmatch.fnmatchcase(s, n)})

    def s3(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.moto.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def state(self, stack: str) -> bytes | None:
        backend = self.labs[stack].backend
        if isinstance(backend, LocalState):
            path = self.root / local_state_file(stack)
            return path.read_bytes() if path.is_file() else None
        assert isinstance(backend, S3State)
        key = backend.where(stack).removeprefix(f"s3://{backend.bucket}/")
        try:
            body: bytes = self.s3().get_object(Bucket=backend.bucket, Key=key)["Body"].read()
        except self.s3().exceptions.NoSuchKey:
            return None
        return body

    def states(self) -> dict[str, str]:
        """Digest of every deployed stack's state, wherever the lab keeps it."""
        out = {}
        for stack in sorted(self.deployed):
            state = self.state(stack)
            assert state is not None, f"the state of {stack} is gone"
            out[stack] = hashlib.sha256(state).hexdigest()
        return out

    def resources(self, stack: str) -> list[str]:
        state = self.state(stack)
        assert state is not None, f"the state of {stack} is gone"
        return [f"{r['type']}.{r['name']}" for r in json.loads(state)["resources"]]

    def groups(self, stack: str) -> list[str]:
        ec2 = self.moto.ec2(self.labs[stack].aws.region)
        found = ec2.describe_security_groups(
            Filters=[{"Name": TAG, "Values": [self.labs[stack].name]}]
        )["SecurityGroups"]
        return sorted(g["GroupId"] for g in found)

    def pending_changes(self, stack: str) -> list[dict[str, Any]]:
        """What the plan `cdktf diff` just saved in the stack's folder would change."""
        folder = self.root / "cdktf.out" / "stacks" / stack
        shown = subprocess.run(
            ["terraform", "show", "-json", "plan"],
            cwd=folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=True,
        )
        plan = json.loads(shown.stdout)
        return [c for c in plan.get("resource_changes", []) if c["change"]["actions"] != ["no-op"]]


@pytest.fixture
def session(tmp_path: Path, moto_server: MotoServer) -> Iterator[Session]:
    require_tool("cdktf-cli", "runs the deploy session's npx cdktf commands (npm ci)")
    require_tool("terraform", "cdktf-cli deploys through terraform")
    mirror = require_tool("aws-provider-mirror", "terraform init cannot reach the registry")
    root = fresh_copy(tmp_path / "crm-ports")
    point_at_emulator(root / "labs" / "contoso-claims.yaml", moto_server.url, s3_state=False)
    point_at_emulator(root / "labs" / "fabrikam-full-server.yaml", moto_server.url, s3_state=True)
    env = {
        k: v
        for k, v in terraform_env(tmp_path / "tf", mirror).items()
        if not k.startswith(("AWS_", "CRM_PORTS_LABS", "CDKTF_", "TF_DATA_DIR"))
    }
    env.update(
        {
            "PATH": f"{root / '.venv' / 'bin'}{os.pathsep}{env['PATH']}",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
            "AWS_CONFIG_FILE": "/nonexistent/config",
            "AWS_EC2_METADATA_DISABLED": "true",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "CI": "1",
            # moto loses changes under concurrent requests (a destroy in CI read
            # InvalidPermission.NotFound, an apply once InvalidPermission.Duplicate): the test
            # server runs one request at a time and answers an SDK's retry of a call it has
            # carried out with the first answer (tests/serial_moto_server.py), and fewer
            # requests wait in flight per apply. The session's commands stay as written.
            "TF_CLI_ARGS_apply": "-parallelism=4",
            "TF_CLI_ARGS_destroy": "-parallelism=4",
        }
    )
    result = Session(root, env, moto_server)
    result.s3().create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    yield result


def test_the_readme_deploy_session(session: Session) -> None:
    commands = deploy_commands()
    cdktf_json = (session.root / "cdktf.json").read_bytes()
    kinds: list[str] = []
    for line in commands:
        argv = words(line)
        if argv[0] == "export":
            session.export(line)
            kinds.append("export")
        elif argv[:3] == ["npx", "cdktf", "deploy"]:
            kinds.append(deploy(session, line, argv))
        elif argv[:3] == ["npx", "cdktf", "synth"] or argv[:2] == ["crm-ports", "synth"]:
            before = session.states()
            session.run(line)
            assert session.states() == before, f"`{line}` changed a deployed lab's state"
            kinds.append("synth")
        elif argv[:3] == ["npx", "cdktf", "diff"]:
            diff(session, line, argv[3])
            kinds.append("diff")
        elif argv[:3] == ["crm-ports", "audit", "aws"]:
            audit(session, line, argv)
            kinds.append("audit")
        elif argv[:3] == ["npx", "cdktf", "destroy"]:
            destroy(session, line, argv)
            kinds.append("destroy")
        else:
            pytest.fail(f"the deploy block has a command this test does not know: {line}")
    # The session the issue asks for, in this order; an edit of the page that drops a step fails.
    steps = [k for k in kinds if k != "export"]
    assert steps[:1] == ["deploy-one"] and "deploy-several" in steps
    assert steps.index("synth") < steps.index("deploy-several") < steps.index("audit")
    assert steps[-1] == "destroy" and steps.count("diff") >= 2
    assert (session.root / "cdktf.json").read_bytes() == cdktf_json, "cdktf-cli edited cdktf.json"


def deploy(session: Session, line: str, argv: list[str]) -> str:
    names = [w for w in argv[3:] if not w.startswith("-") and not w.isdigit()]
    stacks = session.stacks(names)
    assert stacks, f"`{line}` names no stack of the labs"
    before = session.states()
    result = session.run(line)
    # Progress reaches the user as information, never as an error.
    assert not [x for x in result.stdout.splitlines() if "ERROR" in x and "built" in x]
    assert "built" in result.stdout
    session.deployed.update(stacks)
    for stack in stacks:
        assert session.resources(stack), f"{stack}: no resources in its state after deploy"
        assert session.groups(stack), f"{stack}: no security group on the emulator"
    after = session.states()
    for stack in set(before) - set(stacks):
        assert after[stack] == before[stack], f"deploying {stacks} changed {stack}'s state"
    return (
        "deploy-one"
        if len(stacks) == 1 and len(names) == 1 and "*" not in names[0]
        else ("deploy-several")
    )


def diff(session: Session, line: str, stack: str) -> None:
    session.run(line)
    pending = session.pending_changes(stack)
    assert pending == [], f"{stack}: `{line}` reports changes: {[c['address'] for c in pending]}"


def audit(session: Session, line: str, argv: list[str]) -> None:
    """The audit, with the lab's own endpoint and test credentials (none in the session's
    environment): clean, having read every planned group and rule; then a planned rule
    revoked by hand and a rule added by hand are reported, exactly those two."""
    lab = load_lab(session.root / argv[argv.index("--lab") + 1])
    session.audited.append(argv[argv.index("--lab") + 1])
    clean = session.run(line)
    assert "no drift" in clean.stdout, clean.stdout
    as_json = shlex.join([*argv, "--format", "json"])  # the line without its comment
    plan = plan_aws(resolve_lab(load_catalogue(), lab), lab.name, egress=lab.aws.egress)
    report = json.loads(session.run(as_json).stdout)
    assert (report["findings"], report["checked"]) == (
        [],
        {"security_groups": len(plan.security_groups), "rules": len(plan.rules)},
    )
    ec2 = session.moto.ec2(lab.aws.region)
    groups = ec2.describe_security_groups(Filters=[{"Name": TAG, "Values": [lab.name]}])
    group_id = {
        {t["Key"]: t["Value"] for t in g["Tags"]}["crm-ports:group"]: g["GroupId"]
        for g in groups["SecurityGroups"]
    }
    # A planned rule between two groups, revoked by hand: missing.
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
    # A rule added by hand (RDP from anywhere): unexpected. Exit 1, naming the group.
    exposed = plan.security_group("domain-controller")
    open_rdp_to_the_world(ec2, group_id[exposed.group])
    drift = session.run(line, ok=(1,))
    assert "unexpected" in drift.stdout and exposed.name in drift.stdout, drift.stdout
    assert "3389" in drift.stdout and "0.0.0.0/0" in drift.stdout, drift.stdout
    report = json.loads(session.run(as_json, ok=(1,)).stdout)
    assert sorted((f["status"], f["container"], f["name"]) for f in report["findings"]) == [
        ("missing", plan.security_group(victim.group).name, victim.key),
        ("unexpected", exposed.name, "(untagged)"),
    ]


def destroy(session: Session, line: str, argv: list[str]) -> None:
    stacks = session.stacks([w for w in argv[3:] if not w.startswith("-") and not w.isdigit()])
    assert set(stacks) >= session.deployed, f"`{line}` leaves {session.deployed - set(stacks)}"
    session.run(line)
    for stack in sorted(session.deployed):
        assert session.groups(stack) == [], f"{stack}: groups left after destroy"
        # The state is kept (empty), never deleted.
        assert session.resources(stack) == [], f"{stack}: resources left in its state"
    for lab_file in session.audited:  # nothing left to audit: one line, exit 2
        gone = session.run(f"crm-ports audit aws --lab {lab_file}", ok=(2,))
        assert "no such lab" in gone.stderr, gone.stderr
