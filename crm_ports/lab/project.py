"""The project file, `crm-ports.yaml`: which lab files a repository deploys and reviews,
and which catalogue it uses, so that `crm-ports synth`, `cdktf.json`'s app, `check --all`,
`verify --all` and the review of a git ref all choose the same labs without a flag or an
environment variable.

```yaml
labs:             # required: globs naming lab files
  - labs/*.yaml
catalog: catalog  # optional: a catalogue folder; without it, the built-in catalogue
```

It is found as pyproject.toml is, in the working directory or the nearest folder above it,
and every path in it is relative to its own folder. Globs take `*`, `?` and `[...]` within
a folder and `**` for any number of folders (wcmatch, the same matcher for a folder on
disk and for the file list of a git ref, so both sides of a review choose alike); each
must match a file, and the lab files are sorted, whatever order the file system lists
them in. The project file and the files of its catalogue folder are never labs, whatever a
broad glob matches. The file is parsed through the parse cache, as lab files are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from crm_ports.errors import InputError
from crm_ports.inputs import yamlio
from crm_ports.inputs.cache import cached
from crm_ports.inputs.yamlio import PathItem, field_path

PROJECT_FILE = "crm-ports.yaml"
KEYS = ("labs", "catalog")
ENTRY = "project"


@dataclass(frozen=True)
class ProjectSpec:
    """What the file says, without where it is: the parse cache keeps this, so a project
    moved or checked out elsewhere is still a hit. Lines locate later errors (a glob that
    matches nothing, a catalogue that is not there)."""

    labs: tuple[str, ...]
    catalog: str | None = None
    lab_lines: tuple[int | None, ...] = ()
    catalog_line: int | None = None


@dataclass(frozen=True)
class Project:
    """A project file where it was found: its folder, its lab globs and its catalogue."""

    root: Path  # the folder holding the file: every path in it is relative to this
    labs: tuple[str, ...]
    catalog: str | None = None  # relative to `root`; None: the built-in catalogue
    file: str = field(default=PROJECT_FILE, compare=False)  # as messages name it
    lab_lines: tuple[int | None, ...] = field(default=(), compare=False)
    catalog_line: int | None = field(default=None, compare=False)

    @property
    def catalogue_path(self) -> Path | None:
        """The catalogue folder (or file) on disk, or None for the built-in catalogue."""
        return None if self.catalog is None else self.root / self.catalog

    def moved(self, root: Path, file: str) -> Project:
        """The same globs and catalogue read from another folder (a git ref's checkout)."""
        return replace(self, root=root, file=file)

    def lab_files(self, *, allow_empty: bool = False) -> tuple[Path, ...]:
        """The lab files the globs name under `root`, sorted; a glob matching no file is
        bad input naming it, unless `allow_empty` (a git ref that predates the labs)."""
        from wcmatch import glob

        found = self._expand(
            lambda pattern: glob.glob(pattern, root_dir=self.root, flags=_flags()),
            allow_empty,
        )
        return tuple(self.root / name for name in found)

    def select(self, names: Iterable[str], *, allow_empty: bool = False) -> tuple[str, ...]:
        """The names among `names` (file paths relative to `root`, `/`-separated) that the
        globs match, sorted: the same choice `lab_files` makes on disk, for a git ref's
        file list."""
        from wcmatch import glob

        listed = list(names)
        return self._expand(
            lambda pattern: map(str, glob.globfilter(listed, pattern, flags=_flags())),
            allow_empty,
        )

    def _expand(self, match: Callable[[str], Iterable[str]], allow_empty: bool) -> tuple[str, ...]:
        found: set[str] = set()
        for index, pattern in enumerate(self.labs):
            matched = {PurePosixPath(name).as_posix() for name in match(pattern)}
            names = {name for name in matched if not self._never_a_lab(name)}
            if not names and not allow_empty:
                line = self.lab_lines[index] if index < len(self.lab_lines) else None
                left = " but the project file and the catalogue, never labs" if matched else ""
                raise InputError(
                    self.file,
                    ENTRY,
                    f"labs[{index}]",
                    f"'{pattern}' matches no file{left}",
                    line,
                )
            found |= names
        return tuple(sorted(found))

    def _never_a_lab(self, name: str) -> bool:
        """The project file itself and the files of its catalogue folder: a broad glob
        (`*.yaml`, `**/*.yaml`) matches them, and read as labs they fail with a lab-file
        error on a file that is no lab."""
        if name == PROJECT_FILE:
            return True
        folder = None if self.catalog is None else PurePosixPath(self.catalog).as_posix()
        return folder is not None and (name == folder or name.startswith(f"{folder}/"))

    def check_catalogue(self) -> None:
        """A catalogue the file names must be there: the built-in one is never a silent
        stand-in for a folder that was moved or misspelt."""
        path = self.catalogue_path
        if path is not None and not path.exists():
            raise InputError(
                self.file,
                ENTRY,
                "catalog",
                f"'{self.catalog}' is no catalogue folder or file (paths are relative to "
                f"the folder of {PROJECT_FILE})",
                self.catalog_line,
            )


def _flags() -> int:
    """`**` crosses folders, and only files match (wcmatch loads on first use)."""
    from wcmatch import glob

    return glob.GLOBSTAR | glob.NODIR


def find_project(start: Path) -> Project | None:
    """The project file in `start` or the nearest folder above it, or None."""
    here = start.resolve()
    for folder in (here, *here.parents):
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            project = load_project(candidate)
            project.check_catalogue()
            return project
    return None


def load_project(path: Path, shown: str | None = None) -> Project:
    """A project file read from disk (through the parse cache)."""
    name = shown or yamlio.display_name(path)
    content = yamlio.read(path, name)
    return project_from(content, path.parent, name)


def project_from(content: bytes, root: Path, shown: str) -> Project:
    """A project file's `content`, found in folder `root` and named `shown` in messages
    (`crm-ports.yaml`, or `main:crm-ports.yaml` for one read from a git ref)."""
    spec = cached(
        "project",
        [(shown, content)],
        ProjectSpec,
        lambda: _build(yamlio.parse_bytes(content, shown)),
    )
    return Project(
        root=root,
        labs=spec.labs,
        catalog=spec.catalog,
        file=shown,
        lab_lines=spec.lab_lines,
        catalog_line=spec.catalog_line,
    )


def _describe(path: Sequence[PathItem]) -> tuple[str, str]:
    return ENTRY, field_path(path)


def _build(doc: yamlio.Document) -> ProjectSpec:
    if not isinstance(doc.data, dict):
        raise InputError(
            doc.name, ENTRY, "", "expected a mapping with 'labs' (a list of lab file globs)", 1
        )
    unknown = sorted(k for k in doc.data if k not in KEYS)
    if unknown:
        raise InputError(
            doc.name,
            ENTRY,
            unknown[0],
            f"unknown key; the valid keys are {', '.join(KEYS)}",
            doc.line((unknown[0],)),
        )
    from crm_ports.inputs.validation import check  # only when parsing: a cache hit skips it

    check(doc, "project.schema.json", _describe)
    data: dict[str, Any] = doc.data
    labs = tuple(str(p) for p in data["labs"])
    catalog = data.get("catalog")
    return ProjectSpec(
        labs=labs,
        catalog=None if catalog is None else PurePosixPath(catalog).as_posix(),
        lab_lines=tuple(doc.line(("labs", i)) for i in range(len(labs))),
        catalog_line=doc.line(("catalog",)) if catalog is not None else None,
    )
