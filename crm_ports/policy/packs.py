"""Packs bind each check to the severity its findings carry (cdk-nag's NagPack): the house
decides how bad a finding is, the check only whether there is one.

There is one pack, the house's. A check the pack does not name cannot be registered, and
a pack naming a check that no module registers fails the registry's load, so the
`check --list` table and the README's copy of it cannot drift from the pack.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_ports.policy.base import ERROR, WARNING


@dataclass(frozen=True)
class Pack:
    name: str
    levels: tuple[tuple[str, str], ...]  # (check id, severity), in running order

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(check for check, _ in self.levels)

    def severity(self, check: str) -> str:
        for known, level in self.levels:
            if known == check:
                return level
        raise ValueError(f"check {check} is not in pack {self.name}")


# Errors block `check` and set `audit`'s exit status. Warnings are advice a reviewer reads:
# an option the seeds advise against (CRM008), a lab-local rule to look at (CRM009), a
# placed role the options give no flow (CRM011).
HOUSE = Pack(
    "house",
    (
        ("CRM001", ERROR),
        ("CRM002", ERROR),
        ("CRM003", ERROR),
        ("CRM004", ERROR),
        ("CRM005", ERROR),
        ("CRM006", ERROR),
        ("CRM007", ERROR),
        ("CRM008", WARNING),
        ("CRM009", WARNING),
        ("CRM010", ERROR),
        ("CRM011", WARNING),
    ),
)
