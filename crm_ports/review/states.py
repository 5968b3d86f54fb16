"""The two sides of a review: each a set of labs with their resolved rule sets.

A state is named on the command line as a git ref (the catalogue and lab files at that
commit, read with `git archive` into a temporary directory so the work tree is never
touched), a synthesized folder (the `crm-ports.json` each stack keeps beside its
`cdk.tf.json`), a single lab file, or nothing: the working tree. Every message about a
file read from a ref names it as `REF:path`, never by its temporary location.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from crm_ports import yamlio
from crm_ports.catalogue import load_catalogue
from crm_ports.errors import InputError
from crm_ports.lab import CLOUDS, AwsSettings, Lab, Waiver, default_labs, load_lab, relocated
from crm_ports.model import Catalogue, Location, PortRange, Protocol
from crm_ports.plans.aws import EGRESS_MODES
from crm_ports.resolver import resolve_lab
from crm_ports.ruleset import RuleSet

# Imported where they are used: `subprocess` where git runs, tar and temporary folders
# where a git ref is read, placements and lab-local rules where a synthesized folder's
# lab is read back. A review of two lab files needs none but the first.
if TYPE_CHECKING:
    import subprocess

    from crm_ports.extra import ExtraRule
    from crm_ports.placement import Placement

WORKING_TREE = "working tree"
STATE_FILE = "crm-ports.json"
CATALOGUE_DIR = "catalog"
LABS_DIR = "labs"

T = TypeVar("T")


@dataclass(frozen=True)
class LabState:
    lab: Lab
    ruleset: RuleSet


@dataclass(frozen=True)
class State:
    label: str
    labs: tuple[LabState, ...]

    def names(self) -> tuple[str, ...]:
        return tuple(s.lab.name for s in self.labs)

    def get(self, name: str) -> LabState | None:
        return next((s for s in self.labs if s.lab.name == name), None)


def _resolved(catalogue: Catalogue, labs: list[Lab], label: str) -> State:
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
    states = [LabState(lab, resolve_lab(catalogue, lab)) for lab in labs]
    return State(label, tuple(sorted(states, key=lambda s: s.lab.name)))


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


def working_tree(root: Path, catalogue_path: Path | None) -> State:
    labs = [*default_labs(), *(load_lab(p) for p in _lab_files(root / LABS_DIR))]
    return _resolved(tree_catalogue(root, catalogue_path), labs, WORKING_TREE)


def lab_file(path: Path, catalogue: Catalogue) -> State:
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


def git_ref(root: Path, ref: str) -> State:
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


# -- synthesized folders ------------------------------------------------------------------


def _field(data: Any, key: str, kind: type[T], file: str, entry: str) -> T:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, kind):
        raise InputError(file, entry, key, f"expected {kind.__name__}, got {value!r:.60}")
    return value


def read_json(path: Path, hint: str = "") -> Any:
    shown = yamlio.display_name(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(shown, "", "", f"no such file{hint}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(shown, "", "", f"cannot read as JSON: {exc}") from None


@dataclass(frozen=True)
class StackState:
    """One synthesized stack: its directory, cloud and the lab state it was built from."""

    directory: Path
    cloud: str
    state: LabState


def _guarded(call: Callable[[], T], file: str, entry: str, field: str) -> T:
    try:
        return call()
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        text = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise InputError(file, entry, field, text) from None


def _waivers(raw: Any, file: str, entry: str) -> tuple[Waiver, ...]:
    def parse() -> tuple[Waiver, ...]:
        return tuple(Waiver(w["check"], w["reason"], w.get("rule")) for w in raw or ())

    return _guarded(parse, file, entry, "lab.waivers")


def _placement(raw: Any, name: str, file: str, entry: str) -> Placement | None:
    def parse() -> Placement | None:
        if raw is None:
            return None
        from crm_ports.placement import Host, Placement

        hosts = tuple(Host(h["name"], tuple(str(r) for r in h["roles"])) for h in raw)
        return Placement(name=name, hosts=hosts, origin=file)

    return _guarded(parse, file, entry, "lab.placement")


def _extra_rules(raw: Any, file: str, entry: str) -> tuple[ExtraRule, ...]:
    def parse() -> tuple[ExtraRule, ...]:
        from crm_ports.extra import ExtraRule

        out = []
        for item in raw or ():
            cited, _, line = str(item["cites"]).rpartition(":")
            out.append(
                ExtraRule(
                    source=item["from"],
                    target=item["to"],
                    protocol=Protocol(item["protocol"]),
                    ports=PortRange.parse(str(item["ports"])),
                    reason=item["reason"],
                    name=item.get("name"),
                    location=Location(cited or str(item["cites"]), int(line) if cited else None),
                )
            )
        return tuple(out)

    return _guarded(parse, file, entry, "lab.extra_rules")


def read_stack(directory: Path) -> StackState:
    path = directory / STATE_FILE
    shown = yamlio.display_name(path)
    entry = f"stack '{directory.name}'"
    data = read_json(path)
    cloud = _field(data, "cloud", str, shown, entry)
    if cloud not in CLOUDS:
        raise InputError(shown, entry, "cloud", f"'{cloud}' is not one of {', '.join(CLOUDS)}")
    lab_data = _field(data, "lab", dict, shown, entry)
    name = _field(lab_data, "name", str, shown, entry)
    raw = _field(data, "ruleset", dict, shown, entry)
    ruleset = _guarded(lambda: RuleSet.from_json(raw, origin=shown), shown, entry, "ruleset")
    aws = lab_data.get("aws") or {}
    egress = aws.get("egress", AwsSettings.egress) if isinstance(aws, dict) else None
    if egress not in EGRESS_MODES:
        raise InputError(shown, entry, "lab.aws.egress", f"expected one of {EGRESS_MODES}")
    clouds = lab_data.get("clouds", list(CLOUDS))
    if not isinstance(clouds, list) or not set(clouds) <= set(CLOUDS):
        raise InputError(shown, entry, "lab.clouds", f"expected a list of {', '.join(CLOUDS)}")
    lab = Lab(
        name=name,
        options=ruleset.options,
        clouds=tuple(clouds),
        aws=AwsSettings(egress=egress),
        waivers=_waivers(lab_data.get("waivers"), shown, entry),
        placement=_placement(lab_data.get("placement"), ruleset.options.topology, shown, entry),
        extra_rules=_extra_rules(lab_data.get("extra_rules"), shown, entry),
        origin=shown,
    )
    return StackState(directory, cloud, LabState(lab, ruleset))


def stack_dirs(folder: Path) -> list[Path]:
    stacks = folder / "stacks"
    found = (
        sorted(p for p in stacks.iterdir() if (p / STATE_FILE).is_file()) if stacks.is_dir() else []
    )
    if not found:
        raise InputError(
            yamlio.display_name(folder),
            "",
            "",
            f"not a synthesized folder: no stacks/*/{STATE_FILE} (run `crm-ports synth` first)",
        )
    return found


def read_stacks(folder: Path) -> list[StackState]:
    return [read_stack(d) for d in stack_dirs(folder)]


def folder_labs(folder: Path) -> list[tuple[LabState, tuple[StackState, ...]]]:
    """Labs of a synthesized folder with their stacks (a lab's clouds are the stacks found
    for it); all stacks of one lab must have recorded the same rule set."""
    by_lab: dict[str, list[StackState]] = {}
    for stack in read_stacks(folder):
        by_lab.setdefault(stack.state.lab.name, []).append(stack)
    out = []
    for name in sorted(by_lab):
        stacks = by_lab[name]
        first = stacks[0].state
        for other in stacks[1:]:
            if other.state.ruleset != first.ruleset:
                raise InputError(
                    other.state.lab.origin,
                    f"lab '{first.lab.name}'",
                    "ruleset",
                    f"differs from the rule set of {first.lab.origin}: re-run `crm-ports synth`",
                )
        clouds = tuple(c for c in CLOUDS if any(s.cloud == c for s in stacks))
        lab = replace(first.lab, clouds=clouds)
        out.append((LabState(lab, first.ruleset), tuple(stacks)))
    return out


def synth_folder(folder: Path) -> State:
    return State(yamlio.display_name(folder), tuple(state for state, _ in folder_labs(folder)))


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


def load_state(spec: str | None, root: Path, catalogue_path: Path | None, option: str) -> State:
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
