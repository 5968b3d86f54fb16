"""`crm-ports review`: the one command a pull-request pipeline runs. It takes `diff`,
`check` and `verify` over the project's labs (the same functions those commands call),
writes one body with the summary first, splits it into comments a platform accepts, and
with `--post` keeps them on the pull request. Only verify without `--synth` starts cdktf,
to synthesize the head labs into a scratch folder."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from crm_ports.commands.common import note, review_space, unique_names, write_atomic
from crm_ports.errors import InputError
from crm_ports.formats import to_json
from crm_ports.inputs import yamlio

if TYPE_CHECKING:
    from crm_ports.catalogue.model import Catalogue
    from crm_ports.lab.model import Lab
    from crm_ports.pullrequest.body import Review
    from crm_ports.review.sides import Side, Workspace
    from crm_ports.verify.run import Target

COMMENT_FILE = re.compile(r"comment-(\d+)\.md")


@click.command(
    epilog="""\b
Examples:
  crm-ports review --base origin/main
  crm-ports review --base origin/main -o review/
  crm-ports review --base origin/main --synth cdktf.out --fail-on warning
  crm-ports review --base origin/main --post github
  crm-ports review --base "origin/$SYSTEM_PULLREQUEST_TARGETBRANCHNAME" --post azure-devops
  crm-ports review --base "$CI_MERGE_REQUEST_DIFF_BASE_SHA" --post gitlab --comment new
\b
Exit status: 0 clean, 1 findings at --fail-on, 2 bad input (nothing written or posted)."""
)
@click.option(
    "--base",
    required=True,
    metavar="REF",
    help="Git ref (or synthesized folder, or lab file) the pull request is compared with.",
)
@click.option(
    "--lab",
    "lab_paths",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Lab file to review (repeatable) instead of the project's labs.",
)
@click.option(
    "--synth",
    "synth_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Verify and check this synthesized folder (crm-ports synth, or an app's cdktf.out) "
    "instead of synthesizing the head labs into a scratch folder.",
)
@click.option(
    "--fail-on",
    "fail_on",
    type=click.Choice(("error", "warning", "never")),
    default="error",
    show_default=True,
    help="Exit 1 on policy errors and a failed verify (error), on warnings too (warning), "
    "or never.",
)
@click.option(
    "--max-chars",
    "max_chars",
    type=click.IntRange(min=1000),
    default=65000,
    show_default=True,
    help="Longest comment: a longer body is split into numbered parts at section boundaries.",
)
@click.option(
    "--output",
    "-o",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Write comment-1.md, comment-2.md, ..., summary.md and review.json into DIR "
    "instead of printing the body.",
)
@click.option(
    "--post",
    "post_to",
    type=click.Choice(("github", "gitlab", "azure-devops")),
    default=None,
    help="Post the parts on the pull request through the platform's API, with the token "
    "the platform gives the job.",
)
@click.option(
    "--comment",
    "comment_mode",
    type=click.Choice(("update", "new", "off")),
    default="update",
    show_default=True,
    help="With --post: update our comments in place (deleting stale parts), always add "
    "new ones, or post nothing.",
)
@click.option(
    "--tag",
    default=None,
    metavar="NAME",
    help="Name this review in its hidden marker, for two reviews on one pull request (two "
    "labs folders, two jobs): each updates only the comments of its own tag.",
)
@click.option(
    "--pr",
    "pr_number",
    type=click.IntRange(min=1),
    default=None,
    help="With --post: the pull (merge) request number, instead of the job's variables.",
)
@click.pass_context
def review(
    ctx: click.Context,
    /,
    base: str,
    lab_paths: tuple[Path, ...],
    synth_dir: Path | None,
    fail_on: str,
    max_chars: int,
    out_dir: Path | None,
    post_to: str | None,
    comment_mode: str,
    tag: str | None,
    pr_number: int | None,
) -> int:
    """Review a pull request: `diff` against --base, `check` and `verify` of the head,
    as one body: a hidden marker, the summary table (labs changed, flows newly reachable
    from the internet, groups replaced, policy errors, the verify verdict), then the
    details folded in <details> blocks.

    The labs are those of the project file (crm-ports.yaml), as `diff` and `check --all`
    read them; --lab reviews only the files given. verify (and check's stack checks) read
    --synth's folder; without it the head labs are synthesized into a scratch folder
    first (progress on standard error), as `crm-ports synth` would.

    Without -o or --post the body is printed; parts are separated by their markers.
    With --post github|gitlab|azure-devops the parts go on the pull request: GitHub
    reads GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL and the event's
    pull_request.number; GitLab CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID and
    CRM_PORTS_GITLAB_TOKEN, GITLAB_TOKEN or CI_JOB_TOKEN; Azure DevOps
    SYSTEM_COLLECTIONURI, SYSTEM_TEAMPROJECT, BUILD_REPOSITORY_ID,
    SYSTEM_PULLREQUEST_PULLREQUESTID and SYSTEM_ACCESSTOKEN."""
    from crm_ports.pullrequest.body import sections, summary_lines
    from crm_ports.pullrequest.platforms import platform
    from crm_ports.pullrequest.post import post
    from crm_ports.pullrequest.split import check_tag, split_body

    if pr_number is not None and post_to is None:
        raise click.UsageError("--pr names the pull request to post on: add --post")
    check_tag(tag)
    if out_dir is not None:
        _check_folder(out_dir)
    target = None
    if post_to is not None and comment_mode != "off":
        target = platform(post_to, os.environ, pr_number)
    found = _gather(ctx, base, lab_paths, synth_dir)
    parts = split_body(summary_lines(found), sections(found), max_chars, tag)
    if target is not None:  # first: a refused post (exit 2) leaves no -o files behind
        posted = post(target, parts, comment_mode, tag)
        click.echo(f"crm-ports: posted on {post_to}: {posted.words()}", err=True)
    if out_dir is not None:
        _write(out_dir, parts, "\n".join(summary_lines(found)), to_json(found.to_json(len(parts))))
    elif post_to is None:
        click.echo("\n".join(parts), nl=False)
    return 1 if found.blocking(fail_on) else 0


def _check_folder(folder: Path) -> None:
    """-o DIR: an existing folder, or a new one in an existing folder (made at the end)."""
    shown = yamlio.display_name(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(shown, "", "--output", "is not a folder")
    if not folder.exists() and not folder.resolve().parent.is_dir():
        raise InputError(shown, "", "--output", "its parent folder does not exist")


def _write(folder: Path, parts: list[str], summary: str, data: str) -> None:
    """The parts, the summary and the JSON; comment files of an earlier, longer review
    in the folder are removed, so `comment-*.md` is always this review's parts."""
    folder.mkdir(exist_ok=True)
    for number, text in enumerate(parts, 1):
        write_atomic(folder / f"comment-{number}.md", text)
    write_atomic(folder / "summary.md", summary)
    write_atomic(folder / "review.json", data)
    for path in sorted(folder.iterdir()):
        found = COMMENT_FILE.fullmatch(path.name)
        if found and int(found.group(1)) > len(parts) and path.is_file():
            path.unlink()


def _head(space: Workspace, lab_paths: tuple[Path, ...]) -> Side:
    from crm_ports.review.sides import every_lab, lab_files, tree_catalogue

    if lab_paths:
        side = lab_files(list(lab_paths), tree_catalogue(space))
        unique_names(s.lab for s in side.labs)
        return side
    return every_lab(space, "review", "--lab")


def _gather(
    ctx: click.Context, base: str, lab_paths: tuple[Path, ...], synth_dir: Path | None
) -> Review:
    """diff, check and verify, each as its own command computes it."""
    from crm_ports.policy.crm007_quotas import NEAR_QUOTA, quota_rows
    from crm_ports.policy.registry import run_checks
    from crm_ports.policy.subjects import from_side, with_base
    from crm_ports.pullrequest.body import Review
    from crm_ports.review.diff import diff_sides
    from crm_ports.review.sides import load_side, tree_catalogue

    space = review_space(ctx)
    head = _head(space, lab_paths)
    old = load_side(base, space, "--base")
    if lab_paths:  # only the labs given: the others are not part of this review
        old = old.only(head.names())
    note((*old.notes, *head.notes))
    labs = diff_sides(old, head)
    catalogue = tree_catalogue(space)
    labs_given = [s.lab for s in head.labs]
    with _stacks(synth_dir, labs_given, bool(lab_paths), catalogue) as (folder, targets):
        from crm_ports.policy.subjects import with_synth
        from crm_ports.verify.run import verify_targets

        subjects, notes = with_synth(from_side(head), folder)
        note(notes)
        if lab_paths:  # the folder's other labs are not part of this review either
            subjects = [s for s in subjects if s.name in head.names()]
        results = verify_targets(targets)
    subjects = with_base(subjects, old)
    findings = run_checks(subjects)
    quotas = [row for subject in subjects for row in quota_rows(subject)[0]]
    near = tuple(row for row in quotas if row.used >= row.limit * NEAR_QUOTA)
    return Review(
        base=old.label,
        head=head.label,
        labs=labs,
        checked=tuple(s.name for s in subjects),
        findings=findings,
        quotas=near,
        results=tuple(results),
    )


@contextmanager
def _stacks(
    synth_dir: Path | None, labs: list[Lab], given: bool, catalogue: Catalogue
) -> Iterator[tuple[Path, list[Target]]]:
    """The folder check and verify judge, and verify's targets in it: --synth's (only the
    labs --lab gave, when `given`, as `verify --synth --lab` picks them), else the head
    labs synthesized into a scratch folder for as long as the block runs."""
    from crm_ports.verify.run import folder_targets, synthesized

    if synth_dir is not None:
        # what the folder holds that is no crm-ports stack, check's reading says once
        yield synth_dir, folder_targets(synth_dir, catalogue, {}, labs if given else ())[0]
        return
    click.echo(
        f"crm-ports: synthesizing {len(labs)} lab(s) to verify them (--synth DIR skips this)",
        err=True,
    )
    with synthesized(labs, catalogue, lambda line: click.echo(line, err=True)) as scratch:
        yield scratch, folder_targets(scratch, catalogue, {}, labs)[0]
