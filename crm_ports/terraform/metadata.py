"""`crm-ports.json`, as crm-ports writes and reads it: `crm-ports synth` puts it beside each
stack's `cdk.tf.json` (`<out>/stacks/<stack>/`), holding the rule set the stack was built
from and the lab settings its plan depends on, so that a folder can be reviewed
(`crm-ports diff`, `check --synth`, `verify`) without the catalogue that produced it.

Both directions live here, so the file's name and shape have one home; so do the lab's
JSON shape, which a construct's record inside its own stack shares (`terraform.records`),
and `StackRecord`, one stack (or one construct of a stack) as the readers see it
(`terraform.folder` finds them in a folder).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from crm_ports.catalogue.model import Location
from crm_ports.errors import InputError
from crm_ports.inputs import yamlio
from crm_ports.lab.adoption import AdoptedGroup, RemovedRule
from crm_ports.lab.azure_adoption import AdoptedAzure, AdoptedResource
from crm_ports.lab.extra import citation
from crm_ports.lab.model import CLOUDS, AwsSettings, AzureSettings, Lab, Waiver
from crm_ports.net import PortRange, Protocol
from crm_ports.plans.aws import EGRESS_MODES
from crm_ports.resolver.engine import ResolvedLab
from crm_ports.ruleset import RuleSet

if TYPE_CHECKING:  # placements and lab-local rules load where a stack records them
    from crm_ports.lab.extra import ExtraRule
    from crm_ports.lab.placement import Placement

METADATA_FILE = "crm-ports.json"

T = TypeVar("T")


def write_metadata(directory: Path, lab: Lab, rules: RuleSet, cloud: str) -> None:
    """`crm-ports.json` into a stack's folder."""
    (directory / METADATA_FILE).write_text(metadata_text(lab, rules, cloud), encoding="utf-8")


def lab_extent(lab: Lab) -> dict[str, Any]:
    """The lab's own placement and lab rules as plain data (read back by `read_stack`)."""
    out: dict[str, Any] = {}
    placement = lab.placement
    if placement is not None and lab.options.topology == placement.name:
        out["placement"] = [{"name": h.name, "roles": list(h.roles)} for h in placement.hosts]
    if lab.extra_rules:
        out["extra_rules"] = [
            {
                "from": e.source,
                "to": e.target,
                "protocol": e.protocol.value,
                "ports": str(e.ports),
                "reason": e.reason,
                **({"name": e.name} if e.name else {}),
                "cites": citation(e),
            }
            for e in lab.extra_rules
        ]
    if lab.adopt:
        out["adopt"] = {
            a.host: {
                "group_id": a.group_id,
                "name": a.name,
                "description": a.description,
                "rules": dict(a.rules),
                # only when adopt left rules out, so a folder without any reads as before
                **({"removes": [r.to_json() for r in a.removes]} if a.removes else {}),
            }
            for a in lab.adopt
        }
    if lab.adopt_azure is not None:
        azure = lab.adopt_azure
        out["adopt_azure"] = {
            "network_security_group": {"id": azure.nsg.id, "name": azure.nsg.name},
            "hosts": {host: {"id": a.id, "name": a.name} for host, a in azure.asgs},
            "rules": {name: list(ids) for name, ids in azure.rules},
        }
    return out


def lab_json(lab: Lab, *, network: bool = True) -> dict[str, Any]:
    """The lab as `crm-ports.json` and a construct's record keep it. Without `network`
    (a construct in a user's own stack: the network is the user's) no network setting
    is written, and the lab reads back as one whose network is unknown."""
    aws: dict[str, Any] = {"egress": lab.aws.egress}
    azure: dict[str, Any] = {}
    if network:
        # The network the groups live in, so a review can tell what replaces them.
        aws.update(_network(lab.aws, AWS_NETWORK))
        azure.update(_network(lab.azure, AZURE_NETWORK))
    return {
        "name": lab.name,
        "clouds": list(lab.clouds),
        "aws": aws,
        "azure": azure,
        "waivers": [
            {"check": w.check, "reason": w.reason, **({"rule": w.rule} if w.rule else {})}
            for w in lab.waivers
        ],
        # What the lab says beyond options, so `verify --synth` can judge a folder
        # against the lab as written (placement, lab rules), never the rule set.
        **lab_extent(lab),
    }


def metadata_text(lab: Lab, rules: RuleSet, cloud: str) -> str:
    """crm-ports.json beside cdk.tf.json: the rule set a stack was built from and the lab
    settings its plan depends on, so a synthesized folder can be reviewed (`crm-ports
    diff`, `crm-ports check --synth`) without the catalogue that produced it."""
    data = {"cloud": cloud, "lab": lab_json(lab), "ruleset": rules.to_json()}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


# The per-cloud settings `crm-ports.json` records besides the AWS egress mode: the ones
# the stacks' network depends on (see `terraform.resources.lab_resources`).
AWS_NETWORK = ("region", "vpc_id", "vpc_cidr", "subnet_cidr")
AZURE_NETWORK = ("location", "resource_group_name", "vnet_cidr", "subnet_cidr", "subnet_id")


def _network(settings: AwsSettings | AzureSettings, keys: tuple[str, ...]) -> dict[str, Any]:
    """The settings of `keys` that are set (a None is the stack's own default)."""
    values = {key: getattr(settings, key) for key in keys}
    return {key: value for key, value in values.items() if value is not None}


def _settings(raw: Any, keys: tuple[str, ...], file: str, entry: str) -> dict[str, str]:
    found = {key: raw[key] for key in keys if isinstance(raw, dict) and key in raw}
    wrong = [key for key, value in found.items() if not isinstance(value, str)]
    if wrong:
        raise InputError(file, entry, f"lab.{wrong[0]}", "expected a string")
    return found


def _field(data: Any, key: str, kind: type[T], file: str, entry: str) -> T:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, kind):
        raise InputError(file, entry, key, f"expected {kind.__name__}, got {value!r:.60}")
    return value


def read_json(path: Path, hint: str = "") -> Any:
    shown = yamlio.display_name(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(shown, "", "", f"no such file{hint}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(shown, "", "", f"cannot read as JSON: {exc}") from None


@dataclass(frozen=True)
class ConstructRecord:
    """A crm-ports construct as it recorded itself inside its stack (`terraform.records`):
    what a reader needs to find its part of the stack. Values are as cdktf wrote them:
    Terraform references (`${aws_security_group.sg_x.id}`), lists and expressions."""

    path: str  # the construct's path in the app, `<stack>/<id>...`
    kind: str  # its class, `AwsCrmLab`
    carries: Mapping[str, tuple[str, ...]]  # host group -> the group ids its machines carry
    peers: Mapping[str, str | tuple[str, ...]]  # CIDR option -> the ranges it was given
    network_security_group: str | None = None  # Azure: the NSG holding its rules


@dataclass(frozen=True)
class StackRecord:
    """One synthesized stack, or one crm-ports construct of a stack of the user's own: its
    directory, cloud and the resolved lab it was built from."""

    directory: Path
    cloud: str
    lab: ResolvedLab
    construct: ConstructRecord | None = None  # None: a lab stack with its crm-ports.json

    @property
    def label(self) -> str:
        """How reports name it: the stack's name, or the construct's path in the app."""
        return self.directory.name if self.construct is None else self.construct.path


def _guarded(call: Callable[[], T], file: str, entry: str, field: str) -> T:
    try:
        return call()
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        text = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise InputError(file, entry, field, text) from None


def _waivers(raw: Any, file: str, entry: str) -> tuple[Waiver, ...]:
    def parse() -> tuple[Waiver, ...]:
        return tuple(Waiver(w["check"], w["reason"], w.get("rule")) for w in raw or ())

    return _guarded(parse, file, entry, "lab.waivers")


def _placement(raw: Any, name: str, file: str, entry: str) -> Placement | None:
    def parse() -> Placement | None:
        if raw is None:
            return None
        from crm_ports.lab.placement import Host, Placement

        hosts = tuple(Host(h["name"], tuple(str(r) for r in h["roles"])) for h in raw)
        return Placement(name=name, hosts=hosts, origin=file)

    return _guarded(parse, file, entry, "lab.placement")


def _extra_rules(raw: Any, file: str, entry: str) -> tuple[ExtraRule, ...]:
    def parse() -> tuple[ExtraRule, ...]:
        from crm_ports.lab.extra import ExtraRule

        out = []
        for item in raw or ():
            cited, _, line = str(item["cites"]).rpartition(":")
            out.append(
                ExtraRule(
                    source=item["from"],
                    target=item["to"],
                    protocol=Protocol(item["protocol"]),
                    ports=PortRange.parse(str(item["ports"])),
                    reason=item["reason"],
                    name=item.get("name"),
                    location=Location(cited or str(item["cites"]), int(line) if cited else None),
                )
            )
        return tuple(out)

    return _guarded(parse, file, entry, "lab.extra_rules")


def _adopt(raw: Any, file: str, entry: str) -> tuple[AdoptedGroup, ...]:
    def parse() -> tuple[AdoptedGroup, ...]:
        return tuple(
            AdoptedGroup(
                host=str(host),
                group_id=str(item["group_id"]),
                name=str(item["name"]),
                description=str(item["description"]),
                rules=tuple(sorted((str(k), str(v)) for k, v in item["rules"].items())),
                removes=tuple(RemovedRule.from_json(r) for r in item.get("removes") or ()),
            )
            for host, item in sorted((raw or {}).items())
        )

    return _guarded(parse, file, entry, "lab.adopt")


def _adopt_azure(raw: Any, file: str, entry: str) -> AdoptedAzure | None:
    def parse() -> AdoptedAzure | None:
        if raw is None:
            return None
        nsg = raw["network_security_group"]
        return AdoptedAzure(
            nsg=AdoptedResource(str(nsg["id"]), str(nsg["name"])),
            asgs=tuple(
                (str(host), AdoptedResource(str(a["id"]), str(a["name"])))
                for host, a in sorted(raw["hosts"].items())
            ),
            rules=tuple(
                (str(name), tuple(str(i) for i in ids))
                for name, ids in sorted(raw["rules"].items())
            ),
        )

    return _guarded(parse, file, entry, "lab.adopt_azure")


def read_stack(directory: Path) -> StackRecord:
    """A lab stack's `crm-ports.json`."""
    path = directory / METADATA_FILE
    shown = yamlio.display_name(path)
    entry = f"stack '{directory.name}'"
    data = read_json(path)
    cloud = read_cloud(data, shown, entry)
    return StackRecord(directory, cloud, read_lab(data, shown, entry, shown))


def read_cloud(data: Any, shown: str, entry: str) -> str:
    cloud = _field(data, "cloud", str, shown, entry)
    if cloud not in CLOUDS:
        raise InputError(shown, entry, "cloud", f"'{cloud}' is not one of {', '.join(CLOUDS)}")
    return cloud


def read_lab(data: Any, shown: str, entry: str, origin: str) -> ResolvedLab:
    """The `lab` and `ruleset` of `data` (as `lab_json` and `RuleSet.to_json` wrote them);
    `shown` and `entry` locate errors, `origin` names the lab read back."""
    lab_data = _field(data, "lab", dict, shown, entry)
    name = _field(lab_data, "name", str, shown, entry)
    raw = _field(data, "ruleset", dict, shown, entry)
    ruleset = _guarded(lambda: RuleSet.from_json(raw, origin=origin), shown, entry, "ruleset")
    aws = lab_data.get("aws") or {}
    egress = aws.get("egress", AwsSettings.egress) if isinstance(aws, dict) else None
    if egress not in EGRESS_MODES:
        raise InputError(shown, entry, "lab.aws.egress", f"expected one of {EGRESS_MODES}")
    clouds = lab_data.get("clouds", list(CLOUDS))
    if not isinstance(clouds, list) or not set(clouds) <= set(CLOUDS):
        raise InputError(shown, entry, "lab.clouds", f"expected a list of {', '.join(CLOUDS)}")
    azure = lab_data.get("azure")
    aws_network = _settings(aws, AWS_NETWORK, shown, entry)
    lab = Lab(
        name=name,
        options=ruleset.options,
        clouds=tuple(clouds),
        aws=AwsSettings(egress=egress, **aws_network),
        azure=AzureSettings(**_settings(azure, AZURE_NETWORK, shown, entry)),
        # A folder written before the network was recorded, or a construct's record (the
        # network is the user's), says nothing of it.
        network_known="vpc_cidr" in aws_network,
        waivers=_waivers(lab_data.get("waivers"), shown, entry),
        placement=_placement(lab_data.get("placement"), ruleset.options.topology, origin, entry),
        extra_rules=_extra_rules(lab_data.get("extra_rules"), shown, entry),
        adopt=_adopt(lab_data.get("adopt"), shown, entry),
        adopt_azure=_adopt_azure(lab_data.get("adopt_azure"), shown, entry),
        origin=origin,
    )
    return ResolvedLab(lab, ruleset)
