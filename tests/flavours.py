"""The CDK flavours in tests: whether one is installed, and synthesized JSON compared with
what differs between them (the CDK's version in the `"//"` metadata) left out.

One flavour per process (`crm_ports.constructs.cdk`): `make test` runs the tests marked `flavoured`
a second time with CRM_PORTS_CDK=cdktn, and the same snapshot files serve both passes."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

from tests.tf_harness import require_tool

REPO = Path(__file__).resolve().parent.parent
CDKTN_BIN = REPO / "flavours" / "cdktn" / "node_modules" / ".bin"


def require_flavour(name: str) -> None:
    """Skip (fail under CRM_PORTS_REQUIRE_TOOLS=1) when the flavour's Python package is
    missing: the `test` extra installs both."""
    if importlib.util.find_spec(name) is None:
        require_tool(f"python package {name}", "pip install -e '.[test]' installs it")


def cdktn_cli() -> Path:
    """cdktn-cli and the Node 22 it runs on, as `make setup-node` installs them."""
    for tool in ("cdktn", "node"):
        if not (CDKTN_BIN / tool).is_file():
            require_tool(
                f"flavours/cdktn/node_modules/.bin/{tool}",
                "cdktn-cli needs Node >= 22.19 (make setup-node)",
            )
    return CDKTN_BIN


def without_metadata(document: dict[str, Any]) -> dict[str, Any]:
    """The document without the CDK's version (`"//".metadata.version`): the one thing
    cdktf and cdktn write differently for the same app."""
    out = copy.deepcopy(document)
    out.get("//", {}).get("metadata", {}).pop("version", None)
    return out
