"""An audit report as a terminal table, JSON (the stable shape for pipelines) or markdown
(for a pull-request or job summary). All three come from the same sorted findings."""

from __future__ import annotations

from crm_ports.audit.model import STATUSES, AuditReport
from crm_ports.formats import render_rows, to_json

FORMATS = ("table", "json", "markdown")
HEADERS = ("Status", "Resource", "In", "Name", "Live id", "Detail")


POLICY_HEADERS = ("Check", "Severity", "Live rule", "Finding", "Fix or waiver")


def headline(report: AuditReport) -> str:
    scope = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.scope if v)
    checked = " and ".join(f"{n} {k.replace('_', ' ')}" for k, n in report.checked)
    text = f"{report.cloud} lab '{report.lab}' ({scope}): {checked} planned; "
    if not report.drift:
        text += "no drift, live state matches the plan."
    else:
        counts = report.counts()
        text += "drift: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES) + "."
    if report.policy:
        n = report.policy_counts()
        text += (
            f" Policy: {n['errors']} error(s), {n['warnings']} warning(s), "
            f"{n['waived']} waived in the live rules."
        )
    return text


def _policy_rows(report: AuditReport) -> list[list[str]]:
    return [
        [
            f.check,
            f"waived ({f.severity})" if f.waived is not None else f.severity,
            _short(f.subject.split(".", 1)[-1]),  # the live id or NSG rule name
            f.message,
            f"waived: {f.waived}" if f.waived is not None else f.fix,
        ]
        for f in report.policy
    ]


def _short(live_id: str) -> str:
    """An ARM id's last segment (the rest is the scope the headline already names); JSON
    keeps the whole id."""
    return live_id.rsplit("/", 1)[-1] if live_id.startswith("/subscriptions/") else live_id


def render(report: AuditReport, fmt: str) -> str:
    if fmt == "json":
        return to_json(report.to_json())
    rows = [
        [f.status, f.resource, f.container, f.name, _short(f.live_id), f.detail]
        for f in report.findings
    ]
    policy = _policy_rows(report)
    if fmt == "markdown":
        text = f"### crm-ports audit: {report.cloud} lab `{report.lab}`\n\n{headline(report)}\n"
        text += ("\n" + render_rows(HEADERS, rows, fmt)) if rows else ""
        return text + ("\n" + render_rows(POLICY_HEADERS, policy, fmt) if policy else "")
    if fmt == "table":
        table = render_rows(HEADERS, rows, fmt, wrap={5: 60}) if rows else ""
        text = headline(report) + "\n" + ("\n" + table if table else "")
        wrap = {3: 50, 4: 40}
        return text + ("\n" + render_rows(POLICY_HEADERS, policy, fmt, wrap=wrap) if policy else "")
    raise ValueError(f"unknown format {fmt}")
