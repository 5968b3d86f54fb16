"""Policy checks over a lab's rule set and its stacks (synthesized, or live for `audit`):
one check per module over a shared base (checkov's layout), a pack binding each check to
its severity (cdk-nag's), the registry that runs them, and the report.

The package imports every check module, listed here by name rather than found on disk,
so that importing it or any of its modules (the registry included) registers all eleven:
no caller can run a partial set by importing the wrong module first.
"""

import importlib

from crm_ports.policy.packs import HOUSE
from crm_ports.policy.registry import REGISTRY, hold_to, run_checks

CHECK_MODULES = tuple(
    importlib.import_module(f"{__name__}.{name}")
    for name in (
        "crm001_internet_admin_ports",
        "crm002_internet_directory_ports",
        "crm003_internet_database_ports",
        "crm004_all_traffic_ingress",
        "crm005_https_enabled",
        "crm006_described_and_cited",
        "crm007_quotas",
        "crm008_not_recommended",
        "crm009_lab_local_rule",
        "crm010_groups_kept",
        "crm011_role_without_flow",
    )
)
hold_to(HOUSE)

__all__ = ["CHECK_MODULES", "REGISTRY", "run_checks"]
