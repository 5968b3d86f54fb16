"""The adopted lab as a lab file: keys in the lab file's order, strings quoted as JSON
(which YAML reads as written), so the same estate always gives the same bytes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from crm_ports.adopt.infer import Explained


def _q(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def lab_text(explained: Explained, vpc_id: str) -> str:
    lab = explained.lab
    lines = [
        f"# Adopted from {vpc_id} by crm-ports adopt aws: review the roles, the options and",
        "# every extra rule (reason 'review') before the first apply.",
        *(
            ["# The first apply revokes the live rules listed under each host's removes:."]
            if any(group.removes for group in lab.adopt)
            else []
        ),
        f"name: {lab.name}",
        "clouds: [aws]",
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
    aws: dict[str, str] = {"region": lab.aws.region}
    if lab.aws.vpc_id:
        aws["vpc_id"] = lab.aws.vpc_id
    if lab.aws.endpoint_url:
        aws["endpoint_url"] = lab.aws.endpoint_url
    lines.append("aws: {" + ", ".join(f"{k}: {_q(v)}" for k, v in aws.items()) + "}")
    if lab.extra_rules:
        lines.append("extra_rules:")
        for rule in lab.extra_rules:
            item: Mapping[str, Any] = {
                "from": rule.source,
                "to": rule.target,
                "protocol": rule.protocol.value,
                "ports": str(rule.ports),
                "reason": rule.reason,
            }
            lines.append("  - {" + ", ".join(f"{k}: {_q(v)}" for k, v in item.items()) + "}")
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
