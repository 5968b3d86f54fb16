"""Planned stacks: every lab, on every cloud it names, as one stack `<cloud>-<lab>`,
resolved and checked against the clouds' limits before any construct exists, so bad input
fails before Node starts.

The labs come from the command line; given none, from CRM_PORTS_LABS (a path-separated
list of lab files), else the project file's labs (`crm-ports.yaml`), else the default labs
(`labs_from_environment`: `cdktf.json`'s app, `crm-ports synth`, `verify` and `why` choose
alike).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crm_ports.catalogue.load import load_catalogue
from crm_ports.catalogue.model import Catalogue
from crm_ports.errors import InputError
from crm_ports.lab.model import Lab
from crm_ports.plans.aws import plan_aws
from crm_ports.plans.azure import plan_azure
from crm_ports.resolver.engine import resolve_lab
from crm_ports.ruleset import RuleSet

if TYPE_CHECKING:
    from crm_ports.lab.project import Project

LABS_ENV = "CRM_PORTS_LABS"


@dataclass(frozen=True)
class StackPlan:
    """One stack to build: which lab, which cloud, from which rule set."""

    name: str
    cloud: str
    lab: Lab
    rules: RuleSet


def plan_stacks(labs: Sequence[Lab], catalogue: Catalogue | None = None) -> list[StackPlan]:
    """Resolve every lab first (pure Python): bad input fails before Node starts."""
    cat = catalogue or load_catalogue()
    out: list[StackPlan] = []
    seen: dict[str, str] = {}
    for lab in labs:
        rules = resolve_lab(cat, lab)
        for cloud in lab.clouds:
            name = lab.stack_name(cloud)
            if name in seen:
                raise InputError(
                    lab.origin,
                    f"lab '{lab.name}'",
                    "name",
                    f"stack '{name}' is also produced by {seen[name]}",
                )
            seen[name] = lab.origin
            out.append(StackPlan(name, cloud, lab, rules))
    _check_cloud_limits(out)
    return out


def _check_cloud_limits(stacks: Sequence[StackPlan]) -> None:
    """Quota checks live in the plans; run them here so a lab over a limit fails with
    its message before any construct exists."""
    for stack in stacks:
        if stack.cloud == "aws":
            plan_aws(
                stack.rules,
                stack.lab.name,
                egress=stack.lab.aws.egress,
                origin=stack.lab.origin,
                adopt=stack.lab.adopt,
            )
        else:
            plan_azure(
                stack.rules,
                stack.lab.name,
                origin=stack.lab.origin,
                adopt=stack.lab.adopt_azure,
            )


def named_labs(project: Project | None) -> list[Lab] | None:
    """The labs CRM_PORTS_LABS names, else the project file's; None when neither names
    any (the caller then has its own default)."""
    from crm_ports.lab.file import load_lab

    paths = [Path(p) for p in os.environ.get(LABS_ENV, "").split(os.pathsep) if p]
    if not paths and project is not None:
        paths = list(project.lab_files())
    return [load_lab(p) for p in paths] if paths else None


def labs_from_environment(project: Project | None = None) -> list[Lab]:
    """The labs to build when no lab file is given: CRM_PORTS_LABS, else the project
    file's labs, else the default labs."""
    from crm_ports.lab.model import default_labs

    named = named_labs(project)
    return named if named is not None else list(default_labs())
