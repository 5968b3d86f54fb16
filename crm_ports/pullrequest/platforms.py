"""The comment APIs of GitHub, GitLab and Azure DevOps, each found from the variables
the platform sets in a pull-request job and called with the token it gives the job.

A platform lists the comments of the pull request (every page), creates one, replaces one's
text, and deletes one: all `crm_ports.pullrequest.post` needs to keep the review's parts
in place. Each reads its endpoint from the environment (GITHUB_API_URL, CI_API_V4_URL,
SYSTEM_COLLECTIONURI), which is also how a test points it at a local server.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from crm_ports.errors import InputError
from crm_ports.pullrequest.http import request

PLATFORMS = ("github", "gitlab", "azure-devops")
PER_PAGE = 100
AZURE_API = "api-version=7.1"


@dataclass(frozen=True)
class Comment:
    key: str  # the platform's id (Azure DevOps: `thread/comment`)
    body: str


def _need(env: Mapping[str, str], name: str, platform: str, why: str = "") -> str:
    value = env.get(name, "").strip()
    if not value:
        raise InputError(
            f"environment variable {name}",
            "",
            "",
            f"not set: --post {platform} needs it{why}",
        )
    return value


def _number(value: str, source: str) -> int:
    if not value.isdigit() or int(value) == 0:
        raise InputError(source, "", "", f"'{value}' is not a pull request number")
    return int(value)


class Platform(ABC):
    name: str

    @abstractmethod
    def comments(self) -> list[Comment]: ...

    @abstractmethod
    def create(self, body: str) -> None: ...

    @abstractmethod
    def update(self, comment: Comment, body: str) -> None: ...

    @abstractmethod
    def delete(self, comment: Comment) -> None: ...


# -- GitHub ------------------------------------------------------------------------------

NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')


def _event_number(path: str) -> int:
    """The pull request of the event that started the workflow."""
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(path, "", "", f"GITHUB_EVENT_PATH cannot be read: {exc}") from None
    found = event.get("pull_request", {}).get("number") if isinstance(event, dict) else None
    if not isinstance(found, int):
        raise InputError(
            path,
            "",
            "pull_request.number",
            "missing: the workflow did not run on a pull request; give --pr N",
        )
    return found


class GitHub(Platform):
    """Issue comments of a pull request (REST API, version 2022-11-28)."""

    name = "github"

    def __init__(self, env: Mapping[str, str], pr: int | None) -> None:
        token = _need(env, "GITHUB_TOKEN", self.name, " (env: GITHUB_TOKEN: ${{ github.token }})")
        self.api = env.get("GITHUB_API_URL", "").rstrip("/") or "https://api.github.com"
        repository = _need(env, "GITHUB_REPOSITORY", self.name)
        if pr is None:
            pr = _event_number(_need(env, "GITHUB_EVENT_PATH", self.name, ", or give --pr N"))
        self.repo = "/".join(quote(part, safe="") for part in repository.split("/"))
        self.pr = pr
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }

    def _comments_url(self) -> str:
        return f"{self.api}/repos/{self.repo}/issues/{self.pr}/comments"

    def _comment_url(self, comment: Comment) -> str:
        return f"{self.api}/repos/{self.repo}/issues/comments/{comment.key}"

    def comments(self) -> list[Comment]:
        out: list[Comment] = []
        url: str | None = f"{self._comments_url()}?per_page={PER_PAGE}"
        while url is not None:
            answer = request("GET", url, self.headers)
            out.extend(Comment(str(c["id"]), str(c.get("body") or "")) for c in answer.data)
            found = NEXT_LINK.search(answer.headers.get("link", ""))
            url = found.group(1) if found else None
        return out

    def create(self, body: str) -> None:
        request("POST", self._comments_url(), self.headers, {"body": body})

    def update(self, comment: Comment, body: str) -> None:
        request("PATCH", self._comment_url(comment), self.headers, {"body": body})

    def delete(self, comment: Comment) -> None:
        request("DELETE", self._comment_url(comment), self.headers)


# -- GitLab ------------------------------------------------------------------------------


class GitLab(Platform):
    """Notes of a merge request (REST API v4). A project or personal access token
    (CRM_PORTS_GITLAB_TOKEN or GITLAB_TOKEN, api scope) goes in PRIVATE-TOKEN; the job's
    own CI_JOB_TOKEN in JOB-TOKEN, where the instance lets job tokens write notes."""

    name = "gitlab"

    def __init__(self, env: Mapping[str, str], pr: int | None) -> None:
        self.api = _need(env, "CI_API_V4_URL", self.name).rstrip("/")
        project = _need(env, "CI_PROJECT_ID", self.name)
        if pr is None:
            why = " (a merge request pipeline), or --pr N"
            iid = _need(env, "CI_MERGE_REQUEST_IID", self.name, why)
            pr = _number(iid, "environment variable CI_MERGE_REQUEST_IID")
        token = env.get("CRM_PORTS_GITLAB_TOKEN") or env.get("GITLAB_TOKEN")
        if token:
            self.headers = {"PRIVATE-TOKEN": token}
        else:
            job = _need(
                env,
                "CI_JOB_TOKEN",
                self.name,
                " (or a project access token in CRM_PORTS_GITLAB_TOKEN)",
            )
            self.headers = {"JOB-TOKEN": job}
        self.base = f"{self.api}/projects/{quote(project, safe='')}/merge_requests/{pr}/notes"

    def comments(self) -> list[Comment]:
        out: list[Comment] = []
        page: str | None = "1"
        while page:
            url = f"{self.base}?per_page={PER_PAGE}&sort=asc&order_by=created_at&page={page}"
            answer = request("GET", url, self.headers)
            out.extend(
                Comment(str(n["id"]), str(n.get("body") or ""))
                for n in answer.data
                if not n.get("system")
            )
            page = answer.headers.get("x-next-page", "").strip() or None
        return out

    def create(self, body: str) -> None:
        request("POST", self.base, self.headers, {"body": body})

    def update(self, comment: Comment, body: str) -> None:
        request("PUT", f"{self.base}/{comment.key}", self.headers, {"body": body})

    def delete(self, comment: Comment) -> None:
        request("DELETE", f"{self.base}/{comment.key}", self.headers)


# -- Azure DevOps ------------------------------------------------------------------------


class AzureDevOps(Platform):
    """Threads of a pull request (REST API 7.1): each part is the first comment of a
    thread of its own; a stale part's thread is closed and its comment deleted."""

    name = "azure-devops"

    def __init__(self, env: Mapping[str, str], pr: int | None) -> None:
        collection = _need(env, "SYSTEM_COLLECTIONURI", self.name)
        project = _need(env, "SYSTEM_TEAMPROJECT", self.name)
        repository = _need(env, "BUILD_REPOSITORY_ID", self.name)
        if pr is None:
            found = _need(
                env, "SYSTEM_PULLREQUEST_PULLREQUESTID", self.name, " (a PR build), or --pr N"
            )
            pr = _number(found, "environment variable SYSTEM_PULLREQUEST_PULLREQUESTID")
        why = " (env: SYSTEM_ACCESSTOKEN: $(System.AccessToken))"
        token = _need(env, "SYSTEM_ACCESSTOKEN", self.name, why)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.base = (
            f"{collection.rstrip('/')}/{quote(project, safe='')}/_apis/git/repositories/"
            f"{quote(repository, safe='')}/pullRequests/{pr}/threads"
        )

    def comments(self) -> list[Comment]:
        answer = request("GET", f"{self.base}?{AZURE_API}", self.headers)
        out: list[Comment] = []
        for thread in (answer.data or {}).get("value", []):
            first = (thread.get("comments") or [None])[0]
            if thread.get("isDeleted") or not first or first.get("isDeleted"):
                continue
            out.append(Comment(f"{thread['id']}/{first['id']}", str(first.get("content") or "")))
        return out

    def create(self, body: str) -> None:
        thread = {
            "comments": [{"parentCommentId": 0, "content": body, "commentType": "text"}],
            "status": "active",
        }
        request("POST", f"{self.base}?{AZURE_API}", self.headers, thread)

    def update(self, comment: Comment, body: str) -> None:
        thread, first = comment.key.split("/")
        url = f"{self.base}/{thread}/comments/{first}?{AZURE_API}"
        request("PATCH", url, self.headers, {"content": body})

    def delete(self, comment: Comment) -> None:
        thread, first = comment.key.split("/")
        request("PATCH", f"{self.base}/{thread}?{AZURE_API}", self.headers, {"status": "closed"})
        request("DELETE", f"{self.base}/{thread}/comments/{first}?{AZURE_API}", self.headers)


def platform(name: str, env: Mapping[str, str], pr: int | None) -> Platform:
    """The platform `--post` names, its variables read (and refused when missing) now,
    before any work is done."""
    kinds: dict[str, type[GitHub] | type[GitLab] | type[AzureDevOps]] = {
        "github": GitHub,
        "gitlab": GitLab,
        "azure-devops": AzureDevOps,
    }
    return kinds[name](env, pr)
