"""A crm-ports construct's record of itself, inside its own stack's `cdk.tf.json`.

A stack of the user's own CDKTF app has no `crm-ports.json` beside it (only `crm-ports
synth` writes one), yet `verify`, `check --synth` and `diff` must know what it claims to
implement. So each crm-ports construct writes a record into cdktf's stack metadata,
`"//": {"metadata": {"crm-ports": {"<construct path>": {...}}}}`, which Terraform ignores
as a comment (`constructs.record` puts it there at synthesis):

- `lab`: the lab it claims to implement, in `crm-ports.json`'s shape without the network
  (the network is the user's): name, its one cloud, options, AWS egress, its own hosts
  and lab rules. `verify` judges the stack against this lab and the catalogue, never
  against the rule set.
- `ruleset`: the rule set it rendered, which `check` and `diff` review, in
  `RuleSet.to_json`'s shape made smaller (`pack_ruleset`): each citation is written once,
  in the record's `citations` table, and a rule's `refs` are indices into it (a rule set
  cites a few dozen passages some hundreds of times); a rule's `id` is left out when it
  is the one its other fields give (`derived_ids`), and kept when it is not. The reader
  restores the rule set exactly; a record without `citations` (one written before the
  table) reads as it always has.
- how to find its part of the stack, as cdktf resolved it: the group ids each host
  group's machines carry (what `security_group_ids` / `application_security_group_ids`
  hand the user), the peer ranges it was given (a list, or a Terraform expression such
  as `${var.offices}`) and, on Azure, the NSG that holds its rules.

Everything is sorted and holds no path of the machine, so the record is byte-identical
wherever the app is synthesized.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from crm_ports.errors import InputError
from crm_ports.lab.model import Lab
from crm_ports.net import PortRange
from crm_ports.ruleset import RuleSet
from crm_ports.terraform.metadata import (
    ConstructRecord,
    StackRecord,
    lab_json,
    read_cloud,
    read_lab,
)
from crm_ports.terraform.resources import (
    AWS_RULE_KINDS,
    AZURE_RULE,
    Resources,
    holder_address,
    resource_type,
)
from crm_ports.terraform.stack_json import referenced

RECORD_KEY = "crm-ports"


def record_json(
    *,
    kind: str,
    cloud: str,
    lab: Lab,
    rules: RuleSet,
    carries: Mapping[str, Sequence[str]],
    peers: Mapping[str, str | Sequence[str]],
    network_security_group: str | None = None,
) -> dict[str, Any]:
    """One construct's record (the value under its path), keys sorted."""
    data: dict[str, Any] = {
        "construct": kind,
        "cloud": cloud,
        "lab": lab_json(lab, network=False),
        **pack_ruleset(rules),
        "carries": {group: list(ids) for group, ids in carries.items()},
        "peers": {
            option: value if isinstance(value, str) else list(value)
            for option, value in peers.items()
        },
    }
    if network_security_group is not None:
        data["network_security_group"] = network_security_group
    result: dict[str, Any] = json.loads(json.dumps(data, sort_keys=True))
    return result


def derived_ids(rules: Sequence[Mapping[str, Any]]) -> list[str]:
    """The id each rule of `rules` (`Rule.to_json`'s shape, `id` aside) would have from its
    other fields, as the resolver forms it (`FROM.TO.PROTOCOL.SERVICE_SERVICE...`, and
    `.PORTS` after it when two rules share that). Reading only the rules themselves, it
    gives a writer and a reader the same answer; where a rule's id is another (a lab rule
    named so, a service with `+` in its name), the record keeps that id."""
    bases = [
        f"{r['from']}.{r['to']}.{r['protocol']}.{str(r['service']).replace('+', '_')}"
        for r in rules
    ]
    shared = {base for base, count in Counter(bases).items() if count > 1}
    out = []
    for base, rule in zip(bases, rules, strict=True):
        ports = PortRange(int(rule["from_port"]), int(rule["to_port"]))
        out.append(f"{base}.{ports}" if base in shared else base)
    return out


def pack_ruleset(rules: RuleSet) -> dict[str, Any]:
    """`ruleset` and `citations` of a record: the rule set's JSON with each citation once,
    by index, and the ids its rules' fields give left out (the reader: `unpack_ruleset`)."""
    data = rules.to_json()
    citations = sorted({ref for rule in data["rules"] for ref in rule["refs"]})
    index = {ref: n for n, ref in enumerate(citations)}
    derived = derived_ids(data["rules"])
    packed = []
    for rule, default in zip(data["rules"], derived, strict=True):
        rule = {**rule, "refs": [index[ref] for ref in rule["refs"]]}
        if rule["id"] == default:
            del rule["id"]
        packed.append(rule)
    return {"ruleset": {**data, "rules": packed}, "citations": citations}


def unpack_ruleset(data: Mapping[str, Any], shown: str, entry: str) -> Any:
    """The record's rule set in `RuleSet.to_json`'s shape, as `pack_ruleset` had it. A
    record without `citations` holds it whole (refs as text, every id); anything else
    that is not a rule set is left for `read_lab` to refuse."""
    raw = data.get("ruleset")
    if not isinstance(raw, dict):
        return raw
    rules = raw.get("rules")
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        return raw
    citations = data.get("citations")
    if "citations" in data and not (
        isinstance(citations, list) and all(isinstance(c, str) for c in citations)
    ):
        raise InputError(shown, entry, "citations", "expected a list of citations")
    try:
        derived = derived_ids(rules)
    except (KeyError, TypeError, ValueError) as exc:
        text = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise InputError(shown, entry, "ruleset.rules", text) from None
    out = []
    for n, (rule, default) in enumerate(zip(rules, derived, strict=True)):
        refs = rule.get("refs", [])
        if citations is not None:
            if not isinstance(refs, list) or not all(
                type(i) is int and 0 <= i < len(citations) for i in refs
            ):
                raise InputError(
                    shown,
                    entry,
                    f"ruleset.rules[{n}].refs",
                    f"expected indices into the record's {len(citations)} citations",
                )
            refs = [citations[i] for i in refs]
        out.append({"id": default, **rule, "refs": refs})
    return {**raw, "rules": out}


def recorded(document: Any) -> Mapping[str, Any]:
    """The records of a `cdk.tf.json` document by construct path (none: no construct)."""
    top = document.get("//") if isinstance(document, dict) else None
    metadata = top.get("metadata") if isinstance(top, dict) else None
    records = metadata.get(RECORD_KEY) if isinstance(metadata, dict) else None
    return records if isinstance(records, dict) else {}


def stack_records(document: Any, directory: Path, shown: str) -> list[StackRecord]:
    """One `StackRecord` per crm-ports construct recorded in the stack, by path."""
    return [
        _record(path, data, directory, shown) for path, data in sorted(recorded(document).items())
    ]


def _record(path: str, data: Any, directory: Path, shown: str) -> StackRecord:
    entry = f"construct '{path}'"
    kind = data.get("construct") if isinstance(data, dict) else None
    if not isinstance(kind, str):
        raise InputError(shown, entry, "construct", "expected the construct's class name")
    cloud = read_cloud(data, shown, entry)
    origin = f"{shown} ({kind} '{path}')"
    lab = read_lab({**data, "ruleset": unpack_ruleset(data, shown, entry)}, shown, entry, origin)
    if lab.lab.clouds != (cloud,):
        raise InputError(shown, entry, "lab.clouds", f"expected [{cloud}], the record's cloud")
    carries = data.get("carries")
    if not isinstance(carries, dict) or not all(
        isinstance(ids, list) and all(isinstance(i, str) for i in ids) for ids in carries.values()
    ):
        raise InputError(shown, entry, "carries", "expected host group -> list of group ids")
    peers = data.get("peers")
    if not isinstance(peers, dict) or not all(_ranges(v) for v in peers.values()):
        raise InputError(shown, entry, "peers", "expected option -> list or expression")
    nsg = data.get("network_security_group")
    if cloud == "azure" and not isinstance(nsg, str):
        raise InputError(shown, entry, "network_security_group", "expected the NSG's id")
    construct = ConstructRecord(
        path=path,
        kind=kind,
        carries={group: tuple(ids) for group, ids in sorted(carries.items())},
        peers={
            option: value if isinstance(value, str) else tuple(value)
            for option, value in sorted(peers.items())
        },
        network_security_group=nsg if cloud == "azure" else None,
    )
    return StackRecord(directory, cloud, lab, construct)


def _ranges(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(item, str) for item in value)
    )


def construct_resources(resources: Resources, construct: ConstructRecord) -> Resources:
    """The part of a stack's resources one construct holds, read off the resources: the
        groups its host groups' machines carry, the AWS rules attached to them, and on Azure
        its NSG with the rules it holds (inline, or standalone ones naming it); an adopted AWS
    group's inline rules name their group as standalone ones do. A rule added
        by hand to one of its groups is part of it, as it is of what the cloud enforces."""
    groups = {referenced(ref) for ids in construct.carries.values() for ref in ids}
    nsg = construct.network_security_group
    holder = referenced(nsg) if nsg is not None else None
    out: Resources = {}
    for address, attributes in resources.items():
        kind = resource_type(address)
        if address.split("[", 1)[0] in groups or holder_address(address) == holder:
            out[address] = attributes
        elif kind in AWS_RULE_KINDS:
            if referenced(attributes.get("security_group_id")) in groups:
                out[address] = attributes
        elif (
            kind == AZURE_RULE
            and holder is not None
            and referenced(attributes.get("network_security_group_name")) == holder
        ):
            out[address] = attributes
    return out
