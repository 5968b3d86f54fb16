"""The construct API's arguments, checked as a lab file's keys are, when the construct is
created: before anything is synthesized, so a bad range never reaches `terraform validate`
(which would pass a `/33` inside a list variable's default) or a cloud.

Nothing here is a second rule book. Each argument goes through what checks the lab-file
key it stands for: the lab schema (`crm_ports/schema/lab.schema.json`) for the lab's
name, the AWS egress mode, a VPC id, an Azure location and resource group; the option
parsers (`crm_ports.options`) for options and peer ranges; the placement and lab-rule
checks (`crm_ports.lab.placement`, `crm_ports.lab.extra`) for hosts and rules. Only the
error's place differs: `InputError` names the construct (class and id) where a lab file
would name the file, and the argument where it would name the key, with the value.

A value that is a Terraform token or expression (`vpc.id`, `"${var.offices}"`) is known
only when Terraform runs; it is left to Terraform.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from crm_ports.errors import InputError
from crm_ports.inputs.validation import first_error
from crm_ports.lab.extra import is_extra
from crm_ports.lab.model import Lab
from crm_ports.options import SPECS, Options, parse_value
from crm_ports.ruleset import RuleSet

CIDR_OPTIONS = tuple(spec.name for spec in SPECS if spec.kind == "cidrs")
# A Terraform resource name: the prefix starts every logical id a construct writes.
TERRAFORM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# Lab-file keys (as schema paths) -> the construct argument that stands for each.
_ARGUMENTS = {
    ("name",): "lab",
    ("aws", "egress"): "egress",
    ("aws", "vpc_id"): "vpc_id",
    ("azure", "location"): "location",
    ("azure", "resource_group_name"): "resource_group_name",
}
_ANY_NAME = "lab"  # stands in for the name where a construct has none to check


def construct_name(kind: str, id: str) -> str:
    """How errors name a construct: its class and id, `AwsCrmLab 'crm'`."""
    return f"{kind} {id!r}"


def unresolved(value: object) -> bool:
    """A Terraform token or expression: `${...}`, or a cdktf token (`TfToken[...]`,
    which a list token such as `variable.list_value` encodes as `#{TfToken[...]}`)."""
    return isinstance(value, str) and ("${" in value or "TfToken[" in value)


def check_lab_keys(
    where: str,
    *,
    lab: object = _ANY_NAME,
    aws: Mapping[str, object] | None = None,
    azure: Mapping[str, object] | None = None,
) -> None:
    """The lab's name and per-cloud settings, through the lab schema (literal values only)."""
    data: dict[str, Any] = {"name": lab}
    for key, settings in (("aws", aws), ("azure", azure)):
        given = {k: v for k, v in (settings or {}).items() if v is not None and not unresolved(v)}
        if given:
            data[key] = given
    found = first_error(data, "lab.schema.json")
    if found is None:
        return
    path, message = found
    at = tuple(str(p) for p in path)
    argument = _ARGUMENTS.get(at, ".".join(at))
    raise InputError(where, "", argument, message)


def check_options(where: str, argument: str, options: object) -> Options:
    """`Options` built in Python skip every parser a lab file's `options:` goes through;
    each value goes through them now (`options.client_cidrs`, `options.web_port`, ...)."""
    if not isinstance(options, Options):
        raise InputError(
            where, "", argument, f"expected crm_ports.options.Options, got {options!r:.60}"
        )
    try:
        Options.from_json(options.to_json(), origin=where)
    except InputError as exc:
        field = f"{argument}.{exc.field}" if exc.field else argument
        raise InputError(where, "", field, exc.message) from None
    return options


def check_rules(where: str, rules: object) -> RuleSet:
    """A firewall's `rules`: a resolved rule set, whose options (built in Python, maybe
    never parsed) go through the option parsers as `rules.options.*`."""
    if not isinstance(rules, RuleSet):
        raise InputError(
            where,
            "",
            "rules",
            f"expected a RuleSet (crm_ports.resolver.resolve), got {rules!r:.60}",
        )
    check_options(where, "rules.options", rules.options)
    return rules


def check_firewall_lab(where: str, lab: object, rules: RuleSet, *, record: bool = True) -> Lab:
    """The lab a firewall renders, as its record claims it: the `Lab` given to
    `resolve_lab` (its own hosts and lab rules, which only the lab knows), or a name for a
    rule set of the catalogue's own topology. A rule set with hosts or lab rules of its own
    and no `Lab` is refused when `record`ing: the record would claim another lab than the
    one rendered, and `verify`, `check` and `diff` would judge the stack against it (the
    lab stacks record nothing inside: `crm-ports.json` beside them holds their lab)."""
    placed = rules.own_placement
    extra = sum(1 for rule in rules.rules if is_extra(rule))
    if isinstance(lab, Lab):
        own = lab.placement is not None and lab.options.topology == lab.placement.name
        if lab.options.topology != rules.topology or own != placed or len(lab.extra_rules) != extra:
            raise InputError(
                where,
                "",
                "lab",
                f"lab '{lab.name}' is not the lab `rules` was resolved from: pass the Lab "
                "given to resolve_lab",
            )
        return replace(lab, options=rules.options)
    if lab is not None and not isinstance(lab, str):
        raise InputError(
            where,
            "",
            "lab",
            f"expected a lab name or the Lab given to resolve_lab, got {lab!r:.60}",
        )
    own_parts = [
        part
        for part, present in (("hosts of its own", placed), (f"{extra} lab rule(s)", extra))
        if present
    ]
    if own_parts and record:
        raise InputError(
            where,
            "",
            "lab",
            f"{lab!r:.60} cannot record a rule set with {' and '.join(own_parts)} (from "
            "resolve_lab): pass lab=<the Lab given to resolve_lab>",
        )
    return Lab(name=lab if lab is not None else rules.topology, options=rules.options)


def check_peer_cidrs(where: str, peer_cidrs: object) -> None:
    """`peer_cidrs`: CIDR options (`client_cidrs`, ...) to a list of ranges, a list token
    or a Terraform expression; every literal range through the option parser."""
    if peer_cidrs is None:
        return
    if not isinstance(peer_cidrs, Mapping):
        raise InputError(
            where,
            "",
            "peer_cidrs",
            f"expected a mapping of CIDR option to ranges, got {peer_cidrs!r:.60}",
        )
    for option, value in peer_cidrs.items():
        field = f"peer_cidrs.{option}"
        if option not in CIDR_OPTIONS:
            raise InputError(
                where,
                "",
                "peer_cidrs",
                f"unknown CIDR option {option!r} (known: {', '.join(CIDR_OPTIONS)})",
            )
        if unresolved(value):
            continue
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise InputError(
                where,
                "",
                field,
                f"{value!r:.60} is neither a list of ranges nor a Terraform expression such "
                "as '${var.offices}'",
            )
        literal = [item for item in value if not unresolved(item)]
        if literal or not value:
            try:
                parse_value(option, literal)
            except ValueError as exc:
                raise InputError(where, "", field, str(exc)) from None


def check_prefix(where: str, prefix: object) -> None:
    """`logical_id_prefix`: empty, or the start of a Terraform resource name."""
    if prefix == "":
        return
    if not isinstance(prefix, str) or not TERRAFORM_NAME.match(prefix):
        raise InputError(
            where,
            "",
            "logical_id_prefix",
            f"{prefix!r:.60} cannot start a Terraform resource name (a letter or '_', then "
            "letters, digits, '_' and '-')",
        )


def check_host(where: str, field: str, name: object, roles: object) -> tuple[str, ...]:
    """A host's name and roles of the types the lab schema's `hosts:` items take (a name,
    a list of role ids); their values are the placement's to check
    (`crm_ports.lab.placement.check_hosts`)."""
    if not isinstance(name, str):
        raise InputError(where, "", f"{field}.name", f"expected a host name, got {name!r:.60}")
    if isinstance(roles, str) or not isinstance(roles, Sequence):
        raise InputError(
            where,
            f"host '{name}'",
            f"{field}.roles",
            f"expected a list of role ids, got {roles!r:.60}",
        )
    wrong = [role for role in roles if not isinstance(role, str)]
    if wrong:
        raise InputError(
            where, f"host '{name}'", f"{field}.roles", f"{wrong[0]!r:.60} is not a role id"
        )
    return tuple(roles)


__all__: Sequence[str] = (
    "CIDR_OPTIONS",
    "check_firewall_lab",
    "check_host",
    "check_lab_keys",
    "check_options",
    "check_peer_cidrs",
    "check_prefix",
    "check_rules",
    "construct_name",
    "unresolved",
)
