"""What an audit found: value objects shared by both clouds and every output format.

A finding names the resource the way the plan does (Terraform key, NSG rule name), and
the live id next to it, so an operator can go from a report line to either side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_ports.policy.base import Finding as PolicyFinding

MISSING = "missing"
UNEXPECTED = "unexpected"
CHANGED = "changed"
STATUSES = (MISSING, UNEXPECTED, CHANGED)


@dataclass(frozen=True)
class Change:
    """One field that differs between the plan and the live resource."""

    field: str
    expected: str
    actual: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "expected": self.expected, "actual": self.actual}

    def __str__(self) -> str:
        def shown(value: str) -> str:
            return f"'{value}'" if value else "(none)"

        return f"{self.field}: {shown(self.expected)} -> {shown(self.actual)}"


@dataclass(frozen=True)
class Finding:
    status: str  # MISSING | UNEXPECTED | CHANGED
    resource: str  # "security-group", "rule", "application-security-group", "nsg", "nsg-rule"
    container: str  # the security group / NSG / resource group the resource lives in
    name: str  # the plan's name for it (key, rule name), or its tag when unexpected
    summary: str  # the rule or resource in a few words, as planned (or as found)
    live_id: str = ""  # the cloud's id; empty when missing
    changes: tuple[Change, ...] = ()
    note: str = ""

    def sort_key(self) -> tuple[str, str, str, str, str]:
        return (self.container, self.resource, self.name, self.status, self.live_id)

    @property
    def detail(self) -> str:
        parts = [self.summary]
        if self.changes:
            parts = ["; ".join(str(c) for c in self.changes)]
        if self.note:
            parts.append(self.note)
        return "; ".join(p for p in parts if p)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "resource": self.resource,
            "container": self.container,
            "name": self.name,
            "summary": self.summary,
            "live_id": self.live_id,
            "changes": [c.to_json() for c in self.changes],
            "note": self.note,
        }


@dataclass(frozen=True)
class AuditReport:
    cloud: str  # "aws" | "azure"
    lab: str
    scope: tuple[tuple[str, str], ...]  # where was looked: region/endpoint, subscription/RG
    checked: tuple[tuple[str, int], ...]  # what the plan holds, per resource kind
    findings: tuple[Finding, ...]
    policy: tuple[PolicyFinding, ...] = ()  # live rules that break a policy check

    @property
    def drift(self) -> bool:
        return bool(self.findings)

    @property
    def policy_errors(self) -> bool:
        """A live rule breaks a policy whose severity is error (and no waiver covers it)."""
        return any(f.blocking for f in self.policy)

    def policy_counts(self) -> dict[str, int]:
        return {
            "errors": sum(f.blocking for f in self.policy),
            "warnings": sum(f.severity != "error" and f.waived is None for f in self.policy),
            "waived": sum(f.waived is not None for f in self.policy),
        }

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for f in self.findings if f.status == s) for s in STATUSES}

    def to_json(self) -> dict[str, Any]:
        return {
            "cloud": self.cloud,
            "lab": self.lab,
            "scope": dict(self.scope),
            "checked": dict(self.checked),
            "drift": self.drift,
            "counts": self.counts(),
            "findings": [f.to_json() for f in self.findings],
            "policy": {
                "counts": self.policy_counts(),
                "findings": [f.to_json() for f in self.policy],
            },
        }
