"""An adopted Azure estate (`adopt_azure:`): the live network security group and the
application security groups a lab takes over instead of creating its own, with what
Azure cannot change in place (names; the location is the lab's `azure.location`).

Beside `crm_ports.lab.adoption` (AWS, `adopt:`: host -> security group) rather than in
it: the NSG belongs to no host. `crm-ports adopt azure` writes the section; it is checked
here against the lab's own hosts, and the rule names where the plan is known
(`crm_ports.plans.azure`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crm_ports.catalogue.model import NOWHERE, Location
from crm_ports.errors import InputError


@dataclass(frozen=True)
class AdoptedResource:
    """A live Azure resource the lab takes over: its ARM id and its name, which Azure
    cannot change in place (a new name is a new resource)."""

    id: str  # /subscriptions/.../providers/Microsoft.Network/...
    name: str


@dataclass(frozen=True)
class AdoptedAzure:
    """An adopted Azure estate (`adopt_azure:`): the live network security group, one
    live application security group per host, and the live rules that are planned rules.

    Its own key beside `adopt:` (AWS, host -> group), since the NSG belongs to no host.
    The NSG carries its rules inline (`crm_ports.constructs.azure`), so importing the
    NSG takes its live rules over with it; `rules` (planned NSG rule name -> the ARM ids
    of the live rules it stands for) records which of them the plan keeps in substance,
    for the review and the audit. Location stays in `azure.location`: an NSG or ASG in
    another location is a new resource."""

    nsg: AdoptedResource
    asgs: tuple[tuple[str, AdoptedResource], ...]  # (host, its ASG), sorted by host
    rules: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (planned rule name, live ids)
    location: Location = field(default=NOWHERE, compare=False)

    def asg(self, host: str) -> AdoptedResource | None:
        return dict(self.asgs).get(host)

    def error(self, field_name: str, message: str) -> InputError:
        where = "adopt_azure" + (f".{field_name}" if field_name else "")
        return InputError(self.location.file, "adopt_azure", where, message, self.location.line)


def azure_adopted_from(
    raw: Mapping[str, Any] | None,
    *,
    hosts: tuple[str, ...] | None,
    clouds: tuple[str, ...],
    file: str,
    entry: str,
    line_of: Any,
) -> AdoptedAzure | None:
    """The `adopt_azure:` section, schema-checked already (the ARM ids' kinds too),
    against the lab's own hosts."""
    if not raw:
        return None

    def fail(path: tuple[Any, ...], message: str) -> InputError:
        return InputError(file, entry, ".".join(str(p) for p in path), message, line_of(path))

    if hosts is None:
        raise fail(
            ("adopt_azure",),
            "an adopted estate needs the lab's own hosts (topology: {hosts: [...]}), one per "
            "live application security group",
        )
    if "azure" not in clouds:
        raise fail(("adopt_azure",), "adopt_azure: names Azure resources: add azure to clouds")
    nsg = raw["network_security_group"]
    asgs: list[tuple[str, AdoptedResource]] = []
    seen: dict[str, str] = {}
    for host, item in sorted(raw["hosts"].items()):
        path = ("adopt_azure", "hosts", host)
        if host not in hosts:
            raise fail(
                path,
                f"no host '{host}' in the lab's topology (hosts: {', '.join(sorted(hosts))})",
            )
        asg_id = str(item["id"])
        if asg_id.lower() in seen:
            raise fail(
                (*path, "id"), f"{asg_id} is adopted by host '{seen[asg_id.lower()]}' already"
            )
        seen[asg_id.lower()] = host
        asgs.append((host, AdoptedResource(asg_id, str(item["name"]))))
    rules: list[tuple[str, tuple[str, ...]]] = []
    owners: dict[str, str] = {}
    for name, ids in sorted((raw.get("rules") or {}).items()):
        for rule_id in ids:
            if rule_id.lower() in owners:
                raise fail(
                    ("adopt_azure", "rules", name),
                    f"live rule {rule_id} is adopted by '{owners[rule_id.lower()]}' already",
                )
            owners[rule_id.lower()] = name
        rules.append((str(name), tuple(sorted(str(i) for i in ids))))
    return AdoptedAzure(
        nsg=AdoptedResource(str(nsg["id"]), str(nsg["name"])),
        asgs=tuple(asgs),
        rules=tuple(rules),
        location=Location(file, line_of(("adopt_azure",))),
    )
