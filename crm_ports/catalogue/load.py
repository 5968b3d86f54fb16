"""Load the catalogue (`catalog/*.yaml`) through the parse cache.

Structure is checked by JSON Schema; what a schema cannot express (references between
entries, port syntax, option names in conditions, unique ids) is checked by
`crm_ports.catalogue.build`, each failure located at the file, line, entry and field a
reviewer would edit. That module, the schema validator and the YAML parser load only when
the cache misses: a command that reads an unchanged catalogue defines none of their
classes.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from crm_ports.catalogue.model import Catalogue
from crm_ports.errors import InputError
from crm_ports.inputs import yamlio
from crm_ports.inputs.cache import cached


def default_catalogue_dir() -> Path:
    """The catalogue shipped in the wheel, or `catalog/` of a source checkout."""
    package = Path(__file__).resolve().parents[1]  # crm_ports/
    for candidate in (package / "catalog", package.parent / "catalog"):
        if candidate.is_dir():
            return candidate
    raise InputError("catalog", "", "", "the built-in catalogue is missing from this install")


def _files(directory: Path) -> list[tuple[str, bytes]]:
    """Each catalogue file as (the name messages show, its bytes), in a fixed order."""
    if directory.is_file():
        shown = yamlio.display_name(directory)
        return [(shown, yamlio.read(directory, shown))]
    if not directory.is_dir():
        raise InputError(yamlio.display_name(directory), "", "", "no such catalogue directory")
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml"))
    if not files:
        raise InputError(yamlio.display_name(directory), "", "", "no .yaml files in catalogue")
    # Files of the built-in catalogue are named as in the repository, wherever installed.
    builtin = directory.resolve() == default_catalogue_dir().resolve()
    out = []
    for path in files:
        shown = f"catalog/{path.name}" if builtin else yamlio.display_name(path)
        out.append((shown, yamlio.read(path, shown)))
    return out


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Load a catalogue directory (or one file holding every section); default: built-in.

    Through the parse cache (`crm_ports.inputs.cache`): unchanged files are not parsed again."""
    if path is None:
        return _builtin()
    return _load(path, yamlio.display_name(path))


@cache
def _builtin() -> Catalogue:
    return _load(default_catalogue_dir(), "catalog")


def _load(directory: Path, name: str) -> Catalogue:
    files = _files(directory)

    def build() -> Catalogue:
        from crm_ports.catalogue.build import Builder

        docs = [yamlio.parse_bytes(content, shown) for shown, content in files]
        return Builder(docs).build(name)

    return cached("catalogue", [(name, b""), *files], Catalogue, build)
