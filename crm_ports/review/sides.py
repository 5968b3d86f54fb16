"""The two sides of a review: each a set of labs with their resolved rule sets.

A side is named on the command line as a git ref (the catalogue and lab files at that
commit, read with `git archive` into a temporary directory so the work tree is never
touched), a synthesized folder (the `crm-ports.json` each stack keeps beside its
`cdk.tf.json`, or the records crm-ports constructs keep inside the stacks of an app of
the user's own), a single lab file, or nothing: the working tree. Every message about a
file read from a ref names it as `REF:path`, never by its temporary location.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from crm_ports.catalogue.load import load_catalogue
from crm_ports.catalogue.model import Catalogue
from crm_ports.errors import InputError
from crm_ports.inputs import yamlio
from crm_ports.lab.file import load_lab
from crm_ports.lab.model import Lab, default_labs, relocated
from crm_ports.resolver.engine import ResolvedLab, resolve_lab
from crm_ports.terraform.folder import folder_labs, read_folder

# Imported where they are used: `subprocess` where git runs, tar and temporary folders
# where a git ref is read, placements and lab-local rules where a synthesized folder's
# lab is read back. A review of two lab files needs none but the first.
if TYPE_CHECKING:
    import subprocess


WORKING_TREE = "working tree"
CATALOGUE_DIR = "catalog"
LABS_DIR = "labs"

T = TypeVar("T")


@dataclass(frozen=True)
class Side:
    label: str
    labs: tuple[ResolvedLab, ...]
    notes: tuple[str, ...] = ()  # what reading it left out (a stack with no crm-ports construct)

    def names(self) -> tuple[str, ...]:
        return tuple(s.lab.name for s in self.labs)

    def get(self, name: str) -> ResolvedLab | None:
        return next((s for s in self.labs if s.lab.name == name), None)


def _resolved(catalogue: Catalogue, labs: list[Lab], label: str) -> Side:
    seen: dict[str, Lab] = {}
    for lab in labs:
        if lab.name in seen:
            raise InputError(
                lab.origin,
                f"lab '{lab.name}'",
                "name",
                f"name already used by {seen[lab.name].origin}: lab names must be unique",
            )
        seen[lab.name] = lab
    states = [ResolvedLab(lab, resolve_lab(catalogue, lab)) for lab in labs]
    return Side(label, tuple(sorted(states, key=lambda s: s.lab.name)))


def _lab_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml"))


def tree_catalogue(root: Path, catalogue_path: Path | None) -> Catalogue:
    """The catalogue of the working tree: `--catalog`, else `catalog/`, else built-in."""
    if catalogue_path is not None:
        return load_catalogue(catalogue_path)
    local = root / CATALOGUE_DIR
    return load_catalogue(local) if local.is_dir() else load_catalogue()


def working_tree(root: Path, catalogue_path: Path | None) -> Side:
    labs = [*default_labs(), *(load_lab(p) for p in _lab_files(root / LABS_DIR))]
    return _resolved(tree_catalogue(root, catalogue_path), labs, WORKING_TREE)


def lab_file(path: Path, catalogue: Catalogue) -> Side:
    lab = load_lab(path)
    return _resolved(catalogue, [lab], yamlio.display_name(path))


# -- git refs -----------------------------------------------------------------------------


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    import subprocess

    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, check=False)
    except FileNotFoundError:
        raise InputError("git", "", "", "git is not installed") from None


def is_git_ref(root: Path, ref: str) -> bool:
    if ref.startswith("-"):
        return False
    return _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode == 0


def _relabel(exc: InputError, tmp: Path, ref: str) -> InputError:
    """The same error, naming `REF:path` instead of the temporary checkout."""
    file = exc.file
    for prefix in (str(tmp.resolve()) + "/", str(tmp) + "/"):
        if file.startswith(prefix):
            file = f"{ref}:{file[len(prefix) :]}"
            break
    return InputError(file, exc.entry, exc.field, exc.message, exc.line)


@contextmanager
def _relabelled(tmp: Path, ref: str) -> Iterator[None]:
    try:
        yield
    except InputError as exc:
        raise _relabel(exc, tmp, ref) from None


def _ref_lab(path: Path, tmp: Path, ref: str) -> Lab:
    """A lab read from the temporary checkout, named `REF:labs/x.yaml` in every later
    message (quota errors surface after the checkout is gone)."""
    lab = load_lab(path)
    label = f"{ref}:{path.relative_to(tmp).as_posix()}"
    return relocated(replace(lab, options=replace(lab.options, origin=label)), label)


def git_ref(root: Path, ref: str) -> Side:
    import io
    import tarfile
    import tempfile

    listing = _git(root, "ls-tree", "--name-only", f"{ref}^{{commit}}")
    present = set(listing.stdout.decode().split())
    if CATALOGUE_DIR not in present:
        raise InputError(ref, "", "", f"no {CATALOGUE_DIR}/ directory at this git ref")
    paths = [p for p in (CATALOGUE_DIR, LABS_DIR) if p in present]
    archive = _git(root, "archive", "--format=tar", f"{ref}^{{commit}}", "--", *paths)
    if archive.returncode != 0:
        message = " ".join(archive.stderr.decode(errors="replace").split())
        raise InputError(ref, "", "", f"git archive failed: {message}")
    with tempfile.TemporaryDirectory(prefix="crm-ports-ref-") as name:
        tmp = Path(name)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        with _relabelled(tmp, ref):
            catalogue = load_catalogue(tmp / CATALOGUE_DIR)
            labs = [*default_labs(), *(_ref_lab(p, tmp, ref) for p in _lab_files(tmp / LABS_DIR))]
            state = _resolved(catalogue, labs, ref)
    return state


def synth_folder(folder: Path) -> Side:
    found = read_folder(folder)
    return Side(found.label, tuple(state for state, _ in folder_labs(found)), found.notes)


# -- dispatch -----------------------------------------------------------------------------


def repository_root(start: Path) -> Path:
    """The git top-level of `start`, or `start` itself outside a repository."""
    try:
        found = _git(start, "rev-parse", "--show-toplevel") if start.is_dir() else None
    except InputError:  # no git: only a git-ref STATE needs it, and says so then
        return start
    if found is not None and found.returncode == 0:
        return Path(found.stdout.decode().strip())
    return start


def load_side(spec: str | None, root: Path, catalogue_path: Path | None, option: str) -> Side:
    """`spec` as a synthesized folder, lab file or git ref (in that order); None: the tree."""
    if spec is None:
        return working_tree(root, catalogue_path)
    path = Path(spec)
    if path.is_dir():
        return synth_folder(path)
    if path.is_file():
        return lab_file(path, tree_catalogue(root, catalogue_path))
    if is_git_ref(root, spec):
        return git_ref(root, spec)
    raise InputError(
        "command line",
        "",
        option,
        f"'{spec}' is neither a synthesized folder, a lab file nor a git ref of this repository",
    )
