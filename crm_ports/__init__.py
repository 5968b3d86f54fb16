"""crm-ports: the network flows of Microsoft Dynamics CRM 2013 on-premises as a reviewed
catalogue, resolved into cloud-neutral rule sets and rendered for AWS and Azure.

The top-level package stays import-light: the pure-Python core (catalogue, resolver, views)
never imports cdktf or jsii, so commands that do not synthesize never start Node.
"""

import importlib
import os
from collections.abc import Callable, Mapping
from typing import Any

__version__ = "0.1.0"

# jsii prints a multi-line end-of-life banner on Node 20, which this project supports and
# tests on; any crm_ports module is imported before the cdktf it uses, so this is early
# enough. A value the user set wins.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def install_hint(extra: str = "") -> str:
    """How a message tells the user to install crm-ports (with `extra`): from its wheel,
    by name, since PyPI has no crm-ports and `pip install 'crm-ports[...]'` finds nothing
    (docs/installing.md says how to build it, or to install from git)."""
    wheel = f"crm_ports-{__version__}-py3-none-any.whl" + (f"[{extra}]" if extra else "")
    return f"pip install '{wheel}' (crm-ports' wheel, see docs/installing.md)"


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A package face's `__getattr__` (PEP 562): each exported name's module is imported on
    first use, so importing a package (as the pure-Python commands' imports may) loads
    nothing behind it, and a module that moved keeps its public name."""

    def get(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return get
