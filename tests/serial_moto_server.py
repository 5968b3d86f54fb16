"""moto's server, carrying out one request at a time.

moto's EC2 backend is not thread-safe: a revoke rebuilds a group's rule list from a copy
(``group.ingress_rules = [r for r in group.ingress_rules if ...]``), so two revokes on one
group at the same moment can lose each other's change, and the threaded development
server lets Terraform's parallel requests do exactly that. AWS serializes changes to one
group; this server does the same for all of moto, one request at a time. Connections stay
threaded (HTTP/1.1 keep-alive, as ``moto_server`` has it), so a client holding an idle
connection never blocks the others; only the work inside moto is serialized.

One answer is made EC2's own: a revoke naming a rule id the group does not hold. EC2
answers ``InvalidSecurityGroupRuleId.NotFound``, which the aws provider takes as "already
gone" when it destroys an ``aws_vpc_security_group_*_rule``; moto 5.2.5 answers
``InvalidPermission.NotFound``, which fails the destroy. Two destroys of the README's
session failed that way under load, on a rule the state held since the apply (with this
server serializing requests, so not a race inside moto); the request was most likely sent
twice. Each such revoke is logged (``crm-ports-moto: ...``), and the tests print it.

A second answer is made EC2's own: the description of a rule that references a security
group. EC2 keeps it; moto 5.2.5 stores it with the group reference but reads a rule's
description from its CIDR range only, so DescribeSecurityGroupRules left it out, every
plan after an apply wanted to set it again, and each end-to-end test paid one more apply
(or deploy and diff) to converge past that.

Run as a script with ``moto_server``'s own ``-H HOST -p PORT``: it imports nothing from
this repository, because it runs in the emulator's temporary directory.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.ec2.exceptions import InvalidSecurityGroupRuleIdNotFoundError
from moto.ec2.models.security_groups import SecurityGroupBackend, SecurityGroupRule
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class OneAtATime:
    """WSGI middleware: the wrapped app runs, and its body is read, under one lock."""

    def __init__(self, app: Wsgi) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._lock:
            body = self._app(environ, start_response)
            try:
                return [b"".join(body)]
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()


def _revoke_as_ec2_does(direction: str) -> None:
    """Wrap moto's revoke for one direction: unknown rule ids get EC2's error code."""
    name = f"revoke_security_group_{direction}"
    revoke = getattr(SecurityGroupBackend, name)

    def revoke_by_id(self: SecurityGroupBackend, *args: Any, **kwargs: Any) -> None:
        ids = kwargs.get("security_rule_ids") or []
        if ids:
            group = self.get_security_group_by_name_or_id(
                kwargs["group_name_or_id"], kwargs.get("vpc_id")
            )
            held = {r.id for r in getattr(group, f"{direction}_rules", [])}
            unknown = [i for i in ids if i not in held]
            if group is not None and unknown:
                print(f"crm-ports-moto: {name} of unknown rule ids {unknown}", file=sys.stderr)
                sys.stderr.flush()
                raise InvalidSecurityGroupRuleIdNotFoundError(unknown[0])
        revoke(self, *args, **kwargs)

    setattr(SecurityGroupBackend, name, revoke_by_id)


def _describe_rules_as_ec2_does() -> None:
    """A rule's description: its CIDR range's, else its group reference's (as EC2 has it).

    The range comes first: ModifySecurityGroupRules writes a new description there.
    """

    def description(rule: SecurityGroupRule) -> str | None:
        found: str | None = rule.ip_range.get("Description")
        if found is None:
            found = (rule.source_group or {}).get("Description")
        return found

    SecurityGroupRule.description = property(description)  # type: ignore[assignment,method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))  # moto builds some URLs from it
    _revoke_as_ec2_does("ingress")
    _revoke_as_ec2_does("egress")
    _describe_rules_as_ec2_does()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        OneAtATime(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
