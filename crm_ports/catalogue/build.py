"""Parsed catalogue files -> a cross-checked `Catalogue`.

What a JSON schema cannot express is checked here: references between entries, port
syntax, option names in conditions, unique ids; each failure is located at the file,
line, entry and field a reviewer would edit. `crm_ports.catalogue.load` imports this module
only when its parse cache misses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crm_ports.catalogue.model import (
    EVERY_SERVER,
    REQUIRED_SECTIONS,
    SECTIONS,
    SINGULAR,
    Catalogue,
    Citation,
    Condition,
    Flow,
    HostGroup,
    Location,
    PortSpec,
    Role,
    Service,
    Source,
    Topology,
    Unsupported,
)
from crm_ports.errors import InputError
from crm_ports.inputs.validation import check
from crm_ports.inputs.yamlio import Document, PathItem, field_path
from crm_ports.net import PortRange, Protocol
from crm_ports.options import SPEC_BY_NAME, check_condition_value


@dataclass(frozen=True)
class _Entry:
    """One raw entry with what is needed to point at it."""

    doc: Document
    section: str
    index: int
    data: dict[str, Any]

    @property
    def label(self) -> str:
        key = self.data.get("id", self.data.get("name", f"#{self.index + 1}"))
        return f"{SINGULAR[self.section]} '{key}'"

    def path(self, *rest: PathItem) -> tuple[PathItem, ...]:
        return (self.section, self.index, *rest)

    def location(self) -> Location:
        return Location(self.doc.name, self.doc.line(self.path()))

    def error(self, field: Sequence[object], message: str) -> InputError:
        items = [f if isinstance(f, int) else str(f) for f in field]
        return InputError(
            self.doc.name, self.label, field_path(items), message, self.doc.line(self.path(*items))
        )


def _describer(doc: Document):  # type: ignore[no-untyped-def]
    def describe(path: Sequence[PathItem]) -> tuple[str, str]:
        if len(path) >= 2 and isinstance(path[1], int):
            section = str(path[0])
            items = doc.data.get(section) if isinstance(doc.data, dict) else None
            item = items[path[1]] if isinstance(items, list) and path[1] < len(items) else {}
            key = item.get("id", item.get("name")) if isinstance(item, dict) else None
            label = (
                f"{SINGULAR.get(section, section)} '{key}'"
                if key
                else (f"{SINGULAR.get(section, section)} #{path[1] + 1}")
            )
            return label, field_path(path[2:])
        return "", field_path(path)

    return describe


class Builder:
    def __init__(self, docs: list[Document]) -> None:
        self.entries: dict[str, list[_Entry]] = {s: [] for s in SECTIONS}
        for doc in docs:
            if doc.data is None:
                raise InputError(doc.name, "", "", "file is empty")
            check(doc, "catalogue.schema.json", _describer(doc))
            for section in SECTIONS:
                for index, item in enumerate(doc.data.get(section, [])):
                    self.entries[section].append(_Entry(doc, section, index, item))
        for section in SECTIONS:
            self._unique(section)

    def _unique(self, section: str) -> None:
        seen: set[str] = set()
        for entry in self.entries[section]:
            key = str(entry.data["id"])
            if key in seen:
                raise entry.error(["id"], f"duplicate id '{key}'")
            seen.add(key)

    def ids(self, section: str) -> set[str]:
        return {str(e.data["id"]) for e in self.entries[section]}

    # -- pieces -------------------------------------------------------------------------
    def cites(self, entry: _Entry, key: str = "cites") -> tuple[Citation, ...]:
        sources = self.ids("sources")
        out = []
        for i, raw in enumerate(entry.data.get(key, [])):
            if raw["source"] not in sources:
                raise entry.error([key, i, "source"], f"unknown source '{raw['source']}'")
            out.append(Citation(raw["source"], " ".join(str(raw["at"]).split())))
        return tuple(out)

    def condition(self, entry: _Entry, raw: dict[str, Any] | None, key: str = "when") -> Condition:
        if not raw:
            return Condition()
        terms = []
        for name, value in raw.items():
            if name not in SPEC_BY_NAME:
                raise entry.error([key, name], f"unknown option '{name}'")
            values = value if isinstance(value, list) else [value]
            try:
                texts = tuple(check_condition_value(name, v) for v in values)
            except ValueError as exc:
                raise entry.error([key, name], str(exc)) from None
            terms.append((name, texts))
        return Condition(tuple(sorted(terms)))

    def port_spec(self, entry: _Entry, index: int, text: str) -> PortSpec:
        where = ["ports", index]
        proto, sep, value = text.partition("/")
        if proto.strip().lower() == Protocol.ESP.value and not sep:
            return PortSpec(Protocol.ESP, "0-65535")  # ESP has no ports
        if not sep or not value:
            raise entry.error(where, f"'{text}' is not PROTOCOL/PORT (e.g. tcp/1433)")
        try:
            protocol = Protocol(proto.strip().lower())
        except ValueError:
            raise entry.error(
                where, f"unknown protocol '{proto}' (tcp, udp, icmp, all, esp)"
            ) from None
        spec = PortSpec(protocol, value.strip())
        option = spec.option
        if option is not None:
            opt = SPEC_BY_NAME.get(option)
            if opt is None or opt.kind not in ("port", "range"):
                raise entry.error(where, f"unknown port option '${{{option}}}'")
        elif "$" in spec.value:
            raise entry.error(where, f"'{spec.value}' is not a port or ${{option}}")
        else:
            try:
                PortRange.parse(spec.value)
            except ValueError as exc:
                raise entry.error(where, str(exc)) from None
        return spec

    def roles_ref(
        self, entry: _Entry, key: str, raw: Any, allow_every: bool = False
    ) -> tuple[str, ...]:
        known = self.ids("roles")
        items = raw if isinstance(raw, list) else [raw]
        for i, role in enumerate(items):
            where: list[PathItem] = [key, i] if isinstance(raw, list) else [key]
            if role == EVERY_SERVER and allow_every and len(items) == 1:
                continue
            if role not in known:
                raise entry.error(where, f"unknown role '{role}'")
        return tuple(items)

    # -- sections -----------------------------------------------------------------------
    def sources(self) -> tuple[Source, ...]:
        return tuple(
            Source(e.data["id"], e.data["title"], e.data.get("file"), e.data.get("url"))
            for e in self.entries["sources"]
        )

    def services(self) -> tuple[Service, ...]:
        out = []
        for e in self.entries["services"]:
            d = e.data
            ports = tuple(self.port_spec(e, i, p) for i, p in enumerate(d["ports"]))
            out.append(
                Service(
                    id=d["id"],
                    name=d["name"],
                    explanation=" ".join(d["explanation"].split()),
                    ports=ports,
                    cites=self.cites(e),
                    when=self.condition(e, d.get("when")),
                    note=d.get("note"),
                    location=e.location(),
                )
            )
        return tuple(out)

    def roles(self) -> tuple[Role, ...]:
        out = []
        for e in self.entries["roles"]:
            d = e.data
            cidr = d.get("cidr_option")
            if d["kind"] == "peer":
                spec = SPEC_BY_NAME.get(cidr or "")
                if spec is None or spec.kind != "cidrs":
                    cidr_options = ", ".join(
                        s.name for s in SPEC_BY_NAME.values() if s.kind == "cidrs"
                    )
                    raise e.error(["cidr_option"], f"a peer needs one of {cidr_options}")
            elif cidr is not None:
                raise e.error(["cidr_option"], "only peers are reached through CIDRs")
            out.append(Role(d["id"], d["name"], d["kind"], cidr, e.location()))
        return tuple(out)

    def flows(self) -> tuple[Flow, ...]:
        services = self.ids("services")
        out = []
        for e in self.entries["flows"]:
            d = e.data
            for i, sid in enumerate(d["services"]):
                if sid not in services:
                    raise e.error(["services", i], f"unknown service '{sid}'")
            excluded = self.roles_ref(e, "except", d["except"]) if "except" in d else ()
            targets = self.roles_ref(e, "to", d["to"], allow_every=True)
            if excluded and targets != (EVERY_SERVER,):
                raise e.error(["except"], "only applies to flows to every-server")
            if d.get("recommended", True) is False and "warning" not in d:
                raise e.error(["warning"], "a flow marked recommended: false must say why")
            out.append(
                Flow(
                    id=d["id"],
                    title=" ".join(d["title"].split()),
                    sources=self.roles_ref(e, "from", d["from"], allow_every=True),
                    targets=targets,
                    services=tuple(d["services"]),
                    cites=self.cites(e),
                    when=self.condition(e, d.get("when")),
                    excluded=excluded,
                    recommended=d.get("recommended", True),
                    warning=" ".join(d["warning"].split()) if "warning" in d else None,
                    note=d.get("note"),
                    location=e.location(),
                )
            )
        return tuple(out)

    def topologies(self, roles: tuple[Role, ...]) -> tuple[Topology, ...]:
        kinds = {r.id: r.kind for r in roles}
        cidr_options = {r.id: r.cidr_option for r in roles}
        out = []
        for e in self.entries["topologies"]:
            d = e.data
            names: set[str] = {d["members"]["name"]}
            groups = []
            for gi, g in enumerate(d["groups"]):
                if g["name"] in names:
                    raise e.error(["groups", gi, "name"], f"duplicate group name '{g['name']}'")
                names.add(g["name"])
                for ri, role in enumerate(g["roles"]):
                    if role not in kinds:
                        raise e.error(["groups", gi, "roles", ri], f"unknown role '{role}'")
                if len({kinds[r] for r in g["roles"]}) > 1:
                    raise e.error(["groups", gi, "roles"], "mixes server and peer roles")
                if len({cidr_options[r] for r in g["roles"]}) > 1:
                    raise e.error(
                        ["groups", gi, "roles"],
                        "peers of one group must share one cidr_option (one address list)",
                    )
                groups.append(
                    HostGroup(
                        g["name"],
                        tuple(g["roles"]),
                        self.condition(e, g.get("when")),
                        Location(e.doc.name, e.doc.line(e.path("groups", gi))),
                    )
                )
            out.append(
                Topology(
                    id=d["id"],
                    title=d["title"],
                    members_group=d["members"]["name"],
                    members_description=d["members"]["description"],
                    groups=tuple(groups),
                    cites=self.cites(e),
                    location=e.location(),
                )
            )
        return tuple(out)

    def unsupported(self) -> tuple[Unsupported, ...]:
        return tuple(
            Unsupported(
                e.data["id"],
                self.condition(e, e.data["when"]),
                " ".join(e.data["quote"].split()),
                self.cites(e),
                e.location(),
            )
            for e in self.entries["unsupported"]
        )

    def build(self, name: str) -> Catalogue:
        for section in REQUIRED_SECTIONS:
            if not self.entries[section]:
                raise InputError(name, "", section, "the catalogue has no entries in this section")
        roles = self.roles()
        return Catalogue(
            sources=self.sources(),
            services=self.services(),
            roles=roles,
            flows=self.flows(),
            topologies=self.topologies(roles),
            unsupported=self.unsupported(),
        )
