"""Building lab stacks in tests: one helper so snapshot, construct and synth tests agree
on how a lab becomes a stack."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from crm_ports.catalogue.model import Catalogue
from crm_ports.lab.model import AwsSettings, Lab
from crm_ports.options import Options
from crm_ports.synth.plan import plan_stacks


def lab(
    name: str,
    *,
    clouds: tuple[str, ...] = ("aws", "azure"),
    egress: str = "allow-all",
    **options: Any,
) -> Lab:
    return Lab(
        name=name,
        options=Options(origin=f"<test lab {name}>").with_values(options),
        clouds=clouds,
        aws=replace(AwsSettings(), egress=egress),
    )


def synth_stack(the_lab: Lab, cloud: str, catalogue: Catalogue | None = None) -> dict[str, Any]:
    """`Testing.synth` of one lab stack, parsed (cdktf's "//" metadata dropped)."""
    from crm_ports.constructs.cdk import Testing
    from crm_ports.stacks.aws import AwsLabStack
    from crm_ports.stacks.azure import AzureLabStack

    (stack_plan,) = [s for s in plan_stacks([the_lab], catalogue) if s.cloud == cloud]
    app = Testing.app()
    kind = AwsLabStack if cloud == "aws" else AzureLabStack
    stack = kind(app, stack_plan.name, lab=stack_plan.lab, rules=stack_plan.rules)
    data: dict[str, Any] = json.loads(Testing.synth(stack))
    return data
