"""`crm-ports check` output: findings, waivers and quota headroom as a terminal table,
GitHub markdown (for the pull-request comment) or JSON; and the catalogue of checks
(`--list`) that the README pastes."""

from __future__ import annotations

from typing import Any

from crm_ports.formats import render_rows, to_json
from crm_ports.policy.base import Finding, QuotaRow
from crm_ports.policy.registry import REGISTRY

LIST_HEADERS = ("ID", "Severity", "Check", "Fix")


def list_checks(fmt: str) -> str:
    checks = [REGISTRY[k] for k in sorted(REGISTRY)]
    if fmt == "json":
        return to_json(
            [{"id": c.id, "severity": c.severity, "title": c.title, "fix": c.fix} for c in checks]
        )
    rows = [(c.id, c.severity, c.title, c.fix) for c in checks]
    return render_rows(LIST_HEADERS, rows, fmt, wrap={2: 50, 3: 45})


def _status(finding: Finding) -> str:
    return f"waived ({finding.severity})" if finding.waived is not None else finding.severity


def summary_counts(findings: tuple[Finding, ...]) -> dict[str, int]:
    return {
        "errors": sum(f.blocking for f in findings),
        "warnings": sum(f.severity != "error" and f.waived is None for f in findings),
        "waived": sum(f.waived is not None for f in findings),
    }


def report_json(findings: tuple[Finding, ...], quotas: list[QuotaRow], labs: list[str]) -> str:
    data: dict[str, Any] = {
        "labs": labs,
        "summary": summary_counts(findings),
        "findings": [f.to_json() for f in findings],
        "quotas": [q.to_json() for q in quotas],
    }
    return to_json(data)


def _finding_rows(findings: tuple[Finding, ...]) -> list[tuple[str, ...]]:
    return [
        (
            f.lab,
            f.check,
            _status(f),
            f"{f.where}: {f.subject}",
            f.message,
            f"waived: {f.waived}" if f.waived is not None else f.fix,
        )
        for f in findings
    ]


def _quota_rows(quotas: list[QuotaRow]) -> list[tuple[str, ...]]:
    return [
        (q.lab, q.cloud, q.container, q.direction, str(q.used), str(q.limit), str(q.headroom))
        for q in quotas
    ]


FINDING_HEADERS = ("Lab", "Check", "Status", "Where", "Finding", "Fix or waiver")
QUOTA_HEADERS = ("Lab", "Cloud", "Group", "Direction", "Rules", "Quota", "Headroom")


def _counts_line(findings: tuple[Finding, ...], labs: list[str]) -> str:
    s = summary_counts(findings)
    return (
        f"{len(labs)} lab(s) checked ({', '.join(labs)}): {s['errors']} error(s), "
        f"{s['warnings']} warning(s), {s['waived']} waived."
    )


def report_table(findings: tuple[Finding, ...], quotas: list[QuotaRow], labs: list[str]) -> str:
    parts = [_counts_line(findings, labs) + "\n"]
    if findings:
        widths = {3: 30, 4: 50, 5: 40}
        parts.append(
            "\n" + render_rows(FINDING_HEADERS, _finding_rows(findings), "table", wrap=widths)
        )
    if quotas:
        parts.append("\n" + render_rows(QUOTA_HEADERS, _quota_rows(quotas), "table"))
    return "".join(parts)


def findings_markdown(findings: tuple[Finding, ...], labs: list[str]) -> str:
    """The counts and the table of findings, as the check report and `review` show them."""
    parts = [_counts_line(findings, labs) + "\n"]
    if findings:
        parts.append("\n" + render_rows(FINDING_HEADERS, _finding_rows(findings), "markdown"))
    return "".join(parts)


def quotas_markdown(quotas: list[QuotaRow]) -> str:
    return render_rows(QUOTA_HEADERS, _quota_rows(quotas), "markdown")


def report_markdown(findings: tuple[Finding, ...], quotas: list[QuotaRow], labs: list[str]) -> str:
    verdict = "fails" if any(f.blocking for f in findings) else "passes"
    parts = [f"### crm-ports policy check {verdict}\n\n", findings_markdown(findings, labs)]
    if quotas:
        parts.append("\n<details><summary>Quota headroom</summary>\n\n")
        parts.append(quotas_markdown(quotas))
        parts.append("\n</details>\n")
    return "".join(parts)


def render_report(
    findings: tuple[Finding, ...], quotas: list[QuotaRow], labs: list[str], fmt: str
) -> str:
    if fmt == "json":
        return report_json(findings, quotas, labs)
    if fmt == "markdown":
        return report_markdown(findings, quotas, labs)
    return report_table(findings, quotas, labs)
