"""`crm-ports check`: the policy checks on a lab's rule set and on synthesized Terraform.
It never synthesizes (no cdktf, no Node); the policy modules load when it runs, and the
git and tar handling only for `--all` and `--base`, which read the repository."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crm_ports.commands.common import (
    catalogue,
    catalogue_path,
    check_output,
    emit,
    emit_sarif,
    format_option,
    given_flags,
    note,
    one_lab,
    output_option,
    project,
    review_space,
    rule_options_per_lab,
    sarif_tree,
    unique_names,
)

if TYPE_CHECKING:
    from crm_ports.policy.base import Finding, Subject
    from crm_ports.sarif import Log as SarifLog


@click.command(
    epilog="""\b
Examples:
  crm-ports check
  crm-ports check --lab labs/contoso-claims.yaml
  crm-ports check --lab labs/contoso-claims.yaml --lab labs/fabrikam-full-server.yaml
  crm-ports check --all --format markdown
  crm-ports check --all --synth cdktf.out
  crm-ports check --synth app/cdktf.out --var-file prod.tfvars
  crm-ports check --all --base origin/main
  crm-ports check --all --quotas
  crm-ports check --list --format markdown
  crm-ports check --all --format sarif -o crm-ports.sarif
\b
Exit status: 0 no errors (warnings allowed), 1 errors, 2 bad input."""
)
@rule_options_per_lab
@click.option(
    "--all",
    "all_labs",
    is_flag=True,
    help="Check every lab of the project file (crm-ports.yaml); without one, the default "
    "labs and every labs/*.yaml of the git repository.",
)
@click.option(
    "--synth",
    "synth_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Also check the cdk.tf.json files of this synthesized folder (crm-ports synth, or "
    "an app's cdktf.out).",
)
@click.option(
    "--base",
    default=None,
    metavar="STATE",
    help="Also compare each lab with STATE (git ref, synthesized folder or lab file): a "
    "group the change would replace while it stays in the lab fails CRM010.",
)
@click.option(
    "--var-file",
    "var_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="With --synth: variable values (.tfvars or .tfvars.json) instead of the defaults.",
)
@click.option("--list", "list_only", is_flag=True, help="Print the table of checks and exit.")
@click.option(
    "--quotas",
    "all_quotas",
    is_flag=True,
    help="Print every group's quota headroom (by default only groups at 90% or more).",
)
@format_option("table", ("table", "json", "markdown", "sarif"))
@output_option
@click.pass_context
def check(
    ctx: click.Context,
    /,
    lab_paths: tuple[Path, ...],
    all_labs: bool,
    synth_dir: Path | None,
    base: str | None,
    var_file: Path | None,
    list_only: bool,
    all_quotas: bool,
    fmt: str,
    output: Path | None,
    **values: Any,
) -> int:
    """Policy checks on a lab's rule set and, with --synth, on the synthesized Terraform.

    Findings can be waived in the lab file (`waivers: [{check, rule, reason}]`); the
    report repeats the reason. Without --lab, --all or --synth: the labs CRM_PORTS_LABS
    lists, else the project file's (crm-ports.yaml), else the options given; in a project
    repository, option flags without --lab need --topology (a catalogue topology).

    `--format sarif` writes a SARIF 2.1.0 log for GitHub code scanning: each finding at the
    lab or catalogue line that causes it, waived ones as suppressions with their reasons
    (docs/reviewing.md)."""
    from crm_ports.policy.base import Subject
    from crm_ports.policy.crm007_quotas import NEAR_QUOTA, quota_rows
    from crm_ports.policy.registry import run_checks
    from crm_ports.policy.report import list_checks, render_report

    check_output(ctx, output, *lab_paths, base, var_file)
    if list_only:
        if fmt == "sarif":
            emit_sarif(_sarif(ctx, (), [], all_labs), output)
        else:
            emit(list_checks(fmt), output)
        return 0
    if var_file is not None and synth_dir is None:
        raise click.UsageError("--var-file gives the values of --synth's stacks: add --synth")
    flags = bool(given_flags(values))
    if all_labs and (lab_paths or flags):
        raise click.UsageError("--all checks every lab as it is: drop --lab and option flags")
    if all_labs:
        from crm_ports.policy.subjects import from_side
        from crm_ports.review.sides import every_lab

        subjects = from_side(every_lab(review_space(ctx), "check"))
    elif lab_paths:
        subjects = _unique([Subject(*one_lab(ctx, path, values)) for path in lab_paths])
    elif flags:
        subjects = [Subject(*one_lab(ctx, None, values))]
    elif synth_dir is None:
        subjects = _named(ctx)
    else:
        subjects = []
    if synth_dir is not None:
        from crm_ports.policy.subjects import with_synth
        from crm_ports.verify.stack import read_var_file

        overrides = read_var_file(var_file) if var_file is not None else {}
        subjects, notes = with_synth(subjects, synth_dir, overrides)
        note(notes)
    if base is not None:
        subjects = _with_base(ctx, subjects, base)
    findings = run_checks(subjects)
    quotas = [row for subject in subjects for row in quota_rows(subject)[0]]
    if not all_quotas and fmt != "json":  # JSON keeps every row: it is read by programs
        quotas = [row for row in quotas if row.used >= row.limit * NEAR_QUOTA]
    labs = [s.name for s in subjects]
    if fmt == "sarif":
        emit_sarif(_sarif(ctx, findings, subjects, all_labs), output)
    else:
        emit(render_report(findings, quotas, labs, fmt), output)
    return 1 if any(f.blocking for f in findings) else 0


def _sarif(
    ctx: click.Context, findings: tuple[Finding, ...], subjects: list[Subject], all_labs: bool
) -> SarifLog:
    """The findings as SARIF, located in the catalogue the labs were resolved with: the
    working tree's for `--all`, else the one `--catalog` or the project file names."""
    from crm_ports import __version__
    from crm_ports.catalogue.load import default_catalogue_dir, load_catalogue
    from crm_ports.policy.locate import Sources
    from crm_ports.policy.sarif import report_sarif
    from crm_ports.review.sides import tree_catalogue_path

    path = tree_catalogue_path(review_space(ctx)) if all_labs else catalogue_path(ctx)
    sources = Sources(load_catalogue(path), path or default_catalogue_dir())
    return report_sarif(findings, subjects, sources, sarif_tree(ctx), __version__)


def _unique(subjects: list[Subject]) -> list[Subject]:
    """The labs of several --lab, sorted by name as `--all`'s are; two files of one lab
    name would mix their findings (and their stacks with --synth), so that is refused."""
    unique_names(s.lab for s in subjects)
    return sorted(subjects, key=lambda s: s.lab.name)


def _named(ctx: click.Context) -> list[Subject]:
    """A bare `check`: the labs CRM_PORTS_LABS lists, else the project file's (as
    `--all` checks them), else (crm-ports' own layout) the default options alone. In a
    project repository a built-in default lab would pass for a check of the user's."""
    from crm_ports.policy.base import Subject
    from crm_ports.resolver.engine import resolve_lab
    from crm_ports.synth.plan import named_labs

    labs = named_labs(project(ctx))
    if labs is None:
        return [Subject(*one_lab(ctx, None, {}))]
    unique_names(labs)
    cat = catalogue(ctx)
    return sorted((Subject(lab, resolve_lab(cat, lab)) for lab in labs), key=lambda s: s.lab.name)


def _with_base(ctx: click.Context, subjects: list[Subject], base: str) -> list[Subject]:
    """Each subject with its lab as `base` had it (none for a lab new since then)."""
    from crm_ports.policy.subjects import with_base
    from crm_ports.review.sides import load_side

    return with_base(subjects, load_side(base, review_space(ctx), "--base"))
