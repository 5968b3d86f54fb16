"""A lab: one deployment of CRM's roles on hosts, its options, peer ranges, lab-local rules
and per-cloud settings, and where its Terraform state lives.

`model` holds `Lab`; a lab file (`file`) and the construct API build one. `placement`
checks a lab's own hosts and turns them into a topology, `extra` its lab-local rules,
`backend` its state backend, `emulator` its AWS emulator's credentials.
`from crm_ports.lab import Lab` works; the modules load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_ports import lazy_exports

if TYPE_CHECKING:
    from crm_ports.lab.file import load_lab as load_lab
    from crm_ports.lab.model import AwsSettings as AwsSettings
    from crm_ports.lab.model import AzureSettings as AzureSettings
    from crm_ports.lab.model import Lab as Lab
    from crm_ports.lab.model import Waiver as Waiver
    from crm_ports.lab.model import default_labs as default_labs

_EXPORTS = {
    "AwsSettings": "crm_ports.lab.model",
    "AzureSettings": "crm_ports.lab.model",
    "Lab": "crm_ports.lab.model",
    "Waiver": "crm_ports.lab.model",
    "default_labs": "crm_ports.lab.model",
    "load_lab": "crm_ports.lab.file",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
