"""Labs that place the roles on hosts of their own: every command that takes a lab, the
placement rules (each a one-line error naming file, host and role, exit 2, nothing
written), Exchange run inside the lab, topologies of a user's catalogue, and lab-local
rules (`extra_rules`) in every view."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from crm_ports.catalogue.load import load_catalogue
from crm_ports.errors import InputError
from crm_ports.lab.file import load_lab
from crm_ports.lab.placement import REQUIRED
from crm_ports.resolver.engine import resolve_lab
from tests.conftest import Result

Cli = Callable[..., Result]
LABS = Path(__file__).parent / "fixtures" / "labs"
TWO_BOX = str(LABS / "two-box.yaml")
OWN_EXCHANGE = str(LABS / "own-exchange.yaml")

HOSTS = """\
name: my-lab
topology:
  hosts:
    - name: app
      roles: [web-application, asynchronous-service, sandbox-processing, deployment-web-service]
    - {name: sql, roles: [sql-server, reporting-services]}
    - {name: dc, roles: [domain-controller]}
"""


def write_lab(tmp_path: Path, text: str) -> str:
    path = tmp_path / "lab.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def rules_json(cli: Cli, *args: str) -> dict:  # type: ignore[type-arg]
    result = cli("rules", "--format", "json", *args)
    assert result.code == 0, result.err
    data: dict = json.loads(result.out)  # type: ignore[type-arg]
    return data


# -- every command ------------------------------------------------------------------------


def test_rules_json_names_the_placement_and_lists_the_hosts(cli: Cli) -> None:
    data = rules_json(cli, "--lab", TWO_BOX)
    assert data["topology"] == "two-box"
    servers = {g["name"]: g["roles"] for g in data["groups"] if g["kind"] == "server"}
    assert set(servers) == {"crm-app", "sql", "dc", "lab-servers"}
    assert servers["sql"] == ["sql-server", "reporting-services"]
    pairs = {(r["from"], r["to"]) for r in data["rules"]}
    assert ("crm-app", "sql") in pairs and ("clients", "crm-app") in pairs
    # SQL Server and SSRS share a host: no rule between them, none from a host to itself.
    assert all(r["from"] != r["to"] for r in data["rules"])


@pytest.mark.parametrize(
    "command",
    [
        ("matrix",),
        ("diagram",),
        ("diagram", "--format", "dot"),
        ("check",),
        ("ports",),
    ],
)
def test_every_lab_command_takes_a_placement(cli: Cli, command: tuple[str, ...]) -> None:
    result = cli(*command, "--lab", TWO_BOX)
    assert result.code == 0, result.err
    if command[0] in ("matrix", "diagram"):
        assert "crm-app" in result.out and "sql" in result.out


def test_validate_and_diff_take_a_placement(cli: Cli) -> None:
    assert cli("validate", TWO_BOX, OWN_EXCHANGE).code == 0
    result = cli("diff", "--base", TWO_BOX, "--head", OWN_EXCHANGE, "--format", "json")
    assert result.code == 1, result.err
    labs = {lab["name"]: lab["status"] for lab in json.loads(result.out)["labs"]}
    assert labs == {"two-box": "removed", "own-exchange": "added"}


def test_audit_resolves_the_placement(cli: Cli, tmp_path: Path, aws_env: None) -> None:
    """A bad placement fails the audit before any cloud is asked; a good one gets as far
    as the endpoint, which refuses the connection (with credentials in the environment,
    so the one line is about the endpoint, not about missing credentials)."""
    import socket

    with socket.socket() as sock:  # a port bound, never listening: nothing answers
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        reached = cli("audit", "aws", "--lab", TWO_BOX, "--endpoint-url", url)
    # The whole line: botocore's own words name the URL it tried, so a client that went
    # elsewhere (the endpoint dropped on the way) fails here, not only a credentials error.
    assert (reached.code, reached.out, reached.err) == (
        2,
        "",
        f"crm-ports: error: aws us-east-1 at {url}: cannot reach EC2: "
        f'Could not connect to the endpoint URL: "{url}/"\n',
    )
    lab = write_lab(tmp_path, HOSTS.replace("reporting-services", "reporting-servicez"))
    for args in (("aws",), ("azure", "--subscription-id", "x")):
        result = cli("audit", *args, "--lab", lab)
        assert result.code == 2 and "unknown role 'reporting-servicez'" in result.err


def test_a_topology_flag_overrides_the_placement(cli: Cli) -> None:
    data = rules_json(cli, "--lab", OWN_EXCHANGE, "--topology", "full-server")
    assert data["topology"] == "full-server"
    assert "crm-full-server" in {g["name"] for g in data["groups"]}


def test_exchange_placed_on_a_host_is_a_lab_server(cli: Cli) -> None:
    data = rules_json(cli, "--lab", OWN_EXCHANGE)
    groups = {g["name"]: g for g in data["groups"]}
    assert groups["exchange"]["kind"] == "server"
    assert groups["mail-system"]["roles"] == ["mail-server"]  # still outside, via mail_cidrs
    to_exchange = {
        (r["from"], service)
        for r in data["rules"]
        if r["to"] == "exchange"
        for service in r["service"].split("+")
    }
    assert {
        ("clients", "ews"),
        ("clients", "ews-https"),
        ("clients", "exchange-https"),  # Outlook, Autodiscover, OWA
        ("clients", "autodiscover-http"),
    } <= to_exchange  # Outlook to Exchange is now a rule
    assert ("dc", "all-traffic") in to_exchange  # Exchange 2013 and its DCs, unrestricted
    assert ("back-end", "ews-https") in to_exchange
    assert ("lab-servers", "msrpc") in to_exchange  # a domain member like every server


def test_unplaced_optional_roles(cli: Cli, tmp_path: Path) -> None:
    """The load balancer (NLB) joins the web application's host; without an Email Router
    its flows are dropped; Exchange stays an outside peer."""
    data = rules_json(cli, "--lab", write_lab(tmp_path, HOSTS))
    groups = {g["name"]: g for g in data["groups"]}
    assert "load-balancer" in groups["app"]["roles"]
    assert not any("email-router" in r["flows"] for r in data["rules"])
    assert groups["mail-system"]["kind"] == "peer"


def test_synth_takes_the_option_flags(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = cli("synth", "--auth", "claims", "--topology", "full-server", "--out", str(out))
    assert result.code == 0, result.err
    stacks = sorted(p.name for p in (out / "stacks").iterdir())
    assert stacks == ["aws-full-server", "azure-full-server"]
    meta = json.loads((out / "stacks" / "aws-full-server" / "crm-ports.json").read_text())
    assert meta["ruleset"]["options"]["auth"] == "claims"
    assert "adfs" in {g["name"] for g in meta["ruleset"]["groups"]}
    # cdktf.json's app reads lab files only: the user is told the flags will not deploy.
    assert "options given as flags (--auth, --topology) shape this output only" in result.err


def test_synth_writes_a_placement_lab(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = cli("synth", "--lab", TWO_BOX, "--out", str(out))
    assert result.code == 0, result.err
    stack = json.loads((out / "stacks" / "aws-two-box" / "cdk.tf.json").read_text())
    names = {sg["name"] for sg in stack["resource"]["aws_security_group"].values()}
    assert names == {"two-box-crm-app", "two-box-sql", "two-box-dc", "two-box-lab-servers"}


# -- the user's own catalogue -------------------------------------------------------------


@pytest.fixture
def combo_catalogue(catalogue_copy: Path) -> Path:
    topologies = catalogue_copy / "topologies.yaml"
    text = topologies.read_text(encoding="utf-8")
    start = text.index("  - id: full-server")
    block = text[start : text.index("  - id: split-roles")]
    topologies.write_text(
        text + block.replace("id: full-server", "id: fe-be-combo"), encoding="utf-8"
    )
    return catalogue_copy


def test_topology_choices_come_from_the_catalogue(cli: Cli, combo_catalogue: Path) -> None:
    result = cli("--catalog", str(combo_catalogue), "rules", "--topology", "fe-be-combo")
    assert result.code == 0, result.err
    refused = cli("rules", "--topology", "fe-be-combo")
    assert refused.code == 2
    assert "'fe-be-combo' is not one of 'full-server', 'split-roles'" in refused.err


def test_lab_files_name_topologies_of_the_catalogue(
    cli: Cli, combo_catalogue: Path, tmp_path: Path
) -> None:
    lab = write_lab(tmp_path, "name: combo\ntopology: fe-be-combo\n")
    result = cli("--catalog", str(combo_catalogue), "rules", "--lab", lab, "--format", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["topology"] == "fe-be-combo"
    refused = cli("rules", "--lab", lab)
    assert refused.code == 2 and "unknown topology 'fe-be-combo'" in refused.err


# -- bad placements -----------------------------------------------------------------------

APP = "web-application, asynchronous-service, sandbox-processing, deployment-web-service"
BAD_PLACEMENTS = [
    (
        "unknown role",
        f"[{APP}, sql-servr]",
        "[sql-server, reporting-services]",
        ["host 'app'", "field 'topology.hosts[0].roles[4]'", "unknown role 'sql-servr'"],
    ),
    (
        "role on two hosts",
        f"[{APP}, sql-server]",
        "[sql-server, reporting-services]",
        ["host 'sql'", "roles[0]", "'sql-server' is placed on both 'app' and 'sql'"],
    ),
    (
        "host with no roles",
        f"[{APP}, sql-server, reporting-services]",
        "[]",
        ["host 'sql'", "field 'topology.hosts[1].roles'", "at least one role"],
    ),
    (
        "client on a host",
        f"[{APP}]",
        "[sql-server, reporting-services, client]",
        ["host 'sql'", "roles[2]", "role 'client' is always outside the lab"],
    ),
    (
        "admin on a host",
        f"[{APP}]",
        "[sql-server, reporting-services, admin]",
        ["host 'sql'", "roles[2]", "role 'admin' is always outside the lab"],
    ),
]


def placement(app_roles: str, sql_roles: str, sql_name: str = "sql") -> str:
    return (
        "name: my-lab\ntopology:\n  hosts:\n"
        f"    - {{name: app, roles: {app_roles}}}\n"
        f"    - {{name: {sql_name}, roles: {sql_roles}}}\n"
        "    - {name: dc, roles: [domain-controller]}\n"
    )


def assert_refused(cli: Cli, tmp_path: Path, lab: str, fragments: list[str]) -> None:
    out = tmp_path / "rules.json"
    result = cli("rules", "--lab", lab, "-o", str(out))
    assert result.code == 2
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    for fragment in [lab.rsplit("/", 1)[-1], *fragments]:
        assert fragment in result.err, result.err
    assert not out.exists()


@pytest.mark.parametrize(
    ("case", "app_roles", "sql_roles", "fragments"),
    BAD_PLACEMENTS,
    ids=[c[0] for c in BAD_PLACEMENTS],
)
def test_bad_placement(
    cli: Cli, tmp_path: Path, case: str, app_roles: str, sql_roles: str, fragments: list[str]
) -> None:
    assert_refused(cli, tmp_path, write_lab(tmp_path, placement(app_roles, sql_roles)), fragments)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("app", "duplicate host name 'app'"),
        ("SQL_01", "invalid host name 'SQL_01'"),
        ("sql-", "invalid host name 'sql-'"),
        ("x" * 41, "at most 40 characters"),
        ("lab-servers", "reserved for the group every server carries"),
        ("clients", "reserved for outside peers"),
    ],
)
def test_bad_host_name(cli: Cli, tmp_path: Path, name: str, message: str) -> None:
    lab = write_lab(tmp_path, placement(f"[{APP}]", "[sql-server, reporting-services]", name))
    assert_refused(
        cli, tmp_path, lab, [f"host '{name}'", "field 'topology.hosts[1].name'", message]
    )


@pytest.mark.parametrize("role", REQUIRED)
def test_required_role_left_unplaced(cli: Cli, tmp_path: Path, role: str) -> None:
    text = HOSTS.replace(f"{role}, ", "").replace(f", {role}", "")
    if role == "domain-controller":
        text = text.replace("    - {name: dc, roles: [domain-controller]}\n", "")
    assert role not in text
    lab = write_lab(tmp_path, text)
    assert_refused(cli, tmp_path, lab, [f"role '{role}'", "placed on no host", "cannot run"])


@pytest.mark.parametrize(
    ("option", "field", "fix"),
    [
        ("domain_controllers: 2", "domain_controllers", "place domain-controller on a second host"),
        ("exchange_in_lab: true", "exchange_in_lab", "place exchange on a host"),
    ],
)
def test_an_option_the_placement_does_not_hold_is_refused(
    cli: Cli, tmp_path: Path, option: str, field: str, fix: str
) -> None:
    """With hosts of its own, the placement says how many domain controllers there are and
    whether Exchange is in the lab; an option asking for more is refused, not ignored."""
    lab = write_lab(tmp_path, HOSTS + f"options: {{{option}}}\n")
    assert_refused(cli, tmp_path, lab, [])
    assert cli("rules", "--lab", lab).err == (
        f"crm-ports: error: {lab}: lab 'my-lab': field 'options.{field}': {field} asks for "
        f"what the placement does not hold: {fix}\n"
    )


def test_two_placed_domain_controllers_hold_what_the_option_asks(cli: Cli, tmp_path: Path) -> None:
    placed = HOSTS + "    - {name: dc2, roles: [domain-controller]}\n"
    lab = write_lab(tmp_path, placed + "options: {domain_controllers: 2}\n")
    result = cli("rules", "--lab", lab, "--format", "json")
    assert result.code == 0, result.err
    rules = json.loads(result.out)
    assert rules["options"]["domain_controllers"] == 2
    assert any({r["from"], r["to"]} == {"dc", "dc2"} for r in rules["rules"])  # replication


def test_claims_needs_adfs_placed(cli: Cli, tmp_path: Path) -> None:
    lab = write_lab(tmp_path, HOSTS + "options: {auth: claims}\n")
    assert_refused(cli, tmp_path, lab, ["role 'adfs'", "placed on no host", "auth claims"])
    placed = HOSTS + "    - {name: sts, roles: [adfs]}\noptions: {auth: claims}\n"
    assert cli("rules", "--lab", write_lab(tmp_path, placed)).code == 0


def test_a_role_the_options_leave_without_a_flow_is_a_warning(cli: Cli, tmp_path: Path) -> None:
    """AD FS on a host of an `auth: iwa` lab: no AD FS flow applies, so the host got only
    RDP and the every-server rules, and `validate` and `check` passed in silence. Now
    both warn, in one line, and still exit 0; with `auth: claims` neither does."""
    idle = HOSTS + "    - {name: sts, roles: [adfs]}\n"
    lab = write_lab(tmp_path, idle)
    result = cli("validate", lab)
    assert result.code == 0, result
    assert result.out == f"{lab}: lab 'my-lab' is valid\n"
    assert result.err.splitlines() == [
        f"crm-ports: warning: {lab}:8: host 'sts': field 'topology.hosts[3].roles[0]': the "
        "options leave role 'adfs' without a flow (its flows need auth=claims): its host "
        "gets only the rules every server gets"
    ]
    checked = cli("check", "--lab", lab, "--format", "json")
    assert checked.code == 0, checked
    findings = json.loads(checked.out)["findings"]
    assert [(f["check"], f["severity"], f["subject"]) for f in findings] == [
        ("CRM011", "warning", "role adfs on sts")
    ]
    assert "auth=claims" in findings[0]["fix"]
    claims = write_lab(tmp_path, idle + "options: {auth: claims}\n")
    assert cli("validate", claims).err == ""
    assert json.loads(cli("check", "--lab", claims, "--format", "json").out)["findings"] == []


def test_a_role_without_a_flow_travels_with_the_rule_set(tmp_path: Path) -> None:
    """The rule set records it (JSON included, so a synthesized folder's `check --synth`
    sees it too); a rule set without one reads as before."""
    from crm_ports.ruleset import RuleSet

    lab = load_lab(
        Path(
            write_lab(
                tmp_path,
                HOSTS + "    - {name: sts, roles: [email-router]}\noptions: {email: outlook}\n",
            )
        )
    )
    ruleset = resolve_lab(load_catalogue(), lab)
    assert [(i.group, i.role) for i in ruleset.idle_roles] == [("sts", "email-router")]
    assert ruleset.idle_roles[0].needs.startswith("email=exchange|pop3-smtp or ")
    assert RuleSet.from_json(ruleset.to_json()).idle_roles == ruleset.idle_roles
    assert "idle_roles" not in resolve_lab(load_catalogue(), load_lab(Path(TWO_BOX))).to_json()


def test_placement_errors_in_the_python_api() -> None:
    lab = load_lab(Path(TWO_BOX))
    assert lab.placement is not None
    broken = lab.placement.hosts[1].__class__("sql", ("sql-server", "nope"))
    from dataclasses import replace

    bad = replace(lab, placement=replace(lab.placement, hosts=(*lab.placement.hosts[:1], broken)))
    with pytest.raises(InputError, match=r"host 'sql'.*unknown role 'nope'"):
        resolve_lab(load_catalogue(), bad)


# -- extra_rules --------------------------------------------------------------------------


def test_extra_rules_are_rules_with_their_reason(cli: Cli) -> None:
    data = rules_json(cli, "--lab", TWO_BOX)
    rule = next(r for r in data["rules"] if r["id"] == "crm-app.cidr-10-20-0-0-24.tcp.patch-proxy")
    assert (rule["protocol"], rule["from_port"], rule["to_port"]) == ("tcp", 8080, 8080)
    assert rule["description"].startswith("Lab rule: Windows Update through")
    [ref] = rule["refs"]
    assert ref.startswith("two-box.yaml:13: extra_rules[0]: Windows Update")
    cidr = next(g for g in data["groups"] if g["name"] == "cidr-10-20-0-0-24")
    assert (cidr["kind"], cidr["cidrs"]) == ("peer", ["10.20.0.0/24"])


def test_check_lists_extra_rules_as_warnings(cli: Cli) -> None:
    result = cli("check", "--lab", TWO_BOX, "--format", "json")
    assert result.code == 0, result.err
    findings = [f for f in json.loads(result.out)["findings"] if f["check"] == "CRM009"]
    assert {(f["severity"], f["subject"]) for f in findings} == {
        ("warning", "crm-app.cidr-10-20-0-0-24.tcp.patch-proxy"),
        ("warning", "administrators.sql.tcp.ssms"),
    }
    assert all("two-box.yaml" in f["message"] for f in findings)


def test_extra_rules_in_the_views(cli: Cli) -> None:
    assert "TCP 8080" in cli("matrix", "--lab", TWO_BOX).out
    diagram = cli("diagram", "--lab", TWO_BOX).out
    assert "TCP 8080 (Lab rule: Windows Update through the hosting provider's patching" in diagram
    assert "TCP 1433 (Lab rule: DBAs query the CRM databases" in diagram


EXTRA = HOSTS + "extra_rules:\n  - {from: %s, to: %s, protocol: tcp, ports: %s%s}\n"
REASON = ", reason: a monitoring agent polls this port"


@pytest.mark.parametrize(
    ("source", "target", "ports", "tail", "fragments"),
    [
        ("app", "proxy", "8080", REASON, ["extra_rules[0].to", "'proxy' is no host, peer"]),
        ("app", "10.0.0.1/24", "8080", REASON, ["'10.0.0.1/24' is not an IPv4 CIDR"]),
        ("clients", "10.0.0.0/24", "8080", REASON, ["both ends are outside the lab"]),
        ("app", "app", "8080", REASON, ["crosses no firewall"]),
        ("app", "sql", "1433", REASON, ["overlaps rule 'app.sql.tcp.ms-sql'"]),
        ("app", "sql", "99999", REASON, ["extra_rules[0].ports", "outside 0-65535"]),
        ("app", "sql", "8080", "", ["extra_rules[0]", "'reason' is missing"]),
    ],
)
def test_bad_extra_rule(
    cli: Cli,
    tmp_path: Path,
    source: str,
    target: str,
    ports: str,
    tail: str,
    fragments: list[str],
) -> None:
    lab = write_lab(tmp_path, EXTRA % (source, target, ports, tail))
    assert_refused(cli, tmp_path, lab, fragments)


def test_the_cdktf_app_builds_a_placement_lab(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cdktf.json`'s app (`python -m crm_ports.app`) with CRM_PORTS_LABS naming the lab."""
    from crm_ports.app import main

    monkeypatch.setenv("CRM_PORTS_LABS", TWO_BOX)
    monkeypatch.setenv("CDKTF_OUTDIR", str(tmp_path / "cdktf.out"))
    main()
    stack = json.loads(
        (tmp_path / "cdktf.out" / "stacks" / "azure-two-box" / "cdk.tf.json").read_text()
    )
    assets = stack["resource"]["azurerm_application_security_group"]
    assert set(assets) == {"asg_crm-app", "asg_sql", "asg_dc", "asg_lab-servers"}


def test_azure_audit_of_a_placement_lab(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """`audit azure --lab` on the two-box lab, through the real azure-mgmt-network client
    answering from ARM responses written from the lab's own plan (the same generator as
    tests/fixtures/azure/): clean, then a hand-added rule reported as unexpected."""
    import importlib.util

    from crm_ports.audit import azure as audit_module
    from crm_ports.plans.azure import plan_azure
    from tests.test_audit_azure import Replay, ReplayTransport

    spec = importlib.util.spec_from_file_location(
        "regenerate", Path(__file__).parent / "fixtures" / "azure" / "regenerate.py"
    )
    assert spec is not None and spec.loader is not None
    regenerate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(regenerate)
    lab = load_lab(Path(TWO_BOX))
    scenarios = regenerate.scenarios(plan_azure(resolve_lab(load_catalogue(), lab), lab.name))
    args = [
        "audit", "azure", "--lab", TWO_BOX, "--format", "json",
        "--subscription-id", regenerate.SUBSCRIPTION,
        "--resource-group", regenerate.RESOURCE_GROUP,
    ]  # fmt: skip
    for name, code, counts in (
        ("round-trip", 0, {"missing": 0, "unexpected": 0, "changed": 0}),
        ("extra-rule", 1, {"missing": 0, "unexpected": 1, "changed": 0}),
        ("missing-rule", 1, {"missing": 1, "unexpected": 0, "changed": 0}),
    ):
        replay = Replay(ReplayTransport(scenarios[name][1]))
        monkeypatch.setattr(audit_module, "default_client", replay.client)
        result = cli(*args)
        assert (result.code, result.err) == (code, ""), name
        assert json.loads(result.out)["counts"] == counts, name


def test_diff_shows_a_lab_rule_with_its_reason(cli: Cli, tmp_path: Path) -> None:
    base = write_lab(tmp_path, HOSTS)
    head = tmp_path / "head.yaml"
    head.write_text(EXTRA % ("app", "10.9.0.0/24", "3128", REASON), encoding="utf-8")
    result = cli("diff", "--base", base, "--head", str(head))
    assert result.code == 1, result.err
    line = next(x for x in result.out.splitlines() if "app.cidr-10-9-0-0-24.tcp.lab-3128" in x)
    assert "TCP 3128 from app to cidr-10-9-0-0-24, added" in line
    assert line.endswith("Lab rule: a monitoring agent polls this port")


def test_verify_judges_a_synthesized_placement_lab_as_written(cli: Cli, tmp_path: Path) -> None:
    """crm-ports.json records the lab's hosts and lab rules, so `verify --synth` needs no
    lab file to judge the folder (and lab rules are expected, not extra reach)."""
    out = tmp_path / "out"
    assert cli("synth", "--lab", TWO_BOX, "--out", str(out)).code == 0
    meta = json.loads((out / "stacks" / "aws-two-box" / "crm-ports.json").read_text())
    assert [h["name"] for h in meta["lab"]["placement"]] == ["crm-app", "sql", "dc"]
    assert [e["cites"] for e in meta["lab"]["extra_rules"]] == [
        "two-box.yaml:13",
        "two-box.yaml:19",
    ]
    result = cli("verify", "--synth", str(out), "--format", "json")
    assert result.code == 0, result.out + result.err
    report = json.loads(result.out)
    assert report
