"""A synthesized folder (`<out>/stacks/<stack>/cdk.tf.json`) as the review commands read
it, whoever synthesized it:

- a stack `crm-ports synth` wrote has `crm-ports.json` beside it (`terraform.metadata`);
- a stack of the user's own CDKTF app (`cdktf synth`, `python app.py`) holds a record of
  each crm-ports construct inside it (`terraform.records`), one or several;
- a stack with neither holds no crm-ports construct (a database, a network of the
  user's): it is skipped, and the readers say so in a note.

A folder with no stack of the first two kinds is an error naming the folder, never an
empty review that passes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from crm_ports.errors import InputError
from crm_ports.inputs import yamlio
from crm_ports.lab.model import CLOUDS
from crm_ports.resolver.engine import ResolvedLab
from crm_ports.terraform.metadata import METADATA_FILE, StackRecord, read_json, read_stack
from crm_ports.terraform.records import stack_records
from crm_ports.terraform.stack_json import STACK_FILE


@dataclass(frozen=True)
class SynthFolder:
    """The crm-ports stacks and constructs of a folder, and the stacks it skipped."""

    label: str  # the folder as messages name it
    stacks: tuple[StackRecord, ...]
    skipped: tuple[str, ...]  # stacks that hold no crm-ports construct

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(
            f"{self.label}: stack '{name}' holds no crm-ports construct: skipped"
            for name in self.skipped
        )


def read_folder(folder: Path) -> SynthFolder:
    shown = yamlio.display_name(folder)
    stacks = folder / "stacks"
    found: list[StackRecord] = []
    skipped: list[str] = []
    directories = sorted(p for p in stacks.iterdir() if p.is_dir()) if stacks.is_dir() else []
    for directory in directories:
        if (directory / METADATA_FILE).is_file():
            found.append(read_stack(directory))
        elif (directory / STACK_FILE).is_file():
            path = directory / STACK_FILE
            records = stack_records(read_json(path), directory, yamlio.display_name(path))
            found.extend(records)
            if not records:
                skipped.append(directory.name)
    if not found and skipped:
        raise InputError(
            shown,
            "",
            "",
            f"no stack holds a crm-ports construct (stacks: {', '.join(skipped)}): nothing "
            "to review",
        )
    if not found:
        raise InputError(
            shown,
            "",
            "",
            f"not a synthesized folder: no stacks/*/{STACK_FILE} (run `crm-ports synth`, or "
            "`cdktf synth` for an app of your own, first)",
        )
    return SynthFolder(shown, tuple(found), tuple(skipped))


@dataclass(frozen=True)
class FolderLab:
    """One reviewed unit of a folder: a lab of `crm-ports synth` (its stacks on each cloud,
    keyed by the lab's name), or one crm-ports construct of an app (keyed by its path in
    the app, `<stack>/<id>`: two stacks' constructs may implement labs of one name, dev and
    prod, or one lab on both clouds, and each is reviewed as it is)."""

    key: str
    state: ResolvedLab
    stacks: tuple[StackRecord, ...]


def folder_labs(found: SynthFolder) -> list[FolderLab]:
    """The folder's reviewed units, sorted by key. A lab's stacks are merged (its clouds
    are the stacks found for it) and must have recorded the same rule set; a construct is
    a unit of its own."""
    by_lab: dict[str, list[StackRecord]] = {}
    out = []
    for stack in found.stacks:
        if stack.construct is not None:
            out.append(FolderLab(stack.construct.path, stack.lab, (stack,)))
        else:
            by_lab.setdefault(stack.lab.lab.name, []).append(stack)
    for name in sorted(by_lab):
        stacks = by_lab[name]
        first = stacks[0].lab
        for other in stacks[1:]:
            if other.lab.ruleset != first.ruleset:
                raise InputError(
                    other.lab.lab.origin,
                    f"lab '{first.lab.name}'",
                    "ruleset",
                    f"differs from the rule set of {first.lab.origin}: re-run `crm-ports synth`",
                )
        clouds = tuple(c for c in CLOUDS if any(s.cloud == c for s in stacks))
        lab = replace(first.lab, clouds=clouds)
        out.append(FolderLab(name, ResolvedLab(lab, first.ruleset), tuple(stacks)))
    return sorted(out, key=lambda unit: unit.key)
