"""How a construct receives the address ranges of outside peers (clients, administrators,
mail servers): a literal list, a cdktf list token, or a Terraform expression string that
evaluates to a list (e.g. "${var.client_cidrs}"). Stacks pass expressions so the ranges
stay Terraform variables; library users may pass anything of the three.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from crm_ports.errors import InputError
from crm_ports.ruleset import RuleSet

CidrList = Sequence[str] | str
_EXPRESSION = re.compile(r"^\$\{(.*)\}$", re.DOTALL)


def peer_ranges(
    rules: RuleSet, given: Mapping[str, CidrList] | None, where: str = "construct"
) -> dict[str, CidrList]:
    """CIDR option name -> ranges: given values, else the rule set's literal ranges. A
    given option no peer of the lab reads is an InputError naming `where` (the
    construct), since its ranges would go nowhere."""
    out: dict[str, CidrList] = {}
    for group in rules.groups:
        if group.is_peer and group.cidr_option:
            out[group.cidr_option] = group.cidrs
    for name, value in (given or {}).items():
        if name not in out:
            known = ", ".join(sorted(out)) or "none"
            raise InputError(
                where, "", "peer_cidrs", f"unknown CIDR option {name!r} (this lab uses: {known})"
            )
        out[name] = value
    return out


def peer_cidrs_for(
    rules: RuleSet, given: Mapping[str, CidrList] | None, where: str = "construct"
) -> dict[str, CidrList]:
    """Peer group -> its ranges, from the CIDR option each peer group reads; a peer
    without one (a lab rule's own CIDR) keeps its literal ranges."""
    by_option = peer_ranges(rules, given, where)
    out: dict[str, CidrList] = {}
    for g in rules.groups:
        if g.is_peer and g.cidr_option in by_option:
            out[g.name] = by_option[g.cidr_option]
        elif g.is_peer and g.cidr_option is None and g.cidrs:
            out[g.name] = g.cidrs
    return out


def is_token(value: str) -> bool:
    return "TfToken[" in value


def expression(value: CidrList) -> str | None:
    """The Terraform expression inside "${...}", when the ranges are given as one."""
    if isinstance(value, str):
        match = _EXPRESSION.match(value)
        if match:
            return match.group(1)
    return None


def as_set_expression(value: CidrList) -> str:
    """A `for_each` value: Terraform wants a set, and a JSON array is a tuple."""
    if isinstance(value, str):
        inner = expression(value)
        if inner is None:
            raise ValueError(f"expected a Terraform expression like '${{var.x}}', got {value!r}")
        return f"${{toset({inner})}}"
    items = list(value)
    if any(is_token(item) for item in items):
        from crm_ports.constructs.cdk import (  # a list token can only be wrapped on the Node side
            Fn,
            Token,
        )

        return Token.as_string(Fn.toset(items))
    return f"${{toset({json.dumps(items)})}}"
