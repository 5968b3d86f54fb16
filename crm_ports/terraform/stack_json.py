"""Read the resources of a synthesized stack (`cdk.tf.json`) with their actual values.

Peer rules are emitted once with `for_each` over a CIDR variable, and Azure rules take
their prefixes from the same variables, so the values a check must see are the variables'
defaults. This module evaluates exactly the expressions the stacks write
(`${var.X}`, `${toset(var.X)}`, `${toset([...])}`, `${each.value}`, `${each.key}`) and
expands each `for_each` instance as `type.name["key"]`, the address `terraform plan`
shows, and an NSG's inline rules as one entry each, at
`azurerm_network_security_group.<name>.security_rule["<rule name>"]`. Any other
interpolation (a reference to another resource) is kept as written.
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
from crm_ports.terraform.resources import AZURE_NSG, Resources, inline_rule_address

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
    out: Resources = {}
    for kind, items in sorted((document.get("resource") or {}).items()):
        for key, raw in sorted((items or {}).items()):
            attributes = {k: v for k, v in raw.items() if k not in META}
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
