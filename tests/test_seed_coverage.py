"""Every port of every table of both seeds reaches the group that hosts the matching role.

The tables are transcribed here by hand, independently of the catalogue, so a port
dropped from the catalogue (or mistyped there) fails this test.
"""

from __future__ import annotations

import pytest

from crm_ports.catalogue.model import Catalogue
from crm_ports.options import Options
from crm_ports.resolver.engine import resolve
from crm_ports.ruleset import RuleSet

WINDOWS_BASE = [
    ("tcp", 135),
    ("tcp", 139),
    ("tcp", 445),
    ("udp", 123),
    ("udp", 137),
    ("udp", 138),
    ("udp", 445),
    ("udp", 1025),
]

# (seed, table, role whose group must accept the port, [(protocol, port)])
TABLES = [
    ("000", "Web application", "web-application", [("tcp", 80), ("tcp", 443), *WINDOWS_BASE]),
    ("000", "Sandbox Processing Service", "sandbox-processing", [("tcp", 808)]),
    ("000", "SQL Server with SSRS connector", "sql-server", [("tcp", 1433), *WINDOWS_BASE]),
    ("000", "SQL Server with SSRS connector", "reporting-services", WINDOWS_BASE),
    (
        "001",
        "Web application",
        "web-application",
        [("tcp", 80), ("tcp", 443), ("tcp", 808), *WINDOWS_BASE],
    ),
    ("001", "Sandbox Processing Service", "sandbox-processing", [("tcp", 808)]),
    ("001", "CRM Reporting Extensions (front end listener)", "web-application", [("tcp", 808)]),
    ("001", "SQL Server with Reporting Extensions", "sql-server", [("tcp", 1433), *WINDOWS_BASE]),
    (
        "001",
        "SQL Server with Reporting Extensions",
        "reporting-services",
        [("tcp", 80), ("tcp", 443), *WINDOWS_BASE],
    ),
    (
        "001",
        "Integrated Windows Authentication",
        "domain-controller",
        [
            ("tcp", 389),
            ("udp", 389),
            ("tcp", 636),
            ("tcp", 135),
            ("udp", 135),
            ("tcp", 3268),
            ("tcp", 3269),
            ("tcp", 88),
            ("udp", 88),
        ],
    ),
    ("001", "Default connectivity, ALL (DNS)", "domain-controller", [("tcp", 53), ("udp", 53)]),
]
for role in ("asynchronous-service", "deployment-web-service", "email-router", "domain-controller"):
    TABLES.append(("001", "Default connectivity, ALL", role, WINDOWS_BASE))


def _group_of(ruleset: RuleSet, role: str) -> str:
    return next(g.name for g in ruleset.groups if role in g.roles and not g.is_members)


def _accepts(ruleset: RuleSet, group: str, protocol: str, port: int) -> bool:
    return any(
        r.target == group and r.protocol.value == protocol and r.from_port <= port <= r.to_port
        for r in ruleset.rules
    )


# The sandbox tables describe "a deployment where the Sandbox Processing Service is
# running on a separate computer": the Full Server topology has no such computer.
CASES = [
    (topology, *table)
    for topology in ("full-server", "split-roles")
    for table in TABLES
    if not (topology == "full-server" and table[1] == "Sandbox Processing Service")
]


@pytest.mark.parametrize(("topology", "seed", "table", "role", "ports"), CASES)
def test_table_ports_reach_the_hosting_group(
    catalogue: Catalogue,
    topology: str,
    seed: str,
    table: str,
    role: str,
    ports: list[tuple[str, int]],
) -> None:
    ruleset = resolve(catalogue, Options(topology=topology))
    group = _group_of(ruleset, role)
    missing = [(p, n) for p, n in ports if not _accepts(ruleset, group, p, n)]
    assert not missing, f"seed {seed} {table}: {group} lacks {missing}"


@pytest.mark.parametrize("topology", ["full-server", "split-roles"])
@pytest.mark.parametrize("role", ["email-router", "asynchronous-service"])
def test_server_side_sync_reaches_the_mail_servers(
    catalogue: Catalogue, topology: str, role: str
) -> None:
    """Seed 001: the Exchange Router and the CRM Back End Servers both need "Connectivity
    to Exchange or other email services for server-side email integration"."""
    for email, ports in (("pop3-smtp", {110, 25}), ("exchange", {80, 443})):
        ruleset = resolve(catalogue, Options(topology=topology, email=email))
        source = _group_of(ruleset, role)
        found = {
            r.from_port for r in ruleset.rules if r.source == source and r.target == "mail-system"
        }
        assert ports <= found, (role, email, found)


@pytest.mark.parametrize("topology", ["full-server", "split-roles"])
def test_mail_ports_leave_the_email_router(catalogue: Catalogue, topology: str) -> None:
    """Seed 001: POP3 (TCP:110) and SMTP (TCP:25); Exchange Web Service (EWS) (TCP:80)."""
    for email, ports in (("pop3-smtp", {110, 25}), ("exchange", {80})):
        ruleset = resolve(catalogue, Options(topology=topology, email=email))
        router = _group_of(ruleset, "email-router")
        found = {
            r.from_port for r in ruleset.rules if r.source == router and r.target == "mail-system"
        }
        assert ports <= found, (email, found)
