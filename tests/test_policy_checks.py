"""The house checks that judge the rule set and each stack's resources, one at a time, on
rule sets and resources built to fail them.

The catalogue's own labs pass these checks (every rule is described and cited), so the
lab-file tests never see them fire: a check that stopped reporting, or that reported the
wrong rule, field or fix, would pass them. Each test here builds the one thing a check
must catch and pins the finding it gives.
"""

from __future__ import annotations

from dataclasses import replace

from crm_ports.catalogue.load import load_catalogue
from crm_ports.lab.adoption import AdoptedGroup
from crm_ports.lab.model import AwsSettings, AzureSettings, Lab, Waiver
from crm_ports.options import Options
from crm_ports.policy.base import Finding, Stack, Subject
from crm_ports.policy.crm001_internet_admin_ports import InternetAdminPorts
from crm_ports.policy.crm007_quotas import quota_rows
from crm_ports.policy.registry import run_checks, waive
from crm_ports.resolver.engine import resolve
from crm_ports.ruleset import Advisory, IdleRole, RuleSet
from tests.test_plans import administrators_renamed

INGRESS = "aws_vpc_security_group_ingress_rule"
AZURE_RULE = "azurerm_network_security_rule"


LAB = Lab(name="lab", options=Options())


def ruleset(options: Options | None = None) -> RuleSet:
    return resolve(load_catalogue(), options or Options())


def findings(check: str, subject: Subject, *, rule_set: bool = True) -> list[Finding]:
    return [f for f in run_checks([subject], rule_set=rule_set) if f.check == check]


def test_crm006_names_each_rule_without_description_or_refs() -> None:
    rules = ruleset()
    first, second, third, *rest = rules.rules
    edited = replace(
        rules,
        rules=(
            replace(first, description=""),
            replace(second, refs=()),
            replace(third, description="", refs=()),
            *rest,
        ),
    )
    found = findings("CRM006", Subject(LAB, edited))
    assert [(f.where, f.subject, f.message, f.rules) for f in found] == sorted(
        [
            ("rule set", first.id, "rule has no description", (first.id,)),
            ("rule set", second.id, "rule has no refs", (second.id,)),
            ("rule set", third.id, "rule has no description and no refs", (third.id,)),
        ],
        key=lambda t: t[1],
    )
    assert all(f.lab == "lab" and f.fix.startswith("Give the flow") for f in found)


def test_crm006_on_a_synthesized_stack_names_the_resource_and_its_rules() -> None:
    resources = {
        f"{INGRESS}.bare": {"description": ""},
        f"{INGRESS}.described": {"description": "SQL from the front end"},
        f'{AZURE_RULE}.nsg["no-text"]': {},
        "aws_security_group.group": {},
    }
    rule_ids: dict[str, tuple[str, ...]] = {f"{INGRESS}.bare": ("a.b.tcp.c",)}
    stack = Stack("aws-lab", "aws", resources, rule_ids)
    found = findings("CRM006", Subject(LAB, ruleset(), (stack,)), rule_set=False)
    assert [(f.where, f.subject, f.message, f.rules) for f in found] == [
        ("aws-lab", f"{INGRESS}.bare", "resource has no description", ("a.b.tcp.c",)),
        ("aws-lab", f'{AZURE_RULE}.nsg["no-text"]', "resource has no description", ()),
    ]
    # synthesized: the fix is the catalogue's, as for the rule set
    assert all(f.fix.startswith("Give the flow") for f in found)


def test_crm006_on_live_rules_says_how_to_fix_the_cloud() -> None:
    resources = {f"{INGRESS}.planned": {}, f"{INGRESS}.by-hand": {"description": None}}
    stack = Stack("aws-lab", "aws", resources, {f"{INGRESS}.planned": ("a.b.tcp.c",)}, live=True)
    found = {
        f.subject: f for f in findings("CRM006", Subject(LAB, ruleset(), (stack,)), rule_set=False)
    }
    assert found[f"{INGRESS}.planned"].fix == (
        "Deploy the lab again (npx cdktf deploy aws-lab): its plan describes this rule, "
        "which the cloud lost."
    )
    assert found[f"{INGRESS}.by-hand"].rules == ()
    assert found[f"{INGRESS}.by-hand"].fix == (
        "Remove the rule in the cloud (no plan of the lab holds it), or, if the lab needs "
        "it, add it to the lab file's `extra_rules:` with its reason and deploy."
    )


def test_crm005_names_the_https_option() -> None:
    off = Options(https=False)
    found = findings("CRM005", Subject(Lab(name="lab", options=off), ruleset(off)))
    assert [(f.where, f.subject, f.message) for f in found] == [
        ("options", "https", "HTTPS is off: CRM traffic travels unencrypted")
    ]
    assert findings("CRM005", Subject(LAB, ruleset())) == []


def test_crm011_says_which_option_a_role_needs_or_to_take_it_off() -> None:
    idle = (IdleRole("crm-1", "adfs", "auth=claims"), IdleRole("crm-1", "fax", ""))
    found = findings("CRM011", Subject(LAB, replace(ruleset(), idle_roles=idle)))
    assert [(f.where, f.subject, f.message, f.fix) for f in found] == [
        (
            "options",
            "role adfs on crm-1",
            idle[0].message(),
            "Set auth=claims for the role's flows, or take 'adfs' off host 'crm-1'.",
        ),
        (
            "options",
            "role fax on crm-1",
            idle[1].message(),
            "Take 'fax' off host 'crm-1': no flow names it.",
        ),
    ]


def test_crm009_lists_a_lab_local_rule_with_its_reason() -> None:
    rules = ruleset()
    catalogued = next(r for r in rules.rules if r.protocol.value == "tcp")
    local = replace(
        catalogued,
        id="crm-app.cidr-10-20-0-0-24.tcp.patch-proxy",
        flows=("extra:patch-proxy",),
        refs=("lab.yaml:13: extra_rules[0]: Windows Update through a proxy", "ticket 42"),
    )
    found = findings("CRM009", Subject(LAB, replace(rules, rules=(*rules.rules, local))))
    assert [(f.where, f.subject, f.message, f.rules) for f in found] == [
        (
            "rule set",
            local.id,
            f"lab-local TCP {local.ports} from {local.source} to {local.target}, not in the "
            "catalogue; lab.yaml:13: extra_rules[0]: Windows Update through a proxy; ticket 42",
            (local.id,),
        )
    ]


def test_crm008_names_the_advised_against_flow_and_only_its_rules() -> None:
    rules = ruleset()
    flow = rules.rules[0].flows[0]
    advised = replace(rules, advisories=(Advisory(flow, "the seeds advise against it"),))
    found = findings("CRM008", Subject(LAB, advised))
    assert [(f.where, f.subject, f.message, f.rules) for f in found] == [
        (
            "options",
            flow,
            "the seeds advise against it",
            tuple(r.id for r in rules.rules if flow in r.flows),
        )
    ]
    assert 0 < len(found[0].rules) < len(rules.rules)


def _crm010(base: Lab, head: Lab, label: str = "") -> list[tuple[str, str, str, str]]:
    catalogue = load_catalogue()
    subject = Subject(
        head,
        resolve(catalogue, head.options),
        base=(base, resolve(catalogue, base.options)),
        label=label,
    )
    return [
        (f.severity, f.where, f.subject, f.message.split(":")[0])
        for f in findings("CRM010", subject)
    ]


def test_crm010_grades_a_replaced_group_an_error_and_a_deleted_one_a_warning() -> None:
    """Exchange leaves the lab (its groups are deleted with it: a warning) while the Azure
    location moves (every other ASG, the NSG and the subnet are replaced: errors)."""
    base = Lab("lab", Options(exchange_in_lab=True))
    head = Lab("lab", Options(), azure=AzureSettings(location="northeurope"))
    found = _crm010(base, head)
    assert (
        "warning",
        "aws-lab",
        "aws_security_group.sg_exchange",
        "deletes security group lab-exchange",
    ) in found
    assert (
        "warning",
        "azure-lab",
        "azurerm_application_security_group.asg_exchange",
        "deletes application security group lab-exchange-asg",
    ) in found
    assert (
        "error",
        "azure-lab",
        "azurerm_network_security_group.nsg",
        "replaces network security group lab-nsg (forced by location)",
    ) in found
    assert (
        "error",
        "azure-lab",
        "azurerm_subnet.lab[0]",
        "replaces subnet crm (forced by virtual_network_name)",
    ) in found
    assert {severity for severity, _, address, _ in found if "exchange" not in address} == {"error"}
    assert _crm010(base, base) == []
    assert _crm010(head, head) == []


def test_crm010_leaves_the_network_out_when_the_base_did_not_record_it() -> None:
    """A base read back from an older folder does not say where its network was, so the
    location's replacements are not claimed; the stack is named by the subject's label."""
    base = replace(Lab("lab", Options(exchange_in_lab=True)), network_known=False)
    head = Lab("lab", Options(), azure=AzureSettings(location="northeurope"))
    assert _crm010(base, head, label="app/lab") == [
        (
            "warning",
            "app/lab",
            "aws_security_group.sg_exchange",
            "deletes security group lab-exchange",
        ),
        (
            "warning",
            "app/lab",
            "azurerm_application_security_group.asg_exchange",
            "deletes application security group lab-exchange-asg",
        ),
    ]


# CRM001-CRM003 share `policy.internet_wide`; CRM001 stands for the three here.
WIDE = ("0.0.0.0/0", "::/0")
ADMIN_RDP = "administrators.crm-front-end.tcp.rdp"


def _crm001_on_rules(rules: RuleSet) -> Finding:
    found = [f for f in findings("CRM001", Subject(LAB, rules)) if f.subject == ADMIN_RDP]
    assert len(found) == 1
    return found[0]


def test_crm001_names_every_wide_range_its_option_and_the_rule() -> None:
    found = _crm001_on_rules(ruleset(Options(admin_cidrs=WIDE)))
    assert (found.where, found.message, found.rules, found.fix) == (
        "rule set",
        "TCP 3389 from administrators (0.0.0.0/0, ::/0 in admin_cidrs) to crm-front-end "
        "opens administrative port(s) 3389 to the internet",
        (ADMIN_RDP,),
        "Remove 0.0.0.0/0, ::/0 from admin_cidrs (lab file key, or --admin-cidr) and list "
        "only the ranges of administrators.",
    )


def test_crm001_on_a_peer_without_an_option_names_no_option() -> None:
    """A peer whose ranges no option holds (the construct API's peers): no option to name
    in the message, and the check's own fix."""
    rules = ruleset(Options(admin_cidrs=WIDE))
    groups = tuple(
        replace(g, cidr_option=None) if g.name == "administrators" else g for g in rules.groups
    )
    found = _crm001_on_rules(replace(rules, groups=groups))
    assert found.message.startswith("TCP 3389 from administrators (0.0.0.0/0, ::/0) to ")
    assert found.fix.startswith("Set admin_cidrs (or the peer's CIDR option)")


def test_crm001_on_a_stack_names_the_sources_rules_and_the_one_peers_option() -> None:
    """A finding names the rules behind the hit, not every rule the resource carries (the
    clients' HTTPS is not behind an RDP hit), and the option when they come from one peer;
    a resource no rule explains names none."""
    rules = ruleset(Options(admin_cidrs=WIDE, client_cidrs=WIDE))
    clients_https = "clients.crm-front-end.tcp.crm-https"
    rdp = {"ip_protocol": "tcp", "from_port": 3389, "to_port": 3389}
    wide = {"cidr_ipv4": "0.0.0.0/0", "cidr_ipv6": "::/0"}
    resources = {f"{INGRESS}.{name}": {**rdp, **wide} for name in ("admins", "both", "by-hand")}
    rule_ids = {f"{INGRESS}.admins": (ADMIN_RDP,), f"{INGRESS}.both": (ADMIN_RDP, clients_https)}
    stack = Stack("aws-lab", "aws", resources, rule_ids)
    found = findings("CRM001", Subject(LAB, rules, (stack,)), rule_set=False)
    assert [(f.where, f.subject, f.message, f.rules) for f in found] == [
        (
            "aws-lab",
            f"{INGRESS}.{name}",
            "source 0.0.0.0/0, ::/0 reaches administrative port(s) 3389",
            rules,
        )
        for name, rules in (("admins", (ADMIN_RDP,)), ("both", (ADMIN_RDP,)), ("by-hand", ()))
    ]
    named = (
        "Remove 0.0.0.0/0, ::/0 from admin_cidrs (lab file key, or --admin-cidr) and list "
        "only the ranges of administrators."
    )
    assert [f.fix for f in found] == [named, named, InternetAdminPorts.fix]


# CRM007 counts the plans' rules when given no stacks, each stack's resources otherwise.
EGRESS = "aws_vpc_security_group_egress_rule"
AZURE_NSG = "azurerm_network_security_group"


def test_crm007_counts_the_plans_of_the_labs_own_settings() -> None:
    """The lab's name, egress and adopted groups reach the AWS plan, so the rows name the
    groups as they deploy (an adopted one by its live name) and count strict egress."""
    adopted = AdoptedGroup("sql-server", "sg-0123456789abcdef0", "CRM SQL", "kept")
    lab = Lab(name="north", options=Options(), aws=AwsSettings(egress="strict"), adopt=(adopted,))
    rows, refused = quota_rows(Subject(lab, ruleset()))
    assert refused == []
    assert {(r.lab, r.cloud, r.limit) for r in rows} == {
        ("north", "aws", 60),
        ("north", "azure", 1000),
    }
    assert [(r.container, r.direction, r.used) for r in rows] == [
        ("north-crm-back-end", "egress", 3),
        ("north-crm-back-end", "ingress", 9),
        ("north-crm-deployment", "egress", 3),
        ("north-crm-deployment", "ingress", 9),
        ("north-crm-front-end", "egress", 4),
        ("north-crm-front-end", "ingress", 17),
        ("north-domain-controller", "ingress", 26),
        ("north-email-router", "egress", 4),
        ("north-email-router", "ingress", 8),
        ("north-lab-servers", "egress", 17),
        ("CRM SQL", "ingress", 12),
        ("north-ssrs", "egress", 2),
        ("north-ssrs", "ingress", 10),
        ("north-nsg", "all", 34),
    ]


def test_crm007_reports_a_plan_refused_for_its_quota() -> None:
    """Twenty administrator ranges: one AWS rule per range, past the front end's quota;
    Azure puts the ranges in one rule, so its row stays far below."""
    options = Options(admin_cidrs=tuple(f"203.0.{i}.0/24" for i in range(20)))
    found = findings("CRM007", Subject(Lab(name="lab", options=options), ruleset(options)))
    assert [(f.where, f.subject, f.severity, f.message) for f in found] == [
        (
            "plan",
            "quota",
            "error",
            "security group 'lab-crm-front-end' needs 74 inbound rules; AWS allows 60 inbound "
            "rules per security group (quota 'Inbound or outbound rules per security group'): "
            "narrow the peer CIDRs or split the group",
        )
    ]


def _rules_of(kind: str, count: int, **attributes: str) -> dict[str, dict[str, str]]:
    holder = "-".join(attributes.values()).strip("${}").replace(".", "-")
    return {f'{kind}.{holder}["{i}"]': dict(attributes) for i in range(count)}


def test_crm007_on_a_stack_warns_near_the_quota_and_errs_past_it() -> None:
    """54 of 60 is the first warning (90%), 60 of 60 still one, 61 an error; a rule's
    group is named by the group's resource, or by its id when the stack does not hold it."""
    resources: dict[str, dict[str, str]] = {
        "aws_security_group.fe": {"name": "lab-fe"},
        "aws_security_group.be": {"name": "lab-be"},
        "aws_security_group.db": {"name": "lab-db"},
        **_rules_of(INGRESS, 53, security_group_id="${aws_security_group.fe.id}"),
        **_rules_of(EGRESS, 54, security_group_id="${aws_security_group.fe.id}"),
        **_rules_of(INGRESS, 60, security_group_id="${aws_security_group.be.id}"),
        **_rules_of(INGRESS, 61, security_group_id="${aws_security_group.db.id}"),
        **_rules_of(INGRESS, 1, security_group_id="sg-0live"),
    }
    for live in (False, True):
        stack = Stack("aws-lab", "aws", resources, {}, live=live)
        subject = Subject(LAB, ruleset(), (stack,))
        assert [
            (r.lab, r.container, r.direction, r.used, r.limit) for r in quota_rows(subject)[0]
        ] == [
            ("lab", "lab-be", "ingress", 60, 60),
            ("lab", "lab-db", "ingress", 61, 60),
            ("lab", "lab-fe", "egress", 54, 60),
            ("lab", "lab-fe", "ingress", 53, 60),
            ("lab", "sg-0live", "ingress", 1, 60),
        ]
        found = findings("CRM007", subject, rule_set=False)
        assert [(f.where, f.subject, f.severity, f.message) for f in found] == [
            (where, container, severity, f"{used} of 60 {direction} rules used (headroom {room})")
            for where in ["aws-lab" if live else "synthesized stacks"]
            for container, direction, used, room, severity in [
                ("lab-be", "ingress", 60, 0, "warning"),
                ("lab-db", "ingress", 61, -1, "error"),
                ("lab-fe", "egress", 54, 6, "warning"),
            ]
        ]


def test_crm007_counts_an_azure_stacks_rules_and_inline_rules_per_nsg() -> None:
    resources: dict[str, dict[str, str]] = {
        f"{AZURE_NSG}.nsg": {"name": "lab-nsg"},
        f"{AZURE_NSG}.inline": {"name": "lab-inline-nsg"},
        **_rules_of(AZURE_RULE, 3, network_security_group_name=f"${{{AZURE_NSG}.nsg.name}}"),
        **_rules_of(AZURE_RULE, 1, network_security_group_name="by-hand-nsg"),
        f'{AZURE_NSG}.inline.security_rule["a"]': {},
        f'{AZURE_NSG}.inline.security_rule["b"]': {},
        f'{AZURE_NSG}.gone.security_rule["c"]': {},
    }
    stack = Stack("azure-lab", "azure", resources, {})
    rows, refused = quota_rows(Subject(LAB, ruleset(), (stack,)))
    assert refused == []
    assert [(r.container, r.direction, r.used, r.limit) for r in rows] == [
        (f"{AZURE_NSG}.gone", "all", 1, 1000),
        ("by-hand-nsg", "all", 1, 1000),
        ("lab-inline-nsg", "all", 2, 1000),
        ("lab-nsg", "all", 3, 1000),
    ]


def test_crm007_warns_of_a_plan_near_the_quota_and_reports_azures_refusal() -> None:
    """Fourteen administrator ranges bring the front end to 56 of 60; a peer named at
    length makes an NSG rule name longer than Azure takes, and the Azure plan is refused."""
    options = Options(admin_cidrs=tuple(f"203.0.{i}.0/24" for i in range(14)))
    long = "administrators-of-the-north-european-datacentre-operations-team"
    renamed = administrators_renamed(long, options)
    found = findings("CRM007", Subject(Lab(name="lab", options=options), renamed))
    assert [(f.where, f.subject, f.severity, f.message) for f in found] == [
        ("plan", "lab-crm-front-end", "warning", "56 of 60 ingress rules used (headroom 4)"),
        (
            "plan",
            "quota",
            "error",
            f"NSG rule name '{long}.crm-deployment.tcp' is 82 characters; Azure allows 80: "
            "shorten the group names",
        ),
    ]


# An Azure NSG rule carries every service from one peer to one group: its finding has
# several rules behind it, and a waiver must cover each.
NSG_RULE = 'azurerm_network_security_group.nsg.security_rule["administrators.crm-deployment.tcp"]'
WINRM = "administrators.crm-deployment.tcp.winrm"
DEPLOY_RDP = "administrators.crm-deployment.tcp.rdp"
ON_NSG = Finding(
    "CRM001", "error", "lab", "azure-lab", NSG_RULE, "3389, 5985-5986", "fix", (DEPLOY_RDP, WINRM)
)


def _waived(*waivers: Waiver) -> str | None:
    return waive(ON_NSG, replace(LAB, waivers=waivers)).waived


def test_a_waiver_of_one_rule_leaves_a_finding_with_another_rule_behind_it() -> None:
    assert _waived(Waiver("CRM001", "jump host", DEPLOY_RDP)) is None
    assert (
        _waived(Waiver("CRM002", "other check", WINRM), Waiver("CRM001", "x", DEPLOY_RDP)) is None
    )


def test_waivers_covering_every_rule_behind_a_finding_waive_it_with_their_reasons() -> None:
    both = (Waiver("CRM001", "jump host", DEPLOY_RDP), Waiver("CRM001", "PowerShell", WINRM))
    assert _waived(*both) == "jump host; PowerShell"  # in the finding's rule order
    assert _waived(*reversed(both)) == "jump host; PowerShell"
    same = (Waiver("CRM001", "one reason", WINRM), Waiver("CRM001", "one reason", DEPLOY_RDP))
    assert _waived(*same) == "one reason"
    first = (*both, Waiver("CRM001", "later", DEPLOY_RDP))
    assert _waived(*first) == "jump host; PowerShell"  # a rule's first waiver gives its reason


def test_the_first_waiver_in_the_labs_order_that_completes_the_cover_gives_the_reason() -> None:
    rdp_only = replace(ON_NSG, rules=(DEPLOY_RDP,))
    rule_first = (Waiver("CRM001", "jump host", DEPLOY_RDP), Waiver("CRM001", "all of them"))
    lab = replace(LAB, waivers=rule_first)
    assert waive(rdp_only, lab).waived == "jump host"
    assert waive(rdp_only, replace(lab, waivers=rule_first[::-1])).waived == "all of them"
    assert waive(ON_NSG, lab).waived == "all of them"  # the RDP waiver alone covers half


def test_a_flows_advisory_is_waived_by_any_of_its_rules() -> None:
    """Off a resource (the rule set, the options' flows) one named rule is enough: a
    CRM008 advisory is about its flow, whose rules all say the same."""
    advisory = replace(ON_NSG, check="CRM008", where="options", subject="sql-views")
    lab = replace(LAB, waivers=(Waiver("CRM008", "reports need it", WINRM),))
    assert waive(advisory, lab).waived == "reports need it"
    assert waive(replace(advisory, where="rule set"), lab).waived == "reports need it"


def test_a_waiver_of_the_check_or_of_the_resource_covers_the_finding_alone() -> None:
    assert _waived(Waiver("CRM001", "whole check")) == "whole check"
    assert _waived(Waiver("CRM001", "this NSG rule", NSG_RULE)) == "this NSG rule"
    assert _waived(Waiver("CRM002", "other check")) is None
    ruleless = replace(ON_NSG, rules=())
    assert waive(ruleless, replace(LAB, waivers=(Waiver("CRM001", "x", WINRM),))).waived is None
