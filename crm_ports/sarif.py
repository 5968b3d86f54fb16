"""SARIF 2.1.0 logs, the format GitHub code scanning (and Azure DevOps' SARIF viewer)
reads: one run of crm-ports with its rules and results, shared by `check` and `verify`.

Plain dicts from typed value objects: the `sarif-om` package's classes are generated
attrs classes that still need their own JSON writer (it names fields in snake_case), so
they would add a dependency without removing code. What is written is deterministic, as
every output of crm-ports: results sorted, no timestamps, no absolute paths. Each file
is named relative to the repository root under `%SRCROOT%`, whose absolute location the
log leaves out on purpose (the consumer knows its checkout; GitHub resolves `%SRCROOT%`
to the repository root); a cause that no file of the repository holds (an entry of the
catalogue installed with crm-ports, a lab given on the command line) gets a logical
location instead, and its message says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from crm_ports.formats import to_json

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SRCROOT = "%SRCROOT%"
TOOL = "crm-ports"
# The levels SARIF knows, by the severities of crm-ports' packs.
LEVELS = {"error": "error", "warning": "warning", "note": "note"}
NO_FILE = "no file of this repository holds its cause"


@dataclass(frozen=True)
class Rule:
    """A rule's metadata: what code scanning shows beside each alert, with the fix."""

    id: str
    name: str  # PascalCase, as SARIF's rule names are
    short: str
    full: str
    fix: str
    level: str  # the default level: "error", "warning" or "note"


@dataclass(frozen=True)
class Place:
    """Where a result's cause is written: a file as crm-ports read it (relative to the
    working directory, or absolute), with its line and column when known. `path` None:
    there is no such file (the options of a command line)."""

    path: Path | None = None
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True)
class Suppression:
    """A waived result: `inSource` when the waiver is written in the analysed files (a lab
    file's `waivers:`), `external` when it comes from elsewhere (a catalogue citation a
    check accepts)."""

    kind: str
    justification: str


@dataclass(frozen=True)
class Result:
    rule: str
    level: str
    message: str
    places: tuple[Place, ...]  # where the cause may be written, the most precise first
    logical: str  # the cause by name: `lab/where/subject`
    logical_kind: str  # a SARIF logical location kind ("resource", "object", ...)
    identity: tuple[str, ...]  # what the fingerprint hashes: stable across runs and lines
    suppression: Suppression | None = None


@dataclass(frozen=True)
class Tree:
    """The repository the log's URIs are relative to, and where relative paths start.
    `anchor`: the file a result no file of the repository holds is placed at (the project
    file, which chose the labs and the catalogue): GitHub code scanning refuses a whole log
    when one result has only a logical location."""

    root: Path
    cwd: Path
    anchor: Path | None = None

    def uri(self, path: Path | None) -> str | None:
        """`path` as a URI relative to the root, or None when it names no file below the
        root (a scratch folder, an installed package, a file that does not exist)."""
        if path is None:
            return None
        full = path if path.is_absolute() else self.cwd / path
        try:
            resolved = full.resolve()
            relative = resolved.relative_to(self.root.resolve())
        except (OSError, ValueError):
            return None
        if not resolved.is_file():
            return None
        return quote(relative.as_posix())


def fingerprint(identity: Sequence[str]) -> str:
    """A hash of what identifies a result, never its line or message: code scanning
    follows one alert across commits that move it or reword it."""
    import hashlib  # only for SARIF output

    return hashlib.sha256("\0".join(identity).encode("utf-8")).hexdigest()


def _rule_json(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.short},
        "fullDescription": {"text": rule.full},
        "help": {"text": f"Fix: {rule.fix}", "markdown": f"**Fix:** {rule.fix}"},
        "defaultConfiguration": {"level": LEVELS[rule.level]},
        "properties": {"tags": ["security", "network"]},
    }


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def _location(result: Result, tree: Tree) -> tuple[dict[str, Any], bool]:
    """The result's location at the first of its places that is a file of the repository
    (else at the tree's anchor, else by name alone), and whether one of its places was."""
    logical = {"fullyQualifiedName": result.logical, "kind": result.logical_kind}
    found = next(((p, u) for p in result.places if (u := tree.uri(p.path)) is not None), None)
    placed = found is not None
    if found is None:
        anchor = tree.uri(tree.anchor)
        if anchor is None:
            return {"logicalLocations": [logical]}, False
        found = Place(tree.anchor), anchor
    place, uri = found
    # A cause that is the whole file (a stack file) is at its first line: code scanning
    # shows an alert at a line, and SARIF validators ask for a region.
    region = {"startLine": place.line or 1}
    if place.line is not None and place.column is not None:
        region["startColumn"] = place.column
    physical = {"artifactLocation": {"uri": uri, "uriBaseId": SRCROOT}, "region": region}
    return {"physicalLocation": physical, "logicalLocations": [logical]}, placed


def _result_json(result: Result, index: int, tree: Tree) -> dict[str, Any]:
    location, in_file = _location(result, tree)
    message = _sentence(result.message)
    if not in_file:
        message = f"{message} ({NO_FILE}: {result.logical})"
    out: dict[str, Any] = {
        "ruleId": result.rule,
        "ruleIndex": index,
        "level": LEVELS[result.level],
        "message": {"text": message},
        "locations": [location],
        "partialFingerprints": {"crmPortsIdentity/v1": fingerprint(result.identity)},
    }
    if result.suppression is not None:
        out["suppressions"] = [
            {
                "kind": result.suppression.kind,
                "status": "accepted",
                "justification": result.suppression.justification,
            }
        ]
    return out


def _order(item: dict[str, Any]) -> tuple[Any, ...]:
    location = item["locations"][0]
    physical = location.get("physicalLocation", {})
    return (
        physical.get("artifactLocation", {}).get("uri", ""),
        physical.get("region", {}).get("startLine", 0),
        item["ruleId"],
        location["logicalLocations"][0]["fullyQualifiedName"],
        item["message"]["text"],
    )


@dataclass(frozen=True)
class Log:
    text: str
    unplaced: int  # results with only a logical location, which code scanning refuses

    def notes(self) -> list[str]:
        """What the command says on standard error about a log code scanning refuses."""
        if not self.unplaced:
            return []
        return [
            f"{self.unplaced} SARIF result(s) have no file of this repository to point at "
            "(options on the command line, no project file): GitHub code scanning refuses "
            "such a log; check the lab files, or add crm-ports.yaml (crm-ports init)"
        ]


def sarif_log(
    rules: Sequence[Rule],
    results: Sequence[Result],
    tree: Tree,
    *,
    version: str,
    category: str,
) -> Log:
    """One SARIF log of one run. `category` tells code scanning's analyses apart (`check`
    and `verify` upload to one repository); a result of a rule not in `rules` is a
    programming error."""
    ordered = sorted(rules, key=lambda r: r.id)
    index = {rule.id: n for n, rule in enumerate(ordered)}
    items = sorted((_result_json(r, index[r.rule], tree) for r in results), key=_order)
    run = {
        "tool": {
            "driver": {
                "name": TOOL,
                "version": version,
                "semanticVersion": version,
                "rules": [_rule_json(r) for r in ordered],
            }
        },
        "automationDetails": {"id": f"{TOOL}/{category}/"},
        "originalUriBaseIds": {
            SRCROOT: {"description": {"text": "The root of the repository crm-ports ran in."}}
        },
        "columnKind": "unicodeCodePoints",
        "results": items,
    }
    unplaced = sum("physicalLocation" not in item["locations"][0] for item in items)
    return Log(to_json({"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}), unplaced)
