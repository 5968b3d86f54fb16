"""Lab files: a lab (`crm_ports.lab.model`) written as YAML, read with line numbers so that
every error names the file, the entry, the field and the line.

`topology` is a topology id of the catalogue in use, or the lab's own placement
(`{hosts: [{name, roles}]}`), which resolves under the lab's name; `extra_rules` are
lab-local rules with their reasons. Both are checked against the catalogue only when the
lab is resolved (`crm_ports.resolver.resolve_lab`), since the catalogue may be the user's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_ports.catalogue.model import Location
from crm_ports.errors import InputError
from crm_ports.inputs import yamlio
from crm_ports.inputs.cache import cached
from crm_ports.inputs.yamlio import PathItem, field_path
from crm_ports.lab.adoption import adopted_from
from crm_ports.lab.azure_adoption import azure_adopted_from
from crm_ports.lab.backend import backend_from
from crm_ports.lab.extra import ExtraRule
from crm_ports.lab.model import (
    CLOUDS,
    TOP_LEVEL_OPTIONS,
    TOPOLOGIES,
    AwsSettings,
    AzureSettings,
    Lab,
    Waiver,
)
from crm_ports.net import cidr_range
from crm_ports.options import build

if TYPE_CHECKING:  # a lab's own hosts load their module where a lab file gives them
    from crm_ports.lab.placement import Placement


def _describe(path: Sequence[PathItem]) -> tuple[str, str]:
    return "lab", field_path(path)


def _cidr(doc: yamlio.Document, path: tuple[PathItem, ...], value: str) -> str:
    try:
        return cidr_range(str(value))
    except ValueError as exc:
        raise InputError(doc.name, "lab", field_path(path), str(exc), doc.line(path)) from None


def load_lab(path: Path) -> Lab:
    """A lab file as a `Lab`, through the parse cache (`crm_ports.inputs.cache`)."""
    shown = yamlio.display_name(path)
    content = yamlio.read(path, shown)
    return cached(
        "lab", [(shown, content)], Lab, lambda: _build(yamlio.parse_bytes(content, shown))
    )


def _build(doc: yamlio.Document) -> Lab:
    if not isinstance(doc.data, dict):
        raise InputError(doc.name, "lab", "", "expected a mapping with at least 'name'", 1)
    from crm_ports.inputs.validation import check  # only when parsing: a cache hit skips jsonschema

    check(doc, "lab.schema.json", _describe)
    data: dict[str, Any] = doc.data
    entry = f"lab '{data['name']}'"
    if data["name"] in TOPOLOGIES:
        # `npx cdktf deploy aws-split-roles` without CRM_PORTS_LABS builds the default lab
        # of that name: one stack name, one state file, two different labs.
        raise InputError(
            doc.name,
            entry,
            "name",
            f"'{data['name']}' is the name of a default lab; its stacks and state would be "
            "confused with the default lab's: choose another name",
            doc.line(("name",)),
        )
    raw: dict[str, Any] = dict(data.get("options") or {})
    lines: dict[str, int | None] = {k: doc.line(("options", k)) for k in raw}
    columns: dict[str, int | None] = {k: doc.column(("options", k)) for k in raw}
    for key in TOP_LEVEL_OPTIONS:
        if key in data:
            if key in raw:
                raise InputError(
                    doc.name,
                    entry,
                    f"options.{key}",
                    f"'{key}' is given both at the top level and under options",
                    doc.line(("options", key)),
                )
            raw[key] = data[key]
            lines[key] = doc.line((key,))
            columns[key] = doc.column((key,))
    placement = _placement(doc, data)
    if placement is not None:
        raw["topology"] = placement.name
    options = build(
        raw,
        origin=doc.name,
        entry=entry,
        line_of=lambda k: lines.get(k),
        column_of=lambda k: columns.get(k),
    )
    aws_raw = dict(data.get("aws") or {})
    azure_raw = dict(data.get("azure") or {})
    for key in ("vpc_cidr", "subnet_cidr"):
        if key in aws_raw:
            aws_raw[key] = _cidr(doc, ("aws", key), aws_raw[key])
    for key in ("vnet_cidr", "subnet_cidr"):
        if key in azure_raw:
            azure_raw[key] = _cidr(doc, ("azure", key), azure_raw[key])
    clouds = tuple(data.get("clouds", CLOUDS))
    aws = AwsSettings(**aws_raw)
    return Lab(
        name=data["name"],
        options=options,
        clouds=clouds,
        aws=aws,
        azure=AzureSettings(**azure_raw),
        waivers=tuple(
            Waiver(w["check"], " ".join(w["reason"].split()), w.get("rule"))
            for w in data.get("waivers", [])
        ),
        backend=backend_from(
            data.get("backend"),
            file=doc.name,
            entry=entry,
            clouds=clouds,
            aws_region=aws.region,
            line_of=doc.line,
        ),
        origin=doc.name,
        placement=placement,
        extra_rules=_extra_rules(doc, data),
        adopt=adopted_from(
            data.get("adopt") or {},
            hosts=None if placement is None else tuple(h.name for h in placement.hosts),
            clouds=clouds,
            file=doc.name,
            entry=entry,
            line_of=doc.line,
        ),
        adopt_azure=azure_adopted_from(
            data.get("adopt_azure"),
            hosts=None if placement is None else tuple(h.name for h in placement.hosts),
            clouds=clouds,
            file=doc.name,
            entry=entry,
            line_of=doc.line,
        ),
    )


def _placement(doc: yamlio.Document, data: dict[str, Any]) -> Placement | None:
    raw = data.get("topology")
    if not isinstance(raw, dict):
        return None
    from crm_ports.lab.placement import Host, Placement

    hosts = tuple(
        Host(
            name=h["name"],
            roles=tuple(h["roles"]),
            location=Location(doc.name, doc.line(("topology", "hosts", i))),
            field_path=f"topology.hosts[{i}]",
        )
        for i, h in enumerate(raw["hosts"])
    )
    return Placement(name=data["name"], hosts=hosts, origin=doc.name)


def _extra_rules(doc: yamlio.Document, data: dict[str, Any]) -> tuple[ExtraRule, ...]:
    return tuple(
        ExtraRule.parse(
            source=item["from"],
            target=item["to"],
            protocol=item["protocol"],
            ports=item["ports"],
            reason=item["reason"],
            name=item.get("name"),
            location=Location(doc.name, doc.line(("extra_rules", i))),
            field_path=f"extra_rules[{i}]",
        )
        for i, item in enumerate(data.get("extra_rules", []))
    )
