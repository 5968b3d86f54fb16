"""An audit report as a terminal table, JSON (the stable shape for pipelines) or markdown
(for a pull-request or job summary). All three come from the same sorted findings."""

from __future__ import annotations

from crm_ports.audit.model import STATUSES, AuditReport
from crm_ports.formats import render_rows, to_json

FORMATS = ("table", "json", "markdown")
HEADERS = ("Status", "Resource", "In", "Name", "Live id", "Detail")


def headline(report: AuditReport) -> str:
    scope = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.scope if v)
    checked = " and ".join(f"{n} {k.replace('_', ' ')}" for k, n in report.checked)
    text = f"{report.cloud} lab '{report.lab}' ({scope}): {checked} planned; "
    if not report.drift:
        return text + "no drift, live state matches the plan."
    counts = report.counts()
    return text + "drift: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES) + "."


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
    if fmt == "markdown":
        text = f"### crm-ports audit: {report.cloud} lab `{report.lab}`\n\n{headline(report)}\n"
        return text + ("\n" + render_rows(HEADERS, rows, fmt) if rows else "")
    if fmt == "table":
        table = render_rows(HEADERS, rows, fmt, wrap={5: 60}) if rows else ""
        return headline(report) + "\n" + ("\n" + table if table else "")
    raise ValueError(f"unknown format {fmt}")
