"""A cache of parsed inputs (catalogues, lab files), keyed by their content.

Parsing YAML with line numbers (ruamel's round-trip loader) and checking it against the
JSON schemas costs far more than any command's own work, and the inputs rarely change
between two runs; so the finished value objects are pickled, each entry with what it was
built from:

- every input file's bytes and the name errors and locations show for it,
- the code that turns files into values (the path, size and modification time of every
  module and schema of the package, in every sub-package, what Python itself checks
  before reusing a `.pyc`) and the Python version,

and a hit is an entry whose record equals the current one, byte for byte: an edited file
or an upgraded crm-ports is never a stale hit. The entry's file name is only a CRC of that
record, to find it (zlib: hashlib would load OpenSSL, a cost every command paid at start);
two records sharing a name just take turns. Only successful loads are stored: bad input
is parsed again and reported as before.

Where: `$CRM_PORTS_CACHE_DIR`, else `$XDG_CACHE_HOME/crm-ports`, else
`~/.cache/crm-ports`; never inside an output folder. `CRM_PORTS_CACHE=off` turns it off.
Entries are written to a temporary file in the same folder and renamed into place, so a
racing process sees a whole entry or none (both write the same bytes for the same key);
an unreadable entry is a miss. The folder is the user's own (mode 0700): unpickling only
what this user's earlier runs wrote is no more trust than reading their catalogue.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
import zlib
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# Entries kept per kind; older ones (by last use) go when a new one is written.
KEEP = 32
_PACKAGE = Path(__file__).resolve().parents[1]  # crm_ports/


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
def code_fingerprint() -> tuple[str, tuple[tuple[str, int, int], ...]]:
    """The code that builds cached values, as Python checks a `.pyc` against its source:
    a new release, a local edit or another Python is another record. Every module counts,
    wherever it lives: the values are built by modules of several sub-packages (inputs,
    catalogue, lab, options), and counting all of them costs about a hundred `stat`s."""
    files = sorted(_PACKAGE.rglob("*.py")) + sorted((_PACKAGE / "schema").glob("*.json"))
    stats = [(path.relative_to(_PACKAGE).as_posix(), path.stat()) for path in files]
    return sys.version, tuple((name, st.st_size, st.st_mtime_ns) for name, st in stats)


Record = tuple[str, object, tuple[tuple[str, bytes], ...]]


def record(kind: str, inputs: Sequence[tuple[str, bytes]]) -> Record:
    """What a value of `kind` loaded from `inputs` (display name, content) was built from."""
    return kind, code_fingerprint(), tuple(inputs)


def key(entry: Record) -> str:
    """The entry's file name: its kind and a CRC of its record."""
    kind, code, inputs = entry
    crc = zlib.crc32(repr((kind, code)).encode())
    for name, content in inputs:
        crc = zlib.crc32(f"{len(name)}:{name}:{len(content)}:".encode(), crc)
        crc = zlib.crc32(content, crc)
    return f"{kind}-{crc:08x}"


def _read(path: Path, entry: Record) -> Any:
    """The value stored for `entry`, or None."""
    try:
        with path.open("rb") as handle:
            stored = pickle.load(handle)
    except FileNotFoundError:
        return None
    except Exception:  # a truncated, foreign or outdated entry is a miss, never an error
        return None
    if not (isinstance(stored, tuple) and len(stored) == 2 and stored[0] == entry):
        return None  # another record under the same name, or a foreign file
    with contextlib.suppress(OSError):
        os.utime(path)  # last use, for pruning
    return stored[1]


def _write(folder: Path, name: str, entry: Record, value: object) -> None:
    import tempfile  # only on a miss

    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = pickle.dumps((entry, value), protocol=pickle.HIGHEST_PROTOCOL)
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
    entry = record(kind, inputs)
    name = key(entry)
    hit = _read(folder / f"{name}.pickle", entry)
    if isinstance(hit, expected):
        return hit
    value = build()
    _write(folder, name, entry, value)
    return value
