"""A plan seen as Terraform sees it: `{resource address: attributes}`.

The diff, the stability tests and the synthesized-folder reader all compare resources by
address and attribute name, so they must agree on both. Addresses are the logical ids the
constructs give each resource (the plan keys); a peer rule that the constructs emit once
with `for_each` over the peer's CIDRs appears as one instance per CIDR,
`type.key["10.0.0.0/16"]`, which is what `terraform plan` lists.

An Azure NSG carries its rules inline (`security_rule`), all written by one update of the
NSG; each rule is still compared on its own, at the address
`azurerm_network_security_group.nsg.security_rule["<rule name>"]`, of kind
`AZURE_INLINE_RULE`: the rule's name is its identity in the set, never its place.

An adopted AWS group (`crm_ports.plans.aws.adopted`) carries its rules inline too
(`ingress` / `egress` blocks); each rule is compared on its own, one entry per source, at
`aws_security_group.<key>.ingress["<protocol> <from>-<to> <source>"]` (kinds
`AWS_INLINE_INGRESS` / `AWS_INLINE_EGRESS`), where the source is a CIDR or the address of
the group it references (the group itself for `self`). Its attributes are named as a
standalone rule's (`security_group_id` the holding group, `ip_protocol`, `cidr_ipv4`,
`referenced_security_group_id`, ...), so whatever reads rules reads both alike; the ports
of an all-traffic rule are unset, as a standalone rule's are.

An attribute holding another resource's id is a `Ref`: its value is unknown until that
resource exists, which is how a replaced security group drags its rules along.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_ports.lab.model import Lab
from crm_ports.plans.aws import ALL_TRAFFIC, AwsPlan, SgRuleSpec, plan_aws
from crm_ports.plans.azure import AzurePlan, NsgRuleSpec, default_resource_group, plan_azure
from crm_ports.ruleset import RuleSet

Resources = dict[str, dict[str, Any]]

AWS_VPC = "aws_vpc"
AWS_SUBNET = "aws_subnet"
AWS_SECURITY_GROUP = "aws_security_group"
AWS_INGRESS = "aws_vpc_security_group_ingress_rule"
AWS_EGRESS = "aws_vpc_security_group_egress_rule"
AWS_INLINE_INGRESS = "aws_security_group.ingress"
AWS_INLINE_EGRESS = "aws_security_group.egress"
AWS_INGRESS_KINDS = (AWS_INGRESS, AWS_INLINE_INGRESS)
AWS_EGRESS_KINDS = (AWS_EGRESS, AWS_INLINE_EGRESS)
AWS_RULE_KINDS = (*AWS_INGRESS_KINDS, *AWS_EGRESS_KINDS)
AZURE_RESOURCE_GROUP = "azurerm_resource_group"
AZURE_VNET = "azurerm_virtual_network"
AZURE_SUBNET = "azurerm_subnet"
AZURE_ASG = "azurerm_application_security_group"
AZURE_NSG = "azurerm_network_security_group"
AZURE_RULE = "azurerm_network_security_rule"
AZURE_INLINE_RULE = "azurerm_network_security_group.security_rule"
AZURE_RULE_KINDS = (AZURE_RULE, AZURE_INLINE_RULE)
NSG_KEY = "nsg"
_INLINE = ".security_rule["
_AWS_INLINE = {".ingress[": AWS_INLINE_INGRESS, ".egress[": AWS_INLINE_EGRESS}


@dataclass(frozen=True, order=True)
class Ref:
    """`${address.attribute}`: the id of another resource of the same stack."""

    address: str
    attribute: str = "id"

    def __str__(self) -> str:
        return f"${{{self.address}.{self.attribute}}}"


def resource_type(address: str) -> str:
    if address.startswith(f"{AZURE_NSG}.") and _INLINE in address:
        return AZURE_INLINE_RULE
    if address.startswith(f"{AWS_SECURITY_GROUP}."):
        for marker, kind in _AWS_INLINE.items():
            if marker in address:
                return kind
    return address.split(".", 1)[0]


def inline_rule_address(nsg_address: str, name: str) -> str:
    """The address of one rule in an NSG's inline set, by the rule's name."""
    return f'{nsg_address}{_INLINE}"{name}"]'


def holder_address(address: str) -> str:
    """The NSG or security group an inline rule belongs to (the address itself for any
    other resource)."""
    kind = resource_type(address)
    if kind == AZURE_INLINE_RULE:
        return address.split(_INLINE, 1)[0]
    for marker, inline in _AWS_INLINE.items():
        if kind == inline:
            return address.split(marker, 1)[0]
    return address


def aws_inline_address(
    holder: str,
    direction: str,
    protocol: str,
    from_port: int | None,
    to_port: int | None,
    source: str,
) -> str:
    """The address of one rule (one source) in an adopted group's inline set: by what EC2
    identifies a rule by, never by its place. `source` is a CIDR or a group's address."""
    ports = "all" if from_port is None or to_port is None else f"{from_port}-{to_port}"
    return f'{holder}.{direction}["{protocol} {ports} {source}"]'


def _compact(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sorted(attributes.items()) if v is not None}


def aws_rule_address(spec: SgRuleSpec) -> str:
    kind = AWS_INGRESS if spec.direction == "ingress" else AWS_EGRESS
    if spec.cidr_peer is not None:
        return f'{kind}.{spec.base_key}["{spec.cidr_ipv4}"]'
    return f"{kind}.{spec.key}"


def aws_import_blocks(plan: AwsPlan, prefix: str = "") -> list[dict[str, str]]:
    """Terraform `import` blocks (`{"to": address, "id": live id}`) for an adopted
    estate's groups, in address order. Their rules need none: an adopted group holds
    them inline, and the group's import reads them all."""
    out = [
        {"to": f"{AWS_SECURITY_GROUP}.{prefix}{sg.key}", "id": sg.import_id}
        for sg in plan.security_groups
        if sg.import_id is not None
    ]
    return sorted(out, key=lambda block: block["to"])


def azure_import_blocks(plan: AzurePlan, prefix: str = "") -> list[dict[str, str]]:
    """Terraform `import` blocks for an adopted Azure estate: the NSG and each adopted
    ASG, by ARM id, in address order. The NSG's rules are its inline `security_rule`
    set, read with it: an `azurerm_network_security_rule` import beside that set would
    have no resource to land on, and two owners of one rule fight over it."""
    out = [
        {"to": f"{AZURE_ASG}.{prefix}{asg.key}", "id": asg.import_id}
        for asg in plan.asgs
        if asg.import_id is not None
    ]
    if plan.nsg_import_id is not None:
        out.append({"to": f"{AZURE_NSG}.{prefix}{NSG_KEY}", "id": plan.nsg_import_id})
    return sorted(out, key=lambda block: block["to"])


def aws_resources(plan: AwsPlan) -> Resources:
    """Security groups and their rules, with the attribute names of hashicorp/aws (an
    adopted group's inline rules by source, named as standalone rules' attributes)."""
    groups = {sg.group: f"{AWS_SECURITY_GROUP}.{sg.key}" for sg in plan.security_groups}
    out: Resources = {}
    for sg in plan.security_groups:
        out[groups[sg.group]] = _compact(
            {"name": sg.name, "description": sg.description, "tags": dict(sg.tags)}
        )
    for spec in plan.rules:
        out[_aws_address(spec, groups)] = _compact(
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
                "tags": None if spec.inline else dict(spec.tags),
            }
        )
    return dict(sorted(out.items()))


def _aws_address(spec: SgRuleSpec, groups: dict[str, str]) -> str:
    if not spec.inline:
        return aws_rule_address(spec)
    source = groups[spec.peer_group] if spec.peer_group else str(spec.cidr_ipv4)
    return aws_inline_address(
        groups[spec.group], spec.direction, spec.ip_protocol, spec.from_port, spec.to_port, source
    )


def aws_inline_rule_ids(plan: AwsPlan) -> dict[str, tuple[str, ...]]:
    """Inline rule address -> the rule id it renders: what a standalone rule's
    `crm-ports:rule` tag says, which an inline rule cannot carry."""
    groups = {sg.group: f"{AWS_SECURITY_GROUP}.{sg.key}" for sg in plan.security_groups}
    return {
        _aws_address(spec, groups): (
            f"{spec.group}.{ALL_TRAFFIC}" if spec.rule_id == ALL_TRAFFIC else spec.rule_id,
        )
        for spec in plan.rules
        if spec.inline
    }


def _azure_rule(spec: NsgRuleSpec, asgs: dict[str, str]) -> dict[str, Any]:
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
            "destination_port_range": "*" if every_port else None,
            "destination_port_ranges": None if every_port else tuple(spec.port_ranges),
            "description": spec.description,
            **source,
            **target,
        }
    )


def azure_resources(plan: AzurePlan) -> Resources:
    """ASGs, the lab's NSG and its inline rules, with the attribute names of hashicorp/azurerm."""
    asgs = {asg.group: f"{AZURE_ASG}.{asg.key}" for asg in plan.asgs}
    nsg = f"{AZURE_NSG}.{NSG_KEY}"
    out: Resources = {nsg: {"name": plan.nsg_name, "tags": dict(plan.tags)}}
    for asg in plan.asgs:
        out[asgs[asg.group]] = {"name": asg.name, "tags": dict(asg.tags)}
    for spec in plan.rules:
        out[nsg_rule_address(spec)] = _azure_rule(spec, asgs)
    return dict(sorted(out.items()))


def nsg_rule_address(spec: NsgRuleSpec) -> str:
    """Where a planned NSG rule lives: in the lab NSG's inline set."""
    return inline_rule_address(f"{AZURE_NSG}.{NSG_KEY}", spec.name)


def lab_resources(lab: Lab, ruleset: RuleSet, cloud: str, *, network: bool = True) -> Resources:
    """The resources a lab's stack on `cloud` holds; none when the lab skips that cloud.

    Besides the plan's groups and rules, with `network` the network they live in, as the
    lab file sets it (the stack variables' defaults): a security group's VPC, an ASG's or
    the NSG's location and resource group force a replacement when they change, and so
    does what replaces the VPC, subnet, resource group or virtual network the stack
    creates. Compare two sides with `network` only when both know theirs."""
    if cloud not in lab.clouds:
        return {}
    if cloud == "aws":
        plan = plan_aws(
            ruleset, lab.name, egress=lab.aws.egress, origin=lab.origin, adopt=lab.adopt
        )
        out = aws_resources(plan)
        if not network:
            return out
        out.update(_aws_network(lab))
        vpc = lab.aws.vpc_id or Ref(f"{AWS_VPC}.lab[0]")
        return _placed(out, (AWS_SECURITY_GROUP,), {"vpc_id": vpc})
    out = azure_resources(plan_azure(ruleset, lab.name, origin=lab.origin, adopt=lab.adopt_azure))
    if not network:
        return out
    out.update(_azure_network(lab))
    # The stack's own resource group has a fixed name, known at plan time even when the
    # group is replaced; only a name the lab gives differs.
    group = lab.azure.resource_group_name or default_resource_group(lab.name)
    where = {"location": lab.azure.location, "resource_group_name": group}
    return _placed(out, (AZURE_ASG, AZURE_NSG), where)


def _aws_network(lab: Lab) -> Resources:
    """The VPC and subnet the AWS stack creates when the lab names no VPC."""
    if lab.aws.vpc_id:
        return {}
    vpc = f"{AWS_VPC}.lab[0]"
    return {
        vpc: {"cidr_block": lab.aws.vpc_cidr},
        f"{AWS_SUBNET}.lab[0]": {"cidr_block": lab.aws.subnet_cidr, "vpc_id": Ref(vpc)},
    }


def _azure_network(lab: Lab) -> Resources:
    """The resource group, virtual network and subnet the Azure stack creates when the
    lab names none."""
    out: Resources = {}
    group = lab.azure.resource_group_name or default_resource_group(lab.name)
    if not lab.azure.resource_group_name:
        out[f"{AZURE_RESOURCE_GROUP}.lab[0]"] = {"name": group, "location": lab.azure.location}
    if not lab.azure.subnet_id:
        vnet = f"{AZURE_VNET}.lab[0]"
        out[vnet] = {
            "name": f"{lab.name}-vnet",
            "location": lab.azure.location,
            "resource_group_name": group,
            "address_space": (lab.azure.vnet_cidr,),
        }
        out[f"{AZURE_SUBNET}.lab[0]"] = {
            "name": "crm",
            "resource_group_name": group,
            "virtual_network_name": Ref(vnet, "name"),
            "address_prefixes": (lab.azure.subnet_cidr,),
        }
    return out


def _placed(out: Resources, kinds: tuple[str, ...], network: dict[str, Any]) -> Resources:
    """`out` with the network attributes on each resource of `kinds`, sorted by address."""
    for address in list(out):
        if resource_type(address) in kinds:
            out[address] = {**out[address], **network}
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
