"""Catalogue + lab -> RuleSet: the one step every renderer, view and check starts from.

Pure Python: no cdktf, no jsii, no I/O. `engine` resolves; `variants` reshapes a
topology for the options that change which groups exist.
`from crm_ports.resolver import resolve_lab` works; the modules load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_ports import lazy_exports

if TYPE_CHECKING:
    from crm_ports.resolver.engine import resolve as resolve
    from crm_ports.resolver.engine import resolve_lab as resolve_lab

_EXPORTS = {
    "resolve": "crm_ports.resolver.engine",
    "resolve_lab": "crm_ports.resolver.engine",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
