"""Read the resources of a synthesized stack (`cdk.tf.json`) with their actual values.

Peer rules are emitted once with `for_each` over a CIDR variable, and Azure rules take
their prefixes from the same variables, so the values a check must see are the variables'
defaults. This module evaluates exactly the expressions the stacks write
(`${var.X}`, `${toset(var.X)}`, `${toset([...])}`, `${each.value}`, `${each.key}`) and
expands each `for_each` instance as `type.name["key"]`, the address `terraform plan`
shows, and an NSG's inline rules as one entry each, at
`azurerm_network_security_group.<name>.security_rule["<rule name>"]`. An adopted security
group's inline `ingress` / `egress` blocks become one entry per source, shaped as a
standalone rule (`crm_ports.terraform.resources.aws_inline_address`); a literal group id
that the stack's `import` blocks bring in is that group's reference, since it names the
same group. Any other interpolation (a reference to another resource) is kept as written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crm_ports.errors import InputError
from crm_ports.inputs import yamlio
from crm_ports.terraform.metadata import read_json
from crm_ports.terraform.resources import (
    AWS_SECURITY_GROUP,
    AZURE_NSG,
    Resources,
    aws_inline_address,
    inline_rule_address,
)

STACK_FILE = "cdk.tf.json"
META = frozenset({"for_each", "count", "provider", "depends_on", "lifecycle", "//"})
_VAR = re.compile(r"^\$\{var\.([A-Za-z0-9_-]+)\}$")
_TOSET_VAR = re.compile(r"^\$\{toset\(var\.([A-Za-z0-9_-]+)\)\}$")
_TOSET_LIST = re.compile(r"^\$\{toset\((\[.*\])\)\}$", re.DOTALL)
_EACH = {"${each.value}", "${each.key}"}
_REF = re.compile(r"^\$\{([A-Za-z0-9_]+\.[A-Za-z0-9_-]+)\.(?:id|name)\}$")


class _Unresolved(ValueError):
    pass


def _for_each(expression: Any, variables: dict[str, Any]) -> list[str]:
    if isinstance(expression, list):
        return [str(v) for v in expression]
    text = str(expression)
    for pattern in (_TOSET_VAR, _VAR):
        match = pattern.match(text)
        if match:
            value = variables.get(match.group(1))
            if value is None:
                raise _Unresolved(
                    f"variable '{match.group(1)}' has no list default: give its value with "
                    "--var-file"
                )
            if not isinstance(value, list):  # a -var-file's value (or a hand-edited default)
                raise _Unresolved(f"variable '{match.group(1)}' is {value!r}, not a list")
            return [str(v) for v in value]
    match = _TOSET_LIST.match(text)
    if match:
        try:
            items = json.loads(match.group(1))
        except json.JSONDecodeError:
            raise _Unresolved(f"cannot evaluate {text!r}") from None
        return [str(v) for v in items]
    raise _Unresolved(f"cannot evaluate {text!r} (only variables and literal lists)")


def _value(value: Any, variables: dict[str, Any], each: str | None) -> Any:
    if isinstance(value, str):
        if value in _EACH:
            if each is None:
                raise _Unresolved(f"{value} outside a for_each resource")
            return each
        match = _VAR.match(value)
        if match and match.group(1) in variables:
            return _value(variables[match.group(1)], variables, each)
        return value
    if isinstance(value, list):
        return tuple(_value(v, variables, each) for v in value)
    if isinstance(value, dict):
        return {k: _value(v, variables, each) for k, v in sorted(value.items())}
    return value


def stack_variables(document: Any, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Each declared variable's value: `overrides` (a `-var-file`) where given, else its
    default. Overrides for variables the stack does not declare are ignored, as Terraform
    only warns about them."""
    declared = (document.get("variable") or {}) if isinstance(document, dict) else {}
    return {
        key: (overrides or {}).get(key, spec.get("default") if isinstance(spec, dict) else None)
        for key, spec in declared.items()
    }


def evaluate(value: Any, variables: dict[str, Any]) -> Any:
    """`value` with the variable references this module understands replaced (lists
    become tuples); used for outputs, which have no `each`."""
    return _value(value, variables, None)


def stack_resources(
    document: Any, name: str, overrides: Mapping[str, Any] | None = None
) -> Resources:
    """`{address: attributes}` of one cdk.tf.json document; `name` is used in errors,
    `overrides` replace variable defaults (a `-var-file`)."""
    if not isinstance(document, dict):
        raise InputError(name, "", "", "expected a Terraform JSON object")
    variables = stack_variables(document, overrides)
    imported = _imported_groups(document)
    out: Resources = {}
    for kind, items in sorted((document.get("resource") or {}).items()):
        for key, raw in sorted((items or {}).items()):
            attributes = {k: v for k, v in raw.items() if k not in META}
            if kind == AWS_SECURITY_GROUP and any(
                isinstance(attributes.get(d), list) for d in _DIRECTIONS
            ):
                try:
                    out.update(_group_rules(f"{kind}.{key}", attributes, variables, imported))
                except _Unresolved as exc:
                    raise InputError(
                        name, f"resource '{kind}.{key}'", "ingress", str(exc)
                    ) from None
                continue
            if kind == AZURE_NSG and isinstance(attributes.get("security_rule"), list):
                try:
                    out.update(_inline_rules(f"{kind}.{key}", attributes, variables))
                except _Unresolved as exc:
                    raise InputError(
                        name, f"resource '{kind}.{key}'", "security_rule", str(exc)
                    ) from None
                continue
            try:
                if "for_each" not in raw:
                    out[f"{kind}.{key}"] = _value(attributes, variables, None)
                    continue
                for each in sorted(_for_each(raw["for_each"], variables)):
                    out[f'{kind}.{key}["{each}"]'] = _value(attributes, variables, each)
            except _Unresolved as exc:
                raise InputError(name, f"resource '{kind}.{key}'", "for_each", str(exc)) from None
    return out


def _inline_rules(address: str, attributes: dict[str, Any], variables: dict[str, Any]) -> Resources:
    """The NSG without its rules, and each inline rule by name; a null attribute is
    unset, as Terraform reads it."""
    own = {k: v for k, v in attributes.items() if k != "security_rule"}
    out: Resources = {address: _value(own, variables, None)}
    for index, rule in enumerate(attributes["security_rule"]):
        if not isinstance(rule, dict):
            raise _Unresolved(f"security_rule[{index}] is not an object")
        body = {k: v for k, v in rule.items() if v is not None}
        name = str(body.get("name", f"#{index}"))
        out[inline_rule_address(address, name)] = _value(body, variables, None)
    return out


_DIRECTIONS = ("ingress", "egress")
_SOURCES = (
    ("cidr_blocks", "cidr_ipv4"),
    ("ipv6_cidr_blocks", "cidr_ipv6"),
    ("prefix_list_ids", "prefix_list_id"),
    ("security_groups", "referenced_security_group_id"),
)


def _imported_groups(document: dict[str, Any]) -> dict[str, str]:
    """Live group id -> `${address.id}`, from the stack's `import` blocks."""
    blocks = document.get("import")
    out: dict[str, str] = {}
    for block in blocks if isinstance(blocks, list) else ():
        to = block.get("to") if isinstance(block, dict) else None
        if isinstance(to, str) and to.startswith(f"{AWS_SECURITY_GROUP}."):
            out[str(block.get("id"))] = f"${{{to}.id}}"
    return out


def _group_rules(
    address: str, attributes: dict[str, Any], variables: dict[str, Any], imported: dict[str, str]
) -> Resources:
    """The security group without its inline rules, and each rule by source, with a
    standalone rule's attribute names: an all-traffic rule's ports (0-0 inline) unset,
    `self` the group's own reference."""
    own = {k: v for k, v in attributes.items() if k not in _DIRECTIONS}
    out: Resources = {address: _value(own, variables, None)}
    holder = f"${{{address}.id}}"
    for direction in _DIRECTIONS:
        blocks = attributes.get(direction)
        for index, block in enumerate(blocks if isinstance(blocks, list) else ()):
            if not isinstance(block, dict):
                raise _Unresolved(f"{direction}[{index}] is not an object")
            body = _value(block, variables, None)
            protocol = str(body.get("protocol", ""))
            portless = protocol.lower() in ("-1", "all")
            common: dict[str, Any] = {
                "security_group_id": holder,
                "ip_protocol": protocol,
                "from_port": None if portless else body.get("from_port"),
                "to_port": None if portless else body.get("to_port"),
                "description": body.get("description") or None,
            }
            sources: list[tuple[str, str]] = []
            for field, name in _SOURCES:
                values = body.get(field) or ()
                if isinstance(values, str):
                    raise _Unresolved(f"{direction}[{index}].{field}: cannot evaluate {values!r}")
                sources += [(name, imported.get(str(v), str(v))) for v in values]
            if body.get("self") is True:
                sources.append(("referenced_security_group_id", holder))
            for name, value in sources:
                rule: dict[str, Any] = {
                    k: v for k, v in {**common, name: value}.items() if v is not None
                }
                source = referenced(value) if name == "referenced_security_group_id" else value
                at = aws_inline_address(
                    address, direction, protocol, rule.get("from_port"), rule.get("to_port"), source
                )
                out[at] = dict(sorted(rule.items()))
    return out


def referenced(value: Any) -> str:
    """The resource address a `${type.name.id}` (or `.name`) expression names; anything
    else (a literal id such as `sg-0abc`) is its own identity."""
    text = str(value)
    match = _REF.match(text)
    return match.group(1) if match else text


def read_stack_resources(directory: Path, overrides: Mapping[str, Any] | None = None) -> Resources:
    path = directory / STACK_FILE
    document = read_json(path, " (run `crm-ports synth` first)")
    return stack_resources(document, yamlio.display_name(path), overrides)
