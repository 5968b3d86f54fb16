"""`crm-ports review`: diff, check and verify of a pull request as one body, split into
comments no longer than the platform takes, written with -o, and posted with --post to a
local server playing GitHub's, GitLab's and Azure DevOps' comment APIs
(`tests/platform_server.py`), which checks every request's method, path, token and body.

Each test works in a repository of the user's own built in tmp_path (a project file and
a lab, committed on `main`); the stacks verify judges come from one `crm-ports synth` of
that lab, shared by the module, except in the test of the scratch synthesis itself."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_ports.cli import run
from crm_ports.errors import InputError
from crm_ports.lab.project import PROJECT_FILE
from crm_ports.pullrequest.split import MARKER, Section, part_number, split_body
from crm_ports.synth.plan import LABS_ENV
from tests.conftest import Result
from tests.platform_server import AzureFake, Fake, GitHubFake, GitLabFake, serving
from tests.test_project import _git
from tests.tf_harness import require_tool

CLI = Callable[..., Result]

MYLAB = """\
name: mylab
clouds: [aws]
topology: split-roles
options: {sql_port: 1433}
"""
SMALL = ("--max-chars", "1500")


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`crm-ports synth` of MYLAB: the stacks every test but one verifies."""
    folder = tmp_path_factory.mktemp("synth")
    (folder / "mylab.yaml").write_text(MYLAB, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.delenv(LABS_ENV, raising=False)
        assert run(["synth", "--lab", "mylab.yaml", "--out", "out"]) == 0
    return folder / "out"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A labs repository of the user's own: the project file and MYLAB on `main`; cwd."""
    require_tool("git", "review compares with a git ref")
    root = tmp_path / "mine"
    (root / "labs").mkdir(parents=True)
    (root / PROJECT_FILE).write_text("labs:\n  - labs/*.yaml\n", encoding="utf-8")
    (root / "labs" / "mylab.yaml").write_text(MYLAB, encoding="utf-8")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "my lab")
    monkeypatch.chdir(root)
    monkeypatch.delenv(LABS_ENV, raising=False)
    return root


def _sql_port(root: Path, port: int) -> None:
    """The working tree's lab moves SQL Server to `port`: four rules change."""
    path = root / "labs" / "mylab.yaml"
    path.write_text(MYLAB.replace("1433", str(port)), encoding="utf-8")


def _balanced(part: str) -> None:
    """Every <details> closed after it opens, every code fence closed."""
    depth = 0
    for line in part.splitlines():
        depth += line.count("<details>") - line.count("</details>")
        assert depth >= 0, part
    assert depth == 0, part
    fences = [line for line in part.splitlines() if line.lstrip().startswith("```")]
    assert len(fences) % 2 == 0, part


def _parts(folder: Path) -> list[str]:
    count = len(list(folder.glob("comment-*.md")))
    return [(folder / f"comment-{n}.md").read_text(encoding="utf-8") for n in range(1, count + 1)]


# -- the body -----------------------------------------------------------------------------


def test_summary_first_then_the_details_folded(cli: CLI, repo: Path, synth_dir: Path) -> None:
    _sql_port(repo, 1444)
    result = cli("review", "--base", "main", "--synth", str(synth_dir))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[:3] == [MARKER, "<!-- crm-ports-review part 1/1 -->", "### crm-ports plan review"]
    table = result.out.index("| Labs changed | 1 of 1: `mylab` |")
    for row in (
        "| Flows newly reachable from the internet | 0 |",
        "| Groups replaced while servers hold them | 0 |",
        "| Policy errors | 0 (0 warning(s), 0 waived) |",
        "| Verify | pass (1 stack(s)) |",
    ):
        assert table < result.out.index(row) < result.out.index("<details>")
    assert "<summary><b>mylab</b> (changed): rules 4 changed" in result.out
    assert "<summary><b>Policy check</b> passes" in result.out
    assert "<summary><b>Verify</b>: pass (1 stack(s))</summary>" in result.out
    assert "TCP 1433 -> TCP 1444" in result.out
    _balanced(result.out)


def test_output_folder_holds_parts_summary_and_json(
    cli: CLI, repo: Path, synth_dir: Path, tmp_path: Path
) -> None:
    _sql_port(repo, 1444)
    out = tmp_path / "review"
    result = cli("review", "--base", "main", "--synth", str(synth_dir), "-o", str(out), *SMALL)
    assert result.code == 0, result.err
    assert result.out == ""
    parts = _parts(out)
    data = json.loads((out / "review.json").read_text(encoding="utf-8"))
    assert data == {
        "base": "main",
        "head": "working tree",
        "changed": True,
        "errors": 0,
        "warnings": 0,
        "waived": 0,
        "labs": ["mylab"],
        "labs_changed": ["mylab"],
        "internet_reachable_new": 0,
        "groups_replaced": 0,
        "verify": "pass",
        "parts": len(parts),
    }
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("### crm-ports plan review") and "<details>" not in summary
    assert "| Verify | pass (1 stack(s)) |" in summary
    assert summary in parts[0]
    # the same review again, elsewhere: the same bytes; a one-part review leaves no
    # comment-2.md of the longer one behind
    again = tmp_path / "again"
    cli("review", "--base", "main", "--synth", str(synth_dir), "-o", str(again), *SMALL)
    for name in sorted(p.name for p in out.iterdir()):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name
    assert cli("review", "--base", "main", "--synth", str(synth_dir), "-o", str(out)).code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "comment-1.md",
        "review.json",
        "summary.md",
    ]


def test_max_chars_splits_into_balanced_marked_parts(
    cli: CLI, repo: Path, synth_dir: Path, tmp_path: Path
) -> None:
    _sql_port(repo, 1444)
    whole = cli("review", "--base", "main", "--synth", str(synth_dir)).out
    for limit in (1000, 1200, 2500):
        out = tmp_path / str(limit)
        result = cli(
            "review", "--base", "main", "--synth", str(synth_dir), "-o", str(out),
            "--max-chars", str(limit),
        )  # fmt: skip
        assert result.code == 0, result.err
        parts = _parts(out)
        assert len(parts) > 1
        for number, part in enumerate(parts, 1):
            assert len(part) <= limit
            assert part.startswith(f"{MARKER}\n<!-- crm-ports-review part {number}/{len(parts)}")
            _balanced(part)
            assert "</summary>\n\n\n</details>" not in part  # no empty piece
            assert not part.rstrip().endswith("|---|---|---|\n\n</details>")  # no bare header
        if limit >= 2500:  # the diagram fits in a part: it is never cut in two
            diagram = next(p for p in parts if "```mermaid" in p)
            assert "```mermaid\nflowchart LR\n" in diagram and diagram.count("```") == 2
        # no line of the whole body is lost (long lines may be cut, never dropped)
        text = "".join(parts)
        for line in whole.splitlines():
            if len(line) < 300 and "crm-ports-review part" not in line:
                assert line in text, line


@dataclass(frozen=True)
class _Body:
    sections: list[Section]
    limit: int


LINE = st.text(alphabet="ab |-<>`", min_size=0, max_size=120).filter(
    lambda line: not line.lstrip().startswith("```")
)


@st.composite
def _bodies(draw: st.DrawFn) -> _Body:
    sections = []
    for _ in range(draw(st.integers(0, 6))):
        lines = draw(st.lists(LINE, max_size=40))
        if draw(st.booleans()):  # a fenced block inside
            at = draw(st.integers(0, len(lines)))
            lines[at:at] = ["```mermaid", *draw(st.lists(LINE, max_size=30)), "```"]
        if draw(st.booleans()):  # a table inside
            lines += ["| a | b |", "|---|---|", *(f"| {x} | y |" for x in draw(st.lists(LINE)))]
        details = draw(st.booleans())
        wrapper = ("<details>", "<summary>s</summary>", "") if details else ()
        closing = ("", "</details>", "") if details else ()
        sections.append(Section(tuple(lines), wrapper, closing))
    return _Body(sections, draw(st.integers(300, 3000)))


@settings(max_examples=150, deadline=None)
@given(_bodies())
def test_split_never_exceeds_the_limit_and_keeps_markdown_balanced(body: _Body) -> None:
    header = ["### crm-ports plan review", "", "| | |", "|---|---|", "| a | 1 |", ""]
    parts = split_body(header, body.sections, body.limit)
    assert parts[0].splitlines()[2:7] == header[:-1]
    for number, part in enumerate(parts, 1):
        assert len(part) <= body.limit
        assert part_number(part) == number
        assert f"part {number}/{len(parts)} -->" in part
        assert part.count("<details>") == part.count("</details>")
        fences = [line for line in part.splitlines() if line.lstrip().startswith("```")]
        assert len(fences) % 2 == 0, part


def test_a_summary_too_long_for_max_chars_is_bad_input() -> None:
    with pytest.raises(InputError, match=r"--max-chars.*1000 is too small"):
        split_body(["x" * 2000], [], 1000)


# -- exit status and bad input -----------------------------------------------------------


def test_policy_errors_fail_at_error_and_pass_at_never(
    cli: CLI, repo: Path, synth_dir: Path, tmp_path: Path
) -> None:
    (repo / "labs" / "mylab.yaml").write_text(
        MYLAB.replace("{sql_port: 1433}", "{sql_port: 1433, admin_cidrs: [0.0.0.0/0]}"),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    args = ("review", "--base", "main", "--synth", str(synth_dir), "-o", str(out))
    failing = cli(*args)
    assert failing.code == 1, failing.err
    data = json.loads((out / "review.json").read_text(encoding="utf-8"))
    assert data["errors"] > 0
    body = (out / "comment-1.md").read_text(encoding="utf-8")
    assert "> **Newly reachable from the internet**" in body
    # the count is of the flows the caution lists (internet range -> host group), not of
    # the peers whose ranges changed: one admin range opened reaches every group's RDP
    caution = next(line for line in body.splitlines() if "now include 0.0.0.0/0" in line)
    flows = re.findall(r"(?:^|; |: )(?:TCP|UDP|ICMP|ESP)[^;]* to [\w-]+", caution)
    assert len(flows) > 1
    assert data["internet_reachable_new"] == len(flows)
    assert f"| Flows newly reachable from the internet | **{len(flows)}** |" in body
    assert "CRM001" in body
    assert re.search(r"\| Policy errors \| \*\*\d+\*\*", body)
    assert cli(*args, "--fail-on", "never").code == 0
    assert cli(*args, "--fail-on", "warning").code == 1


def test_no_change_is_clean(cli: CLI, repo: Path, synth_dir: Path) -> None:
    result = cli("review", "--base", "main", "--synth", str(synth_dir))
    assert result.code == 0
    assert "| Labs changed | 0 of 1 |" in result.out
    assert "No flow, rule or cloud resource changes." in result.out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--base", "nope"], ["--base", "'nope' is neither"]),
        (["--base", "main", "--max-chars", "999"], ["--max-chars", "999"]),
        (["--base", "main", "--fail-on", "sometimes"], ["--fail-on"]),
        (["--base", "main", "--post", "github"], ["GITHUB_TOKEN", "not set"]),
        (["--base", "main", "--pr", "3"], ["--pr", "add --post"]),
        (["--base", "main", "--lab", "labs/missing.yaml"], ["labs/missing.yaml"]),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    cli: CLI,
    repo: Path,
    synth_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    words: list[str],
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    out = tmp_path / "out"
    result = cli("review", *args, "--synth", str(synth_dir), "-o", str(out))
    assert result.code == 2
    assert result.err.count("\n") == 1, result.err
    for word in words:
        assert word in result.err
    assert "Traceback" not in result.err
    assert not out.exists()


def test_a_repository_without_labs_names_review_s_own_option(
    cli: CLI, repo: Path, synth_dir: Path
) -> None:
    """No project file and no labs/: the error names --lab, which review has, and not
    check's --all, which it has not."""
    (repo / PROJECT_FILE).unlink()
    (repo / "labs" / "mylab.yaml").rename(repo / "mylab.yaml")
    result = cli("review", "--base", "main", "--synth", str(synth_dir))
    assert result.code == 2
    assert result.err.count("\n") == 1, result.err
    assert "field '--lab': nothing to review" in result.err
    assert "--all" not in result.err


# -- posting -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Platform:
    name: str
    fake: Callable[[], Fake]
    env: Callable[[Fake, Path], dict[str, str]]
    create: str  # path of the list/create endpoint
    update: str  # the method that replaces a comment's text
    deletes: tuple[str, ...]  # the methods a stale part costs


def _github_env(fake: Fake, tmp: Path) -> dict[str, str]:
    event = tmp / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}), encoding="utf-8")
    return {
        "GITHUB_TOKEN": "ghs-secret",
        "GITHUB_API_URL": fake.url,
        "GITHUB_REPOSITORY": "contoso/labs",
        "GITHUB_EVENT_PATH": str(event),
    }


def _gitlab_env(fake: Fake, tmp: Path) -> dict[str, str]:
    return {
        "CI_API_V4_URL": f"{fake.url}/api/v4",
        "CI_PROJECT_ID": "42",
        "CI_MERGE_REQUEST_IID": "3",
        "CRM_PORTS_GITLAB_TOKEN": "glpat-secret",
        "CI_JOB_TOKEN": "job-secret",
    }


def _azure_env(fake: Fake, tmp: Path) -> dict[str, str]:
    return {
        "SYSTEM_COLLECTIONURI": f"{fake.url}/org/",
        "SYSTEM_TEAMPROJECT": "Contoso CRM",
        "BUILD_REPOSITORY_ID": "repo-1",
        "SYSTEM_PULLREQUEST_PULLREQUESTID": "5",
        "SYSTEM_ACCESSTOKEN": "ado-secret",
    }


PLATFORMS = [
    _Platform(
        "github",
        lambda: GitHubFake(("Authorization", "Bearer ghs-secret")),
        _github_env,
        "/repos/contoso/labs/issues/7/comments",
        "PATCH",
        ("DELETE",),
    ),
    _Platform(
        "gitlab",
        lambda: GitLabFake(("PRIVATE-TOKEN", "glpat-secret")),
        _gitlab_env,
        "/api/v4/projects/42/merge_requests/3/notes",
        "PUT",
        ("DELETE",),
    ),
    _Platform(
        "azure-devops",
        lambda: AzureFake(("Authorization", "Bearer ado-secret")),
        _azure_env,
        "/org/Contoso%20CRM/_apis/git/repositories/repo-1/pullRequests/5/threads",
        "PATCH",
        ("PATCH", "DELETE"),  # the thread closed, its comment deleted
    ),
]


@pytest.fixture(params=PLATFORMS, ids=lambda p: p.name)
def platform(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[_Platform, Fake]]:
    """A platform's fake, serving, with the job's variables pointing at it."""
    spec: _Platform = request.param
    with serving(spec.fake()) as fake:
        for name, value in spec.env(fake, tmp_path).items():
            monkeypatch.setenv(name, value)
        yield spec, fake


def _ours(fake: Fake) -> dict[int, str]:
    """Our parts as a reader sees them, by comment id."""
    return {k: v for k, v in fake.live().items() if part_number(v) is not None}


def _by_part(fake: Fake) -> dict[int, int]:
    """Part number -> the id of the comment holding it."""
    return {part_number(v) or 0: k for k, v in _ours(fake).items()}


def test_post_creates_then_updates_in_place_then_deletes_stale_parts(
    cli: CLI,
    repo: Path,
    synth_dir: Path,
    tmp_path: Path,
    platform: tuple[_Platform, Fake],
) -> None:
    spec, fake = platform
    human = fake.add("Looks fine to me, but what about port 1433?")
    out = tmp_path / "out"
    args = ("review", "--base", "main", "--synth", str(synth_dir), "-o", str(out))
    post = ("--post", spec.name)

    # 1. the first run creates every part, in order
    _sql_port(repo, 1444)
    first = cli(*args, *post, *SMALL)
    assert first.code == 0, first.err
    parts = _parts(out)
    assert len(parts) >= 3
    assert fake.writes() == [("POST", spec.create)] * len(parts)
    assert [v for _, v in sorted(_ours(fake).items())] == parts
    assert f"posted on {spec.name}: {len(parts)} created" in first.err
    ids = _by_part(fake)
    for seen in fake.seen:  # every request carried the job's token as the platform wants
        name, value = fake.auth
        assert seen.headers[name.lower()] == value
        if seen.method in ("POST", "PATCH", "PUT"):
            assert seen.headers["content-type"] == "application/json"
    if spec.name == "gitlab":  # a project token, never the job token beside it
        assert all("job-token" not in s.headers for s in fake.seen)

    # 2. the next push edits the parts in place: same comments, new text, nothing new
    fake.seen.clear()
    _sql_port(repo, 1455)
    second = cli(*args, *post, *SMALL)
    assert second.code == 0, second.err
    parts = _parts(out)
    assert _by_part(fake) == ids
    assert [v for _, v in sorted(_ours(fake).items())] == parts
    writes = fake.writes()
    assert writes and {method for method, _ in writes} == {spec.update}
    assert all(path != spec.create for _, path in writes)

    # 3. the same review again writes nothing
    fake.seen.clear()
    assert cli(*args, *post, *SMALL).code == 0
    assert fake.writes() == []

    # 4. a shorter body: part 1 edited in place, the stale parts deleted
    fake.seen.clear()
    third = cli(*args, *post)
    assert third.code == 0, third.err
    assert _ours(fake) == {ids[1]: _parts(out)[0]}
    stale = len(ids) - 1
    assert [m for m, _ in fake.writes()] == [spec.update, *spec.deletes * stale]
    assert f"{stale} deleted" in third.err
    assert fake.live()[human] == "Looks fine to me, but what about port 1433?"


def test_a_human_comment_quoting_a_part_is_never_edited_or_deleted(
    cli: CLI, repo: Path, synth_dir: Path, tmp_path: Path, platform: tuple[_Platform, Fake]
) -> None:
    """A reviewer who pastes or quotes a part (markers and all) wrote a comment of their
    own: only a comment that starts with the markers is ours to edit or delete."""
    spec, fake = platform
    quote = f"> {MARKER}\n> <!-- crm-ports-review part 1/1 -->\n> Policy errors\n\nWhy?\n"
    human = fake.add(quote)
    args = ("review", "--base", "main", "--synth", str(synth_dir), "--post", spec.name)
    first = cli(*args, "-o", str(tmp_path / "out"))
    assert first.code == 0, first.err
    assert [m for m, _ in fake.writes()] == ["POST"]
    assert fake.live()[human] == quote
    fake.seen.clear()
    _sql_port(repo, 1444)  # a longer review, then a shorter one: stale parts deleted
    assert cli(*args, *SMALL).code == 0
    assert cli(*args).code == 0
    assert fake.live()[human] == quote


def test_tagged_reviews_on_one_pull_request_keep_their_own_comments(
    cli: CLI, repo: Path, synth_dir: Path, platform: tuple[_Platform, Fake]
) -> None:
    """Two jobs reviewing two folders of one pull request (the action's
    working-directory): untagged, the second overwrote the first's comment and the first
    overwrote it back on the next push. Each tag now edits only its own parts."""
    spec, fake = platform
    args = ("review", "--base", "main", "--synth", str(synth_dir), "--post", spec.name)
    assert cli(*args, "--tag", "east").code == 0
    assert cli(*args, "--tag", "west").code == 0
    assert cli(*args).code == 0
    assert [m for m, _ in fake.writes()] == ["POST"] * 3
    live = dict(fake.live())
    east = next(k for k, v in live.items() if part_number(v, "east") == 1)
    assert live[east].startswith("<!-- crm-ports-review tag=east -->\n")
    assert part_number(live[east]) is None and part_number(live[east], "west") is None
    fake.seen.clear()
    _sql_port(repo, 1444)  # the next push: east edits its own comment, nothing else
    assert cli(*args, "--tag", "east").code == 0
    assert [m for m, _ in fake.writes()] == [spec.update]
    after = fake.live()
    assert {k for k in live if after[k] != live[k]} == {east}
    bad = cli(*args, "--tag", "a-->b")
    assert bad.code == 2 and bad.err.count("\n") == 1 and "--tag" in bad.err


def test_comment_new_adds_and_off_posts_nothing(
    cli: CLI, repo: Path, synth_dir: Path, platform: tuple[_Platform, Fake]
) -> None:
    spec, fake = platform
    args = ("review", "--base", "main", "--synth", str(synth_dir), "--post", spec.name)
    assert cli(*args, "--comment", "new").code == 0
    assert cli(*args, "--comment", "new").code == 0
    assert len(_ours(fake)) == 2
    assert [m for m, _ in fake.writes()] == ["POST", "POST"]
    fake.seen.clear()
    result = cli(*args, "--comment", "off")
    assert result.code == 0 and fake.seen == []
    assert result.out == ""


def test_a_refused_token_is_one_line_naming_status_and_url(
    cli: CLI,
    repo: Path,
    synth_dir: Path,
    tmp_path: Path,
    platform: tuple[_Platform, Fake],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec, fake = platform
    variable = {
        "github": "GITHUB_TOKEN",
        "gitlab": "CRM_PORTS_GITLAB_TOKEN",
        "azure-devops": "SYSTEM_ACCESSTOKEN",
    }
    monkeypatch.setenv(variable[spec.name], "wrong-secret")
    out = tmp_path / "out"
    args = ("review", "--base", "main", "--synth", str(synth_dir), "--post", spec.name)
    result = cli(*args, "-o", str(out))
    assert result.code == 2
    assert result.err.count("\n") == 1, result.err
    assert "HTTP 401" in result.err and f"{fake.url}{spec.create}" in result.err
    assert "secret" not in result.err
    assert not out.exists()  # exit 2: nothing written, as the help says


def test_gitlab_falls_back_to_the_job_token(
    cli: CLI, repo: Path, synth_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(GitLabFake(("JOB-TOKEN", "job-secret"))) as fake:
        for name, value in _gitlab_env(fake, tmp_path).items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("CRM_PORTS_GITLAB_TOKEN")
        monkeypatch.delenv("GITLAB_TOKEN", raising=False)
        result = cli("review", "--base", "main", "--synth", str(synth_dir), "--post", "gitlab")
        assert result.code == 0, result.err
        assert len(_ours(fake)) == 1


def test_github_pr_from_the_option_when_the_event_has_none(
    cli: CLI, repo: Path, synth_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(GitHubFake(("Authorization", "Bearer ghs-secret"))) as fake:
        env = _github_env(fake, tmp_path)
        Path(env["GITHUB_EVENT_PATH"]).write_text('{"push": {}}', encoding="utf-8")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        args = ("review", "--base", "main", "--synth", str(synth_dir), "--post", "github")
        refused = cli(*args)
        assert refused.code == 2 and "pull_request.number" in refused.err
        assert fake.seen == []
        assert cli(*args, "--pr", "7").code == 0
        assert len(_ours(fake)) == 1


def test_live_rules_an_adopted_lab_removes_open_the_body(
    cli: CLI, repo: Path, tmp_path: Path
) -> None:
    """A pull request adding an adopted lab: the summary's first row counts the live rules
    its first apply revokes (the lab's `removes:`), and they are listed right after it,
    before anything else; review.json counts them."""
    from tests.test_adopt_removes import REMOVES

    (repo / "labs" / "acme.yaml").write_text(REMOVES, encoding="utf-8")
    synth = tmp_path / "synth"
    assert cli("synth", "--lab", "labs/acme.yaml", "--out", str(synth)).code == 0
    out = tmp_path / "review"
    args = ("--lab", "labs/acme.yaml", "--synth", str(synth), "-o", str(out))
    result = cli("review", "--base", "main", *args)
    assert result.code == 0, result.err
    body = _parts(out)[0]
    table = body.split("| Review | |\n|---|---|\n", 1)[1].splitlines()
    assert table[0] == "| Live rules the apply removes | **2** |"
    assert table[1] == "| Labs changed | 1 of 1: `acme` |"
    after = body.split("| Verify |", 1)[1].split("\n\n", 1)[1]
    assert after.startswith("> [!CAUTION]\n> **Live rules this change removes**\n")
    caution = after.split("\n\n", 1)[0]
    assert "> - `acme`: `sgr-0f1` on `web` (sg-0a1): inbound TCP 3389 from 0.0.0.0/0" in caution
    assert "> - `acme`: `sgr-0f2` on `web` (sg-0a1): inbound ICMP type 8" in caution
    assert after.index("> **Live rules this change removes**") < after.index("<details>")
    assert "| Live rules the apply removes | **2** |" in (out / "summary.md").read_text()
    data = json.loads((out / "review.json").read_text(encoding="utf-8"))
    assert data["live_rules_removed"] == 2
    _balanced(body)


# -- labs and stacks ---------------------------------------------------------------------


def test_lab_option_reviews_only_the_files_given(
    cli: CLI, repo: Path, synth_dir: Path, tmp_path: Path
) -> None:
    (repo / "labs" / "other.yaml").write_text(
        "name: other\nclouds: [aws]\ntopology: full-server\n", encoding="utf-8"
    )
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "another lab")
    (repo / "labs" / "other.yaml").write_text(
        "name: other\nclouds: [aws]\ntopology: split-roles\n", encoding="utf-8"
    )
    out = tmp_path / "out"
    args = ("review", "--base", "main", "--synth", str(synth_dir), "-o", str(out))
    result = cli(*args, "--lab", "labs/mylab.yaml")
    assert result.code == 0, result.err
    data = json.loads((out / "review.json").read_text(encoding="utf-8"))
    assert data["labs"] == ["mylab"] and data["labs_changed"] == []
    assert data["verify"] == "pass"
    # the project's labs: the other lab's change is reviewed (and its stacks, missing
    # from the folder, are no verify target: the folder is judged as `verify --synth` is)
    assert cli(*args).code == 0
    data = json.loads((out / "review.json").read_text(encoding="utf-8"))
    assert data["labs"] == ["mylab", "other"] and data["labs_changed"] == ["other"]


def test_with_synth_nothing_imports_cdktf_or_jsii(repo: Path, synth_dir: Path) -> None:
    """A review of a synthesized folder never starts Node: only synthesis needs cdktf."""
    code = (
        "import sys; from crm_ports.cli import run;"
        f"status = run(['review', '--base', 'main', '--synth', {str(synth_dir)!r}]);"
        "print(status, sorted(m for m in sys.modules if m.split('.')[0] in "
        "('cdktf', 'cdktn', 'jsii', 'constructs')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo
    )
    assert done.stdout.strip().splitlines()[-1] == "0 []"


LAB_RULE = """\
extra_rules:
  - {from: crm-front-end, to: 10.20.0.0/24, protocol: tcp, ports: 8080, name: patch-proxy,
     reason: Windows Update through the hosting provider's patching proxy}
"""


@pytest.mark.slow
def test_without_synth_the_head_labs_are_synthesized_for_verify(
    cli: CLI, repo: Path, tmp_path: Path
) -> None:
    """The head (with a lab-local rule: a CRM009 warning) synthesized into a scratch
    folder that is gone afterwards; the warning passes at --fail-on error, not at
    warning."""
    (repo / "labs" / "mylab.yaml").write_text(MYLAB + LAB_RULE, encoding="utf-8")
    result = cli("review", "--base", "main")
    assert result.code == 0, result.err
    assert "synthesizing 1 lab(s) to verify them" in result.err
    assert "| Verify | pass (1 stack(s)) |" in result.out
    assert "| Policy errors | 0 (1 warning(s), 0 waived) |" in result.out
    assert "CRM009" in result.out
    assert sorted(p.name for p in repo.iterdir()) == [".git", PROJECT_FILE, "labs"]
    assert cli("synth", "--out", str(tmp_path / "out")).code == 0
    args = ("review", "--base", "main", "--synth", str(tmp_path / "out"))
    assert cli(*args).code == 0
    assert cli(*args, "--fail-on", "warning").code == 1
