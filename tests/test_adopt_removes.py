"""The live rules an adopted lab's first apply removes (`adopt.<host>.removes`, issue 22):
written by adopt for every live rule it leaves out, parsed and checked with one-line
errors, kept through a synthesized folder, and listed first by `diff` and `review`
(tests/test_diff.py and tests/test_review.py run the commands)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from crm_ports.adopt.live import Estate, LiveRule
from crm_ports.adopt.render import lab_text
from crm_ports.catalogue.load import load_catalogue
from crm_ports.lab.adoption import RemovedRule
from crm_ports.lab.file import load_lab
from crm_ports.resolver.engine import resolve_lab
from crm_ports.terraform.metadata import metadata_text, read_lab
from tests.conftest import Result
from tests.test_adopt_infer import estate_for, explain_acme
from tests.test_adopt_lab import LAB

RDP = (
    '      - {rule_id: sgr-0f1, direction: ingress, protocol: tcp, ports: "3389", '
    'peer: 0.0.0.0/0, description: "vendor RDP", reason: "breaks CRM001: administrative '
    'port(s) 3389 open to the internet (0.0.0.0/0)"}\n'
)
PING = (
    "      - {rule_id: sgr-0f2, direction: ingress, protocol: icmp, ports: type 8, "
    "peer: sg-0a2, reason: no lab rule can say protocol icmp}\n"
)
# the web host's group, with its live RDP rule from the internet and a ping from sql
REMOVES = LAB.replace(
    "      in_back_web_tcp_msrpc: sgr-03\n",
    "      in_back_web_tcp_msrpc: sgr-03\n    removes:\n" + RDP + PING,
)


def _lab(tmp_path: Path, text: str = REMOVES) -> Path:
    path = tmp_path / "acme.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_removes_are_read_per_host_in_words(tmp_path: Path) -> None:
    lab = load_lab(_lab(tmp_path))
    removes = {a.host: a.removes for a in lab.adopt}
    assert removes["sql"] == removes["dc"] == removes["back"] == ()
    rdp, ping = removes["web"]
    assert rdp == RemovedRule(
        rule_id="sgr-0f1",
        direction="ingress",
        protocol="tcp",
        ports="3389",
        peer="0.0.0.0/0",
        reason="breaks CRM001: administrative port(s) 3389 open to the internet (0.0.0.0/0)",
        description="vendor RDP",
    )
    assert rdp.words() == "inbound TCP 3389 from 0.0.0.0/0"
    assert ping.description == ""
    assert ping.words() == "inbound ICMP type 8 from sg-0a2"
    outbound = replace(ping, direction="egress", protocol="all", ports="all", peer="::/0")
    assert outbound.words() == "outbound all traffic to ::/0"


BREAKS = [
    (('ports: "3389"', 'ports: "3389-22"'), "removes[0].ports", "range 3389-22 is inverted"),
    (('ports: "3389"', 'ports: "all"'), "removes[0].ports", "'all' is not a port"),
    (("ports: type 8", "ports: echo"), "removes[1].ports", "not all, type N or type N code M"),
    (("protocol: icmp", "protocol: all"), "removes[1].ports", "it has no ports, write all"),
    (("peer: 0.0.0.0/0", "peer: 10.0.0.1/8"), "removes[0].peer", "has host bits set"),
    (("peer: sg-0a2", "peer: web"), "removes[1].peer", "a group id (sg-...)"),
    (("rule_id: sgr-0f2", "rule_id: sgr-0f1"), "removes[1].rule_id", "at adopt.web.removes[0]"),
    (("rule_id: sgr-0f2", "rule_id: sgr-03"), "removes[1].rule_id", "in_back_web_tcp_msrpc, so"),
    (("rule_id: sgr-0f2", "rule_id: rule-2"), "removes[1].rule_id", "sgr-0abc1234"),
    (("direction: ingress", "direction: inbound"), "removes[0].direction", "'inbound'"),
    (("protocol: tcp", "protocol: sctp"), "removes[0].protocol", "an IP protocol number"),
    ((", reason: no lab rule can say protocol icmp", ""), "removes[1]", "'reason' is missing"),
    (("direction: ingress,", "direction: ingress, port: 1,"), "removes[0].port", "did you mean"),
]


@pytest.mark.parametrize(("change", "field", "words"), BREAKS)
def test_a_bad_removed_rule_is_one_line(
    cli: Callable[..., Result], tmp_path: Path, change: tuple[str, str], field: str, words: str
) -> None:
    text = REMOVES.replace(*change, 1)  # the first rule holding it
    assert text != REMOVES
    result = cli("validate", str(_lab(tmp_path, text)))
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert "acme.yaml:" in line
    assert f"field 'adopt.web.{field}'" in line
    assert words in line


def _estate(tmp_path: Path) -> Estate:
    """A hand-built estate whose groups hold every planned rule, and six rules more."""
    estate = estate_for(tmp_path, {})
    extra = (
        LiveRule("sgr-f001", "sg-0", False, "tcp", 3389, 3389, "0.0.0.0/0", None, "vendor"),
        LiveRule("sgr-f002", "sg-3", False, "icmp", 8, -1, "10.9.0.0/16", None),
        LiveRule("sgr-f003", "sg-2", True, "tcp", 443, 443, "0.0.0.0/0", None),
        LiveRule("sgr-f004", "sg-2", False, "tcp", 1433, 1433, "0.0.0.0/0", None),
        LiveRule("sgr-f005", "sg-1", False, "-1", None, None, None, "sg-2"),
        LiveRule("sgr-f006", "sg-1", False, "tcp", 8443, 8443, "10.30.0.0/24", None),
    )
    return replace(estate, rules=estate.rules + extra)


def _explain(estate: Estate, keep: bool) -> str:
    return lab_text(explain_acme(estate, keep_unexplained=keep), "vpc-0abc")


def test_adopt_records_every_rule_it_leaves_out(tmp_path: Path) -> None:
    estate = _estate(tmp_path)
    text = _explain(estate, keep=False)
    assert text == _explain(estate, keep=False)  # the same estate, the same bytes
    assert "# The first apply revokes the live rules listed under each host's removes:." in text
    lab = load_lab(_lab(tmp_path, text))
    removes = {r.rule_id: (a.host, r) for a in lab.adopt for r in a.removes}
    # the custom rule from a private range is an extra rule, so it stays
    assert sorted(removes) == ["sgr-f001", "sgr-f002", "sgr-f003", "sgr-f004", "sgr-f005"]
    host, rdp = removes["sgr-f001"]
    assert host == "crm-web"
    assert (rdp.words(), rdp.description) == ("inbound TCP 3389 from 0.0.0.0/0", "vendor")
    assert rdp.reason == (
        "breaks CRM001: administrative port(s) 3389 open to the internet (0.0.0.0/0)"
    )
    assert removes["sgr-f004"][1].reason == (
        "breaks CRM003: database port(s) 1433 open to the internet (0.0.0.0/0)"
    )
    assert removes["sgr-f002"][1].words() == "inbound ICMP type 8 from 10.9.0.0/16"
    assert removes["sgr-f003"][1].words() == "outbound TCP 443 to 0.0.0.0/0"
    assert "egress" in removes["sgr-f003"][1].reason
    assert removes["sgr-f005"][1].words() == "inbound all traffic from sg-2"
    # none is a rule the lab takes over
    assert not set(removes) & {rule_id for a in lab.adopt for _, rule_id in a.rules}


def test_keep_unexplained_keeps_the_internet_rules_out_of_removes(tmp_path: Path) -> None:
    lab = load_lab(_lab(tmp_path, _explain(_estate(tmp_path), keep=True)))
    removes = sorted(r.rule_id for a in lab.adopt for r in a.removes)
    assert removes == ["sgr-f002", "sgr-f003", "sgr-f005"]  # no lab rule can say those
    kept = {rule_id for a in lab.adopt for _, rule_id in a.rules}
    assert {"sgr-f001", "sgr-f004"} <= kept


def test_a_lab_without_removed_rules_writes_no_removes(tmp_path: Path) -> None:
    text = _explain(estate_for(tmp_path, {}), keep=False)
    assert "removes" not in text


def test_removes_survive_a_synthesized_folder(tmp_path: Path) -> None:
    """`crm-ports.json` keeps them, so `diff` between folders shows them too; a lab
    without any writes the same file as before."""
    for text, kept in ((REMOVES, True), (LAB, False)):
        lab = load_lab(_lab(tmp_path, text))
        written = metadata_text(lab, resolve_lab(load_catalogue(), lab), "aws")
        assert ('"removes"' in written) is kept
        back = read_lab(json.loads(written), "crm-ports.json", "stack", "crm-ports.json").lab
        assert [a.removes for a in back.adopt] == [a.removes for a in lab.adopt]
