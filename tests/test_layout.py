"""The house: what users import keeps working wherever a module moved, the top of the
package holds only the entry points and the shared vocabulary, and the architecture
contracts of `make lint` (import-linter, configured in pyproject.toml) hold in every test
run too, so CI keeps them."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.tf_harness import _missing

# The imports docs/ and users' apps rely on (docs/architecture.md, "Interfaces").
PUBLIC = {
    "crm_ports.constructs": (
        "AwsCrmFirewall",
        "AwsCrmGroup",
        "AwsCrmHost",
        "AwsCrmLab",
        "AzureCrmFirewall",
        "AzureCrmGroup",
        "AzureCrmHost",
        "AzureCrmLab",
    ),
    "crm_ports.constructs.aws": ("AwsCrmFirewall", "AwsCrmGroup"),
    "crm_ports.constructs.azure": ("AzureCrmFirewall", "AzureCrmGroup"),
    "crm_ports.constructs.resources.aws": ("AwsProvider", "SecurityGroup"),
    "crm_ports.constructs.resources.azure": ("AzurermProvider", "NetworkSecurityGroup"),
    "crm_ports.stacks.aws": ("AwsLabStack",),
    "crm_ports.stacks.azure": ("AzureLabStack",),
    "crm_ports.options": ("Options",),
    "crm_ports.errors": ("InputError",),
    "crm_ports.catalogue": ("load_catalogue", "default_catalogue_dir"),
    "crm_ports.resolver": ("resolve", "resolve_lab"),
    "crm_ports.lab": ("Lab", "load_lab", "default_labs"),
}
TOP_LEVEL_LIMIT = 10  # modules besides __init__ and __main__


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_imports_keep_working(module: str) -> None:
    loaded = importlib.import_module(module)
    for name in PUBLIC[module]:
        assert getattr(loaded, name) is not None, f"{module}.{name}"


def test_a_face_names_what_it_does_not_have() -> None:
    import crm_ports.lab

    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        _ = crm_ports.lab.Nope


def test_the_top_holds_only_entry_points_and_vocabulary() -> None:
    top = sorted(p.stem for p in (REPO / "crm_ports").glob("*.py"))
    rest = [name for name in top if name not in ("__init__", "__main__")]
    assert len(rest) <= TOP_LEVEL_LIMIT, rest


def test_python_m_crm_ports_runs_the_command_line() -> None:
    """(`python -m crm_ports.app` is run by tests/test_shards.py and tests/test_synth.py.)"""
    result = subprocess.run(
        [sys.executable, "-m", "crm_ports", "--version"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "crm-ports" in result.stdout, result.stderr


def test_the_architecture_contracts_hold() -> None:
    """Layers of the data path, no import circle in any package (lazy and type-only
    imports count), and no cdktf in the pure-Python core: this interpreter's
    import-linter, reading pyproject.toml (one elsewhere on PATH may be another's)."""
    tool = Path(sys.executable).with_name("lint-imports")
    if not tool.is_file():
        _missing("lint-imports", "checks the architecture contracts (pip install import-linter)")
    result = subprocess.run(
        [str(tool), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
