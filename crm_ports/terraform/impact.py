"""What Terraform would do to go from one set of resources to another.

Whether a changed attribute is updated in place or forces a new resource is the
provider's decision, so it is kept here as data, next to the plans, taken from the
providers' schemas:

- hashicorp/aws `aws_security_group`: `name`, `name_prefix`, `description` and `vpc_id`
  are ForceNew; tags update in place. The stacks ignore changes to `description`
  (`lifecycle.ignore_changes`), so only the other three can replace a group.
- hashicorp/aws `aws_vpc_security_group_ingress_rule` / `_egress_rule` (plugin framework):
  only `security_group_id` has RequiresReplace; ports, protocol, CIDR, referenced group,
  description and tags are changed by ModifySecurityGroupRules. Its ModifyPlan also
  replaces the rule when the *kind* of source changes (CIDR to referenced group, ...),
  because EC2 cannot change a rule's source type.
- hashicorp/azurerm `azurerm_network_security_rule`: `name`, `resource_group_name` and
  `network_security_group_name` are ForceNew; priority, ports, prefixes, ASGs, access,
  protocol and description are updated in place.
- an NSG's inline `security_rule`: every rule added, changed or removed is part of one
  in-place update of the NSG (one request to Azure), so nothing about a rule forces a
  replacement.
- an adopted `aws_security_group`'s inline `ingress` / `egress`: the provider revokes
  the rules that leave the set and authorizes those that join it, in place; a rule's
  source is part of its address, so only its description can change, and that too is
  an in-place revoke and authorize of the group's rule, never a replacement.
- hashicorp/azurerm `azurerm_application_security_group` and
  `azurerm_network_security_group`: `name`, `location` and `resource_group_name` are
  ForceNew; tags update in place.
- the network the stacks create when the lab names none: hashicorp/aws `aws_vpc`
  (`cidr_block` is ForceNew) and `aws_subnet` (`cidr_block`, `vpc_id`); hashicorp/azurerm
  `azurerm_resource_group` (`name`, `location`), `azurerm_virtual_network` (`name`,
  `location`, `resource_group_name`; its address space updates in place) and
  `azurerm_subnet` (`name`, `resource_group_name`, `virtual_network_name`; its prefixes
  update in place).

An attribute that refers to a resource being created or replaced is unknown at plan time,
so it counts as changed: a replaced security group replaces every rule it holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crm_ports.plans.aws import GROUP_IGNORED_CHANGES
from crm_ports.terraform.resources import (
    AWS_EGRESS,
    AWS_INGRESS,
    AWS_INLINE_EGRESS,
    AWS_INLINE_INGRESS,
    AWS_SECURITY_GROUP,
    AWS_SUBNET,
    AWS_VPC,
    AZURE_ASG,
    AZURE_INLINE_RULE,
    AZURE_NSG,
    AZURE_RESOURCE_GROUP,
    AZURE_RULE,
    AZURE_SUBNET,
    AZURE_VNET,
    Ref,
    Resources,
    plain,
    resource_type,
)

FORCE_NEW: Mapping[str, frozenset[str]] = {
    AWS_VPC: frozenset({"cidr_block"}),
    AWS_SUBNET: frozenset({"cidr_block", "vpc_id"}),
    AZURE_RESOURCE_GROUP: frozenset({"name", "location"}),
    AZURE_VNET: frozenset({"name", "location", "resource_group_name"}),
    AZURE_SUBNET: frozenset({"name", "resource_group_name", "virtual_network_name"}),
    AWS_SECURITY_GROUP: frozenset({"name", "name_prefix", "description", "vpc_id"}),
    AWS_INGRESS: frozenset({"security_group_id"}),
    AWS_EGRESS: frozenset({"security_group_id"}),
    AZURE_ASG: frozenset({"name", "location", "resource_group_name"}),
    AZURE_NSG: frozenset({"name", "location", "resource_group_name"}),
    AZURE_RULE: frozenset({"name", "resource_group_name", "network_security_group_name"}),
    AZURE_INLINE_RULE: frozenset(),
    AWS_INLINE_INGRESS: frozenset(),
    AWS_INLINE_EGRESS: frozenset(),
}

# What the stacks tell Terraform to leave as deployed (`lifecycle.ignore_changes`).
IGNORED: Mapping[str, frozenset[str]] = {AWS_SECURITY_GROUP: frozenset(GROUP_IGNORED_CHANGES)}

# EC2 cannot change what kind of source a rule has; the provider replaces the rule instead.
SOURCE_KIND: Mapping[str, tuple[str, ...]] = {
    kind: ("cidr_ipv4", "cidr_ipv6", "prefix_list_id", "referenced_security_group_id")
    for kind in (AWS_INGRESS, AWS_EGRESS)
}

ACTIONS = ("create", "update", "replace", "delete")


@dataclass(frozen=True)
class ResourceChange:
    address: str
    action: str  # one of ACTIONS
    attributes: tuple[str, ...] = ()  # attributes whose value changes (update, replace)
    forced_by: tuple[str, ...] = ()  # the attributes that force the replacement
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None

    @property
    def type(self) -> str:
        return resource_type(self.address)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"address": self.address, "action": self.action}
        if self.attributes:
            out["attributes"] = list(self.attributes)
        if self.forced_by:
            out["forced_by"] = list(self.forced_by)
        if self.before is not None:
            out["before"] = plain(dict(self.before))
        if self.after is not None:
            out["after"] = plain(dict(self.after))
        return out


def _source_kind(kind: str, attributes: Mapping[str, Any]) -> str | None:
    return next((a for a in SOURCE_KIND.get(kind, ()) if attributes.get(a) is not None), None)


def _refs(value: Any) -> list[Ref]:
    if isinstance(value, Ref):
        return [value]
    if isinstance(value, tuple | list):
        return [r for item in value for r in _refs(item)]
    return []


def _changed(
    kind: str, before: Mapping[str, Any], after: Mapping[str, Any], renewed: set[str]
) -> tuple[str, ...]:
    """Attributes whose planned value differs, counting references to renewed resources;
    attributes Terraform is told to ignore never count."""
    out = []
    for name in sorted(set(before) | set(after)):
        if name in IGNORED.get(kind, frozenset()):
            continue
        old, new = before.get(name), after.get(name)
        if old != new or any(r.address in renewed for r in _refs(new)):
            out.append(name)
    return tuple(out)


def compare(base: Resources, head: Resources) -> tuple[ResourceChange, ...]:
    """Per-resource actions, sorted by address; unchanged resources are left out.

    Replacement spreads through references, so actions are recomputed until no new
    resource is renewed (created or replaced); each pass can only add to that set."""
    renewed = {a for a in head if a not in base}
    while True:
        changes: dict[str, ResourceChange] = {}
        for address in sorted(set(base) | set(head)):
            if address not in head:
                changes[address] = ResourceChange(address, "delete", before=base[address])
                continue
            if address not in base:
                changes[address] = ResourceChange(address, "create", after=head[address])
                continue
            before, after = base[address], head[address]
            kind = resource_type(address)
            attributes = _changed(kind, before, after, renewed)
            if not attributes:
                continue
            forced = [a for a in attributes if a in FORCE_NEW.get(kind, frozenset())]
            if _source_kind(kind, before) != _source_kind(kind, after):
                forced.extend(a for a in SOURCE_KIND[kind] if a in attributes)
            action = "replace" if forced else "update"
            changes[address] = ResourceChange(
                address, action, attributes, tuple(sorted(set(forced))), before, after
            )
        now = renewed | {a for a, c in changes.items() if c.action == "replace"}
        if now == renewed:
            return tuple(changes[a] for a in sorted(changes))
        renewed = now


def counts(changes: tuple[ResourceChange, ...]) -> dict[str, int]:
    """Action -> number of resources, every action present (for stable summaries)."""
    out = dict.fromkeys(ACTIONS, 0)
    for change in changes:
        out[change.action] += 1
    return out
