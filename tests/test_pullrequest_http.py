"""crm_ports.pullrequest.http: a redirect to another host never carries the token."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crm_ports.pullrequest.http import request

TOKENS = {"Authorization": "Bearer ghs-secret", "PRIVATE-TOKEN": "glpat-secret"}


@contextmanager
def _server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _elsewhere(seen: list[dict[str, str]]) -> type[BaseHTTPRequestHandler]:
    """Another host, which records the headers it gets."""

    class Elsewhere(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            body = b"[]"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Elsewhere


@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirect_to_another_host_drops_the_token(status: int) -> None:
    seen: list[dict[str, str]] = []
    with _server(_elsewhere(seen)) as other:

        class Api(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(status)
                self.send_header("Location", f"{other}/moved")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        with _server(Api) as api:
            answer = request("GET", f"{api}/comments", TOKENS)
    assert answer.data == []
    (headers,) = seen
    assert "authorization" not in headers and "private-token" not in headers, headers
    assert "secret" not in repr(headers)


def test_a_redirect_on_the_same_host_keeps_the_token() -> None:
    """GitHub answers a renamed repository's API with a redirect on its own host."""
    seen: list[dict[str, str]] = []
    recorder = _elsewhere(seen)

    class Api(recorder):  # type: ignore[valid-type,misc]
        def do_GET(self) -> None:
            if self.path == "/moved":
                super().do_GET()
                return
            self.send_response(301)
            self.send_header("Location", "/moved")
            self.send_header("Content-Length", "0")
            self.end_headers()

    with _server(Api) as api:
        assert request("GET", f"{api}/comments", TOKENS).data == []
    (headers,) = seen
    assert headers["authorization"] == "Bearer ghs-secret"
    assert headers["private-token"] == "glpat-secret"
