"""`crm-ports verify` output: a table per lab and cloud for the terminal, markdown for a
pull-request comment, or JSON (sorted, stable)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crm_ports.formats import render_rows, to_json
from crm_ports.verify.compare import Extra, Missing, Result
from crm_ports.verify.spans import PORTLESS

SUMMARY = ("Lab", "Cloud", "Stack", "Flows checked", "Missing", "Extra", "Result")
DETAIL = ("Stack", "Finding", "Protocol", "Ports", "From", "To", "Flow / rule", "Why")


def _ports(protocol: str, ports: Any) -> str:
    return "" if protocol in PORTLESS else str(ports.ports_text())


def _missing_json(item: Missing) -> dict[str, Any]:
    return {
        "from": item.source,
        "to": item.target,
        "protocol": item.protocol,
        "ports": _ports(item.protocol, item.ports),
        "flows": list(item.flows),
        "rule": item.rule,
        "reason": item.reason,
        "message": item.text(),
    }


def _extra_json(item: Extra) -> dict[str, Any]:
    return {
        "from": item.source,
        "to": item.target,
        "protocol": item.protocol,
        "ports": _ports(item.protocol, item.ports),
        "rules": list(item.rules),
        "message": item.text(),
    }


def render_json(results: Sequence[Result]) -> str:
    return to_json(
        {
            "ok": all(r.ok for r in results),
            "stacks": [
                {
                    "lab": r.lab,
                    "cloud": r.cloud,
                    "stack": r.stack,
                    "flows_checked": r.flows,
                    "ok": r.ok,
                    "missing": [_missing_json(m) for m in r.missing],
                    "extra": [_extra_json(e) for e in r.extra],
                }
                for r in results
            ],
        }
    )


def _summary_rows(results: Sequence[Result]) -> list[tuple[Any, ...]]:
    return [
        (
            r.lab,
            r.cloud,
            r.stack,
            r.flows,
            len(r.missing),
            len(r.extra),
            "pass" if r.ok else "FAIL",
        )
        for r in results
    ]


def _detail_rows(results: Sequence[Result]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for r in results:
        for m in r.missing:
            rows.append(
                (
                    r.stack,
                    "missing",
                    m.protocol.upper(),
                    _ports(m.protocol, m.ports),
                    m.source,
                    m.target,
                    f"{', '.join(m.flows)} ({m.rule})",
                    m.reason,
                )
            )
        for e in r.extra:
            rows.append(
                (
                    r.stack,
                    "extra",
                    e.protocol.upper(),
                    _ports(e.protocol, e.ports),
                    e.source,
                    e.target,
                    ", ".join(e.rules),
                    "allowed, but no flow asks for it",
                )
            )
    return rows


def render_table(results: Sequence[Result], fmt: str) -> str:
    """`fmt` is "table" or "markdown"."""
    failed = [r for r in results if not r.ok]
    summary = render_rows(SUMMARY, _summary_rows(results), fmt)
    details = render_rows(DETAIL, _detail_rows(results), fmt, wrap={6: 40, 7: 50})
    if fmt == "markdown":
        head = "### crm-ports verify\n\n"
        verdict = (
            "Every stack allows exactly the catalogue's flows.\n"
            if not failed
            else f"**{len(failed)} of {len(results)} stack(s) differ from the catalogue.**\n"
        )
        body = head + verdict + "\n" + summary
        return body + ("\n" + details if failed else "")
    return summary + ("\n" + details if failed else "")
