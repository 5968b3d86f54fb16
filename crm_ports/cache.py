"""A cache of parsed inputs (catalogues, lab files), keyed by their content.

Parsing YAML with line numbers (ruamel's round-trip loader) and checking it against the
JSON schemas costs far more than any command's own work, and the inputs rarely change
between two runs; so the finished value objects are pickled, keyed by a hash of

- every input file's bytes and the name errors and locations show for it,
- the source of the modules that turn files into values (this package's top-level
  modules and its schemas) and the Python version,

so an edited file or an upgraded crm-ports is a different key, never a stale hit. Only
successful loads are stored: bad input is parsed again and reported as before.

Where: `$CRM_PORTS_CACHE_DIR`, else `$XDG_CACHE_HOME/crm-ports`, else
`~/.cache/crm-ports`; never inside an output folder. `CRM_PORTS_CACHE=off` turns it off.
Entries are written to a temporary file in the same folder and renamed into place, so a
racing process sees a whole entry or none (both write the same bytes for the same key);
an unreadable entry is a miss. The folder is the user's own (mode 0700): unpickling only
what this user's earlier runs wrote is no more trust than reading their catalogue.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# Entries kept per kind; older ones (by last use) go when a new one is written.
KEEP = 32
_PACKAGE = Path(__file__).resolve().parent


def cache_dir() -> Path | None:
    """The cache folder, or None when caching is off."""
    if os.environ.get("CRM_PORTS_CACHE", "").lower() in ("off", "0", "no", "false"):
        return None
    explicit = os.environ.get("CRM_PORTS_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "crm-ports"


@cache
def code_fingerprint() -> str:
    """Hash of the code that builds cached values: a new release, a local edit or another
    Python is another key."""
    digest = hashlib.sha256(sys.version.encode())
    files = sorted(_PACKAGE.glob("*.py")) + sorted((_PACKAGE / "schema").glob("*.json"))
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def key(kind: str, inputs: Sequence[tuple[str, bytes]]) -> str:
    """The entry name for `inputs` (display name, content) as loaded into `kind`."""
    digest = hashlib.sha256(f"{kind}\0{code_fingerprint()}\0".encode())
    for name, content in inputs:
        digest.update(f"{len(name)}:{name}:{len(content)}:".encode())
        digest.update(content)
    return f"{kind}-{digest.hexdigest()[:40]}"


def _read(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            value = pickle.load(handle)
    except FileNotFoundError:
        return None
    except Exception:  # a truncated, foreign or outdated entry is a miss, never an error
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # last use, for pruning
    return value


def _write(folder: Path, name: str, value: object) -> None:
    import tempfile  # only on a miss

    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, folder / f"{name}.pickle")
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _prune(folder, name.partition("-")[0])
    except (OSError, pickle.PicklingError):
        pass  # a read-only or full home only costs speed


def _prune(folder: Path, kind: str) -> None:
    entries = []
    for path in folder.glob(f"{kind}-*.pickle"):
        try:
            entries.append((path.stat().st_mtime_ns, path))
        except OSError:
            continue
    entries.sort(reverse=True)
    for _, path in entries[KEEP:]:
        path.unlink(missing_ok=True)


def cached(
    kind: str, inputs: Sequence[tuple[str, bytes]], expected: type[T], build: Callable[[], T]
) -> T:
    """The value `build()` makes from `inputs`, from the cache when it holds one of the
    `expected` type."""
    folder = cache_dir()
    if folder is None:
        return build()
    name = key(kind, inputs)
    hit = _read(folder / f"{name}.pickle")
    if isinstance(hit, expected):
        return hit
    value = build()
    _write(folder, name, value)
    return value
