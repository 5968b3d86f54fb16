"""The warm-up (`crm_ports.warmup`): Node starts on a second thread while the labs are
planned. Bad input found meanwhile still ends as one line and exit 2 with nothing
written, and the commands that do not synthesize never start it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Resolves only against the catalogue: `sql-server` is placed nowhere, so the error comes
# from planning, while the background import is running.
UNPLACED = """\
name: half-lab
topology:
  hosts:
    - name: app
      roles: [web-application, asynchronous-service, sandbox-processing, deployment-web-service]
    - {name: dc, roles: [domain-controller, reporting-services]}
"""


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crm_ports", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=300,
    )


@pytest.mark.slow
def test_bad_input_during_warmup_is_one_line(tmp_path: Path) -> None:
    lab = tmp_path / "half.yaml"
    lab.write_text(UNPLACED, encoding="utf-8")
    result = _run("synth", "--lab", str(lab), "--out", "out", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crm-ports: error: "), result.stderr
    assert "sql-server" in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_cdktf_app_starts_node_first_and_still_fails_in_one_line(tmp_path: Path) -> None:
    """`cdktf.json`'s app starts Node before its own modules load; bad input found while
    it starts is one line and exit 2, with no output folder, and Node is waited for."""
    lab = tmp_path / "half.yaml"
    lab.write_text(UNPLACED, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-O", "-m", "crm_ports.app"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO),
            "CRM_PORTS_LABS": str(lab),
            "CDKTF_OUTDIR": "o",
        },
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crm-ports: error: "), result.stderr
    assert "sql-server" in lines[0]
    assert not (tmp_path / "o").exists()


def test_start_is_once_and_finish_without_start_is_harmless() -> None:
    code = (
        "import sys, threading; from crm_ports import warmup\n"
        "warmup.finish()\n"
        "warmup.start(); first = warmup._started; warmup.start()\n"
        "assert warmup._started is first\n"
        "warmup.finish()\n"
        "print(sorted(m for m in ('cdktf', 'crm_ports.stacks.aws', 'crm_ports.stacks.azure')"
        " if m in sys.modules), first.is_alive())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=300,
    )
    assert result.stdout.strip() == (
        "['cdktf', 'crm_ports.stacks.aws', 'crm_ports.stacks.azure'] False"
    )
