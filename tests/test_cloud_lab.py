"""The lab the clouds can run (issue "Labs the clouds can run"), end to end: the cloud's
load balancer, Exchange Server 2013 inside the lab and two domain controllers, in each
`ad_replication` mode. Both clouds synthesize, `verify` evaluates both stacks as each
cloud would, `check` passes, the AWS stack passes `terraform validate`, applies to moto
with the ALB's security group where the stack output says, audits clean, and is destroyed.

The rule counts per security group and NSG are the quota evidence: the domain controller
gains the most rules, so its counts are printed (`pytest -s`) and held to the quotas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from crm_ports.catalogue.model import Catalogue
from crm_ports.lab.file import load_lab
from crm_ports.plans.aws import RULES_PER_GROUP, plan_aws
from crm_ports.plans.azure import RULES_PER_NSG, plan_azure
from crm_ports.resolver.engine import resolve_lab
from tests.conftest import Result
from tests.test_audit_aws import audit_json
from tests.test_e2e_moto import terraform_for
from tests.tf_harness import terraform_validate_many

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.moto_server import MotoServer

    Cli = Callable[..., Result]

LABS = Path(__file__).parent / "fixtures" / "labs"
AD_MODES = ("rpc-dynamic", "rpc-fixed", "ipsec")  # ipsec last: see the moto test
DCS = ("domain-controller", "domain-controller-2")


def cloud_lab(mode: str, folder: Path, endpoint: str | None = None) -> Path:
    """The cloud-lb fixture in replication `mode`, pointed at an emulator if given."""
    text = (LABS / "cloud-lb.yaml").read_text(encoding="utf-8")
    pointed = text.replace("ad_replication: ipsec", f"ad_replication: {mode}")
    assert pointed != text or mode == "ipsec"
    if endpoint is not None:
        pointed += f"aws: {{endpoint_url: {endpoint}}}\n"
    path = folder / "cloud-lb.yaml"
    path.write_text(pointed, encoding="utf-8")
    return path


def dc_counts(catalogue: Catalogue, lab_path: Path) -> dict[str, tuple[int, int, int, int]]:
    """Group -> (AWS inbound allow-all egress, AWS inbound strict, AWS outbound strict,
    Azure NSG rules into its ASG), for the two domain controllers."""
    ruleset = resolve_lab(catalogue, load_lab(lab_path))
    loose = plan_aws(ruleset, "cloud-lb").counts()
    strict = plan_aws(ruleset, "cloud-lb", egress="strict").counts()
    azure = plan_azure(ruleset, "cloud-lb")
    return {
        dc: (
            loose.get((dc, "ingress"), 0),
            strict.get((dc, "ingress"), 0),
            strict.get((dc, "egress"), 0),
            sum(1 for r in azure.rules if r.target_group == dc),
        )
        for dc in DCS
    }


@pytest.mark.parametrize("mode", AD_MODES)
def test_dc_rule_counts_hold_the_quotas(
    catalogue: Catalogue,
    tmp_path: Path,
    mode: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The counts are within the quotas, and the quotas are enforced: the plans refuse
    this lab once a quota is one below what it needs. (A plan over a quota raises, so
    `count <= quota` alone could never fail: the second half is what fails if the quota
    check breaks.)"""
    from crm_ports.errors import InputError
    from crm_ports.plans import aws as aws_plans
    from crm_ports.plans import azure as azure_plans

    lab_path = cloud_lab(mode, tmp_path)
    counts = dc_counts(catalogue, lab_path)
    with capsys.disabled():
        for dc, (loose, strict_in, strict_out, nsg) in counts.items():
            print(
                f"\n[{mode}] {dc}: AWS inbound {loose} (strict egress: in {strict_in}, "
                f"out {strict_out}), Azure NSG rules into its ASG {nsg}"
            )
    for loose, strict_in, strict_out, _ in counts.values():
        assert max(loose, strict_in, strict_out) <= RULES_PER_GROUP
    ruleset = resolve_lab(catalogue, load_lab(lab_path))
    nsg_rules = len(plan_azure(ruleset, "cloud-lb").rules)
    assert nsg_rules <= RULES_PER_NSG
    # the replication rules are what the DC gains over the other servers
    assert counts[DCS[0]] == counts[DCS[1]]

    strict = plan_aws(ruleset, "cloud-lb", egress="strict").counts()
    needed = max(strict.values())  # the plan names the first group over, in sorted order
    group, direction = min(key for key, count in strict.items() if count == needed)
    word = "inbound" if direction == "ingress" else "outbound"
    monkeypatch.setattr(aws_plans, "RULES_PER_GROUP", needed)
    plan_aws(ruleset, "cloud-lb", egress="strict")  # exactly at the quota: allowed
    monkeypatch.setattr(aws_plans, "RULES_PER_GROUP", needed - 1)
    with pytest.raises(InputError) as refused:
        plan_aws(ruleset, "cloud-lb", egress="strict")
    assert f"security group 'cloud-lb-{group}' needs {needed} {word} rules" in str(refused.value)
    monkeypatch.setattr(azure_plans, "RULES_PER_NSG", nsg_rules)
    plan_azure(ruleset, "cloud-lb")
    monkeypatch.setattr(azure_plans, "RULES_PER_NSG", nsg_rules - 1)
    with pytest.raises(InputError) as refused:
        plan_azure(ruleset, "cloud-lb")
    assert f"NSG 'cloud-lb-nsg' needs {nsg_rules} rules" in str(refused.value)


@pytest.mark.slow
@pytest.mark.e2e(seconds=175)
def test_cloud_lab_each_mode_synthesizes_checks_and_applies(
    cli: Cli, moto_server: MotoServer, aws_env: None, tmp_path: Path
) -> None:
    """One moto apply, then each other mode applied over it (only the replication rules
    between the two DCs change), so the three modes cost one full apply and one destroy,
    and one `terraform validate` run for the three AWS stacks."""
    aws_stacks = {}
    for mode in AD_MODES:
        lab = cloud_lab(mode, tmp_path, moto_server.url)
        out = tmp_path / mode / "cdktf.out"
        synth = cli("synth", "--lab", str(lab), "--out", str(out))
        assert synth.code == 0, synth.err
        stacks = out / "stacks"
        assert sorted(p.name for p in stacks.iterdir()) == ["aws-cloud-lb", "azure-cloud-lb"]
        verify = cli("verify", "--synth", str(out), "--lab", str(lab), "--format", "json")
        assert verify.code == 0, verify.out + verify.err
        assert [r["ok"] for r in json.loads(verify.out)["stacks"]] == [True, True], mode
        check = cli("check", "--lab", str(lab), "--synth", str(out), "--format", "json")
        assert check.code == 0, check.out + check.err
        aws_stacks[mode] = stacks / "aws-cloud-lb"
    validated = terraform_validate_many(aws_stacks.values())
    for stack_dir in aws_stacks.values():
        validated[stack_dir].assert_valid()

    terraform = None
    for mode in AD_MODES:  # ipsec, the default, last: its state is the one audited
        stacks = aws_stacks[mode].parent
        document = (stacks / "aws-cloud-lb" / "cdk.tf.json").read_bytes()
        if terraform is None:
            terraform = terraform_for(stacks / "aws-cloud-lb", tmp_path / "work")
            terraform.apply()
        else:  # same stack, same provider: the new configuration over the old state
            terraform.workdir.joinpath("cdk.tf.json").write_bytes(document)
            # Without refreshing: a refresh reads every rule back, one request at a time
            # on moto. The plan below refreshes.
            terraform.run("apply", "-auto-approve", "-no-color", "-input=false", "-refresh=false")
    assert terraform is not None
    # One refreshed plan, after the last mode: a refresh reads every rule back, which is
    # what costs time against moto (it serves one request at a time).
    terraform.assert_no_changes()
    outputs = json.loads(terraform.run("output", "-json").stdout)
    alb = outputs["load_balancer_security_group_id"]["value"]
    ec2 = moto_server.ec2()
    [group] = ec2.describe_security_groups(GroupIds=[alb])["SecurityGroups"]
    assert group["GroupName"] == "cloud-lb-cloud-load-balancer"
    front = outputs["security_group_ids"]["value"]["crm-front-end"]
    live = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [front]}])
    from_alb = {
        (r["FromPort"], r["ToPort"])
        for r in live["SecurityGroupRules"]
        if not r["IsEgress"] and r.get("ReferencedGroupInfo", {}).get("GroupId") == alb
    }
    assert from_alb == {(80, 80), (443, 443)}
    esp = [r for r in live["SecurityGroupRules"] if r["IpProtocol"] == "50"]
    assert esp == []  # ESP is between the DCs only
    # ipsec, applied last: the two DCs admit each other's ESP (IP protocol 50, no ports),
    # one rule each way, and no other group carries it.
    lab_rules = ec2.describe_security_group_rules(
        Filters=[{"Name": "tag:crm-ports:lab", "Values": ["cloud-lb"]}]
    )["SecurityGroupRules"]
    groups = outputs["security_group_ids"]["value"]
    dcs = {groups["domain-controller"], groups["domain-controller-2"]}
    esp_between = {
        (r["GroupId"], r.get("ReferencedGroupInfo", {}).get("GroupId"))
        for r in lab_rules
        if r["IpProtocol"] == "50" and not r["IsEgress"]
    }
    assert esp_between == {(a, b) for a in dcs for b in dcs if a != b}
    assert all(r["FromPort"] == -1 for r in lab_rules if r["IpProtocol"] == "50")

    # The audit finds every group, the ALB's included, and every rule as planned.
    code, report = audit_json(cli, moto_server.url, "--lab", str(lab))
    assert (code, report["findings"]) == (0, []), report["findings"]
    terraform.run("destroy", "-auto-approve", "-no-color", "-input=false", "-refresh=false")
    assert (
        ec2.describe_security_groups(
            Filters=[{"Name": "tag:crm-ports:lab", "Values": ["cloud-lb"]}]
        )["SecurityGroups"]
        == []
    )
