"""One synthesized stack as verify sees it: its `cdk.tf.json` and nothing else.

Variables take their defaults or the values of a `-var-file`; `for_each` rules expand to
one instance per key (`crm_ports.terraform.stack_json` evaluates the expressions the stacks
write); references such as `${aws_security_group.sg_x.id}` become the resource address
they name, which is how rules, groups and outputs are joined.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_ports.errors import InputError
from crm_ports.inputs import yamlio
from crm_ports.terraform.metadata import ConstructRecord, read_json
from crm_ports.terraform.resources import Resources, resource_type
from crm_ports.terraform.stack_json import (
    STACK_FILE,
    evaluate,
    referenced,
    stack_resources,
    stack_variables,
)
from crm_ports.verify.spans import cidr_span

_COUNT = re.compile(r'^\$\{var\.([A-Za-z0-9_-]+) (==|!=) "([^"]*)" \? (\d+) : (\d+)\}$')


@dataclass(frozen=True)
class Stack:
    name: str  # <cloud>-<lab>, the stack folder's name
    cloud: str
    variables: dict[str, Any]
    resources: Resources
    outputs: dict[str, Any]

    def cidr_list(self, variable: str) -> tuple[str, ...] | None:
        """A list(string) variable of IPv4 ranges (a peer's), checked; None if the stack
        declares no such list."""
        value = self.variables.get(variable)
        if not isinstance(value, list | tuple):
            return None
        return self._checked(value, f"variable '{variable}'")

    def _checked(self, value: list[Any] | tuple[Any, ...], entry: str) -> tuple[str, ...]:
        for item in value:
            try:
                cidr_span(str(item))
            except ValueError:
                raise InputError(self.name, entry, "", f"'{item}' is not an IPv4 CIDR") from None
        return tuple(str(v) for v in value)

    def peer_ranges(self, construct: ConstructRecord | None, option: str) -> tuple[str, ...] | None:
        """A peer's ranges in this stack: for a construct, what it was given for `option`
        (a list, or an expression such as `${var.offices}` evaluated with the stack's
        variables); for a lab stack, its variable of that name. None: not given."""
        if construct is None:
            return self.cidr_list(option)
        given = construct.peers.get(option)
        if given is None:
            return None
        value = evaluate(given, self.variables)
        if not isinstance(value, tuple):
            raise InputError(
                self.name,
                f"peer_cidrs '{option}'",
                "",
                f"cannot evaluate {given!r} (verify reads variables and literal lists; "
                "give variable values with --var-file)",
            )
        return self._checked(value, f"peer_cidrs '{option}'")

    def of_type(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        prefix = kind + "."
        return sorted((a, v) for a, v in self.resources.items() if a.startswith(prefix))

    def of_kind(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        """As `of_type`, by `resource_type`: an NSG's inline rules are of their own kind."""
        return sorted((a, v) for a, v in self.resources.items() if resource_type(a) == kind)


def reference(value: Any) -> str:
    """The resource address a `${type.name.id}` expression names; anything else (a literal
    id such as `sg-0abc`) is its own identity."""
    return referenced(value)


def _cloud(document: dict[str, Any], shown: str) -> str:
    kinds = set((document.get("resource") or {}).keys())
    if any(k.startswith("aws_") for k in kinds):
        return "aws"
    if any(k.startswith("azurerm_") for k in kinds):
        return "azure"
    raise InputError(shown, "", "resource", "no aws_ or azurerm_ resources: not a lab stack")


def _absent(document: dict[str, Any], variables: dict[str, Any]) -> set[str]:
    """Resources whose `count` is 0 with these variables: the stacks create their own VPC
    or subnet only when `vpc_id` / `subnet_id` is empty (`${var.x == "" ? 1 : 0}`), and a
    subnet that is not created says nothing about where the instances are."""
    out: set[str] = set()
    for kind, items in (document.get("resource") or {}).items():
        for key, raw in (items or {}).items():
            count = raw.get("count") if isinstance(raw, dict) else None
            if isinstance(count, int):
                number = count
            else:
                match = _COUNT.match(str(count)) if count is not None else None
                if match is None:
                    continue
                equal = str(variables.get(match.group(1))) == match.group(3)
                truth = equal if match.group(2) == "==" else not equal
                number = int(match.group(4) if truth else match.group(5))
            if number == 0:
                out.add(f"{kind}.{key}")
    return out


def parse_stack(document: Any, name: str, shown: str, overrides: dict[str, Any]) -> Stack:
    if not isinstance(document, dict):
        raise InputError(shown, "", "", "expected a Terraform JSON object")
    variables = stack_variables(document, overrides)
    outputs = {
        key: evaluate(spec.get("value"), variables)
        for key, spec in sorted((document.get("output") or {}).items())
        if isinstance(spec, dict)
    }
    absent = _absent(document, variables)
    resources = {
        address: attributes
        for address, attributes in stack_resources(document, shown, overrides).items()
        if address.split("[", 1)[0] not in absent
    }
    return Stack(
        name=name,
        cloud=_cloud(document, shown),
        variables=variables,
        resources=resources,
        outputs=outputs,
    )


def read_stack(directory: Path, overrides: dict[str, Any], name: str | None = None) -> Stack:
    """The stack of `directory`, named `name` (default: the folder's) in reports."""
    path = directory / STACK_FILE
    document = read_json(path, " (run `crm-ports synth` first)")
    shown = yamlio.display_name(path)
    return parse_stack(document, name or directory.name, shown, overrides)


_ASSIGN = re.compile(r"(?m)^\s*([A-Za-z_][A-Za-z0-9_-]*)\s*=")
_COMMENT = re.compile(r"(?m)^\s*(#|//).*$")


def read_var_file(path: Path) -> dict[str, Any]:
    """A `-var-file`: `*.tfvars.json`, or `*.tfvars` of `name = value` statements whose
    values are strings, numbers, booleans or lists of them (what the stacks' variables
    take); anything richer is refused with its line rather than misread."""
    shown = yamlio.display_name(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(shown, "", "--var-file", f"cannot read: {exc.strerror}") from None
    if path.name.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(shown, "", "", f"not JSON: {exc.msg}", exc.lineno) from None
        if not isinstance(data, dict):
            raise InputError(shown, "", "", "expected an object of variable values")
        return data
    body = _COMMENT.sub("", text)
    starts = list(_ASSIGN.finditer(body))
    if body[: starts[0].start() if starts else len(body)].strip():
        raise InputError(shown, "", "", "expected `name = value`", 1)
    out: dict[str, Any] = {}
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(body)
        value = re.sub(r",(\s*)\]", r"\1]", body[match.end() : end]).strip()
        try:
            out[match.group(1)] = json.loads(value)
        except json.JSONDecodeError:
            line = body.count("\n", 0, match.start()) + 1
            raise InputError(
                shown, "", match.group(1), "only strings, numbers, booleans and lists", line
            ) from None
    return out


def carried_groups(
    stack: Stack, output: str, what: str, construct: ConstructRecord | None = None
) -> dict[str, frozenset[str]]:
    """Host group -> the groups (AWS) or ASGs (Azure) its machines carry, from the stack
    output that says so, or for a construct in a stack of the user's own, what it handed
    the user to attach (`security_group_ids`): the evaluators read membership nowhere
    else."""
    if construct is not None:
        return {
            name: frozenset(reference(g) for g in groups)
            for name, groups in construct.carries.items()
        }
    membership = stack.outputs.get(output)
    if not isinstance(membership, dict):
        raise InputError(stack.name, "output", output, f"missing: verify reads {what} from it")
    return {
        name: frozenset(reference(g) for g in (groups if isinstance(groups, tuple) else ()))
        for name, groups in membership.items()
    }
