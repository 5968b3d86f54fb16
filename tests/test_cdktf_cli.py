"""The real `cdktf synth` (cdktf-cli as package.json pins it, running cdktf.json's app)
writes the same stacks as `crm-ports synth`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.tf_harness import require_tool

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_cdktf_synth_matches_crm_ports_synth(tmp_path: Path) -> None:
    cdktf = require_tool("cdktf-cli", "compares cdktf-cli's synth with crm-ports synth (npm ci)")
    if not (REPO / ".venv" / "bin" / "python").is_file():
        pytest.fail("cdktf.json runs .venv/bin/python: set up the project as the README says")
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "CI": "1"}
    env.pop("CDKTF_OUTDIR", None)
    ours = subprocess.run(
        [str(REPO / ".venv/bin/crm-ports"), "synth", "--out", str(tmp_path / "ours")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ours.returncode == 0, ours.stderr
    theirs = subprocess.run(
        [str(cdktf), "synth", "--output", str(tmp_path / "theirs")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert theirs.returncode == 0, theirs.stdout + theirs.stderr
    stacks = sorted(p.name for p in (tmp_path / "ours" / "stacks").iterdir())
    assert stacks == sorted(p.name for p in (tmp_path / "theirs" / "stacks").iterdir())
    assert len(stacks) == 4
    for stack in stacks:
        mine = (tmp_path / "ours" / "stacks" / stack / "cdk.tf.json").read_bytes()
        cli = (tmp_path / "theirs" / "stacks" / stack / "cdk.tf.json").read_bytes()
        assert mine == cli, f"{stack}: cdktf synth differs from crm-ports synth"

    # Again over that output, as the next `npx cdktf diff`/`deploy` synthesizes, now on two
    # processes (the worker builds the split-roles stacks): the same files as `crm-ports
    # synth` wrote on one, manifest included, nothing of the workers left behind, and what
    # `cdktf deploy` left in a worker's stack folder kept.
    lock = tmp_path / "theirs" / "stacks" / "azure-split-roles" / ".terraform.lock.hcl"
    lock.write_text("# terraform init wrote this")
    again = subprocess.run(
        [str(cdktf), "synth", "--output", str(tmp_path / "theirs")],
        cwd=REPO,
        env={**env, "CRM_PORTS_JOBS": "2"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "2 of 4 stacks go to 1 more process(es)" in again.stdout
    assert lock.read_text() == "# terraform init wrote this"
    lock.unlink()
    assert _tree(tmp_path / "theirs") == _tree(tmp_path / "ours")


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
