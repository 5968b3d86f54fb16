"""Audit an Azure lab: its NSG's security rules and the resource group's application
security groups, as Azure Resource Manager reports them, against the plan.

The NSG is found by the plan's name in the given resource group (an NSG name is unique
there); every ASG of the resource group is read, and `azure_pairing` keeps the lab's
own (a resource group shared with other workloads is fine). This module reads ARM and
turns its errors into the CLI's; `azure_pairing` compares what it read with the plan and
`azure_live` puts the rules in Terraform's shape for the policy checks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from crm_ports.audit.azure_live import azure_live_resources
from crm_ports.audit.azure_pairing import compare_lab
from crm_ports.audit.model import AuditReport
from crm_ports.audit.policy import PolicyScope, policy_findings
from crm_ports.errors import InputError
from crm_ports.plans.azure import AzurePlan


class NetworkClient(Protocol):
    """The slice of `NetworkManagementClient` the audit reads through."""

    @property
    def network_security_groups(self) -> Any: ...

    @property
    def security_rules(self) -> Any: ...

    @property
    def application_security_groups(self) -> Any: ...

    @property
    def network_interfaces(self) -> Any: ...  # read by `crm-ports adopt azure` only


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


def _quiet_sdk_logs() -> None:
    """The SDK logs through `logging` with no handler of its own, so in a process that
    configures none (the CLI) Python's last-resort handler prints its warnings: an error
    body that is not JSON (a proxy's 502 page) comes out as a whole traceback of its
    "failsafe deserialization" above the one-line error. A NullHandler on `azure` keeps
    that out; a process that configures logging still gets every record."""
    sdk = logging.getLogger("azure")
    if not any(isinstance(handler, logging.NullHandler) for handler in sdk.handlers):
        sdk.addHandler(logging.NullHandler())


@contextmanager
def translated(target: AzureTarget, nsg_name: str, not_found: str | None = None) -> Iterator[None]:
    """azure-core's exceptions, as the one-line InputError the CLI prints with exit 2;
    `not_found` says what a 404 means to the caller (the audit: the lab is not there)."""
    _quiet_sdk_logs()
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
            f"{not_found} ({_arm_error(exc)})"
            if not_found
            else f"no such lab: network security group '{nsg_name}' not found "
            f"({_arm_error(exc)}); is the lab deployed in this resource group, and is "
            "--lab-name right?"
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
        if exc.status_code == 429 or (exc.status_code or 0) >= 500:
            # azure-core has already retried these (Retry-After or backoff): say it is
            # passing, not that the request was wrong
            busy = "throttled the audit" if exc.status_code == 429 else "failed"
            raise fail(
                f"Azure Resource Manager {busy} ({exc.status_code} {_arm_error(exc)}), "
                "still after the SDK's retries; run the audit again later"
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


def audit_azure(
    plan: AzurePlan,
    target: AzureTarget,
    client_factory: ClientFactory | None = None,
    policy: PolicyScope | None = None,
) -> AuditReport:
    """`client_factory` is the seam for tests (a client over a recorded transport);
    without it the real client is built with DefaultAzureCredential. With `policy`, the
    live rules are also judged by the policy checks."""

    with translated(target, plan.nsg_name):
        client = (client_factory or default_client)(target)
        nsg, rules, asgs = read_lab(client, target, plan.nsg_name)
    return AuditReport(
        cloud="azure",
        lab=plan.lab,
        scope=target.scope(),
        checked=(("application_security_groups", len(plan.asgs)), ("nsg_rules", len(plan.rules))),
        findings=compare_lab(plan, target.resource_group, nsg, rules, asgs),
        policy=(
            policy_findings(
                policy, f"azure-{plan.lab}", "azure", azure_live_resources(plan.nsg_name, rules)
            )
            if policy is not None
            else ()
        ),
    )
