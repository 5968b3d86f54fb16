"""`crm-ports verify --format sarif`: each failed expectation a result of one of verify's
own two rules, which are not policy checks (a stack can pass every check and still
differ from its lab's flows):

- CRMV001 `FlowNotAllowed`: a flow the catalogue asks for that the stack does not allow
  on every port;
- CRMV002 `ReachWithoutFlow`: traffic the stack lets into a lab server that no flow asks for.

Each is located at the lab line that explains it where there is one (a lab-local rule's
entry in `extra_rules:`, the CIDR option of the peer the traffic comes from or whose range
keys the rule that allows it), else at the synthesized stack file the verdict was read
from, else at the lab file; URIs are relative to the repository root (`crm_ports.sarif`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from crm_ports.lab.extra import EXTRA_FLOW_PREFIX
from crm_ports.lab.model import Lab
from crm_ports.options import SPECS
from crm_ports.policy.locate import option_place
from crm_ports.sarif import Log, Place, Result, Rule, Tree, sarif_log
from crm_ports.verify.compare import Extra, Missing
from crm_ports.verify.compare import Result as Verdicts
from crm_ports.verify.run import Target
from crm_ports.verify.spans import PORTLESS

MISSING = "CRMV001"
EXTRA = "CRMV002"

RULES = (
    Rule(
        MISSING,
        "FlowNotAllowed",
        "A flow the lab's catalogue asks for is not allowed by the synthesized stack",
        "verify evaluates each synthesized stack as its cloud would (AWS security groups, "
        "Azure NSG priorities and default rules) and asks it every flow the lab's options "
        "select from the catalogue, on every port: a flow it refuses breaks that part of "
        "Dynamics CRM in the deployed lab.",
        "Synthesize the stack again from the lab file (crm-ports synth) if it is stale; "
        "otherwise the rule was edited out of the stack: `crm-ports why` names what "
        "decided the packet.",
        "error",
    ),
    Rule(
        EXTRA,
        "ReachWithoutFlow",
        "The synthesized stack lets traffic into a lab server that no flow asks for",
        "verify evaluates each synthesized stack as its cloud would and lists what reaches "
        "a lab server beyond the catalogue's flows: a port the lab does not need is attack "
        "surface that no reviewer approved.",
        "Remove the rule the message names from the stack, or, if the lab needs it, add "
        "it to the lab file's `extra_rules:` with its reason and synthesize again.",
        "error",
    ),
)


def _ports(protocol: str, text: str) -> str:
    return protocol.upper() if protocol in PORTLESS else f"{protocol.upper()} {text}"


def _lab_rule(lab: Lab, flows: Sequence[str]) -> Place | None:
    """The lab-local rule (`extra_rules:`) a missing flow comes from."""
    for flow in flows:
        if flow.startswith(EXTRA_FLOW_PREFIX):
            name = flow[len(EXTRA_FLOW_PREFIX) :]
            for extra in lab.extra_rules:
                if extra.service == name:
                    return Place(Path(extra.location.file), extra.location.line)
    return None


# The key `for_each` gives an AWS rule per range of a peer: `...tcp_rdp["0.0.0.0/0"]`.
FOR_EACH_KEY = re.compile(r'\["([^"]+)"\]$')


def _range_option(target: Target, source: str, rules: Sequence[str]) -> Place | None:
    """The lab's CIDR option behind the traffic: the one of the peer it comes from, else
    one holding a range an AWS rule that allows it is keyed by (`admin_cidrs:
    [0.0.0.0/0]` lets the internet, lab servers included, reach RDP)."""
    options = [p.option for p in target.expected.peers if p.name == source and p.option]
    keys = {m.group(1) for rule in rules if (m := FOR_EACH_KEY.search(rule))}
    options += [
        spec.name
        for spec in SPECS
        if spec.kind == "cidrs" and keys & set(getattr(target.lab.options, spec.name))
    ]
    found = (option_place(target.lab, option) for option in options)
    return next((place for place in found if place is not None), None)


def _places(target: Target, *lab_lines: Place | None) -> tuple[Place, ...]:
    places = [*lab_lines, Place(target.source), Place(Path(target.lab.origin))]
    return tuple(p for p in places if p is not None and p.path is not None)


def _result(
    rule: str,
    target: Target,
    stack: str,
    item: Missing | Extra,
    lab_lines: tuple[Place | None, ...],
    identity: tuple[str, ...],
) -> Result:
    ports = _ports(item.protocol, item.ports.ports_text())
    return Result(
        rule=rule,
        level="error",
        message=f"{stack}: {item.text()}",
        places=_places(target, *lab_lines),
        logical=f"{stack}/{item.source}->{item.target}/{ports}",
        logical_kind="resource",
        identity=(rule, stack, item.source, item.target, *identity),
    )


def _missing(target: Target, stack: str, item: Missing) -> Result:
    """Identified by the flows and the rule that should allow them, whatever the ports."""
    lines = (_lab_rule(target.lab, item.flows), _range_option(target, item.source, ()))
    return _result(MISSING, target, stack, item, lines, (item.rule, *item.flows))


def _extra(target: Target, stack: str, item: Extra) -> Result:
    """Identified by what it lets through: no flow names it."""
    ports = _ports(item.protocol, item.ports.ports_text())
    lines = (_range_option(target, item.source, item.rules),)
    return _result(EXTRA, target, stack, item, lines, (ports,))


def _results(pairs: Sequence[tuple[Target, Verdicts]]) -> Iterator[Result]:
    for target, verdicts in pairs:
        yield from (_missing(target, verdicts.stack, m) for m in verdicts.missing)
        yield from (_extra(target, verdicts.stack, e) for e in verdicts.extra)


def verify_sarif(
    targets: Sequence[Target], results: Sequence[Verdicts], tree: Tree, version: str
) -> Log:
    """`results` are `verify_targets(targets)`, in the same order."""
    pairs = list(zip(targets, results, strict=True))
    return sarif_log(RULES, list(_results(pairs)), tree, version=version, category="verify")
