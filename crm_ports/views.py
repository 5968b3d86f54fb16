"""The human views of the catalogue and of a rule set: `ports`, `rules`, `matrix`.

Each view returns plain data (for JSON) and rows (for table, markdown and CSV) from the
same walk, so the formats cannot drift apart.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from crm_ports.catalogue.model import Catalogue
from crm_ports.formats import render_rows, to_json
from crm_ports.net import Protocol
from crm_ports.options import Options
from crm_ports.ruleset import Rule, RuleSet, ports_text


def ports_data(catalogue: Catalogue, options: Options) -> dict[str, Any]:
    services = []
    for service in catalogue.services:
        ports = []
        for spec in service.ports:
            rng = spec.resolve(options)
            entry: dict[str, Any] = {
                "protocol": spec.protocol.value,
                "from_port": rng.start,
                "to_port": rng.end,
            }
            if spec.option:
                entry["option"] = spec.option
            ports.append(entry)
        item: dict[str, Any] = {
            "id": service.id,
            "name": service.name,
            "explanation": service.explanation,
            "ports": ports,
            "refs": [catalogue.cite(c) for c in service.cites],
        }
        if str(service.when):
            item["when"] = str(service.when)
        if service.note:
            item["note"] = " ".join(service.note.split())
        services.append(item)
    return {"options": options.to_json(), "services": services}


def render_ports(catalogue: Catalogue, options: Options, fmt: str) -> str:
    data = ports_data(catalogue, options)
    if fmt == "json":
        return to_json(data)
    rows = []
    for service in data["services"]:
        for port in service["ports"]:
            number = str(port["from_port"])
            if port["to_port"] != port["from_port"]:
                number += f"-{port['to_port']}"
            if port["protocol"] == Protocol.ESP.value:
                number = "-"  # IP protocol 50 has no ports
            if "option" in port:
                number += f" (--{port['option'].replace('_', '-')})"
            explanation = service["explanation"]
            if "when" in service:
                explanation += f" [only when {service['when']}]"
            if "note" in service:
                explanation += f" Note: {service['note']}"
            rows.append(
                [
                    port["protocol"].upper(),
                    number,
                    service["id"],
                    service["name"],
                    explanation,
                    "; ".join(service["refs"]),
                ]
            )
    headers = ("Protocol", "Port", "Service", "Description", "Explanation", "Source")
    return render_rows(headers, rows, fmt, wrap={4: 60, 5: 50})


def _ports(rule: Rule) -> str:
    return "-" if rule.protocol == Protocol.ESP else str(rule.ports)


def render_rules(ruleset: RuleSet, fmt: str) -> str:
    if fmt == "json":
        return to_json(ruleset.to_json())
    rows = [
        [r.source, r.target, r.protocol.value.upper(), _ports(r), r.service, r.description]
        for r in ruleset.rules
    ]
    headers = ("From", "To", "Protocol", "Ports", "Service", "Description")
    return render_rows(headers, rows, fmt, wrap={5: 60})


def matrix_data(ruleset: RuleSet) -> dict[str, dict[str, list[str]]]:
    """from group -> to group -> ["TCP 80", ...] in rule order."""
    cells: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for rule in sorted(ruleset.rules, key=lambda r: (r.source, r.target, r.protocol, r.ports)):
        cells[rule.source].setdefault(rule.target, []).append(ports_text(rule))
    return {k: dict(v) for k, v in cells.items()}


def render_matrix(ruleset: RuleSet, fmt: str) -> str:
    data = matrix_data(ruleset)
    if fmt == "json":
        return to_json(
            {
                "topology": ruleset.topology,
                "groups": [g.to_json() for g in ruleset.groups],
                "matrix": data,
            }
        )
    sources = [g.name for g in ruleset.groups if g.name in data]
    targets = [g.name for g in ruleset.groups if any(g.name in data[s] for s in sources)]
    if fmt == "csv":
        rows = [
            [s, t, " ".join(", ".join(data[s][t]).split())]
            for s in sources
            for t in targets
            if t in data[s]
        ]
        return render_rows(("From", "To", "Ports"), rows, fmt)
    sep = "<br>" if fmt == "markdown" else "\n"
    rows = [[s] + [sep.join(data[s].get(t, [])) for t in targets] for s in sources]
    return render_rows(["From \\ To", *targets], rows, fmt)
