"""A lab: one hosted CRM lab (name, clouds, topology, options, peer CIDRs, the per-cloud
settings the stacks need, waivers, the state backend, its own placement and lab-local
rules). A lab file, and the construct API, are ways to build one. The default labs are
both topologies with every option at its default, on both clouds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from crm_ports.errors import InputError
from crm_ports.lab.adoption import AdoptedGroup
from crm_ports.lab.azure_adoption import AdoptedAzure
from crm_ports.lab.backend import LOCAL, Backend
from crm_ports.lab.extra import ExtraRule
from crm_ports.options import Options

if TYPE_CHECKING:  # a lab's own hosts load their module where a lab gives them
    from crm_ports.lab.placement import Placement

CLOUDS = ("aws", "azure")
TOPOLOGIES = ("full-server", "split-roles")
TOP_LEVEL_OPTIONS = ("topology", "client_cidrs", "admin_cidrs", "mail_cidrs")


@dataclass(frozen=True)
class AwsSettings:
    region: str = "us-east-1"
    vpc_id: str | None = None
    vpc_cidr: str = "10.42.0.0/16"
    subnet_cidr: str = "10.42.1.0/24"
    egress: str = "allow-all"  # or "strict": only the catalogue's flows
    endpoint_url: str | None = None  # a local EC2 emulator (moto); never the default


@dataclass(frozen=True)
class AzureSettings:
    location: str = "westeurope"
    resource_group_name: str | None = None
    vnet_cidr: str = "10.43.0.0/16"
    subnet_cidr: str = "10.43.1.0/24"
    subnet_id: str | None = None


@dataclass(frozen=True)
class Waiver:
    check: str
    reason: str
    rule: str | None = None


@dataclass(frozen=True)
class Lab:
    name: str
    options: Options
    clouds: tuple[str, ...] = CLOUDS
    aws: AwsSettings = AwsSettings()
    azure: AzureSettings = AzureSettings()
    waivers: tuple[Waiver, ...] = ()
    backend: Backend = LOCAL
    origin: str = field(default="<default lab>", compare=False)
    placement: Placement | None = None  # the lab's own hosts, resolved as `options.topology`
    extra_rules: tuple[ExtraRule, ...] = ()
    # An adopted estate (`crm_ports.lab.adoption`): the live groups its hosts take over.
    adopt: tuple[AdoptedGroup, ...] = ()
    # An adopted Azure estate: the live NSG and ASGs the lab takes over.
    adopt_azure: AdoptedAzure | None = None
    # False for a lab read back from a synthesized folder that did not record its network
    # (an older crm-ports): a review then leaves the network out of its comparison.
    network_known: bool = field(default=True, compare=False)

    def stack_name(self, cloud: str) -> str:
        return f"{cloud}-{self.name}"

    def adopted(self, host: str) -> AdoptedGroup | None:
        return next((a for a in self.adopt if a.host == host), None)

    @property
    def adopted_estate(self) -> bool:
        """The lab takes a hand-built estate over (on either cloud): its servers hold
        only their own group, so no group every server carries is planned."""
        return bool(self.adopt) or self.adopt_azure is not None


def relocated(lab: Lab, origin: str) -> Lab:
    """The same lab, every location naming `origin` (a file read from a git ref is named
    `REF:path`, never by the temporary checkout it was read from)."""
    placement = lab.placement
    if placement is not None:
        hosts = tuple(
            replace(h, location=replace(h.location, file=origin)) for h in placement.hosts
        )
        placement = replace(placement, origin=origin, hosts=hosts)
    extras = tuple(replace(e, location=replace(e.location, file=origin)) for e in lab.extra_rules)
    adopt = tuple(replace(a, location=replace(a.location, file=origin)) for a in lab.adopt)
    azure = lab.adopt_azure
    if azure is not None:
        azure = replace(azure, location=replace(azure.location, file=origin))
    return replace(
        lab,
        origin=origin,
        placement=placement,
        extra_rules=extras,
        adopt=adopt,
        adopt_azure=azure,
    )


def default_labs() -> tuple[Lab, ...]:
    """The labs `cdktf.json`'s app and `crm-ports synth` build when given none."""
    return tuple(
        Lab(name=t, options=Options(topology=t, origin=f"<default lab {t}>"), origin="default labs")
        for t in TOPOLOGIES
    )


def refuse_repeated_names(labs: Iterable[Lab], why: str) -> None:
    """Two lab files of one lab name would mix their findings, drawings and stacks
    (`<cloud>-<lab>`): the second is refused, naming the first; `why` ends the message."""
    seen: dict[str, str] = {}
    for lab in labs:
        if lab.name in seen:
            raise InputError(
                lab.origin,
                f"lab '{lab.name}'",
                "name",
                f"name already used by {seen[lab.name]}: {why}",
            )
        seen[lab.name] = lab.origin
