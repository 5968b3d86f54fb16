"""A hand-built Azure estate explained (`crm_ports.adopt.infer`, the inference both clouds
share) and taken over: the lab keeps the NSG's and each ASG's name, the NSG's location
and resource group (Azure replaces a resource whose name or location changes), and its
`adopt_azure:` section says which live resources and rules the plan takes over.

The NSG's rules are one inline set in Terraform, so the import of the NSG takes every
live rule over with it: the first apply rewrites the matched ones under their planned
names and removes the ones the lab leaves out; both are reported, rule by rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from crm_ports.adopt.azure_live import REMOVED, AzureEstate
from crm_ports.adopt.infer import ARM_ANYWHERE, Explained, Wording, infer_lab, unmatched_rules
from crm_ports.adopt.live import LiveRule
from crm_ports.catalogue.model import Catalogue
from crm_ports.lab.azure_adoption import AdoptedAzure, AdoptedResource
from crm_ports.lab.model import AzureSettings, Lab
from crm_ports.plans.azure import AzurePlan, plan_azure
from crm_ports.resolver.engine import resolve_lab

# a planned rule as the live parts are read: (target host, source host or CIDR, protocol)
Bucket = tuple[str, str, str]


def _ranges(spec_ports: tuple[str, ...]) -> list[tuple[int, int]]:
    out = []
    for text in spec_ports:
        if text == "*":
            out.append((0, 65535))
            continue
        low, _, high = text.partition("-")
        out.append((int(low), int(high or low)))
    return out


def _planned(plan: AzurePlan) -> dict[Bucket, tuple[str, list[tuple[int, int]]]]:
    """(target, source, protocol) -> the planned allow rule's name and port ranges."""
    out: dict[Bucket, tuple[str, list[tuple[int, int]]]] = {}
    for spec in plan.rules:
        if spec.access != "Allow" or spec.target_group is None:
            continue
        sources = [spec.source_group] if spec.source_group else list(spec.source_prefixes)
        for source in sources:
            out[(spec.target_group, source, spec.protocol.lower())] = (
                spec.name,
                _ranges(spec.port_ranges),
            )
    return out


def match_rules(plan: AzurePlan, live: AzureEstate, host_of: Mapping[str, str]) -> dict[str, str]:
    """Live part (rule_id) -> the planned NSG rule that allows all it allows."""
    planned = _planned(plan)
    out: dict[str, str] = {}
    for part in live.estate.rules:
        source = host_of.get(part.peer_group or "") if part.peer_group else part.cidr
        if source is not None and source.lower() in ARM_ANYWHERE:
            source = "0.0.0.0/0"  # as the extra rule that keeps it says it
        protocol = "*" if part.protocol == "-1" else part.protocol
        found = planned.get((host_of[part.group_id], source or "", protocol))
        # ICMP and any protocol have no ports: all of them, as the plan writes "*"
        low_port, high_port = part.from_port or 0, 65535 if part.to_port is None else part.to_port
        if found is not None and any(
            low <= low_port and high_port <= high for low, high in found[1]
        ):
            out[part.rule_id] = found[0]
    return out


def _wording(live: AzureEstate, host_of: Mapping[str, str]) -> Wording:
    names = {g.group_id: g.name for g in live.estate.groups}

    def rule_name(rule: LiveRule) -> str:
        return rule.rule_id.split("#", 1)[0]

    return Wording(
        where=lambda rule: (
            f"{rule_name(rule)} into {names[rule.group_id]} ({host_of[rule.group_id]})"
        ),
        origin=lambda rule: f"NSG rule {rule_name(rule)}",
        revoke=lambda rule: REMOVED,
    )


def _plan(catalogue: Catalogue, lab: Lab) -> AzurePlan:
    return plan_azure(
        resolve_lab(catalogue, lab), lab.name, origin=lab.origin, adopt=lab.adopt_azure
    )


def explain_azure(
    live: AzureEstate,
    catalogue: Catalogue,
    *,
    name: str,
    given: Mapping[str, tuple[str, ...]],
    keep_unexplained: bool,
) -> Explained:
    """The lab that takes the NSG and its ASGs over."""
    estate = live.estate
    inferred = infer_lab(estate, catalogue, name=name, cloud="azure", given=given)
    host_of = inferred.host_of
    settings = AzureSettings(
        location=live.nsg.location,
        resource_group_name=live.resource_group,
        # the NSG's subnet: the stack then creates no network and no association
        subnet_id=live.nsg.subnets[0] if live.nsg.subnets else None,
    )
    adopt = AdoptedAzure(
        nsg=AdoptedResource(live.nsg.id, live.nsg.name),
        asgs=tuple(
            sorted(
                (host_of[g.group_id], AdoptedResource(g.group_id, g.name)) for g in estate.groups
            )
        ),
    )
    lab = replace(inferred.lab, azure=settings, adopt_azure=adopt)
    matched = match_rules(_plan(catalogue, lab), live, host_of)
    extras, left_out, _ = unmatched_rules(
        estate,
        host_of,
        lambda rule: rule.rule_id in matched,
        _wording(live, host_of),
        lab.options,
        keep_unexplained=keep_unexplained,
    )
    lab = replace(lab, extra_rules=extras)
    matched = match_rules(_plan(catalogue, lab), live, host_of)
    # an ARM rule is taken over when each of its parts is; it is listed once, under the
    # planned rule of its first part
    parts: dict[str, list[str]] = {}
    for part in estate.rules:
        parts.setdefault(live.rule_ids[part.rule_id], []).append(part.rule_id)
    rules: dict[str, list[str]] = {}
    for arm_id, ids in sorted(parts.items()):
        if all(i in matched for i in ids):
            rules.setdefault(matched[ids[0]], []).append(arm_id)
    adopt = replace(adopt, rules=tuple((k, tuple(sorted(v))) for k, v in sorted(rules.items())))
    held = [
        f"held by network interfaces {', '.join(g.holders)}"
        if g.holders
        else "held by no network interface"
        for g in estate.groups
    ]
    return Explained(
        lab=replace(lab, adopt_azure=adopt),
        hosts=tuple((host_of[g.group_id], g) for g in estate.groups),
        evidence=tuple(
            f"{line} [{held_by}]" for line, held_by in zip(inferred.evidence, held, strict=True)
        ),
        # every rule left out is gone after the first apply: say so on each line
        left_out=(
            *(f"{line}; {REMOVED}" if REMOVED not in line else line for line in left_out),
            *live.others,
        ),
        raw_options=inferred.raw_options,
        peers=inferred.peers,
    )
