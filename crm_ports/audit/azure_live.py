"""ARM's SDK models, read alike across azure-mgmt-network releases, and an NSG's live
rules in Terraform's shape for the policy checks.

The checks read a synthesized stack's resources; handing them the live rules in that
same shape lets each check keep one implementation for what is planned and what is live
(see `audit.policy`). Pairing reads the same models, through the same two helpers.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from crm_ports.terraform.resources import AZURE_NSG, AZURE_RULE, NSG_KEY, Resources


def model_field(model: Any, name: str) -> Any:
    """A property of an SDK model by its flattened name: azure-mgmt-network < 30 exposes
    only `rule.priority`, later releases also keep it there (beside `rule.properties`)."""
    return getattr(model, name, None)


def model_text(value: Any) -> str:
    """A model value as ARM wrote it: the SDK turns some into enums (str() of which is
    `SecurityRuleAccess.ALLOW`, not `Allow`)."""
    if isinstance(value, Enum):
        return str(value.value)
    return "" if value is None else str(value)


def azure_live_resources(nsg_name: str, rules: list[Any]) -> Resources:
    """The NSG's security rules (SDK models) as resources, addressed by rule name."""
    out: Resources = {f"{AZURE_NSG}.{NSG_KEY}": {"name": nsg_name}}
    for rule in rules:
        attributes: dict[str, Any] = {
            "name": model_text(model_field(rule, "name")),
            "network_security_group_name": f"${{{AZURE_NSG}.{NSG_KEY}.name}}",
            "priority": model_field(rule, "priority"),
            "direction": model_text(model_field(rule, "direction")),
            "access": model_text(model_field(rule, "access")),
            "protocol": model_text(model_field(rule, "protocol")),
            "description": model_text(model_field(rule, "description")),
        }
        for name in (
            "source_address_prefix",
            "source_address_prefixes",
            "destination_address_prefix",
            "destination_port_range",
            "destination_port_ranges",
        ):
            value = model_field(rule, name)
            if value:
                attributes[name] = (
                    tuple(model_text(v) for v in value)
                    if isinstance(value, list)
                    else model_text(value)
                )
        out[f"{AZURE_RULE}.{attributes['name']}"] = attributes
    return dict(sorted(out.items()))
