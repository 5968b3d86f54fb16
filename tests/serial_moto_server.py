"""moto's server, carrying out one request at a time.

moto's EC2 backend is not thread-safe: a revoke rebuilds a group's rule list from a copy
(``group.ingress_rules = [r for r in group.ingress_rules if ...]``), so two revokes on
one group at the same moment can lose each other's change, and the threaded development
server lets Terraform's parallel requests do exactly that. AWS serializes changes to one
group; this server does the same for all of moto, one request at a time. Connections
stay threaded (HTTP/1.1 keep-alive, as ``moto_server`` has it), so a client holding an
idle connection never blocks the others; only the work inside moto is serialized.

Which EC2 behaviours it imitates, each with the AWS page that documents it, follow; the
moto release they were checked against is pinned in pyproject's test extra (the server
subclasses moto's ``MotoRequestHandler``, which moto has only from 5.2.5).

One answer is made EC2's own: a revoke naming a rule id the group does not hold. EC2
answers ``InvalidSecurityGroupRuleId.NotFound`` (listed, as the error for a security
group rule id that does not exist, in the Amazon EC2 API Reference, "Error codes for the
Amazon EC2 API",
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html), which the
aws provider takes as "already gone" when it destroys an
``aws_vpc_security_group_*_rule``; moto 5.2.5 answers ``InvalidPermission.NotFound``,
which fails the destroy. Two destroys of the deploy session (docs/deploying.md) failed
that way under load, on a rule the state held since the apply (with this server
serializing requests, so not a race inside moto); the request was most likely sent
twice. Each such revoke is logged (``crm-ports-moto: ...``), and the tests print it.

A second answer is made EC2's own: the description of a rule that references a security
group. EC2 keeps it: the group reference carries the rule's description when the rule is
authorized (Amazon EC2 API Reference, UserIdGroupPair, "Description",
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_UserIdGroupPair.html), and
DescribeSecurityGroupRules returns it with the rule whatever its peer (Amazon EC2 API
Reference, SecurityGroupRule, "description",
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SecurityGroupRule.html). moto
5.2.5 stores it with the group reference but reads a rule's description from its CIDR
range only, so DescribeSecurityGroupRules left it out, every plan after an apply wanted
to set it again, and each end-to-end test paid one more apply (or deploy and diff) to
converge past that.

A third answer is made EC2's own: DeleteSecurityGroup refuses a group still in use, with
``DependencyViolation`` (``resource sg-... has a dependent object``). The
DeleteSecurityGroup API reference (Amazon EC2 API Reference, DeleteSecurityGroup,
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteSecurityGroup.html):
"If you attempt to delete a security group that is associated with an instance or
network interface, is referenced by another security group in the same VPC, or has a VPC
association, the operation fails with DependencyViolation." In use, here: a network
interface holds the group (an attached interface also carries its instance's groups), an
instance that is not terminated carries it, or a rule of *another* group references it,
ingress or egress (rules of the group naming itself do not keep it). moto 5.2.5 deletes
such a group, so a plan that replaced a group the lab's instances held applied cleanly
in the tests, where a real account fails the apply half-way (the aws provider retries
the refused delete until its timeout). Only the API call refuses: moto's own removal of
a VPC's default group together with the VPC is left alone. Each refusal is logged.

That needs one more answer as EC2 gives it: the primary network interface RunInstances
creates by itself (no ``NetworkInterfaces`` in the request) is deleted when the instance
terminates, as EC2 does with the interface it creates at launch (DescribeInstances shows
its attachment with ``DeleteOnTermination`` true; "Elastic network interfaces" in the
EC2 user guide, https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-eni.html).
moto 5.2.5 keeps it, in use and holding the instance's groups, so no group a terminated
instance carried could ever be deleted.

One thing is this server's own, not EC2's: an answer lost in transit. The SDKs retry a
call whose answer never came ("Retry behavior", AWS SDKs and Tools Reference Guide,
https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html), and EC2
makes only some actions idempotent, AuthorizeSecurityGroupIngress not among them
("Ensuring idempotency in Amazon EC2 API requests", Amazon EC2 Developer Guide,
https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html): on a real
account such a retry can fail the same way, far more rarely than on a loaded test
machine. Under load, in a CI run of the whole suite, the deploy session's first apply
failed with ``InvalidPermission.Duplicate`` on a rule its stack holds once (an ingress
rule between two groups the same apply had just created): the aws provider's SDK had
most likely retried an AuthorizeSecurityGroupIngress that moto had already carried out,
its answer never having reached the client. The AWS SDKs mark every attempt:
``amz-sdk-invocation-id`` is the same for all attempts of one call, ``amz-sdk-request:
attempt=N; max=M`` counts them. A retried attempt of an invocation this server has
answered with success gets that answer again, as if the first had arrived, instead of
being carried out a second time. Each retried attempt is logged, replayed or not.
Nothing a client sends twice on purpose is hidden: a new call is a new invocation id,
and gets EC2's answer.

Run as a script with ``moto_server``'s own ``-H HOST -p PORT``: it imports nothing from
this repository, because it runs in the emulator's temporary directory.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from moto.ec2.exceptions import DependencyViolationError, InvalidSecurityGroupRuleIdNotFoundError
from moto.ec2.models.instances import Instance
from moto.ec2.models.security_groups import (
    SecurityGroup,
    SecurityGroupBackend,
    SecurityGroupRule,
)
from moto.ec2.responses.security_groups import SecurityGroups
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Answer = tuple[str, tuple[tuple[str, str], ...], bytes]

# Answers kept for a retried attempt: far more than the requests one apply has in flight.
ANSWERS_KEPT = 4096


class OneAtATime:
    """WSGI middleware: the wrapped app runs, and its body is read, under one lock.

    A retried attempt of an invocation this server has already answered with success gets
    that answer again instead of being carried out twice (see the module's docstring).
    """

    def __init__(self, app: Wsgi) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._answered: OrderedDict[str, Answer] = OrderedDict()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        invocation = environ.get("HTTP_AMZ_SDK_INVOCATION_ID")
        attempt = _attempt(environ.get("HTTP_AMZ_SDK_REQUEST", ""))
        with self._lock:
            if invocation and attempt > 1:
                answered = self._answered.get(invocation)
                _log(
                    f"attempt {attempt} of invocation {invocation}: "
                    + ("answered before, the answer is sent again" if answered else "carried out")
                )
                if answered is not None:
                    status, headers, body = answered
                    start_response(status, list(headers))
                    return [body]
            seen: list[tuple[str, list[tuple[str, str]]]] = []

            def remember(
                status: str, headers: list[tuple[str, str]], *exc: Any
            ) -> Callable[[bytes], Any]:
                seen.append((status, list(headers)))
                return start_response(status, headers, *exc)  # type: ignore[no-any-return]

            body = self._app(environ, remember)
            try:
                whole = b"".join(body)
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
            if invocation and seen and seen[-1][0].startswith("2"):
                self._answered[invocation] = (seen[-1][0], tuple(seen[-1][1]), whole)
                while len(self._answered) > ANSWERS_KEPT:
                    self._answered.popitem(last=False)
            return [whole]


def _attempt(header: str) -> int:
    """The attempt number of an AWS SDK's `amz-sdk-request: attempt=2; max=25` header."""
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "attempt" and value.isdigit():
            return int(value)
    return 1


def _log(message: str) -> None:
    print(f"crm-ports-moto: {message}", file=sys.stderr)
    sys.stderr.flush()


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
                _log(f"{name} of unknown rule ids {unknown}")
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


def _modify_all_traffic_as_ec2_does() -> None:
    """ModifySecurityGroupRules on an all-traffic rule (protocol -1, no ports: the allow-all
    egress every new group gets) changes its description as EC2 does; moto 5.2.5 asks for
    ports TCP/UDP need. An adopted group's imported egress rule is updated this way."""
    modify = SecurityGroupBackend.modify_security_group_rules

    def with_ports_kept(
        self: SecurityGroupBackend, group_id: str, rules: dict[str, dict[str, Any]]
    ) -> None:
        group = self.get_security_group_by_name_or_id(group_id)
        for rule_id, new_rule in rules.items():
            existing = group.get_rule(rule_id) if group is not None else None
            if existing is not None and str(new_rule.get("IpProtocol")) == "-1":
                # EC2 reports an all-traffic rule's ports as -1
                for key, kept in (("FromPort", existing.from_port), ("ToPort", existing.to_port)):
                    if new_rule.get(key) is None:
                        new_rule[key] = -1 if kept is None else kept
        modify(self, group_id, rules)

    SecurityGroupBackend.modify_security_group_rules = with_ports_kept  # type: ignore[method-assign]


def _group_ids(groups: Iterable[Any]) -> set[str]:
    """Ids of a list of groups: moto keeps SecurityGroup objects, now and then a bare id."""
    return {getattr(group, "id", group) for group in groups}


def _holders(backend: Any, group: SecurityGroup) -> list[str]:
    """What keeps `group` from being deleted on EC2, for the log: network interfaces
    holding it, instances (not terminated) carrying it, and other groups whose rules
    reference it (with how many of their rules do)."""
    interfaces = [eni.id for eni in backend.enis.values() if group.id in _group_ids(eni.group_set)]
    instances = [
        instance.id
        for instance in backend.all_instances()
        if instance.state != "terminated" and group.id in _group_ids(instance.security_groups)
    ]
    referencing: dict[str, int] = {}
    for groups in backend.groups.values():
        for other in groups.values():
            if other.id == group.id:
                continue
            for rule in [*other.ingress_rules, *other.egress_rules]:
                if rule.source_group.get("GroupId") == group.id:
                    referencing[other.id] = referencing.get(other.id, 0) + 1
    held = []
    if interfaces:
        held.append(f"network interfaces {' '.join(interfaces)}")
    if instances:
        held.append(f"instances {' '.join(instances)}")
    if referencing:
        counted = " ".join(f"{other} ({n})" for other, n in referencing.items())
        held.append(f"rules of groups {counted}")
    return held


def _delete_group_as_ec2_does() -> None:
    """Wrap the DeleteSecurityGroup action: a group in use is refused as EC2 refuses it."""
    delete = SecurityGroups.delete_security_group

    def refuse_in_use(self: SecurityGroups) -> Any:
        name, group_id = self._get_param("GroupName"), self._get_param("GroupId")
        backend = self.ec2_backend
        group = (
            backend.get_security_group_from_id(group_id)
            if group_id
            else backend.get_security_group_by_name_or_id(name)
            if name
            else None
        )
        if group is not None:
            holders = _holders(backend, group)
            if holders:
                _log(f"DeleteSecurityGroup {group.id} refused, in use by {'; '.join(holders)}")
                raise DependencyViolationError(f"resource {group.id} has a dependent object")
        return delete(self)

    SecurityGroups.delete_security_group = refuse_in_use  # type: ignore[method-assign]


def _primary_interface_deleted_on_termination() -> None:
    """The primary interface RunInstances creates itself goes with its instance, as on EC2."""
    prep_nics = Instance.prep_nics

    def prep_nics_as_ec2(
        self: Instance, nic_spec: list[dict[str, Any]], *args: Any, **kwargs: Any
    ) -> None:
        prep_nics(self, nic_spec, *args, **kwargs)
        primary = self.nics.get(0)
        if not nic_spec and primary is not None:
            primary.delete_on_termination = True

    Instance.prep_nics = prep_nics_as_ec2  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))  # moto builds some URLs from it
    _revoke_as_ec2_does("ingress")
    _revoke_as_ec2_does("egress")
    _describe_rules_as_ec2_does()
    _modify_all_traffic_as_ec2_does()
    _delete_group_as_ec2_does()
    _primary_interface_deleted_on_termination()
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
