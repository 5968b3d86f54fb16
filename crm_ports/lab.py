"""Lab files: one hosted CRM lab (name, clouds, topology, options, peer CIDRs and the
per-cloud settings the stacks need). The default labs are both topologies with every
option at its default, on both clouds.

`topology` is a topology id of the catalogue in use, or the lab's own placement
(`{hosts: [{name, roles}]}`), which resolves under the lab's name; `extra_rules` are
lab-local rules with their reasons. Both are checked against the catalogue only when the
lab is resolved (`crm_ports.resolver.resolve_lab`), since the catalogue may be the user's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_ports import yamlio
from crm_ports.cache import cached
from crm_ports.errors import InputError
from crm_ports.extra import ExtraRule
from crm_ports.model import Location
from crm_ports.options import Options, build
from crm_ports.state import LOCAL, Backend, backend_from
from crm_ports.yamlio import PathItem, field_path

if TYPE_CHECKING:  # a lab's own hosts load their module where a lab file gives them
    from crm_ports.placement import Placement

CLOUDS = ("aws", "azure")
TOPOLOGIES = ("full-server", "split-roles")
TOP_LEVEL_OPTIONS = ("topology", "client_cidrs", "admin_cidrs", "mail_cidrs")


@dataclass(frozen=True)
class AwsSettings:
    region: str = "us-east-1"
    vpc_id: str | None = None
    vpc_cidr: str = "10.42.0.0/16"
    subnet_cidr: str = "10.42.1.0/24"
    egress: str = "allow-all"  # or "strict": only the catalogue's flows
    endpoint_url: str | None = None  # a local EC2 emulator (moto); never the default


@dataclass(frozen=True)
class AzureSettings:
    location: str = "westeurope"
    resource_group_name: str | None = None
    vnet_cidr: str = "10.43.0.0/16"
    subnet_cidr: str = "10.43.1.0/24"
    subnet_id: str | None = None


@dataclass(frozen=True)
class Waiver:
    check: str
    reason: str
    rule: str | None = None


@dataclass(frozen=True)
class Lab:
    name: str
    options: Options
    clouds: tuple[str, ...] = CLOUDS
    aws: AwsSettings = AwsSettings()
    azure: AzureSettings = AzureSettings()
    waivers: tuple[Waiver, ...] = ()
    backend: Backend = LOCAL
    origin: str = field(default="<default lab>", compare=False)
    placement: Placement | None = None  # the lab's own hosts, resolved as `options.topology`
    extra_rules: tuple[ExtraRule, ...] = ()

    def stack_name(self, cloud: str) -> str:
        return f"{cloud}-{self.name}"


def relocated(lab: Lab, origin: str) -> Lab:
    """The same lab, every location naming `origin` (a file read from a git ref is named
    `REF:path`, never by the temporary checkout it was read from)."""
    placement = lab.placement
    if placement is not None:
        hosts = tuple(
            replace(h, location=replace(h.location, file=origin)) for h in placement.hosts
        )
        placement = replace(placement, origin=origin, hosts=hosts)
    extras = tuple(replace(e, location=replace(e.location, file=origin)) for e in lab.extra_rules)
    return replace(lab, origin=origin, placement=placement, extra_rules=extras)


def default_labs() -> tuple[Lab, ...]:
    """The labs `cdktf.json`'s app and `crm-ports synth` build when given none."""
    return tuple(
        Lab(name=t, options=Options(topology=t, origin=f"<default lab {t}>"), origin="default labs")
        for t in TOPOLOGIES
    )


def _describe(path: Sequence[PathItem]) -> tuple[str, str]:
    return "lab", field_path(path)


def _cidr(doc: yamlio.Document, path: tuple[PathItem, ...], value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as exc:
        raise InputError(doc.name, "lab", field_path(path), str(exc), doc.line(path)) from None


def load_lab(path: Path) -> Lab:
    """A lab file as a `Lab`, through the parse cache (`crm_ports.cache`)."""
    shown = yamlio.display_name(path)
    content = yamlio.read(path, shown)
    return cached(
        "lab", [(shown, content)], Lab, lambda: _build(yamlio.parse_bytes(content, shown))
    )


def _build(doc: yamlio.Document) -> Lab:
    if not isinstance(doc.data, dict):
        raise InputError(doc.name, "lab", "", "expected a mapping with at least 'name'", 1)
    from crm_ports.validation import check  # only when parsing: a cache hit skips jsonschema

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
    placement = _placement(doc, data)
    if placement is not None:
        raw["topology"] = placement.name
    options = build(raw, origin=doc.name, entry=entry, line_of=lambda k: lines.get(k))
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
    )


def _placement(doc: yamlio.Document, data: dict[str, Any]) -> Placement | None:
    raw = data.get("topology")
    if not isinstance(raw, dict):
        return None
    from crm_ports.placement import Host, Placement

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
