"""What `crm-ports check` looks at, gathered from the command line: one lab (a lab file or
the options given), every lab of the working tree (`--all`), and/or a synthesized folder.

A folder's stacks (or the crm-ports constructs of an app's stacks, each judged on its own
part of its stack) join the lab of the same name; a lab file given alongside lends them
its waivers, since `crm-ports.json` records the lab's settings but a waiver is a
reviewer's decision that lives in the lab file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crm_ports.plans.azure import plan_azure
from crm_ports.policy.base import Stack, Subject
from crm_ports.policy.reading import rule_tags
from crm_ports.review.sides import Side
from crm_ports.terraform.folder import folder_labs, read_folder
from crm_ports.terraform.metadata import StackRecord
from crm_ports.terraform.records import construct_resources
from crm_ports.terraform.resources import AZURE_NSG, AZURE_RULE, NSG_KEY, inline_rule_address
from crm_ports.terraform.stack_json import read_stack_resources, referenced


def _stack(stack: StackRecord, overrides: Mapping[str, Any]) -> Stack:
    """A lab stack, or one construct's part of a stack of the user's own; `overrides` are
    variable values (`--var-file`) instead of the defaults."""
    resources = read_stack_resources(stack.directory, overrides)
    construct = stack.construct
    nsg = f"{AZURE_NSG}.{NSG_KEY}"
    if construct is not None:
        resources = construct_resources(resources, construct)
        nsg = referenced(construct.network_security_group)
    rule_ids = rule_tags(resources)
    if stack.cloud == "azure":
        lab = stack.lab.lab
        plan = plan_azure(stack.lab.ruleset, lab.name, origin=lab.origin)
        rule_ids.update({inline_rule_address(nsg, r.name): r.rule_ids for r in plan.rules})
        # a folder synthesized before the NSGs held their rules inline
        rule_ids.update({f"{AZURE_RULE}.{r.key}": r.rule_ids for r in plan.rules})
    name = f"{stack.cloud}-{stack.lab.lab.name}" if construct is None else construct.path
    return Stack(name, stack.cloud, resources, rule_ids)


def from_side(side: Side) -> list[Subject]:
    return [Subject(s.lab, s.ruleset) for s in side.labs]


def with_synth(
    subjects: list[Subject], folder: Path, overrides: Mapping[str, Any] | None = None
) -> tuple[list[Subject], tuple[str, ...]]:
    """The subjects plus the folder's stacks: joined to a subject of the same lab name,
    else checked as labs of their own (with the rule set their stack recorded); and the
    notes on what the folder held that is no crm-ports construct. `overrides`: variable
    values instead of the stacks' defaults."""
    values = overrides or {}
    read = read_folder(folder)
    found = {state.lab.name: (state, stacks) for state, stacks in folder_labs(read)}
    out = []
    for subject in subjects:
        _, stacks = found.pop(subject.lab.name, (None, ()))
        out.append(Subject(subject.lab, subject.ruleset, tuple(_stack(s, values) for s in stacks)))
    for name in sorted(found):
        state, stacks = found[name]
        out.append(Subject(state.lab, state.ruleset, tuple(_stack(s, values) for s in stacks)))
    return sorted(out, key=lambda s: s.lab.name), read.notes
