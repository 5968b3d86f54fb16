"""What `crm-ports check` looks at, gathered from the command line: one lab (a lab file or
the options given), every lab of the working tree (`--all`), and/or a synthesized folder.

A folder's lab stacks join the lab of the same name; a lab file given alongside lends them
its waivers, since `crm-ports.json` records the lab's settings but a waiver is a
reviewer's decision that lives in the lab file. The crm-ports constructs of an app's
stacks are subjects of their own, each judged on its own part of its stack and named by
its path (`<stack>/<id>`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from crm_ports.plans.aws import plan_aws
from crm_ports.plans.azure import plan_azure
from crm_ports.policy.base import Stack, Subject
from crm_ports.policy.reading import rule_tags
from crm_ports.review.sides import Side
from crm_ports.terraform.folder import folder_labs, read_folder
from crm_ports.terraform.metadata import StackRecord
from crm_ports.terraform.records import construct_resources
from crm_ports.terraform.resources import (
    AZURE_NSG,
    AZURE_RULE,
    NSG_KEY,
    aws_inline_rule_ids,
    inline_rule_address,
)
from crm_ports.terraform.stack_json import STACK_FILE, read_stack_resources, referenced


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
    if stack.cloud == "aws" and stack.lab.lab.adopt:  # inline rules carry no rule tag
        lab = stack.lab.lab
        aws = plan_aws(
            stack.lab.ruleset, lab.name, egress=lab.aws.egress, origin=lab.origin, adopt=lab.adopt
        )
        rule_ids.update(aws_inline_rule_ids(aws))
    if stack.cloud == "azure":
        lab = stack.lab.lab
        plan = plan_azure(stack.lab.ruleset, lab.name, origin=lab.origin, adopt=lab.adopt_azure)
        rule_ids.update({inline_rule_address(nsg, r.name): r.rule_ids for r in plan.rules})
        # a folder synthesized before the NSGs held their rules inline
        rule_ids.update({f"{AZURE_RULE}.{r.key}": r.rule_ids for r in plan.rules})
    name = f"{stack.cloud}-{stack.lab.lab.name}" if construct is None else construct.path
    return Stack(name, stack.cloud, resources, rule_ids, source=stack.directory / STACK_FILE)


def from_side(side: Side) -> list[Subject]:
    return [Subject(s.lab, s.ruleset) for s in side.labs]


def with_base(subjects: list[Subject], side: Side) -> list[Subject]:
    """Each subject with its lab as the base side had it (none for a lab new since then),
    so CRM010 can tell a group the change replaces."""
    out = []
    for subject in subjects:
        found = side.get(subject.name)
        out.append(replace(subject, base=None if found is None else (found.lab, found.ruleset)))
    return out


def with_synth(
    subjects: list[Subject], folder: Path, overrides: Mapping[str, Any] | None = None
) -> tuple[list[Subject], tuple[str, ...]]:
    """The subjects plus the folder's stacks: a lab's stacks joined to the subject of the
    same lab name, else checked as a lab of its own (with the rule set its stacks
    recorded); each crm-ports construct of an app checked on its own, named by its path
    (two constructs may implement labs of one name); and the notes on what the folder
    held that is no crm-ports construct. `overrides`: variable values instead of the
    stacks' defaults."""
    values = overrides or {}
    read = read_folder(folder)
    found = {unit.key: unit for unit in folder_labs(read)}
    out = []
    for subject in subjects:
        unit = found.get(subject.lab.name)
        if unit is not None and not _constructs(unit.stacks):
            del found[unit.key]
            stacks = tuple(_stack(s, values) for s in unit.stacks)
            out.append(Subject(subject.lab, subject.ruleset, stacks))
        else:
            out.append(subject)
    for key in sorted(found):
        unit = found[key]
        state = unit.state
        label = key if _constructs(unit.stacks) else ""
        stacks = tuple(_stack(s, values) for s in unit.stacks)
        out.append(Subject(state.lab, state.ruleset, stacks, label=label))
    return sorted(out, key=lambda s: s.name), read.notes


def _constructs(stacks: tuple[StackRecord, ...]) -> bool:
    return any(stack.construct is not None for stack in stacks)
