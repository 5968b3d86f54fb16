"""The two sides of a review: each a set of labs with their resolved rule sets.

A side is named on the command line as a git ref (the catalogue and lab files at that
commit, read with `git archive` into a temporary directory so the work tree is never
touched), a synthesized folder (the `crm-ports.json` each stack keeps beside its
`cdk.tf.json`, or the records crm-ports constructs keep inside the stacks of an app of
the user's own), a single lab file, or nothing: the working tree. Every message about a
file read from a ref names it as `REF:path`, never by its temporary location.

Which labs a tree holds, and by which catalogue they resolve, is its layout: a project
file (`crm-ports.yaml`: its lab globs and catalogue, else the built-in one), or without
one crm-ports' own layout (the default labs, `labs/*.yaml` and `catalog/`). A git ref is
read with the project file it holds itself, else the working tree's; its own catalogue
folder when it has one, else the catalogue the working tree uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, TypeVar

from crm_ports.catalogue.load import load_catalogue
from crm_ports.catalogue.model import Catalogue
from crm_ports.errors import InputError
from crm_ports.inputs import yamlio
from crm_ports.lab.file import load_lab
from crm_ports.lab.model import Lab, default_labs, refuse_repeated_names, relocated
from crm_ports.lab.project import PROJECT_FILE, Project, project_from
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
    # How the side names each of `labs` (empty: by the lab's name). A construct of an app's
    # `cdktf.out` is named by its path, `<stack>/<id>`, never by the lab it implements.
    keys: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        return self.keys or tuple(s.lab.name for s in self.labs)

    def only(self, names: Iterable[str]) -> Side:
        """The side with only the labs of `names` (a review of the lab files given)."""
        wanted = set(names)
        kept = [(k, s) for k, s in zip(self.names(), self.labs, strict=True) if k in wanted]
        return replace(
            self,
            labs=tuple(s for _, s in kept),
            keys=tuple(k for k, _ in kept) if self.keys else (),
        )

    def get(self, name: str) -> ResolvedLab | None:
        return next(
            (s for key, s in zip(self.names(), self.labs, strict=True) if key == name), None
        )


def _resolved(catalogue: Catalogue, labs: list[Lab], label: str) -> Side:
    refuse_repeated_names(labs, "lab names must be unique")
    states = [ResolvedLab(lab, resolve_lab(catalogue, lab)) for lab in labs]
    return Side(label, tuple(sorted(states, key=lambda s: s.lab.name)))


def _layout_labs(names: Iterable[str]) -> tuple[str, ...]:
    """The lab files of crm-ports' own layout (no project file) among `names`, paths from
    the top of the repository: `labs/*.yaml` and `labs/*.yml`, sorted. One choice for the
    working tree and for a git ref's file list, so both sides of a review agree."""
    return tuple(
        sorted(
            n
            for n in names
            if PurePosixPath(n).parent.as_posix() == LABS_DIR
            and PurePosixPath(n).suffix in (".yaml", ".yml")
        )
    )


def _lab_files(root: Path) -> list[Path]:
    """`_layout_labs` in the working tree whose top is `root`."""
    folder = root / LABS_DIR
    if not folder.is_dir():
        return []
    return [root / n for n in _layout_labs(f"{LABS_DIR}/{p.name}" for p in folder.iterdir())]


@dataclass(frozen=True)
class Workspace:
    """Where a review reads the working tree and git refs from."""

    root: Path  # the git top level, or the working directory outside a repository
    cwd: Path  # the working directory, resolved
    git: bool  # whether `root` is a git work tree
    project: Project | None  # the project file found from the working directory
    catalogue_path: Path | None  # `--catalog`, else the project file's (`tree_catalogue`)


def workspace(start: Path, catalogue_path: Path | None, project: Project | None) -> Workspace:
    cwd = start.resolve()
    top = _toplevel(cwd)
    root = top.resolve() if top is not None else cwd
    return Workspace(root, cwd, top is not None, project, catalogue_path)


def tree_catalogue(space: Workspace) -> Catalogue:
    """The catalogue of the working tree: `--catalog` or the project file's, else (no
    project file) `catalog/` at the top of the repository, else the built-in one."""
    return load_catalogue(tree_catalogue_path(space))


def tree_catalogue_path(space: Workspace) -> Path | None:
    """Where `tree_catalogue` reads: a folder or file, None for the built-in catalogue."""
    if space.catalogue_path is not None:
        return space.catalogue_path
    local = space.root / CATALOGUE_DIR
    if space.project is None and local.is_dir():
        return local
    return None


def _tree_labs(space: Workspace) -> list[Lab]:
    if space.project is not None:
        return [load_lab(p) for p in space.project.lab_files()]
    return [*default_labs(), *(load_lab(p) for p in _lab_files(space.root))]


def working_tree(space: Workspace) -> Side:
    """The labs of the project file, or (without one) the default labs and
    `labs/*.yaml`."""
    return _resolved(tree_catalogue(space), _tree_labs(space), WORKING_TREE)


def every_lab(space: Workspace, verb: str, option: str = "--all") -> Side:
    """The working tree for `--all`: with no project file, only a git repository holding
    `labs/*.yaml` has labs of its own; anywhere else the default labs alone would pass
    for a check of the user's labs, so there is nothing to `verb`, and it says so, naming
    `option`, the command's own way to the labs (review has no --all)."""
    if space.project is None and not (space.git and _lab_files(space.root)):
        raise InputError(
            "command line",
            "",
            option,
            f"nothing to {verb}: no {PROJECT_FILE} in this folder or above it, and no "
            f"{LABS_DIR}/*.yaml at the top of a git repository; name your lab files in "
            f"{PROJECT_FILE} (labs: [{LABS_DIR}/*.yaml]) or give them with --lab",
        )
    return working_tree(space)


def lab_files(paths: list[Path], catalogue: Catalogue) -> Side:
    """Lab files named on the command line, as one side."""
    labs = [load_lab(p) for p in paths]
    return _resolved(catalogue, labs, ", ".join(yamlio.display_name(p) for p in paths))


def lab_file(path: Path, catalogue: Catalogue) -> Side:
    return lab_files([path], catalogue)


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


def _listing(root: Path, ref: str) -> list[str]:
    """Every file at `ref`, as paths from the top of the repository."""
    found = _git(root, "ls-tree", "-r", "-z", "--name-only", "--full-tree", f"{ref}^{{commit}}")
    if found.returncode != 0:
        message = " ".join(found.stderr.decode(errors="replace").split())
        raise InputError(ref, "", "", f"git ls-tree failed: {message}")
    return [name for name in found.stdout.decode(errors="surrogateescape").split("\0") if name]


def _show(root: Path, ref: str, path: str) -> bytes:
    shown = _git(root, "cat-file", "blob", f"{ref}^{{commit}}:{path}")
    if shown.returncode != 0:
        raise InputError(f"{ref}:{path}", "", "", "cannot be read from git")
    return shown.stdout


def _under(folder: str, name: str) -> str:
    """`name` in `folder`, both as paths from the top of the repository ("" is the top)."""
    return f"{folder}/{name}" if folder else name


def _folders_up(path: PurePosixPath) -> list[str]:
    """`path` and each folder above it, up to the top of the repository ("")."""
    return ["" if str(p) == "." else p.as_posix() for p in (path, *path.parents)]


@dataclass(frozen=True)
class _RefLayout:
    """What to read at a git ref: the project (its own, or the working tree's moved to the
    checkout), the lab files and the ref's own catalogue (None: the working tree's), as
    paths from the top of the repository."""

    project: Project | None
    labs: tuple[str, ...]
    catalogue: str | None


def _borrowed_project(space: Workspace, project: Project, tmp: Path) -> Project:
    """The working tree's project file, in the same folder of the ref's checkout."""
    try:
        folder = project.root.resolve().relative_to(space.root).as_posix()
    except ValueError:
        raise InputError(
            project.file,
            "",
            "",
            "is outside the git repository: a git ref cannot hold the lab files it names",
        ) from None
    return project.moved(tmp / folder, project.file)


def _ref_layout(space: Workspace, ref: str, tmp: Path) -> _RefLayout:
    listing = _listing(space.root, ref)
    files = set(listing)
    # The ref's own project file, found as on disk: from the working directory's place in
    # the repository upwards.
    here = PurePosixPath(space.cwd.relative_to(space.root).as_posix())
    names = [_under(folder, PROJECT_FILE) for folder in _folders_up(here)]
    own = next((name for name in names if name in files), None)
    if own is not None:
        folder = own.rpartition("/")[0]
        project = project_from(_show(space.root, ref, own), tmp / folder, f"{ref}:{own}")
    elif space.project is not None:
        project = _borrowed_project(space, space.project, tmp)
    else:  # crm-ports' own layout
        labs = _layout_labs(listing)
        catalogue = CATALOGUE_DIR if _holds(files, CATALOGUE_DIR) else None
        return _RefLayout(None, labs, catalogue)
    folder = project.root.relative_to(tmp).as_posix()
    prefix = "" if folder == "." else f"{folder}/"
    inside = [n[len(prefix) :] for n in listing if n.startswith(prefix)]
    # Borrowed from the working tree, the globs may match nothing at a ref older than the
    # labs: that side then has no lab, and every lab is new.
    chosen = project.select(inside, allow_empty=own is None)
    catalogue = None if project.catalog is None else prefix + project.catalog
    return _RefLayout(
        project,
        tuple(prefix + n for n in chosen),
        catalogue if catalogue is not None and _holds(files, catalogue) else None,
    )


def _holds(files: set[str], path: str) -> bool:
    """Whether the ref has `path`, as a file or a folder."""
    return path in files or any(n.startswith(f"{path}/") for n in files)


def git_ref(space: Workspace, ref: str) -> Side:
    """The labs at `ref` as its layout names them (`_ref_layout`), read from a temporary
    checkout of only those files and the ref's catalogue."""
    import io
    import tarfile
    import tempfile

    with tempfile.TemporaryDirectory(prefix="crm-ports-ref-") as name:
        tmp = Path(name)
        layout = _ref_layout(space, ref, tmp)
        paths = [*layout.labs, *([layout.catalogue] if layout.catalogue else [])]
        if paths:
            # literal: a file name holding `*` or `[` names that file, never a pattern
            archive = _git(
                space.root,
                "--literal-pathspecs",
                "archive",
                "--format=tar",
                f"{ref}^{{commit}}",
                "--",
                *paths,
            )
            if archive.returncode != 0:
                message = " ".join(archive.stderr.decode(errors="replace").split())
                raise InputError(ref, "", "", f"git archive failed: {message}")
            with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
                tar.extractall(tmp, filter="data")
        with _relabelled(tmp, ref):
            if layout.catalogue is not None:
                catalogue = load_catalogue(tmp / layout.catalogue)
            else:
                catalogue = tree_catalogue(space)
            labs = [_ref_lab(tmp / p, tmp, ref) for p in layout.labs]
            if layout.project is None:
                labs = [*default_labs(), *labs]
            state = _resolved(catalogue, labs, ref)
    return state


def synth_folder(folder: Path) -> Side:
    found = read_folder(folder)
    units = folder_labs(found)
    return Side(
        found.label,
        tuple(unit.state for unit in units),
        found.notes,
        tuple(unit.key for unit in units),
    )


# -- dispatch -----------------------------------------------------------------------------


def _toplevel(start: Path) -> Path | None:
    """The git top level of `start`, or None outside a repository (or without git)."""
    try:
        found = _git(start, "rev-parse", "--show-toplevel") if start.is_dir() else None
    except InputError:  # no git: only a git-ref STATE needs it, and says so then
        return None
    if found is not None and found.returncode == 0:
        return Path(found.stdout.decode().strip())
    return None


def load_side(spec: str | None, space: Workspace, option: str) -> Side:
    """`spec` as a synthesized folder, lab file or git ref (in that order); None: the tree."""
    if spec is None:
        return working_tree(space)
    path = Path(spec)
    if path.is_dir():
        return synth_folder(path)
    if path.is_file():
        return lab_file(path, tree_catalogue(space))
    if is_git_ref(space.root, spec):
        return git_ref(space, spec)
    raise InputError(
        "command line",
        "",
        option,
        f"'{spec}' is neither a synthesized folder, a lab file nor a git ref of this repository",
    )
