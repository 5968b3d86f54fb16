"""YAML with line numbers, so that every error can point at the line a human edits.

ruamel.yaml's round-trip loader keeps each mapping's and sequence's source positions;
`Document.line` walks a path of keys/indexes to the nearest known line. The plain data
(`Document.data`) is what the schema validator and loaders read. ruamel is imported only
when a file is parsed: with the parse cache warm (`crm_ports.inputs.cache`) a command never
needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_ports.errors import InputError

PathItem = str | int


def field_path(path: Sequence[PathItem]) -> str:
    """A path of keys and indexes as error messages name a field: `hosts[1].role`."""
    out = ""
    for item in path:
        out += f"[{item}]" if isinstance(item, int) else (f".{item}" if out else str(item))
    return out


@dataclass(frozen=True)
class Document:
    """A parsed YAML file: its display name, the raw round-trip tree and plain data."""

    name: str
    tree: Any
    data: Any

    def line(self, path: tuple[PathItem, ...] | list[PathItem]) -> int | None:
        """1-based line of the deepest node on `path` whose position is known."""
        node = self.tree
        best: int | None = getattr(getattr(node, "lc", None), "line", None)
        for item in path:
            lc = getattr(node, "lc", None)
            try:
                if lc is not None:
                    pos = lc.key(item) if isinstance(item, str) else lc.item(item)
                    best = pos[0]
                node = node[item]
            except (KeyError, IndexError, TypeError, AttributeError):
                break
            child_lc = getattr(node, "lc", None)
            if child_lc is not None and child_lc.line is not None and not isinstance(item, str):
                best = child_lc.line
        return None if best is None else best + 1

    def column(self, path: tuple[PathItem, ...] | list[PathItem]) -> int | None:
        """1-based column of the last key or item of `path`, when the file has it."""
        if not path:
            return None
        node = self.tree
        try:
            for item in path[:-1]:
                node = node[item]
            last = path[-1]
            lc = node.lc
            pos = lc.key(last) if isinstance(last, str) else lc.item(last)
        except (KeyError, IndexError, TypeError, AttributeError):
            return None
        return int(pos[1]) + 1


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def display_name(path: Path) -> str:
    """A path as shown in messages: relative to the working directory when below it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def parse(text: str, name: str) -> Document:
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import MarkedYAMLError

    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        tree = yaml.load(text)
    except DuplicateKeyError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise InputError(name, "", "", f"duplicate key: {exc.problem}", line) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "not valid YAML"
        raise InputError(name, "", "", f"malformed YAML: {problem}", line) from None
    return Document(name=name, tree=tree, data=_plain(tree))


def read(path: Path, shown: str) -> bytes:
    """A file's bytes; a missing or unreadable file is bad input named `shown`."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(shown, "", "", "no such file") from None
    except OSError as exc:
        raise InputError(shown, "", "", f"cannot read: {exc}") from None


def parse_bytes(content: bytes, name: str) -> Document:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(name, "", "", f"cannot read: {exc}") from None
    return parse(text, name)


def load(path: Path, name: str | None = None) -> Document:
    shown = name or display_name(path)
    return parse_bytes(read(path, shown), shown)
