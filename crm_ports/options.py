"""Lab options: one table of specs drives the CLI flags, lab-file keys, `when:`
conditions and their validation, so the three can never disagree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from crm_ports.errors import InputError
from crm_ports.net import PortRange, cidr_range

DEFAULT_CLIENT_CIDRS = ("10.100.0.0/16",)
DEFAULT_ADMIN_CIDRS = ("10.200.0.0/24",)
DEFAULT_MAIL_CIDRS = ("10.150.0.0/24",)
DEFAULT_RPC_RANGE = PortRange(49152, 65535)  # KB 929851
# KB 224196 lets the administrator pick the fixed replication ports; it gives no default.
# These are ours: above the old dynamic range (1025-5000) and below the new one
# (49152-65535, KB 929851), so Windows never hands them out to another RPC server.
DEFAULT_NTDS_PORT = 38901
DEFAULT_NETLOGON_PORT = 38902


@dataclass(frozen=True)
class OptionSpec:
    name: str  # snake_case: lab-file key, JSON key, `when:` key
    kind: str  # choice | count | topology | bool | port | range | cidrs
    help: str
    choices: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SPECS: tuple[OptionSpec, ...] = (
    # The topology ids come from the catalogue in use (`--catalog`), so they are checked
    # when the lab is resolved; `choices` are the built-in ones, for help texts only.
    OptionSpec(
        "topology",
        "topology",
        "Where the roles run: a topology id of the catalogue in use.",
        ("full-server", "split-roles"),
    ),
    OptionSpec("auth", "choice", "Integrated Windows or claims-based (AD FS).", ("iwa", "claims")),
    OptionSpec(
        "email",
        "choice",
        "Email integration: none, client-side Outlook, or server-side sync.",
        ("none", "outlook", "exchange", "pop3-smtp"),
    ),
    OptionSpec(
        "email_incoming",
        "choice",
        "Server-side sync incoming profile, when it differs from --email.",
        ("exchange", "pop3-smtp"),
    ),
    OptionSpec(
        "email_outgoing",
        "choice",
        "Server-side sync outgoing profile, when it differs from --email.",
        ("exchange", "pop3-smtp"),
    ),
    OptionSpec(
        "exchange_server",
        "choice",
        "Exchange the Email Router talks to.",
        ("2013", "2007", "2003", "online"),
    ),
    OptionSpec(
        "exchange_in_lab",
        "bool",
        "Run Exchange Server 2013 as a server of the lab (its own group) in a built-in topology.",
    ),
    OptionSpec(
        "load_balancer",
        "choice",
        "What balances the web servers: none (clients reach the front end directly; Windows "
        "NLB cannot run in either cloud) or cloud (an AWS Application Load Balancer with its "
        "own security group, or Azure Load Balancer, whose probes the NSG admits).",
        ("none", "cloud"),
    ),
    OptionSpec(
        "web_port", "port", "CRM web site port (80; 5555 is Setup's default for new sites)."
    ),
    OptionSpec("https", "bool", "Open the HTTPS ports (strongly recommended by the seeds)."),
    OptionSpec("sql_port", "port", "SQL Server port (1433 for a default instance)."),
    OptionSpec(
        "sql_named_instance", "bool", "SQL Server runs as a named instance (adds UDP 1434)."
    ),
    OptionSpec("sandbox_port", "port", "Sandbox Processing Service port (registry TcpPort)."),
    OptionSpec("rpc_range", "range", "Dynamic RPC port range START-END (KB 929851)."),
    OptionSpec(
        "phase",
        "choice",
        "setup keeps ports needed only while installing; operation drops them.",
        ("setup", "operation"),
    ),
    OptionSpec("sql_views", "bool", "Let users reach SQL Server directly (not recommended)."),
    OptionSpec(
        "domain_controllers",
        "count",
        "Domain controllers in a built-in topology; two replicate through the firewall.",
        ("1", "2"),
    ),
    OptionSpec(
        "ad_replication",
        "choice",
        "How two domain controllers replicate through the firewall (seed 001's three "
        "approaches): rpc-dynamic (KB 179442), rpc-fixed (KB 224196), ipsec (KB 832017).",
        ("rpc-dynamic", "rpc-fixed", "ipsec"),
    ),
    OptionSpec("ntds_port", "port", "Fixed AD replication port, NTDS 'TCP/IP Port' (KB 224196)."),
    OptionSpec("netlogon_port", "port", "Fixed Netlogon port, 'DCTcpipPort' (KB 224196)."),
    OptionSpec("client_cidrs", "cidrs", "Address range of CRM users (repeatable)."),
    OptionSpec("admin_cidrs", "cidrs", "Address range of administrators (repeatable)."),
    OptionSpec("mail_cidrs", "cidrs", "Address range of the Exchange / mail servers (repeatable)."),
)
SPEC_BY_NAME = {spec.name: spec for spec in SPECS}
TOPOLOGY_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Options:
    """The knobs of one lab. Defaults are the seeds' defaults; CIDRs are private ranges."""

    topology: str = "split-roles"
    auth: str = "iwa"
    email: str = "exchange"
    email_incoming: str | None = None
    email_outgoing: str | None = None
    exchange_server: str = "2013"
    exchange_in_lab: bool = False
    # `none` keeps every existing lab's rules as they are: the seeds' layouts put Windows
    # NLB on the web servers, which costs no rule of its own, and a cloud balancer is a
    # billable resource the user creates (crm-ports only firewalls it).
    load_balancer: str = "none"
    web_port: int = 80
    https: bool = True
    sql_port: int = 1433
    sql_named_instance: bool = False
    sandbox_port: int = 808
    rpc_range: PortRange = DEFAULT_RPC_RANGE
    phase: str = "setup"
    sql_views: bool = False
    domain_controllers: int = 1
    # Seed 001: "more pros than cons associated with the third option" (IPsec).
    ad_replication: str = "ipsec"
    ntds_port: int = DEFAULT_NTDS_PORT
    netlogon_port: int = DEFAULT_NETLOGON_PORT
    client_cidrs: tuple[str, ...] = DEFAULT_CLIENT_CIDRS
    admin_cidrs: tuple[str, ...] = DEFAULT_ADMIN_CIDRS
    mail_cidrs: tuple[str, ...] = DEFAULT_MAIL_CIDRS
    origin: str = field(default="command line", compare=False)
    # Where `origin` gives each option, (name, line): an error the resolver finds later
    # (an unknown topology, an unsupported combination) names the line, as the file's do.
    lines: tuple[tuple[str, int], ...] = field(default=(), compare=False, repr=False)
    # And the column of each option's key there, (name, column), for SARIF's regions.
    columns: tuple[tuple[str, int], ...] = field(default=(), compare=False, repr=False)

    def line(self, name: str) -> int | None:
        return next((at for known, at in self.lines if known == name), None)

    def column(self, name: str) -> int | None:
        return next((at for known, at in self.columns if known == name), None)

    def value(self, name: str) -> Any:
        """An option's effective value (the email profiles follow --email when unset)."""
        if name in ("email_incoming", "email_outgoing"):
            own = getattr(self, name)
            return own if own is not None else self.email
        return getattr(self, name)

    def text(self, name: str) -> str:
        """The effective value as a `when:` condition compares it."""
        return to_text(self.value(name))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("origin", "lines", "columns"):
                continue
            value = getattr(self, f.name)
            if isinstance(value, PortRange):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    def with_values(self, values: Mapping[str, Any]) -> Options:
        return replace(self, **values)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, origin: str = "JSON") -> Options:
        """The inverse of `to_json`, for rule sets read back from a synthesized folder.

        Every value goes through the same parsers as a lab file, so a hand-edited or stale
        JSON file fails as one located InputError rather than as a wrong rule set."""
        if not isinstance(data, Mapping):
            raise InputError(origin, "options", "", "expected a mapping of option values")
        values = {name: value for name, value in data.items() if value is not None}
        return build(values, origin=origin, entry="options")


def to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"'{value}' is not a port number")
    text = str(value).strip()
    if not text.isdigit():
        raise ValueError(f"'{value}' is not a port number")
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is outside 1-65535")
    return port


def _range(value: Any) -> PortRange:
    if isinstance(value, PortRange):
        return value
    rng = PortRange.parse(str(value))
    if rng.start < 1:
        raise ValueError("port 0 is not usable")
    return rng


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ValueError(f"'{value}' is not true or false")


def _cidrs(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValueError("expected one or more CIDR ranges")
    out = []
    for item in items:
        net = cidr_range(str(item))  # ValueError names the value and what is wrong
        if ":" in net:
            raise ValueError(f"'{item}' is IPv6; peer ranges are IPv4 (the lab networks are)")
        out.append(net)
    return tuple(dict.fromkeys(out))


def _choice(spec: OptionSpec) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = to_text(value)
        if text not in spec.choices:
            allowed = ", ".join(spec.choices)
            raise ValueError(f"'{text}' is not one of {allowed}")
        return text

    return parse


def _count(spec: OptionSpec) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        text = to_text(value).strip()
        if isinstance(value, bool) or text not in spec.choices:
            raise ValueError(f"'{text}' is not one of {', '.join(spec.choices)}")
        return int(text)

    return parse


def _topology(value: Any) -> str:
    if not isinstance(value, str) or not TOPOLOGY_ID.match(value):
        raise ValueError(f"'{value}' is not a topology id (lower-case words and hyphens)")
    return value


def parser_for(spec: OptionSpec) -> Callable[[Any], Any]:
    if spec.kind == "choice":
        return _choice(spec)
    if spec.kind == "count":
        return _count(spec)
    return {
        "bool": _bool,
        "port": _port,
        "range": _range,
        "cidrs": _cidrs,
        "topology": _topology,
    }[spec.kind]


def parse_value(name: str, value: Any) -> Any:
    """Parse one option value; ValueError carries a message fit for a one-line error."""
    return parser_for(SPEC_BY_NAME[name])(value)


def check_condition_value(name: str, value: Any) -> str:
    """A `when:` value, normalised to the text `Options.text` produces."""
    spec = SPEC_BY_NAME[name]
    if spec.kind == "cidrs":
        raise ValueError(f"option {name} cannot be used in a condition")
    return to_text(parse_value(name, value))


def _positions(
    known: tuple[tuple[str, int], ...], given: Mapping[str, Any], of: Callable[[str], int | None]
) -> tuple[tuple[str, int], ...]:
    """Where `origin` gives each option: the base's places (when they name places in the
    same origin), those of the options given now replacing them."""
    kept = dict(known)
    for name in given:
        at = of(name)
        if at is None:
            kept.pop(name, None)
        else:
            kept[name] = at
    return tuple(sorted(kept.items()))


def build(
    values: Mapping[str, Any],
    *,
    origin: str,
    entry: str = "options",
    base: Options | None = None,
    line_of: Callable[[str], int | None] = lambda _name: None,
    column_of: Callable[[str], int | None] = lambda _name: None,
) -> Options:
    """Options from raw values (lab file or CLI), each checked against its spec."""
    parsed: dict[str, Any] = {}
    for name, raw in values.items():
        spec = SPEC_BY_NAME.get(name)
        if spec is None:
            known = ", ".join(s.name for s in SPECS)
            raise InputError(origin, entry, name, f"unknown option (known: {known})", line_of(name))
        try:
            parsed[name] = parser_for(spec)(raw)
        except ValueError as exc:
            raise InputError(origin, entry, name, str(exc), line_of(name)) from None
    base = base or Options()
    same = base.origin == origin
    lines = _positions(base.lines if same else (), parsed, line_of)
    columns = _positions(base.columns if same else (), parsed, column_of)
    result = replace(base, origin=origin, lines=lines, columns=columns, **parsed)
    for name in ("email_incoming", "email_outgoing"):
        if getattr(result, name) is not None and result.email not in ("exchange", "pop3-smtp"):
            raise InputError(
                origin,
                entry,
                name,
                f"only applies to server-side synchronization (email exchange or pop3-smtp), "
                f"not email {result.email}",
                line_of(name),
            )
    if result.exchange_in_lab and result.exchange_server != "2013":
        raise InputError(
            origin,
            entry,
            "exchange_in_lab",
            f"an Exchange of the lab is Exchange Server 2013 on-premises, the one version "
            f"server-side synchronization supports; exchange_server is {result.exchange_server}",
            line_of("exchange_in_lab"),
        )
    if result.ntds_port == result.netlogon_port:
        name = "netlogon_port" if "netlogon_port" in parsed else "ntds_port"
        raise InputError(
            origin,
            entry,
            name,
            f"ntds_port and netlogon_port are both {result.ntds_port}; KB 224196 gives "
            f"replication and Netlogon each their own fixed port",
            line_of(name),
        )
    return result
