"""Which stacks to verify and against which labs: a synthesized folder (each stack's
`crm-ports.json`, or each crm-ports construct's record inside a stack of an app of the
user's own, names the lab and options it claims; its rule set is never read), or labs
synthesized into a scratch folder first. Only the latter starts cdktf."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_ports.catalogue.model import Catalogue
from crm_ports.errors import InputError
from crm_ports.inputs import yamlio
from crm_ports.lab.model import Lab
from crm_ports.terraform.folder import read_folder
from crm_ports.terraform.metadata import ConstructRecord
from crm_ports.terraform.stack_json import STACK_FILE
from crm_ports.verify.aws import AwsFirewall
from crm_ports.verify.azure import AzureFirewall
from crm_ports.verify.compare import Result, compare
from crm_ports.verify.expected import Expected, expected_reach
from crm_ports.verify.model import Firewall
from crm_ports.verify.stack import Stack, read_stack


@dataclass(frozen=True)
class Target:
    """One stack (or one construct's part of a stack) with the lab it was built for and
    what the catalogue expects of it."""

    lab: Lab
    stack: Stack
    firewall: Firewall
    expected: Expected
    # The stack's `cdk.tf.json`, where SARIF locates what the lab does not explain (a
    # scratch folder's is gone by then, and is no file of the repository anyway).
    source: Path | None = None


def firewall(stack: Stack, construct: ConstructRecord | None = None) -> Firewall:
    if stack.cloud == "aws":
        return AwsFirewall(stack, construct)
    return AzureFirewall(stack, construct)


def folder_targets(
    folder: Path, catalogue: Catalogue, overrides: dict[str, Any], labs: Sequence[Lab] = ()
) -> tuple[list[Target], tuple[str, ...]]:
    """Stacks of a synthesized folder, and the notes on the stacks it skipped (no crm-ports
    construct). With `labs`, only those labs' stacks, each judged against its lab file;
    otherwise against the lab recorded beside (or inside) the stack."""
    wanted = {lab.name: lab for lab in labs}
    found = read_folder(folder)
    out = []
    for record in found.stacks:
        recorded = record.lab.lab
        if wanted and recorded.name not in wanted:
            continue
        lab = wanted.get(recorded.name, recorded)
        stack = read_stack(record.directory, overrides, record.label)
        fw = firewall(stack, record.construct)
        expected = expected_reach(catalogue, lab, stack.cloud)
        out.append(Target(lab, stack, fw, expected, record.directory / STACK_FILE))
    missing = sorted(set(wanted) - {t.lab.name for t in out})
    if missing:
        raise InputError(
            yamlio.display_name(folder),
            f"lab '{missing[0]}'",
            "",
            "no stack of this lab in the folder",
        )
    return out, found.notes


@contextmanager
def synthesized(
    labs: Sequence[Lab],
    catalogue: Catalogue,
    progress: Callable[[str], None] = lambda _line: None,
) -> Iterator[Path]:
    """The labs' stacks in a scratch folder, removed afterwards; `progress` hears what
    `crm-ports synth` reports, one line at a time."""
    from crm_ports.synth.build import synth_app
    from crm_ports.synth.plan import plan_stacks

    stacks = plan_stacks(labs, catalogue)
    scratch = Path(tempfile.mkdtemp(prefix="crm-ports-verify-"))
    try:
        synth_app(stacks, scratch, progress)
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def verify_targets(targets: Sequence[Target]) -> list[Result]:
    return [compare(t.expected, t.firewall, t.stack.name) for t in targets]
