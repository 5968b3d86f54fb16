"""Day-2 changes (issue "Day-2 changes"): a deployed lab is edited and applied again while
its servers run, end to end against moto with the real `terraform`.

An instance holds its host's security group and `lab-servers` for as long as it runs, and
EC2 refuses to delete a group an instance holds or another group's rule references
(DependencyViolation; the test emulator refuses as EC2 does, tests/serial_moto_server.py).
So an edit of the lab must never replace or delete the group of a host that stays: on a
real account the apply would stop half-way, rules already changed, the group stuck, and the
aws provider retrying the delete until its timeout. (Up to 8e429ac it did: the description
of `lab-servers` lists every role of the lab, and AWS cannot change a description in place,
so adding a host replaced the group.) Each edit is judged on its saved plan *before* it is
applied, so that a regression fails at once with the plan's own words, and the plan that
was judged is the plan applied (`terraform apply tfplan`).

Every test follows the user's path: edit the lab file, `crm-ports synth --lab LAB --out
OUT`, then `terraform plan` / `apply` in one working folder that keeps `.terraform` and
the state (`terraform.aws-day2.tfstate` beside `cdktf.out`) from edit to edit. The only
liberty taken with the synthesized JSON: the harness gives every `aws_security_group` a
one-minute delete timeout (`timeouts`, which changes no plan), so that an apply that does
try to delete a group in use fails in a minute instead of the provider's fifteen.

The per-edit plan counts (add / change / destroy, a replacement counting as one add and one
destroy, as Terraform prints them) are printed as a table, and are part of any failure
message.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.test_audit_aws import audit_json
from tests.test_e2e_moto import Cli, Terraform, changes, describe, terraform_for

if TYPE_CHECKING:
    from tests.moto_server import MotoServer

pytestmark = pytest.mark.slow

LAB = "day2"
STACK = f"aws-{LAB}"
AMI = "ami-12c6146b"  # one of the images moto knows
GROUP_DELETE_TIMEOUT = "1m"
UPGRADE = Path(__file__).parent / "fixtures" / "upgrade"
PREVIOUS = UPGRADE / f"{STACK}.previous.cdk.tf.json"
ENDPOINT_PLACEHOLDER = "@MOTO_ENDPOINT_URL@"
REFUSED = "crm-ports-moto: DeleteSecurityGroup"  # tests/serial_moto_server.py logs each

START_HOSTS: dict[str, list[str]] = {
    "fe": ["web-application", "load-balancer", "sandbox-processing"],
    "be": ["asynchronous-service", "deployment-web-service", "email-router"],
    "db": ["sql-server", "reporting-services"],
    "dc": ["domain-controller"],
}


@dataclass
class LabFile:
    """The day-2 lab file as an operator keeps it: one file, rewritten for each edit."""

    path: Path
    endpoint: str
    hosts: dict[str, list[str]] = field(
        default_factory=lambda: {host: list(roles) for host, roles in START_HOSTS.items()}
    )
    options: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # client_cidrs, extra_rules, ...

    def write(self) -> Path:
        lines = [f"name: {LAB}", "clouds: [aws]", f"aws: {{endpoint_url: {self.endpoint}}}"]
        if self.options:
            lines.append(f"options: {json.dumps(self.options)}")
        for key, value in self.extra.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                lines += [f"{key}:", *(f"  - {json.dumps(item)}" for item in value)]
            else:
                lines.append(f"{key}: {json.dumps(value)}")
        lines += ["topology:", "  hosts:"]
        lines += [
            f"    - {{name: {host}, roles: [{', '.join(roles)}]}}"
            for host, roles in self.hosts.items()
        ]
        self.path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self.path


@dataclass(frozen=True)
class Counts:
    """What one plan does, as Terraform's summary line counts it, and to the groups."""

    step: str
    add: int
    change: int
    destroy: int
    groups: str

    @classmethod
    def of(cls, step: str, plan: dict[str, Any]) -> Counts:
        add = change = destroy = 0
        groups: dict[str, int] = {}
        for planned in changes(plan):
            actions = planned["change"]["actions"]
            if "create" in actions and "delete" in actions:
                add, destroy, kind = add + 1, destroy + 1, "replace"
            elif actions == ["create"]:
                add, kind = add + 1, "add"
            elif actions == ["delete"]:
                destroy, kind = destroy + 1, "destroy"
            elif actions == ["update"]:
                change, kind = change + 1, "change"
            else:
                continue
            if planned["type"] == "aws_security_group":
                groups[kind] = groups.get(kind, 0) + 1
        text = ", ".join(f"{kind} {n}" for kind, n in sorted(groups.items())) or "-"
        return cls(step, add, change, destroy, text)


def counts_table(rows: list[Counts]) -> str:
    width = max([len("edit"), *(len(row.step) for row in rows)])
    lines = [f"{'edit':<{width}}  {'add':>4} {'change':>6} {'destroy':>7}  security groups"]
    lines += [
        f"{row.step:<{width}}  {row.add:>4} {row.change:>6} {row.destroy:>7}  {row.groups}"
        for row in rows
    ]
    return "\n".join(lines)


def with_short_group_deletes(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of the stack with a short delete timeout on each security group (harness
    only): a refused delete then fails the apply in a minute rather than after fifteen."""
    doctored = copy.deepcopy(document)
    for group in doctored.get("resource", {}).get("aws_security_group", {}).values():
        group["timeouts"] = {"delete": GROUP_DELETE_TIMEOUT}
    return doctored


def removal(change: dict[str, Any]) -> str:
    """A group's deletion as Terraform explains it: the attributes forcing a replacement,
    before -> after (all that differs, when nothing forces it)."""
    forced = [path[0] for path in change["change"].get("replace_paths", []) if path]
    if not forced:
        return describe(change)
    before, after = change["change"]["before"] or {}, change["change"]["after"] or {}
    actions = "/".join(change["change"]["actions"])
    lines = [f"{change['address']} ({actions}), replacement forced by {', '.join(forced)}:"]
    lines += [f"  {key}: {before.get(key)!r}\n    -> {after.get(key)!r}" for key in forced]
    return "\n".join(lines)


@dataclass(frozen=True)
class Launched:
    instance_id: str
    groups: frozenset[str]


@dataclass
class Deployment:
    """One lab on moto, its Terraform working folder, and the instances running in it."""

    ec2: Any
    server: MotoServer
    work: Path
    terraform: Terraform | None = None
    instances: dict[str, Launched] = field(default_factory=dict)
    counts: list[Counts] = field(default_factory=list)

    def stage(self, document: dict[str, Any]) -> None:
        """The stack goes into the same working folder each time (`terraform init` once)."""
        text = json.dumps(with_short_group_deletes(document), indent=2)
        if self.terraform is None:
            source = self.work / "source" / STACK
            source.mkdir(parents=True)
            source.joinpath("cdk.tf.json").write_text(text, encoding="utf-8")
            self.terraform = terraform_for(source, self.work / "run")
        else:
            self.terraform.workdir.joinpath("cdk.tf.json").write_text(text, encoding="utf-8")

    def deploy(self, step: str, document: dict[str, Any]) -> None:
        """The first apply (`apply -auto-approve`: nothing is deployed that a plan could
        break), counted from Terraform's summary line. Whether it converged shows in the
        next plan's counts, and the last plan of each test must be empty."""
        self.stage(document)
        applied = self.tf().run("apply", "-auto-approve", "-no-color", "-input=false")
        summary = re.search(
            r"Resources: (\d+) added, (\d+) changed, (\d+) destroyed", applied.stdout
        )
        assert summary is not None, applied.stdout[-2000:]
        add, change, destroy = map(int, summary.groups())
        groups = len(document["resource"]["aws_security_group"])
        self.counts.append(Counts(step, add, change, destroy, f"add {groups}"))

    def plan_and_apply(
        self, step: str, document: dict[str, Any], leaving: set[str], *, last: bool = False
    ) -> None:
        """Plan `document`, refuse a plan that deletes the group of a host that stays,
        then apply that very plan; every instance must keep its groups. `leaving`: the
        hosts this edit removes. After the `last` edit the plan must be empty (each plan
        costs three starts of the aws provider, so the edits between are judged by their
        own plans, whose counts show anything an earlier apply left undone)."""
        self.stage(document)
        terraform = self.tf()
        plan = terraform.show_plan()
        self.counts.append(Counts.of(step, plan))
        allowed = {f"{LAB}-{host}" for host in leaving}
        deleted = [
            c
            for c in changes(plan)
            if c["type"] == "aws_security_group" and "delete" in c["change"]["actions"]
        ]
        wrong = [c for c in deleted if (c["change"]["before"] or {}).get("name") not in allowed]
        if wrong:
            self.fail(
                f"{step}: the plan deletes the security group of a host that stays "
                "(EC2 refuses to delete a group its instances hold or other groups' rules "
                "reference)",
                [removal(c) for c in wrong],
            )
        gone = {str((c["change"]["before"] or {}).get("name")) for c in deleted}
        if gone != allowed:
            self.fail(f"{step}: the plan deletes {sorted(gone)}, not {sorted(allowed)}", [])
        refused = self.refused_deletes()
        terraform.run("apply", "-no-color", "-input=false", "tfplan")
        if self.refused_deletes() != refused:  # the provider retried past it: say so
            self.fail(f"{step}: moto refused a group's deletion during the apply", [])
        self.check_instances()
        if last:
            self.assert_converged(step)

    def assert_converged(self, step: str) -> None:
        """`plan -detailed-exitcode` after an apply is empty (a second plan, only when it
        is not, says what would change)."""
        if self.tf().plan_status() != 0:
            pending = [describe(c) for c in changes(self.tf().show_plan())]
            self.fail(f"{step}: the plan after the apply is not empty", pending)

    def refused_deletes(self) -> list[str]:
        """The emulator's log lines for each DeleteSecurityGroup it refused so far."""
        text = self.server.log.read_text(encoding="utf-8", errors="replace")
        return [line for line in text.splitlines() if REFUSED in line]

    def tf(self) -> Terraform:
        assert self.terraform is not None, "nothing staged yet"
        return self.terraform

    def outputs(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.tf().run("output", "-json").stdout)
        return {key: value["value"] for key, value in document.items()}

    def launch(self, hosts: list[str]) -> None:
        """One instance per host, in the stack's subnet, with the groups the stack gives
        that host's instances."""
        outputs = self.outputs()
        for host in hosts:
            groups = outputs["instance_security_group_ids"][host]
            [instance] = self.ec2.run_instances(
                ImageId=AMI,
                MinCount=1,
                MaxCount=1,
                SubnetId=outputs["lab_subnet_id"],
                SecurityGroupIds=groups,
                TagSpecifications=[
                    {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": host}]}
                ],
            )["Instances"]
            self.instances[host] = Launched(instance["InstanceId"], frozenset(groups))
        self.check_instances()

    def decommission(self, host: str) -> None:
        """Terminate the host's instance, as an operator does before removing the host."""
        launched = self.instances.pop(host)
        self.ec2.terminate_instances(InstanceIds=[launched.instance_id])
        self.ec2.get_waiter("instance_terminated").wait(InstanceIds=[launched.instance_id])

    def check_instances(self) -> None:
        """Every instance holds exactly the groups it was started with, the stack still
        gives its host those groups, and each of them exists."""
        if not self.instances:
            return
        planned = self.outputs()["instance_security_group_ids"]
        reservations = self.ec2.describe_instances(
            InstanceIds=[launched.instance_id for launched in self.instances.values()]
        )["Reservations"]
        held = {
            instance["InstanceId"]: {g["GroupId"] for g in instance["SecurityGroups"]}
            for reservation in reservations
            for instance in reservation["Instances"]
        }
        wanted = sorted({g for launched in self.instances.values() for g in launched.groups})
        live = {
            g["GroupId"]
            for g in self.ec2.describe_security_groups(
                Filters=[{"Name": "group-id", "Values": wanted}]
            )["SecurityGroups"]
        }
        problems = []
        for host, launched in sorted(self.instances.items()):
            holds = held[launched.instance_id]
            if holds != launched.groups:
                problems.append(f"{host}: started with {sorted(launched.groups)}, holds {holds}")
            if set(planned.get(host, [])) != launched.groups:
                problems.append(
                    f"{host}: the stack now gives {planned.get(host)}, its instance holds "
                    f"{sorted(launched.groups)}"
                )
            if holds - live:
                problems.append(f"{host}: holds groups that no longer exist: {holds - live}")
        if problems:
            self.fail("instances lost their security groups", problems)

    def fail(self, headline: str, details: list[str]) -> None:
        pytest.fail(
            "\n".join(
                [
                    headline,
                    *details,
                    "",
                    "plan counts so far:",
                    counts_table(self.counts),
                    "",
                    "moto's last errors and refusals:",
                    self.server.failed_requests(),
                ]
            ),
            pytrace=False,
        )


@contextmanager
def counts_printed(
    deployment: Deployment, capsys: pytest.CaptureFixture[str], title: str
) -> Iterator[None]:
    """The counts table reaches the terminal whatever happens (for the closing note)."""
    try:
        yield
    finally:
        with capsys.disabled():
            print(f"\n{title}\n{counts_table(deployment.counts)}")


def synthesized(cli: Cli, lab: Path, out: Path) -> dict[str, Any]:
    """`crm-ports synth --lab LAB --out OUT`, and the AWS stack it wrote."""
    synth = cli("synth", "--lab", str(lab), "--out", str(out))
    assert synth.code == 0, synth.err
    document: dict[str, Any] = json.loads(
        (out / "stacks" / STACK / "cdk.tf.json").read_text(encoding="utf-8")
    )
    return document


def add_claims(lab: LabFile) -> None:
    lab.options["auth"] = "claims"
    lab.hosts["adfs"] = ["adfs"]


def add_second_dc(lab: LabFile) -> None:
    lab.hosts["dc2"] = ["domain-controller"]


def change_ports_and_peers(lab: LabFile) -> None:
    lab.options.update(web_port=5555, sql_port=1533)
    lab.extra["client_cidrs"] = ["10.110.0.0/16", "192.168.50.0/24"]
    lab.extra["admin_cidrs"] = ["10.210.4.0/24"]


def use_cloud_balancer(lab: LabFile) -> None:
    lab.options["load_balancer"] = "cloud"


def add_lab_rule(lab: LabFile) -> None:
    lab.extra["extra_rules"] = [
        {
            "from": "10.30.0.0/24",
            "to": "fe",
            "protocol": "tcp",
            "ports": 8443,
            "name": "monitoring",
            "reason": "the hosting provider's monitoring probes the CRM web site",
        }
    ]


def remove_second_dc(lab: LabFile) -> None:
    del lab.hosts["dc2"]


EDITS: list[tuple[str, Callable[[LabFile], None]]] = [
    ("1 AD FS host (auth: claims)", add_claims),
    ("2 second domain controller", add_second_dc),
    ("3 ports and peer ranges", change_ports_and_peers),
    ("4 load_balancer: cloud", use_cloud_balancer),
    ("5 lab-local rule", add_lab_rule),
    ("6 remove dc2", remove_second_dc),
]


@dataclass(frozen=True)
class Part:
    """A run of consecutive edits, `EDITS[start:stop]`, tested from a lab deployed as it
    stands before the first of them (the start lab with `EDITS[:start]` made to its file).

    The sequence is cut in parts so that they run on both `pytest -n` workers at once. No
    transition is lost: each edit N is still planned and applied over a deployed lab in
    state N-1 with an instance on every host. A part that ends at edit N re-plans empty
    after it, so state N as the edits leave it is what a fresh deploy of state N gives the
    next part (as far as Terraform can tell)."""

    start: int
    stop: int
    seconds: int  # its `e2e(seconds=...)` estimate: a measured duration, for the workers

    @property
    def edits(self) -> list[tuple[str, Callable[[LabFile], None]]]:
        return EDITS[self.start : self.stop]

    @property
    def name(self) -> str:
        return f"edits {self.start + 1}-{self.stop}"

    @property
    def first_step(self) -> str:
        return "start" if self.start == 0 else f"start + edits 1-{self.start}"


PARTS = [Part(0, 3, seconds=130), Part(3, 6, seconds=130)]


@pytest.mark.parametrize(
    "part",
    [
        pytest.param(
            part, id=part.name.replace(" ", "-"), marks=pytest.mark.e2e(seconds=part.seconds)
        )
        for part in PARTS
    ],
)
def test_day2_edits_keep_every_running_hosts_groups(
    cli: Cli,
    moto_server: MotoServer,
    aws_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    part: Part,
) -> None:
    """The lab as it stands before the part is applied, an instance runs per host, and the
    part's edits are applied one after the other; no edit may delete or replace the group
    of a host that stays, the instances keep their groups, the last re-plan is empty and
    the final audit is clean."""
    lab = LabFile(tmp_path / f"{LAB}.yaml", moto_server.url)
    for _, earlier in EDITS[: part.start]:
        earlier(lab)
    out = tmp_path / "build" / "cdktf.out"
    deployment = Deployment(moto_server.ec2(), moto_server, tmp_path / "work")
    with counts_printed(deployment, capsys, f"day-2 plan counts ({part.name})"):
        deployment.deploy(part.first_step, synthesized(cli, lab.write(), out))
        deployment.launch(sorted(lab.hosts))
        for step, edit in part.edits:
            before = set(lab.hosts)
            edit(lab)
            leaving, arriving = before - set(lab.hosts), set(lab.hosts) - before
            for host in sorted(leaving):
                deployment.decommission(host)
            document = synthesized(cli, lab.write(), out)
            deployment.plan_and_apply(step, document, leaving, last=step == part.edits[-1][0])
            deployment.launch(sorted(arriving))

    code, report = audit_json(cli, moto_server.url, "--lab", str(lab.path))
    assert (code, report["findings"]) == (0, []), report["findings"]


def test_the_parts_cover_every_edit_once() -> None:
    """The parts, one after the other, are the whole sequence: no edit left out or twice."""
    assert [edit for part in PARTS for edit in part.edits] == EDITS
    assert [part.start for part in PARTS] == [0, *(part.stop for part in PARTS[:-1])]


def previous_version_stack(endpoint: str) -> dict[str, Any]:
    """The day-2 start lab's AWS stack as the previous version synthesized it."""
    text = PREVIOUS.read_text(encoding="utf-8")
    assert text.count(ENDPOINT_PLACEHOLDER) == 3  # the ec2, iam and sts endpoints
    document: dict[str, Any] = json.loads(text.replace(ENDPOINT_PLACEHOLDER, endpoint))
    return document


@pytest.mark.e2e(seconds=80)
def test_a_lab_deployed_with_the_previous_version_keeps_its_groups(
    cli: Cli,
    moto_server: MotoServer,
    aws_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The previous version's stack (tests/fixtures/upgrade/README.md says which commit
    wrote it) is applied with an instance per host; the same lab synthesized by this
    version then plans no group deletion or replacement (the deployed descriptions stay),
    applies with every instance keeping its groups, and re-plans empty."""
    previous = previous_version_stack(moto_server.url)
    deployment = Deployment(moto_server.ec2(), moto_server, tmp_path / "work")
    with counts_printed(deployment, capsys, "upgrade plan counts"):
        deployment.deploy("previous version", previous)
        deployment.launch(sorted(START_HOSTS))
        lab = LabFile(tmp_path / f"{LAB}.yaml", moto_server.url)
        current = synthesized(cli, lab.write(), tmp_path / "build" / "cdktf.out")
        deployment.plan_and_apply("this version", current, set(), last=True)

    # No replacement means the groups keep the descriptions they were created with (EC2
    # cannot change one in place).
    deployed = {
        group["name"]: group["description"]
        for group in previous["resource"]["aws_security_group"].values()
    }
    live = deployment.ec2.describe_security_groups(
        Filters=[{"Name": "tag:crm-ports:lab", "Values": [LAB]}]
    )["SecurityGroups"]
    assert {g["GroupName"]: g["Description"] for g in live} == deployed
