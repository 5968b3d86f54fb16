"""What every check shares: the subject it judges, the finding it reports, and the `Check`
base each check module derives from.

A check decides whether something is wrong; it does not decide how bad that is. Its
severity comes from the pack it is registered under (`crm_ports.policy.packs`), so that
a check's module holds only the predicate, as cdk-nag separates rules from packs.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from crm_ports.lab.model import Lab
from crm_ports.ruleset import RuleSet
from crm_ports.terraform.resources import Resources

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Stack:
    """One stack as the checks see it: synthesized (`check --synth`), or read live from the
    cloud in Terraform's attribute shape (`audit`), so one check reads both."""

    name: str  # `<cloud>-<lab>`
    cloud: str
    resources: Resources
    rule_ids: dict[str, tuple[str, ...]]  # resource address -> rule ids it carries
    live: bool = False  # read from the cloud by `audit`, not from a synthesized folder
    # The synthesized file it was read from (None: read live), for SARIF's locations.
    source: Path | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Subject:
    """One lab to check: its rule set, its synthesized stacks when given, and the lab as
    it was at a base state (`check --base`) when the lab existed there."""

    lab: Lab
    ruleset: RuleSet
    stacks: tuple[Stack, ...] = ()
    base: tuple[Lab, RuleSet] | None = None
    # How reports name it when not by the lab's name: a construct of an app, by its path.
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or self.lab.name


@dataclass(frozen=True)
class Finding:
    check: str
    severity: str
    lab: str
    where: str  # "rule set", "options", or the stack name
    subject: str  # rule id, option, resource address or group
    message: str
    fix: str
    rules: tuple[str, ...] = ()  # rule ids a waiver may name
    waived: str | None = None  # the waiver's reason

    @property
    def blocking(self) -> bool:
        return self.severity == ERROR and self.waived is None

    @property
    def on_resource(self) -> bool:
        """On a resource of a stack or a live cloud, which may carry several rules (an
        Azure NSG rule carries every service from one peer to one group), rather than on
        the rule set's rule or the options' flow."""
        return self.where not in ("rule set", "options", "plan")

    def sort_key(self) -> tuple[str, ...]:
        """Total order: two findings on one subject (ingress and egress of a group) still
        sort the same way whatever the hash seed."""
        return (
            self.lab,
            self.check,
            self.where,
            self.subject,
            self.severity,
            self.message,
            self.waived or "",
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "check": self.check,
            "severity": self.severity,
            "lab": self.lab,
            "where": self.where,
            "subject": self.subject,
            "message": self.message,
            "fix": self.fix,
        }
        if self.waived is not None:
            out["waived"] = self.waived
        return out


@dataclass(frozen=True)
class QuotaRow:
    lab: str
    cloud: str
    container: str  # security group or NSG name
    direction: str
    used: int
    limit: int

    @property
    def headroom(self) -> int:
        return self.limit - self.used

    def to_json(self) -> dict[str, Any]:
        return {
            "lab": self.lab,
            "cloud": self.cloud,
            "container": self.container,
            "direction": self.direction,
            "used": self.used,
            "limit": self.limit,
            "headroom": self.headroom,
        }


class Check(ABC):
    """A policy: `on_rules` judges the rule set, `on_stack` one stack's resources (the
    synthesized ones, or the live ones `audit` reads). A check without an `on_stack`
    verdict is about the lab's options or its change, which live rules cannot break.

    `severity` is bound when the registry instantiates the check, from the pack."""

    id: ClassVar[str]
    title: ClassVar[str]
    fix: ClassVar[str]

    def __init__(self, severity: str) -> None:
        self.severity = severity

    def on_rules(self, subject: Subject) -> Iterator[Finding]:
        return iter(())

    def on_stack(self, subject: Subject, stack: Stack) -> Iterator[Finding]:
        return iter(())

    @classmethod
    def judges_stacks(cls) -> bool:
        """Whether the check has a verdict on a stack's resources (and so on live rules)."""
        return cls.on_stack is not Check.on_stack

    def finding(
        self,
        subject: Subject,
        where: str,
        about: str,
        message: str,
        rules: tuple[str, ...] = (),
        severity: str | None = None,
        fix: str | None = None,
    ) -> Finding:
        """A finding at the pack's severity, unless the check grades this one lower (a
        group near its quota, a group deleted with its host)."""
        return Finding(
            self.id,
            severity or self.severity,
            subject.name,
            where,
            about,
            message,
            fix or self.fix,
            rules,
        )
