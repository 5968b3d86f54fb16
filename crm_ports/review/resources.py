"""A plan seen as Terraform sees it: `{resource address: attributes}`.

The diff, the stability tests and the synthesized-folder reader all compare resources by
address and attribute name, so they must agree on both. Addresses are the logical ids the
constructs give each resource (the plan keys); a peer rule that the constructs emit once
with `for_each` over the peer's CIDRs appears as one instance per CIDR,
`type.key["10.0.0.0/16"]`, which is what `terraform plan` lists.

An attribute holding another resource's id is a `Ref`: its value is unknown until that
resource exists, which is how a replaced security group drags its rules along.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_ports.plans.aws import AwsPlan, SgRuleSpec
from crm_ports.plans.azure import AzurePlan, NsgRuleSpec

Resources = dict[str, dict[str, Any]]

AWS_SECURITY_GROUP = "aws_security_group"
AWS_INGRESS = "aws_vpc_security_group_ingress_rule"
AWS_EGRESS = "aws_vpc_security_group_egress_rule"
AZURE_ASG = "azurerm_application_security_group"
AZURE_NSG = "azurerm_network_security_group"
AZURE_RULE = "azurerm_network_security_rule"
NSG_KEY = "nsg"


@dataclass(frozen=True, order=True)
class Ref:
    """`${address.attribute}`: the id of another resource of the same stack."""

    address: str
    attribute: str = "id"

    def __str__(self) -> str:
        return f"${{{self.address}.{self.attribute}}}"


def resource_type(address: str) -> str:
    return address.split(".", 1)[0]


def _compact(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sorted(attributes.items()) if v is not None}


def aws_rule_address(spec: SgRuleSpec) -> str:
    kind = AWS_INGRESS if spec.direction == "ingress" else AWS_EGRESS
    if spec.cidr_peer is not None:
        return f'{kind}.{spec.base_key}["{spec.cidr_ipv4}"]'
    return f"{kind}.{spec.key}"


def aws_resources(plan: AwsPlan) -> Resources:
    """Security groups and their rules, with the attribute names of hashicorp/aws."""
    groups = {sg.group: f"{AWS_SECURITY_GROUP}.{sg.key}" for sg in plan.security_groups}
    out: Resources = {}
    for sg in plan.security_groups:
        out[groups[sg.group]] = _compact(
            {"name": sg.name, "description": sg.description, "tags": dict(sg.tags)}
        )
    for spec in plan.rules:
        out[aws_rule_address(spec)] = _compact(
            {
                "security_group_id": Ref(groups[spec.group]),
                "ip_protocol": spec.ip_protocol,
                "from_port": spec.from_port,
                "to_port": spec.to_port,
                "cidr_ipv4": spec.cidr_ipv4,
                "referenced_security_group_id": (
                    Ref(groups[spec.peer_group]) if spec.peer_group else None
                ),
                "description": spec.description,
                "tags": dict(spec.tags),
            }
        )
    return dict(sorted(out.items()))


def _azure_rule(spec: NsgRuleSpec, asgs: dict[str, str], nsg_name: str) -> dict[str, Any]:
    every_port = spec.port_ranges == ("*",)
    source: dict[str, Any] = {}
    if spec.source_group is not None:
        source["source_application_security_group_ids"] = (Ref(asgs[spec.source_group]),)
    elif spec.source_peer is not None:
        source["source_address_prefixes"] = tuple(spec.source_prefixes)
    else:
        source["source_address_prefix"] = spec.source_prefixes[0]
    target: dict[str, Any] = (
        {"destination_address_prefix": "*"}
        if spec.target_group is None
        else {"destination_application_security_group_ids": (Ref(asgs[spec.target_group]),)}
    )
    return _compact(
        {
            "name": spec.name,
            "priority": spec.priority,
            "direction": spec.direction,
            "access": spec.access,
            "protocol": spec.protocol,
            "network_security_group_name": nsg_name,
            "destination_port_range": "*" if every_port else None,
            "destination_port_ranges": None if every_port else tuple(spec.port_ranges),
            "description": spec.description,
            **source,
            **target,
        }
    )


def azure_resources(plan: AzurePlan) -> Resources:
    """ASGs, the lab's NSG and its rules, with the attribute names of hashicorp/azurerm."""
    asgs = {asg.group: f"{AZURE_ASG}.{asg.key}" for asg in plan.asgs}
    out: Resources = {
        f"{AZURE_NSG}.{NSG_KEY}": {"name": plan.nsg_name, "tags": dict(plan.tags)},
    }
    for asg in plan.asgs:
        out[asgs[asg.group]] = {"name": asg.name, "tags": dict(asg.tags)}
    for spec in plan.rules:
        out[f"{AZURE_RULE}.{spec.key}"] = _azure_rule(spec, asgs, plan.nsg_name)
    return dict(sorted(out.items()))


def plain(value: Any) -> Any:
    """An attribute value as JSON: references as Terraform interpolations, tuples as lists."""
    if isinstance(value, Ref):
        return str(value)
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in sorted(value.items())}
    return value
