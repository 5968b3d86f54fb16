"""Our hand-written azurerm resources synthesize what the prebuilt bindings synthesize.

AWS output is checked by Terraform against the provider's schema; for Azure no provider
binary is reachable, so the authority is the generated cdktf-cdktf-provider-azurerm
bindings (a test-only extra). `tests/azure_bindings_app.py` builds every Azure lab stack
on them from the same plan, in a separate process (their import is slow and takes about a
gigabyte), and each section of the JSON must come out identical.

The one intended difference is `terraform.required_providers`: the bindings pin the exact
provider release they were generated from under a short source name, where we require a
version range; there the test asserts the same provider and that the pinned release lies
inside our range (so the bindings checked attribute names of a release we accept).

The top-level `removed` blocks and `terraform.required_version` (Terraform's own, no
provider's) are not the bindings' business: `tests/test_day2_azure.py` has Terraform read
the `removed` blocks.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crm_ports.lab.file import load_lab
from crm_ports.lab.model import Lab, default_labs
from crm_ports.synth.build import synth_app
from crm_ports.synth.plan import plan_stacks
from tests.conftest import REPO
from tests.tf_harness import _missing

pytestmark = pytest.mark.slow

BINDINGS_MODULE = "cdktf_cdktf_provider_azurerm"
BUILDER = REPO / "tests" / "azure_bindings_app.py"
# an adopted estate too (`crm-ports adopt azure`): live names, no members ASG, imports
LAB_FILES = (
    REPO / "labs" / "contoso-claims.yaml",
    REPO / "tests" / "fixtures" / "labs" / "adopted-azure.yaml",
)
STACKS = ("azure-full-server", "azure-split-roles", "azure-contoso-claims", "azure-adopted-azure")
SECTIONS = ("resource", "provider", "variable", "output", "terraform.backend")
RESOURCE_TYPES = {
    "azurerm_application_security_group",
    "azurerm_network_security_group",
    "azurerm_resource_group",
    "azurerm_subnet",
    "azurerm_subnet_network_security_group_association",
    "azurerm_virtual_network",
}
_BUILDER_TIMEOUT_S = 900


def _labs() -> list[Lab]:
    """The labs the builder gets as `--default-labs LAB_FILES...`, in the same order."""
    return [*default_labs(), *(load_lab(p) for p in LAB_FILES)]


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our AzureLabStacks, synthesized the way `crm-ports synth` does."""
    out = tmp_path_factory.mktemp("ours")
    synth_app([s for s in plan_stacks(_labs()) if s.cloud == "azure"], out)
    return out


@pytest.fixture(scope="module")
def bindings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same stacks on the prebuilt bindings, synthesized in a child process."""
    if importlib.util.find_spec(BINDINGS_MODULE) is None:
        _missing(
            BINDINGS_MODULE,
            "the Azure equivalence test needs the prebuilt azurerm bindings "
            "(pip install -e '.[bindings]')",
        )
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return _build_with_bindings(tmp_path_factory.mktemp("bindings"))
    # Under xdist every worker that runs a test of this module would build its own copy
    # (each a gigabyte and a dozen seconds): the first builds it into the session's
    # shared temporary folder, the others wait for it and reuse it.
    shared = tmp_path_factory.getbasetemp().parent
    out = shared / "azure-bindings"
    with (shared / "azure-bindings.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        complete = shared / "azure-bindings.complete"
        if not complete.exists():  # absent too if the first attempt failed: try again
            _build_with_bindings(out)
            complete.touch()
    return out


def _build_with_bindings(out: Path) -> Path:
    env = dict(os.environ)
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    args = [sys.executable, str(BUILDER), "--out", str(out), "--default-labs"]
    done = subprocess.run(
        [*args, *(str(p) for p in LAB_FILES)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=_BUILDER_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"{BUILDER.name} failed:\n{done.stdout}\n{done.stderr}"
    assert done.stdout.split() == list(STACKS)
    return out


def _load(outdir: Path, stack: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((outdir / "stacks" / stack / "cdk.tf.json").read_text())
    return data


def strip_metadata(value: Any) -> Any:
    """Drop cdktf's "//" blocks (construct paths, versions): not Terraform configuration."""
    if isinstance(value, dict):
        return {k: strip_metadata(v) for k, v in value.items() if k != "//"}
    if isinstance(value, list):
        return [strip_metadata(v) for v in value]
    return value


def _section(doc: dict[str, Any], dotted: str) -> Any:
    value: Any = doc
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return strip_metadata(value)


def differences(ours: Any, theirs: Any, path: str) -> Iterator[str]:
    """Every path where the two JSON values disagree, for a failure message a reviewer can
    act on (which resource, which attribute, both values)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in sorted(set(ours) | set(theirs)):
            where = f"{path}.{key}"
            if key not in theirs:
                yield f"{where}: only ours = {json.dumps(ours[key])}"
            elif key not in ours:
                yield f"{where}: only bindings = {json.dumps(theirs[key])}"
            else:
                yield from differences(ours[key], theirs[key], where)
    elif ours != theirs:
        yield f"{path}: ours = {json.dumps(ours)}, bindings = {json.dumps(theirs)}"


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("section", SECTIONS)
def test_section_identical(bindings: Path, ours: Path, stack: str, section: str) -> None:
    mine, theirs = _section(_load(ours, stack), section), _section(_load(bindings, stack), section)
    assert mine is not None, f"{stack}: no {section} in our output"
    problems = list(differences(mine, theirs, section))
    assert not problems, f"{stack} differs from the bindings:\n" + "\n".join(problems)


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_type_compared(ours: Path, stack: str) -> None:
    """The identity above covers every resource type the Azure stack emits."""
    assert set(_load(ours, stack)["resource"]) == RESOURCE_TYPES


@pytest.mark.parametrize("stack", STACKS)
def test_no_other_top_level_keys(bindings: Path, ours: Path, stack: str) -> None:
    mine, theirs = strip_metadata(_load(ours, stack)), strip_metadata(_load(bindings, stack))
    assert set(mine) == {*theirs, "removed"}
    assert mine.get("import") == theirs.get("import")
    assert set(theirs["terraform"]) == {"backend", "required_providers"}
    assert set(mine["terraform"]) == {*theirs["terraform"], "required_version"}
    assert mine["terraform"]["required_version"] == ">= 1.7"


@pytest.mark.parametrize("stack", STACKS)
def test_required_providers_equivalent(bindings: Path, ours: Path, stack: str) -> None:
    mine = _load(ours, stack)["terraform"]["required_providers"]
    theirs = _load(bindings, stack)["terraform"]["required_providers"]
    assert set(mine) == set(theirs) == {"azurerm"}
    for name, requirement in mine.items():
        pinned = theirs[name]
        assert provider_address(requirement["source"]) == provider_address(pinned["source"])
        assert version_satisfies(pinned["version"], requirement["version"]), (
            f"the bindings were generated from {name} {pinned['version']}, outside our "
            f"constraint {requirement['version']!r}: their attribute names prove nothing for it"
        )


# --------------------------------------------------------------------------
# Terraform's provider source addresses and version constraints, just enough to compare
# a pinned release with a range.
# --------------------------------------------------------------------------

_DEFAULT_HOST = "registry.terraform.io"
_DEFAULT_NAMESPACE = "hashicorp"
_CONSTRAINT = re.compile(r"\s*(~>|>=|<=|!=|=|>|<)?\s*v?(\d+(?:\.\d+){0,2})\s*\Z")


def provider_address(source: str) -> str:
    """`azurerm`, `hashicorp/azurerm` and `registry.terraform.io/hashicorp/azurerm` name
    the same provider (Terraform fills in the default namespace and host)."""
    parts = source.lower().split("/")
    if len(parts) == 1:
        parts = [_DEFAULT_NAMESPACE, *parts]
    if len(parts) == 2:
        parts = [_DEFAULT_HOST, *parts]
    return "/".join(parts)


def _version(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in text.split(".")] + [0, 0]
    return parts[0], parts[1], parts[2]


def version_satisfies(version: str, constraints: str) -> bool:
    """Terraform semantics for `=`, `!=`, `>`, `>=`, `<`, `<=` and `~>` (the rightmost
    given component may grow: `~> 4.0` is `>= 4.0, < 5.0`, `~> 4.0.1` is `< 4.1`)."""
    have = _version(version.lstrip("=v ").strip())
    for clause in constraints.split(","):
        match = _CONSTRAINT.match(clause)
        if match is None:
            raise ValueError(f"unsupported version constraint {clause!r} in {constraints!r}")
        operator, raw = match.group(1) or "=", match.group(2)
        want = _version(raw)
        if operator == "~>":
            given = [int(p) for p in raw.split(".")]
            head = given[:-1] if len(given) > 1 else given
            upper = [*head[:-1], head[-1] + 1]
            ok = want <= have < _version(".".join(map(str, upper)))
        else:
            ok = {
                "=": have == want,
                "!=": have != want,
                ">": have > want,
                ">=": have >= want,
                "<": have < want,
                "<=": have <= want,
            }[operator]
        if not ok:
            return False
    return True


@pytest.mark.parametrize(
    ("version", "constraints", "expected"),
    [
        ("4.55.0", "~> 4.0", True),
        ("5.0.0", "~> 4.0", False),
        ("3.117.0", "~> 4.0", False),
        ("4.0.9", "~> 4.0.1", True),
        ("4.1.0", "~> 4.0.1", False),
        ("5.100.0", ">= 5.30, < 7", True),
        ("7.0.0", ">= 5.30, < 7", False),
        ("4.55.0", "= 4.55.0", True),
        ("4.55.0", "!= 4.55.0", False),
    ],
)
def test_version_satisfies(version: str, constraints: str, expected: bool) -> None:
    assert version_satisfies(version, constraints) is expected


def test_provider_address() -> None:
    assert (
        provider_address("azurerm")
        == provider_address("hashicorp/azurerm")
        == provider_address("registry.terraform.io/hashicorp/azurerm")
    )
    assert provider_address("azurerm") != provider_address("example/azurerm")
