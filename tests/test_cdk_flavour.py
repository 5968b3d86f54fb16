"""One CDK flavour per process: how it is chosen, the one-line errors when it cannot be
used, the clear error when a construct tree mixes the two, and the constructs inside a
user's own CDK Terrain app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from crm_ports.constructs import cdk
from crm_ports.constructs.cdk import FlavourError
from tests.conftest import REPO
from tests.flavours import require_flavour, without_metadata


def _choose(monkeypatch: pytest.MonkeyPatch, asked: str, installed: set[str]) -> str:
    monkeypatch.setattr(
        cdk.importlib.util,
        "find_spec",
        lambda name: object() if name in installed else None,
    )
    return cdk._choose(asked)


def test_cdktf_is_the_default_when_both_are_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("cdktf", "cdktn"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert _choose(monkeypatch, "", {"cdktf", "cdktn"}) == "cdktf"
    assert _choose(monkeypatch, "", {"cdktn"}) == "cdktn"
    assert _choose(monkeypatch, "cdktn", {"cdktf", "cdktn"}) == "cdktn"


def test_the_flavour_a_users_app_imported_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "cdktf", raising=False)
    monkeypatch.setitem(sys.modules, "cdktn", sys)  # any module object: only its name counts
    assert _choose(monkeypatch, "", {"cdktf", "cdktn"}) == "cdktn"


@pytest.mark.parametrize(
    ("asked", "installed", "message"),
    [
        ("cdk8s", {"cdktf", "cdktn"}, "unknown flavour 'cdk8s': use cdktf or cdktn"),
        (
            "cdktn",
            {"cdktf"},
            "cdktn is not installed: pip install 'crm_ports-0.1.0-py3-none-any.whl[cdktn]'",
        ),
        ("", set(), "neither cdktf nor cdktn is installed"),
    ],
)
def test_a_flavour_that_cannot_be_used_is_one_line(
    monkeypatch: pytest.MonkeyPatch, asked: str, installed: set[str], message: str
) -> None:
    for name in ("cdktf", "cdktn"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(FlavourError) as raised:
        _choose(monkeypatch, asked, installed)
    assert str(raised.value).startswith("CRM_PORTS_CDK: ")
    assert message in str(raised.value) and "\n" not in str(raised.value)


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
    )


@pytest.mark.parametrize(
    "command", [["-m", "crm_ports", "synth", "--out", "out"], ["-m", "crm_ports.app"]]
)
def test_synthesizing_with_an_unknown_flavour_writes_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    result = _run([sys.executable, *command], tmp_path, CRM_PORTS_CDK="cdk9", CDKTF_OUTDIR="out")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "CRM_PORTS_CDK: unknown flavour 'cdk9': use cdktf or cdktn" in lines[0]
    assert not (tmp_path / "out").exists()


MIXED = """
import sys
import {other}
from crm_ports.catalogue.load import load_catalogue
from crm_ports.constructs import AwsCrmFirewall
from crm_ports.errors import InputError
from crm_ports.options import Options
from crm_ports.resolver.engine import resolve

rules = resolve(load_catalogue(), Options())
stack = {other}.TerraformStack({other}.App(), "theirs")
try:
    AwsCrmFirewall(stack, "fw", rules=rules, vpc_id="vpc-1")
except InputError as exc:
    print(exc)
    sys.exit(2)
"""


@pytest.mark.slow
@pytest.mark.parametrize(("ours", "other"), [("cdktf", "cdktn"), ("cdktn", "cdktf")])
def test_a_construct_in_the_other_flavours_tree_is_refused(
    tmp_path: Path, ours: str, other: str
) -> None:
    require_flavour("cdktn")
    script = MIXED.format(other=other)
    result = _run([sys.executable, "-c", script], tmp_path, CRM_PORTS_CDK=ours)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.strip() == (
        f"CRM_PORTS_CDK: AwsCrmFirewall 'fw': field 'scope': {other}.TerraformStack belongs "
        f"to {other}, but crm-ports runs on {ours} in this process: set "
        f"CRM_PORTS_CDK={other} (one flavour per process and per construct tree)"
    )
    assert "Traceback" not in result.stderr


USERS_CDKTN_APP = """
import cdktn
from constructs import Construct
from crm_ports.catalogue.load import load_catalogue
from crm_ports.constructs import AwsCrmFirewall
from crm_ports.constructs.resources.aws import AwsProvider, AwsProviderConfig
from crm_ports.options import Options
from crm_ports.resolver.engine import resolve


class Network(cdktn.TerraformStack):
    def __init__(self, scope: Construct, name: str) -> None:
        super().__init__(scope, name)
        cdktn.LocalBackend(self, path="terraform.network.tfstate")
        AwsProvider(self, "aws", AwsProviderConfig(region="eu-west-1"))
        inner = Construct(self, "crm")  # a plain construct between the stack and ours
        AwsCrmFirewall(inner, "fw", rules=resolve(load_catalogue(), Options()), vpc_id="vpc-1")


app = cdktn.App(outdir="out")
Network(app, "network")
app.synth()
"""


@pytest.mark.slow
def test_the_constructs_in_a_users_own_cdktn_app(tmp_path: Path) -> None:
    """No CRM_PORTS_CDK: the app imported cdktn first, so crm-ports runs on it. The stack
    is the one the same constructs give on cdktf, version metadata aside."""
    require_flavour("cdktn")
    env = {k: v for k, v in os.environ.items() if k != "CRM_PORTS_CDK"}
    (tmp_path / "app.py").write_text(USERS_CDKTN_APP, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**env, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    written = json.loads((tmp_path / "out/stacks/network/cdk.tf.json").read_text())
    version = written["//"]["metadata"]["version"]  # the `cdktn` extra's range: 0.24 to 0.26
    assert (0, 24) <= tuple(int(part) for part in version.split(".")[:2]) < (0, 27), version
    from constructs import Construct

    from crm_ports.catalogue.load import load_catalogue
    from crm_ports.constructs import AwsCrmFirewall
    from crm_ports.constructs.cdk import App, LocalBackend, TerraformStack
    from crm_ports.constructs.resources.aws import AwsProvider, AwsProviderConfig
    from crm_ports.options import Options
    from crm_ports.resolver.engine import resolve

    app = App(outdir=str(tmp_path / "here"))
    stack = TerraformStack(app, "network")
    LocalBackend(stack, path="terraform.network.tfstate")
    AwsProvider(stack, "aws", AwsProviderConfig(region="eu-west-1"))
    inner = Construct(stack, "crm")
    AwsCrmFirewall(inner, "fw", rules=resolve(load_catalogue(), Options()), vpc_id="vpc-1")
    app.synth()
    here = json.loads((tmp_path / "here/stacks/network/cdk.tf.json").read_text())
    assert without_metadata(written) == without_metadata(here)
    assert written["resource"]["aws_security_group"]


def test_a_provider_of_the_other_flavour_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checked without building a tree: the flavour is read from the classes' packages."""
    monkeypatch.setattr(cdk, "_chosen", "cdktf")
    provider = type("AwsProvider", (), {"__module__": "cdktn_provider_aws.provider"})
    base = type("TerraformProvider", (), {"__module__": "cdktn"})
    theirs = type("AwsProvider", (base,), {"__module__": "cdktn_provider_aws.provider"})()
    scope = SimpleNamespace(node=SimpleNamespace(scopes=[]))
    cdk.check_scope(scope, "AwsCrmFirewall 'fw'", provider(), None)  # neutral: accepted
    with pytest.raises(FlavourError) as raised:
        cdk.check_scope(scope, "AwsCrmFirewall 'fw'", theirs)
    assert str(raised.value).startswith(
        "CRM_PORTS_CDK: AwsCrmFirewall 'fw': field 'provider': "
        "cdktn_provider_aws.provider.AwsProvider belongs to cdktn, but crm-ports runs on cdktf"
    )
