"""Snapshot tests: the synthesized Terraform JSON of every cloud x topology, plus each
option that changes rules. A snapshot change is reviewed like code: update with
`pytest tests/test_snapshots.py --snapshot-update` only when the diff is the intended one.
"""

from __future__ import annotations

from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.stacks import lab, synth_stack
from tests.tf_harness import Validation, terraform_validate_documents

VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "claims": {"auth": "claims"},
    "pop3-smtp": {"email": "pop3-smtp"},
    "custom-ports": {"web_port": 5555, "sql_port": 1533},
    "operation": {"phase": "operation"},
}
CASES = [
    (cloud, topology, variant)
    for cloud in ("aws", "azure")
    for topology in ("full-server", "split-roles")
    for variant in VARIANTS
    if variant == "default" or topology == "split-roles"
]


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.flavoured
@pytest.mark.slow
@pytest.mark.parametrize(("cloud", "topology", "variant"), CASES)
def test_stack_snapshot(
    snapshot_json: SnapshotAssertion, cloud: str, topology: str, variant: str
) -> None:
    the_lab = lab(f"{topology}-{variant}", topology=topology, **VARIANTS[variant])
    assert synth_stack(the_lab, cloud) == snapshot_json


@pytest.mark.flavoured
@pytest.mark.slow
def test_strict_egress_snapshot(snapshot_json: SnapshotAssertion) -> None:
    the_lab = lab("split-roles-strict", clouds=("aws",), egress="strict")
    assert synth_stack(the_lab, "aws") == snapshot_json


AWS_CASES = sorted((t, v, "allow-all") for c, t, v in CASES if c == "aws")
VALIDATED = [*AWS_CASES, ("split-roles", "default", "strict")]


@pytest.fixture(scope="module")
def aws_variants_validated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Validation]:
    """Every AWS variant through one `terraform validate` run (the provider reads its
    schema once, not once per variant); each test judges its own stack's diagnostics."""
    documents = {
        "-".join(case): synth_stack(
            lab(
                f"{case[0]}-{case[1]}",
                clouds=("aws",),
                egress=case[2],
                topology=case[0],
                **VARIANTS[case[1]],
            ),
            "aws",
        )
        for case in VALIDATED
    }
    return terraform_validate_documents(tmp_path_factory.mktemp("aws-variants"), documents)


@pytest.mark.slow
@pytest.mark.parametrize(("topology", "variant", "egress"), VALIDATED)
def test_every_aws_variant_passes_terraform_validate(
    aws_variants_validated: dict[str, Validation], topology: str, variant: str, egress: str
) -> None:
    """Every attribute the snapshots pin, checked against the real provider schema."""
    aws_variants_validated[f"{topology}-{variant}-{egress}"].assert_valid()
