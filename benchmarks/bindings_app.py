"""crm-ports' lab stacks on the prebuilt cdktf provider bindings, for comparison.

We synthesize through hand-written resource classes (`crm_ports.constructs.resources`)
because the prebuilt `cdktf-cdktf-provider-aws` / `-azurerm` packages are slow to import and
heavy. This module builds the same stacks on those packages so `benchmarks/synth_bench.py`
can measure what they would cost: the AWS stack here, the Azure one from
`tests/azure_bindings_app.py` (which the Azure equivalence test also uses), both from the
same plans (`crm_ports.plans`) and lab settings as `crm_ports.app`.

Importing this module imports both binding packages (tens of seconds, well over a gigabyte
of memory); run it in its own process::

    python benchmarks/bindings_app.py --out DIR [--default-labs] [LAB.yaml ...]
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

# Runnable as a script: make the repository (for `tests.`) importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# Before cdktf loads: jsii prints an end-of-life banner on Node 20, which we support.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from cdktf import (
    Precondition,
    TerraformOutput,
    TerraformResourceLifecycle,
    TerraformStack,
    TerraformVariable,
    Token,
)
from cdktf_cdktf_provider_aws.provider import AwsProvider
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc import Vpc
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from crm_ports.constructs.aws import quota_conditions
from crm_ports.constructs.peers import CidrList, as_set_expression, peer_cidrs_for
from crm_ports.lab.model import Lab
from crm_ports.plans.aws import SgRuleSpec, plan_aws
from crm_ports.plans.text import TAG_PREFIX
from crm_ports.ruleset import RuleSet
from crm_ports.stacks.aws import CREATE
from crm_ports.stacks.common import peer_variables, state_backend
from crm_ports.synth.plan import StackPlan
from tests.azure_bindings_app import AzureBindingsLabStack, StackKinds, run_cli, synth_stacks


class AwsBindingsLabStack(TerraformStack):
    """`crm_ports.stacks.aws.AwsLabStack` on the prebuilt bindings: same construct tree,
    same logical ids, same meta-arguments."""

    def __init__(self, scope: Construct, name: str, *, lab: Lab, rules: RuleSet) -> None:
        super().__init__(scope, name)
        state_backend(self, name, lab.backend)
        settings = lab.aws
        if settings.endpoint_url:
            raise ValueError(f"{name}: emulator endpoints are not mirrored here")
        provider = AwsProvider(self, "aws", region=settings.region)
        TerraformVariable(
            self,
            "vpc_id",
            type="string",
            default=settings.vpc_id or "",
            description="Existing VPC for the lab; empty creates one",
            nullable=False,
        )
        tags = {"Name": lab.name, f"{TAG_PREFIX}lab": lab.name}
        Vpc(
            self,
            "vpc",
            cidr_block=settings.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=tags,
            provider=provider,
            count=Token.as_number(CREATE),
        ).override_logical_id("lab")
        Subnet(
            self,
            "subnet",
            vpc_id="${aws_vpc.lab[0].id}",
            cidr_block=settings.subnet_cidr,
            tags=tags,
            provider=provider,
            count=Token.as_number(CREATE),
        ).override_logical_id("lab")
        vpc_id = "${coalesce(var.vpc_id, one(aws_vpc.lab[*].id))}"
        firewall = _Firewall(
            self,
            "crm",
            lab=lab,
            rules=rules,
            vpc_id=vpc_id,
            cidrs=peer_cidrs_for(rules, peer_variables(self, rules)),
            provider=provider,
        )
        TerraformOutput(
            self,
            "security_group_ids",
            value={g: sg.id for g, sg in sorted(firewall.groups.items())},
            description="Host group -> security group id",
        )
        TerraformOutput(
            self,
            "instance_security_group_ids",
            value={g: firewall.instance_ids(g) for g in sorted(firewall.groups)},
            description="Host group -> the security group ids its instances carry",
        )
        TerraformOutput(self, "lab_vpc_id", value=vpc_id)
        TerraformOutput(self, "lab_subnet_id", value="${one(aws_subnet.lab[*].id)}")


class _Firewall(Construct):
    """`AwsCrmFirewall`'s tree (crm/<group>/sg, crm/<group>/<rule>) on the bindings."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        lab: Lab,
        rules: RuleSet,
        vpc_id: str,
        cidrs: Mapping[str, CidrList],
        provider: AwsProvider,
    ) -> None:
        super().__init__(scope, id)
        plan = plan_aws(rules, lab.name, egress=lab.aws.egress)
        self._members = next((g.name for g in rules.groups if g.is_members), None)
        self._holders: dict[str, Construct] = {}
        self.groups: dict[str, SecurityGroup] = {}
        for spec in sorted(plan.security_groups, key=lambda s: s.group != self._members):
            holder = Construct(self, spec.group)
            # the same plan-time quota re-check AwsCrmFirewall puts on each group
            conditions = [
                Precondition(condition=condition, error_message=message)
                for condition, message in quota_conditions(plan, spec, cidrs)
            ]
            group = SecurityGroup(
                holder,
                "sg",
                name=spec.name,
                description=spec.description,
                vpc_id=vpc_id,
                tags=dict(spec.tags),
                provider=provider,
                lifecycle=TerraformResourceLifecycle(precondition=conditions)
                if conditions
                else None,
            )
            group.override_logical_id(spec.key)
            self._holders[spec.group] = holder
            self.groups[spec.group] = group
        done: set[str] = set()
        for rule in plan.rules:
            if rule.cidr_peer is None:
                self._rule(rule, rule.key, rule.cidr_ipv4, None, provider)
            elif rule.base_key not in done:  # one resource per peer rule, for_each CIDR
                done.add(rule.base_key)
                each = as_set_expression(cidrs[rule.cidr_peer])
                self._rule(rule, rule.base_key, "${each.value}", each, provider)

    def instance_ids(self, group: str) -> list[str]:
        own = [self.groups[group].id]
        if self._members is None or group == self._members:
            return own
        return [*own, self.groups[self._members].id]

    def _rule(
        self,
        spec: SgRuleSpec,
        key: str,
        cidr: str | None,
        for_each: str | None,
        provider: AwsProvider,
    ) -> None:
        kind = (
            VpcSecurityGroupIngressRule
            if spec.direction == "ingress"
            else VpcSecurityGroupEgressRule
        )
        rule = kind(
            self._holders[spec.group],
            key,
            security_group_id=self.groups[spec.group].id,
            ip_protocol=spec.ip_protocol,
            from_port=spec.from_port,
            to_port=spec.to_port,
            cidr_ipv4=cidr,
            referenced_security_group_id=(
                self.groups[spec.peer_group].id if spec.peer_group else None
            ),
            description=spec.description,
            tags=dict(spec.tags),
            provider=provider,
        )
        rule.override_logical_id(key)
        if for_each is not None:
            # A raw expression over a list variable; cdktf's iterators cannot express
            # `toset(var.x)` without changing the emitted expression.
            rule.add_override("for_each", for_each)


KINDS: StackKinds = {"aws": AwsBindingsLabStack, "azure": AzureBindingsLabStack}


def synth_bindings_app(
    stacks: Sequence[StackPlan],
    outdir: Path,
    progress: Callable[[str], None] = lambda _line: None,
) -> list[Path]:
    """`crm_ports.synth.build.synth_app` on the bindings (without crm-ports.json)."""
    return synth_stacks(stacks, outdir, KINDS, progress)


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(argv, __doc__.splitlines()[0], KINDS)


if __name__ == "__main__":
    raise SystemExit(main())
