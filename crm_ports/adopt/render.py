"""The adopted lab as a lab file: keys in the lab file's order, strings quoted as JSON
(which YAML reads as written), so the same estate always gives the same bytes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from crm_ports.adopt.infer import Explained


def _q(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _flow(item: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {_q(v)}" for k, v in item.items()) + "}"


def _settings(cloud: str, given: Mapping[str, str | None]) -> str:
    """`cloud: {key: value, ...}`, the keys without a value left out."""
    return f"{cloud}: {_flow({k: v for k, v in given.items() if v})}"


def _head(explained: Explained, source: str, command: str) -> list[str]:
    """The comment, name, clouds, hosts, options and peer ranges."""
    lab = explained.lab
    lines = [
        f"# Adopted from {source} by crm-ports adopt {command}: review the roles, the options and",
        "# every extra rule (reason 'review') before the first apply.",
        *(
            ["# The first apply revokes the live rules listed under each host's removes:."]
            if any(group.removes for group in lab.adopt)
            else []
        ),
        f"name: {lab.name}",
        f"clouds: [{command}]",
        "topology:",
        "  hosts:",
    ]
    if lab.placement is None:  # adopt always places its hosts; a caller that did not erred
        raise ValueError(f"lab {lab.name!r} has no hosts to adopt")
    for host in lab.placement.hosts:
        lines.append(f"    - {{name: {host.name}, roles: [{', '.join(host.roles)}]}}")
    if explained.raw_options:
        lines.append("options:")
        lines += [f"  {k}: {_q(v)}" for k, v in sorted(explained.raw_options.items())]
    for option, values in sorted(explained.peers.items()):
        lines.append(f"{option}: [{', '.join(values)}]")
    return lines


def _extra_rules(explained: Explained) -> list[str]:
    if not explained.lab.extra_rules:
        return []
    lines = ["extra_rules:"]
    for rule in explained.lab.extra_rules:
        item: Mapping[str, Any] = {
            "from": rule.source,
            "to": rule.target,
            "protocol": rule.protocol.value,
            "ports": str(rule.ports),
            "reason": rule.reason,
        }
        lines.append(f"  - {_flow(item)}")
    return lines


def lab_text(explained: Explained, vpc_id: str) -> str:
    lab = explained.lab
    lines = _head(explained, vpc_id, "aws")
    settings = lab.aws
    lines.append(
        _settings(
            "aws",
            {
                "region": settings.region,
                "vpc_id": settings.vpc_id,
                "endpoint_url": settings.endpoint_url,
            },
        )
    )
    lines += _extra_rules(explained)
    lines.append("adopt:")
    for group in lab.adopt:
        lines += [
            f"  {group.host}:",
            f"    group_id: {group.group_id}",
            f"    name: {_q(group.name)}",
            f"    description: {_q(group.description)}",
        ]
        if group.rules:
            lines.append("    rules:")
            lines += [f"      {key}: {rule_id}" for key, rule_id in group.rules]
        if group.removes:  # what the first apply revokes, which diff and review show first
            lines.append("    removes:")
            for removed in group.removes:
                fields = removed.to_json().items()
                lines.append("      - {" + ", ".join(f"{k}: {_q(v)}" for k, v in fields) + "}")
    return "\n".join(lines) + "\n"


def azure_lab_text(explained: Explained) -> str:
    lab = explained.lab
    adopt = lab.adopt_azure
    if adopt is None:  # explain_azure always adopts; a caller that did not erred
        raise ValueError(f"lab {lab.name!r} adopts no Azure estate")
    lines = _head(explained, f"network security group {adopt.nsg.name}", "azure")
    settings = lab.azure
    lines.append(
        _settings(
            "azure",
            {
                "location": settings.location,
                "resource_group_name": settings.resource_group_name,
                "subnet_id": settings.subnet_id,
            },
        )
    )
    lines += _extra_rules(explained)
    lines += [
        "adopt_azure:",
        f"  network_security_group: {_flow({'id': adopt.nsg.id, 'name': adopt.nsg.name})}",
        "  hosts:",
    ]
    lines += [f"    {host}: {_flow({'id': a.id, 'name': a.name})}" for host, a in adopt.asgs]
    if adopt.rules:
        lines.append("  rules:")
        lines += [f"    {_q(name)}: [{', '.join(_q(i) for i in ids)}]" for name, ids in adopt.rules]
    return "\n".join(lines) + "\n"
