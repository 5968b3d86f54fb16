"""`crm-ports check`'s report in each format, word for word: the counts line, a waived
finding's status, the column widths a long finding wraps at, the verdict and the quota
table. The check tests judge which findings a lab has; these pin how they are shown."""

from __future__ import annotations

import pytest

from crm_ports.policy.base import Finding, QuotaRow
from crm_ports.policy.report import render_report

FINDINGS = (
    Finding(
        check="CRM001",
        severity="error",
        lab="north",
        where="aws-north",
        subject="in_admins_fe_tcp rdp",  # "aws-north: " + this is 31 characters: wraps at 30
        message="RDP open to 0.0.0.0/0 from anywhere at all, on 3389",  # 51: wraps at 50
        fix="narrow admin_cidrs to the offices' ranges",  # 41: wraps at 40
    ),
    Finding(
        check="CRM004",
        severity="error",
        lab="north",
        where="rule set",
        subject="clients.fe",
        message="all traffic",
        fix="name the ports",
        waived="lab probe",
    ),
    Finding(
        check="CRM008",
        severity="warning",
        lab="south",
        where="options",
        subject="https",
        message="not recommended",
        fix="turn https on",
    ),
)
QUOTAS = [QuotaRow("north", "aws", "north-crm-front-end", "ingress", 57, 60)]
LABS = ["north", "south"]

TABLE = """\
2 lab(s) checked (north, south): 1 error(s), 1 warning(s), 1 waived.

Lab    Check    Status          Where                        Finding                                         Fix or waiver
-----  -------  --------------  ---------------------------  ----------------------------------------------  ----------------------------------
north  CRM001   error           aws-north: in_admins_fe_tcp  RDP open to 0.0.0.0/0 from anywhere at all, on  narrow admin_cidrs to the offices'
                                rdp                          3389                                            ranges
north  CRM004   waived (error)  rule set: clients.fe         all traffic                                     waived: lab probe
south  CRM008   warning         options: https               not recommended                                 turn https on

Lab    Cloud    Group                Direction    Rules    Quota    Headroom
-----  -------  -------------------  -----------  -------  -------  ----------
north  aws      north-crm-front-end  ingress      57       60       3
"""  # noqa: E501

MARKDOWN = """\
### crm-ports policy check fails

2 lab(s) checked (north, south): 1 error(s), 1 warning(s), 1 waived.

| Lab | Check | Status | Where | Finding | Fix or waiver |
| --- | --- | --- | --- | --- | --- |
| north | CRM001 | error | aws-north: in_admins_fe_tcp rdp | RDP open to 0.0.0.0/0 from anywhere at all, on 3389 | narrow admin_cidrs to the offices' ranges |
| north | CRM004 | waived (error) | rule set: clients.fe | all traffic | waived: lab probe |
| south | CRM008 | warning | options: https | not recommended | turn https on |

<details><summary>Quota headroom</summary>

| Lab | Cloud | Group | Direction | Rules | Quota | Headroom |
| --- | --- | --- | --- | --- | --- | --- |
| north | aws | north-crm-front-end | ingress | 57 | 60 | 3 |

</details>
"""  # noqa: E501

JSON = """\
{
  "findings": [
    {
      "check": "CRM001",
      "fix": "narrow admin_cidrs to the offices' ranges",
      "lab": "north",
      "message": "RDP open to 0.0.0.0/0 from anywhere at all, on 3389",
      "severity": "error",
      "subject": "in_admins_fe_tcp rdp",
      "where": "aws-north"
    },
    {
      "check": "CRM004",
      "fix": "name the ports",
      "lab": "north",
      "message": "all traffic",
      "severity": "error",
      "subject": "clients.fe",
      "waived": "lab probe",
      "where": "rule set"
    },
    {
      "check": "CRM008",
      "fix": "turn https on",
      "lab": "south",
      "message": "not recommended",
      "severity": "warning",
      "subject": "https",
      "where": "options"
    }
  ],
  "labs": [
    "north",
    "south"
  ],
  "quotas": [
    {
      "cloud": "aws",
      "container": "north-crm-front-end",
      "direction": "ingress",
      "headroom": 3,
      "lab": "north",
      "limit": 60,
      "used": 57
    }
  ],
  "summary": {
    "errors": 1,
    "waived": 1,
    "warnings": 1
  }
}
"""

PASSING = """\
### crm-ports policy check passes

2 lab(s) checked (north, south): 0 error(s), 1 warning(s), 1 waived.

| Lab | Check | Status | Where | Finding | Fix or waiver |
| --- | --- | --- | --- | --- | --- |
| north | CRM004 | waived (error) | rule set: clients.fe | all traffic | waived: lab probe |
| south | CRM008 | warning | options: https | not recommended | turn https on |
"""


@pytest.mark.parametrize(
    ("findings", "fmt", "expected"),
    [
        (FINDINGS, "table", TABLE),
        (FINDINGS, "markdown", MARKDOWN),
        (FINDINGS, "json", JSON),
        (FINDINGS[1:], "markdown", PASSING),  # a waived error and a warning pass
    ],
    ids=["table", "markdown", "json", "passing-markdown"],
)
def test_the_report_word_for_word(findings: tuple[Finding, ...], fmt: str, expected: str) -> None:
    quotas = QUOTAS if findings == FINDINGS else []
    assert render_report(findings, quotas, LABS, fmt) == expected


def test_no_findings_and_no_quotas_is_the_counts_line_alone() -> None:
    counts = "1 lab(s) checked (north): 0 error(s), 0 warning(s), 0 waived.\n"
    assert render_report((), [], ["north"], "table") == counts
    assert render_report((), [], ["north"], "markdown") == (
        "### crm-ports policy check passes\n\n" + counts
    )
