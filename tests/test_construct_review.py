"""The `cdktf.out` of a user's own app, built with the construct library and synthesized
by the real cdktf, is reviewed like a `crm-ports synth` folder: `verify --synth` passes
and fails on a mutation, `check --synth` runs, `diff` between two such folders shows the
change; several constructs in one stack are judged apart, a stack without one is skipped
with a note, and a folder without any is an error naming it."""

from __future__ import annotations

import dataclasses
import json
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crm_ports.errors import InputError
from crm_ports.lab.model import Lab
from crm_ports.net import PortRange
from crm_ports.options import Options
from crm_ports.resolver.engine import resolve
from crm_ports.terraform.folder import folder_labs, read_folder
from crm_ports.terraform.records import RECORD_KEY, record_json, stack_records
from tests.conftest import Result
from tests.readme import CONSTRUCTS, README, block, python_block, run_python_app

pytestmark = pytest.mark.slow

CRM = ["web-application", "asynchronous-service", "sandbox-processing", "deployment-web-service"]

# Two constructs in each of two stacks (the second of each with its own logical id
# prefix, the Azure ones with an NSG each), and a stack of the user's without any.
SHARED_APP = """
from cdktf import App, TerraformStack, TerraformVariable
from crm_ports.catalogue import load_catalogue
from crm_ports.constructs import AwsCrmFirewall, AwsCrmLab, AzureCrmFirewall, AzureCrmLab
from crm_ports.constructs.resources.aws import AwsProvider, AwsProviderConfig
from crm_ports.constructs.resources.azure import AzurermProvider, AzurermProviderConfig
from crm_ports.options import Options
from crm_ports.resolver import resolve

CRM = CRM_ROLES
full = resolve(load_catalogue(), Options(topology="full-server"))
app = App()
aws = TerraformStack(app, "shared-aws")
AwsProvider(aws, "aws", AwsProviderConfig(region="eu-west-1"))
lab = AwsCrmLab(aws, "crm", vpc_id="vpc-0abc1234", lab="acme", egress="strict")
for name, roles in (("app", CRM), ("sql", ["sql-server", "reporting-services"]),
                    ("dc", ["domain-controller"])):
    lab.add_host(name, roles=roles)
AwsCrmFirewall(aws, "blue", rules=full, vpc_id="vpc-0abc1234", lab="blue",
               logical_id_prefix="blue_")
azure = TerraformStack(app, "shared-azure")
AzurermProvider(azure, "azurerm", AzurermProviderConfig())
offices = TerraformVariable(azure, "offices", type="list(string)", default=["10.1.0.0/16"])
twin = AzureCrmLab(azure, "crm", resource_group_name="rg", location="westeurope",
                   lab="contoso", peer_cidrs={"client_cidrs": offices.list_value})
for name, roles in (("app", CRM), ("sql", ["sql-server", "reporting-services"]),
                    ("dc", ["domain-controller"])):
    twin.add_host(name, roles=roles)
AzureCrmFirewall(azure, "green", rules=full, resource_group_name="rg", location="westeurope",
                 lab="green", logical_id_prefix="green_")
network = TerraformStack(app, "network")
AwsProvider(network, "aws", AwsProviderConfig(region="eu-west-1"))
TerraformVariable(network, "cidr", type="string", default="10.0.0.0/16")
app.synth()
""".replace("CRM_ROLES", repr(CRM))


@pytest.fixture(scope="module")
def review_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """docs/constructs.md's review app, synthesized as written."""
    folder = tmp_path_factory.mktemp("review-app")
    run_python_app(python_block("review-app", CONSTRUCTS), folder)
    return folder


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shared-app")
    return run_python_app(SHARED_APP, folder)


def _commands(folder: Path) -> list[list[str]]:
    """The `crm-ports` lines of docs/constructs.md's review commands, as argument lists."""
    text = block("review-commands", CONSTRUCTS)
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("crm-ports ")]


def _delete_rule(folder: Path, stack: str, kind: str, match: Callable[[str, Any], bool]) -> str:
    path = folder / "stacks" / stack / "cdk.tf.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    found = [k for k, v in data["resource"][kind].items() if match(k, v)]
    assert found, f"no {kind} matches"
    del data["resource"][kind][found[0]]
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return found[0]


def test_docs_review_commands_run_on_the_review_app(
    review_app: Path,
    tmp_path: Path,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The page's commands as written, from the app's folder: verify passes for both
    constructs, check runs, and diff against the app before a host was added shows it."""
    before = review_app / "before"
    before.mkdir(exist_ok=True)
    earlier = python_block("review-app", CONSTRUCTS).replace(
        'acme.add_host("sts", roles=["adfs"])\n', ""
    )
    run_python_app(earlier.replace('Options(auth="claims")', "Options()"), before)
    monkeypatch.chdir(review_app)
    verify, check, diff = _commands(review_app)
    result = cli(*verify)
    assert result.code == 0, result.out + result.err
    assert "acme-aws/crm" in result.out and "contoso-azure/crm" in result.out
    assert "FAIL" not in result.out
    result = cli(*check)
    assert result.code == 0, result.out + result.err
    assert "2 lab(s) checked (acme-aws/crm, contoso-azure/crm)" in result.out
    result = cli(*diff)
    assert result.code == 1, result.err
    assert "`acme-aws/crm` | changed" in result.out
    assert "`contoso-azure/crm` | unchanged" in result.out
    assert "sts" in result.out and "auth" in result.out


def test_readme_example_verifies_and_checks_with_its_variable(
    tmp_path: Path, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's AwsCrmFirewall app: its client ranges are a variable without a default,
    so verify and check take its values from --var-file, and say so without one."""
    out = run_python_app(python_block("construct-app", README), tmp_path)
    (tmp_path / "prod.tfvars").write_text('office_ranges = ["10.60.0.0/16"]\n')
    monkeypatch.chdir(tmp_path)
    result = cli("verify", "--synth", "cdktf.out", "--var-file", "prod.tfvars")
    assert result.code == 0, result.out + result.err
    assert "my-crm/crm" in result.out and "pass" in result.out
    result = cli("check", "--synth", "cdktf.out", "--var-file", "prod.tfvars")
    assert result.code == 0, result.out + result.err
    assert "(my-crm/crm)" in result.out
    result = cli("verify", "--synth", str(out))
    assert result.code == 2
    assert "variable 'office_ranges' has no list default" in result.err
    assert "--var-file" in result.err


def test_a_rule_deleted_from_the_stack_fails_verify(
    review_app: Path, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    mutated = tmp_path / "cdktf.out"
    shutil.copytree(review_app / "cdktf.out", mutated)
    rule = _delete_rule(
        mutated,
        "acme-aws",
        "aws_vpc_security_group_ingress_rule",
        lambda key, _: key == "in_crm-app_sql_tcp_ms-sql",
    )
    result = cli("verify", "--synth", str(mutated))
    assert result.code == 1, result.out + result.err
    assert rule and "crm-app.sql.tcp.ms-sql" in result.out
    assert "TCP 1433 from crm-app to sql" in result.out or "1433" in result.out


def test_several_constructs_in_one_stack_are_judged_apart(
    shared_app: Path, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    result = cli("verify", "--synth", str(shared_app), "--format", "json")
    assert result.code == 0, result.out + result.err
    stacks = {r["stack"]: r for r in json.loads(result.out)["stacks"]}
    assert set(stacks) == {
        "shared-aws/blue",
        "shared-aws/crm",
        "shared-azure/crm",
        "shared-azure/green",
    }
    assert "stack 'network' holds no crm-ports construct: skipped" in result.err
    result = cli("check", "--synth", str(shared_app))
    assert result.code == 0, result.out + result.err
    assert (
        "4 lab(s) checked (shared-aws/blue, shared-aws/crm, shared-azure/crm, shared-azure/green)"
        in result.out
    )
    # One NSG loses a rule: only the construct behind it fails; the other NSG's rules
    # allow nothing to its machines.
    mutated = tmp_path / "cdktf.out"
    shutil.copytree(shared_app, mutated)
    path = mutated / "stacks" / "shared-azure" / "cdk.tf.json"
    data = json.loads(path.read_text())
    nsg = data["resource"]["azurerm_network_security_group"]["green_nsg"]
    cut = "clients.crm-full-server.tcp"
    nsg["security_rule"] = [r for r in nsg["security_rule"] if r["name"] != cut]
    path.write_text(json.dumps(data))
    result = cli("verify", "--synth", str(mutated), "--format", "json")
    assert result.code == 1
    verdicts = {r["stack"]: r["ok"] for r in json.loads(result.out)["stacks"]}
    assert verdicts == {
        "shared-aws/blue": True,
        "shared-aws/crm": True,
        "shared-azure/crm": True,
        "shared-azure/green": False,
    }


def test_a_finding_in_one_constructs_nsg_is_that_constructs_alone(
    shared_app: Path, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """The green NSG opens RDP to the internet: the finding is the green construct's, on
    its own NSG's inline rule, and names the option behind that rule; the construct
    beside it in the stack, judged on its own part, has none."""
    mutated = tmp_path / "cdktf.out"
    shutil.copytree(shared_app, mutated)
    path = mutated / "stacks" / "shared-azure" / "cdk.tf.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    name = "administrators.crm-full-server.tcp"
    nsg = data["resource"]["azurerm_network_security_group"]["green_nsg"]
    [rule] = [r for r in nsg["security_rule"] if r["name"] == name]
    rule["source_address_prefixes"] = ["0.0.0.0/0"]
    path.write_text(json.dumps(data), encoding="utf-8")
    result = cli("check", "--synth", str(mutated), "--format", "json")
    assert result.code == 1, result.err
    assert json.loads(result.out)["findings"] == [
        {
            "check": "CRM001",
            "fix": "Remove 0.0.0.0/0 from admin_cidrs (lab file key, or --admin-cidr) and list "
            "only the ranges of administrators.",
            "lab": "shared-azure/green",
            "message": "source 0.0.0.0/0 reaches administrative port(s) 3389, 5985-5986",
            "severity": "error",
            "subject": f'azurerm_network_security_group.green_nsg.security_rule["{name}"]',
            "where": "shared-azure/green",
        }
    ]


def test_records_are_deterministic_and_hold_no_path(shared_app: Path, tmp_path: Path) -> None:
    """The same app synthesized in another folder records the same bytes (cdktf's own
    default local backend keeps an absolute path; the records hold none)."""
    again = run_python_app(SHARED_APP, tmp_path)
    for stack in ("shared-aws", "shared-azure"):
        first = json.loads((shared_app / "stacks" / stack / "cdk.tf.json").read_text())
        second = json.loads((again / "stacks" / stack / "cdk.tf.json").read_text())
        ours = first["//"]["metadata"][RECORD_KEY]
        assert ours == second["//"]["metadata"][RECORD_KEY]
        assert first["resource"] == second["resource"]
        text = json.dumps(ours)
        assert str(tmp_path) not in text and str(shared_app.parent) not in text


def _folder(tmp_path: Path, documents: dict[str, Any]) -> Path:
    for name, document in documents.items():
        (tmp_path / "stacks" / name).mkdir(parents=True)
        (tmp_path / "stacks" / name / "cdk.tf.json").write_text(json.dumps(document))
    return tmp_path


def _record(**given: Any) -> dict[str, Any]:
    options = Options(topology="full-server")
    values: dict[str, Any] = {
        "kind": "AwsCrmFirewall",
        "cloud": "aws",
        "lab": Lab(name="acme", options=options, clouds=("aws",)),
        "rules": resolve_rules(options),
        "carries": {"crm-full-server": ["${aws_security_group.sg_crm-full-server.id}"]},
        "peers": {"client_cidrs": "${var.offices}"},
        **given,
    }
    return record_json(**values)


def resolve_rules(options: Options) -> Any:
    from crm_ports.catalogue.load import load_catalogue

    return resolve(load_catalogue(), options)


def test_a_record_reads_back_as_the_lab_it_claims(tmp_path: Path) -> None:
    document = {"//": {"metadata": {RECORD_KEY: {"app/crm": _record()}}}}
    [record] = stack_records(document, tmp_path, "app/cdk.tf.json")
    assert record.label == "app/crm" and record.cloud == "aws"
    assert record.lab.lab.name == "acme" and record.lab.lab.clouds == ("aws",)
    assert record.lab.ruleset == resolve_rules(Options(topology="full-server"))
    assert not record.lab.lab.network_known  # the network is the user's
    assert record.construct is not None
    assert record.construct.peers == {"client_cidrs": "${var.offices}"}


def test_a_record_cites_each_passage_once_and_reads_back_exactly(tmp_path: Path) -> None:
    """The rule set cites a few dozen passages some hundreds of times: the record writes
    each once, rules refer to it by index, and leaves out the ids the rules' fields give;
    what reads back is the rule set the construct rendered, to the last citation."""
    rules = resolve_rules(Options(topology="full-server"))
    record = _record(rules=rules)
    text = json.dumps(record)
    cited = {ref for rule in rules.rules for ref in rule.refs}
    assert sorted(cited) == record["citations"]
    assert all(text.count(json.dumps(ref)) == 1 for ref in cited)
    assert not any("id" in rule for rule in record["ruleset"]["rules"])
    document = {"//": {"metadata": {RECORD_KEY: {"app/crm": record}}}}
    [read] = stack_records(document, tmp_path, "app/cdk.tf.json")
    assert read.lab.ruleset == rules
    assert [r.refs for r in read.lab.ruleset.rules] == [r.refs for r in rules.rules]


def test_a_rule_id_its_fields_do_not_give_is_kept(tmp_path: Path) -> None:
    """An id is left out only where the rule's fields give it back: a second rule on the
    same groups, protocol and services adds `.PORTS` to both ids, so a rule whose id
    lacks it keeps its id in the record, and the one that has it does not need it."""
    rules = resolve_rules(Options(topology="full-server"))
    first = rules.rules[0]
    ports = PortRange(first.ports.end + 1000, first.ports.end + 1001)
    base = first.id
    twin = dataclasses.replace(first, id=f"{base}.{ports}", ports=ports)
    odd = dataclasses.replace(rules.rules[1], id="named-by-hand")
    changed = dataclasses.replace(rules, rules=(first, twin, odd, *rules.rules[2:]))
    record = _record(rules=changed)
    ids = [rule.get("id") for rule in record["ruleset"]["rules"][:4]]
    assert ids == [base, None, "named-by-hand", None]
    document = {"//": {"metadata": {RECORD_KEY: {"app/crm": record}}}}
    [read] = stack_records(document, tmp_path, "app/cdk.tf.json")
    assert read.lab.ruleset == changed


def test_a_record_written_before_the_citation_table_still_reads(tmp_path: Path) -> None:
    """A record holding the rule set whole (refs as text, every id), as constructs wrote
    it before the table, reads back as the same rule set."""
    rules = resolve_rules(Options(topology="full-server"))
    record = _record(rules=rules)
    del record["citations"]
    record["ruleset"] = rules.to_json()
    document = {"//": {"metadata": {RECORD_KEY: {"app/crm": record}}}}
    [read] = stack_records(document, tmp_path, "app/cdk.tf.json")
    assert read.lab.ruleset == rules


@pytest.mark.parametrize(
    ("damage", "field"),
    [
        (lambda r: r["ruleset"]["rules"][0].update(refs=[9999]), "ruleset.rules[0].refs"),
        (lambda r: r["ruleset"]["rules"][0].update(refs=["x"]), "ruleset.rules[0].refs"),
        (lambda r: r.update(citations=[1]), "citations"),
        (lambda r: r["ruleset"]["rules"][0].pop("from"), "ruleset.rules"),
    ],
)
def test_a_damaged_citation_table_is_one_line_naming_the_field(
    tmp_path: Path, damage: Callable[[dict[str, Any]], object], field: str
) -> None:
    record = _record()
    damage(record)
    document = {"//": {"metadata": {RECORD_KEY: {"app/crm": record}}}}
    with pytest.raises(InputError) as caught:
        stack_records(document, tmp_path, "app/cdk.tf.json")
    text = str(caught.value)
    assert "\n" not in text and "construct 'app/crm'" in text and f"field '{field}'" in text


@pytest.mark.parametrize(
    ("documents", "fragment"),
    [
        ({}, "not a synthesized folder: no stacks/*/cdk.tf.json"),
        (
            {"db": {"resource": {}}, "net": {}},
            "no stack holds a crm-ports construct (stacks: db, net)",
        ),
    ],
)
def test_a_folder_without_any_construct_is_an_error_naming_it(
    tmp_path: Path, cli: Callable[..., Result], documents: dict[str, Any], fragment: str
) -> None:
    folder = _folder(tmp_path / "out", documents)
    (tmp_path / "out").mkdir(exist_ok=True)
    for command in (["verify", "--synth"], ["check", "--synth"], ["diff", "--base"]):
        result = cli(*command, str(folder))
        assert result.code == 2, (command, result.out, result.err)
        assert result.err.count("\n") == 1 and str(folder.name) in result.err
        assert fragment in result.err


def test_a_damaged_record_is_one_line_naming_stack_and_construct(tmp_path: Path) -> None:
    broken = _record()
    broken["carries"] = {"crm-full-server": "sg-1"}
    folder = _folder(tmp_path, {"app": {"//": {"metadata": {RECORD_KEY: {"app/crm": broken}}}}})
    with pytest.raises(InputError) as caught:
        folder_labs(read_folder(folder))
    text = str(caught.value)
    assert "stacks/app/cdk.tf.json" in text and "construct 'app/crm'" in text
    assert "field 'carries'" in text


# A firewall rendering `resolve_lab` of a lab file with hosts of its own, and of one with
# a lab rule on a catalogue topology, on both clouds: the record claims that lab.
LAB_FILES = {
    "xlab.yaml": """name: xlab
topology:
  hosts:
    - {name: crm-app, roles: [web-application, asynchronous-service, sandbox-processing,
                              deployment-web-service]}
    - {name: sql, roles: [sql-server, reporting-services]}
    - {name: dc, roles: [domain-controller]}
""",
    "extra.yaml": """name: extra
topology: full-server
extra_rules:
  - {from: 10.20.0.0/24, to: crm-full-server, protocol: tcp, ports: PORT,
     reason: a patching proxy reaches the server}
""",
}

FIREWALL_APP = """
from pathlib import Path
from cdktf import App, TerraformStack
from crm_ports.catalogue import load_catalogue
from crm_ports.constructs import AwsCrmFirewall, AzureCrmFirewall
from crm_ports.constructs.resources.aws import AwsProvider, AwsProviderConfig
from crm_ports.constructs.resources.azure import AzurermProvider, AzurermProviderConfig
from crm_ports.lab import load_lab
from crm_ports.resolver.engine import resolve_lab

catalogue = load_catalogue()
app = App()
for file in ("xlab.yaml", "extra.yaml"):
    lab = load_lab(Path(file))
    rules = resolve_lab(catalogue, lab)
    aws = TerraformStack(app, f"{lab.name}-aws")
    AwsProvider(aws, "aws", AwsProviderConfig(region="eu-west-1"))
    AwsCrmFirewall(aws, "crm", rules=rules, vpc_id="vpc-0abc1234", lab=lab)
    azure = TerraformStack(app, f"{lab.name}-azure")
    AzurermProvider(azure, "azurerm", AzurermProviderConfig())
    AzureCrmFirewall(azure, "crm", rules=rules, resource_group_name="rg",
                     location="westeurope", lab=lab)
app.synth()
"""


def _firewall_app(folder: Path, port: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in LAB_FILES.items():
        (folder / name).write_text(text.replace("PORT", str(port)), encoding="utf-8")
    return run_python_app(FIREWALL_APP, folder)


def test_a_firewall_of_a_lab_with_its_own_hosts_and_rules_is_reviewed_as_that_lab(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """`resolve_lab` of a lab file with hosts of its own, and of one with a lab rule: the
    firewall records that lab, so verify passes (it said `unknown topology 'xlab'`, and
    `extra TCP 8080 ... no flow asks for it`), check runs and diff shows the rule's edit
    on each construct."""
    before = _firewall_app(tmp_path / "before", 8080)
    after = _firewall_app(tmp_path / "after", 8081)
    result = cli("verify", "--synth", str(after))
    assert result.code == 0, result.out + result.err
    for path in ("xlab-aws/crm", "xlab-azure/crm", "extra-aws/crm", "extra-azure/crm"):
        assert path in result.out
    assert "FAIL" not in result.out
    result = cli("check", "--synth", str(after))
    assert result.code == 0, result.out + result.err
    assert "4 lab(s) checked" in result.out
    result = cli("diff", "--base", str(before), "--head", str(after))
    assert result.code == 1, result.out + result.err
    assert "`extra-aws/crm` | changed" in result.out
    assert "`extra-azure/crm` | changed" in result.out
    assert "`xlab-aws/crm` | unchanged" in result.out
    assert "8081" in result.out


def test_a_firewall_refuses_a_lab_of_its_own_hosts_or_rules_given_by_name(
    tmp_path: Path,
) -> None:
    """A name cannot record hosts or lab rules: one InputError line naming the construct,
    the argument and the value, before synthesis."""
    from cdktf import App, TerraformStack

    from crm_ports.catalogue.load import load_catalogue
    from crm_ports.constructs import AwsCrmFirewall, AzureCrmFirewall
    from crm_ports.lab.file import load_lab
    from crm_ports.resolver.engine import resolve_lab

    for name, text in LAB_FILES.items():
        (tmp_path / name).write_text(text.replace("PORT", "8080"), encoding="utf-8")
    stack = TerraformStack(App(outdir=str(tmp_path / "out")), "s")
    catalogue = load_catalogue()
    xlab = load_lab(tmp_path / "xlab.yaml")
    extra = load_lab(tmp_path / "extra.yaml")
    cases = [
        (resolve_lab(catalogue, xlab), None, "hosts of its own"),
        (resolve_lab(catalogue, xlab), "xlab", "hosts of its own"),
        (resolve_lab(catalogue, extra), "extra", "1 lab rule(s)"),
        (resolve_lab(catalogue, extra), xlab, "is not the lab `rules` was resolved from"),
    ]
    for index, (rules, lab, fragment) in enumerate(cases):
        for cloud in ("aws", "azure"):
            with pytest.raises(InputError) as caught:
                if cloud == "aws":
                    AwsCrmFirewall(stack, f"a{index}", rules=rules, vpc_id="vpc-1", lab=lab)
                else:
                    AzureCrmFirewall(
                        stack,
                        f"z{index}",
                        rules=rules,
                        resource_group_name="rg",
                        location="x",
                        lab=lab,
                    )
            text = str(caught.value)
            assert "\n" not in text and "field 'lab'" in text and fragment in text
            assert "CrmFirewall" in text


# Labs of one name in two stacks (dev and prod), and one lab on both clouds with the same
# lab rule: each construct is reviewed on its own, named by its path.
SHAPES_APP = """
from cdktf import App, TerraformStack
from crm_ports.constructs import AwsCrmLab, AzureCrmLab
from crm_ports.constructs.resources.aws import AwsProvider, AwsProviderConfig
from crm_ports.constructs.resources.azure import AzurermProvider, AzurermProviderConfig
from crm_ports.options import Options

CRM = CRM_ROLES
app = App()
for stage, phase in (("dev", "setup"), ("prod", "PROD_PHASE")):
    stack = TerraformStack(app, stage)
    AwsProvider(stack, "aws", AwsProviderConfig(region="eu-west-1"))
    lab = AwsCrmLab(stack, "crm", vpc_id="vpc-0abc1234", options=Options(phase=phase))
    lab.add_host("app", roles=CRM)
    lab.add_host("sql", roles=["sql-server", "reporting-services"])
    lab.add_host("dc", roles=["domain-controller"])
aws = TerraformStack(app, "x-aws")
AwsProvider(aws, "aws", AwsProviderConfig(region="eu-west-1"))
azure = TerraformStack(app, "x-azure")
AzurermProvider(azure, "azurerm", AzurermProviderConfig())
for made in (AwsCrmLab(aws, "crm", vpc_id="vpc-0abc1234", lab="x"),
             AzureCrmLab(azure, "crm", resource_group_name="rg", location="westeurope",
                         lab="x")):
    made.add_host("app", roles=CRM)
    made.add_host("sql", roles=["sql-server", "reporting-services"])
    made.add_host("dc", roles=["domain-controller"])
    made.add_rule("10.20.0.0/24", "app", protocol="tcp", ports=8080,
                  reason="a patching proxy reaches the server")
app.synth()
""".replace("CRM_ROLES", repr(CRM))


def test_labs_of_one_name_in_two_stacks_or_two_clouds_are_checked_and_diffed(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """dev and prod stacks with the default lab name, and lab `x` on both clouds: check
    and diff said `give the constructs different lab names` (exit 2), advice that would
    rename, so replace, the groups servers hold."""
    (tmp_path / "before").mkdir()
    (tmp_path / "after").mkdir()
    before = run_python_app(SHAPES_APP.replace("PROD_PHASE", "setup"), tmp_path / "before")
    after = run_python_app(SHAPES_APP.replace("PROD_PHASE", "operation"), tmp_path / "after")
    result = cli("verify", "--synth", str(after))
    assert result.code == 0, result.out + result.err
    result = cli("check", "--synth", str(after))
    assert result.code == 0, result.out + result.err
    assert "4 lab(s) checked (dev/crm, prod/crm, x-aws/crm, x-azure/crm)" in result.out
    result = cli("diff", "--base", str(before), "--head", str(after))
    assert result.code == 1, result.out + result.err
    assert "`prod/crm` | changed" in result.out and "`dev/crm` | unchanged" in result.out
    assert "`x-aws/crm` | unchanged" in result.out
    assert "`x-azure/crm` | unchanged" in result.out
    assert "give the constructs" not in result.out + result.err
    # the one lab rule on both clouds is one rule: its citation is the lab's name
    records = [
        json.loads((after / "stacks" / s / "cdk.tf.json").read_text())["//"]["metadata"][
            RECORD_KEY
        ][f"{s}/crm"]
        for s in ("x-aws", "x-azure")
    ]
    assert records[0]["ruleset"] == records[1]["ruleset"]
    assert records[0]["citations"] == records[1]["citations"]
    refs = [
        [records[0]["citations"][n] for n in r["refs"]]
        for r in records[0]["ruleset"]["rules"]
        if r["flows"][0].startswith("extra:")
    ]
    assert refs == [["x: add_rule[0]: a patching proxy reaches the server"]]
