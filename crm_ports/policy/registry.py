"""The checks by id, and running them (checkov's registry).

Each check module registers its class on import, at the severity the house pack binds
it to. The package's `__init__` imports every check module by name, so importing this
module (which imports the package first) or the package loads them all; this module
imports no check, so the checks import it without an import circle.

`run_checks` is the one way to run them: `check` asks for every verdict, `audit` for the
stack verdicts alone, on the live rules read back in Terraform's shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from crm_ports.lab.model import Lab
from crm_ports.policy.base import Check, Finding, Subject
from crm_ports.policy.packs import HOUSE, Pack

REGISTRY: dict[str, Check] = {}


def register(cls: type[Check]) -> type[Check]:
    if cls.id in REGISTRY:
        raise ValueError(f"check id {cls.id} registered twice")
    REGISTRY[cls.id] = cls(HOUSE.severity(cls.id))
    return cls


def waive(finding: Finding, lab: Lab) -> Finding:
    """The finding with the reason of the lab's first waiver that covers it, in the lab's
    order. A waiver naming a rule covers a rule-set or options finding that rule is behind
    (a flow's advisory is waived by any of its rules), but a finding on a resource only
    once the waivers so far name every rule behind it: an Azure NSG rule carries several
    services, and waiving its RDP must not waive the WinRM it opens beside it."""
    if finding.waived is not None:
        return finding  # accepted by the check itself, with its citation
    reasons: dict[str, str] = {}  # rule id -> the first reason that waives it
    for waiver in lab.waivers:
        if waiver.check != finding.check:
            continue
        if waiver.rule is None or waiver.rule == finding.subject:
            return replace(finding, waived=waiver.reason)
        if waiver.rule not in finding.rules:
            continue
        if not finding.on_resource:
            return replace(finding, waived=waiver.reason)
        reasons.setdefault(waiver.rule, waiver.reason)
        if set(finding.rules) <= set(reasons):
            given = dict.fromkeys(reasons[r] for r in finding.rules)  # distinct, rule order
            return replace(finding, waived="; ".join(given))
    return finding


def run_checks(
    subjects: Iterable[Subject], *, pack: Pack = HOUSE, rule_set: bool = True
) -> tuple[Finding, ...]:
    """Every finding of the pack's checks, waivers applied, sorted. With `rule_set` False
    only the verdicts on the subjects' stacks are asked for: live rules are judged as
    what they are, the rule set having been judged by `check` already."""
    out: list[Finding] = []
    for subject in subjects:
        for check in (REGISTRY[i] for i in pack.ids):
            found = list(check.on_rules(subject)) if rule_set else []
            for stack in subject.stacks:
                found.extend(check.on_stack(subject, stack))
            out.extend(waive(f, subject.lab) for f in found)
    return tuple(sorted(set(out), key=Finding.sort_key))


def hold_to(pack: Pack) -> None:
    """Fail when the pack names a check no module registered (one the pack does not name
    has already failed `register`), so the pack and the registry cannot drift apart."""
    unbound = sorted(set(pack.ids) - set(REGISTRY))
    if unbound:
        raise ValueError(f"pack {pack.name} names checks no module registers: {unbound}")
