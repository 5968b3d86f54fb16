"""Audit an Azure lab: its NSG's security rules and the resource group's application
security groups, as Azure Resource Manager reports them, against the plan.

The NSG is found by the plan's name in the given resource group (an NSG name is unique
there); ASGs by name, plus any other ASG carrying the lab's tag, so that one left behind
by an older plan shows up as unexpected. A resource group shared with other workloads is
fine: untagged ASGs that the plan does not name are not ours and are left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from crm_ports.audit.compare import Item, compare, tag_text
from crm_ports.audit.model import AuditReport, Finding
from crm_ports.audit.policy import PolicyScope, policy_findings
from crm_ports.errors import InputError
from crm_ports.plans.azure import AzurePlan, NsgRuleSpec
from crm_ports.plans.text import LAB_TAG
from crm_ports.terraform.resources import AZURE_NSG, AZURE_RULE, NSG_KEY, Resources

PROTOCOLS = {"tcp": "Tcp", "udp": "Udp", "icmp": "Icmp", "esp": "Esp", "ah": "Ah", "*": "*"}


class NetworkClient(Protocol):
    """The slice of `NetworkManagementClient` the audit reads through."""

    @property
    def network_security_groups(self) -> Any: ...

    @property
    def security_rules(self) -> Any: ...

    @property
    def application_security_groups(self) -> Any: ...


@dataclass(frozen=True)
class AzureTarget:
    subscription_id: str
    resource_group: str

    @property
    def where(self) -> str:
        return f"azure subscription {self.subscription_id} resource group {self.resource_group}"

    def scope(self) -> tuple[tuple[str, str], ...]:
        return (("subscription", self.subscription_id), ("resource_group", self.resource_group))


ClientFactory = Callable[[AzureTarget], NetworkClient]


def default_client(target: AzureTarget) -> NetworkClient:
    from azure.identity import DefaultAzureCredential
    from azure.mgmt.network import NetworkManagementClient

    client: NetworkClient = NetworkManagementClient(
        DefaultAzureCredential(), target.subscription_id
    )
    return client


def _field(model: Any, name: str) -> Any:
    """A property of an SDK model by its flattened name: azure-mgmt-network < 30 exposes
    only `rule.priority`, later releases also keep it there (beside `rule.properties`)."""
    return getattr(model, name, None)


def _text(value: Any) -> str:
    """A model value as ARM wrote it: the SDK turns some into enums (str() of which is
    `SecurityRuleAccess.ALLOW`, not `Allow`)."""
    if isinstance(value, Enum):
        return str(value.value)
    return "" if value is None else str(value)


def _arm_error(exc: Any) -> str:
    """`CODE: message` from an ARM error body, whichever way the SDK surfaced it."""
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None)
    if not code:
        try:
            body = exc.response.json().get("error", {})
            code, message = body.get("code"), body.get("message")
        except Exception:  # a non-JSON body: fall back to the exception's own text
            code, message = None, None
    text = f"{code}: {message}" if code else str(getattr(exc, "message", exc))
    return " ".join(text.split())


@contextmanager
def _translated(target: AzureTarget, nsg_name: str) -> Iterator[None]:
    """azure-core's exceptions, as the one-line InputError the CLI prints with exit 2."""
    from azure.core.exceptions import (
        AzureError,
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
    )

    def fail(message: str) -> InputError:
        return InputError(target.where, "", "", message)

    try:
        yield
    except ResourceNotFoundError as exc:
        raise fail(
            f"no such lab: network security group '{nsg_name}' not found ({_arm_error(exc)}); "
            "is the lab deployed in this resource group, and is --lab-name right?"
        ) from None
    except ClientAuthenticationError as exc:
        first = str(getattr(exc, "message", exc)).strip().splitlines() or [""]
        raise fail(
            f"no usable Azure credentials: {first[0]} (sign in with `az login`, or set "
            "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET)"
        ) from None
    except HttpResponseError as exc:
        if exc.status_code == 403:
            raise fail(
                f"access denied ({_arm_error(exc)}); the audit needs "
                "Microsoft.Network/networkSecurityGroups/read and "
                "Microsoft.Network/applicationSecurityGroups/read (e.g. the Reader role)"
            ) from None
        raise fail(f"Azure refused the request ({exc.status_code} {_arm_error(exc)})") from None
    except ServiceRequestError as exc:
        raise fail(f"cannot reach Azure Resource Manager: {exc.message}") from None
    except AzureError as exc:
        raise fail(str(exc.message)) from None


def read_lab(client: NetworkClient, target: AzureTarget, nsg_name: str) -> tuple[Any, Any, Any]:
    """The NSG (for its tags), its security rules and the resource group's ASGs."""
    group = target.resource_group
    nsg = client.network_security_groups.get(group, nsg_name)
    rules = list(client.security_rules.list(group, nsg_name))
    asgs = list(client.application_security_groups.list(group))
    return nsg, rules, asgs


def _port_key(text: str) -> tuple[int, str]:
    head = text.split("-", 1)[0]
    return (int(head) if head.isdigit() else -1, text)


def _join(values: Any) -> str:
    return ",".join(sorted({_text(v) for v in values}, key=_port_key))


def _either(model: Any, many: str, one: str) -> str:
    """ARM keeps one value in `x` and several in `xs`; either way it is one set here."""
    values = _field(model, many) or ([_field(model, one)] if _field(model, one) else [])
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
        refs = _field(rule, asgs) or []
        if refs:
            ids = [str(_field(ref, "id") or "") for ref in refs]
            return ",".join(sorted(f"asg:{asg_names.get(i.lower(), i)}" for i in ids))
        return _either(rule, prefixes, prefix)

    protocol = _text(_field(rule, "protocol"))
    values = {
        "priority": _text(_field(rule, "priority")),
        "direction": _text(_field(rule, "direction")),
        "access": _text(_field(rule, "access")),
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
        "description": _text(_field(rule, "description")),
    }
    return _rule_item(container, str(_field(rule, "name")), values, str(_field(rule, "id") or ""))


def compare_lab(
    plan: AzurePlan, target: AzureTarget, nsg: Any, rules: Any, asgs: Any
) -> tuple[Finding, ...]:
    """Findings for the live NSG, its rules and the ASGs against the plan."""
    keys = frozenset(k for asg in plan.asgs for k, _ in asg.tags) | {k for k, _ in plan.tags}
    group = target.resource_group
    planned = {asg.name.lower() for asg in plan.asgs}
    ours = [
        a
        for a in asgs
        if str(_field(a, "name")).lower() in planned
        or dict(_field(a, "tags") or {}).get(LAB_TAG) == plan.lab
    ]
    asg_names = {str(_field(a, "id")).lower(): str(_field(a, "name")) for a in asgs}

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
        nsg_item(tag_text(_field(nsg, "tags"), keys), str(_field(nsg, "id") or "")),
        *(
            asg_item(
                str(_field(a, "name")), tag_text(_field(a, "tags"), keys), str(_field(a, "id"))
            )
            for a in ours
        ),
        *(_live_rule(rule, plan.nsg_name, asg_names) for rule in rules),
    ]
    return compare(expected, live)


def audit_azure(
    plan: AzurePlan,
    target: AzureTarget,
    client_factory: ClientFactory | None = None,
    policy: PolicyScope | None = None,
) -> AuditReport:
    """`client_factory` is the seam for tests (a client over a recorded transport);
    without it the real client is built with DefaultAzureCredential. With `policy`, the
    live rules are also judged by the policy checks."""

    with _translated(target, plan.nsg_name):
        client = (client_factory or default_client)(target)
        nsg, rules, asgs = read_lab(client, target, plan.nsg_name)
    return AuditReport(
        cloud="azure",
        lab=plan.lab,
        scope=target.scope(),
        checked=(("application_security_groups", len(plan.asgs)), ("nsg_rules", len(plan.rules))),
        findings=compare_lab(plan, target, nsg, rules, asgs),
        policy=(
            policy_findings(
                policy, f"azure-{plan.lab}", "azure", azure_live_resources(plan.nsg_name, rules)
            )
            if policy is not None
            else ()
        ),
    )


# -- live rules in Terraform's shape, for the policy checks --------------------------------


def azure_live_resources(nsg_name: str, rules: list[Any]) -> Resources:
    """The NSG's security rules (SDK models) as resources, addressed by rule name."""
    out: Resources = {f"{AZURE_NSG}.{NSG_KEY}": {"name": nsg_name}}
    for rule in rules:
        attributes: dict[str, Any] = {
            "name": _text(_field(rule, "name")),
            "network_security_group_name": f"${{{AZURE_NSG}.{NSG_KEY}.name}}",
            "priority": _field(rule, "priority"),
            "direction": _text(_field(rule, "direction")),
            "access": _text(_field(rule, "access")),
            "protocol": _text(_field(rule, "protocol")),
            "description": _text(_field(rule, "description")),
        }
        for name in (
            "source_address_prefix",
            "source_address_prefixes",
            "destination_address_prefix",
            "destination_port_range",
            "destination_port_ranges",
        ):
            value = _field(rule, name)
            if value:
                attributes[name] = (
                    tuple(_text(v) for v in value) if isinstance(value, list) else _text(value)
                )
        out[f"{AZURE_RULE}.{attributes['name']}"] = attributes
    return dict(sorted(out.items()))
