"""`make synth` installs crm-ports without its `audit` extra (the cloud SDKs) and without
the test tools: synthesis and review must never import them, and `crm-ports audit`
without them says which extra to install."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Result

REPO = Path(__file__).resolve().parent.parent
SDKS = ("boto3", "botocore", "azure", "moto", "pytest", "hypothesis", "syrupy")


@pytest.mark.slow
def test_synthesis_and_review_import_no_sdk_and_no_test_tool(tmp_path: Path) -> None:
    code = (
        "import sys; from crm_ports.cli import run\n"
        "codes = [run(['synth', '--out', 'out']), run(['check', '--synth', 'out']),"
        " run(['verify', '--synth', 'out'])]\n"
        f"print(codes, sorted({{m.split('.')[0] for m in sys.modules}} & set({SDKS!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=600,
    )
    assert result.stdout.strip().splitlines()[-1] == "[0, 0, 0] []", result.stderr


@pytest.mark.parametrize(
    ("cloud", "missing", "args"),
    [
        ("aws", "boto3", ["--region", "eu-west-1"]),
        ("azure", "azure.mgmt.network", ["--subscription-id", "0000"]),
    ],
)
def test_audit_without_the_extra_names_it(
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    cloud: str,
    missing: str,
    args: list[str],
) -> None:
    real = importlib.util.find_spec

    def hidden(name: str, *rest: Any) -> Any:
        return None if name == missing else real(name, *rest)

    monkeypatch.setattr(importlib.util, "find_spec", hidden)
    result = cli("audit", cloud, *args)
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "pip install 'crm_ports-0.1.0-py3-none-any.whl[audit]'" in result.err
    assert missing in result.err and "docs/installing.md" in result.err
