"""The record a crm-ports construct keeps of itself inside its stack, so that `crm-ports
verify --synth`, `check --synth` and `diff` can review the `cdktf.out` of any CDKTF app
that holds crm-ports constructs (its shape, and why each part is there:
`crm_ports.terraform.records`).

`CrmPortsRecord` is a Terraform element that renders nothing but cdktf's own stack
metadata (`toMetadata`, merged into `"//": {"metadata": ...}`, which Terraform ignores).
It describes its construct only when the stack synthesizes, since a per-role lab knows
its rule set only then; cdktf resolves the tokens in it (group ids, a variable's list) to
the Terraform references the stack writes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from constructs import Construct

from crm_ports.constructs.cdk import TerraformElement
from crm_ports.terraform.records import RECORD_KEY

RECORD_ID = "crm-ports-record"


class CrmPortsRecord(TerraformElement):
    """The record of `scope` (a crm-ports construct) in its stack's metadata, keyed by the
    construct's path in the app (`<stack>/<id>`), which is unique and the same on every
    machine."""

    def __init__(self, scope: Construct, *, describe: Callable[[], dict[str, Any]]) -> None:
        super().__init__(scope, RECORD_ID)
        self._crm_path = scope.node.path
        self._crm_describe = describe

    def to_metadata(self) -> Any:
        return {RECORD_KEY: {self._crm_path: self._crm_describe()}}


__all__: Sequence[str] = ("RECORD_ID", "CrmPortsRecord")
