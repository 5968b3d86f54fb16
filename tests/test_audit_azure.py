"""`crm-ports audit azure` through the real NetworkManagementClient: only the socket is
replaced. `ReplayTransport` is the SDK's own requests transport with an adapter that
answers from the ARM response fixtures in tests/fixtures/azure/, so the client's
pipeline (bearer-token policy, retries, paging by nextLink, deserialization, ARM error
mapping) runs as it does against management.azure.com."""

from __future__ import annotations

import io
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlparse

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import RequestsTransport
from azure.mgmt.network import NetworkManagementClient
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from crm_ports.audit import azure as audit_module
from crm_ports.audit.azure import AzureTarget, NetworkClient, audit_azure
from crm_ports.audit.policy import PolicyScope
from crm_ports.catalogue.load import load_catalogue
from crm_ports.errors import InputError
from crm_ports.lab.model import Lab
from crm_ports.options import Options
from crm_ports.plans.azure import AzurePlan, plan_azure
from crm_ports.resolver.engine import resolve
from tests.conftest import REPO, Result

FIXTURES = Path(__file__).parent / "fixtures" / "azure"
TOKEN = "recorded-token"
Cli = Callable[..., Result]


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    authorization: str


@dataclass
class ReplayAdapter(BaseAdapter):
    """Answers each request with the fixture interaction of the same method, path (ARM
    paths are case-insensitive) and query (api-version aside); anything else fails.
    Interactions for one request answer in turn, the last for every later try, so a
    fixture can throttle once and then answer, or fail on every retry."""

    interactions: list[dict[str, Any]]
    seen: list[Seen] = field(default_factory=list)
    used: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        super().__init__()

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        url = urlparse(str(request.url))
        query = dict(parse_qsl(url.query))
        api_version = query.pop("api-version", "")
        path = unquote(url.path)
        self.seen.append(
            Seen(str(request.method), path, query, str(request.headers.get("Authorization")))
        )
        assert api_version, "the SDK always sends api-version"
        matching = [
            index
            for index, item in enumerate(self.interactions)
            if item["request"]["method"] == request.method
            and item["request"]["path"].lower() == path.lower()
            and item["request"]["query"] == query
        ]
        if not matching:
            raise AssertionError(f"no recorded response for {request.method} {request.url}")
        index = next((i for i in matching if i not in self.used), matching[-1])
        self.used.add(index)
        return self._response(request, self.interactions[index]["response"])

    @staticmethod
    def _response(request: requests.PreparedRequest, recorded: dict[str, Any]) -> requests.Response:
        body = recorded["body"]  # JSON, or the text of a page that is not (a proxy's)
        body = (body if isinstance(body, str) else json.dumps(body)).encode()
        response = requests.Response()
        response.status_code = recorded["status"]
        response.reason = HTTPStatus(recorded["status"]).phrase
        response.headers = CaseInsensitiveDict(recorded["headers"])
        response.raw = io.BytesIO(body)
        response._content = body
        response.encoding = "utf-8"
        response.url = str(request.url)
        response.request = request
        return response

    def close(self) -> None:
        pass


class ReplayTransport(RequestsTransport):  # type: ignore[misc]  # azure-core: untyped here
    """azure-core's RequestsTransport over a session whose HTTPS adapter replays. The
    retry policy waits through `transport.sleep`; the waits are recorded, not slept, so
    a test sees each retry as an event and never waits for one."""

    def __init__(self, interactions: list[dict[str, Any]]) -> None:
        self.adapter = ReplayAdapter(interactions)
        self.waits: list[float] = []
        session = requests.Session()
        session.mount("https://", self.adapter)
        super().__init__(session=session, session_owner=False)

    def sleep(self, duration: float) -> None:
        self.waits.append(duration)


class FakeCredential:
    """A TokenCredential: what DefaultAzureCredential hands the pipeline, minus Entra ID."""

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        assert scopes == ("https://management.azure.com/.default",)
        return AccessToken(TOKEN, int(time.time()) + 3600)


@dataclass
class Replay:
    transport: ReplayTransport

    def client(self, target: AzureTarget) -> NetworkClient:
        client: NetworkClient = NetworkManagementClient(
            FakeCredential(), target.subscription_id, transport=self.transport
        )
        return client

    @property
    def seen(self) -> list[Seen]:
        return self.transport.adapter.seen


def replay(name: str) -> tuple[Replay, AzureTarget]:
    data = fixture(name)
    target = AzureTarget(data["subscription_id"], data["resource_group"])
    return Replay(ReplayTransport(data["interactions"])), target


def plan() -> AzurePlan:
    lab = fixture("round-trip")["lab"]
    return plan_azure(resolve(load_catalogue(), Options(topology=lab)), lab)


def test_round_trip_fixtures_follow_the_plan() -> None:
    """These fixtures are written from the plan (a round trip; the Microsoft-shaped ones
    are in tests/test_audit_azure_shapes.py); a catalogue change must regenerate them."""
    pages = [i["response"]["body"] for i in fixture("round-trip")["interactions"]]
    rules = [r for page in pages[1:3] for r in page["value"]]
    recorded = sorted((r["name"], r["properties"]["priority"]) for r in rules)
    assert recorded == sorted((r.name, r.priority) for r in plan().rules), (
        "tests/fixtures/azure/ predates the current Azure plan: run "
        ".venv/bin/python tests/fixtures/azure/regenerate.py and review the diff"
    )


def test_round_trip_has_no_findings_and_every_page_is_read() -> None:
    recorded, target = replay("round-trip")
    report = audit_azure(plan(), target, client_factory=recorded.client)
    assert report.findings == ()
    assert dict(report.checked) == {"application_security_groups": 4, "nsg_rules": 15}
    assert [(s.method, s.path.rsplit("/", 1)[-1], sorted(s.query)) for s in recorded.seen] == [
        ("GET", "full-server-nsg", []),
        ("GET", "securityRules", []),
        ("GET", "securityRules", ["$skiptoken"]),
        ("GET", "applicationSecurityGroups", []),
    ]
    assert {s.authorization for s in recorded.seen} == {f"Bearer {TOKEN}"}


def test_deleted_rule_is_missing_once() -> None:
    recorded, target = replay("missing-rule")
    dropped = fixture("missing-rule")["about"].split()[1]
    report = audit_azure(plan(), target, client_factory=recorded.client)
    [finding] = report.findings
    assert (finding.status, finding.resource, finding.name) == ("missing", "nsg-rule", dropped)
    assert finding.container == plan().nsg_name
    assert finding.summary.startswith(
        str(next(r for r in plan().rules if r.name == dropped).priority)
    )


def test_rule_allowing_sql_from_the_internet_is_unexpected() -> None:
    recorded, target = replay("extra-rule")
    report = audit_azure(plan(), target, client_factory=recorded.client)
    [finding] = report.findings
    assert (finding.status, finding.resource, finding.name) == (
        "unexpected",
        "nsg-rule",
        "allow-sql-from-internet",
    )
    assert finding.summary == "200 Inbound Allow Tcp 1433 from Internet to *"
    assert finding.live_id.endswith("/securityRules/allow-sql-from-internet")


def test_live_rule_breaking_a_policy_carries_the_check_id_and_severity() -> None:
    recorded, target = replay("extra-rule")
    options = Options(topology=fixture("round-trip")["lab"])
    lab = Lab(name=plan().lab, options=options)
    scope = PolicyScope(lab, resolve(load_catalogue(), options))
    report = audit_azure(plan(), target, client_factory=recorded.client, policy=scope)
    checks = {(f.check, f.severity, f.subject) for f in report.policy}
    assert checks == {
        ("CRM003", "error", "azurerm_network_security_rule.allow-sql-from-internet"),
    }
    assert report.policy_errors and report.policy_counts()["errors"] == 1
    clean_recorded, _ = replay("round-trip")
    clean = audit_azure(plan(), target, client_factory=clean_recorded.client, policy=scope)
    assert clean.policy == ()


def test_edited_rule_is_changed_not_missing_plus_unexpected() -> None:
    """Same name, other ports and priority: paired by name, reported field by field."""
    data = fixture("round-trip")
    page = data["interactions"][1]["response"]["body"]["value"]
    edited = page[0]["properties"]
    old_priority, edited["priority"] = edited["priority"], 4000
    ports = edited["destinationPortRanges"]
    edited["destinationPortRanges"] = [*ports, "8080"]
    target = AzureTarget(data["subscription_id"], data["resource_group"])
    recorded = Replay(ReplayTransport(data["interactions"]))
    report = audit_azure(plan(), target, client_factory=recorded.client)
    [finding] = report.findings
    assert (finding.status, finding.name) == ("changed", page[0]["name"])
    assert [(c.field, c.expected, c.actual) for c in finding.changes] == [
        ("priority", str(old_priority), "4000"),
        ("ports", ",".join(ports), ",".join([*ports, "8080"])),
    ]


@pytest.mark.parametrize(
    ("name", "needles"),
    [
        ("forbidden", ("access denied (AuthorizationFailed: The client", "Reader role")),
        ("not-found", ("no such lab", "full-server-nsg", "ResourceNotFound")),
    ],
)
def test_arm_errors_become_one_line(name: str, needles: tuple[str, ...]) -> None:
    recorded, target = replay(name)
    with pytest.raises(InputError) as caught:
        audit_azure(plan(), target, client_factory=recorded.client)
    text = str(caught.value)
    assert "\n" not in text
    for needle in needles:
        assert needle in text
    assert len(recorded.seen) == 1  # 403 and 404 are final: no retries


def test_a_throttled_read_is_retried_after_the_wait_arm_asks_for() -> None:
    """Throttled once (the first response of throttled.json), then answered."""
    first, then = fixture("throttled"), fixture("round-trip")
    recorded = Replay(ReplayTransport([*first["interactions"], *then["interactions"]]))
    target = AzureTarget(then["subscription_id"], then["resource_group"])
    report = audit_azure(plan(), target, client_factory=recorded.client)
    assert report.findings == ()
    assert recorded.transport.waits == [17.0]  # the Retry-After, not a backoff of its own
    assert [s.path.rsplit("/", 1)[-1] for s in recorded.seen[:2]] == ["full-server-nsg"] * 2


@pytest.mark.parametrize(
    ("name", "needles", "waits"),
    [
        (
            "throttled",
            ("Azure Resource Manager throttled the audit (429 SubscriptionRequestsThrottled: ",
             "still after the SDK's retries; run the audit again later"),
            [17.0, 17.0, 17.0],
        ),
        (
            "gateway-timeout",
            ("Azure Resource Manager failed (504 GatewayTimeout: The gateway did not receive",
             "still after the SDK's retries; run the audit again later"),
            [1.6, 3.2],
        ),
    ],
)  # fmt: skip
def test_throttling_and_server_errors_are_retried_then_one_line(
    name: str, needles: tuple[str, ...], waits: list[float]
) -> None:
    recorded, target = replay(name)
    with pytest.raises(InputError) as caught:
        audit_azure(plan(), target, client_factory=recorded.client)
    text = str(caught.value)
    assert "\n" not in text and "refused" not in text
    for needle in needles:
        assert needle in text
    assert len(recorded.seen) == 4  # azure-core's three status retries, then the error
    assert recorded.transport.waits == waits


class ClosedPort:
    """An HTTPS endpoint nothing answers: a local port bound but never listened on, so a
    connection is refused at once (no network, no timeout)."""

    def __enter__(self) -> str:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        return f"https://127.0.0.1:{self.socket.getsockname()[1]}"

    def __exit__(self, *_: object) -> None:
        self.socket.close()


def unreachable(
    base_url: str, transport: ReplayTransport
) -> Callable[[AzureTarget], NetworkClient]:
    """A client of `base_url` over the SDK's real requests session (the transport's
    waits still recorded, not slept)."""
    transport.session.adapters.pop("https://")
    transport.session.mount("https://", requests.adapters.HTTPAdapter())

    def factory(target: AzureTarget) -> NetworkClient:
        client: NetworkClient = NetworkManagementClient(
            FakeCredential(), target.subscription_id, base_url=base_url, transport=transport
        )
        return client

    return factory


def test_an_unreachable_endpoint_becomes_one_line() -> None:
    transport = ReplayTransport([])
    target = AzureTarget(fixture("round-trip")["subscription_id"], "rg-crm-lab")
    with ClosedPort() as base_url, pytest.raises(InputError) as caught:
        audit_azure(plan(), target, client_factory=unreachable(base_url, transport))
    text = str(caught.value)
    assert text.startswith(f"{target.where}: cannot reach Azure Resource Manager: ")
    assert "Connection refused" in text and "\n" not in text
    assert transport.waits == [1.6, 3.2]  # azure-core's connect retries, then the error


def test_missing_credentials_become_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.identity import EnvironmentCredential

    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    recorded, target = replay("round-trip")

    def factory(target: AzureTarget) -> NetworkClient:
        client: NetworkClient = NetworkManagementClient(
            EnvironmentCredential(), target.subscription_id, transport=recorded.transport
        )
        return client

    with pytest.raises(InputError) as caught:
        audit_azure(plan(), target, client_factory=factory)
    assert "no usable Azure credentials" in str(caught.value)
    assert recorded.seen == []  # nothing reached ARM without a token


# The CLI: the production client factory is swapped for the replaying one.


@contextmanager
def bare_logging() -> Iterator[None]:
    """The root logger without pytest's capturing handlers (which it adds around each
    test phase), as it is in `crm-ports`: the CLI configures no logging, so what a
    library logs reaches stderr through Python's last-resort handler, and the one-line
    error must still be the only line."""
    root = logging.getLogger()
    kept = root.handlers[:]
    root.handlers.clear()
    try:
        yield
    finally:
        root.handlers[:] = kept


@pytest.fixture
def arm(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], list[str]]:
    def use(name: str) -> list[str]:
        recorded, target = replay(name)
        monkeypatch.setattr(audit_module, "default_client", recorded.client)
        return [
            "audit", "azure", "--topology", "full-server",
            "--subscription-id", target.subscription_id,
            "--resource-group", target.resource_group,
        ]  # fmt: skip

    return use


def test_cli_exit_status_follows_drift(cli: Cli, arm: Callable[[str], list[str]]) -> None:
    clean = cli(*arm("round-trip"))
    assert (clean.code, clean.err) == (0, "")
    assert "no drift" in clean.out

    drift = cli(*arm("extra-rule"), "--format", "json")
    assert drift.code == 1
    report = json.loads(drift.out)
    assert report["counts"] == {"missing": 0, "unexpected": 1, "changed": 0}
    assert [f["check"] for f in report["policy"]["findings"]] == ["CRM003"]
    assert report["scope"]["resource_group"] == "rg-crm-lab"

    assert cli(*arm("extra-rule"), "--fail-on", "never").code == 0


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("forbidden", ": access denied (AuthorizationFailed: "),
        ("not-found", ": no such lab: network security group 'full-server-nsg' not found"),
        ("throttled", ": Azure Resource Manager throttled the audit (429 "),
        ("gateway-timeout", ": Azure Resource Manager failed (504 GatewayTimeout: "),
        ("bad-gateway", ": Azure Resource Manager failed (502 Operation returned an invalid "),
    ],
)
def test_cli_errors_exit_2(
    cli: Cli, arm: Callable[[str], list[str]], name: str, needle: str
) -> None:
    args = arm(name)
    with bare_logging():
        result = cli(*args)
    assert (result.code, result.out) == (2, "")
    assert len(result.err.splitlines()) == 1
    assert result.err.startswith(
        "crm-ports: error: azure subscription 6f1c9a52-3d4e-4b7a-9c1d-2e5f8a7b3c10 "
        f"resource group rg-crm-lab{needle}"
    )


def test_cli_unreachable_endpoint_exits_2(
    cli: Cli, arm: Callable[[str], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = arm("round-trip")
    with ClosedPort() as base_url, bare_logging():
        monkeypatch.setattr(
            audit_module, "default_client", unreachable(base_url, ReplayTransport([]))
        )
        result = cli(*args)
    assert (result.code, result.out) == (2, "")
    [line] = result.err.splitlines()
    assert line.startswith("crm-ports: error: azure subscription ")
    assert ": cannot reach Azure Resource Manager: " in line and "Connection refused" in line


def test_cli_needs_a_subscription_and_defaults_the_resource_group(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    result = cli("audit", "azure", "--resource-group", "rg")
    assert result.code == 2
    assert "field 'subscription-id': required" in result.err
    seen: list[Any] = []

    def record(plan: Any, target: Any, **_: Any) -> Any:
        seen.append(target)
        raise InputError("azure", "", "", "stop here")

    monkeypatch.setattr("crm_ports.audit.azure.audit_azure", record)
    assert cli("audit", "azure", "--subscription-id", "sub").code == 2
    assert seen[0].resource_group == "split-roles-rg"  # the one the lab stack creates


def test_cli_refuses_a_lab_without_an_azure_stack(cli: Cli) -> None:
    result = cli(
        "audit", "azure", "--lab", str(REPO / "labs" / "fabrikam-full-server.yaml"),
        "--subscription-id", "sub", "--resource-group", "rg",
    )  # fmt: skip
    assert result.code == 2
    assert "the lab has no azure stack (clouds: aws)" in result.err
