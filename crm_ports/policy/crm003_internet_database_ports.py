"""CRM003: SQL Server is never open to the internet. Its ports include the lab's own
`sql_port`, so a SQL Server moved to 1533 is still guarded."""

from __future__ import annotations

from crm_ports.options import Options
from crm_ports.policy.internet_wide import InternetWide
from crm_ports.policy.reading import Span
from crm_ports.policy.registry import register


@register
class InternetDatabasePorts(InternetWide):
    id = "CRM003"
    family = "database"
    guarded = ((1433, 1434),)
    title = "No internet-wide source on SQL Server (1433, 1434 and the lab's sql_port)"
    fix = "Keep SQL Server reachable from the CRM servers only; narrow the peer's CIDRs."

    def ports(self, options: Options) -> tuple[Span, ...]:
        return (*self.guarded, (options.sql_port, options.sql_port))
