"""Pair an Azure lab's live NSG, security rules and ASGs (SDK models) with its plan.

Both sides become `compare.Item`s. Rules pair by content, then by name; the ASGs the plan
names are ours, and so is any other carrying the lab's `crm-ports:lab` tag (one left
behind by an older plan shows up as unexpected), while untagged ASGs the plan does not
name belong to whatever else shares the resource group and are left alone.
"""

from __future__ import annotations

from typing import Any

from crm_ports.audit.azure_live import model_field, model_text
from crm_ports.audit.compare import Item, compare, tag_text
from crm_ports.audit.model import Finding
from crm_ports.plans.azure import AzurePlan, NsgRuleSpec
from crm_ports.plans.text import LAB_TAG

PROTOCOLS = {"tcp": "Tcp", "udp": "Udp", "icmp": "Icmp", "esp": "Esp", "ah": "Ah", "*": "*"}


def _port_key(text: str) -> tuple[int, str]:
    head = text.split("-", 1)[0]
    return (int(head) if head.isdigit() else -1, text)


def _join(values: Any) -> str:
    return ",".join(sorted({model_text(v) for v in values}, key=_port_key))


def _either(model: Any, many: str, one: str) -> str:
    """ARM keeps one value in `x` and several in `xs`; either way it is one set here."""
    values = model_field(model, many) or (
        [model_field(model, one)] if model_field(model, one) else []
    )
    return _join(values)


def _rule_item(
    container: str,
    name: str,
    values: dict[str, str],
    live_id: str = "",
) -> Item:
    identity = ("direction", "access", "protocol", "source", "source_ports", "destination")
    return Item(
        resource="nsg-rule",
        container=container,
        name=name,
        identity=(*(values[k] for k in identity), values["ports"]),
        fallback=(name.lower(),),
        fields=(("name", name), *values.items()),
        summary=(
            f"{values['priority']} {values['direction']} {values['access']} "
            f"{values['protocol']} {values['ports']} from {values['source']} "
            f"to {values['destination']}"
        ),
        live_id=live_id,
    )


def _expected_rule(spec: NsgRuleSpec, plan: AzurePlan) -> Item:
    source = (
        f"asg:{plan.asg(spec.source_group).name}"
        if spec.source_group
        else _join(spec.source_prefixes)
    )
    destination = f"asg:{plan.asg(spec.target_group).name}" if spec.target_group else "*"
    values = {
        "priority": str(spec.priority),
        "direction": spec.direction,
        "access": spec.access,
        "protocol": spec.protocol,
        "source": source,
        "source_ports": "*",
        "destination": destination,
        "ports": _join(spec.port_ranges),
        "description": spec.description,
    }
    return _rule_item(plan.nsg_name, spec.name, values)


def _live_rule(rule: Any, container: str, asg_names: dict[str, str]) -> Item:
    def end(asgs: str, prefixes: str, prefix: str) -> str:
        refs = model_field(rule, asgs) or []
        if refs:
            ids = [str(model_field(ref, "id") or "") for ref in refs]
            return ",".join(sorted(f"asg:{asg_names.get(i.lower(), i)}" for i in ids))
        return _either(rule, prefixes, prefix)

    protocol = model_text(model_field(rule, "protocol"))
    values = {
        "priority": model_text(model_field(rule, "priority")),
        "direction": model_text(model_field(rule, "direction")),
        "access": model_text(model_field(rule, "access")),
        "protocol": PROTOCOLS.get(protocol.lower(), protocol),
        "source": end(
            "source_application_security_groups", "source_address_prefixes", "source_address_prefix"
        ),
        "source_ports": _either(rule, "source_port_ranges", "source_port_range"),
        "destination": end(
            "destination_application_security_groups",
            "destination_address_prefixes",
            "destination_address_prefix",
        ),
        "ports": _either(rule, "destination_port_ranges", "destination_port_range"),
        "description": model_text(model_field(rule, "description")),
    }
    return _rule_item(
        container, str(model_field(rule, "name")), values, str(model_field(rule, "id") or "")
    )


def compare_lab(
    plan: AzurePlan, resource_group: str, nsg: Any, rules: Any, asgs: Any
) -> tuple[Finding, ...]:
    """Findings for the live NSG, its rules and the resource group's ASGs against the
    plan."""
    keys = frozenset(k for asg in plan.asgs for k, _ in asg.tags) | {k for k, _ in plan.tags}
    group = resource_group
    planned = {asg.name.lower() for asg in plan.asgs}
    ours = [
        a
        for a in asgs
        if str(model_field(a, "name")).lower() in planned
        or dict(model_field(a, "tags") or {}).get(LAB_TAG) == plan.lab
    ]
    asg_names = {str(model_field(a, "id")).lower(): str(model_field(a, "name")) for a in asgs}

    def asg_item(name: str, tags: str, live_id: str = "") -> Item:
        return Item(
            resource="application-security-group",
            container=group,
            name=name,
            identity=("asg", name.lower()),
            fallback=None,
            fields=(("tags", tags),),
            summary=f"application security group {name}",
            live_id=live_id,
        )

    def nsg_item(tags: str, live_id: str = "") -> Item:
        return Item(
            resource="nsg",
            container=group,
            name=plan.nsg_name,
            identity=("nsg",),
            fallback=None,
            fields=(("tags", tags),),
            summary=f"network security group {plan.nsg_name}",
            live_id=live_id,
        )

    expected = [
        nsg_item(tag_text(dict(plan.tags), keys)),
        *(asg_item(a.name, tag_text(dict(a.tags), keys)) for a in plan.asgs),
        *(_expected_rule(spec, plan) for spec in plan.rules),
    ]
    live = [
        nsg_item(tag_text(model_field(nsg, "tags"), keys), str(model_field(nsg, "id") or "")),
        *(
            asg_item(
                str(model_field(a, "name")),
                tag_text(model_field(a, "tags"), keys),
                str(model_field(a, "id")),
            )
            for a in ours
        ),
        *(_live_rule(rule, plan.nsg_name, asg_names) for rule in rules),
    ]
    return compare(expected, live)
