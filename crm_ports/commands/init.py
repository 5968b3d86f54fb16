"""`crm-ports init [DIR]`: a labs repository of the user's own, scaffolded from the
templates in `crm_ports/scaffold/` (package data, shipped in the wheel).

Every file is decided before any is written: a file that already holds what init would
write is left alone (not even touched, so a second run is a no-op), a missing one is
written, and one that differs is a conflict. Conflicts refuse the whole run, listed in
one line with exit status 2 and nothing written, unless `--force` replaces them. Each file
is written atomically (`write_atomic`: a temporary file renamed into place).

The files hold no absolute path, no date and nothing of the folder they are written to,
so the scaffold is byte-identical in any folder on any machine: `cdktf.json` runs
`python` as found on PATH (the interpreter of the activated environment), not the path
of the interpreter that ran init, because the file is committed and runs on colleagues'
machines and in CI too.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from dataclasses import dataclass
from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from typing import Literal

import click

from crm_ports import __version__
from crm_ports.commands.common import write_atomic
from crm_ports.errors import InputError
from crm_ports.inputs.yamlio import display_name
from crm_ports.lab.project import PROJECT_FILE, load_project, project_from

FLAVOURS = ("cdktf", "cdktn")
EXAMPLE_LAB = "example"
# Each file of the scaffold and its template in crm_ports/scaffold/ ({cdk}: the flavour's
# folder), in the order they are written and listed.
FILES: tuple[tuple[str, str], ...] = (
    ("cdktf.json", "{cdk}/cdktf.json"),
    ("package.json", "{cdk}/package.json"),
    (".gitignore", "gitignore"),  # named so that git does not read the template as one
    ("crm-ports.yaml", "crm-ports.yaml"),
    ("labs/example.yaml", "labs/example.yaml"),
    (".github/workflows/crm-ports-review.yml", "crm-ports-review.yml"),  # WORKFLOW
)
# Filled in the templates: the release the review workflow installs.
VERSION_MARK = "@VERSION@"
EXAMPLE_FILE = f"labs/{EXAMPLE_LAB}.yaml"
# "kept": the example lab of a repository whose project file already names labs of its
# own, never written (a lab deleted on purpose must not come back) nor replaced.
State = Literal["new", "same", "differs", "kept"]


@dataclass(frozen=True)
class Planned:
    """One file of the scaffold, and what writing it would do to what is there."""

    path: Path
    text: str
    state: State


def scaffold(cdk: str) -> dict[str, str]:
    """The scaffold's files (path relative to DIR -> contents) for a CDK flavour."""
    folder = resources.files("crm_ports").joinpath("scaffold")
    files = {}
    for relative, template in FILES:
        text = folder.joinpath(template.format(cdk=cdk)).read_text(encoding="utf-8")
        files[relative] = text.replace(VERSION_MARK, __version__)
    return files


def _state(path: Path, text: str, *, example: bool = False) -> State:
    """What is at `path` now, against what init would write there; `example`: the
    example lab of a repository with labs of its own, kept unless it is already as init
    writes it."""
    if example:
        same = path.is_file() and not path.is_symlink() and path.read_bytes() == text.encode()
        return "same" if same else "kept"
    if not path.exists():
        return "new"
    try:
        same = path.read_bytes() == text.encode("utf-8")
    except OSError:
        return "differs"
    return "same" if same else "differs"


def _shown(path: Path) -> str:
    """`path` as messages name it, relative to the working directory, its own last part
    unresolved: a link is named as the link, never as its target."""
    folder = display_name(path.parent)
    return path.name if folder == "." else f"{folder}/{path.name}"


def _blocked(root: Path, relative: str) -> str | None:
    """Why `relative` cannot be written below `root` even with --force, if it cannot. A
    symbolic link (the file, or a folder on the way to it) is refused: writing through it
    would replace a file outside DIR, perhaps one that is no part of any repository."""
    path = root / relative
    for parent in reversed(Path(relative).parents[:-1]):  # outermost first, not "."
        folder = root / parent
        if folder.is_symlink():
            return f"{_shown(folder)} is a symbolic link"
        if folder.exists() and not folder.is_dir():
            return f"{_shown(folder)} is not a folder"
    if path.is_symlink():
        return f"{_shown(path)} is a symbolic link"
    if path.is_dir():
        return f"{_shown(path)} is a folder"
    return None


def plan(root: Path, cdk: str) -> list[Planned]:
    """Each file's state in `root`; bad input (a file where a folder goes, a folder where
    a file goes) refused before anything is written."""
    if root.exists() and not root.is_dir():
        raise InputError(display_name(root), "", "DIR", "exists and is not a folder")
    files = scaffold(cdk)
    blocked = [reason for rel in files if (reason := _blocked(root, rel)) is not None]
    if blocked:
        raise InputError(
            display_name(root),
            "",
            "DIR",
            f"cannot write the scaffold: {'; '.join(blocked)}: nothing written",
        )
    fresh = _fresh(root, files[PROJECT_FILE])
    return [
        Planned(
            root / rel, text, _state(root / rel, text, example=rel == EXAMPLE_FILE and not fresh)
        )
        for rel, text in files.items()
    ]


def _fresh(root: Path, scaffolded: str) -> bool:
    """Whether `root` is a fresh scaffold, which gets the example lab: it has no project
    file yet, or its project file's globs match no lab. Anywhere else the labs are the
    user's, and an example they deleted would come back and be deployed (the globs pick
    it up). A project file that cannot be read is judged by the scaffold's globs."""
    path = root / PROJECT_FILE
    if not path.is_file():
        return True
    try:
        found = load_project(path)
    except InputError:
        found = project_from(scaffolded.encode("utf-8"), root, PROJECT_FILE)
    return not found.lab_files(allow_empty=True)


def _refuse(root: Path, conflicts: list[Planned]) -> InputError:
    names = ", ".join(_shown(p.path) for p in conflicts)
    one = len(conflicts) == 1
    files, them = ("file exists and differs", "it") if one else ("files exist and differ", "them")
    return InputError(
        display_name(root),
        "",
        "DIR",
        f"{len(conflicts)} {files} from what init writes ({names}): nothing written; move "
        f"{them} away, or pass --force to replace {them}",
    )


def _next_steps(root: Path, cdk: str, example: bool) -> list[str]:
    """The commands that take the scaffold to a deployed lab, as the docs give them;
    without the example lab (`example` False), for the repository's own labs."""
    steps = [] if root.resolve() == Path.cwd().resolve() else [f"cd {shlex.quote(str(root))}"]
    lab = EXAMPLE_LAB if example else "<lab>"
    return [
        *steps,
        "npm install        # the CLI package.json pins; commit package-lock.json (then: npm ci)",
        f"crm-ports validate {EXAMPLE_FILE}" if example else "crm-ports check   # your labs",
        f"npx {cdk} deploy aws-{lab} --skip-provider-lock",
    ]


WORKFLOW = ".github/workflows/crm-ports-review.yml"


def _notes(cdk: str, workflow: bool) -> list[str]:
    """What would make the scaffold's app fail on this machine, or its review workflow in
    CI (`workflow`: init wrote it this run), said now."""
    notes = []
    here = Path(sys.executable).parent
    found = shutil.which("python")
    if found is None or Path(found).parent.resolve() != here.resolve():
        fix = (
            f"activate its environment (source {shlex.quote(str(here / 'activate'))})"
            if (here / "activate").is_file()
            else f"put {shlex.quote(str(here))} first on PATH"
        )
        notes.append(
            "cdktf.json's app runs `python -O -m crm_ports.app` with the python on PATH, "
            f"which is {found or 'missing'}, not the interpreter crm-ports runs in "
            f"({sys.executable}): {fix} before npx {cdk}"
        )
    if cdk == "cdktn" and find_spec("cdktn") is None:
        notes.append(
            "the app runs on CDK Terrain, whose Python package is not installed here: "
            "pip install 'crm-ports[cdktn]'"
        )
    if workflow:
        notes.append(
            f"the review workflow installs crm-ports=={__version__} from PyPI, where "
            f"crm-ports is not published yet: set CRM_PORTS in {WORKFLOW} to a git URL or "
            "a wheel committed to the repository (docs/deploying.md, Start a labs "
            "repository)"
        )
    return notes


@click.command(
    epilog="""\b
Examples:
  crm-ports init                              # here, in the current folder
  crm-ports init my-labs                      # a new folder
  crm-ports init --cdk cdktn my-terrain-labs  # deployed with CDK Terrain's cdktn-cli
  crm-ports init --force my-labs              # replace the files that differ
\b
Exit status: 0 written, or nothing to do; 2 files in the way (nothing written)."""
)
@click.argument("root", metavar="[DIR]", default=".", type=click.Path(path_type=Path))
@click.option(
    "--cdk",
    type=click.Choice(FLAVOURS),
    default="cdktf",
    show_default=True,
    help="The CDK the labs deploy with: cdktf-cli, or CDK Terrain's cdktn-cli.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace the files that exist and differ from the scaffold.",
)
def init(root: Path, cdk: str, force: bool) -> int:
    """Start a labs repository in DIR (default: the current folder, created if missing).

    Writes cdktf.json (its app runs crm-ports with the `python` on PATH), package.json
    (the pinned CLI), .gitignore (Terraform state, cdktf.out, .terraform, node_modules),
    crm-ports.yaml (the project file: the labs are labs/*.yaml), a commented
    labs/example.yaml (only on a fresh scaffold: not once crm-ports.yaml names labs of
    your own), and .github/workflows/crm-ports-review.yml (crm-ports review on
    every pull request: diff, policy checks and verify in one comment).

    Files already as init writes them are left untouched, so running it again changes
    nothing. Files that differ are listed and nothing is written (exit status 2), unless
    --force replaces them."""
    planned = plan(root, cdk)
    conflicts = [p for p in planned if p.state == "differs"]
    if conflicts and not force:
        raise _refuse(root, conflicts)
    for item in planned:
        if item.state == "kept":
            click.echo(
                f"kept your labs: example lab not written ({_shown(item.path)}; "
                f"{PROJECT_FILE} names lab files already)"
            )
    if all(p.state in ("same", "kept") for p in planned):
        click.echo(f"nothing to do: {display_name(root)} already holds this scaffold")
        return 0
    for item in planned:
        if item.state == "kept":
            continue
        if item.state == "same":
            click.echo(f"unchanged {_shown(item.path)}")
            continue
        try:
            item.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                display_name(item.path.parent), "", "DIR", f"cannot create: {exc.strerror}"
            ) from None
        write_atomic(item.path, item.text, option="DIR")
        verb = "wrote" if item.state == "new" else "replaced"
        click.echo(f"{verb} {_shown(item.path)}")
    click.echo("\nNext:")
    example = all(p.state != "kept" for p in planned)
    for step in _next_steps(root, cdk, example):
        click.echo(f"  {step}")
    wrote = {p.path.relative_to(root).as_posix() for p in planned if p.state in ("new", "differs")}
    for note in _notes(cdk, WORKFLOW in wrote):
        click.echo(f"note: {note}", err=True)
    return 0
