"""An adopted group holds its rules inline (issue 22): the plan marks them, the constructs
render them as `ingress` / `egress` blocks of the imported `aws_security_group`, and
whatever reads synthesized output (verify, the policy checks, the resource reader) sees
the same rules it saw as separate resources.

The plan-level and reading tests need no cdktf; the one synthesis test uses `Testing.synth`.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from crm_ports.catalogue.load import load_catalogue
from crm_ports.catalogue.model import Catalogue
from crm_ports.lab.file import load_lab
from crm_ports.lab.model import Lab
from crm_ports.plans.aws import AwsPlan, plan_aws
from crm_ports.policy.reading import inbound
from crm_ports.resolver import resolve_lab
from crm_ports.terraform.impact import compare
from crm_ports.terraform.resources import (
    AWS_EGRESS,
    AWS_INGRESS,
    AWS_INLINE_EGRESS,
    AWS_INLINE_INGRESS,
    AWS_SECURITY_GROUP,
    Ref,
    aws_resources,
    holder_address,
    resource_type,
)
from crm_ports.terraform.stack_json import stack_resources
from crm_ports.verify.aws import AwsFirewall
from crm_ports.verify.compare import compare as verify_compare
from crm_ports.verify.expected import expected_reach
from crm_ports.verify.stack import parse_stack
from tests.readme import run_python_app
from tests.test_adopt_lab import LAB
from tests.test_verify import snapshot, verify_document

# `back` is left out of `adopt:`: a host added to an adopted lab later, whose group the
# stack creates.
MIXED = LAB.replace("  back: {group_id: sg-0a4, name: back-box, description: back}\n", "")
assert MIXED != LAB


def _lab(tmp_path: Path, text: str = LAB) -> Lab:
    path = tmp_path / "acme.yaml"
    path.write_text(text, encoding="utf-8")
    return load_lab(path)


def _plan(lab: Lab) -> AwsPlan:
    return plan_aws(resolve_lab(load_catalogue(), lab), lab.name, adopt=lab.adopt)


# -- the plan -------------------------------------------------------------------------------


def test_an_adopted_groups_rules_are_inline_and_untagged(tmp_path: Path) -> None:
    plan = _plan(_lab(tmp_path, MIXED))
    adopted = {sg.group for sg in plan.security_groups if sg.import_id}
    assert adopted == {"web", "sql", "dc"}
    for spec in plan.rules:
        assert spec.inline == (spec.group in adopted), spec.key
        # EC2 tags a rule by its id only, which an inline set never knows
        assert (spec.tags == ()) == spec.inline, spec.key
    assert {s.group for s in plan.rules if not s.inline} == {"back"}


def test_the_plans_resources_hold_an_adopted_groups_rules_inline(tmp_path: Path) -> None:
    resources = aws_resources(_plan(_lab(tmp_path, MIXED)))
    kinds: dict[str, set[str]] = {}
    for address in resources:
        kinds.setdefault(resource_type(address), set()).add(holder_address(address))
    groups = {g: f"{AWS_SECURITY_GROUP}.sg_{g}" for g in ("web", "sql", "dc", "back")}
    # no separate rule resource names an adopted group; the new group keeps its own
    separate = {
        str(a["security_group_id"])
        for address, a in resources.items()
        if resource_type(address) in (AWS_INGRESS, AWS_EGRESS)
    }
    assert separate == {str(Ref(groups["back"]))}
    assert kinds[AWS_INLINE_INGRESS] == {groups[g] for g in ("web", "sql", "dc")}
    assert kinds[AWS_INLINE_EGRESS] == {groups[g] for g in ("web", "sql", "dc")}
    # one entry per source, named by what EC2 identifies a rule by
    rdp = resources[f'{groups["web"]}.ingress["tcp 3389-3389 10.2.0.0/24"]']
    assert rdp["security_group_id"] == Ref(groups["web"])
    assert rdp["cidr_ipv4"] == "10.2.0.0/24" and "tags" not in rdp
    egress = resources[f'{groups["web"]}.egress["-1 all 0.0.0.0/0"]']
    assert "from_port" not in egress and egress["ip_protocol"] == "-1"
    # an adopted group's rule from the new group references it
    from_back = [
        a
        for address, a in resources.items()
        if holder_address(address) == groups["sql"]
        and a.get("referenced_security_group_id") == Ref(groups["back"])
    ]
    assert from_back


def test_a_description_change_of_an_inline_rule_updates_it_in_place(tmp_path: Path) -> None:
    before = aws_resources(_plan(_lab(tmp_path)))
    address = next(a for a in before if resource_type(a) == AWS_INLINE_INGRESS)
    after = copy.deepcopy(before)
    after[address]["description"] = "reworded"
    del after[next(a for a in before if resource_type(a) == AWS_INLINE_EGRESS)]
    actions = {c.address: c.action for c in compare(before, after)}
    assert actions[address] == "update"
    assert sorted(actions.values()) == ["delete", "update"]


# -- the constructs' inline blocks ------------------------------------------------------------


def test_inline_blocks_name_adopted_groups_by_live_id(tmp_path: Path) -> None:
    from crm_ports.constructs.aws import inline_rules

    plan = _plan(_lab(tmp_path, MIXED))
    cidrs = {"administrators": "${var.admin_cidrs}", "clients": ["10.1.0.0/16"]}
    ingress, egress = inline_rules(
        plan, "sql", group_id=lambda group: f"${{TOKEN.{group}}}", cidrs=cidrs
    )
    blocks = [b.to_terraform() for b in (*ingress, *egress)]
    fields = {
        "cidr_blocks",
        "description",
        "from_port",
        "ipv6_cidr_blocks",
        "prefix_list_ids",
        "protocol",
        "security_groups",
        "self",
        "to_port",
    }
    assert all(set(b) == fields for b in blocks)
    referenced = {g for b in blocks for g in b["security_groups"]}
    # web and dc are adopted: their live ids; back is created: its reference
    assert referenced == {"sg-0a1", "sg-0a3", "${TOKEN.back}"}
    # a peer's rule is one block with the peer's ranges, which stay a variable
    assert {"${var.admin_cidrs}"} <= {str(b["cidr_blocks"]) for b in blocks}
    [all_out] = [b.to_terraform() for b in egress]
    assert (all_out["protocol"], all_out["from_port"], all_out["to_port"]) == ("-1", 0, 0)
    assert all_out["cidr_blocks"] == ["0.0.0.0/0"]
    planned = [s for s in plan.rules if s.group == "sql"]
    assert len(ingress) + len(egress) == len({s.base_key or s.key for s in planned})


def test_an_inline_block_needs_one_kind_of_source() -> None:
    from crm_ports.constructs.resources.aws import SecurityGroupInlineRule

    with pytest.raises(ValueError, match="exactly one kind of source"):
        SecurityGroupInlineRule(protocol="tcp", from_port=1, to_port=1)
    with pytest.raises(ValueError, match="ports 0-0"):
        SecurityGroupInlineRule(protocol="-1", from_port=1, to_port=1, cidr_blocks=["10.0.0.0/8"])


# -- reading synthesized output --------------------------------------------------------------


def inline_snapshot() -> dict[str, Any]:
    """The split-roles snapshot as an adopted estate's stack would hold it: every group
    imported by a live id, its rules inline, each reference to a group by that id."""
    document = copy.deepcopy(snapshot("aws"))
    resources = document["resource"]
    groups = resources[AWS_SECURITY_GROUP]
    live = {f"${{{AWS_SECURITY_GROUP}.{key}.id}}": f"sg-{n:04x}" for n, key in enumerate(groups)}
    document["import"] = [
        {"to": f"{AWS_SECURITY_GROUP}.{key}", "id": live[f"${{{AWS_SECURITY_GROUP}.{key}.id}}"]}
        for key in groups
    ]
    for key in groups:
        groups[key]["ingress"], groups[key]["egress"] = [], []
    for kind, direction in ((AWS_INGRESS, "ingress"), (AWS_EGRESS, "egress")):
        for rule in resources.pop(kind).values():
            portless = rule["ip_protocol"] == "-1"
            if "for_each" in rule:  # ${toset(var.x)} -> ${var.x}
                cidrs: Any = rule["for_each"].replace("toset(", "").replace(")}", "}")
            else:
                cidrs = [rule["cidr_ipv4"]] if "cidr_ipv4" in rule else []
            peer = rule.get("referenced_security_group_id")
            holder = rule["security_group_id"]
            groups[holder.split(".")[1]][direction].append(
                {
                    "cidr_blocks": cidrs,
                    "description": rule["description"],
                    "from_port": 0 if portless else rule["from_port"],
                    "ipv6_cidr_blocks": [],
                    "prefix_list_ids": [],
                    "protocol": rule["ip_protocol"],
                    "security_groups": [live[peer]] if peer and peer != holder else [],
                    "self": peer == holder,
                    "to_port": 0 if portless else rule["to_port"],
                }
            )
    return document


def test_verify_reads_inline_rules(catalogue: Catalogue) -> None:
    result = verify_document(catalogue, inline_snapshot())
    assert result.missing == () and result.extra == ()
    assert result.flows > 10


def test_a_rule_taken_out_of_the_inline_set_is_a_missing_flow(catalogue: Catalogue) -> None:
    document = inline_snapshot()
    ingress = document["resource"][AWS_SECURITY_GROUP]["sg_sql-server"]["ingress"]
    live = {block["to"]: block["id"] for block in document["import"]}
    front_end = live[f"{AWS_SECURITY_GROUP}.sg_crm-front-end"]
    [sql] = [b for b in ingress if b["from_port"] == 1433 and b["security_groups"] == [front_end]]
    ingress.remove(sql)
    result = verify_document(catalogue, document)
    assert result.extra == ()
    (missing,) = result.missing
    assert (missing.source, missing.target) == ("crm-front-end", "sql-server")
    assert missing.ports.ports_text() == "1433" and missing.flows == ("crm-sql",)


def test_the_reader_gives_inline_rules_the_standalone_shape() -> None:
    plain = stack_resources(snapshot("aws"), "plain")
    inline = stack_resources(inline_snapshot(), "inline")
    standalone = [a for a in plain if resource_type(a) in (AWS_INGRESS, AWS_EGRESS)]
    held = [a for a in inline if resource_type(a) in (AWS_INLINE_INGRESS, AWS_INLINE_EGRESS)]
    assert len(held) == len(standalone)  # one entry per source, as for_each expands
    assert not [a for a in inline if resource_type(a) in (AWS_INGRESS, AWS_EGRESS)]

    def shape(attributes: dict[str, Any]) -> tuple[Any, ...]:
        keep = ("security_group_id", "ip_protocol", "from_port", "to_port", "cidr_ipv4")
        keep += ("referenced_security_group_id", "description")
        return tuple(attributes.get(k) for k in keep)

    # literal live ids read as the groups the import blocks bring in
    assert Counter(shape(plain[a]) for a in standalone) == Counter(shape(inline[a]) for a in held)
    rdp = [a for a, attributes, sources, _ in inline_stack_inbound() if "3389" in a]
    assert rdp and all(resource_type(a) == AWS_INLINE_INGRESS for a in rdp)


def inline_stack_inbound() -> list[Any]:
    from crm_ports.policy.base import Stack as PolicyStack

    resources = stack_resources(inline_snapshot(), "inline")
    stack = PolicyStack(name="inline", cloud="aws", resources=resources, rule_ids={})
    return list(inbound(stack))


# -- synthesis -------------------------------------------------------------------------------


def test_an_adopted_stack_synthesizes_inline_and_verifies(tmp_path: Path) -> None:
    from tests.stacks import synth_stack

    lab = _lab(tmp_path, MIXED)
    document = synth_stack(lab, "aws")
    resources = document["resource"]
    groups = resources[AWS_SECURITY_GROUP]
    assert {key for key, body in groups.items() if "ingress" in body} == {
        "sg_web",
        "sg_sql",
        "sg_dc",
    }
    assert "ingress" not in groups["sg_back"] and "egress" not in groups["sg_back"]
    holders = {
        rule["security_group_id"]
        for kind in (AWS_INGRESS, AWS_EGRESS)
        for rule in resources.get(kind, {}).values()
    }
    assert holders == {"${aws_security_group.sg_back.id}"}
    # no Terraform reference between two adopted groups: no cycle
    text = json.dumps({k: groups[k] for k in ("sg_web", "sg_sql", "sg_dc")})
    assert "aws_security_group.sg_web" not in text and "aws_security_group.sg_dc" not in text
    assert [block["to"] for block in document["import"]] == [
        "aws_security_group.sg_dc",
        "aws_security_group.sg_sql",
        "aws_security_group.sg_web",
    ]
    catalogue = load_catalogue()
    stack = parse_stack(document, "aws-acme", "aws-acme", {})
    result = verify_compare(expected_reach(catalogue, lab), AwsFirewall(stack), "aws-acme")
    assert result.missing == () and result.extra == ()


def test_a_constructs_part_of_a_stack_holds_its_groups_inline_rules() -> None:
    from crm_ports.terraform.metadata import ConstructRecord
    from crm_ports.terraform.records import construct_resources

    resources = stack_resources(inline_snapshot(), "inline")
    group = f"{AWS_SECURITY_GROUP}.sg_sql-server"
    record = ConstructRecord(
        path="app/crm",
        kind="AwsCrmFirewall",
        carries={"sql-server": (f"${{{group}.id}}",)},
        peers={},
        network_security_group=None,
    )
    part = construct_resources(resources, record)
    held = {a for a in resources if holder_address(a) == group and a != group}
    assert held and set(part) == {group} | held


ADOPTED_APP = """
from pathlib import Path
from cdktf import App, TerraformStack
from crm_ports.catalogue import load_catalogue
from crm_ports.constructs import AwsCrmFirewall
from crm_ports.constructs.resources.aws import AwsProvider, AwsProviderConfig
from crm_ports.lab import load_lab
from crm_ports.resolver.engine import resolve_lab

lab = load_lab(Path("acme.yaml"))
app = App()
stack = TerraformStack(app, "acme-aws")
AwsProvider(stack, "aws", AwsProviderConfig(region="eu-west-1"))
firewall = AwsCrmFirewall(stack, "crm", rules=resolve_lab(load_catalogue(), lab),
                          vpc_id="vpc-0abc1234", lab=lab, adopt=lab.adopt)
stack.add_override("import", firewall.import_blocks)
app.synth()
"""


@pytest.mark.slow
def test_an_adopted_firewall_in_an_app_of_ones_own_is_reviewed_from_its_record(
    tmp_path: Path, cli: Any
) -> None:
    """The construct's record pairs with its part of the stack, inline rules included:
    verify passes, check runs, and a block taken out of the inline set is a missing flow."""
    (tmp_path / "acme.yaml").write_text(MIXED, encoding="utf-8")
    out = run_python_app(ADOPTED_APP, tmp_path)
    result = cli("verify", "--synth", str(out))
    assert result.code == 0, result.out + result.err
    assert "acme-aws/crm" in result.out and "FAIL" not in result.out
    result = cli("check", "--synth", str(out))
    assert result.code == 0, result.out + result.err
    path = out / "stacks" / "acme-aws" / "cdk.tf.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    group = document["resource"][AWS_SECURITY_GROUP]["sg_sql"]
    group["ingress"] = [b for b in group["ingress"] if b["from_port"] != 1433]
    path.write_text(json.dumps(document), encoding="utf-8")
    result = cli("verify", "--synth", str(out))
    assert result.code == 1, result.out + result.err
    assert "1433" in result.out


def test_check_names_the_rule_an_inline_rule_renders(tmp_path: Path, cli: Any) -> None:
    """An inline rule has no `crm-ports:rule` tag; check still knows the rule it renders,
    so a finding on it names the lab key to fix, as it does for a tagged rule."""
    text = MIXED.replace("admin_cidrs: [10.2.0.0/24]", "admin_cidrs: [0.0.0.0/0]")
    text = text.replace("      in_administrators_web_tcp_rdp_10_2_0_0_24: sgr-01\n", "")
    (tmp_path / "acme.yaml").write_text(text, encoding="utf-8")
    out = tmp_path / "cdktf.out"
    assert cli("synth", "--lab", str(tmp_path / "acme.yaml"), "--out", str(out)).code == 0
    result = cli("check", "--synth", str(out), "--format", "json")
    findings = json.loads(result.out)["findings"]
    inline = '.ingress["tcp 3389-3389 0.0.0.0/0"]'
    on_stack = [f for f in findings if f["check"] == "CRM001" and inline in f["subject"]]
    assert {f["subject"].split(".ingress")[0] for f in on_stack} == {
        f"{AWS_SECURITY_GROUP}.sg_{host}" for host in ("web", "sql", "dc")
    }
    assert all("admin_cidrs (lab file key" in f["fix"] for f in on_stack), on_stack
