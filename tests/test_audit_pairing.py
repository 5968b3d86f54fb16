"""The audit's comparison (crm_ports/audit/compare.py) on hand-made items, cloud aside.

Both clouds' audits end here, and their tests reach it only through whole labs, where
every rule differs from every other in content; so these pin the pairing itself: content
first, then the name or tag, each live item used once, never across resources or
containers, and the findings in one fixed order with the fields that differ.
"""

from __future__ import annotations

from dataclasses import replace

from crm_ports.audit.compare import Item, compare, tag_text
from crm_ports.audit.model import CHANGED, MISSING, UNEXPECTED, Change, Finding


def rule(
    name: str,
    identity: tuple[str, ...],
    *,
    fields: tuple[tuple[str, str], ...] = (),
    fallback: tuple[str, ...] | None = None,
    container: str = "nsg-a",
    resource: str = "nsg-rule",
    live_id: str = "",
    note: str = "",
) -> Item:
    return Item(
        resource=resource,
        container=container,
        name=name,
        identity=identity,
        fallback=(name,) if fallback is None else fallback,
        fields=fields,
        summary=f"summary of {name}",
        live_id=live_id,
        note=note,
    )


def test_equal_content_is_clean_whatever_the_names() -> None:
    planned = [rule("https", ("tcp", "443"), fields=(("priority", "100"),))]
    live = [rule("renamed", ("tcp", "443"), fields=(("priority", "100"),), live_id="/r/1")]
    assert compare(planned, live) == ()


def test_a_field_edited_in_place_is_one_change_naming_each_field() -> None:
    """Paired by content, compared by fields: every differing field, in the plan's order;
    a field the live side lacks counts as empty."""
    planned = [
        rule(
            "https",
            ("tcp", "443"),
            fields=(("priority", "100"), ("description", "web"), ("access", "Allow")),
        )
    ]
    live = [
        rule("x", ("tcp", "443"), fields=(("priority", "101"), ("access", "Allow")), live_id="/r/1")
    ]
    assert compare(planned, live) == (
        Finding(
            CHANGED,
            "nsg-rule",
            "nsg-a",
            "https",
            "summary of https",
            "/r/1",
            (Change("priority", "100", "101"), Change("description", "web", "")),
        ),
    )


def test_a_rule_whose_content_changed_pairs_by_name_and_reports_the_fields() -> None:
    planned = [rule("rdp", ("tcp", "3389"), fields=(("ports", "3389"),))]
    live = [rule("rdp", ("tcp", "3390"), fields=(("ports", "3390"),), live_id="/r/9")]
    (finding,) = compare(planned, live)
    assert (finding.status, finding.name, finding.live_id) == (CHANGED, "rdp", "/r/9")
    assert finding.changes == (Change("ports", "3389", "3390"),)
    assert finding.summary == "summary of rdp"  # as planned, not as found


def test_content_pairing_comes_before_names() -> None:
    """A live rule with the planned content pairs with it even when another live rule
    carries the planned name: the name-holder is then unexpected, not a change."""
    planned = [rule("rdp", ("tcp", "3389"))]
    live = [
        rule("rdp", ("tcp", "3390"), live_id="/r/by-name"),
        rule("other", ("tcp", "3389"), live_id="/r/by-content"),
    ]
    (finding,) = compare(planned, live)
    assert (finding.status, finding.live_id, finding.name) == (UNEXPECTED, "/r/by-name", "rdp")


def test_without_a_fallback_an_item_pairs_by_content_only() -> None:
    """ASGs and NSGs have no second key: a different content is one missing and one
    unexpected, with their notes and the live id."""
    planned = [replace(rule("web", ("asg", "web"), note="planned note"), fallback=None)]
    live = [replace(rule("web", ("asg", "www"), live_id="/a/1", note="stale"), fallback=None)]
    assert compare(planned, live) == (
        Finding(MISSING, "nsg-rule", "nsg-a", "web", "summary of web", "", (), "planned note"),
        Finding(UNEXPECTED, "nsg-rule", "nsg-a", "web", "summary of web", "/a/1", (), "stale"),
    )


def test_each_live_item_pairs_once() -> None:
    """Two live copies of one planned rule: one pairs, the other is unexpected."""
    planned = [rule("https", ("tcp", "443"))]
    live = [
        rule("https", ("tcp", "443"), live_id="/r/2"),
        rule("https", ("tcp", "443"), live_id="/r/1"),
    ]
    (finding,) = compare(planned, live)
    assert (finding.status, finding.live_id) == (UNEXPECTED, "/r/2")  # live sorted by id


def test_two_planned_rules_of_one_content_take_one_live_each() -> None:
    planned = [rule("a", ("tcp", "443")), rule("b", ("tcp", "443"))]
    live = [rule("x", ("tcp", "443"), live_id="/r/1")]
    (finding,) = compare(planned, live)
    assert (finding.status, finding.name) == (MISSING, "b")  # the plan's sorted by name


def test_pairing_never_crosses_containers_or_resources() -> None:
    planned = [
        rule("https", ("tcp", "443"), container="nsg-a"),
        rule("web", ("asg", "web"), resource="application-security-group"),
    ]
    live = [
        rule("https", ("tcp", "443"), container="nsg-b", live_id="/b/1"),
        rule("web", ("asg", "web"), resource="nsg-rule", live_id="/a/1"),
    ]
    found = {(f.status, f.resource, f.container, f.name) for f in compare(planned, live)}
    assert found == {
        (MISSING, "nsg-rule", "nsg-a", "https"),
        (MISSING, "application-security-group", "nsg-a", "web"),
        (UNEXPECTED, "nsg-rule", "nsg-b", "https"),
        (UNEXPECTED, "nsg-rule", "nsg-a", "web"),
    }


def test_findings_are_sorted_by_container_resource_name_status() -> None:
    planned = [
        rule("b", ("tcp", "2"), container="nsg-b"),
        rule("a", ("tcp", "1"), container="nsg-b", fields=(("p", "y"),)),
        rule("z", ("tcp", "9"), container="nsg-a"),
    ]
    live = [rule("a", ("udp", "1"), container="nsg-b", fields=(("p", "x"),), live_id="/1")]
    assert [(f.container, f.name, f.status) for f in compare(planned, live)] == [
        ("nsg-a", "z", MISSING),
        ("nsg-b", "a", CHANGED),
        ("nsg-b", "b", MISSING),
    ]
    shuffled = compare(list(reversed(planned)), live)
    assert shuffled == compare(planned, live)


def test_tag_text_compares_only_the_plans_keys_sorted() -> None:
    keys = frozenset({"crm-ports:lab", "crm-ports:group"})
    tags = {"owner": "ops", "crm-ports:lab": "contoso", "crm-ports:group": "web"}
    assert tag_text(tags, keys) == "crm-ports:group=web, crm-ports:lab=contoso"
    assert tag_text(None, keys) == ""
    assert tag_text({"owner": "ops"}, keys) == ""


def test_an_empty_planned_field_matches_a_field_the_live_side_lacks() -> None:
    """The plan's empty value (no description, no tags) and a live resource without the
    field are the same: no change is reported."""
    planned = [rule("https", ("tcp", "443"), fields=(("description", ""), ("tags", "")))]
    live = [rule("https", ("tcp", "443"), live_id="/r/1")]
    assert compare(planned, live) == ()
