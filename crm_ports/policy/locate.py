"""Where a finding is caused: the line of the lab file or of the catalogue a reviewer would
edit, as SARIF (`check --format sarif`) places each result.

Nothing is parsed again: the loaders kept every position already (an option's line and
column in `Options.lines` and `.columns`, a host's and a lab rule's `Location`, a
catalogue entry's `Location`).
A check decides whether something is wrong; this module only reads what a finding names
(the rule ids it carries, the option or the role it is about) back to where it was
written:

- an internet-wide source on a guarded port (CRM001-CRM003): the peer's CIDR option in
  the lab (`admin_cidrs: [0.0.0.0/0]`);
- a rule: a lab-local rule's entry in `extra_rules:`, else the catalogue flow it comes from;
- an option the seeds advise against or HTTPS turned off (CRM005, CRM008): the option's line;
- a role without a flow (CRM011): the host that carries it;
- anything else: the stack file a stack finding is about, else the lab file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from crm_ports.catalogue.model import Catalogue, Location
from crm_ports.lab.extra import EXTRA_FLOW_PREFIX
from crm_ports.lab.model import Lab
from crm_ports.policy.base import Finding, Stack, Subject
from crm_ports.ruleset import Rule
from crm_ports.sarif import Place

INTERNET_WIDE = ("CRM001", "CRM002", "CRM003")
OPTION_CHECKS = {"CRM005": "https"}


@dataclass(frozen=True)
class Sources:
    """The catalogue the labs were resolved with, and the folder (or the one file) its
    entries' locations name: a catalogue location holds the file's name as messages show
    it (`catalog/flows.yaml` for the built-in one, wherever it is installed)."""

    catalogue: Catalogue
    folder: Path

    def place(self, location: Location) -> Place:
        if self.folder.is_file():
            return Place(self.folder, location.line)
        name = location.file.replace("\\", "/").rpartition("/")[2]
        return Place(self.folder / name, location.line)


def lab_place(lab: Lab, line: int | None = None) -> Place:
    """The lab file, at `line` when known. A lab that no file holds (the command line's
    options, a default lab) has an origin that names no file, which SARIF then locates
    by name."""
    return Place(Path(lab.origin), line)


def option_place(lab: Lab, option: str) -> Place | None:
    """The option's key in the lab file, line and column."""
    options = lab.options
    line = options.line(option)
    return None if line is None else Place(Path(options.origin), line, options.column(option))


def _rules(finding: Finding, subject: Subject) -> list[Rule]:
    by_id = {rule.id: rule for rule in subject.ruleset.rules}
    return [by_id[i] for i in (*finding.rules, finding.subject) if i in by_id]


def _internet_option(subject: Subject, rules: list[Rule]) -> Place | None:
    """The line of the CIDR option that let the internet in."""
    for rule in rules:
        group = next((g for g in subject.ruleset.groups if g.name == rule.source), None)
        if group is not None and group.cidr_option is not None:
            found = option_place(subject.lab, group.cidr_option)
            if found is not None:
                return found
    return None


def _rule_place(subject: Subject, rule: Rule, sources: Sources) -> Place | None:
    """A lab-local rule's entry in the lab file, else the first catalogue flow it carries."""
    for flow in rule.flows:
        if flow.startswith(EXTRA_FLOW_PREFIX):
            service = flow[len(EXTRA_FLOW_PREFIX) :]
            for extra in subject.lab.extra_rules:
                same = (extra.service, extra.protocol, extra.ports)
                if same == (service, rule.protocol, rule.ports):
                    return Place(Path(extra.location.file), extra.location.line)
            continue
        known = next((f for f in sources.catalogue.flows if f.id == flow), None)
        if known is not None:
            return sources.place(known.location)
    return None


def _advised(subject: Subject, finding: Finding, sources: Sources) -> Place | None:
    """CRM008: the option of the flow's `when:` that the lab sets, else the flow."""
    flow = next((f for f in sources.catalogue.flows if f.id == finding.subject), None)
    if flow is None:
        return None
    for option, _ in flow.when.terms:
        found = option_place(subject.lab, option)
        if found is not None:
            return found
    return sources.place(flow.location)


def _idle_host(subject: Subject, finding: Finding) -> Place | None:
    """CRM011: the host of the lab's placement that carries the idle role."""
    placement = subject.lab.placement
    for idle in subject.ruleset.idle_roles:
        if f"role {idle.role} on {idle.group}" == finding.subject and placement is not None:
            host = next((h for h in placement.hosts if h.name == idle.group), None)
            if host is not None:
                return Place(Path(host.location.file), host.location.line)
    return None


def _candidates(finding: Finding, subject: Subject, sources: Sources) -> Iterator[Place | None]:
    rules = _rules(finding, subject)
    if finding.check in INTERNET_WIDE:
        yield _internet_option(subject, rules)
    if finding.check in OPTION_CHECKS:
        yield option_place(subject.lab, OPTION_CHECKS[finding.check])
    if finding.check == "CRM008":
        yield _advised(subject, finding, sources)
    if finding.check == "CRM011":
        yield _idle_host(subject, finding)
    for rule in rules:
        yield _rule_place(subject, rule, sources)
    stack = _stack(subject, finding.where)
    if stack is not None and stack.source is not None:
        yield Place(stack.source)
    yield lab_place(subject.lab, subject.lab.options.line("topology"))


def _stack(subject: Subject, where: str) -> Stack | None:
    return next((s for s in subject.stacks if s.name == where), None)


def locate(finding: Finding, subject: Subject, sources: Sources) -> list[Place]:
    """The places that may hold the finding's cause, the most precise first; the caller
    takes the first that is a file of the repository."""
    return [p for p in _candidates(finding, subject, sources) if p is not None]
