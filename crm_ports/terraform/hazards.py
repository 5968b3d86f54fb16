"""What a change would do to what servers hold: the danger a plan review must show.

Servers hold their security groups (AWS instances through their network interfaces,
Azure NICs their ASGs, a subnet its NSG) and sit in a subnet, and neither cloud deletes
one of them in use: EC2 answers `DependencyViolation`, Azure `InUse...CannotBeDeleted`.
Terraform replaces a resource by deleting the old one, so an apply that replaces a group
or subnet its servers hold fails half-way, after other changes went through. One the
change replaces while it stays in the lab is therefore an error; a group the change
deletes with its host is a warning, since its servers must be stopped or moved to another
group first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crm_ports.terraform.impact import ResourceChange
from crm_ports.terraform.resources import (
    AWS_SECURITY_GROUP,
    AWS_SUBNET,
    AZURE_ASG,
    AZURE_NSG,
    AZURE_SUBNET,
)

ERROR = "error"
WARNING = "warning"

# group resource type -> (what it is, who holds it, what they lose, how the cloud refuses
# to delete it)
HOLDERS = {
    AWS_SECURITY_GROUP: (
        "security group",
        "its servers",
        "its servers lose the group",
        "EC2 refuses to delete a group in use (DependencyViolation)",
    ),
    AZURE_ASG: (
        "application security group",
        "its servers' network interfaces",
        "its servers' network interfaces lose the group",
        "Azure refuses to delete an application security group in use",
    ),
    AZURE_NSG: (
        "network security group",
        "the lab's subnet",
        "the lab's subnet loses its rules",
        "Azure refuses to delete a network security group in use",
    ),
    AWS_SUBNET: (
        "subnet",
        "its servers' network interfaces",
        "its servers' network interfaces are in it",
        "EC2 refuses to delete a subnet in use (DependencyViolation)",
    ),
    AZURE_SUBNET: (
        "subnet",
        "its servers' network interfaces",
        "its servers' network interfaces are in it",
        "Azure refuses to delete a subnet in use",
    ),
}


@dataclass(frozen=True)
class GroupHazard:
    severity: str  # ERROR: replaced while it stays; WARNING: deleted with its host
    cloud: str
    stack: str
    address: str
    name: str  # the group's name in the cloud
    action: str  # "replace" | "delete"
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "cloud": self.cloud,
            "stack": self.stack,
            "address": self.address,
            "name": self.name,
            "action": self.action,
            "message": self.message,
        }


def group_hazards(
    cloud: str, stack: str, changes: Sequence[ResourceChange]
) -> tuple[GroupHazard, ...]:
    """The hazards among one stack's resource changes, in address order.

    A group deleted at one address while a group of the same name is created at another
    is the same group replaced (a renamed resource), so it counts as replaced."""
    created = {
        str((c.after or {}).get("name"))
        for c in changes
        if c.action == "create" and c.type in HOLDERS
    }
    out = []
    for change in changes:
        if change.type not in HOLDERS or change.action not in ("replace", "delete"):
            continue
        what, holders, loss, refusal = HOLDERS[change.type]
        name = str((change.before or {}).get("name", change.address))
        if change.action == "replace" or name in created:
            forced = f" (forced by {', '.join(change.forced_by)})" if change.forced_by else ""
            severity, message = (
                ERROR,
                f"replaces {what} {name}{forced}: {loss}; {refusal}",
            )
        else:
            severity, message = (
                WARNING,
                f"deletes {what} {name}: detach {holders} first; {refusal}",
            )
        out.append(
            GroupHazard(severity, cloud, stack, change.address, name, change.action, message)
        )
    return tuple(out)
