"""What both lab stacks share: the state backend the lab chose (never inside the output
folder, no absolute path in the output) and CIDR variables for the outside peers."""

from __future__ import annotations

from typing import Any

from crm_ports.constructs.cdk import (
    AzurermBackend,
    LocalBackend,
    S3Backend,
    S3BackendEndpointConfig,
    TerraformBackend,
    TerraformStack,
    TerraformVariable,
)
from crm_ports.lab.backend import LOCAL, Backend
from crm_ports.ruleset import RuleSet

PEER_HELP = {
    "client_cidrs": "IPv4 ranges of CRM users (browsers, CRM for Outlook)",
    "admin_cidrs": "IPv4 ranges of administrators' computers (RDP, remote PowerShell)",
    "mail_cidrs": "IPv4 ranges of the Exchange or POP3/SMTP servers the Email Router reaches",
}


def state_backend(
    stack: TerraformStack, name: str, backend: Backend = LOCAL, emulator: str | None = None
) -> TerraformBackend:
    """The lab's backend block for stack `name` (decided by `crm_ports.lab.backend`). Without
    one, cdktf would add a local backend holding the absolute working directory, which
    breaks byte-identical output across checkouts."""
    kind, config = backend.block(name, emulator)
    if kind == "local":
        return LocalBackend(stack, path=config["path"])
    if kind == "azurerm":
        return AzurermBackend(stack, **config)
    settings: dict[str, Any] = dict(config)
    # cdktf 0.21's S3BackendConfig predates Terraform 1.10's native lock file.
    use_lockfile = settings.pop("use_lockfile")
    endpoints = settings.pop("endpoints", None)
    s3 = S3Backend(
        stack,
        endpoints=S3BackendEndpointConfig(**endpoints) if endpoints else None,
        **settings,
    )
    s3.add_override("use_lockfile", use_lockfile)
    return s3


def peer_variables(stack: TerraformStack, rules: RuleSet) -> dict[str, str]:
    """One list(string) variable per CIDR option the lab's peers use, defaulting to the
    lab's (private) ranges; returns option -> Terraform expression."""
    out: dict[str, str] = {}
    for group in rules.groups:
        option = group.cidr_option
        if not group.is_peer or option is None or option in out:
            continue
        TerraformVariable(
            stack,
            option,
            type="list(string)",
            default=list(group.cidrs),
            description=PEER_HELP.get(option, f"IPv4 ranges of {group.name}"),
            nullable=False,
        )
        out[option] = f"${{var.{option}}}"
    return out
