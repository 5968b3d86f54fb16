"""A live estate explained by the catalogue: which roles each group's servers run, which
options and peer ranges its rules show, which live rules the plan takes over, and which
no flow explains. The inference (`infer_lab`, `unmatched_rules`) reads live groups and
rules of either cloud (an AWS security group, an Azure ASG); `explain` finishes an AWS
lab, `crm_ports.adopt.azure` an Azure one.

Roles come from signatures: what the catalogue's flows open *into* a role from outside
peers and from other servers (the every-server flows left out: every server gets them),
under the options the rules show. A group whose inbound rules cover a role's whole
signature runs that role; the evidence is that signature. Roles without a signature of
their own (the Asynchronous Service) go where the catalogue's split-roles topology puts
them beside a role that was found.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from crm_ports.adopt.live import Estate, LiveGroup, LiveRule
from crm_ports.catalogue.model import EVERY_SERVER, REPEATABLE, Catalogue, Location
from crm_ports.errors import InputError
from crm_ports.lab.adoption import EVERY_PORT, AdoptedGroup, RemovedRule
from crm_ports.lab.extra import ExtraRule
from crm_ports.lab.model import AwsSettings, Lab
from crm_ports.lab.placement import FOLLOWS, HOST_NAME_MAX, REQUIRED, Host, Placement
from crm_ports.net import INTERNET, PortRange
from crm_ports.options import DEFAULT_RPC_RANGE, Options, build
from crm_ports.plans.aws import AwsPlan, plan_aws
from crm_ports.resolver.engine import resolve_lab
from crm_ports.ruleset import RuleSet

ADMIN_PORTS = frozenset({3389, 5985, 5986})
ARM_ANYWHERE = frozenset({"*", "internet", "any"})
PROBE = "adopt-probe"
# A signature element: (source class, protocol, first port, last port); the source class
# is a peer option (`client_cidrs`) or "server" for another group of the estate.
Element = tuple[str, str, int, int]


@dataclass(frozen=True)
class Explained:
    """What `adopt` writes and prints."""

    lab: Lab
    hosts: tuple[tuple[str, LiveGroup], ...]  # host name, its live group
    evidence: tuple[str, ...]  # one line per group: roles and the flows that chose them
    left_out: tuple[str, ...]  # live rules the lab leaves out, with why
    raw_options: Mapping[str, Any] = field(default_factory=dict)
    peers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # CIDR option -> ranges


def host_name(group: LiveGroup, taken: set[str]) -> str:
    """A host named after its group: the group name as a host name (lower-case words and
    hyphens), else the group id."""
    name = _slug(group.name)
    if not name or not name[0].isalpha() or name in taken or name.startswith("sg-"):
        # an EC2 id (sg-...) or the last segment of an ARM id
        tail = group.group_id.rsplit("/", 1)[-1]
        name = tail.replace("sg-", "group-") if tail.startswith("sg-") else _slug(f"group-{tail}")
    taken.add(name)
    return name


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:HOST_NAME_MAX].strip("-")


def classify_peers(estate: Estate, catalogue: Catalogue) -> dict[str, str | None]:
    """CIDR source -> the peer option it belongs to: admin_cidrs for a range that reaches
    an administration port, client_cidrs for one that reaches a port the catalogue opens
    to users; None for the internet (a policy question) and for a range no flow explains
    (its rules become extra rules)."""
    users = {
        (p, lo)
        for sign in signatures(catalogue, Options()).values()
        for kind, p, lo, _ in sign
        if kind == "client_cidrs"
    }
    out: dict[str, str | None] = {}
    for rule in estate.rules:
        if rule.cidr is None or rule.egress or rule.from_port is None or rule.to_port is None:
            continue
        low, high = rule.from_port, rule.to_port
        kind: str | None = None
        if rule.cidr.strip().lower() in INTERNET:  # ARM also says Internet and *
            kind = None
        elif rule.protocol == "tcp" and any(low <= p <= high for p in ADMIN_PORTS):
            kind = "admin_cidrs"
        elif any(p == rule.protocol and low <= port <= high for p, port in users):
            kind = "client_cidrs"
        if out.get(rule.cidr) != "admin_cidrs":
            out[rule.cidr] = kind or out.get(rule.cidr)
    return out


def infer_options(
    estate: Estate, peers: Mapping[str, str | None], catalogue: Catalogue
) -> dict[str, Any]:
    """Options where the rules show them: the web port and HTTPS (what client ranges
    reach), a named SQL instance (UDP 1434 between servers), the RPC range (a wide TCP
    range between servers other than Windows' default)."""
    out: dict[str, Any] = {}
    client_tcp: set[int] = set()
    for rule in estate.rules:
        if rule.egress or rule.from_port is None or rule.to_port is None:
            continue
        if rule.cidr and peers.get(rule.cidr) == "client_cidrs" and rule.protocol == "tcp":
            client_tcp.update(range(rule.from_port, rule.to_port + 1))
        if rule.peer_group and rule.protocol == "udp" and rule.from_port <= 1434 <= rule.to_port:
            out["sql_named_instance"] = True
        if (
            rule.peer_group
            and rule.protocol == "tcp"
            and rule.from_port >= 1024
            and rule.to_port - rule.from_port >= 100
            and (rule.from_port, rule.to_port) != (DEFAULT_RPC_RANGE.start, DEFAULT_RPC_RANGE.end)
        ):
            out["rpc_range"] = f"{rule.from_port}-{rule.to_port}"
    out.update(_sql_port(estate, catalogue, out))
    if client_tcp:
        if 443 not in client_tcp:
            out["https"] = False
        # users reach the domain controller too: the web port is the one port left
        others = {
            port
            for sign in signatures(catalogue, Options()).values()
            for kind, protocol, low, high in sign
            if kind == "client_cidrs" and protocol == "tcp"
            for port in range(low, high + 1)
        } - {Options().web_port}
        web = sorted(client_tcp - others - {443})
        if len(web) == 1 and web[0] != 80:
            out["web_port"] = web[0]
    return out


def _sql_port(estate: Estate, catalogue: Catalogue, raw: Mapping[str, Any]) -> dict[str, int]:
    """`sql_port` when SQL Server listens on another port: no group is reached from
    other groups on the port the options give, and one TCP port that no flow of the
    catalogue opens is reached from other groups, on one group, from the most groups
    (SQL Server's clients are the CRM servers and Reporting Services). A tie is left
    unread: the group's roles then come from --hosts."""
    options = build(dict(raw), origin=estate.where, entry="adopt", line_of=lambda _: None)
    server_tcp: dict[tuple[str, int], set[str]] = {}  # (group, port) -> source groups
    for rule in estate.rules:
        if rule.egress or not rule.peer_group or rule.protocol != "tcp":
            continue
        if rule.from_port is None or rule.from_port != rule.to_port:
            continue
        server_tcp.setdefault((rule.group_id, rule.from_port), set()).add(rule.peer_group)
    if any(port == options.sql_port for _, port in server_tcp):
        return {}
    opened = {
        port
        for rule in _probe(catalogue, options).rules
        if rule.protocol.value == "tcp"
        for port in range(rule.from_port, rule.to_port + 1)
    }
    candidates = sorted(
        (
            (len(sources), port)
            for (_, port), sources in server_tcp.items()
            if port not in opened | ADMIN_PORTS
        ),
        reverse=True,
    )
    if not candidates or (len(candidates) > 1 and candidates[0][0] == candidates[1][0]):
        return {}
    return {"sql_port": candidates[0][1]}


def _probe(catalogue: Catalogue, options: Options) -> RuleSet:
    """The rules of a probe lab under `options`: one host per server role."""
    roles = [r.id for r in catalogue.roles if r.kind == "server"]
    hosts = tuple(Host(name=role, roles=(role,)) for role in roles)
    probe = Lab(
        name=PROBE,
        options=replace(options, topology=PROBE),
        clouds=("aws",),
        placement=Placement(name=PROBE, hosts=hosts, origin="adopt"),
    )
    return resolve_lab(catalogue, probe)


def signatures(catalogue: Catalogue, options: Options) -> dict[str, frozenset[Element]]:
    """Each server role's signature under `options`: one probe host per role."""
    roles = [r.id for r in catalogue.roles if r.kind == "server"]
    ruleset = _probe(catalogue, options)
    # flows into every server (RDP from administrators) say nothing of a role
    everywhere = {f.id for f in catalogue.flows if f.targets == (EVERY_SERVER,)}
    out: dict[str, set[Element]] = {role: set() for role in roles}
    for rule in ruleset.rules:
        if rule.target not in out or rule.protocol.value not in ("tcp", "udp"):
            continue
        if set(rule.flows) <= everywhere:
            continue
        source = ruleset.group(rule.source)
        if source.is_members:
            continue
        kind = source.cidr_option if source.is_peer else "server"
        if kind is None:
            continue
        out[rule.target].add((kind, rule.protocol.value, rule.from_port, rule.to_port))
    for role, leader in FOLLOWS.items():  # NLB runs on the web servers: its flows are theirs
        if role in out and leader in out:
            out[leader] |= out[role]
    return {role: frozenset(elements) for role, elements in out.items()}


def decisive(sign: frozenset[Element]) -> frozenset[Element]:
    """What a group must open for the role to be found: the ranges from outside peers
    when the role has any (flows between roles placed together cross no firewall, so a
    server-to-server port says less), else the whole signature."""
    return frozenset(e for e in sign if e[0] != "server") or sign


def _inbound(group: LiveGroup, estate: Estate, peers: Mapping[str, str | None]) -> list[Element]:
    out: list[Element] = []
    for rule in estate.rules:
        if rule.group_id != group.group_id or rule.egress or rule.from_port is None:
            continue
        if rule.protocol not in ("tcp", "udp") or rule.to_port is None:
            continue
        kind = "server" if rule.peer_group else peers.get(rule.cidr or "")
        if kind is not None:
            out.append((kind, rule.protocol, rule.from_port, rule.to_port))
    return out


def _covered(element: Element, live: list[Element]) -> bool:
    kind, protocol, low, high = element
    return any(k == kind and p == protocol and lo <= low and high <= hi for k, p, lo, hi in live)


def _text(elements: frozenset[Element]) -> str:
    parts = sorted(
        f"{p.upper()} {lo if lo == hi else f'{lo}-{hi}'} from {k.replace('_cidrs', 's')}"
        for k, p, lo, hi in elements
    )
    return ", ".join(parts)


def place_roles(
    estate: Estate,
    catalogue: Catalogue,
    options: Options,
    names: dict[str, str],
    given: Mapping[str, tuple[str, ...]],
    peers: Mapping[str, str | None],
) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """group id -> roles, and the evidence; `given` (--hosts) wins for the groups it names.
    A role two groups claim (one no role may repeat) is refused with the candidates."""
    signs = signatures(catalogue, options)
    found: dict[str, list[str]] = {}
    evidence: list[str] = []
    for group in estate.groups:
        if group.group_id in given:
            found[group.group_id] = list(given[group.group_id])
            evidence.append(
                f"{group.label} -> {names[group.group_id]}: "
                f"{', '.join(given[group.group_id])} (from --hosts)"
            )
            continue
        live = _inbound(group, estate, peers)
        roles = [
            r
            for r, sign in sorted(signs.items())
            if sign and all(_covered(e, live) for e in decisive(sign))
        ]
        found[group.group_id] = roles
        why = "; ".join(f"{r}: {_text(decisive(signs[r]))}" for r in roles)
        why = why or "no flow explains its rules"
        evidence.append(f"{group.label} -> {names[group.group_id]}: {why}")
    for roles in found.values():  # a follower goes where its leader is (NLB with the web)
        roles[:] = [r for r in roles if FOLLOWS.get(r) not in roles]
    claims: dict[str, list[str]] = {}
    for group_id, roles in found.items():
        for role in roles:
            claims.setdefault(role, []).append(group_id)
    for role, groups in sorted(claims.items()):
        limit = 2 if role in REPEATABLE else 1
        if len(groups) > limit:  # drop it where the group's other roles explain it all
            for group_id in [g for g in groups if g not in given]:
                others = [e for r in found[group_id] if r != role for e in signs.get(r, ())]
                if all(_covered(e, others) for e in signs[role]):
                    found[group_id].remove(role)
                    groups.remove(group_id)
        ambiguous = [g for g in groups if g not in given]
        if len(groups) > limit and ambiguous:
            labels = {g.group_id: g.label for g in estate.groups}
            candidates = ", ".join(labels[g] for g in groups)
            raise InputError(
                estate.where,
                f"role '{role}'",
                "hosts",
                f"claimed by {len(groups)} groups: {candidates}; name each group's roles "
                "in a --hosts FILE",
            )
    _co_place(found, catalogue)
    for group in estate.groups:
        if not found[group.group_id]:
            raise InputError(
                estate.where,
                f"group {group.label}",
                "hosts",
                "no flow of the catalogue explains its rules: name its roles in a --hosts FILE",
            )
    return {g: tuple(r) for g, r in found.items()}, evidence


def _co_place(found: dict[str, list[str]], catalogue: Catalogue) -> None:
    """Required roles no signature found, beside the roles the split-roles topology puts
    with them (the Asynchronous Service beside Sandbox Processing)."""
    placed = {role: g for g, roles in found.items() for role in roles}
    topologies = {t.id: t for t in catalogue.topologies}
    reference = topologies.get("split-roles")
    if reference is None:
        return
    for role in REQUIRED:
        if role in placed:
            continue
        for host in reference.groups:
            if role in host.roles:
                partner = next((placed[r] for r in host.roles if r in placed), None)
                if partner is not None:
                    found[partner].append(role)
                    placed[role] = partner
                break


def _key(rule: LiveRule, host_of: Mapping[str, str]) -> tuple[Any, ...]:
    peer = host_of.get(rule.peer_group or "", rule.peer_group) if rule.peer_group else rule.cidr
    return (
        host_of[rule.group_id],
        "egress" if rule.egress else "ingress",
        rule.protocol,
        rule.from_port,
        rule.to_port,
        peer,
    )


def match_rules(plan: AwsPlan, estate: Estate, host_of: Mapping[str, str]) -> dict[str, str]:
    """live rule id -> the planned rule's key it is, by what the rule allows."""
    planned = {
        (
            s.group,
            s.direction,
            s.ip_protocol,
            s.from_port,
            s.to_port,
            s.peer_group or s.cidr_ipv4,
        ): s.key
        for s in plan.rules
    }
    out: dict[str, str] = {}
    for rule in estate.rules:
        key = planned.get(_key(rule, host_of))
        if key is not None:
            out[rule.rule_id] = key
    return out


@dataclass(frozen=True)
class Inferred:
    """What the rules say, whatever the cloud: the lab (its settings left to the cloud),
    the host of each live group, the evidence, the options and the peer ranges."""

    lab: Lab
    host_of: Mapping[str, str]  # live group id -> host name
    evidence: tuple[str, ...]
    raw_options: Mapping[str, Any]
    peers: Mapping[str, tuple[str, ...]]


def infer_lab(
    estate: Estate,
    catalogue: Catalogue,
    *,
    name: str,
    cloud: str,
    given: Mapping[str, tuple[str, ...]],
) -> Inferred:
    """One host per live group with the roles the flows explain, options and peer ranges
    from the rules, on `cloud` with its default settings."""
    classes = classify_peers(estate, catalogue)
    raw = infer_options(estate, classes, catalogue)
    options = build(dict(raw), origin=estate.where, entry="adopt", line_of=lambda _: None)
    taken: set[str] = set()
    names = {g.group_id: host_name(g, taken) for g in estate.groups}
    roles, evidence = place_roles(estate, catalogue, options, names, given, classes)
    peers: dict[str, set[str]] = {}
    for cidr, kind in classes.items():
        if kind is not None:
            peers.setdefault(kind, set()).add(cidr)
    raw.update({k: sorted(v) for k, v in sorted(peers.items())})
    options = build(dict(raw), origin=estate.where, entry="adopt", line_of=lambda _: None)
    hosts = tuple(Host(name=names[g.group_id], roles=roles[g.group_id]) for g in estate.groups)
    lab = Lab(
        name=name,
        options=replace(options, topology=name),
        clouds=(cloud,),
        placement=Placement(name=name, hosts=hosts, origin="adopt"),
        origin=estate.where,
    )
    return Inferred(
        lab=lab,
        host_of=names,
        evidence=tuple(evidence),
        raw_options={k: v for k, v in raw.items() if not k.endswith("_cidrs")},
        peers={k: tuple(sorted(v)) for k, v in peers.items()},
    )


@dataclass(frozen=True)
class Wording:
    """How a cloud names a live rule in `adopt`'s report and in an extra rule's reason."""

    where: Callable[[LiveRule], str]  # the rule and its group, for a report line
    origin: Callable[[LiveRule], str]  # what the reason says it was adopted from
    revoke: Callable[[LiveRule], str]  # what to do about a rule left out for policy


def unmatched_rules(
    estate: Estate,
    host_of: Mapping[str, str],
    matched: Callable[[LiveRule], bool],
    wording: Wording,
    options: Options,
    *,
    keep_unexplained: bool,
) -> tuple[tuple[ExtraRule, ...], tuple[str, ...], dict[str, list[RemovedRule]]]:
    """Live rules no planned rule takes over: extra rules to review, or report lines (and,
    per host, the `removes:` entries) for
    those no lab rule can say and those that break a policy (kept as extra rules only
    with `keep_unexplained`)."""
    extras: list[ExtraRule] = []
    left_out: list[str] = []
    removes: dict[str, list[RemovedRule]] = {}  # host -> the live rules the apply revokes
    for rule in estate.rules:
        if matched(rule):
            continue
        where = wording.where(rule)
        source = host_of.get(rule.peer_group or "", "") or rule.cidr or ""
        explainable = not rule.egress and rule.protocol in ("tcp", "udp") and source
        if not explainable:
            left_out.append(
                f"{where}: {_direction(rule)} {rule.ports_text()}: no lab rule can say it; "
                + wording.revoke(rule)
            )
            gone = removed(rule, unsayable(rule), estate.where)
            removes.setdefault(host_of[rule.group_id], []).append(gone)
            continue
        if (rule.cidr or "").lower() in INTERNET and not keep_unexplained:
            left_out.append(
                f"{where}: {rule.ports_text()} from {rule.cidr} breaks policy "
                "(open to the internet): left out (--keep-unexplained keeps it); "
                + wording.revoke(rule)
            )
            gone = removed(rule, breaks(rule, options), estate.where)
            removes.setdefault(host_of[rule.group_id], []).append(gone)
            continue
        extras.append(
            ExtraRule.parse(
                # ARM's words for any address are no CIDR: a lab rule says 0.0.0.0/0
                source="0.0.0.0/0" if source.lower() in ARM_ANYWHERE else source,
                target=host_of[rule.group_id],
                protocol=rule.protocol,
                ports=f"{rule.from_port}-{rule.to_port}"
                if rule.from_port != rule.to_port
                else str(rule.from_port),
                reason=f"adopted from {wording.origin(rule)}: review",
                name=None,
                location=Location(estate.where),
                field_path=f"extra_rules ({rule.rule_id})",
            )
        )
    return tuple(extras), tuple(left_out), removes


AWS_WORDING = Wording(
    where=lambda rule: f"{rule.rule_id} on {rule.group_id}",
    origin=lambda rule: rule.group_id,
    revoke=lambda rule: "the first apply revokes it",
)


def explain(
    estate: Estate,
    catalogue: Catalogue,
    *,
    name: str,
    region: str,
    endpoint_url: str | None,
    given: Mapping[str, tuple[str, ...]],
    keep_unexplained: bool,
) -> Explained:
    """The lab that takes `estate` over."""
    inferred = infer_lab(estate, catalogue, name=name, cloud="aws", given=given)
    host_of = inferred.host_of
    aws = AwsSettings(region=region, vpc_id=estate.network, endpoint_url=endpoint_url)
    adopt = tuple(
        AdoptedGroup(
            host=host_of[g.group_id], group_id=g.group_id, name=g.name, description=g.description
        )
        for g in estate.groups
    )
    lab = replace(inferred.lab, aws=aws, adopt=adopt)
    matched = match_rules(_plan(catalogue, lab), estate, host_of)
    wording = replace(
        AWS_WORDING, where=lambda rule: f"{AWS_WORDING.where(rule)} ({host_of[rule.group_id]})"
    )
    extras, left_out, removes = unmatched_rules(
        estate,
        host_of,
        lambda rule: rule.rule_id in matched,
        wording,
        lab.options,
        keep_unexplained=keep_unexplained,
    )
    lab = replace(lab, extra_rules=extras)
    matched = match_rules(_plan(catalogue, lab), estate, host_of)
    group_of = {r.rule_id: r.group_id for r in estate.rules}
    by_host: dict[str, list[tuple[str, str]]] = {}
    for rule_id, key in matched.items():
        by_host.setdefault(host_of[group_of[rule_id]], []).append((key, rule_id))
    lab = replace(
        lab,
        adopt=tuple(
            replace(
                a,
                rules=tuple(sorted(by_host.get(a.host, []))),
                removes=tuple(sorted(removes.get(a.host, []), key=lambda r: r.rule_id)),
            )
            for a in lab.adopt
        ),
    )
    return Explained(
        lab=lab,
        hosts=tuple((host_of[g.group_id], g) for g in estate.groups),
        evidence=inferred.evidence,
        left_out=left_out,
        raw_options=inferred.raw_options,
        peers=inferred.peers,
    )


def _direction(rule: LiveRule) -> str:
    return "outbound" if rule.egress else "inbound"


def _ports(rule: LiveRule) -> str:
    """A removed rule's ports as the lab file writes them (`RemovedRule.ports`)."""
    if rule.protocol == "-1" or rule.from_port is None or rule.to_port is None:
        return EVERY_PORT
    if rule.protocol in ("icmp", "icmpv6"):  # EC2 keeps the ICMP type and code as ports
        code = "" if rule.to_port == -1 else f" code {rule.to_port}"
        return f"type {rule.from_port}{code}"
    if rule.protocol in ("tcp", "udp"):
        return str(PortRange(rule.from_port, rule.to_port))
    return EVERY_PORT


def removed(rule: LiveRule, reason: str, where: str) -> RemovedRule:
    """A live rule adopt left out, as the lab's `removes:` records it."""
    peer = rule.cidr or rule.peer_group or rule.prefix_list
    if peer is None:  # EC2 gives every rule one of the three
        raise InputError(where, f"rule {rule.rule_id}", "", "EC2 reported no source or destination")
    return RemovedRule(
        rule_id=rule.rule_id,
        direction="egress" if rule.egress else "ingress",
        protocol="all" if rule.protocol == "-1" else rule.protocol,
        ports=_ports(rule),
        peer=peer,
        reason=reason,
        description=rule.description,
    )


def unsayable(rule: LiveRule) -> str:
    """Why no lab rule can say `rule` (so the plan never holds it)."""
    if rule.egress:
        return "an outbound rule the lab's egress setting (aws.egress) does not plan"
    if rule.protocol not in ("tcp", "udp"):
        what = "all traffic" if rule.protocol == "-1" else f"protocol {rule.protocol}"
        return f"no lab rule can say {what}: an extra rule is TCP or UDP"
    peer = rule.peer_group or rule.prefix_list or rule.cidr
    return f"no lab rule can say its source {peer}: no host of the lab, no CIDR range"


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans with the overlapping ones joined (1433 and 1433-1434: 1433-1434), so
    a port two guarded ranges hold is named once."""
    out: list[tuple[int, int]] = []
    for low, high in sorted(spans):
        if out and low <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], high))
        else:
            out.append((low, high))
    return out


def breaks(rule: LiveRule, options: Options) -> str:
    """The policy a live rule open to the internet breaks, in the words of the checks
    (CRM001-CRM003 name the port families never open to the internet)."""
    from crm_ports.policy.internet_wide import InternetWide
    from crm_ports.policy.reading import overlaps, span_text
    from crm_ports.policy.registry import REGISTRY

    low, high = rule.from_port or 0, rule.to_port if rule.to_port is not None else 65535
    broken = []
    for check_id, check in sorted(REGISTRY.items()):
        if isinstance(check, InternetWide):
            guarded = overlaps([(low, high)], check.ports(options))
            hit = _merged([(max(a, low), min(b, high)) for a, b in guarded])
            if hit:
                broken.append((check_id, f"{check.family} port(s) {span_text(hit)}"))
    if not broken:
        return f"open to the internet ({rule.cidr}), which no flow of the lab explains"
    ids = " and ".join(check_id for check_id, _ in broken)
    families = " and ".join(text for _, text in broken)
    return f"breaks {ids}: {families} open to the internet ({rule.cidr})"


def _plan(catalogue: Catalogue, lab: Lab) -> AwsPlan:
    return plan_aws(resolve_lab(catalogue, lab), lab.name, origin=lab.origin)
