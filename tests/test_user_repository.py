"""crm-ports from a labs repository of the user's own, installed from a wheel.

The user's path, from the user's place: a wheel built from this checkout and installed (not
editable) in a fresh virtual environment; `crm-ports init` in a fresh git repository; a lab
of the user's own instead of the example; `npx cdktf deploy` on moto from that repository
with nothing but the scaffold and the docs' words; the lab edited, committed and reviewed
with `crm-ports diff --base HEAD~1`; the edit deployed (the second change to a running
lab), the re-plan empty and the audit clean; then an app of the user's own built with the
construct library, its `cdktf.out` verified and checked.

What the test supplies that a user's machine supplies: `npm install` is a link to this
checkout's `node_modules` (the same pinned cdktf-cli; installing it again takes minutes),
Terraform installs the provider from the local mirror (the docs' `filesystem_mirror`
block), the lab points at the emulator (`aws.endpoint_url`, as the docs' Emulators bullet
says), and `--auto-approve` answers the prompt a person would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import REPO
from tests.readme import CONSTRUCTS, block
from tests.tf_harness import require_tool, terraform_env

if TYPE_CHECKING:
    from tests.moto_server import MotoServer

pytestmark = [pytest.mark.slow, pytest.mark.e2e(seconds=150)]

TIMEOUT_S = 900
LAB = "mylab"
STACK = f"aws-{LAB}"


def own_lab(url: str, *, adfs: bool) -> str:
    """The user's lab: three servers of their own on AWS, pointed at the emulator; the edit
    adds an AD FS server and switches to claims-based authentication."""
    sts = "    - {name: sts, roles: [adfs]}\n" if adfs else ""
    auth = "claims" if adfs else "iwa"
    return textwrap.dedent(
        f"""\
        name: {LAB}
        description: A CRM 2013 lab of our own
        clouds: [aws]
        topology:
          hosts:
            - {{name: crm-app, roles: [web-application, asynchronous-service, sandbox-processing, deployment-web-service]}}
            - {{name: sql, roles: [sql-server, reporting-services]}}
            - {{name: dc, roles: [domain-controller]}}
        """  # noqa: E501
    ) + (
        sts
        + textwrap.dedent(
            f"""\
            options:
              auth: {auth}
            client_cidrs: [10.100.0.0/16]
            admin_cidrs: [10.200.0.0/24]
            aws:
              region: us-east-1
              endpoint_url: {url}
              egress: strict
            """
        )
    )


@dataclass
class Repository:
    root: Path
    env: dict[str, str]

    def run(self, line: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["bash", "-c", line],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        assert result.returncode in ok, (
            f"`{line}` exited {result.returncode}:\n"
            f"{result.stdout[-6000:]}\n{result.stderr[-4000:]}"
        )
        return result


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with crm-ports installed from a wheel of this checkout."""
    home = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(home), str(REPO)],
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT_S,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    [wheel] = home.glob("crm_ports-*.whl")
    venv = home / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=TIMEOUT_S)
    installed = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"crm-ports[audit] @ {wheel.as_uri()}",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT_S,
    )
    assert installed.returncode == 0, installed.stderr[-4000:]
    return venv


@pytest.fixture
def repository(tmp_path: Path, wheel_venv: Path, moto_server: MotoServer) -> Iterator[Repository]:
    require_tool("cdktf-cli", "the user deploys with npx cdktf (npm ci)")
    require_tool("terraform", "cdktf-cli deploys through terraform")
    require_tool("git", "the labs repository is a git repository")
    mirror = require_tool("aws-provider-mirror", "terraform init cannot reach the registry")
    env = {
        k: v
        for k, v in terraform_env(tmp_path / "tf", mirror).items()
        if not k.startswith(
            ("AWS_", "CRM_PORTS_", "CDKTF_", "TF_DATA_DIR", "PYTHON", "VIRTUAL_ENV")
        )
    }
    env.update(
        {
            # `source .venv/bin/activate`, as the docs' session begins.
            "VIRTUAL_ENV": str(wheel_venv),
            "PATH": f"{wheel_venv / 'bin'}{os.pathsep}{env['PATH']}",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
            "AWS_CONFIG_FILE": "/nonexistent/config",
            "AWS_EC2_METADATA_DISABLED": "true",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "CI": "1",
            "GIT_AUTHOR_NAME": "Lab Owner",
            "GIT_AUTHOR_EMAIL": "owner@example.com",
            "GIT_COMMITTER_NAME": "Lab Owner",
            "GIT_COMMITTER_EMAIL": "owner@example.com",
            # moto serves one request at a time (tests/serial_moto_server.py).
            "TF_CLI_ARGS_apply": "-parallelism=4",
        }
    )
    home = tmp_path / "home"
    home.mkdir()
    Repository(home, env).run("crm-ports init my-labs")
    root = home / "my-labs"
    (root / "node_modules").symlink_to(REPO / "node_modules")  # npm install, offline
    yield Repository(root, env)


def test_a_labs_repository_of_the_users_own(
    repository: Repository, moto_server: MotoServer
) -> None:
    repo = repository
    # The scaffold holds no trace of crm-ports' own checkout.
    assert str(REPO) not in (repo.root / "cdktf.json").read_text(encoding="utf-8")
    repo.run("git init -q -b main")
    (repo.root / "labs" / "example.yaml").unlink()
    lab_file = repo.root / "labs" / f"{LAB}.yaml"
    lab_file.write_text(own_lab(moto_server.url, adfs=False), encoding="utf-8")
    repo.run(f"crm-ports validate labs/{LAB}.yaml")
    repo.run("git add -A && git commit -q -m 'A lab of our own'")

    # Deploy from the repository: the app finds the project file's labs by itself.
    deployed = repo.run(f"npx cdktf deploy {STACK} --skip-provider-lock --auto-approve")
    assert "built" in deployed.stdout
    state = repo.root / f"terraform.{STACK}.tfstate"
    assert state.is_file(), "the state is not where the docs say"
    ec2 = moto_server.ec2("us-east-1")
    tag = [{"Name": "tag:crm-ports:lab", "Values": [LAB]}]
    before = {
        g["GroupName"]: g["GroupId"]
        for g in ec2.describe_security_groups(Filters=tag)["SecurityGroups"]
    }
    assert {"mylab-crm-app", "mylab-sql", "mylab-dc"} <= set(before), before
    # State, outputs and node_modules stay out of git.
    assert repo.run("git status --porcelain").stdout == ""

    # Edit, commit, review the edit.
    lab_file.write_text(own_lab(moto_server.url, adfs=True), encoding="utf-8")
    repo.run("git commit -q -am 'AD FS for claims-based authentication'")
    review = repo.run("crm-ports diff --base HEAD~1", ok=(1,))
    assert "adfs" in review.stdout.lower() and "sts" in review.stdout, review.stdout
    repo.run("crm-ports check --all")
    repo.run("crm-ports check --all --base HEAD~1")  # no group its servers hold is replaced

    # The second change to the running lab: every group kept, the re-plan empty, the audit
    # clean.
    repo.run(f"npx cdktf deploy {STACK} --skip-provider-lock --auto-approve")
    after = {
        g["GroupName"]: g["GroupId"]
        for g in ec2.describe_security_groups(Filters=tag)["SecurityGroups"]
    }
    assert {k: after.get(k) for k in before} == before, "a group was replaced"
    assert "mylab-sts" in after
    again = repo.run(f"npx cdktf diff {STACK} --skip-provider-lock")
    assert "No changes" in again.stdout, again.stdout[-3000:]
    audit = repo.run(f"crm-ports audit aws --lab labs/{LAB}.yaml")
    assert "no drift" in audit.stdout, audit.stdout

    # An app of the user's own, built with the construct library, reviewed.
    app = repo.root / "app"
    app.mkdir()
    source = block("review-app", CONSTRUCTS)
    code = source.split("```python\n", 1)[1].rsplit("```", 1)[0]
    (app / "app.py").write_text(code, encoding="utf-8")
    repo.run("cd app && python app.py")
    verified = repo.run("crm-ports verify --synth app/cdktf.out")
    assert "acme-aws/crm" in verified.stdout and "contoso-azure/crm" in verified.stdout
    repo.run("crm-ports check --synth app/cdktf.out")


def _docs_session(name: str) -> list[str]:
    """The command lines of a tested block of docs/adopting.md, in order."""
    fence = block(name, REPO / "docs" / "adopting.md").split("```sh\n", 1)[1]
    return [line for line in fence.rsplit("```", 1)[0].splitlines() if line.strip()]


def _expected_status(line: str) -> int:
    """A docs line that should not exit 0 says so in its comment (`# exit 1: ...`)."""
    _, _, comment = line.partition("  #")
    match = re.match(r"\s*exit (\d+):", comment)
    return int(match.group(1)) if match else 0


def test_adopting_a_hand_built_estate_from_a_labs_repository(
    repository: Repository, moto_server: MotoServer, tmp_path: Path
) -> None:
    """docs/adopting.md's session, word for word, from a labs repository of the user's own:
    adopt the hand-built estate (tests/test_adopt_moto.py builds it as a person would),
    review it, deploy it with the README's path. The first plan imports every group and
    destroys nothing; after the apply every instance holds its own group with the same id,
    the stray RDP rule from the Internet is gone, the re-plan is empty, the audit clean."""
    from tests.test_adopt_moto import build_estate, held

    repo = repository
    repo.run("git init -q -b main && git add -A && git commit -q -m 'crm-ports init'")
    ec2 = moto_server.ec2()
    vpc, groups, instances = build_estate(ec2, tmp_path)
    repo.env.update({"VPC": vpc, "AWS_ENDPOINT_URL": moto_server.url})
    outputs: list[str] = []
    for line in _docs_session("adopt"):
        if line.startswith("export "):
            for assignment in line.removeprefix("export ").split("#", 1)[0].split():
                key, _, value = assignment.partition("=")
                repo.env[key] = value
            continue
        ran = repo.run(line, ok=(_expected_status(line),))
        outputs.append(ran.stdout + ran.stderr)
    adopted, _, _, review, first_plan, _, replan, audit = outputs
    first_plan = re.sub(r"\x1b\[[0-9;]*m", "", first_plan)  # cdktf diff colours its summary
    assert "left out:" in adopted and "0.0.0.0/0" in adopted, adopted
    assert "acme" in review, review
    summary = re.search(r"Plan: (\d+) to import, (\d+) to add, (\d+) to change, (\d+) to destroy",
                        first_plan)  # fmt: skip
    assert summary, first_plan[-3000:]
    assert int(summary.group(1)) >= len(groups) and summary.group(4) == "0", summary.group(0)
    assert "must be replaced" not in first_plan, first_plan[-3000:]
    assert held(ec2, instances) == {host: {group} for host, group in groups.items()}
    assert "No changes" in replan, replan[-3000:]
    assert "no drift" in audit, audit
    live = ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [groups["web"]]}]
    )["SecurityGroupRules"]
    assert not [r for r in live if r.get("CidrIpv4") == "0.0.0.0/0" and not r["IsEgress"]]
