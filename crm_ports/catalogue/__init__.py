"""The catalogue: services, roles, flows with their conditions, and named topologies, every
entry citing its source (`catalog/*.yaml`, reviewed YAML).

`model` holds the value objects, `load` reads a catalogue folder through the parse cache,
and `build` cross-checks parsed files (only when the cache misses).
`from crm_ports.catalogue import load_catalogue` works; the modules load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_ports import lazy_exports

if TYPE_CHECKING:
    from crm_ports.catalogue.load import default_catalogue_dir as default_catalogue_dir
    from crm_ports.catalogue.load import load_catalogue as load_catalogue
    from crm_ports.catalogue.model import Catalogue as Catalogue

_EXPORTS = {
    "Catalogue": "crm_ports.catalogue.model",
    "default_catalogue_dir": "crm_ports.catalogue.load",
    "load_catalogue": "crm_ports.catalogue.load",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
