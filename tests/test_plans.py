"""The plans (crm_ports/plans/) on their own: the text rules both clouds' plans share, and
what each cloud's plan decides that no whole-lab test shows.

The catalogue's descriptions and ids are plain ASCII of a few words, so the lab tests never
make `clean` cut, fold an accent or drop a character, nor `resource_key` start with a digit:
these give it the inputs a lab-local rule or a construct user may.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from crm_ports.catalogue.load import load_catalogue
from crm_ports.errors import InputError
from crm_ports.lab.adoption import AdoptedGroup
from crm_ports.options import Options
from crm_ports.plans.aws import DESCRIPTION_CHARS, plan_aws, quota_terms
from crm_ports.plans.azure import (
    NAME_LIMIT,
    RULES_PER_NSG,
    NsgRuleSpec,
    assign_priorities,
    plan_azure,
)
from crm_ports.plans.text import clean, resource_key
from crm_ports.resolver.engine import resolve
from crm_ports.ruleset import RuleSet


@pytest.mark.parametrize(
    ("parts", "key"),
    [
        (("sg", "SQL-Server"), "sg_SQL-Server"),  # capitals kept
        (("out", "a.b.tcp.c"), "out_a_b_tcp_c"),  # the rule id's dots
        (("", "nsr", "x"), "nsr_x"),  # empty parts left out
        (("1st-tier",), "r_1st-tier"),  # a letter first
        (("a1", "b"), "a1_b"),  # one letter is enough
        (("_x",), "r__x"),
    ],
)
def test_resource_key(parts: tuple[str, ...], key: str) -> None:
    assert resource_key(*parts) == key


@pytest.mark.parametrize(
    ("text", "limit", "cleaned"),
    [
        ("Caf\u00e9 \u2013 \u201cSSRS\u201d\u2026", 40, "Cafe - SSRS..."),  # accents, smart marks
        ('SQL <views> | "reports"', 40, "SQL views reports"),  # not allowed: dropped
        ("  two\u00a0 spaces  and more ", 40, "two spaces and more"),
        ("SQL\nviews\tand\r\nreports", 40, "SQL views and reports"),  # breaks are spaces
        ("exactly ten", 11, "exactly ten"),  # at the limit: kept whole
        ("abc defg hijkl", 12, "abc defg..."),  # cut where a word ends, the dots in the limit
        ("abc defgh ijk", 12, "abc..."),  # a word cut in two is dropped
        ("one, two; three", 13, "one, two..."),  # no punctuation before the dots
        ("aaa BOX ccc dddd", 12, "aaa BOX..."),
    ],
)
def test_clean(text: str, limit: int, cleaned: str) -> None:
    assert clean(text, DESCRIPTION_CHARS, limit) == cleaned
    assert len(cleaned) <= limit


# Azure: priorities hash the NSG rule's name into 100-4095; names that meet probe upwards.
# The names below were found by hashing (`_slot`): r16554 and r16585 share slot 102 and
# r10029 hashes to 103; r20570 and r635 share 4094; r11154 and r12848 share 4095.


@pytest.mark.parametrize(
    ("names", "priorities"),
    [
        (["r16585", "r10029", "r16554"], {"r16554": 102, "r16585": 103, "r10029": 104}),
        (["r635", "r20570"], {"r20570": 4094, "r635": 4095}),
        (["r12848", "r11154"], {"r11154": 4095, "r12848": 100}),  # past 4095: back to 100
    ],
)
def test_priorities_settle_a_shared_slot_by_slot_then_name(
    names: list[str], priorities: dict[str, int]
) -> None:
    """Slot order first, so a name keeps its own slot when an earlier name's probe would
    take it (r10029 sorts first by name but waits for slot 102's two)."""
    assert assign_priorities(names) == priorities


def administrators_renamed(name: str, options: Options | None = None) -> RuleSet:
    """The rule set with the administrators' peer renamed, which lengthens the NSG rule
    names `<source>.<target>.<protocol>`: `.domain-controller.tcp` is the longest tail (22)."""
    rules = resolve(load_catalogue(), options or Options())
    return replace(
        rules,
        groups=tuple(
            replace(g, name=name) if g.name == "administrators" else g for g in rules.groups
        ),
        rules=tuple(
            replace(r, source=name) if r.source == "administrators" else r for r in rules.rules
        ),
    )


def _many_peers(count: int) -> RuleSet:
    """`count` NSG rules: one peer per rule, each reaching the front end by HTTPS."""
    rules = resolve(load_catalogue(), Options())
    https = next(r for r in rules.rules if r.id == "clients.crm-front-end.tcp.crm-https")
    clients = rules.group("clients")
    return replace(
        rules,
        groups=(
            *(g for g in rules.groups if not g.is_peer),
            *(replace(clients, name=f"p{i}") for i in range(count)),
        ),
        rules=tuple(
            replace(https, id=f"p{i}.crm-front-end.tcp.crm-https", source=f"p{i}")
            for i in range(count)
        ),
    )


def test_an_nsg_rule_name_of_80_characters_is_planned() -> None:
    plan = plan_azure(administrators_renamed("a" * 58), "lab")
    assert max(len(r.name) for r in plan.rules) == NAME_LIMIT == 80


def test_an_nsg_of_1000_rules_is_planned() -> None:
    plan = plan_azure(_many_peers(RULES_PER_NSG - 1), "lab")
    assert len(plan.rules) == RULES_PER_NSG == 1000


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            lambda: administrators_renamed("a" * 59),
            f"NSG rule name '{'a' * 59}.domain-controller.tcp' is 81 characters; Azure allows "
            "80: shorten the group names",
        ),
        (
            lambda: _many_peers(RULES_PER_NSG),
            "NSG 'lab-nsg' needs 1001 rules; Azure allows 1000 rules per network security group",
        ),
    ],
)
@pytest.mark.parametrize("origin", ["labs/north.yaml", None])
def test_what_azure_would_refuse_is_refused_with_where_it_came_from(
    rules: Callable[[], RuleSet], message: str, origin: str | None
) -> None:
    """The lab's file when given, else where the options came from."""
    with pytest.raises(InputError) as refused:
        if origin is None:
            plan_azure(rules(), "lab")
        else:
            plan_azure(rules(), "lab", origin=origin)
    error = refused.value
    assert (error.file, error.entry, error.field, error.message) == (
        origin or Options().origin,
        "lab 'lab'",
        "azure",
        message,
    )


def test_an_nsg_rule_from_a_peer_and_one_from_a_server_group() -> None:
    """The fields the constructs map one for one: a peer's rule carries its prefixes and
    names the peer (its stack variable), a server group's names the source ASG."""
    plan = plan_azure(resolve(load_catalogue(), Options()), "lab")
    assert (plan.lab, plan.topology, plan.nsg_name) == ("lab", "split-roles", "lab-nsg")
    by_name = {r.name: r for r in plan.rules}
    assert by_name["clients.crm-front-end.tcp"] == NsgRuleSpec(
        key="nsr_clients_crm-front-end_tcp",
        name="clients.crm-front-end.tcp",
        priority=2736,
        direction="Inbound",
        access="Allow",
        protocol="Tcp",
        source_group=None,
        source_prefixes=("10.100.0.0/16",),
        target_group="crm-front-end",
        port_ranges=("80", "443"),
        description="clients to crm-front-end: crm-http, crm-https",
        rule_ids=("clients.crm-front-end.tcp.crm-http", "clients.crm-front-end.tcp.crm-https"),
        source_peer="clients",
    )
    assert by_name["crm-front-end.sql-server.tcp"] == NsgRuleSpec(
        key="nsr_crm-front-end_sql-server_tcp",
        name="crm-front-end.sql-server.tcp",
        priority=2360,
        direction="Inbound",
        access="Allow",
        protocol="Tcp",
        source_group="crm-front-end",
        source_prefixes=(),
        target_group="sql-server",
        port_ranges=("1433",),
        description="crm-front-end to sql-server: ms-sql",
        rule_ids=("crm-front-end.sql-server.tcp.ms-sql",),
        source_peer=None,
    )
    deny = plan.rules[-1]
    assert (deny.key, deny.name, deny.priority, deny.access, deny.rule_ids) == (
        "nsr_deny-all-other-inbound",
        "deny-all-other-inbound",
        4096,
        "Deny",
        (),
    )


def test_the_cloud_balancers_rule_is_from_its_service_tag_and_says_so() -> None:
    plan = plan_azure(resolve(load_catalogue(), Options(load_balancer="cloud")), "lab")
    [rule] = [r for r in plan.rules if r.source_prefixes == ("AzureLoadBalancer",)]
    assert (rule.source_group, rule.source_peer, rule.description) == (
        None,
        None,
        "AzureLoadBalancer (cloud-load-balancer) to crm-front-end: crm-http, lb-health-check, "
        "crm-https",
    )


# AWS: what the whole-lab tests reach only through the stacks (the slow, synthesizing ones).


def test_each_kind_of_group_is_described_by_its_name_and_kind_and_named_in_its_tag() -> None:
    """The description names only what identifies the group (a changed description
    replaces it); its roles are in a tag."""
    plan = plan_aws(resolve(load_catalogue(), Options(load_balancer="cloud")), "lab")
    kinds = {
        "crm-front-end": "host group; roles in tag crm-ports:roles",
        "lab-servers": "every server of the lab carries it",
        "cloud-load-balancer": "the Application Load Balancer in front of the web servers",
    }
    for group, what in kinds.items():
        sg = plan.security_group(group)
        assert sg.description == f"CRM 2013 lab lab, {group}: {what}"
        assert sg.tags[0] == ("Name", f"lab-{group}")


@pytest.mark.parametrize("lab", ["sg-lab", "SG-Lab", "sg"])
@pytest.mark.parametrize("origin", ["labs/north.yaml", None])
def test_a_lab_whose_group_names_would_start_with_sg_is_refused(
    lab: str, origin: str | None
) -> None:
    """EC2 refuses group names starting with `sg-`, in any case."""
    rules = resolve(load_catalogue(), Options())
    with pytest.raises(InputError) as refused:
        if origin is None:
            plan_aws(rules, lab)
        else:
            plan_aws(rules, lab, origin=origin)
    error = refused.value
    assert (error.file, error.entry, error.field, error.message) == (
        origin or Options().origin,
        f"lab '{lab}'",
        "name",
        "AWS refuses security group names starting with 'sg-': rename the lab",
    )


def test_an_unknown_egress_mode_is_a_programming_error_naming_the_modes() -> None:
    with pytest.raises(ValueError, match=r"egress must be one of \('allow-all', 'strict'\)"):
        plan_aws(resolve(load_catalogue(), Options()), "lab", egress="open")


def test_all_traffic_is_protocol_minus_one_without_ports() -> None:
    plan = plan_aws(resolve(load_catalogue(), Options(exchange_in_lab=True)), "lab")
    exchange = [r for r in plan.rules if r.rule_id == "exchange.domain-controller.all.all-traffic"]
    assert [(r.ip_protocol, r.from_port, r.to_port) for r in exchange] == [("-1", None, None)]


def test_strict_egress_collapses_only_the_flows_that_reach_every_server() -> None:
    plan = plan_aws(resolve(load_catalogue(), Options()), "lab", egress="strict")
    collapsed = {r.rule_id: r.description for r in plan.rules if ".egress." in r.rule_id}
    assert sorted(collapsed) == [
        f"lab-servers.egress.{ports}"
        for ports in [
            "tcp.135-135",
            "tcp.139-139",
            "tcp.445-445",
            "udp.1025-1025",
            "udp.123-123",
            "udp.137-138",
            "udp.445-445",
        ]
    ]
    assert all(text.endswith(": Windows base ports on every server (to every server)")
               or text.endswith(": NetBIOS name resolution between servers (to every server)")
               for text in collapsed.values())  # fmt: skip
    assert collapsed["lab-servers.egress.udp.123-123"] == (
        "NTP: Windows base ports on every server (to every server)"
    )


def test_quota_terms_split_a_groups_count_into_fixed_rules_and_rules_per_peer_range() -> None:
    """What a stack with variable peer ranges checks at plan time: fixed + per peer x its
    ranges, which must add up to the plan's own count."""
    options = Options(admin_cidrs=("203.0.113.0/24", "198.51.100.0/24"))
    plan = plan_aws(resolve(load_catalogue(), options), "lab", egress="strict")
    assert quota_terms(plan, "crm-front-end", "ingress") == (
        12,
        {"administrators": 3, "clients": 2},
    )
    assert plan.counts()[("crm-front-end", "ingress")] == 12 + 3 * 2 + 2 * 1
    assert quota_terms(plan, "lab-servers", "egress") == (17, {})
    assert quota_terms(plan, "crm-front-end", "egress") == (
        plan.counts()[("crm-front-end", "egress")],
        {},
    )


def test_an_adopted_group_keeps_its_live_name_and_description_and_only_those() -> None:
    rules = resolve(load_catalogue(), Options())
    live = AdoptedGroup("sql-server", "sg-0123456789abcdef0", "CRM SQL", "kept as it is")
    planned = plan_aws(rules, "lab").security_group("sql-server")
    sg = plan_aws(rules, "lab", adopt=(live,)).security_group("sql-server")
    assert (sg.name, sg.description, sg.import_id) == ("CRM SQL", "kept as it is", live.group_id)
    assert sg.tags == (("Name", "CRM SQL"), *planned.tags[1:])


@pytest.mark.parametrize(
    ("adopt", "field", "message"),
    [
        (
            AdoptedGroup("exchange", "sg-0a", "Exchange", "theirs"),
            "adopt.exchange",
            "the plan has no security group for this host",
        ),
    ],
)
def test_an_adoption_the_plan_cannot_take_is_refused_naming_the_host_and_field(
    adopt: AdoptedGroup, field: str, message: str
) -> None:
    with pytest.raises(InputError) as refused:
        plan_aws(resolve(load_catalogue(), Options()), "lab", adopt=(adopt,))
    error = refused.value
    assert (error.entry, error.field, error.message) == (f"host '{adopt.host}'", field, message)


def test_the_aws_rules_keys_and_fields_as_the_constructs_map_them() -> None:
    """The Terraform keys (the resources' identity), the allow-all egress and a peer's
    rule expanded per range, which only the synthesizing tests read otherwise."""
    options = Options(admin_cidrs=("203.0.113.0/24", "198.51.100.0/24"))
    plan = plan_aws(resolve(load_catalogue(), options), "lab")
    assert (plan.topology, plan.egress) == ("split-roles", "allow-all")
    assert not [r for r in plan.rules if ".egress." in r.rule_id]  # strict egress only
    by_key = {r.key: r for r in plan.rules}
    base = (("crm-ports:lab", "lab"), ("crm-ports:topology", "split-roles"))
    out = by_key["out_crm-front-end_all-traffic"]
    assert (out.direction, out.ip_protocol, out.from_port, out.cidr_ipv4, out.rule_id) == (
        "egress",
        "-1",
        None,
        "0.0.0.0/0",
        "all-traffic",
    )
    assert out.description == "All outbound traffic (allow-all egress)"
    assert out.tags == (*base, ("crm-ports:rule", "crm-front-end.all-traffic"))
    rdp = by_key["in_administrators_crm-front-end_tcp_rdp_203_0_113_0_24"]
    assert (rdp.cidr_ipv4, rdp.cidr_peer, rdp.base_key, rdp.description) == (
        "203.0.113.0/24",
        "administrators",
        "in_administrators_crm-front-end_tcp_rdp",
        "RDP: Remote Desktop from administrators",
    )
    assert dict(plan.security_group("crm-back-end").tags)["crm-ports:roles"] == (
        "asynchronous-service+sandbox-processing"
    )
    strict = plan_aws(resolve(load_catalogue(), options), "lab", egress="strict")
    assert "out_lab-servers_egress_udp_123-123" in {r.key for r in strict.rules}
    assert strict.egress == "strict"


def test_only_the_adopted_groups_rules_are_held_inline_and_untagged() -> None:
    """An adopted group's rules go inline (so its first apply revokes the live rules the
    lab leaves out), without tags an inline rule cannot carry; every other rule stays a
    resource of its own, tags and all."""
    rules = resolve(load_catalogue(), Options())
    live = AdoptedGroup("sql-server", "sg-0c", "CRM SQL", "")
    before = {r.key: r for r in plan_aws(rules, "lab").rules}
    after = {r.key: r for r in plan_aws(rules, "lab", adopt=(live,)).rules}
    assert set(after) == set(before)
    for key, rule in after.items():
        if rule.group == "sql-server":
            assert (rule.inline, rule.tags) == (True, ()), key
        else:
            assert (rule.inline, rule.tags) == (False, before[key].tags), key
    assert any(r.group == "sql-server" for r in after.values())


def test_strict_egress_to_every_server_is_one_rule_on_the_members_group() -> None:
    """The members group's egress to every server on one port is one rule referencing the
    members group itself, keyed `out_`, tagged with its rule id; other egress is one rule
    per peer, keyed `out_` too (never `in_`, which ingress keys use)."""
    plan = plan_aws(resolve(load_catalogue(), Options()), "lab", egress="strict")
    smb = next(r for r in plan.rules if r.key == "out_lab-servers_egress_tcp_445-445")
    assert (smb.direction, smb.group, smb.ip_protocol, smb.from_port, smb.to_port) == (
        "egress",
        "lab-servers",
        "tcp",
        445,
        445,
    )
    assert (smb.peer_group, smb.cidr_ipv4, smb.rule_id) == (
        "lab-servers",
        None,
        "lab-servers.egress.tcp.445-445",
    )
    assert smb.tags == (
        ("crm-ports:lab", "lab"),
        ("crm-ports:topology", "split-roles"),
        ("crm-ports:rule", "lab-servers.egress.tcp.445-445"),
    )
    assert smb.description == "Microsoft-DS: Windows base ports on every server (to every server)"
    egress = [r for r in plan.rules if r.direction == "egress"]
    assert egress and all(r.key.startswith("out_") for r in egress)
    assert all(r.key.startswith("in_") for r in plan.rules if r.direction == "ingress")


def test_the_outbound_quota_takes_60_rules_and_refuses_the_61st() -> None:
    """Strict egress to many mail ranges: 29 ranges put the Email Router's group at
    exactly 60 outbound rules (allowed); 30 put the back end's at 61 (refused, by
    direction)."""
    catalogue = load_catalogue()

    def mail(n: int) -> RuleSet:
        return resolve(catalogue, Options(mail_cidrs=tuple(f"10.150.{i}.0/24" for i in range(n))))

    at_quota = plan_aws(mail(29), "lab", egress="strict").counts()
    assert max(at_quota.values()) == 60
    assert at_quota[("email-router", "egress")] == 60
    with pytest.raises(InputError) as refused:
        plan_aws(mail(30), "lab", egress="strict")
    assert refused.value.message.startswith(
        "security group 'lab-crm-back-end' needs 61 outbound rules; AWS allows 60 outbound "
        "rules per security group"
    )


def test_an_adopted_group_past_the_quota_is_named_as_it_is_live() -> None:
    """The user looks for the group in the console by its live name and id, not by the
    name crm-ports would have given it."""
    options = Options(admin_cidrs=tuple(f"203.0.{i}.0/24" for i in range(20)))
    live = AdoptedGroup("crm-front-end", "sg-0fe", "prod-web", "hand-built")
    with pytest.raises(InputError) as refused:
        plan_aws(resolve(load_catalogue(), options), "lab", adopt=(live,))
    assert refused.value.message.startswith(
        "security group 'prod-web' (sg-0fe) needs 74 inbound rules; AWS allows 60 inbound "
    )


@pytest.mark.parametrize("origin", ["labs/north.yaml", None])
def test_a_group_past_awss_quota_is_refused_naming_it_and_the_direction(
    origin: str | None,
) -> None:
    options = Options(admin_cidrs=tuple(f"203.0.{i}.0/24" for i in range(20)))
    rules = resolve(load_catalogue(), options)
    with pytest.raises(InputError) as refused:
        if origin is None:
            plan_aws(rules, "lab")
        else:
            plan_aws(rules, "lab", origin=origin)
    error = refused.value
    assert (error.file, error.entry, error.field) == (origin or options.origin, "lab 'lab'", "aws")
    assert error.message.startswith(
        "security group 'lab-crm-front-end' needs 74 inbound rules; AWS allows 60 inbound "
    )
