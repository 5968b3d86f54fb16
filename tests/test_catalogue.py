"""The built-in catalogue: it loads, every entry cites a source, and the interface
names (role ids, topologies) are the ones the issues fixed."""

from __future__ import annotations

from crm_ports.catalogue.model import Catalogue

FIXED_ROLES = {
    "web-application",
    "asynchronous-service",
    "sandbox-processing",
    "deployment-web-service",
    "sql-server",
    "reporting-services",
    "email-router",
    "exchange",
    "mail-server",
    "domain-controller",
    "adfs",
    "load-balancer",
    "client",
    "admin",
}
SEED_FILES = {"000_9894c7c41747a4bf.txt", "001_2a3121b411282ba0.txt"}


def test_role_ids_are_the_fixed_interface(catalogue: Catalogue) -> None:
    assert {r.id for r in catalogue.roles} == FIXED_ROLES


def test_topologies(catalogue: Catalogue) -> None:
    assert {t.id for t in catalogue.topologies} == {"full-server", "split-roles"}
    split = catalogue.topology("split-roles")
    assert {g.name for g in split.groups} >= {
        "crm-front-end",
        "crm-back-end",
        "crm-deployment",
        "sql-server",
        "ssrs",
        "email-router",
        "domain-controller",
    }


def test_every_flow_cites_a_seed(catalogue: Catalogue) -> None:
    for flow in catalogue.flows:
        files = {catalogue.source(c.source).file for c in flow.cites}
        assert files & SEED_FILES, f"flow {flow.id} cites no seed"
        assert all(c.at.strip() for c in flow.cites)


def test_every_service_cites_a_source(catalogue: Catalogue) -> None:
    for service in catalogue.services:
        assert service.cites, service.id
        for citation in service.cites:
            assert catalogue.source(citation.source)


def test_ports_not_in_the_seeds_name_their_kb_article(catalogue: Catalogue) -> None:
    """RDP, WinRM, SQL Browser, the RPC range, AD FS: numbers the seeds do not give."""
    for sid, kb in [
        ("rdp", "kb-832017"),
        ("winrm", "kb-832017"),
        ("sql-browser", "kb-287932"),
        ("rpc-dynamic", "kb-929851"),
        ("adfs-https", "kb-832017"),
    ]:
        service = catalogue.service(sid)
        assert kb in {c.source for c in service.cites}, sid
        assert service.note and "KB" in service.note, sid


def test_source_disagreements_are_noted(catalogue: Catalogue) -> None:
    for sid in ("microsoft-ds", "dcom-blackjack"):
        note = catalogue.service(sid).note or ""
        assert "KB 832017" in note and "kept" in note


def test_not_recommended_flows_say_why(catalogue: Catalogue) -> None:
    flow = next(f for f in catalogue.flows if f.id == "client-sql-views")
    assert flow.recommended is False
    assert flow.warning and "FetchXML" in flow.warning


def test_a_citation_names_the_document_by_its_title(catalogue: Catalogue) -> None:
    """The Source column of `ports` (and every rule's refs) showed the seeds' file names,
    `000_9894c7c41747a4bf.txt`, which tell a reader nothing."""
    from crm_ports.options import Options
    from crm_ports.resolver.engine import resolve
    from crm_ports.views import render_ports

    seed = catalogue.source("seed-001")
    assert seed.cite("Port recommendations") == (
        "Connectivity and Firewall Port Requirements for Microsoft Dynamics CRM 2013: "
        "Port recommendations"
    )
    shown = render_ports(catalogue, Options(), "csv")
    assert "Network ports for Microsoft Dynamics CRM: Network ports for the" in shown
    refs = {ref for rule in resolve(catalogue, Options()).rules for ref in rule.refs}
    assert not any(name in text for name in SEED_FILES for text in (shown, *refs))
