"""The `cdktf.out` of a user's own app, built with the construct library and synthesized
by the real cdktf, is reviewed like a `crm-ports synth` folder: `verify --synth` passes
and fails on a mutation, `check --synth` runs, `diff` between two such folders shows the
change; several constructs in one stack are judged apart, a stack without one is skipped
with a note, and a folder without any is an error naming it."""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crm_ports.errors import InputError
from crm_ports.lab.model import Lab
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
    assert "2 lab(s) checked (acme, contoso)" in result.out
    result = cli(*diff)
    assert result.code == 1, result.err
    assert "`acme` | changed" in result.out and "`contoso` | unchanged" in result.out
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
    assert "(acme)" in result.out
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
    assert "4 lab(s) checked (acme, blue, contoso, green)" in result.out
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
