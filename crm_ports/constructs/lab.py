"""Per-role constructs, the cloud-neutral part: declare hosts by their CRM roles and
attach the result to your own instances; the rules between them appear because the
catalogue says so, whichever order the hosts were added in (the model is aws-cdk's
`connections`).

`AwsCrmLab` (`constructs.aws`) and `AzureCrmLab` (`constructs.azure`) build the same
`Lab` a lab file does (a placement, options, lab-local rules) through `LabModel` and
resolve it through the one data path when the app synthesizes: each host's security
group (ASG) exists from `add_host` on, so its id can go into an instance at once, while
its description, tags and every rule are filled in from the resolved plan at synthesis
(`DeferredBatch` and the clouds' deferred resources). Per-host mistakes (unknown role, a
role on two hosts, a bad name) raise at `add_host`; what needs every host (a required
role left unplaced) raises at synthesis, or earlier from `resolve()`. Nothing here knows
a cloud, so the cloud modules import this one and never the reverse.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from constructs import Construct

from crm_ports.catalogue.model import Catalogue, Location
from crm_ports.constructs.cdk import TerraformProvider
from crm_ports.constructs.resources._base import ResourceBatch
from crm_ports.lab.arguments import check_host
from crm_ports.lab.extra import ExtraRule
from crm_ports.lab.model import Lab
from crm_ports.lab.placement import Host, Placement, check_hosts
from crm_ports.options import Options
from crm_ports.resolver.engine import resolve_lab
from crm_ports.ruleset import RuleSet


class LabModel:
    """Hosts and lab rules as declared; resolved once, on first demand."""

    def __init__(self, name: str, options: Options, catalogue: Catalogue, where: str) -> None:
        self.name = name
        self.options = replace(options, topology=name, origin=where)
        self.catalogue = catalogue
        self.where = where
        self.hosts: list[Host] = []
        self.extra_rules: list[ExtraRule] = []
        self._rules: RuleSet | None = None
        members = catalogue.topologies[0].members_group if catalogue.topologies else "lab-servers"
        self.members_group = members

    def add_host(self, name: str, roles: Sequence[str]) -> Host:
        if self._rules is not None:
            raise RuntimeError(f"{self.where}: host {name!r} added after the lab was resolved")
        field = f"add_host[{len(self.hosts)}]"
        given = check_host(self.where, field, name, roles)
        host = Host(name, given, Location(self.where), field)
        check_hosts(self.catalogue, self._placement([*self.hosts, host]))
        self.hosts.append(host)
        return host

    def add_rule(self, extra: ExtraRule) -> None:
        if self._rules is not None:
            raise RuntimeError(f"{self.where}: rule added after the lab was resolved")
        self.extra_rules.append(extra)

    def _placement(self, hosts: Sequence[Host]) -> Placement:
        return Placement(self.name, tuple(hosts), origin=self.where)

    def lab(self) -> Lab:
        return Lab(
            name=self.name,
            options=self.options,
            placement=self._placement(self.hosts),
            extra_rules=tuple(self.extra_rules),
            origin=self.where,
        )

    def recorded(self, cloud: str) -> Lab:
        """The lab as its stack records it (`crm_ports.terraform.records`): on `cloud`, its
        hosts by name, so the order they were added in changes no byte of the stack."""
        lab = self.lab()
        hosts = tuple(sorted(self.hosts, key=lambda h: h.name))
        return replace(lab, clouds=(cloud,), placement=self._placement(hosts))

    def rules(self) -> RuleSet:
        if self._rules is None:
            self._rules = resolve_lab(self.catalogue, self.lab())
        return self._rules


class DeclaredLab:
    """What both per-role constructs share: lab rules, per-rule overrides and resolving,
    all on the pure-Python `LabModel` (the cloud classes add hosts and resources)."""

    _model: LabModel
    _overrides: list[tuple[str, str, Any]]

    def add_rule(
        self,
        source: str,
        target: str,
        *,
        protocol: str,
        ports: int | str,
        reason: str,
        name: str | None = None,
    ) -> None:
        """A lab-local rule, as `extra_rules:` in a lab file: `source`/`target` name a
        host, a peer group (`clients`), a role or an IPv4 CIDR. Azure renders the inbound
        ones."""
        self._model.add_rule(
            ExtraRule.parse(
                source=source,
                target=target,
                protocol=protocol,
                ports=ports,
                reason=reason,
                name=name,
                location=Location(self._model.where),
                field_path=f"add_rule[{len(self._model.extra_rules)}]",
                cited_as=self._model.name,
            )
        )

    def override_rule(self, rule_id: str, path: str, value: Any) -> None:
        """Override one attribute (`tags.Owner`) of the resources of one rule id."""
        self._overrides.append((rule_id, path, value))

    def resolve(self) -> RuleSet:
        """The lab's rule set now (raises InputError naming host and role); synthesis
        calls this too, so a CDKTF app never needs to."""
        return self._model.rules()


class DeferredBatch(ResourceBatch):
    """The rules batch: filled from the resolved plan the first time cdktf asks."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        provider: TerraformProvider | None,
        fill: Callable[[], None],
    ) -> None:
        super().__init__(scope, id, provider=provider)
        self._crm_fill = fill

    def to_terraform(self) -> Any:
        self._crm_fill()
        return super().to_terraform()


__all__: Sequence[str] = ("DeclaredLab", "DeferredBatch", "LabModel")
