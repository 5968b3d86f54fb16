"""`check --format sarif` and `verify --format sarif`: SARIF 2.1.0 for GitHub code scanning.

Each test works in a scratch git repository of its own (the working directory set to it
or below it), since what SARIF names is a file relative to the repository root: the
`admin_cidrs` line of a lab, a waiver as a suppression with its reason, the same bytes
from any working directory, a logical location where no file of the repository holds the
cause. Microsoft's SARIF multitool validates the logs (and is shown to catch a broken one).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from crm_ports import __version__
from crm_ports.catalogue.load import default_catalogue_dir, load_catalogue
from crm_ports.catalogue.model import Catalogue
from crm_ports.options import Options
from crm_ports.policy.registry import REGISTRY
from crm_ports.resolver.engine import resolve
from crm_ports.sarif import NO_FILE, SRCROOT
from tests.conftest import Result
from tests.readme import REVIEWING, block
from tests.test_checks import _aws_tf
from tests.test_diagram import node_bin
from tests.test_diff import write_stack
from tests.test_verify import mutated, nsr, snapshot, write_folder
from tests.test_workflow import assert_lints_clean
from tests.tf_harness import require_tool

CLI = Callable[..., Result]
FIXTURES = Path(__file__).parent / "fixtures" / "review"

OPEN_LAB = """\
# Administration open to the whole internet: CRM001 at the admin_cidrs line.
name: open-admin
topology: split-roles
options:
  auth: iwa
admin_cidrs: [0.0.0.0/0]
"""
ADMIN_LINE = 6


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository of the user's, the working directory at its top."""
    root = tmp_path / "repo"
    (root / "labs").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    monkeypatch.chdir(root)
    return root


def _log(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.out)
    return data


def _run(log: dict[str, Any]) -> dict[str, Any]:
    (run,) = log["runs"]
    data: dict[str, Any] = run
    return data


def _physical(result: dict[str, Any]) -> tuple[str, str, int | None]:
    (location,) = result["locations"]
    physical = location["physicalLocation"]
    artifact = physical["artifactLocation"]
    return artifact["uri"], artifact["uriBaseId"], physical.get("region", {}).get("startLine")


def test_admin_cidrs_finding_is_at_the_admin_cidrs_line(repo: Path, cli: CLI) -> None:
    (repo / "labs" / "open.yaml").write_text(OPEN_LAB)
    result = cli("check", "--lab", "labs/open.yaml", "--format", "sarif")
    assert result.code == 1, result.err
    log = _log(result)
    assert log["version"] == "2.1.0" and "sarif-schema-2.1.0" in log["$schema"]
    run = _run(log)
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("crm-ports", __version__)
    assert [r["id"] for r in driver["rules"]] == sorted(REGISTRY)
    crm001 = driver["rules"][0]
    assert crm001["name"] == "InternetAdminPorts"
    assert crm001["defaultConfiguration"] == {"level": "error"}
    assert REGISTRY["CRM001"].fix in crm001["help"]["text"]
    assert REGISTRY["CRM001"].fix in crm001["help"]["markdown"]
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in driver["rules"]}
    assert levels["CRM008"] == "warning"
    assert SRCROOT in run["originalUriBaseIds"]

    found = [r for r in run["results"] if r["ruleId"] == "CRM001"]
    assert len(found) == 8
    for item in found:
        assert item["ruleIndex"] == 0 and item["level"] == "error"
        assert _physical(item) == ("labs/open.yaml", SRCROOT, ADMIN_LINE)
        assert item["locations"][0]["physicalLocation"]["region"]["startColumn"] == 1
        assert "to the internet" in item["message"]["text"]
    prints = [r["partialFingerprints"]["crmPortsIdentity/v1"] for r in run["results"]]
    assert len(set(prints)) == len(prints)


REVIEWED_LAB = """\
name: reviewed
topology:
  hosts:
    - {name: crm-app, roles: [web-application, load-balancer, asynchronous-service, \
sandbox-processing, deployment-web-service, email-router]}
    - {name: sql, roles: [sql-server, reporting-services]}
    - {name: dc, roles: [domain-controller]}
    - {name: sts, roles: [adfs]}
options:
  email: exchange
  sql_views: true
extra_rules:
  - from: crm-app
    to: 10.20.0.0/24
    protocol: tcp
    ports: 8080
    name: patch-proxy
    reason: Windows Update through the hosting provider's patching proxy
"""


def test_each_warning_is_at_what_the_lab_wrote(repo: Path, cli: CLI) -> None:
    """An idle role at its host, an option the seeds advise against at its key (line and
    column), a lab-local rule at its entry in `extra_rules:`."""
    (repo / "labs" / "reviewed.yaml").write_text(REVIEWED_LAB)
    result = cli("check", "--lab", "labs/reviewed.yaml", "--format", "sarif")
    assert result.code == 0, result.err
    regions = {
        r["ruleId"]: (r["level"], r["locations"][0]["physicalLocation"]["region"])
        for r in _run(_log(result))["results"]
    }
    assert regions == {
        "CRM011": ("warning", {"startLine": 7}),
        "CRM008": ("warning", {"startLine": 10, "startColumn": 3}),
        "CRM009": ("warning", {"startLine": 12}),
    }


def test_same_bytes_from_another_working_directory(
    repo: Path, cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "labs" / "open.yaml").write_text(OPEN_LAB)
    top = cli("check", "--lab", "labs/open.yaml", "--format", "sarif").out
    assert top == cli("check", "--lab", "labs/open.yaml", "--format", "sarif").out
    monkeypatch.chdir(repo / "labs")
    below = cli("check", "--lab", "open.yaml", "--format", "sarif").out
    assert below == top
    assert str(repo) not in top and "file:" not in top
    # a line added above moves the results, not their fingerprints (code scanning follows)
    (repo / "labs" / "open.yaml").write_text("# moved\n" + OPEN_LAB)
    moved = _run(json.loads(cli("check", "--lab", "open.yaml", "--format", "sarif").out))
    before = _run(json.loads(top))
    assert {_physical(r)[2] for r in moved["results"]} == {ADMIN_LINE + 1}
    assert [r["partialFingerprints"] for r in moved["results"]] == [
        r["partialFingerprints"] for r in before["results"]
    ]


def test_waived_findings_are_suppressions_with_the_reason(repo: Path, cli: CLI) -> None:
    shutil.copy(FIXTURES / "internet-admin-waived.yaml", repo / "labs" / "waived.yaml")
    result = cli("check", "--lab", "labs/waived.yaml", "--format", "sarif")
    assert result.code == 0, result.out
    found = [r for r in _run(_log(result))["results"] if r["ruleId"] == "CRM001"]
    assert len(found) == 8
    reason = "Throw-away lab behind a jump host that filters by source address."
    for item in found:
        assert item["suppressions"] == [
            {"kind": "inSource", "status": "accepted", "justification": reason}
        ]
        assert _physical(item) == ("labs/waived.yaml", SRCROOT, 4)
    # a rule the catalogue's citations accept is suppressed from outside the lab file
    accepted = cli("check", "--exchange-in-lab", "--format", "sarif")
    assert accepted.code == 0
    kinds = {
        (r["ruleId"], s["kind"], s["justification"].startswith("accepted, flow "))
        for r in _run(_log(accepted))["results"]
        for s in r["suppressions"]
    }
    assert kinds == {("CRM004", "external", True)}


def test_every_lab_and_several_labs(repo: Path, cli: CLI) -> None:
    (repo / "labs" / "open.yaml").write_text(OPEN_LAB)
    shutil.copy(FIXTURES / "rdp-waived-one.yaml", repo / "labs" / "one.yaml")
    every = cli("check", "--all", "--format", "sarif")
    given = cli("check", "--lab", "labs/one.yaml", "--lab", "labs/open.yaml", "--format", "sarif")
    assert every.code == given.code == 1
    uris = {_physical(r)[0] for r in _run(_log(every))["results"]}
    assert uris == {"labs/open.yaml", "labs/one.yaml"}
    assert _run(_log(every))["results"] == _run(_log(given))["results"]


def test_a_cause_no_file_holds_gets_a_logical_location(repo: Path, cli: CLI) -> None:
    """Options on the command line, flows of the catalogue installed outside the
    repository: named, never given an absolute path; placed at the project file when
    there is one (code scanning refuses a result no file holds), else said on stderr."""
    result = cli("check", "--admin-cidr", "0.0.0.0/0", "--format", "sarif")
    assert result.code == 1
    results = _run(_log(result))["results"]
    assert results and all("physicalLocation" not in r["locations"][0] for r in results)
    first = results[0]
    name = first["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
    assert name.startswith("split-roles/rule set/administrators.")
    assert f"({NO_FILE}: {name})" in first["message"]["text"]
    assert str(default_catalogue_dir()) not in result.out
    assert f"{len(results)} SARIF result(s) have no file of this repository" in result.err

    (repo / "crm-ports.yaml").write_text("labs:\n  - labs/*.yaml\n")
    (repo / "labs" / "open.yaml").write_text(OPEN_LAB)
    args = ("--admin-cidr", "0.0.0.0/0", "--topology", "split-roles", "--format", "sarif")
    anchored = cli("check", *args)
    assert anchored.code == 1 and "SARIF" not in anchored.err
    placed = _run(_log(anchored))["results"]
    assert [_physical(r) for r in placed] == [("crm-ports.yaml", SRCROOT, 1)] * len(results)
    assert [r["message"] for r in placed] == [r["message"] for r in results]


def test_a_catalogue_flow_in_the_repository_is_located_at_its_line(repo: Path, cli: CLI) -> None:
    shutil.copytree(default_catalogue_dir(), repo / "catalog")
    lines = (repo / "catalog" / "flows.yaml").read_text().splitlines()
    line = lines.index("  - id: client-sql-views") + 1
    result = cli("--catalog", "catalog", "check", "--sql-views", "--format", "sarif")
    assert result.code == 0  # a warning
    (item,) = _run(_log(result))["results"]
    assert (item["ruleId"], item["level"]) == ("CRM008", "warning")
    assert _physical(item) == ("catalog/flows.yaml", SRCROOT, line)


def test_output_file_is_the_log_and_an_input_is_refused(repo: Path, cli: CLI) -> None:
    lab = repo / "labs" / "open.yaml"
    lab.write_text(OPEN_LAB)
    shown = cli("check", "--lab", "labs/open.yaml", "--format", "sarif").out
    written = cli("check", "--lab", "labs/open.yaml", "--format", "sarif", "-o", "crm-ports.sarif")
    assert (written.code, written.out) == (1, "")
    assert (repo / "crm-ports.sarif").read_text() == shown
    refused = cli("check", "--lab", "labs/open.yaml", "--format", "sarif", "-o", "labs/open.yaml")
    assert refused.code == 2 and "is an input of this command" in refused.err
    assert lab.read_text() == OPEN_LAB


def _denied_https(resources: dict[str, Any]) -> None:
    nsr(resources)["clients.crm-front-end.tcp"]["access"] = "Deny"


def test_verify_results_at_the_stack_file_or_the_lab_line(
    repo: Path, catalogue: Catalogue, cli: CLI
) -> None:
    write_folder(repo, catalogue, {"azure": mutated("azure", _denied_https)})
    result = cli("verify", "--synth", "out", "--format", "sarif")
    assert result.code == 1
    run = _run(_log(result))
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["CRMV001", "CRMV002"]
    results = run["results"]
    assert [r["message"]["text"].split(" from ")[0] for r in results] == [
        "azure-split-roles-default: TCP 443",
        "azure-split-roles-default: TCP 80",
    ]
    stack = "out/stacks/azure-split-roles-default/cdk.tf.json"
    for item in results:
        assert (item["ruleId"], item["ruleIndex"], item["level"]) == ("CRMV001", 0, "error")
        assert _physical(item) == (stack, SRCROOT, 1)  # the file as a whole
        assert "flow client-web" in item["message"]["text"]
    assert len({json.dumps(r["partialFingerprints"]) for r in results}) == 2

    # a lab-local rule the stack lacks: at its entry in the lab file
    (repo / "labs" / "lab.yaml").write_text(
        "name: split-roles-default\ntopology: split-roles\nextra_rules:\n"
        "  - {from: clients, to: crm-front-end, protocol: tcp, ports: 8443,\n"
        "     reason: the reporting portal listens here}\n"
    )
    write_folder(repo / "two", catalogue, {"aws": mutated("aws", lambda r: None)})
    lab_run = cli("verify", "--synth", "two/out", "--lab", "labs/lab.yaml", "--format", "sarif")
    (missing,) = _run(_log(lab_run))["results"]
    assert missing["ruleId"] == "CRMV001" and "8443" in missing["message"]["text"]
    assert _physical(missing) == ("labs/lab.yaml", SRCROOT, 4)


def test_verify_reach_from_an_internet_wide_range_is_at_its_option(
    repo: Path, catalogue: Catalogue, cli: CLI
) -> None:
    """`admin_cidrs: [0.0.0.0/0]` lets every address reach RDP, lab servers included: each
    such reach is explained by that line, not by the stack."""
    write_folder(repo, catalogue, {"aws": snapshot("aws")})
    (repo / "labs" / "lab.yaml").write_text(
        "name: split-roles-default\ntopology: split-roles\nadmin_cidrs: [0.0.0.0/0]\n"
    )
    (repo / "wide.tfvars.json").write_text(json.dumps({"admin_cidrs": ["0.0.0.0/0"]}))
    args = ("--synth", "out", "--lab", "labs/lab.yaml", "--var-file", "wide.tfvars.json")
    result = cli("verify", *args, "--format", "sarif")
    assert result.code == 1
    results = _run(_log(result))["results"]
    assert results and {r["ruleId"] for r in results} == {"CRMV002"}
    assert {_physical(r) for r in results} == {("labs/lab.yaml", SRCROOT, 3)}


@pytest.mark.slow
def test_the_sarif_multitool_finds_no_error(repo: Path, catalogue: Catalogue, cli: CLI) -> None:
    tool = require_tool(
        node_bin("sarif-multitool"),
        "validates the SARIF logs (npm @microsoft/sarif-multitool, package.json)",
    )
    shutil.copy(FIXTURES / "internet-admin-waived.yaml", repo / "labs" / "waived.yaml")
    (repo / "labs" / "open.yaml").write_text(OPEN_LAB)
    write_folder(repo, catalogue, {"azure": mutated("azure", _denied_https)})
    logs = {
        "check.sarif": ("check", "--lab", "labs/open.yaml", "--lab", "labs/waived.yaml"),
        "cli.sarif": ("check", "--admin-cidr", "0.0.0.0/0", "--no-https"),
        "verify.sarif": ("verify", "--synth", "out"),
    }
    for name, args in logs.items():
        assert cli(*args, "--format", "sarif", "-o", name).code == 1
    broken = json.loads((repo / "check.sarif").read_text())
    del broken["runs"][0]["results"][0]["message"]
    broken["runs"][0]["tool"]["driver"]["rules"][0]["defaultConfiguration"]["level"] = "fatal"
    (repo / "broken.sarif").write_text(json.dumps(broken))

    for kind in ("Sarif", "Gh"):  # the SARIF rules, then GitHub code scanning's
        report = repo / f"report-{kind}.sarif"
        # The multitool's exit status is 0 whatever it finds: its own log is what it found.
        subprocess.run(
            [str(tool), "validate", *logs, "broken.sarif", "--rule-kind", kind, "-o", report.name],
            cwd=repo,
            env={**os.environ, "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "1"},  # no libicu needed
            check=True,
            capture_output=True,
            timeout=300,
        )
        found = _run(json.loads(report.read_text()))["results"]
        errors = sorted(
            (r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], r["ruleId"])
            for r in found
            if r.get("level", "warning") == "error"
        )
        assert {Path(uri).name for uri, _ in errors} <= {"broken.sarif"}, errors
        if kind == "Sarif":
            assert len(errors) >= 2, found  # the missing message and the bad level
        # informationUri needs an absolute address, which crm-ports has none of yet
        warned = {r["ruleId"] for r in found if r.get("level", "warning") == "warning"}
        assert warned <= {"SARIF2005"}, found


@pytest.mark.slow
def test_the_documented_commands_run_in_a_labs_repository(repo: Path, cli: CLI) -> None:
    """docs/reviewing.md's SARIF commands, word for word, in a project repository."""
    (repo / "crm-ports.yaml").write_text("labs:\n  - labs/*.yaml\n")
    lab = "name: plain-http\nclouds: [aws]\ntopology: split-roles\noptions:\n  https: false\n"
    (repo / "labs" / "http.yaml").write_text(lab)
    # RDP from the internet: the stack lets clients reach it too, which verify reports
    opened = "name: opened\nclouds: [aws]\ntopology: split-roles\nclient_cidrs: [10.1.0.0/16]\n"
    (repo / "labs" / "opened.yaml").write_text(opened + "admin_cidrs: [0.0.0.0/0]\n")
    lines = [ln for ln in block("sarif-commands", REVIEWING).splitlines() if ln.startswith("crm-")]
    codes = [cli(*shlex.split(line)[1:]).code for line in lines]
    assert codes == [1, 1]
    check = _run(json.loads((repo / "crm-ports.sarif").read_text()))
    (https_off,) = [r for r in check["results"] if _physical(r)[0] == "labs/http.yaml"]
    assert _physical(https_off) == ("labs/http.yaml", SRCROOT, 5)
    verify = _run(json.loads((repo / "crm-ports-verify.sarif").read_text()))
    assert verify["results"] and verify["automationDetails"]["id"] == "crm-ports/verify/"
    # at the lab line code scanning can show, never in the git-ignored synthesized folder
    places = {_physical(r) for r in verify["results"]}
    lab_lines = {("labs/opened.yaml", 4), ("labs/opened.yaml", 5)}  # client_, admin_cidrs
    assert {(uri, line) for uri, _, line in places} <= lab_lines, places


def test_the_documented_workflow_passes_actionlint(tmp_path: Path) -> None:
    workflow = tmp_path / ".github" / "workflows" / "code-scanning.yml"
    workflow.parent.mkdir(parents=True)
    text = block("sarif-workflow", REVIEWING).split("```yaml\n", 1)[1].rsplit("```", 1)[0]
    workflow.write_text(text)
    assert_lints_clean(tmp_path, ".github/workflows/code-scanning.yml", "lints the docs' workflow")
    uploads = [s for s in YAML(typ="safe").load(text)["jobs"]["sarif"]["steps"] if "with" in s]
    files = {s["with"].get("sarif_file") for s in uploads}
    assert {"crm-ports.sarif", "crm-ports-verify.sarif"} <= files


def test_a_synthesized_stack_finding_is_at_its_stack_file(repo: Path, cli: CLI) -> None:
    """`check --synth`: a hand edit of the stack that no lab line explains."""
    ruleset = resolve(load_catalogue(), Options(origin="test"))
    write_stack(repo / "out", "aws", "lab", ruleset, _aws_tf("0.0.0.0/0"))
    result = cli("check", "--synth", "out", "--format", "sarif")
    assert result.code == 1
    (item,) = _run(_log(result))["results"]
    assert item["ruleId"] == "CRM001"
    assert _physical(item) == ("out/stacks/aws-lab/cdk.tf.json", SRCROOT, 1)
    name = item["locations"][0]["logicalLocations"][0]
    assert name == {
        "fullyQualifiedName": "lab/aws-lab/aws_vpc_security_group_ingress_rule."
        'in_administrators_crm-front-end_tcp_rdp["0.0.0.0/0"]',
        "kind": "resource",
    }
