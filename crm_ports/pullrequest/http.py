"""JSON over HTTPS with the standard library: the three platforms' comment APIs need a
handful of requests, not a client library in the core install.

Every failure is one `InputError` naming the method, the URL and the HTTP status (never a
header, so never the token), with what the status usually means for a CI job.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from crm_ports.errors import InputError

TIMEOUT = 60  # seconds: bounds a hung platform, never paces anything

HINTS = {
    401: "the token was refused (expired, or not the job's token)",
    403: "the token may not write comments here (GitHub: permissions pull-requests: write; "
    "GitLab: a project access token with api scope; Azure DevOps: the build service needs "
    "Contribute to pull requests)",
    404: "not found: check the repository or project and the pull request number",
}


# the headers that carry a platform's token (urllib stores names capitalized)
SECRET_HEADERS = ("Authorization", "Private-token", "Job-token")


class _SameHostRedirect(urllib.request.HTTPRedirectHandler):
    """Follows a redirect (GitHub moves a renamed repository's API), but takes the token
    along only to the host it was given for: urllib would send it to any Location."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urlsplit(new.full_url).netloc != urlsplit(req.full_url).netloc:
            for name in SECRET_HEADERS:
                new.remove_header(name)
        return new


OPENER = urllib.request.build_opener(_SameHostRedirect)


@dataclass(frozen=True)
class Response:
    data: Any
    headers: Mapping[str, str]


def request(
    method: str, url: str, headers: Mapping[str, str], payload: Any | None = None
) -> Response:
    body = None if payload is None else json.dumps(payload).encode("utf-8")
    sent = {"User-Agent": "crm-ports", "Accept": "application/json", **headers}
    if body is not None:
        sent["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=body, method=method, headers=sent)
    try:
        with OPENER.open(req, timeout=TIMEOUT) as answer:
            raw = answer.read()
            found = {k.lower(): v for k, v in answer.headers.items()}
    except urllib.error.HTTPError as exc:
        hint = HINTS.get(exc.code, "")
        raise InputError(
            url,
            "",
            "",
            f"{method} answered HTTP {exc.code} {exc.reason}" + (f": {hint}" if hint else ""),
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(url, "", "", f"{method} failed: {reason}") from None
    try:
        data = json.loads(raw) if raw.strip() else None
    except ValueError:
        raise InputError(url, "", "", f"{method} answered with something other than JSON") from None
    return Response(data, found)
