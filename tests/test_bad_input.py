"""Bad input: one line naming file, entry and field; exit status 2; nothing written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, Result

# (file, old text, new text, occurrence to replace (1-based), expected fragments of the message)
CATALOGUE_BREAKS = [
    (
        "flows.yaml",
        "to: sql-server\n    services: [ms-sql]",
        "to: sql-servr\n    services: [ms-sql]",
        1,
        [
            "catalog/flows.yaml:",
            "flow 'client-sql-views'",
            "field 'to'",
            "unknown role 'sql-servr'",
        ],
    ),
    (
        "flows.yaml",
        "services: [ms-sql]",
        "services: [ms-sqll]",
        1,
        [
            "flows.yaml:",
            "flow 'client-sql-views'",
            "field 'services[0]'",
            "unknown service 'ms-sqll'",
        ],
    ),
    (
        "services.yaml",
        "ports: [tcp/3389]",
        "ports: [tcp/73389]",
        1,
        ["services.yaml:", "service 'rdp'", "field 'ports[0]'", "outside 0-65535"],
    ),
    (
        "services.yaml",
        "ports: [tcp/5985-5986]",
        "ports: [tcp/5986-5985]",
        1,
        ["services.yaml:", "service 'winrm'", "field 'ports[0]'", "inverted"],
    ),
    (
        "services.yaml",
        "ports: [tcp/3389]",
        "ports: [sctp/3389]",
        1,
        ["services.yaml:", "service 'rdp'", "field 'ports[0]'", "unknown protocol 'sctp'"],
    ),
    (
        "services.yaml",
        "id: ntp",
        "id: ms-sql",
        1,
        ["services.yaml:", "service 'ms-sql'", "field 'id'", "duplicate id 'ms-sql'"],
    ),
    (
        "topologies.yaml",
        "      - name: adfs\n        roles: [adfs]\n        when: {auth: claims}\n",
        "",
        2,
        ["flows.yaml:", "flow 'client-adfs'", "field 'to'", "not placed by topology 'split-roles'"],
    ),
    ("flows.yaml", "flows:\n", "flows: [\n", 1, ["flows.yaml:", "malformed YAML"]),
    (
        "flows.yaml",
        "when: {email: outlook}",
        "when: {email: outlok}",
        1,
        ["flows.yaml:", "flow 'outlook-crm'", "field 'when.email'", "'outlok' is not one of"],
    ),
    (
        "flows.yaml",
        "  - id: dns\n",
        "  - id: dns\n    colour: red\n",
        1,
        ["flows.yaml:", "flow 'dns'", "field 'colour'", "unknown key"],
    ),
    (
        "flows.yaml",
        '{source: seed-001, at: "Default CRM connectivity requirements, ALL: RDP',
        '{source: seed-009, at: "Default CRM connectivity requirements, ALL: RDP',
        1,
        ["flows.yaml:", "flow 'admin-rdp'", "field 'cites[0].source'", "unknown source 'seed-009'"],
    ),
    # A field whose schema has alternatives (a role or a list of roles) is named in full,
    # at its own line, not relative to the alternative that matched best.
    (
        "flows.yaml",
        "from: client\n",
        "from: [5]\n",
        1,
        ["flows.yaml:", "flow 'client-web'", "field 'from[0]'", "5 is not of type 'string'"],
    ),
]


def _break(directory: Path, name: str, old: str, new: str, occurrence: int) -> None:
    path = directory / name
    text = path.read_text()
    parts = text.split(old)
    assert len(parts) > occurrence, f"{old!r} occurs fewer than {occurrence} times in {name}"
    path.write_text(old.join(parts[:occurrence]) + new + old.join(parts[occurrence:]))


def _one_line_error(result: Result, fragments: list[str]) -> None:
    assert result.code == 2, result
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.mark.parametrize(("name", "old", "new", "occurrence", "fragments"), CATALOGUE_BREAKS)
def test_broken_catalogue(
    cli: Callable[..., Result],
    catalogue_copy: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    old: str,
    new: str,
    occurrence: int,
    fragments: list[str],
) -> None:
    _break(catalogue_copy, name, old, new, occurrence)
    monkeypatch.chdir(tmp_path)  # messages name catalog/... relative to the working dir
    out = tmp_path / "rules.json"
    _one_line_error(cli("validate", "catalog"), fragments)
    result = cli(
        "--catalog", "catalog", "rules", "--auth", "claims", "--format", "json", "-o", str(out)
    )
    _one_line_error(result, fragments)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".rules.json")]


LAB_BREAKS = [
    ("name: x\ncolour: red\n", ["lab", "field 'colour'", "unknown key"]),
    ("name: x\nclient_cidrs: [10.0.0.1/8]\n", ["lab 'x'", "field 'client_cidrs'", "host bits set"]),
    (
        "name: x\noptions: {auth: kerberos}\n",
        ["lab 'x'", "field 'auth'", "'kerberos' is not one of"],
    ),
    ("name: x\noptions: {web_port: 0}\n", ["lab 'x'", "field 'web_port'", "outside 1-65535"]),
    ("name: x\noptions: {rpc_range: 60000-50000}\n", ["lab 'x'", "field 'rpc_range'", "inverted"]),
    ("name: x\noptions: {colour: red}\n", ["lab 'x'", "field 'colour'", "unknown option"]),
    (
        "name: x\noptions: {email: exchange, exchange_server: '2003'}\n",
        ["options", "exchange_server", "Exchange Server 2003 and Exchange Server 2007"],
    ),
    ("name: [x\n", ["malformed YAML"]),
    ("name: X Y\n", ["field 'name'", "not a valid id"]),
    ("clouds: [gcp]\nname: x\n", ["field 'clouds[0]'", "'gcp' is not one of"]),
    # The state backend: shape, required keys, one key per stack, and no default lab's name.
    ("name: x\nbackend: {s3: {bucket: lab-state, colour: red}}\n", ["field 'backend.s3.colour'"]),
    ("name: x\nbackend: {s3: {region: eu-west-1}}\n", ["field 'backend.s3'", "'bucket'"]),
    ("name: x\nbackend: {gcs: {bucket: lab-state}}\n", ["field 'backend.gcs'", "unknown key"]),
    (
        "name: x\nbackend: {s3: {bucket: lab-state}, azurerm: {}}\n",
        ["field 'backend'", "too many properties"],
    ),
    (
        "name: x\nbackend: {azurerm: {resource_group_name: rg, container_name: tfstate}}\n",
        ["field 'backend.azurerm'", "'storage_account_name'"],
    ),
    (
        "name: x\nbackend: {s3: {bucket: lab-state, key: lab.tfstate}}\n",
        ["lab 'x'", "field 'backend.s3.key'", "put {stack} in it"],
    ),
    ("name: x\nbackend: {s3: {bucket: B}}\n", ["field 'backend.s3.bucket'", "an S3 bucket name"]),
    # The lab's own placement is one of two forms of `topology`: its fields are named in full.
    ("name: x\ntopology: {hosts: 5}\n", ["lab.yaml:2:", "field 'topology.hosts'", "not of type"]),
    (
        "name: x\ntopology:\n  hosts:\n    - {name: a, roles: 5}\n",
        ["lab.yaml:4:", "field 'topology.hosts[0].roles'", "5 is not of type 'array'"],
    ),
    (
        "name: x\ntopology:\n  hosts:\n    - {name: a, roles: [x], colour: red}\n",
        ["lab.yaml:4:", "field 'topology.hosts[0].colour'", "unknown key"],
    ),
    (
        "name: x\ntopology:\n  hosts:\n    - {name: dc, roles: [domain-controller]}\n",
        ["placement 'x'", "field 'topology.hosts'", "role 'web-application'", "on no host"],
    ),
    (
        "name: split-roles\n",
        ["lab 'split-roles'", "field 'name'", "the name of a default lab"],
    ),
]


@pytest.mark.parametrize(("text", "fragments"), LAB_BREAKS)
def test_broken_lab_file(
    cli: Callable[..., Result],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    fragments: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("lab.yaml").write_text(text)
    _one_line_error(cli("rules", "--lab", "lab.yaml"), ["lab.yaml", *fragments])
    _one_line_error(cli("validate", "lab.yaml"), ["lab.yaml", *fragments])
    # `ports` shows the catalogue under the lab's options, and still refuses a broken lab.
    _one_line_error(cli("ports", "--lab", "lab.yaml"), ["lab.yaml", *fragments])


def test_lab_name_aws_refuses(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rules are cloud-neutral; the clouds' own limits are checked by validate/synth."""
    monkeypatch.chdir(tmp_path)
    Path("lab.yaml").write_text("name: sg\nclouds: [aws]\n")
    fragments = ["lab.yaml", "lab 'sg'", "field 'name'", "starting with 'sg-'"]
    _one_line_error(cli("validate", "lab.yaml"), fragments)
    _one_line_error(cli("synth", "--lab", "lab.yaml", "--out", "out"), fragments)
    assert not Path("out").exists()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--auth", "kerberos"], ["command line", "--auth", "'kerberos' is not one of"]),
        (["--web-port", "70000"], ["command line", "web_port", "outside 1-65535"]),
        (["--rpc-range", "9-2"], ["command line", "rpc_range", "inverted"]),
        (["--client-cidr", "nope"], ["command line", "client_cidrs", "not a CIDR"]),
        (
            ["--email", "exchange", "--exchange-server", "online"],
            ["exchange_server", "Exchange Online"],
        ),
        (["--lab", "missing.yaml"], ["missing.yaml", "no such file"]),
        (["--bogus"], ["command line", "--bogus"]),
    ],
)
def test_bad_command_line(
    cli: Callable[..., Result], args: list[str], fragments: list[str]
) -> None:
    _one_line_error(cli("rules", *args), fragments)


@pytest.mark.parametrize(
    "args",
    [["diff", "--base", "no-such-ref"], ["diagram", "--base", "no-such-ref"]],
    ids=["diff", "diagram"],
)
def test_unknown_state_names_its_option(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    """The field is the option, as for every other flag; the value is in the message."""
    monkeypatch.chdir(tmp_path)
    fragments = ["command line", "field '--base'", "'no-such-ref' is neither", "git ref"]
    _one_line_error(cli(*args), fragments)


def test_bad_jobs_environment_is_the_only_line(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad CRM_PORTS_JOBS is found with the rest of the input, before synth says anything
    else (the note about option flags came first) and before anything is written."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CRM_PORTS_JOBS", "two")
    _one_line_error(cli("synth", "--auth", "claims", "--out", "out"), ["CRM_PORTS_JOBS", "'two'"])
    assert list(tmp_path.iterdir()) == []


def test_validate_missing_path(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A path that does not exist is neither a catalogue folder nor a lab file."""
    monkeypatch.chdir(tmp_path)
    _one_line_error(cli("validate", "my-lab.yaml"), ["my-lab.yaml", "no such file or directory"])


def test_validate_resolves_a_lab_against_the_catalogue_in_use(
    cli: Callable[..., Result], catalogue_copy: Path
) -> None:
    """`--catalog` applies to the lab files `validate` checks, as its help says."""
    _break(catalogue_copy, "topologies.yaml", "id: split-roles", "id: split-rolez", 1)
    result = cli("--catalog", str(catalogue_copy), "validate", LAB)
    _one_line_error(result, ["contoso-claims.yaml", "unknown topology 'split-roles'"])


LAB = str(REPO / "labs" / "contoso-claims.yaml")
# Every command that writes a report with -o, each in a form that needs no git, synthesis
# or cloud.
WRITERS = [
    ["ports"],
    ["rules", "--lab", LAB],
    ["matrix"],
    ["check", "--lab", LAB],
    ["check", "--list"],
    ["diagram", "--lab", LAB],
    ["diff", "--base", LAB, "--head", str(REPO / "labs" / "fabrikam-full-server.yaml")],
    ["audit", "aws", "--lab", LAB],  # refused before any cloud call
]


@pytest.mark.parametrize("args", WRITERS, ids=lambda args: " ".join(args[:2]))
@pytest.mark.parametrize(
    ("output", "fragments"),
    [
        ("missing/out.txt", ["missing/out.txt", "field '--output'", "directory does not exist"]),
        ("", ["field '--output'", "is a directory"]),  # the empty path is the working folder
    ],
)
def test_bad_output_path(
    cli: Callable[..., Result],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    output: str,
    fragments: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    _one_line_error(cli(*args, "-o", output), fragments)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args", [a for a in WRITERS if a[0] != "audit"], ids=lambda args: " ".join(args[:2])
)
def test_output_that_cannot_be_written(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    """The folder exists and FILE is no folder, but the file system refuses the write: a
    name of 255 bytes is allowed, the scratch file beside it (`.NAME.xxxxxxxx`) is not.
    (Permissions cannot make this fail: the tests may run as root.) `audit` finds this
    only after reading the cloud: tests/test_audit_aws.py has its case."""
    monkeypatch.chdir(tmp_path)
    name = "r" * 255
    fragments = [name, "field '--output'", "cannot write: File name too long"]
    _one_line_error(cli(*args, "-o", name), fragments)
    assert list(tmp_path.iterdir()) == []


def test_synth_out_naming_a_file_is_refused(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`synth --out` is a folder: a file of that name is the user's and stays as it was."""
    monkeypatch.chdir(tmp_path)
    Path("cdktf.out").write_text("notes\n")
    result = cli("synth", "--lab", LAB, "--out", "cdktf.out")
    _one_line_error(result, ["Invalid value for '--out'", "'cdktf.out' is a file"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdktf.out"]
    assert Path("cdktf.out").read_text() == "notes\n"


# (command line, the input file that -o names): a report never replaces what it was made from
OVERWRITES = [
    (["ports", "--lab", "lab.yaml"], "lab.yaml"),
    (["rules", "--lab", "lab.yaml"], "lab.yaml"),
    (["matrix", "--lab", "lab.yaml"], "lab.yaml"),
    (["check", "--lab", "lab.yaml"], "lab.yaml"),
    (["diagram", "--lab", "lab.yaml"], "lab.yaml"),
    (["diff", "--base", "lab.yaml", "--head", "other.yaml"], "other.yaml"),
    (["--catalog", "catalog", "rules"], "catalog/flows.yaml"),
    (["audit", "aws", "--lab", "lab.yaml"], "lab.yaml"),  # refused before any cloud call
    (["verify", "--synth", "out", "--var-file", "vars.tfvars"], "vars.tfvars"),
]


@pytest.mark.parametrize(("args", "target"), OVERWRITES, ids=[" ".join(a) for a, _ in OVERWRITES])
def test_output_never_replaces_an_input(
    cli: Callable[..., Result],
    catalogue_copy: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    target: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("lab.yaml").write_text("name: x\nclouds: [aws]\n")
    Path("other.yaml").write_text("name: y\nclouds: [aws]\n")
    Path("vars.tfvars").write_text('client_cidrs = ["10.1.0.0/16"]\n')
    Path("out").mkdir()
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    fragments = [target, "field '--output'", "is an input of this command"]
    _one_line_error(cli(*args, "-o", f"./{target}"), fragments)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


# -- issue 20: each message one clear line -----------------------------------------------

# (lab file, the fragments of its one line): what was unclear and what the line says now
CLEAR_LINES = [
    # it said "not a valid id (lower-case words joined by '-')"
    (
        "name: x\naws: {endpoint_url: '127.0.0.1:5055'}\n",
        ["lab.yaml:2:", "field 'aws.endpoint_url'", "with its scheme, http:// or https://"],
    ),
    # it said "unknown key ('client_cidr' was unexpected)", naming no valid key
    (
        "name: x\nclient_cidr: [10.0.0.0/16]\n",
        [
            "lab.yaml:2:",
            "field 'client_cidr'",
            "did you mean 'client_cidrs'?",
            "admin_cidrs, adopt, adopt_azure, aws",
        ],
    ),
    (
        "name: x\naws: {regoin: eu-west-1}\n",
        ["field 'aws.regoin'", "did you mean 'region'?", "(valid keys: egress, endpoint_url"],
    ),
    # it had no line number
    ("name: x\nclouds: [aws]\ntopology: split-role\n", ["lab.yaml:3:", "unknown topology"]),
    ("name: x\noptions:\n  topology: split-rols\n", ["lab.yaml:3:", "unknown topology"]),
    # the seed's words for an unsupported combination, at the line of its option
    (
        "name: x\noptions:\n  email: exchange\n  exchange_server: '2003'\n",
        ["lab.yaml:4:", "unsupported combination"],
    ),
    # it said "'10.0.0.0/33' is not a CIDR range ('10.0.0.0/33' does not appear to be ...)"
    (
        "name: x\nclient_cidrs: [10.0.0.0/33]\n",
        ["field 'client_cidrs'", "'10.0.0.0/33' is not a CIDR range: the prefix length"],
    ),
    ("name: x\naws: {vpc_cidr: 10.0.0.0/33}\n", ["field 'aws.vpc_cidr'", "prefix length"]),
    ("name: x\nclient_cidrs: [10.0.0.1/8]\n", ["host bits set: the range is 10.0.0.0/8"]),
    ("name: x\nclient_cidrs: [300.0.0.0/8]\n", ["the address is not an IP address"]),
]


@pytest.mark.parametrize(("text", "fragments"), CLEAR_LINES)
def test_a_lab_mistake_is_one_clear_line(
    cli: Callable[..., Result],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    fragments: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("lab.yaml").write_text(text)
    for command in (["validate", "lab.yaml"], ["check", "--lab", "lab.yaml"]):
        _one_line_error(cli(*command), fragments)


def test_a_bad_range_is_named_once(cli: Callable[..., Result]) -> None:
    """ipaddress's own message repeated the value the line had already quoted."""
    result = cli("rules", "--client-cidr", "10.0.0.0/33")
    _one_line_error(result, ["field 'client_cidrs'", "prefix length must be 0 to 32"])
    assert result.err.count("10.0.0.0/33") == 1, result.err


def test_every_pattern_of_the_schemas_says_what_it_accepts() -> None:
    """A value a pattern refuses is reported with the pattern's description; without one
    it would read as a regular expression, or (as before) as 'not a valid id'."""
    import json

    def patterns(node: object, path: str) -> list[tuple[str, object]]:
        if isinstance(node, dict):
            own = [(path, node)] if "pattern" in node else []
            return own + [p for k, v in node.items() for p in patterns(v, f"{path}/{k}")]
        if isinstance(node, list):
            return [p for i, v in enumerate(node) for p in patterns(v, f"{path}/{i}")]
        return []

    for schema in sorted((REPO / "crm_ports" / "schema").glob("*.json")):
        for where, node in patterns(json.loads(schema.read_text()), schema.name):
            assert isinstance(node, dict) and node.get("description"), where


def test_validate_without_a_path_checks_the_built_in_catalogue(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From any folder: `validate catalog/` failed outside the source tree, and nothing
    named the built-in catalogue."""
    monkeypatch.chdir(tmp_path)
    for args in (["validate"], ["validate", "--builtin"]):
        result = cli(*args)
        assert result.code == 0, result
        assert result.out.startswith("built-in catalogue: ") and "resolved" in result.out
    assert list(tmp_path.iterdir()) == []


def test_validate_names_the_catalogue_in_use(
    cli: Callable[..., Result], catalogue_copy: Path
) -> None:
    """Without a path, the catalogue in use: --catalog's; --builtin still the built-in one."""
    _break(catalogue_copy, "services.yaml", "ports: [tcp/3389]", "ports: [tcp/73389]", 1)
    _one_line_error(cli("--catalog", str(catalogue_copy), "validate"), ["service 'rdp'"])
    result = cli("--catalog", str(catalogue_copy), "validate", "--builtin")
    assert result.code == 0 and result.out.startswith("built-in catalogue: "), result


def test_validate_reads_a_folder_of_lab_files_as_labs(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`validate labs/` read the folder as a catalogue and refused the first lab file's
    keys ("field 'clouds': unknown key")."""
    monkeypatch.chdir(tmp_path)
    Path("labs").mkdir()
    for name in ("contoso-claims.yaml", "fabrikam-full-server.yaml"):
        Path("labs", name).write_bytes((REPO / "labs" / name).read_bytes())
    result = cli("validate", "labs/")
    assert result.code == 0, result
    assert result.out.splitlines() == [
        "labs/contoso-claims.yaml: lab 'contoso-claims' is valid",
        "labs/fabrikam-full-server.yaml: lab 'fabrikam-full-server' is valid",
    ]
    Path("labs", "typo.yaml").write_text("name: typo\nclient_cidr: [10.0.0.0/16]\n")
    result = cli("validate", "labs")
    assert result.code == 2 and len(result.err.splitlines()) == 1, result
    assert "labs/typo.yaml:2: lab: field 'client_cidr': unknown key" in result.err
    # a catalogue folder is still a catalogue, the built-in one by any path
    assert cli("validate", str(REPO / "catalog")).code == 0


def test_validate_reads_one_file_of_a_catalogue_folder_as_that_folder(
    cli: Callable[..., Result], catalogue_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pre-commit passes the changed files alone (`validate catalog/flows.yaml
    catalog/roles.yaml`): each was read as a whole catalogue and refused ("field 'sources':
    the catalogue has no entries in this section"). The folder is validated, once; a
    break in the file passed is still found."""
    monkeypatch.chdir(catalogue_copy.parent)
    result = cli("validate", "catalog/flows.yaml", "catalog/roles.yaml")
    assert result.code == 0, result
    assert len(result.out.splitlines()) == 1 and result.out.startswith("catalog: ")
    _break(catalogue_copy, "services.yaml", "ports: [tcp/3389]", "ports: [tcp/73389]", 1)
    _one_line_error(cli("validate", "catalog/flows.yaml"), ["service 'rdp'"])
    # a file holding every section is still a catalogue of its own, wherever it lies
    whole = "\n".join(p.read_text() for p in sorted((REPO / "catalog").glob("*.yaml")))
    Path("whole.yaml").write_text(whole)
    Path("other.yaml").write_text("name: not-a-catalogue\n")
    assert cli("validate", "whole.yaml").code == 0
