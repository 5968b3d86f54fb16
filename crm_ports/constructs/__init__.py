"""CDKTF constructs that render crm-ports rule sets as Terraform.

`from crm_ports.constructs import AwsCrmLab` works; the classes load on first use, so
importing this package alone (as the pure-Python commands' imports may) starts no Node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_ports import lazy_exports

if TYPE_CHECKING:
    from crm_ports.constructs.aws import AwsCrmFirewall as AwsCrmFirewall
    from crm_ports.constructs.aws import AwsCrmGroup as AwsCrmGroup
    from crm_ports.constructs.aws import AwsCrmHost as AwsCrmHost
    from crm_ports.constructs.aws import AwsCrmLab as AwsCrmLab
    from crm_ports.constructs.azure import AzureCrmFirewall as AzureCrmFirewall
    from crm_ports.constructs.azure import AzureCrmGroup as AzureCrmGroup
    from crm_ports.constructs.azure import AzureCrmHost as AzureCrmHost
    from crm_ports.constructs.azure import AzureCrmLab as AzureCrmLab

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

__getattr__ = lazy_exports(__name__, _EXPORTS)
