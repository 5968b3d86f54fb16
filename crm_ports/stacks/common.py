"""What both lab stacks share: the state backend the lab chose (never inside the output
folder, no absolute path in the output), CIDR variables for the outside peers, and the
names of the lab's variables."""

from __future__ import annotations

import json
from typing import Any

from crm_ports.cdk import (
    AzurermBackend,
    LocalBackend,
    S3Backend,
    S3BackendEndpointConfig,
    TerraformBackend,
    TerraformStack,
    TerraformVariable,
)
from crm_ports.extra import citation
from crm_ports.lab import Lab
from crm_ports.ruleset import RuleSet
from crm_ports.state import LOCAL, Backend

PEER_HELP = {
    "client_cidrs": "IPv4 ranges of CRM users (browsers, CRM for Outlook)",
    "admin_cidrs": "IPv4 ranges of administrators' computers (RDP, remote PowerShell)",
    "mail_cidrs": "IPv4 ranges of the Exchange or POP3/SMTP servers the Email Router reaches",
}


def state_backend(
    stack: TerraformStack, name: str, backend: Backend = LOCAL, emulator: str | None = None
) -> TerraformBackend:
    """The lab's backend block for stack `name` (decided by `crm_ports.state`). Without
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


def lab_extent(lab: Lab) -> dict[str, Any]:
    """The lab's own placement and lab rules as plain data (see `review.states`)."""
    out: dict[str, Any] = {}
    placement = lab.placement
    if placement is not None and lab.options.topology == placement.name:
        out["placement"] = [{"name": h.name, "roles": list(h.roles)} for h in placement.hosts]
    if lab.extra_rules:
        out["extra_rules"] = [
            {
                "from": e.source,
                "to": e.target,
                "protocol": e.protocol.value,
                "ports": str(e.ports),
                "reason": e.reason,
                **({"name": e.name} if e.name else {}),
                "cites": citation(e),
            }
            for e in lab.extra_rules
        ]
    return out


def stack_metadata(lab: Lab, rules: RuleSet, cloud: str) -> str:
    """crm-ports.json beside cdk.tf.json: the rule set a stack was built from and the lab
    settings its plan depends on, so a synthesized folder can be reviewed (`crm-ports
    diff`, `crm-ports check --synth`) without the catalogue that produced it."""
    data = {
        "cloud": cloud,
        "lab": {
            "name": lab.name,
            "clouds": list(lab.clouds),
            "aws": {"egress": lab.aws.egress},
            "waivers": [
                {"check": w.check, "reason": w.reason, **({"rule": w.rule} if w.rule else {})}
                for w in lab.waivers
            ],
            # What the lab file says beyond options, so `verify --synth` can judge a
            # folder against the lab as written (placement, lab rules), never the rule set.
            **lab_extent(lab),
        },
        "ruleset": rules.to_json(),
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
