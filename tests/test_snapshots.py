"""Snapshot tests: the synthesized Terraform JSON of every cloud x topology, plus each
option that changes rules. A snapshot change is reviewed like code: update with
`pytest tests/test_snapshots.py --snapshot-update` only when the diff is the intended one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.stacks import lab, synth_stack
from tests.tf_harness import terraform_validate

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


@pytest.mark.slow
@pytest.mark.parametrize(
    ("topology", "variant", "egress"), [*AWS_CASES, ("split-roles", "default", "strict")]
)
def test_every_aws_variant_passes_terraform_validate(
    tmp_path: Path, topology: str, variant: str, egress: str
) -> None:
    """Every attribute the snapshots pin, checked against the real provider schema."""
    the_lab = lab(
        f"{topology}-{variant}",
        clouds=("aws",),
        egress=egress,
        topology=topology,
        **VARIANTS[variant],
    )
    (tmp_path / "cdk.tf.json").write_text(json.dumps(synth_stack(the_lab, "aws")))
    terraform_validate(tmp_path)
