"""What `crm-ports check` looks at, gathered from the command line: one lab (a lab file or
the options given), every lab of the working tree (`--all`), and/or a synthesized folder.

A folder's stacks join the lab of the same name; a lab file given alongside lends them
its waivers, since `crm-ports.json` records the lab's settings but a waiver is a
reviewer's decision that lives in the lab file.
"""

from __future__ import annotations

from pathlib import Path

from crm_ports.plans.azure import plan_azure
from crm_ports.policy.base import Stack, Subject
from crm_ports.policy.reading import rule_tags
from crm_ports.review.sides import Side
from crm_ports.terraform.metadata import StackRecord, folder_labs
from crm_ports.terraform.resources import AZURE_RULE, nsg_rule_address
from crm_ports.terraform.stack_json import read_stack_resources


def _stack(stack: StackRecord) -> Stack:
    resources = read_stack_resources(stack.directory)
    rule_ids = rule_tags(resources)
    if stack.cloud == "azure":
        lab = stack.lab.lab
        plan = plan_azure(stack.lab.ruleset, lab.name, origin=lab.origin)
        rule_ids.update({nsg_rule_address(r): r.rule_ids for r in plan.rules})
        # a folder synthesized before the NSGs held their rules inline
        rule_ids.update({f"{AZURE_RULE}.{r.key}": r.rule_ids for r in plan.rules})
    return Stack(f"{stack.cloud}-{stack.lab.lab.name}", stack.cloud, resources, rule_ids)


def from_side(side: Side) -> list[Subject]:
    return [Subject(s.lab, s.ruleset) for s in side.labs]


def with_synth(subjects: list[Subject], folder: Path) -> list[Subject]:
    """The subjects plus the folder's stacks: joined to a subject of the same lab name,
    else checked as labs of their own (with the rule set their stack recorded)."""
    found = {state.lab.name: (state, stacks) for state, stacks in folder_labs(folder)}
    out = []
    for subject in subjects:
        _, stacks = found.pop(subject.lab.name, (None, ()))
        out.append(Subject(subject.lab, subject.ruleset, tuple(_stack(s) for s in stacks)))
    for name in sorted(found):
        state, stacks = found[name]
        out.append(Subject(state.lab, state.ruleset, tuple(_stack(s) for s in stacks)))
    return sorted(out, key=lambda s: s.lab.name)
