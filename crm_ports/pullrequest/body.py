"""The review's body: a summary table first (what a reviewer must decide on), then the
live rules the apply removes, the internet exposure and groups replaced in plain sight,
then the details folded away: one `<details>` block per changed lab (the diff's own
sections), the policy findings and the verify verdict per stack. The words are those of
`diff`, `check` and `verify`: this module only arranges what their renderers say.

Everything is sorted and holds no time or absolute path, so the same change always gives
the same bytes and a comment is only edited when the plan changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_ports.policy.base import Finding, QuotaRow
from crm_ports.policy.report import findings_markdown, quotas_markdown, summary_counts
from crm_ports.pullrequest.split import Section
from crm_ports.review.diff import LabDiff
from crm_ports.review.markdown import (
    exposure_count,
    exposure_lines,
    hazard_lines,
    removal_items,
    removal_lines,
    replaced_items,
    section_body,
    section_summary,
)
from crm_ports.verify.compare import Result
from crm_ports.verify.report import render_table

TITLE = "### crm-ports plan review"
NOT_RUN = "not run"


@dataclass(frozen=True)
class Review:
    """What diff, check and verify found, for one pull request."""

    base: str
    head: str
    labs: tuple[LabDiff, ...]
    checked: tuple[str, ...]  # the labs (or construct paths) the policy checks judged
    findings: tuple[Finding, ...]
    quotas: tuple[QuotaRow, ...]  # the groups at 90% of a quota or more
    results: tuple[Result, ...] | None  # None: verify was not run

    @property
    def changed(self) -> tuple[str, ...]:
        return tuple(lab.name for lab in self.labs if lab.changed)

    @property
    def counts(self) -> dict[str, int]:
        return summary_counts(self.findings)

    @property
    def verdict(self) -> str:
        """ "pass", "fail", or "not run" (no stack to verify)."""
        if not self.results:
            return NOT_RUN
        return "pass" if all(r.ok for r in self.results) else "fail"

    def blocking(self, fail_on: str) -> bool:
        """Whether the findings reach `--fail-on`: policy errors and a failed verify are
        errors; warnings count from `warning` on."""
        if fail_on == "never":
            return False
        errors = self.counts["errors"] > 0 or self.verdict == "fail"
        return errors or (fail_on == "warning" and self.counts["warnings"] > 0)

    def to_json(self, parts: int) -> dict[str, Any]:
        out = {
            "base": self.base,
            "head": self.head,
            "changed": bool(self.changed),
            "errors": self.counts["errors"],
            "warnings": self.counts["warnings"],
            "waived": self.counts["waived"],
            "labs": [lab.name for lab in self.labs],
            "labs_changed": list(self.changed),
            "internet_reachable_new": exposure_count(self.labs),
            "groups_replaced": len(replaced_items(self.labs)),
            "verify": self.verdict,
            "parts": parts,
        }
        if self.removed:  # only then, so every other review reads as before
            out["live_rules_removed"] = self.removed
        return out

    @property
    def removed(self) -> int:
        """The live rules the head labs' first apply revokes."""
        return len(removal_items(self.labs))


def _verify_cell(review: Review) -> str:
    results = review.results or ()
    if not results:
        return "not run (no stack)"
    failed = sum(not r.ok for r in results)
    if failed:
        return f"**fail**: {failed} of {len(results)} stack(s) differ from the catalogue"
    return f"pass ({len(results)} stack(s))"


def _bold(count: int) -> str:
    """A count that needs the reviewer's attention stands out."""
    return f"**{count}**" if count else "0"


def summary_lines(review: Review) -> list[str]:
    """The heading and the summary table: part 1's top, and `summary.md` alone."""
    changed = review.changed
    names = "".join(f"{': ' if i == 0 else ', '}`{n}`" for i, n in enumerate(changed))
    counts = review.counts
    exposure = exposure_count(review.labs)
    replaced = len(replaced_items(review.labs))
    # a row only when the apply revokes live rules, so every other summary reads as before
    removed = (
        [f"| Live rules the apply removes | {_bold(review.removed)} |"] if review.removed else []
    )
    return [
        TITLE,
        "",
        f"Base `{review.base}`, head `{review.head}`.",
        "",
        "| Review | |",
        "|---|---|",
        *removed,
        f"| Labs changed | {len(changed)} of {len(review.labs)}{names} |",
        f"| Flows newly reachable from the internet | {_bold(exposure)} |",
        f"| Groups replaced while servers hold them | {_bold(replaced)} |",
        f"| Policy errors | {_bold(counts['errors'])} ({counts['warnings']} warning(s), "
        f"{counts['waived']} waived) |",
        f"| Verify | {_verify_cell(review)} |",
        "",
    ]


def _details(summary: str, lines: list[str]) -> Section:
    return Section(
        tuple(lines),
        opening=("<details>", f"<summary>{summary}</summary>", ""),
        closing=("", "</details>", ""),
    )


def _policy_section(review: Review) -> Section:
    counts = review.counts
    text = findings_markdown(review.findings, list(review.checked))
    if review.quotas:
        text += "\nGroups at 90% of a quota or more:\n\n" + quotas_markdown(list(review.quotas))
    verdict = "fails" if counts["errors"] else "passes"
    summary = (
        f"<b>Policy check</b> {verdict}: {counts['errors']} error(s), "
        f"{counts['warnings']} warning(s), {counts['waived']} waived"
    )
    return _details(summary, text.rstrip("\n").split("\n"))


def _verify_section(review: Review) -> Section:
    results = review.results or ()
    text = render_table(results, "markdown")
    lines = text.rstrip("\n").split("\n")
    if lines and lines[0].startswith("### "):  # the folded block's summary says it
        lines = lines[2:]
    return _details(f"<b>Verify</b>: {_verify_cell(review)}", lines)


def sections(review: Review) -> list[Section]:
    """What follows the summary, in the order a reviewer reads it."""
    out = []
    labs = review.labs
    for lines in (removal_lines(labs), exposure_lines(labs), hazard_lines(labs)):
        if lines:
            out.append(Section(tuple(lines)))
    if not review.changed:
        out.append(Section(("No flow, rule or cloud resource changes.", "")))
    for lab in review.labs:
        if lab.changed:
            out.append(_details(section_summary(lab), section_body(lab)))
    out.append(_policy_section(review))
    if review.results:
        out.append(_verify_section(review))
    return out
