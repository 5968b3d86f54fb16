"""Layouts that are not built in, from lab files: synthesized JSON pinned by snapshots and
the AWS stacks checked by `terraform validate`; two-dcs (two domain controllers
replicating inside IPsec, Exchange in the lab) in each `ad_replication` mode through
`verify` and `check` as well; two-box applied to moto, audited and destroyed. Two domain
controllers applied to moto in each mode is tests/test_cloud_lab.py's lab."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from crm_ports.cli import run
from crm_ports.lab.file import load_lab
from tests.stacks import synth_stack
from tests.test_audit_aws import audit_json
from tests.test_e2e_moto import (
    Cli,
    terraform_for,
)
from tests.tf_harness import Validation, terraform_validate_many

if TYPE_CHECKING:
    from tests.moto_server import MotoServer

LABS = Path(__file__).parent / "fixtures" / "labs"
LAYOUTS = ("two-box", "own-exchange", "two-dcs", "cloud-lb")
AD_MODES = ("rpc-dynamic", "rpc-fixed", "ipsec")


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.flavoured
@pytest.mark.slow
@pytest.mark.parametrize("cloud", ["aws", "azure"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_layout_snapshot(snapshot_json: SnapshotAssertion, layout: str, cloud: str) -> None:
    assert synth_stack(load_lab(LABS / f"{layout}.yaml"), cloud) == snapshot_json


def _two_dcs(mode: str, folder: Path, endpoint: str | None = None) -> Path:
    text = (LABS / "two-dcs.yaml").read_text(encoding="utf-8")
    pointed = text.replace("ad_replication: ipsec", f"ad_replication: {mode}")
    if endpoint is not None:
        pointed += f"aws: {{endpoint_url: {endpoint}}}\n"
    path = folder / "two-dcs.yaml"
    path.write_text(pointed, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Synthesized:
    lab: Path
    out: Path


@pytest.fixture(scope="module")
def two_dcs_modes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    """`crm-ports synth` of the two-dcs lab in each mode, once for the tests below."""
    synthesized = {}
    for mode in AD_MODES:
        folder = tmp_path_factory.mktemp(f"two-dcs-{mode}")
        lab, out = _two_dcs(mode, folder), folder / "out"
        assert run(["synth", "--lab", str(lab), "--out", str(out)]) == 0, mode
        synthesized[mode] = Synthesized(lab, out)
    return synthesized


@pytest.fixture(scope="module")
def validated(
    tmp_path_factory: pytest.TempPathFactory, two_dcs_modes: dict[str, Synthesized]
) -> dict[str, Validation]:
    """Every AWS stack of this file through one `terraform validate` run (the provider
    reads its schema once, not once per stack), by layout and by two-dcs mode; each test
    judges its own stack's diagnostics."""
    folder = tmp_path_factory.mktemp("layouts")
    stacks: dict[str, Path] = {}
    for layout in LAYOUTS:
        stacks[layout] = folder / layout
        stacks[layout].mkdir()
        stack = synth_stack(load_lab(LABS / f"{layout}.yaml"), "aws")
        (stacks[layout] / "cdk.tf.json").write_text(json.dumps(stack), encoding="utf-8")
    for mode, synthesized in two_dcs_modes.items():
        stacks[mode] = synthesized.out / "stacks" / "aws-two-dcs"
    results = terraform_validate_many(stacks.values())
    return {key: results[stack_dir] for key, stack_dir in stacks.items()}


@pytest.mark.slow
@pytest.mark.parametrize("layout", LAYOUTS)
def test_layout_passes_terraform_validate(validated: dict[str, Validation], layout: str) -> None:
    validated[layout].assert_valid()


@pytest.mark.slow
@pytest.mark.parametrize("mode", AD_MODES)
def test_two_dcs_each_mode_validates_verifies_and_checks(
    cli: Cli,
    two_dcs_modes: dict[str, Synthesized],
    validated: dict[str, Validation],
    mode: str,
) -> None:
    """Both clouds synthesize; AWS passes `terraform validate`; `verify` evaluates both
    stacks as each cloud would and finds every flow, ESP included; `check` passes."""
    lab, out = two_dcs_modes[mode].lab, two_dcs_modes[mode].out
    validated[mode].assert_valid()
    verify = cli("verify", "--synth", str(out), "--lab", str(lab), "--format", "json")
    assert verify.code == 0, verify.out + verify.err
    assert [r["ok"] for r in json.loads(verify.out)["stacks"]] == [True, True]
    check = cli("check", "--lab", str(lab), "--synth", str(out), "--format", "json")
    assert check.code == 0, check.out + check.err


@pytest.mark.slow
def test_verify_misses_a_removed_esp_rule(cli: Cli, tmp_path: Path) -> None:
    """ESP is evaluated, not skipped: without the AWS rule for IP protocol 50, verify
    reports the replication flow missing."""
    lab = _two_dcs("ipsec", tmp_path)
    out = tmp_path / "out"
    assert cli("synth", "--lab", str(lab), "--out", str(out)).code == 0
    path = out / "stacks" / "aws-two-dcs" / "cdk.tf.json"
    stack = json.loads(path.read_text(encoding="utf-8"))
    rules = stack["resource"]["aws_vpc_security_group_ingress_rule"]
    esp = [k for k, v in rules.items() if v["ip_protocol"] == "50"]
    assert len(esp) == 2
    del rules[esp[0]]
    path.write_text(json.dumps(stack), encoding="utf-8")
    verify = cli("verify", "--synth", str(out), "--lab", str(lab), "--format", "json")
    assert verify.code == 1, verify.out + verify.err
    [aws] = [r for r in json.loads(verify.out)["stacks"] if r["cloud"] == "aws"]
    assert {m["protocol"] for m in aws["missing"]} == {"esp"}


@pytest.mark.e2e(seconds=70)
@pytest.mark.slow
def test_layout_applies_to_moto_and_audits_clean(
    cli: Cli, moto_server: MotoServer, aws_env: None, tmp_path: Path
) -> None:
    """The two-box lab (strict egress, one lab rule to a CIDR) through synth, apply, an
    empty plan, a clean audit, a tampered rule the audit reports, and destroy."""
    # The lab file, pointed at the emulator as a user would: aws.endpoint_url.
    text = (LABS / "two-box.yaml").read_text(encoding="utf-8")
    pointed = text.replace(
        "aws: {egress: strict}", f"aws: {{egress: strict, endpoint_url: {moto_server.url}}}"
    )
    assert pointed != text
    lab = str(tmp_path / "two-box.yaml")
    Path(lab).write_text(pointed, encoding="utf-8")
    out = tmp_path / "cdktf.out"
    synth = cli("synth", "--lab", lab, "--out", str(out))
    assert synth.code == 0, synth.err
    terraform = terraform_for(out / "stacks" / "aws-two-box", tmp_path / "work")
    terraform.apply()
    terraform.assert_no_changes()

    code, report = audit_json(cli, moto_server.url, "--lab", lab)
    assert (code, report["findings"]) == (0, [])
    assert report["checked"]["security_groups"] == 4  # crm-app, sql, dc, lab-servers

    ec2 = moto_server.ec2()
    live = ec2.describe_security_group_rules(
        Filters=[
            {"Name": "tag:crm-ports:rule", "Values": ["crm-app.cidr-10-20-0-0-24.tcp.patch-proxy"]}
        ]
    )["SecurityGroupRules"]
    assert [(r["IsEgress"], r["CidrIpv4"], r["FromPort"]) for r in live] == [
        (True, "10.20.0.0/24", 8080)
    ]
    ec2.revoke_security_group_egress(
        GroupId=live[0]["GroupId"], SecurityGroupRuleIds=[live[0]["SecurityGroupRuleId"]]
    )
    code, report = audit_json(cli, moto_server.url, "--lab", lab)
    assert code == 1
    [finding] = report["findings"]
    assert (finding["status"], finding["container"]) == ("missing", "two-box-crm-app")
    assert "patch-proxy" in finding["name"]

    terraform.apply("destroy")
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "tag:crm-ports:lab", "Values": ["two-box"]}]
    )["SecurityGroups"]
    assert groups == []
