"""CRM002: the domain controller's directory ports are never open to the internet; users
sign in through AD FS, which is what a lab publishes."""

from __future__ import annotations

from crm_ports.policy.internet_wide import InternetWide
from crm_ports.policy.registry import register


@register
class InternetDirectoryPorts(InternetWide):
    id = "CRM002"
    family = "directory"
    guarded = ((88, 88), (389, 389), (636, 636), (3268, 3269))
    title = "No internet-wide source on Kerberos, LDAP, LDAPS or Global Catalog"
    fix = "Set client_cidrs to the users' ranges; publish AD FS, never the domain controller."
