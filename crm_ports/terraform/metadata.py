"""The synthesized folder, as crm-ports writes and reads it: `<out>/stacks/<stack>/` holds
the CDK's `cdk.tf.json` and crm-ports' own `crm-ports.json` beside it, the rule set the stack
was built from and the lab settings its plan depends on, so that a folder can be reviewed
(`crm-ports diff`, `check --synth`, `verify`) without the catalogue that produced it.

Both directions live here, so the file's name and shape have one home.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from crm_ports.catalogue.model import Location
from crm_ports.errors import InputError
from crm_ports.inputs import yamlio
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
    return out


def metadata_text(lab: Lab, rules: RuleSet, cloud: str) -> str:
    """crm-ports.json beside cdk.tf.json: the rule set a stack was built from and the lab
    settings its plan depends on, so a synthesized folder can be reviewed (`crm-ports
    diff`, `crm-ports check --synth`) without the catalogue that produced it."""
    data = {
        "cloud": cloud,
        "lab": {
            "name": lab.name,
            "clouds": list(lab.clouds),
            # The network the groups live in, so a review can tell what replaces them.
            "aws": {"egress": lab.aws.egress, **_network(lab.aws, AWS_NETWORK)},
            "azure": _network(lab.azure, AZURE_NETWORK),
            "waivers": [
                {"check": w.check, "reason": w.reason, **({"rule": w.rule} if w.rule else {})}
                for w in lab.waivers
            ],
            # What the lab file says beyond options, so `verify --synth` can judge a
            # folder against the lab as written (placement, lab rules), never the rule set.
            **lab_extent(lab),
        },
        "ruleset": rules.to_json(),
    }
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
class StackRecord:
    """One synthesized stack: its directory, cloud and the resolved lab it was built from."""

    directory: Path
    cloud: str
    lab: ResolvedLab


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


def read_stack(directory: Path) -> StackRecord:
    path = directory / METADATA_FILE
    shown = yamlio.display_name(path)
    entry = f"stack '{directory.name}'"
    data = read_json(path)
    cloud = _field(data, "cloud", str, shown, entry)
    if cloud not in CLOUDS:
        raise InputError(shown, entry, "cloud", f"'{cloud}' is not one of {', '.join(CLOUDS)}")
    lab_data = _field(data, "lab", dict, shown, entry)
    name = _field(lab_data, "name", str, shown, entry)
    raw = _field(data, "ruleset", dict, shown, entry)
    ruleset = _guarded(lambda: RuleSet.from_json(raw, origin=shown), shown, entry, "ruleset")
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
        # A folder written before the network was recorded says nothing of it.
        network_known="vpc_cidr" in aws_network,
        waivers=_waivers(lab_data.get("waivers"), shown, entry),
        placement=_placement(lab_data.get("placement"), ruleset.options.topology, shown, entry),
        extra_rules=_extra_rules(lab_data.get("extra_rules"), shown, entry),
        origin=shown,
    )
    return StackRecord(directory, cloud, ResolvedLab(lab, ruleset))


def stack_dirs(folder: Path) -> list[Path]:
    stacks = folder / "stacks"
    found = (
        sorted(p for p in stacks.iterdir() if (p / METADATA_FILE).is_file())
        if stacks.is_dir()
        else []
    )
    if not found:
        raise InputError(
            yamlio.display_name(folder),
            "",
            "",
            f"not a synthesized folder: no stacks/*/{METADATA_FILE} (run `crm-ports synth` first)",
        )
    return found


def read_stacks(folder: Path) -> list[StackRecord]:
    return [read_stack(d) for d in stack_dirs(folder)]


def folder_labs(folder: Path) -> list[tuple[ResolvedLab, tuple[StackRecord, ...]]]:
    """Labs of a synthesized folder with their stacks (a lab's clouds are the stacks found
    for it); all stacks of one lab must have recorded the same rule set."""
    by_lab: dict[str, list[StackRecord]] = {}
    for stack in read_stacks(folder):
        by_lab.setdefault(stack.lab.lab.name, []).append(stack)
    out = []
    for name in sorted(by_lab):
        stacks = by_lab[name]
        first = stacks[0].lab
        for other in stacks[1:]:
            if other.lab.ruleset != first.ruleset:
                raise InputError(
                    other.lab.lab.origin,
                    f"lab '{first.lab.name}'",
                    "ruleset",
                    f"differs from the rule set of {first.lab.origin}: re-run `crm-ports synth`",
                )
        clouds = tuple(c for c in CLOUDS if any(s.cloud == c for s in stacks))
        lab = replace(first.lab, clouds=clouds)
        out.append((ResolvedLab(lab, first.ruleset), tuple(stacks)))
    return out
