"""An adopted estate (`adopt:`): the live security groups a lab takes over instead of
creating its own, one per host, each with what EC2 cannot change in place.

A security group's name and description force its replacement, and EC2 refuses to delete
a group its instances hold, so an adopted group keeps the live name and description word
for word; its live id and the ids of the live rules that match the plan (`rules`: the
planned rule's key -> `sgr-...`) become Terraform `import` blocks, so the first apply
takes them over rather than creating new ones beside them (`crm-ports adopt aws` writes
the section). Checked here against the lab's own hosts; the rule keys are checked where
the plan is known (`crm_ports.plans.aws`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crm_ports.catalogue.model import NOWHERE, Location
from crm_ports.errors import InputError


@dataclass(frozen=True)
class AdoptedGroup:
    """One host's live security group."""

    host: str
    group_id: str  # sg-...
    name: str  # the live GroupName, kept
    description: str  # the live Description, kept
    rules: tuple[tuple[str, str], ...] = ()  # (planned rule key, live rule id sgr-...), sorted
    location: Location = field(default=NOWHERE, compare=False)

    @property
    def field_path(self) -> str:
        return f"adopt.{self.host}"

    def error(self, field_name: str, message: str) -> InputError:
        where = self.field_path + (f".{field_name}" if field_name else "")
        return InputError(
            self.location.file, f"host '{self.host}'", where, message, self.location.line
        )


def adopted_from(
    raw: Mapping[str, Any],
    *,
    hosts: tuple[str, ...] | None,
    clouds: tuple[str, ...],
    file: str,
    entry: str,
    line_of: Any,
) -> tuple[AdoptedGroup, ...]:
    """The `adopt:` section, schema-checked already, against the lab's own placement
    (`hosts`, None when the lab names a catalogue topology)."""
    if not raw:
        return ()
    if hosts is None:
        raise InputError(
            file,
            entry,
            "adopt",
            "an adopted estate needs the lab's own hosts (topology: {hosts: [...]}), one per "
            "live group",
            line_of(("adopt",)),
        )
    if "aws" not in clouds:
        raise InputError(
            file, entry, "adopt", "adopt: names AWS security groups: add aws to clouds", None
        )
    groups: list[AdoptedGroup] = []
    seen: dict[str, str] = {}
    for host, item in sorted(raw.items()):
        line = line_of(("adopt", host))
        if host not in hosts:
            raise InputError(
                file,
                entry,
                f"adopt.{host}",
                f"no host '{host}' in the lab's topology (hosts: {', '.join(sorted(hosts))})",
                line,
            )
        group_id = str(item["group_id"])
        if group_id in seen:
            raise InputError(
                file,
                entry,
                f"adopt.{host}.group_id",
                f"group {group_id} is adopted by host '{seen[group_id]}' already",
                line_of(("adopt", host, "group_id")),
            )
        seen[group_id] = host
        rules = item.get("rules") or {}
        owners: dict[str, str] = {}
        for key, rule_id in rules.items():
            if rule_id in owners:
                raise InputError(
                    file,
                    entry,
                    f"adopt.{host}.rules.{key}",
                    f"live rule {rule_id} is adopted by '{owners[rule_id]}' already",
                    line_of(("adopt", host, "rules", key)),
                )
            owners[rule_id] = key
        groups.append(
            AdoptedGroup(
                host=host,
                group_id=group_id,
                name=str(item["name"]),
                description=str(item.get("description", "")),
                rules=tuple(sorted((str(k), str(v)) for k, v in rules.items())),
                location=Location(file, line),
            )
        )
    return tuple(groups)
