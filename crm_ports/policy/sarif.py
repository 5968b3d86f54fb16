"""`crm-ports check --format sarif`: the findings as a SARIF 2.1.0 log for GitHub code
scanning, one rule per check of the house pack (its level the pack's severity, its help
the check's fix), each finding at the lab-file or catalogue line that causes it
(`crm_ports.policy.locate`), a waived one as a suppression carrying the waiver's reason.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace

from crm_ports.policy.base import Check, Finding, Subject
from crm_ports.policy.locate import Sources, locate
from crm_ports.policy.registry import REGISTRY, waive
from crm_ports.sarif import Log, Result, Rule, Suppression, Tree, sarif_log


def _full(check: Check) -> str:
    """The check module's docstring, the why of the check, as one paragraph."""
    doc = sys.modules[type(check).__module__].__doc__ or check.title
    return " ".join(doc.split())


def check_rules() -> list[Rule]:
    return [
        Rule(
            check.id,
            type(check).__name__,
            check.title,
            _full(check),
            check.fix,
            check.severity,
        )
        for check in (REGISTRY[k] for k in sorted(REGISTRY))
    ]


def _suppression(finding: Finding, subject: Subject | None) -> Suppression | None:
    """A lab file's waiver is written in the analysed files (`inSource`); a check's own
    acceptance, with the catalogue's citation, comes from elsewhere (`external`)."""
    if finding.waived is None:
        return None
    by_lab = None if subject is None else waive(replace(finding, waived=None), subject.lab)
    own = by_lab is not None and by_lab.waived == finding.waived
    return Suppression("inSource" if own else "external", finding.waived)


def _result(finding: Finding, subject: Subject | None, sources: Sources) -> Result:
    places = () if subject is None else tuple(locate(finding, subject, sources))
    where = "stack" if finding.on_resource else finding.where
    return Result(
        rule=finding.check,
        level=finding.severity,
        message=f"{finding.lab}: {finding.message}",
        places=places,
        logical=f"{finding.lab}/{finding.where}/{finding.subject}",
        logical_kind="resource" if where == "stack" else "object",
        identity=(finding.check, finding.lab, finding.where, finding.subject),
        suppression=_suppression(finding, subject),
    )


def report_sarif(
    findings: Sequence[Finding],
    subjects: Sequence[Subject],
    sources: Sources,
    tree: Tree,
    version: str,
) -> Log:
    by_name = {s.name: s for s in subjects}
    results = [_result(f, by_name.get(f.lab), sources) for f in findings]
    return sarif_log(check_rules(), results, tree, version=version, category="check")
