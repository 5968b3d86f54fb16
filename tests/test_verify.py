"""`crm-ports verify` / `why`: the synthesized stacks evaluated as AWS and Azure evaluate
them, compared with the catalogue's flows.

The snapshots are the stacks: every variant must pass, and hand-made mutations of them
(the mistakes a renderer or a hand edit could make) must fail, naming the flow that broke
or the reach nobody asked for. The evaluators read only the JSON, so these tests pin the
cloud semantics, not the renderer."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_ports.catalogue.load import load_catalogue
from crm_ports.catalogue.model import Catalogue
from crm_ports.net import PortRange
from crm_ports.verify.compare import Result, compare
from crm_ports.verify.expected import expected_reach
from crm_ports.verify.run import firewall
from crm_ports.verify.stack import parse_stack, read_var_file
from crm_ports.verify.why import explain, parse_packet
from tests.conftest import REPO
from tests.conftest import Result as CliResult
from tests.stacks import lab
from tests.test_snapshots import CASES, VARIANTS

SNAPSHOTS = REPO / "tests" / "__snapshots__" / "test_snapshots"


def snapshot(cloud: str, topology: str = "split-roles", variant: str = "default") -> Any:
    name = f"test_stack_snapshot[{cloud}-{topology}-{variant}].json"
    return json.loads((SNAPSHOTS / name).read_text(encoding="utf-8"))


def verify_document(
    catalogue: Catalogue,
    document: Any,
    topology: str = "split-roles",
    variant: str = "default",
    overrides: dict[str, Any] | None = None,
) -> Result:
    the_lab = lab(f"{topology}-{variant}", topology=topology, **VARIANTS[variant])
    stack = parse_stack(document, "stack", "stack", overrides or {})
    return compare(expected_reach(catalogue, the_lab), firewall(stack), "stack")


@pytest.mark.parametrize(("cloud", "topology", "variant"), CASES)
def test_every_snapshot_variant_passes(
    catalogue: Catalogue, cloud: str, topology: str, variant: str
) -> None:
    result = verify_document(catalogue, snapshot(cloud, topology, variant), topology, variant)
    assert result.cloud == cloud
    assert result.missing == () and result.extra == ()
    assert result.flows > 10


def test_strict_egress_snapshot_passes(catalogue: Catalogue) -> None:
    document = json.loads((SNAPSHOTS / "test_strict_egress_snapshot.json").read_text())
    result = verify_document(catalogue, document)
    assert result.ok, [m.text() for m in result.missing] + [e.text() for e in result.extra]


# -- mutations ------------------------------------------------------------------------------

AWS_IN = "aws_vpc_security_group_ingress_rule"
AWS_OUT = "aws_vpc_security_group_egress_rule"
NSG_RULE = 'azurerm_network_security_group.nsg.security_rule["{}"]'


class InlineRules:
    """The lab NSG's inline rules by name (their identity in the set), for the mutations:
    a rule set under a new name is appended to the set with that name."""

    def __init__(self, resources: dict[str, Any]) -> None:
        self._rules: list[dict[str, Any]] = resources["azurerm_network_security_group"]["nsg"][
            "security_rule"
        ]

    def __getitem__(self, name: str) -> dict[str, Any]:
        return next(r for r in self._rules if r["name"] == name)

    def __setitem__(self, name: str, rule: dict[str, Any]) -> None:
        self._rules.append({**rule, "name": name})

    def __delitem__(self, name: str) -> None:
        self._rules.remove(self[name])


def nsr(resources: dict[str, Any]) -> InlineRules:
    return InlineRules(resources)


def mutated(cloud: str, change: Callable[[dict[str, Any]], None]) -> Any:
    document = copy.deepcopy(snapshot(cloud))
    change(document["resource"])
    return document


def texts(result: Result) -> list[str]:
    return [m.text() for m in result.missing] + [e.text() for e in result.extra]


def test_deleted_aws_rule_names_the_flow(catalogue: Catalogue) -> None:
    def change(r: dict[str, Any]) -> None:
        del r[AWS_IN]["in_crm-front-end_sql-server_tcp_ms-sql"]

    result = verify_document(catalogue, mutated("aws", change))
    (missing,) = result.missing
    assert (missing.source, missing.target, missing.protocol) == (
        "crm-front-end",
        "sql-server",
        "tcp",
    )
    assert missing.ports.ports_text() == "1433" and missing.flows == ("crm-sql",)
    assert "flow crm-sql" in missing.text() and "no ingress rule" in missing.reason
    assert result.extra == ()


def test_emptied_for_each_names_the_flow(catalogue: Catalogue) -> None:
    def change(r: dict[str, Any]) -> None:
        r[AWS_IN]["in_clients_crm-front-end_tcp_crm-https"]["for_each"] = "${toset([])}"

    (missing,) = verify_document(catalogue, mutated("aws", change)).missing
    assert "TCP 443 from clients to crm-front-end" in missing.text()
    assert "flow client-web" in missing.text()


def test_one_peer_range_left_out_of_for_each_is_a_missing_flow(catalogue: Catalogue) -> None:
    """Two client ranges from a -var-file; a rule that covers one of them does not serve
    the clients, and the flow is reported."""

    def change(r: dict[str, Any]) -> None:
        r[AWS_IN]["in_clients_crm-front-end_tcp_crm-http"]["for_each"] = (
            '${toset(["10.100.0.0/16"])}'
        )

    overrides = {"client_cidrs": ["10.100.0.0/16", "192.168.7.0/24"]}
    result = verify_document(catalogue, mutated("aws", change), overrides=overrides)
    assert [(m.target, m.ports.ports_text()) for m in result.missing] == [("crm-front-end", "80")]
    assert "part of the source's addresses" in result.missing[0].reason


def test_extra_aws_allow_from_a_peer_is_reported(catalogue: Catalogue) -> None:
    def change(r: dict[str, Any]) -> None:
        rule = copy.deepcopy(r[AWS_IN]["in_clients_crm-front-end_tcp_crm-https"])
        rule.update(security_group_id="${aws_security_group.sg_sql-server.id}", from_port=1433)
        rule["to_port"] = 1433
        r[AWS_IN]["in_clients_sql"] = rule

    result = verify_document(catalogue, mutated("aws", change))
    (extra,) = result.extra
    assert (extra.source, extra.target, extra.ports.ports_text()) == (
        "clients",
        "sql-server",
        "1433",
    )
    assert extra.rules == ('aws_vpc_security_group_ingress_rule.in_clients_sql["10.100.0.0/16"]',)
    assert result.missing == ()


def test_rdp_from_the_internet_is_reported_as_such(catalogue: Catalogue) -> None:
    def change(r: dict[str, Any]) -> None:
        rule = copy.deepcopy(r[AWS_IN]["in_administrators_crm-back-end_tcp_rdp"])
        del rule["for_each"]
        rule["cidr_ipv4"] = "0.0.0.0/0"
        r[AWS_IN]["in_rdp_open"] = rule

    found = texts(verify_document(catalogue, mutated("aws", change)))
    assert (
        "TCP 3389 from 0.0.0.0/0 (the internet) to crm-back-end is allowed but no flow asks "
        "for it (by aws_vpc_security_group_ingress_rule.in_rdp_open)"
    ) in found
    # 0.0.0.0/0 holds the clients and the lab's own subnet: they gain RDP as well
    assert any(t.startswith("TCP 3389 from clients to crm-back-end") for t in found)
    assert any(t.startswith("TCP 3389 from sql-server to crm-back-end") for t in found)


def test_the_members_group_is_carried_by_every_instance(catalogue: Catalogue) -> None:
    """Dropping lab-servers from one host group's instances loses every flow that the
    members group carries for it."""
    document = copy.deepcopy(snapshot("aws"))
    carried = document["output"]["instance_security_group_ids"]["value"]
    carried["ssrs"] = carried["ssrs"][:1]
    missing = verify_document(catalogue, document).missing
    assert missing and all(m.source == "ssrs" for m in missing)
    assert any(m.target == "domain-controller" and m.protocol == "udp" for m in missing)


def test_strict_egress_without_an_egress_rule_is_a_missing_flow(catalogue: Catalogue) -> None:
    document = json.loads((SNAPSHOTS / "test_strict_egress_snapshot.json").read_text())
    rules = document["resource"][AWS_OUT]
    (name,) = [k for k in rules if "crm-front-end_sql-server" in k]
    del rules[name]
    (missing,) = verify_document(catalogue, document).missing
    assert missing.source == "crm-front-end" and missing.target == "sql-server"
    assert "no egress rule" in missing.reason


def test_missing_asg_reference_names_the_flow(catalogue: Catalogue) -> None:
    def change(r: dict[str, Any]) -> None:
        del nsr(r)["crm-front-end.sql-server.tcp"]["source_application_security_group_ids"]

    (missing,) = verify_document(catalogue, mutated("azure", change)).missing
    assert (
        "TCP 1433 from crm-front-end to sql-server is not allowed (flow crm-sql" in missing.text()
    )
    assert "denied inbound by " + NSG_RULE.format("deny-all-other-inbound") in (missing.reason)


def test_allow_turned_into_deny_names_the_flows(catalogue: Catalogue) -> None:
    def change(r: dict[str, Any]) -> None:
        nsr(r)["clients.crm-front-end.tcp"]["access"] = "Deny"

    missing = verify_document(catalogue, mutated("azure", change)).missing
    assert [(m.source, m.target, m.ports.ports_text()) for m in missing] == [
        ("clients", "crm-front-end", "80"),
        ("clients", "crm-front-end", "443"),
    ]
    assert all(NSG_RULE.format("clients.crm-front-end.tcp") in m.reason for m in missing)


def test_deny_inserted_above_an_allow_names_it(catalogue: Catalogue) -> None:
    def change(r: dict[str, Any]) -> None:
        deny = copy.deepcopy(nsr(r)["clients.crm-front-end.tcp"])
        deny.update(access="Deny", priority=100, name="block-https")
        deny["destination_port_ranges"] = ["443"]
        nsr(r)["block-https"] = deny

    (missing,) = verify_document(catalogue, mutated("azure", change)).missing
    assert missing.ports.ports_text() == "443" and missing.flows == ("client-web",)
    assert missing.reason.endswith(
        'denied inbound by azurerm_network_security_group.nsg.security_rule["block-https"]'
    )


def test_a_deny_below_the_allow_changes_nothing(catalogue: Catalogue) -> None:
    def change(r: dict[str, Any]) -> None:
        deny = copy.deepcopy(nsr(r)["clients.crm-front-end.tcp"])
        deny.update(access="Deny", priority=4000, name="late")
        nsr(r)["late"] = deny

    assert verify_document(catalogue, mutated("azure", change)).ok


def test_extra_azure_allow_from_a_peer_is_reported(catalogue: Catalogue) -> None:
    def change(r: dict[str, Any]) -> None:
        rule = copy.deepcopy(nsr(r)["administrators.sql-server.tcp"])
        rule.update(priority=101, name="admins-sql")
        rule["destination_port_ranges"] = ["1433"]
        nsr(r)["admins-sql"] = rule

    result = verify_document(catalogue, mutated("azure", change))
    assert texts(result) == [
        "TCP 1433 from administrators to sql-server is allowed but no flow asks for it "
        '(by azurerm_network_security_group.nsg.security_rule["admins-sql"])'
    ]


def test_without_the_explicit_deny_azure_defaults_open_the_virtual_network(
    catalogue: Catalogue,
) -> None:
    def change(r: dict[str, Any]) -> None:
        del nsr(r)["deny-all-other-inbound"]

    result = verify_document(catalogue, mutated("azure", change))
    assert result.missing == ()
    sources = {e.source for e in result.extra}
    assert "crm-front-end" in sources and "AzureLoadBalancer" in sources
    assert any("AllowVnetInBound (65000)" in rule for e in result.extra for rule in e.rules)


def test_internet_service_tag_is_exposure(catalogue: Catalogue) -> None:
    def change(r: dict[str, Any]) -> None:
        rule = copy.deepcopy(nsr(r)["clients.crm-front-end.tcp"])
        del rule["source_address_prefixes"]
        rule.update(priority=102, name="web-internet", source_address_prefix="Internet")
        nsr(r)["web-internet"] = rule

    found = texts(verify_document(catalogue, mutated("azure", change)))
    assert found == [
        "TCP 80, 443 from Internet (the internet) to crm-front-end is allowed but no flow "
        'asks for it (by azurerm_network_security_group.nsg.security_rule["web-internet"])',
        # the Internet tag is every address outside the virtual network: the mail servers too
        "TCP 80, 443 from mail-system to crm-front-end is allowed but no flow asks for it "
        '(by azurerm_network_security_group.nsg.security_rule["web-internet"])',
    ]


# -- variables --------------------------------------------------------------------------------


def test_var_file_values_replace_defaults(tmp_path: Path, catalogue: Catalogue) -> None:
    tfvars = tmp_path / "lab.tfvars"
    tfvars.write_text(
        '# offices\nclient_cidrs = [\n  "10.100.0.0/16",\n  "192.168.50.0/24",\n]\n'
        'admin_cidrs = ["10.9.0.0/24"]\nvpc_id = ""\n'
    )
    overrides = read_var_file(tfvars)
    assert overrides["client_cidrs"] == ["10.100.0.0/16", "192.168.50.0/24"]
    for cloud in ("aws", "azure"):
        assert verify_document(catalogue, snapshot(cloud), overrides=overrides).ok


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bad.tfvars", "client_cidrs = {a = 1}\n", "bad.tfvars:1: field 'client_cidrs'"),
        ("bad.tfvars", "just words\n", "bad.tfvars:1: expected `name = value`"),
        ("bad.tfvars.json", "[1]", "expected an object of variable values"),
        # the stacks' for_each expands a list: a value of another type is named as such
        ("bad.tfvars.json", '{"client_cidrs": 5}', "variable 'client_cidrs' is 5, not a list"),
    ],
)
def test_bad_var_file_is_one_line(
    tmp_path: Path, cli: Callable[..., CliResult], name: str, text: str, expected: str
) -> None:
    (tmp_path / name).write_text(text)
    out = write_folder(tmp_path, load_catalogue(), {"aws": snapshot("aws")})
    result = cli("verify", "--synth", str(out), "--var-file", str(tmp_path / name))
    assert result.code == 2 and expected in result.err and result.out == ""
    assert len(result.err.strip().splitlines()) == 1


# -- why ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_why_names_the_rule_the_flow_and_its_citation(catalogue: Catalogue, cloud: str) -> None:
    the_lab = lab("split-roles-default", topology="split-roles")
    stack = parse_stack(snapshot(cloud), "s", "s", {})
    answer = explain(
        expected_reach(catalogue, the_lab),
        firewall(stack),
        "s",
        "crm-front-end",
        "sql-server",
        parse_packet("tcp/1433"),
    )
    text = answer.text()
    assert "TCP 1433 from crm-front-end to sql-server: allowed" in text
    assert (
        NSG_RULE.format("crm-front-end.sql-server.tcp") in text
        or "in_crm-front-end_sql-server_tcp_ms-sql" in text
    )
    assert "catalogue: flow crm-sql (rule crm-front-end.sql-server.tcp.ms-sql)" in text
    assert "TCP 1433 ms-sql-s" in text and answer.agrees


def test_why_says_why_nothing_allows(catalogue: Catalogue) -> None:
    the_lab = lab("split-roles-default", topology="split-roles")
    expected = expected_reach(catalogue, the_lab)
    azure = firewall(parse_stack(snapshot("azure"), "s", "s", {}))
    answer = explain(
        expected, azure, "s", "203.0.113.9", "domain-controller", parse_packet("tcp/389")
    )
    assert (
        "not allowed" in answer.text()
        and NSG_RULE.format("deny-all-other-inbound") in answer.text()
    )
    assert "catalogue: no flow asks for it" in answer.text()
    inside = explain(
        expected, azure, "s", "10.100.4.4", "domain-controller", parse_packet("tcp/389")
    )
    assert inside.verdict.full and inside.wants and inside.agrees


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["nobody", "sql-server", "tcp/1433"], "'nobody' is no host group, peer or IPv4 range"),
        (["clients", "sql-server", "tcp"], "'tcp': expected e.g. tcp/1433"),
        (["clients", "sql-server", "tcp/70000"], "port 70000 is outside 0-65535"),
    ],
)
def test_why_bad_input(
    tmp_path: Path, cli: Callable[..., CliResult], args: list[str], expected: str
) -> None:
    out = write_folder(tmp_path, load_catalogue(), {"aws": snapshot("aws")})
    result = cli("why", *args, "--synth", str(out))
    assert result.code == 2 and expected in result.err


# -- the command ------------------------------------------------------------------------------


def write_folder(tmp_path: Path, catalogue: Catalogue, documents: dict[str, Any]) -> Path:
    from crm_ports.resolver.engine import resolve

    the_lab = lab("split-roles-default", topology="split-roles")
    rules = resolve(catalogue, the_lab.options)
    for cloud, document in documents.items():
        folder = tmp_path / "out" / "stacks" / f"{cloud}-{the_lab.name}"
        folder.mkdir(parents=True)
        (folder / "cdk.tf.json").write_text(json.dumps(document))
        metadata = {
            "cloud": cloud,
            "lab": {
                "name": the_lab.name,
                "clouds": ["aws", "azure"],
                "aws": {"egress": "allow-all"},
            },
            "ruleset": rules.to_json(),
        }
        (folder / "crm-ports.json").write_text(json.dumps(metadata))
    return tmp_path / "out"


def test_verify_folder_passes_in_every_format(
    tmp_path: Path, catalogue: Catalogue, cli: Callable[..., CliResult]
) -> None:
    out = write_folder(tmp_path, catalogue, {"aws": snapshot("aws"), "azure": snapshot("azure")})
    table = cli("verify", "--synth", str(out))
    assert table.code == 0 and "aws-split-roles-default" in table.out and "FAIL" not in table.out
    markdown = cli("verify", "--synth", str(out), "--format", "markdown")
    assert markdown.out.startswith("### crm-ports verify\n\nEvery stack allows exactly")
    data = json.loads(cli("verify", "--synth", str(out), "--format", "json").out)
    assert data["ok"] is True
    assert [(s["stack"], s["cloud"], s["ok"]) for s in data["stacks"]] == [
        ("aws-split-roles-default", "aws", True),
        ("azure-split-roles-default", "azure", True),
    ]


def test_verify_folder_fails_naming_what_broke(
    tmp_path: Path, catalogue: Catalogue, cli: Callable[..., CliResult]
) -> None:
    def change(r: dict[str, Any]) -> None:
        nsr(r)["clients.crm-front-end.tcp"]["access"] = "Deny"

    out = write_folder(tmp_path, catalogue, {"azure": mutated("azure", change)})
    result = cli(
        "verify", "--synth", str(out), "--format", "markdown", "-o", str(tmp_path / "v.md")
    )
    text = (tmp_path / "v.md").read_text()
    assert result.code == 1 and result.out == ""
    assert "**1 of 1 stack(s) differ from the catalogue.**" in text
    assert "| azure-split-roles-default | missing | TCP | 443 | clients | crm-front-end |" in text
    data = json.loads(cli("verify", "--synth", str(out), "--format", "json").out)
    assert data["stacks"][0]["missing"][0]["flows"] == ["client-web"]
    why = cli("why", "clients", "crm-front-end", "tcp/443", "--synth", str(out))
    assert why.code == 1 and "the stack and the catalogue disagree" in why.out


def test_why_agreeing_exits_0_and_cloud_picks_the_stacks(
    tmp_path: Path, catalogue: Catalogue, cli: Callable[..., CliResult]
) -> None:
    """`why` on stacks that agree with the catalogue exits 0, one answer per stack;
    `--cloud` keeps only that cloud's stacks."""
    out = write_folder(tmp_path, catalogue, {"aws": snapshot("aws"), "azure": snapshot("azure")})
    packet = ("crm-front-end", "sql-server", "tcp/1433", "--synth", str(out))
    both = cli("why", *packet)
    assert (both.code, both.err) == (0, "")
    assert both.out.count("TCP 1433 from crm-front-end to sql-server: allowed") == 2
    for cloud, other in (("aws", "azure"), ("azure", "aws")):
        one = cli("why", *packet, "--cloud", cloud)
        assert (one.code, one.err) == (0, "")
        assert one.out.count("TCP 1433 from crm-front-end to sql-server: allowed") == 1
        assert f"{cloud}-split-roles-default" in one.out
        assert f"{other}-split-roles-default" not in one.out
    refused = cli("why", *packet, "--cloud", "gcp")
    assert refused.code == 2 and "'gcp' is not one of 'aws', 'azure'" in refused.err


@pytest.mark.parametrize("command", ["verify", "why"])
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--lab", str(REPO / "labs" / "contoso-claims.yaml")],
            "--all verifies every lab: drop --lab",
        ),
        (["--synth", "out"], "--all synthesizes the labs: drop --synth, or use --lab"),
    ],
)
def test_all_with_lab_or_synth_is_a_usage_error(
    tmp_path: Path,
    catalogue: Catalogue,
    cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    extra: list[str],
    message: str,
) -> None:
    write_folder(tmp_path, catalogue, {"aws": snapshot("aws")})
    monkeypatch.chdir(tmp_path)
    packet = ["clients", "crm-front-end", "tcp/443"] if command == "why" else []
    result = cli(command, *packet, "--all", *extra)
    assert (result.code, result.out) == (2, "")
    assert result.err == f"crm-ports: error: command line: {message}\n"


def test_verify_output_is_deterministic(
    tmp_path: Path, catalogue: Catalogue, cli: Callable[..., CliResult]
) -> None:
    out = write_folder(tmp_path, catalogue, {"aws": snapshot("aws"), "azure": snapshot("azure")})
    first = cli("verify", "--synth", str(out), "--format", "json").out
    assert first == cli("verify", "--synth", str(out), "--format", "json").out
    assert str(tmp_path) not in first


def test_verify_of_a_folder_never_loads_cdktf(tmp_path: Path, catalogue: Catalogue) -> None:
    out = write_folder(tmp_path, catalogue, {"aws": snapshot("aws")})
    code = (
        "import sys; from crm_ports.cli import run;"
        f"codes = [run(['verify', '--synth', {str(out)!r}]),"
        f" run(['why', 'clients', 'crm-front-end', 'tcp/80', '--synth', {str(out)!r}])];"
        "print(codes, sorted(m for m in sys.modules if m.split('.')[0] in ('cdktf', 'jsii')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().endswith("[0, 0] []")


@pytest.mark.parametrize("command", ["verify", "why"])
def test_help_has_examples(cli: Callable[..., CliResult], command: str) -> None:
    result = cli(command, "--help")
    assert result.code == 0 and "Examples:" in result.out


@pytest.mark.slow
def test_every_lab_file_passes(
    tmp_path: Path, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    """labs/*.yaml and the default labs, synthesized for real, then verified."""
    # the relative paths below, and `--all`: this repository, wherever pytest started
    monkeypatch.chdir(REPO)
    labs = sorted(str(p.relative_to(REPO)) for p in (REPO / "labs").glob("*.yaml"))
    args = [a for path in labs for a in ("--lab", path)]
    out = tmp_path / "out"
    assert cli("synth", *args, "--out", str(out)).code == 0
    result = cli("verify", "--synth", str(out), "--format", "json")
    data = json.loads(result.out)
    assert result.code == 0, result.out
    assert {s["lab"] for s in data["stacks"]} == {"contoso-claims", "fabrikam-full-server"}
    everything = cli("verify", "--all")
    assert everything.code == 0 and everything.out.count(" pass") == 7


# -- agreement with the resolver ------------------------------------------------------------


PORTS = st.sampled_from([80, 443, 808, 1433, 1533, 5555, 8080, 50000])
OPTION_MIXES = st.fixed_dictionaries(
    {
        "topology": st.sampled_from(["full-server", "split-roles"]),
        "auth": st.sampled_from(["iwa", "claims"]),
        "email": st.sampled_from(["none", "outlook", "exchange", "pop3-smtp"]),
        "web_port": PORTS,
        "https": st.booleans(),
        "sql_port": PORTS,
        "sql_named_instance": st.booleans(),
        "sandbox_port": PORTS,
        "rpc_range": st.sampled_from(
            [PortRange(49152, 65535), PortRange(50000, 50100), PortRange(5000, 5100)]
        ),
        "phase": st.sampled_from(["setup", "operation"]),
        "sql_views": st.booleans(),
        "client_cidrs": st.sampled_from(
            [("10.100.0.0/16",), ("10.100.0.0/16", "192.168.50.0/24"), ("172.16.0.0/12",)]
        ),
    }
)


@pytest.mark.slow
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(options=OPTION_MIXES, egress=st.sampled_from(["allow-all", "strict"]))
def test_verify_agrees_with_the_resolver(
    catalogue: Catalogue, options: dict[str, Any], egress: str
) -> None:
    """For random option mixes the synthesized stacks allow exactly what the resolver's
    flows ask for, on both clouds: the evaluators and the renderers agree."""
    from tests.stacks import synth_stack

    the_lab = lab("mix", egress=egress, **options)
    expected = expected_reach(catalogue, the_lab)
    for cloud in ("aws", "azure"):
        stack = parse_stack(synth_stack(the_lab, cloud, catalogue), cloud, cloud, {})
        result = compare(expected, firewall(stack), cloud)
        assert result.ok, texts(result)
        assert result.flows == len({(w.source, w.target, w.protocol) for w in expected.wants})


@pytest.mark.parametrize(("cloud", "variable"), [("aws", "vpc_id"), ("azure", "subnet_id")])
def test_own_network_from_a_var_file_drops_the_lab_subnet(
    catalogue: Catalogue, cloud: str, variable: str
) -> None:
    """With an existing VPC or subnet the stack creates none (count 0): the instances'
    addresses are unknown, they are matched by their groups only, and the stack passes."""
    given = {variable: "vpc-0abc" if cloud == "aws" else "/subscriptions/s/subnets/x"}
    stack = parse_stack(snapshot(cloud), "s", "s", given)
    kinds = {a.split(".", 1)[0] for a in stack.resources}
    assert "aws_subnet" not in kinds and "azurerm_subnet" not in kinds
    assert firewall(stack).server("sql-server") is not None
    assert firewall(stack).server("sql-server").addresses is None  # type: ignore[union-attr]
    assert verify_document(catalogue, snapshot(cloud), overrides=given).ok


def test_ipv6_allows_are_extra_reach(catalogue: Catalogue) -> None:
    """No lab peer is IPv6, so any IPv6 range let into a server is reach no flow asks
    for; on Azure only until a rule above has decided the IPv6 space (`*`)."""

    def aws(r: dict[str, Any]) -> None:
        rule = copy.deepcopy(r[AWS_IN]["in_administrators_crm-back-end_tcp_rdp"])
        del rule["for_each"], rule["cidr_ipv4"]
        rule["cidr_ipv6"] = "::/0"
        r[AWS_IN]["in_rdp_v6"] = rule

    assert texts(verify_document(catalogue, mutated("aws", aws))) == [
        "TCP 3389 from ::/0 (the internet) to crm-back-end is allowed but no flow asks for it "
        "(by aws_vpc_security_group_ingress_rule.in_rdp_v6)"
    ]

    def azure(priority: int) -> Callable[[dict[str, Any]], None]:
        def change(r: dict[str, Any]) -> None:
            rule = copy.deepcopy(nsr(r)["administrators.crm-back-end.tcp"])
            del rule["source_address_prefixes"]
            rule.update(priority=priority, name="rdp-v6", source_address_prefix="2001:db8::/32")
            nsr(r)["rdp-v6"] = rule

        return change

    assert texts(verify_document(catalogue, mutated("azure", azure(150)))) == [
        "TCP 3389 from 2001:db8::/32 to crm-back-end is allowed but no flow asks for it "
        '(by azurerm_network_security_group.nsg.security_rule["rdp-v6"])'
    ]
    assert verify_document(catalogue, mutated("azure", azure(4097))).ok  # below the deny


def test_folder_judged_against_a_lab_file(
    tmp_path: Path, catalogue: Catalogue, cli: Callable[..., CliResult]
) -> None:
    """`--synth DIR --lab FILE`: the folder's stacks of that lab, judged against the lab
    file as it is now (an option changed since the synth is a difference)."""
    out = write_folder(tmp_path, catalogue, {"aws": snapshot("aws")})
    same = tmp_path / "same.yaml"
    same.write_text("name: split-roles-default\ntopology: split-roles\n")
    assert cli("verify", "--synth", str(out), "--lab", str(same)).code == 0
    moved = tmp_path / "moved.yaml"
    moved.write_text("name: split-roles-default\noptions: {sql_port: 1533}\n")
    data = json.loads(
        cli("verify", "--synth", str(out), "--lab", str(moved), "--format", "json").out
    )
    (stack,) = data["stacks"]
    assert {m["ports"] for m in stack["missing"]} == {"1533"}
    assert {e["ports"] for e in stack["extra"]} == {"1433"}
    other = tmp_path / "other.yaml"
    other.write_text("name: elsewhere\n")
    result = cli("verify", "--synth", str(out), "--lab", str(other))
    assert result.code == 2 and "lab 'elsewhere': no stack of this lab in the folder" in result.err


def test_var_file_with_a_bad_range_is_one_line(
    tmp_path: Path, catalogue: Catalogue, cli: Callable[..., CliResult]
) -> None:
    out = write_folder(tmp_path, catalogue, {"azure": snapshot("azure")})
    bad = tmp_path / "bad.tfvars.json"
    bad.write_text('{"admin_cidrs": ["10.0.0.0/33"]}')
    result = cli("verify", "--synth", str(out), "--var-file", str(bad))
    assert result.code == 2 and result.out == ""
    rule = NSG_RULE.format("administrators.crm-back-end.tcp")
    assert f"{rule}: field 'source_address_prefix'" in result.err
    assert "'10.0.0.0/33' is not an IPv4 CIDR" in result.err


def _bad_aws_port(r: dict[str, Any]) -> None:
    rule = r[AWS_IN]["in_crm-front-end_sql-server_tcp_ms-sql"]
    rule["from_port"] = rule["to_port"] = 70000


def _inverted_azure_range(r: dict[str, Any]) -> None:
    rule = nsr(r)["clients.crm-front-end.tcp"]
    rule.pop("destination_port_ranges", None)
    rule["destination_port_range"] = "443-80"


@pytest.mark.parametrize(
    ("cloud", "change", "fragments"),
    [
        ("aws", _bad_aws_port, ["in_crm-front-end_sql-server_tcp_ms-sql", "from_port", "70000"]),
        (
            "azure",
            _inverted_azure_range,
            [NSG_RULE.format("clients.crm-front-end.tcp"), "443-80 is inverted"],
        ),
    ],
)
def test_ports_a_cloud_would_refuse_are_one_line(
    tmp_path: Path,
    catalogue: Catalogue,
    cli: Callable[..., CliResult],
    cloud: str,
    change: Callable[[dict[str, Any]], None],
    fragments: list[str],
) -> None:
    out = write_folder(tmp_path, catalogue, {cloud: mutated(cloud, change)})
    result = cli("verify", "--synth", str(out))
    assert result.code == 2 and result.out == "" and result.err.count("\n") == 1, result.err
    assert all(f in result.err for f in fragments), result.err
