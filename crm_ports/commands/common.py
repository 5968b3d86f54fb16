"""What the commands share: the lab options (generated from `crm_ports.options.SPECS`),
`--lab`, `--format` and `--output`; the lab a command's flags describe; and the stacks
`verify` and `why` evaluate. The modules a helper needs beyond these are imported when
it runs, so a command never loads the machinery of another."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crm_ports.catalogue.load import load_catalogue
from crm_ports.catalogue.model import Catalogue
from crm_ports.errors import InputError
from crm_ports.formats import FORMATS
from crm_ports.inputs import yamlio
from crm_ports.options import SPECS, Options, build
from crm_ports.resolver.engine import resolve, resolve_lab
from crm_ports.ruleset import RuleSet

if TYPE_CHECKING:  # lab files load their module (settings, backends, placements) on demand
    from crm_ports.lab.model import Lab
    from crm_ports.lab.project import Project
    from crm_ports.review.sides import Workspace
    from crm_ports.sarif import Log as SarifLog
    from crm_ports.sarif import Tree
    from crm_ports.verify.run import Target

F = Callable[..., Any]
DEFAULTS = Options()


def _default_text(name: str) -> str:
    value = getattr(DEFAULTS, name)
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ", ".join(value)
    if value is None:
        return "same as --email"
    return str(value)


class TopologyId(click.ParamType):  # type: ignore[type-arg]
    """`--topology`: one of the topologies of the catalogue in use (`--catalog` or the
    built-in one), never a hard-coded list."""

    name = "topology"

    def get_metavar(self, *args: Any, **kwargs: Any) -> str:
        return "TOPOLOGY"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        known = [t.id for t in (catalogue(ctx) if ctx is not None else load_catalogue()).topologies]
        if value not in known:
            self.fail(f"'{value}' is not one of {', '.join(map(repr, known))}", param, ctx)
        return str(value)


def option_flags(func: F) -> F:
    """Adds one CLI flag per lab option, all defaulting to None so that only the flags a
    user typed override the lab file (or the built-in defaults)."""
    for spec in reversed(SPECS):
        help_text = f"{spec.help} [default: {_default_text(spec.name)}]"
        if spec.kind == "bool":
            flag = f"{spec.flag}/--no-{spec.flag[2:]}"
            func = click.option(flag, spec.name, default=None, help=help_text)(func)
        elif spec.kind in ("choice", "count"):
            func = click.option(
                spec.flag, spec.name, type=click.Choice(spec.choices), default=None, help=help_text
            )(func)
        elif spec.kind == "topology":
            func = click.option(
                spec.flag,
                spec.name,
                type=TopologyId(),
                default=None,
                help=f"{spec.help} [built-in: {', '.join(spec.choices)}; "
                f"default: {_default_text(spec.name)}]",
            )(func)
        elif spec.kind == "port":
            func = click.option(
                spec.flag, spec.name, type=int, default=None, metavar="N", help=help_text
            )(func)
        elif spec.kind == "range":
            func = click.option(
                spec.flag, spec.name, default=None, metavar="START-END", help=help_text
            )(func)
        elif spec.kind == "cidrs":
            flag = spec.flag[:-1]  # --client-cidr, repeatable
            func = click.option(flag, spec.name, multiple=True, metavar="CIDR", help=help_text)(
                func
            )
    return func


def _one_lab_path(ctx: click.Context, param: click.Parameter, value: tuple[Path, ...]) -> Any:
    """`--lab` of a command that shows one lab: a second is refused, never dropped."""
    if len(value) > 1:
        raise click.BadParameter(
            f"given {len(value)} times, but `{ctx.command_path}` shows one lab: "
            "run it once per lab file",
            ctx,
            param,
        )
    return value[0] if value else None


def rule_options(func: F) -> F:
    """The option flags plus `--lab FILE`, which they override; `--lab` once."""
    func = option_flags(func)
    func = click.option(
        "--lab",
        "lab_path",
        multiple=True,  # so that a second --lab is seen, and refused
        callback=_one_lab_path,
        type=click.Path(path_type=Path, dir_okay=False),
        help="Lab file to take options from; flags given as well override it.",
    )(func)
    return func


def rule_options_per_lab(func: F) -> F:
    """The option flags plus `--lab FILE`, repeatable: one section per lab, each with the
    flags given applied on top."""
    func = option_flags(func)
    func = click.option(
        "--lab",
        "lab_paths",
        multiple=True,
        type=click.Path(path_type=Path, dir_okay=False),
        help="Lab file to take options from (repeatable: one section per lab); flags given "
        "as well override each.",
    )(func)
    return func


def format_option(default: str = "table", formats: tuple[str, ...] = FORMATS) -> Callable[[F], F]:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(formats),
        default=default,
        show_default=True,
        help="Output format.",
    )


def output_option(func: F) -> F:
    return click.option(
        "--output",
        "-o",
        "output",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Write to FILE (atomically) instead of standard output.",
    )(func)


def project(ctx: click.Context) -> Project | None:
    """The project file (`crm-ports.yaml`) of the working directory or a folder above it,
    read once per command; None without one."""
    from crm_ports.lab.project import find_project

    obj = ctx.find_root().obj
    if isinstance(obj, dict) and "project" in obj:
        found: Project | None = obj["project"]
        return found
    found = find_project(Path.cwd())
    if isinstance(obj, dict):
        obj["project"] = found
    return found


def catalogue_path(ctx: click.Context) -> Path | None:
    """`--catalog DIR` when given (the root command keeps it), else the project file's
    catalogue; None: the built-in one."""
    path: Path | None = (ctx.find_root().obj or {}).get("catalog")
    if path is None:
        found = project(ctx)
        path = found.catalogue_path if found is not None else None
    return path


def review_space(ctx: click.Context) -> Workspace:
    """Where `diff`, `diagram` and `check --all`/`--base` read the working tree and git
    refs: the repository of the working directory, its project file and catalogue."""
    from crm_ports.review.sides import workspace

    return workspace(Path.cwd(), catalogue_path(ctx), project(ctx))


def sarif_tree(ctx: click.Context) -> Tree:
    """What SARIF's URIs are relative to: the repository of the working directory (its
    git top level, else the working directory itself); a result no file holds is placed
    at the project file."""
    from crm_ports.lab.project import PROJECT_FILE
    from crm_ports.sarif import Tree

    space = review_space(ctx)
    found = space.project
    return Tree(space.root, space.cwd, None if found is None else found.root / PROJECT_FILE)


def emit_sarif(log: SarifLog, output: Path | None) -> None:
    emit(log.text, output)
    note(log.notes())


def catalogue(ctx: click.Context) -> Catalogue:
    return load_catalogue(catalogue_path(ctx))


def given_flags(values: dict[str, Any]) -> dict[str, Any]:
    """The option flags a user typed (the others are None or an empty tuple)."""
    return {k: v for k, v in values.items() if v is not None and v != ()}


def lab_and_options(lab_path: Path | None, values: dict[str, Any]) -> tuple[Lab | None, Options]:
    given = given_flags(values)
    lab = None
    if lab_path is not None:
        from crm_ports.lab.file import load_lab

        lab = load_lab(lab_path)
    base = lab.options if lab is not None else None
    if not given and base is not None:
        return lab, base
    options = build(given, origin="command line", entry="options", base=base)
    return lab, options


def options_alone(ctx: click.Context, values: dict[str, Any]) -> None:
    """A command given no lab file shows a catalogue topology with the options given, as
    the built-in default labs are: fine in crm-ports' own repository, but in a project
    repository (`crm-ports.yaml`) that would pass off a lab the user never wrote as one of
    theirs. There it takes `--lab`, or an explicit `--topology` (a catalogue topology with
    the flags, asked for by name), and says which labs the project has."""
    found = project(ctx)
    if found is None or "topology" in given_flags(values):
        return
    names = ", ".join(yamlio.display_name(p) for p in found.lab_files())
    raise InputError(
        "command line",
        ctx.command_path.partition(" ")[2],
        "--lab",
        f"no lab given, and the built-in default labs are not this project's: give --lab "
        f"(the project's labs: {names}), or --topology for a catalogue topology alone",
    )


def unique_names(labs: Iterable[Lab]) -> None:
    """Two lab files of one lab name given with --lab would mix their findings, drawings
    and stacks, so the second is refused, naming the first."""
    from crm_ports.lab.model import refuse_repeated_names

    refuse_repeated_names(labs, "each --lab must be another lab")


def resolve_for(ctx: click.Context, lab: Lab | None, options: Options) -> RuleSet:
    """The rule set of a lab file with the flags applied (its own placement and rules
    included), or of the options alone."""
    if lab is None:
        return resolve(catalogue(ctx), options)
    return resolve_lab(catalogue(ctx), replace(lab, options=options))


def ruleset_from(ctx: click.Context, lab_path: Path | None, values: dict[str, Any]) -> RuleSet:
    if lab_path is None:
        options_alone(ctx, values)
    lab, options = lab_and_options(lab_path, values)
    return resolve_for(ctx, lab, options)


def one_lab(
    ctx: click.Context, lab_path: Path | None, values: dict[str, Any]
) -> tuple[Lab, RuleSet]:
    """The lab of `--lab` with the flags applied, or a lab named after the topology of
    the options alone, and its rule set: what `check` and `diagram` judge or draw when
    given no other state."""
    from crm_ports.lab.model import Lab

    if lab_path is None:
        options_alone(ctx, values)
    lab, options = lab_and_options(lab_path, values)
    if lab is None:
        lab = Lab(name=options.topology, options=options, origin=options.origin)
    else:
        lab = replace(lab, options=options)
    return lab, resolve_lab(catalogue(ctx), lab)


def check_output(ctx: click.Context, output: Path | None, *inputs: Path | str | None) -> None:
    """`-o FILE` checked before any work is done (for `audit`, before any cloud call): its
    folder must exist and FILE must not be a folder, as `write_atomic` will find at the
    end; and FILE naming a file the command reads (a lab file, a catalogue file, a var
    file) is a typo that would replace it with the report. `inputs` are the paths given on
    the command line (a git ref that is no file never matches); the catalogue in use and
    the project file are always among them."""
    if output is None:
        return
    _check_destination(output)
    from crm_ports.catalogue.load import default_catalogue_dir

    catalog = catalogue_path(ctx) or default_catalogue_dir()
    files = [Path(p) for p in inputs if p is not None]
    files += sorted(catalog.iterdir()) if catalog.is_dir() else [catalog]
    found = project(ctx)
    if found is not None:
        from crm_ports.lab.project import PROJECT_FILE

        files.append(found.root / PROJECT_FILE)
    target = os.path.realpath(output)
    for path in files:
        if os.path.realpath(path) == target:
            raise InputError(
                yamlio.display_name(output),
                "",
                "--output",
                f"is an input of this command ({yamlio.display_name(path)}): write the "
                "report to another file",
            )


def note(lines: Iterable[str]) -> None:
    """What a command left out on purpose, one line each on standard error (a report on
    standard output or in `-o FILE` stays as it is)."""
    for line in lines:
        click.echo(f"crm-ports: note: {line}", err=True)


def emit(text: str, output: Path | None) -> None:
    """Standard output, or FILE written whole or not at all."""
    if output is None:
        click.echo(text, nl=False)
        return
    write_atomic(output, text)


def _check_destination(path: Path, option: str = "--output") -> Path:
    """The file `-o` names, links resolved, once it is known it can be written there."""
    shown = yamlio.display_name(path)
    resolved = Path(os.path.realpath(path))
    if resolved.is_dir():
        raise InputError(shown, "", option, "is a directory")
    if not resolved.parent.is_dir():
        raise InputError(shown, "", option, "the output directory does not exist")
    return resolved


def write_atomic(path: Path, text: str, option: str = "--output") -> None:
    """FILE written whole or not at all, and otherwise left as `> FILE` would leave it: a
    new file gets the permissions a plain open() would give, an existing one keeps its
    own, and a symbolic link is written through to its target (the temporary file is
    renamed over the target, never over the link). `option` is the argument that named
    FILE, for the message when it cannot be written."""
    shown = yamlio.display_name(path)
    path = _check_destination(path, option)
    directory = path.parent
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:  # a new file
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        import tempfile  # only when writing a file

        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    except OSError as exc:
        raise InputError(shown, "", option, f"cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(shown, "", option, f"cannot write: {exc.strerror}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- the stacks `verify` and `why` evaluate ---------------------------------------------


def stack_options(func: F) -> F:
    for decorator in reversed(
        [
            click.option(
                "--synth",
                "synth_dir",
                type=click.Path(path_type=Path, file_okay=False),
                default=None,
                help="A synthesized folder (crm-ports synth --out, or the cdktf.out of an app "
                "using crm_ports.constructs); nothing is synthesized.",
            ),
            click.option(
                "--lab",
                "lab_paths",
                multiple=True,
                type=click.Path(path_type=Path, dir_okay=False),
                help="Lab file (repeatable): synthesize it, or with --synth pick its stacks.",
            ),
            click.option(
                "--all",
                "all_labs",
                is_flag=True,
                help="Every lab of the project file (crm-ports.yaml); without one, the "
                "default labs and every labs/*.yaml of the git repository.",
            ),
            click.option(
                "--var-file",
                "var_file",
                type=click.Path(path_type=Path, dir_okay=False),
                default=None,
                help="Variable values (.tfvars or .tfvars.json) instead of the defaults.",
            ),
        ]
    ):
        func = decorator(func)
    return func


def _labs(
    ctx: click.Context, lab_paths: tuple[Path, ...], all_labs: bool
) -> tuple[list[Lab], Catalogue]:
    """The labs to verify and the catalogue to judge them by. `--all` is the working tree
    exactly as `check --all` and `diff` read it: its labs and its own catalogue. Given no
    lab, the labs `synth` would build (CRM_PORTS_LABS, the project's, the default labs)."""
    from crm_ports.lab.file import load_lab
    from crm_ports.review.sides import every_lab, tree_catalogue
    from crm_ports.synth.plan import labs_from_environment

    if all_labs and lab_paths:
        raise click.UsageError("--all verifies every lab: drop --lab")
    if all_labs:
        space = review_space(ctx)
        tree = every_lab(space, "verify")
        return [s.lab for s in tree.labs], tree_catalogue(space)
    if lab_paths:
        return [load_lab(p) for p in lab_paths], catalogue(ctx)
    return labs_from_environment(project(ctx)), catalogue(ctx)


@contextmanager
def stack_targets(
    ctx: click.Context,
    synth_dir: Path | None,
    lab_paths: tuple[Path, ...],
    all_labs: bool,
    var_file: Path | None,
) -> Iterator[list[Target]]:
    """The stacks of `--synth`, or of the labs synthesized into a scratch folder that
    lives as long as the block."""
    from crm_ports.lab.file import load_lab
    from crm_ports.verify.run import folder_targets, synthesized
    from crm_ports.verify.stack import read_var_file

    overrides = read_var_file(var_file) if var_file is not None else {}
    if synth_dir is not None:
        if all_labs:
            raise click.UsageError("--all synthesizes the labs: drop --synth, or use --lab")
        labs = [load_lab(p) for p in lab_paths]
        targets, notes = folder_targets(synth_dir, catalogue(ctx), overrides, labs)
        note(notes)
        yield targets
        return
    labs, cat = _labs(ctx, lab_paths, all_labs)
    with synthesized(labs, cat) as scratch:
        yield folder_targets(scratch, cat, overrides, labs)[0]
