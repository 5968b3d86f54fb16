"""`crm-ports diff`: states (git ref, working tree, lab file, synthesized folder), the
words a reviewer reads, the Terraform actions per cloud, exit codes and stable output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from crm_ports.catalogue.load import load_catalogue
from crm_ports.catalogue.model import Catalogue
from crm_ports.lab.file import load_lab
from crm_ports.lab.model import default_labs
from crm_ports.options import Options
from crm_ports.resolver.engine import resolve
from crm_ports.ruleset import RuleSet
from crm_ports.terraform.impact import compare
from crm_ports.terraform.resources import Ref
from tests.conftest import REPO, Result
from tests.tf_harness import require_tool

FIXTURES = Path(__file__).parent / "fixtures" / "review"
NEW_FLOW = "deployment-ssrs-powershell"
NEW_RULE = "crm-deployment.ssrs.tcp.winrm"
FULL_RULE = "crm-full-server.sql-server.tcp.winrm"

CLI = Callable[..., Result]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throw-away repository holding the catalogue and lab files, committed; cwd."""
    require_tool("git", "the diff reads the base state from a git ref")
    root = tmp_path / "repo"
    shutil.copytree(REPO / "catalog", root / "catalog")
    shutil.copytree(REPO / "labs", root / "labs")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "base")
    monkeypatch.chdir(root)
    return root


def _add_flow(root: Path) -> None:
    flows = root / "catalog" / "flows.yaml"
    flows.write_text(
        flows.read_text(encoding="utf-8") + (FIXTURES / "added-flow.yaml").read_text("utf-8"),
        encoding="utf-8",
    )


# -- from_json round trips ----------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        *(lab.options for lab in default_labs()),
        load_lab(REPO / "labs" / "contoso-claims.yaml").options,
        load_lab(REPO / "labs" / "fabrikam-full-server.yaml").options,
        Options(sql_views=True, https=False, email="exchange", email_incoming="exchange"),
    ],
    ids=lambda o: o.topology,
)
def test_ruleset_round_trips_through_json(catalogue: Catalogue, options: Options) -> None:
    ruleset = resolve(catalogue, options)
    assert RuleSet.from_json(ruleset.to_json()) == ruleset
    assert Options.from_json(options.to_json()) == options


def test_options_from_json_rejects_bad_values() -> None:
    from crm_ports.errors import InputError

    with pytest.raises(InputError, match="sql_port"):
        Options.from_json({"sql_port": 70000}, origin="x.json")


# -- the fixture pair ---------------------------------------------------------------------


def test_identical_states_exit_0(cli: CLI, repo: Path) -> None:
    result = cli("diff", "--base", "HEAD")
    assert result.code == 0, result.err
    assert "0 of 4 lab(s) change" in result.out
    assert "No flow, rule or cloud resource changes." in result.out


def test_added_flow_names_the_flow_and_its_rules_in_both_clouds(cli: CLI, repo: Path) -> None:
    _add_flow(repo)
    result = cli("diff", "--base", "HEAD")
    assert result.code == 1, result.err
    md = result.out
    assert f"Flows added: `{NEW_FLOW}`" in md
    assert f"TCP 5985-5986 from crm-deployment to ssrs, added — rule `{NEW_RULE}`" in md
    assert "| create | `aws_vpc_security_group_ingress_rule.in_crm-deployment_ssrs_tcp_winrm`" in md
    assert (
        '| create | `azurerm_network_security_group.nsg.security_rule["crm-deployment.ssrs.tcp"]`'
        in md
    )
    assert "- `crm-deployment.ssrs.tcp`: priority" in md  # the Azure priority it takes
    assert (
        '| update in place | `azurerm_network_security_group.nsg.security_rule["crm-full-server.sql'
        in md
    )


NSG_RULE = 'azurerm_network_security_group.nsg.security_rule["{}"]'
# lab -> (rule, AWS resources, Azure resources) the added flow must produce, and nothing else
EXPECTED = {
    "split-roles": (
        NEW_RULE,
        [("create", "aws_vpc_security_group_ingress_rule.in_crm-deployment_ssrs_tcp_winrm")],
        [("create", NSG_RULE.format("crm-deployment.ssrs.tcp"))],
    ),
    "contoso-claims": (  # strict egress: the rule leaves the source group too
        NEW_RULE,
        [
            ("create", "aws_vpc_security_group_egress_rule.out_crm-deployment_ssrs_tcp_winrm"),
            ("create", "aws_vpc_security_group_ingress_rule.in_crm-deployment_ssrs_tcp_winrm"),
        ],
        [("create", NSG_RULE.format("crm-deployment.ssrs.tcp"))],
    ),
    "full-server": (  # the NSG rule for TCP between these groups exists: its ports grow
        FULL_RULE,
        [("create", "aws_vpc_security_group_ingress_rule.in_crm-full-server_sql-server_tcp_winrm")],
        [("update", NSG_RULE.format("crm-full-server.sql-server.tcp"))],
    ),
    "fabrikam-full-server": (  # an AWS-only lab
        FULL_RULE,
        [("create", "aws_vpc_security_group_ingress_rule.in_crm-full-server_sql-server_tcp_winrm")],
        [],
    ),
}


def test_added_flow_changes_exactly_its_rule_in_every_lab(cli: CLI, repo: Path) -> None:
    _add_flow(repo)
    data = json.loads(cli("diff", "--base", "HEAD", "--format", "json").out)
    assert data["changed"] is True
    assert {lab["name"] for lab in data["labs"]} == set(EXPECTED)
    for lab in data["labs"]:
        rule, aws, azure = EXPECTED[lab["name"]]
        assert lab["flows"] == {"added": [NEW_FLOW], "removed": [], "changed": []}
        assert [(r["kind"], r["id"]) for r in lab["rules"]] == [("added", rule)]
        impact = {c["cloud"]: c["resources"] for c in lab["clouds"]}
        assert [(r["action"], r["address"]) for r in impact.get("aws", [])] == aws
        assert [(r["action"], r["address"]) for r in impact.get("azure", [])] == azure
        for change in impact.get("azure", []):
            if change["action"] == "update":
                assert change["attributes"] == ["description", "destination_port_ranges"]
                assert change["before"]["priority"] == change["after"]["priority"]


def test_output_is_byte_identical_and_sorted(cli: CLI, repo: Path) -> None:
    _add_flow(repo)
    for fmt in ("markdown", "json"):
        first = cli("diff", "--base", "HEAD", "--format", fmt).out
        assert first == cli("diff", "--base", "HEAD", "--format", fmt).out
        assert str(repo) not in first and "/tmp" not in first
    data = json.loads(first)
    assert json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n" == first


def test_markdown_collapses_each_lab_and_embeds_the_marked_diagram(cli: CLI, repo: Path) -> None:
    _add_flow(repo)
    md = cli("diff", "--base", "HEAD").out
    assert md.count("<details>") == md.count("</details>") == 4
    assert md.count("```mermaid") == 4
    assert '"added: TCP 5985-5986"| g_ssrs' in md
    assert "linkStyle" in md


def test_head_can_be_a_git_ref_too(cli: CLI, repo: Path) -> None:
    _add_flow(repo)
    _git(repo, "commit", "-qam", "add a flow")
    assert cli("diff", "--base", "HEAD~1", "--head", "HEAD").code == 1
    assert cli("diff", "--base", "HEAD", "--head", "HEAD").code == 0
    assert cli("diff", "--base", "HEAD", "--head", "HEAD~1").out.count("removed") > 0


def test_working_tree_is_left_alone(cli: CLI, repo: Path) -> None:
    _add_flow(repo)
    before = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True)
    cli("diff", "--base", "HEAD")
    after = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True)
    assert before.stdout == after.stdout


# -- lab files and cloud semantics --------------------------------------------------------


def _lab(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\n{body}", encoding="utf-8")
    return path


def test_port_change_updates_in_place_and_lists_priorities(cli: CLI, tmp_path: Path) -> None:
    base = _lab(tmp_path, "lab", "topology: split-roles\n")
    head = _lab(tmp_path, "lab2", "topology: split-roles\noptions: {sql_port: 1533}\n")
    head.write_text(head.read_text().replace("name: lab2", "name: lab"), encoding="utf-8")
    result = cli("diff", "--base", str(base), "--head", str(head), "--format", "json")
    assert result.code == 1, result.err
    (lab,) = json.loads(result.out)["labs"]
    assert lab["options"] == [{"name": "sql_port", "base": 1433, "head": 1533}]
    assert {r["kind"] for r in lab["rules"]} == {"changed"}
    impact = {c["cloud"]: c for c in lab["clouds"]}
    assert {r["action"] for r in impact["aws"]["resources"]} == {"update"}
    assert {tuple(r["attributes"]) for r in impact["aws"]["resources"]} == {
        ("from_port", "to_port")
    }
    priorities = impact["azure"]["priorities"]
    assert priorities and all(p["before"] == p["after"] for p in priorities)
    md = cli("diff", "--base", str(base), "--head", str(head)).out
    assert "TCP 1433 from crm-front-end to sql-server" not in md  # words use the head rule
    assert "TCP 1533 from crm-front-end to sql-server, changed (ports TCP 1433 -> TCP 1533)" in md


def test_lab_only_on_one_side_is_added(cli: CLI, tmp_path: Path) -> None:
    one = _lab(tmp_path, "one", "clouds: [aws]\n")
    two = _lab(tmp_path, "two", "clouds: [aws]\n")
    data = json.loads(cli("diff", "--base", str(one), "--head", str(two), "--format", "json").out)
    assert {lab["name"]: lab["status"] for lab in data["labs"]} == {
        "one": "removed",
        "two": "added",
    }
    assert {c["cloud"] for lab in data["labs"] for c in lab["clouds"]} == {"aws"}


def test_security_group_replacement_replaces_its_rules() -> None:
    sg = "aws_security_group.sg_a"
    rule = "aws_vpc_security_group_ingress_rule.in_x"
    other = "aws_vpc_security_group_ingress_rule.in_y"
    base = {
        sg: {"name": "a", "description": "old"},
        rule: {"security_group_id": Ref(sg), "from_port": 1, "description": "d"},
        other: {"security_group_id": Ref("aws_security_group.sg_b"), "from_port": 2},
    }
    head = {
        sg: {"name": "b", "description": "old"},
        rule: {"security_group_id": Ref(sg), "from_port": 1, "description": "d"},
        other: {"security_group_id": Ref("aws_security_group.sg_b"), "from_port": 3},
    }
    actions = {c.address: (c.action, c.forced_by) for c in compare(base, head)}
    assert actions == {
        sg: ("replace", ("name",)),
        rule: ("replace", ("security_group_id",)),
        other: ("update", ()),
    }


def test_a_security_groups_description_is_left_as_deployed() -> None:
    """The stacks ignore changes to a group's description (EC2 cannot change one in place):
    a new text replaces nothing and updates nothing."""
    sg = "aws_security_group.sg_a"
    base = {sg: {"name": "a", "description": "CRM 2013 lab x, a: roles: sql-server"}}
    head = {sg: {"name": "a", "description": "CRM 2013 lab x, a: host group"}}
    assert compare(base, head) == ()


def test_source_kind_change_replaces_an_aws_rule() -> None:
    rule = "aws_vpc_security_group_egress_rule.out_x"
    base = {rule: {"cidr_ipv4": "10.0.0.0/8"}}
    head = {rule: {"referenced_security_group_id": Ref("aws_security_group.sg_a")}}
    (change,) = compare(base, head)
    assert change.action == "replace"
    assert change.forced_by == ("cidr_ipv4", "referenced_security_group_id")


def test_azure_rule_name_forces_new_priority_updates_in_place() -> None:
    rule = "azurerm_network_security_rule.nsr_x"
    base = {rule: {"name": "a", "priority": 100}}
    assert compare(base, {rule: {"name": "a", "priority": 200}})[0].action == "update"
    assert compare(base, {rule: {"name": "b", "priority": 100}})[0].action == "replace"


def test_an_inline_nsg_rule_is_never_replaced() -> None:
    """An NSG's inline rules change with one update of the NSG, whatever changes."""
    rule = 'azurerm_network_security_group.nsg.security_rule["a"]'
    base = {rule: {"name": "a", "priority": 100, "access": "Allow"}}
    (change,) = compare(base, {rule: {"name": "a", "priority": 200, "access": "Deny"}})
    assert (change.action, change.type) == (
        "update",
        "azurerm_network_security_group.security_rule",
    )


# -- synthesized folders ------------------------------------------------------------------


def write_stack(
    folder: Path, cloud: str, lab: str, ruleset: RuleSet, tf: dict[str, object]
) -> Path:
    """A synthesized stack as `crm-ports synth` lays it out (used by the check tests too)."""
    stack = folder / "stacks" / f"{cloud}-{lab}"
    stack.mkdir(parents=True, exist_ok=True)
    meta = {"cloud": cloud, "lab": {"name": lab, "clouds": [cloud]}, "ruleset": ruleset.to_json()}
    (stack / "crm-ports.json").write_text(json.dumps(meta, indent=2, sort_keys=True), "utf-8")
    (stack / "cdk.tf.json").write_text(json.dumps(tf, indent=2, sort_keys=True), "utf-8")
    return stack


def test_synthesized_folder_matches_the_lab_it_came_from(cli: CLI, tmp_path: Path) -> None:
    lab = load_lab(REPO / "labs" / "fabrikam-full-server.yaml")
    ruleset = resolve(load_catalogue(), lab.options)
    write_stack(tmp_path / "out", "aws", lab.name, ruleset, {})
    lab_file = str(REPO / "labs" / "fabrikam-full-server.yaml")
    assert cli("diff", "--base", str(tmp_path / "out"), "--head", lab_file).code == 0
    result = cli("diff", "--base", str(tmp_path / "out"), "--head", lab_file, "--format", "json")
    assert json.loads(result.out)["changed"] is False


# -- bad input ----------------------------------------------------------------------------


def test_unknown_state_is_one_line_and_exit_2(cli: CLI, repo: Path) -> None:
    result = cli("diff", "--base", "no-such-ref")
    assert result.code == 2
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert "no-such-ref" in result.err and "git ref" in result.err


def test_broken_catalogue_at_ref_is_named_by_ref(cli: CLI, repo: Path) -> None:
    flows = repo / "catalog" / "flows.yaml"
    flows.write_text(flows.read_text().replace("services: [ms-sql]", "services: [nope]", 1))
    _git(repo, "commit", "-qam", "break it")
    result = cli("diff", "--base", "HEAD", "--head", "HEAD~1")
    assert result.code == 2
    assert result.err.startswith("crm-ports: error: HEAD:catalog/flows.yaml:")
    assert "unknown service 'nope'" in result.err and "Traceback" not in result.err


def test_malformed_synthesized_folder_names_file_and_field(cli: CLI, tmp_path: Path) -> None:
    stack = tmp_path / "out" / "stacks" / "aws-x"
    stack.mkdir(parents=True)
    (stack / "crm-ports.json").write_text('{"cloud": "aws", "lab": {"name": "x"}}')
    result = cli("diff", "--base", str(tmp_path / "out"), "--head", str(tmp_path / "out"))
    assert result.code == 2
    assert "crm-ports.json" in result.err and "stack 'aws-x'" in result.err
    assert "field 'ruleset'" in result.err


def test_review_never_imports_cdktf_or_jsii() -> None:
    code = (
        "import sys, crm_ports.commands.diff, crm_ports.commands.check,"
        " crm_ports.commands.diagram, crm_ports.terraform.stack_json, crm_ports.policy.subjects;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('cdktf', 'cdktn', 'jsii')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert done.stdout.strip() == "[]"


# -- reach --------------------------------------------------------------------------------


def test_internet_exposure_is_the_first_thing_the_diff_says(cli: CLI, tmp_path: Path) -> None:
    """The issue's case: 0.0.0.0/0 added to client_cidrs adds no rule, yet opens the
    domain controller's Kerberos, LDAP and RPC ports to the internet."""
    base = _lab(tmp_path, "base", "clouds: [aws]\n")
    head = _lab(tmp_path, "head", "clouds: [aws]\nclient_cidrs: [10.100.0.0/16, 0.0.0.0/0]\n")
    for path in (base, head):
        path.write_text(path.read_text().replace(f"name: {path.stem}", "name: lab"))
    result = cli("diff", "--base", str(base), "--head", str(head))
    assert result.code == 1, result.err
    body = result.out.split("\n\n", 1)[1]  # right after the title
    assert body.startswith("> [!CAUTION]\n> **Newly reachable from the internet**")
    first = body.splitlines()[3]
    assert first.startswith("> - `lab`: clients now include 0.0.0.0/0 (the internet): ")
    assert "TCP 88, 135, 389, 636, 3268-3269 · UDP 88, 135, 389 to domain-controller" in first
    assert (
        "| `lab` | changed | clients +0.0.0.0/0 (internet) | none | +10 ~0 ±0 -0 | "
        "not deployed there |"
    ) in result.out
    # resource rows say what they open
    assert (
        '`aws_vpc_security_group_ingress_rule.in_clients_domain-controller_tcp_kerberos["0.0.0.0/0"]`'
        " | `ip_protocol` = tcp, `from_port` = 88, `to_port` = 88, `cidr_ipv4` = 0.0.0.0/0 |"
    ) in result.out
    # and the diagram marks the clients' edges as changed, saying how
    assert '"changed: ranges +0.0.0.0/0: TCP 88, 135, 389' in result.out
    data = json.loads(cli("diff", "--base", str(base), "--head", str(head), "--format", "json").out)
    (lab,) = data["labs"]
    assert lab["not_deployed"] == ["azure"]
    (peer,) = lab["reach"]["peers"]
    assert peer["peer"] == "clients" and peer["added"] == ["0.0.0.0/0"]
    exposed = {e["to"]: e["ports"] for e in lab["reach"]["internet_exposure"]}
    assert exposed["domain-controller"][:2] == ["TCP 88", "TCP 135"]


def test_private_range_change_is_reach_but_not_exposure(cli: CLI, tmp_path: Path) -> None:
    base = _lab(tmp_path, "lab", "")
    head = tmp_path / "head" / "lab.yaml"
    head.parent.mkdir()
    head.write_text("name: lab\nadmin_cidrs: [10.201.0.0/24]\n")
    result = cli("diff", "--base", str(base), "--head", str(head))
    assert "Newly reachable from the internet" not in result.out
    assert (
        "- Reach: administrators now include 10.201.0.0/24: TCP 3389 to crm-back-end;"
    ) in result.out
    assert "administrators no longer include 10.200.0.0/24 (`admin_cidrs`)" in result.out


def test_updated_rows_say_old_and_new_values(cli: CLI, tmp_path: Path) -> None:
    base = _lab(tmp_path, "lab", "clouds: [aws]\n")
    head = tmp_path / "head" / "lab.yaml"
    head.parent.mkdir()
    head.write_text("name: lab\nclouds: [aws]\noptions: {sql_port: 1533}\n")
    result = cli("diff", "--base", str(base), "--head", str(head))
    assert "`from_port` 1433 -> 1533, `to_port` 1433 -> 1533" in result.out


def test_diagram_base_draws_every_changed_lab(cli: CLI, repo: Path) -> None:
    _add_flow(repo)
    markdown = cli("diagram", "--base", "main", "--format", "markdown")
    assert markdown.code == 0, markdown.err
    names = [line[5:] for line in markdown.out.splitlines() if line.startswith("#### ")]
    assert names == ["contoso-claims", "fabrikam-full-server", "full-server", "split-roles"]
    assert markdown.out.count('"added: TCP 5985-5986"') >= 1
    mermaid = cli("diagram", "--base", "main")
    assert mermaid.code == 2 and "4 labs changed" in mermaid.err and "--lab" in mermaid.err
    one = cli("diagram", "--base", "main", "--lab", "labs/contoso-claims.yaml")
    assert one.code == 0 and one.out.startswith("flowchart LR")


def test_a_placement_lab_with_lab_rules_is_unchanged_against_its_own_commit(
    cli: CLI, repo: Path
) -> None:
    """Lab rules cite their lab file by name and line, never by the folder or git ref it
    was read from, so the same file read from HEAD and from the work tree is one lab."""
    shutil.copy(REPO / "tests" / "fixtures" / "labs" / "two-box.yaml", repo / "labs")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "two-box")
    result = cli("diff", "--base", "HEAD", "--format", "json")
    assert result.code == 0, result.out
    assert json.loads(result.out)["labs"]


# -- what servers hold: groups and subnets ---------------------------------------------------


def _hazards(cli: CLI, base: Path, head: Path) -> list[tuple[str, str, str]]:
    result = cli("diff", "--base", str(base), "--head", str(head), "--format", "json")
    assert result.code == 1, result.err
    return [
        (h["severity"], h["address"], h["message"].split(":")[0])
        for lab in json.loads(result.out)["labs"]
        for cloud in lab["clouds"]
        for h in cloud["hazards"]
    ]


def test_a_subnet_replaced_under_its_servers_is_an_error(cli: CLI, tmp_path: Path) -> None:
    """`aws.subnet_cidr` replaces the subnet the stack created, which EC2 will not delete
    while the servers' interfaces are in it; the groups stay (their VPC does)."""
    base = _lab(tmp_path, "lab", "clouds: [aws]\ntopology: full-server\n")
    head = tmp_path / "edited" / "lab.yaml"
    head.parent.mkdir()
    head.write_text(base.read_text() + "aws: {subnet_cidr: 10.42.9.0/24}\n", encoding="utf-8")
    assert _hazards(cli, base, head) == [
        ("error", "aws_subnet.lab[0]", "replaces subnet aws_subnet.lab[0] (forced by cidr_block)")
    ]
    check = cli("check", "--lab", str(head), "--base", str(base), "--format", "json")
    assert check.code == 1
    assert [f["check"] for f in json.loads(check.out)["findings"]] == ["CRM010"]


def test_a_lab_new_since_the_base_replaces_nothing(cli: CLI, tmp_path: Path) -> None:
    """CRM010 compares a lab with the base's lab of the same name; a lab the base did not
    have replaces no group of its own."""
    base = _lab(tmp_path, "lab", "clouds: [aws]\ntopology: full-server\n")
    new = tmp_path / "new" / "other.yaml"
    new.parent.mkdir()
    new.write_text("name: other\nclouds: [aws]\ntopology: full-server\n", encoding="utf-8")
    check = cli("check", "--lab", str(new), "--base", str(base), "--format", "json")
    assert (check.code, check.err) == (0, "")
    assert json.loads(check.out)["findings"] == []


def test_azure_location_replaces_the_groups_and_the_network(cli: CLI, tmp_path: Path) -> None:
    base = _lab(tmp_path, "lab", "clouds: [azure]\ntopology: full-server\n")
    head = tmp_path / "edited" / "lab.yaml"
    head.parent.mkdir()
    head.write_text(base.read_text() + "azure: {location: northeurope}\n", encoding="utf-8")
    found = _hazards(cli, base, head)
    assert {severity for severity, _, _ in found} == {"error"}
    kinds = {address.split(".")[0] for _, address, _ in found}
    assert kinds == {
        "azurerm_application_security_group",
        "azurerm_network_security_group",
        "azurerm_subnet",
    }
    # forced by the location alone: the stack's resource group keeps its name
    assert all(m.endswith("(forced by location)") for _, a, m in found if "subnet" not in a)


@pytest.mark.slow
def test_a_synthesized_folder_remembers_its_network(cli: CLI, tmp_path: Path) -> None:
    """The folder records the lab's network (`crm-ports.json`), so a lab with its own
    ranges compared with its own synthesis is unchanged; a folder of an older crm-ports,
    which did not record it, is compared without the network, never with made-up
    defaults."""
    lab = _lab(
        tmp_path,
        "own-net",
        "clouds: [aws, azure]\naws: {vpc_cidr: 10.60.0.0/16,"
        " subnet_cidr: 10.60.1.0/24}\nazure: {location: northeurope}\n",
    )
    out = tmp_path / "out"
    assert cli("synth", "--lab", str(lab), "--out", str(out)).code == 0
    same = cli("diff", "--base", str(out), "--head", str(lab), "--format", "json")
    assert (same.code, json.loads(same.out)["changed"]) == (0, False), same.out
    for meta in out.glob("stacks/*/crm-ports.json"):  # as an older crm-ports wrote it
        data = json.loads(meta.read_text())
        data["lab"]["aws"] = {"egress": data["lab"]["aws"]["egress"]}
        del data["lab"]["azure"]
        meta.write_text(json.dumps(data), encoding="utf-8")
    older = cli("diff", "--base", str(out), "--head", str(lab), "--format", "json")
    assert (older.code, json.loads(older.out)["changed"]) == (0, False), older.out


# -- live rules an adopted lab's first apply removes ------------------------------------------


def test_live_rules_a_newly_adopted_lab_removes_come_first(cli: CLI, repo: Path) -> None:
    """A pull request adding an adopted lab: before anything else, the live rules its
    first apply revokes (the lab's `removes:`), in words, with why each goes."""
    from tests.test_adopt_removes import REMOVES

    (repo / "labs" / "acme.yaml").write_text(REMOVES, encoding="utf-8")
    result = cli("diff", "--base", "main")
    assert result.code == 1, result.err
    body = result.out.split("\n\n", 1)[1]  # right after the title
    assert body.startswith("> [!CAUTION]\n> **Live rules this change removes**\n")
    caution = body.split("\n\n", 1)[0].splitlines()
    assert caution[-2:] == [
        "> - `acme`: `sgr-0f1` on `web` (sg-0a1): inbound TCP 3389 from 0.0.0.0/0, described "
        "`vendor RDP`: breaks CRM001: administrative port(s) 3389 open to the internet "
        "(0.0.0.0/0)",
        "> - `acme`: `sgr-0f2` on `web` (sg-0a1): inbound ICMP type 8 from sg-0a2 (`sql`): "
        "no lab rule can say protocol icmp",
    ]
    # the lab's own section lists them first too
    section = result.out.split("<summary><b>acme</b> (added)", 1)[1]
    assert section.split("\n\n", 2)[1] == "**Live rules removed by the first apply**"
    data = json.loads(cli("diff", "--base", "main", "--format", "json").out)
    (acme,) = [lab for lab in data["labs"] if lab["name"] == "acme"]
    assert [(r["host"], r["rule_id"], r["peer"]) for r in acme["live_rules_removed"]] == [
        ("web", "sgr-0f1", "0.0.0.0/0"),
        ("web", "sgr-0f2", "sg-0a2"),
    ]
    assert all("live_rules_removed" not in lab for lab in data["labs"] if lab is not acme)


def test_only_the_removed_rules_the_base_lacks_are_listed(cli: CLI, tmp_path: Path) -> None:
    from tests.test_adopt_removes import PING, REMOVES

    base = tmp_path / "base" / "acme.yaml"
    base.parent.mkdir()
    base.write_text(REMOVES.replace(PING, ""), encoding="utf-8")
    head = tmp_path / "acme.yaml"
    head.write_text(REMOVES, encoding="utf-8")
    result = cli("diff", "--base", str(base), "--head", str(head))
    assert result.code == 1, result.err
    assert "`sgr-0f2` on `web`" in result.out and "sgr-0f1" not in result.out
    assert "| `acme` | changed | same | none | no change | not deployed there |" in result.out
    # the same removes on both sides: nothing to say, and the words of any unchanged lab
    same = cli("diff", "--base", str(head), "--head", str(head))
    assert same.code == 0, same.out
    assert "Live rules" not in same.out
    assert "No flow, rule or cloud resource changes." in same.out
