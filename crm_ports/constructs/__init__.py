"""CDKTF constructs that render crm-ports rule sets as Terraform.

`from crm_ports.constructs import AwsCrmLab` works; the classes load on first use, so
importing this package alone (as the pure-Python commands' imports may) starts no Node.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AwsCrmFirewall": "crm_ports.constructs.aws",
    "AwsCrmGroup": "crm_ports.constructs.aws",
    "AwsCrmHost": "crm_ports.constructs.aws",
    "AwsCrmLab": "crm_ports.constructs.aws",
    "AzureCrmFirewall": "crm_ports.constructs.azure",
    "AzureCrmGroup": "crm_ports.constructs.azure",
    "AzureCrmHost": "crm_ports.constructs.azure",
    "AzureCrmLab": "crm_ports.constructs.azure",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'crm_ports.constructs' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
