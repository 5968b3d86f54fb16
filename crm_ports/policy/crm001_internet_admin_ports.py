"""CRM001: administrative ports are never open to the internet; RDP, WinRM, RPC and SMB
are how a server is taken over."""

from __future__ import annotations

from crm_ports.policy.internet_wide import InternetWide
from crm_ports.policy.registry import register


@register
class InternetAdminPorts(InternetWide):
    id = "CRM001"
    family = "administrative"
    guarded = ((3389, 3389), (5985, 5986), (135, 135), (139, 139), (445, 445))
    title = "No internet-wide source (0.0.0.0/0, ::/0, *, Internet) on RDP, WinRM, RPC or SMB"
    fix = "Set admin_cidrs (or the peer's CIDR option) to the administrators' own ranges."
