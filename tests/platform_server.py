"""A local HTTP server playing the few comment endpoints of GitHub, GitLab and Azure
DevOps that `crm-ports review --post` calls, keeping the comments in memory and every
request it saw (method, path, query, headers, JSON body), so a test can check each one.

Each fake answers as its platform documents: GitHub pages its list with a `Link` header,
GitLab with `X-Next-Page` and lists system notes among the others, Azure DevOps keeps a
deleted comment in its thread with `isDeleted`. Pages hold two items, so any pull request
with three comments makes the client follow a page. A request without the expected token
header gets 401.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PAGE = 2


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Answer:
    status: int
    data: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fake:
    """One platform's pull request: its comments (id -> text), oldest first."""

    auth: tuple[str, str]  # the header and value every request must carry
    comments: dict[int, str] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""  # the server's address, set when it starts
    next_id: int = 100

    def add(self, text: str) -> int:
        self.next_id += 1
        self.comments[self.next_id] = text
        return self.next_id

    def live(self) -> dict[int, str]:
        """The comments a reader of the pull request sees."""
        return dict(self.comments)

    def writes(self) -> list[tuple[str, str]]:
        return [(s.method, s.path) for s in self.seen if s.method != "GET"]

    def answer(self, seen: Seen) -> Answer:
        raise NotImplementedError


def _page(items: list[Any], query: dict[str, list[str]]) -> tuple[list[Any], int | None]:
    page = int(query.get("page", ["1"])[0])
    chunk = items[(page - 1) * PAGE : page * PAGE]
    return chunk, page + 1 if page * PAGE < len(items) else None


@dataclass
class GitHubFake(Fake):
    prefix: str = "/repos/contoso/labs/issues"
    pr: int = 7

    def answer(self, seen: Seen) -> Answer:
        listing = f"{self.prefix}/{self.pr}/comments"
        if seen.path == listing and seen.method == "GET":
            items = [{"id": k, "body": v} for k, v in self.comments.items()]
            chunk, following = _page(items, seen.query)
            headers = {}
            if following is not None:
                headers["Link"] = f'<{self.url}{listing}?per_page=100&page={following}>; rel="next"'
            return Answer(200, chunk, headers)
        if seen.path == listing and seen.method == "POST":
            return Answer(201, {"id": self.add(seen.body["body"])})
        number = seen.path.rpartition("/")[2]
        if seen.path == f"{self.prefix}/comments/{number}" and int(number) in self.comments:
            if seen.method == "PATCH":
                self.comments[int(number)] = seen.body["body"]
                return Answer(200, {"id": int(number)})
            if seen.method == "DELETE":
                del self.comments[int(number)]
                return Answer(204)
        return Answer(404, {"message": "Not Found"})


@dataclass
class GitLabFake(Fake):
    prefix: str = "/api/v4/projects/42/merge_requests/3/notes"
    system: set[int] = field(default_factory=set)

    def answer(self, seen: Seen) -> Answer:
        if seen.path == self.prefix and seen.method == "GET":
            items = [
                {"id": k, "body": v, "system": k in self.system} for k, v in self.comments.items()
            ]
            chunk, following = _page(items, seen.query)
            return Answer(200, chunk, {"X-Next-Page": str(following or "")})
        if seen.path == self.prefix and seen.method == "POST":
            return Answer(201, {"id": self.add(seen.body["body"])})
        number = seen.path.rpartition("/")[2]
        if seen.path == f"{self.prefix}/{number}" and int(number) in self.comments:
            if seen.method == "PUT":
                self.comments[int(number)] = seen.body["body"]
                return Answer(200, {"id": int(number)})
            if seen.method == "DELETE":
                del self.comments[int(number)]
                return Answer(204)
        return Answer(404, {"message": "404 Not found"})


@dataclass
class AzureFake(Fake):
    """Each comment is a thread's first comment; thread id = comment id + 1000."""

    prefix: str = "/org/Contoso%20CRM/_apis/git/repositories/repo-1/pullRequests/5/threads"
    deleted: set[int] = field(default_factory=set)
    closed: set[int] = field(default_factory=set)

    def _thread(self, number: int) -> dict[str, Any]:
        comment = {"id": number, "content": self.comments[number]}
        if number in self.deleted:
            comment["isDeleted"] = True
        status = "closed" if number in self.closed else "active"
        return {"id": number + 1000, "status": status, "comments": [comment]}

    def answer(self, seen: Seen) -> Answer:
        if seen.query.get("api-version") != ["7.1"]:
            return Answer(400, {"message": "api-version 7.1 expected"})
        if seen.path == self.prefix and seen.method == "GET":
            return Answer(200, {"value": [self._thread(n) for n in self.comments]})
        if seen.path == self.prefix and seen.method == "POST":
            (first,) = seen.body["comments"]
            assert first["parentCommentId"] == 0 and seen.body["status"] == "active"
            number = self.add(first["content"])
            return Answer(200, self._thread(number))
        rest = seen.path[len(self.prefix) :].strip("/").split("/")
        if len(rest) == 3 and rest[1] == "comments":
            number = int(rest[2])
            if int(rest[0]) == number + 1000 and number in self.comments:
                if seen.method == "PATCH":
                    self.comments[number] = seen.body["content"]
                    return Answer(200, {"id": number})
                if seen.method == "DELETE":
                    self.deleted.add(number)
                    return Answer(200)
        if len(rest) == 1 and seen.method == "PATCH" and int(rest[0]) - 1000 in self.comments:
            self.closed.add(int(rest[0]) - 1000)
            return Answer(200, self._thread(int(rest[0]) - 1000))
        return Answer(404, {"message": "not found"})

    def live(self) -> dict[int, str]:
        """The comments a reader sees: neither deleted nor in a closed thread."""
        return {n: t for n, t in self.comments.items() if n not in self.deleted | self.closed}


def _handler(fake: Fake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            seen = Seen(
                self.command,
                url.path,
                parse_qs(url.query),
                {k.lower(): v for k, v in self.headers.items()},
                json.loads(raw) if raw else None,
            )
            fake.seen.append(seen)
            name, value = fake.auth
            if seen.headers.get(name.lower()) != value:
                answer = Answer(401, {"message": "Bad credentials"})
            else:
                answer = fake.answer(seen)
            data = b"" if answer.data is None else json.dumps(answer.data).encode()
            self.send_response(answer.status)
            for key, val in answer.headers.items():
                self.send_header(key, val)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    return Handler


@contextmanager
def serving(fake: Fake) -> Iterator[Fake]:
    """The fake on 127.0.0.1 at a free port, for as long as the block runs."""
    server = HTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
