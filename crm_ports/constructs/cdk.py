"""Which CDK for Terraform this process runs on: cdktf 0.21 (the default) or CDK Terrain.

HashiCorp archived CDKTF; its community fork CDK Terrain (`cdktn`) keeps the same classes
under another package name, `cdktf.json` and the `cdktf.out` layout. The two are separate
jsii assemblies, so one construct tree cannot mix them (typeguard rejects the other
flavour's structs, and a cdktf element inside a cdktn app fails at synthesis). Every
construct, stack and app module of crm-ports therefore imports its CDK classes from here
(`from crm_ports.constructs.cdk import TerraformStack`), and this module picks one flavour
per process:

1. `CRM_PORTS_CDK=cdktf|cdktn`, when set;
2. else the one flavour a user's app has already imported (so the constructs work inside
   a cdktn app with nothing to configure);
3. else what is installed, cdktf first (the design card names it).

Nothing is imported until a class is first asked for, so the pure-Python core, which never
touches this module's attributes, still never starts Node. `flavour()` itself only reads the
environment and looks for installed packages: commands call it before planning, so a bad
value is one line and exit status 2 before anything is written.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

from crm_ports import install_hint
from crm_ports.errors import InputError

if TYPE_CHECKING:  # mypy checks against cdktf; cdktn's Python API is a superset of it
    from cdktf import App as App
    from cdktf import AzurermBackend as AzurermBackend
    from cdktf import Fn as Fn
    from cdktf import IResolvable as IResolvable
    from cdktf import ITerraformDependable as ITerraformDependable
    from cdktf import LocalBackend as LocalBackend
    from cdktf import Precondition as Precondition
    from cdktf import S3Backend as S3Backend
    from cdktf import S3BackendEndpointConfig as S3BackendEndpointConfig
    from cdktf import TerraformBackend as TerraformBackend
    from cdktf import TerraformElement as TerraformElement
    from cdktf import TerraformOutput as TerraformOutput
    from cdktf import TerraformProvider as TerraformProvider
    from cdktf import TerraformProviderGeneratorMetadata as TerraformProviderGeneratorMetadata
    from cdktf import TerraformResource as TerraformResource
    from cdktf import TerraformResourceLifecycle as TerraformResourceLifecycle
    from cdktf import TerraformStack as TerraformStack
    from cdktf import TerraformVariable as TerraformVariable
    from cdktf import Testing as Testing
    from cdktf import Token as Token
    from constructs import Construct

ENV = "CRM_PORTS_CDK"
FLAVOURS = ("cdktf", "cdktn")
# What to install for each flavour, for the error that says one is missing.
_INSTALL = {"cdktf": install_hint(), "cdktn": install_hint("cdktn")}

_chosen: str | None = None


class FlavourError(InputError):
    """The CDK flavour cannot be used: unknown, not installed, or mixed in one tree."""

    def __init__(self, entry: str, field: str, message: str) -> None:
        super().__init__(ENV, entry, field, message)


def flavour() -> str:
    """The flavour of this process, decided once (see the module docstring)."""
    global _chosen
    if _chosen is None:
        _chosen = _choose(os.environ.get(ENV, "").strip())
    return _chosen


def _choose(asked: str) -> str:
    if asked:
        if asked not in FLAVOURS:
            raise FlavourError("", "", f"unknown flavour {asked!r}: use cdktf or cdktn")
        if importlib.util.find_spec(asked) is None:
            raise FlavourError("", "", f"{asked} is not installed: {_INSTALL[asked]}")
        return asked
    loaded = [name for name in FLAVOURS if name in sys.modules]
    if len(loaded) == 1:
        return loaded[0]
    for name in FLAVOURS:
        if importlib.util.find_spec(name) is not None:
            return name
    raise FlavourError("", "", "neither cdktf nor cdktn is installed: " + _INSTALL["cdktf"])


def module() -> ModuleType:
    """The flavour's package (`cdktf` or `cdktn`); importing it starts jsii's Node."""
    return importlib.import_module(flavour())


def flavour_of(obj: object) -> str | None:
    """Which flavour a construct's class comes from (its own or a base class's package),
    or None for a flavour-neutral one such as `constructs.Construct`."""
    for kind in type(obj).__mro__:
        root = kind.__module__.partition(".")[0]
        if root in FLAVOURS:
            return root
    return None


def check_scope(scope: Construct, what: str, *given: object) -> None:
    """Refuse a scope whose tree, or a given object such as a provider, belongs to the other
    flavour, before jsii or typeguard fail with a traceback far from the cause.

    A scope of a flavoured class (a stack, an app) decides alone, with no jsii call; only
    a plain `Construct` costs one (its ancestors, nearest first: the first flavoured one
    above it decides)."""
    ours = flavour()
    for obj in given:
        _refuse(what, "provider", obj, ours)
    ancestors = [scope] if flavour_of(scope) is not None else reversed(scope.node.scopes)
    for node in ancestors:
        if flavour_of(node) is not None:
            _refuse(what, "scope", node, ours)
            return


def _refuse(what: str, field: str, obj: object, ours: str) -> None:
    theirs = flavour_of(obj)
    if theirs is None or theirs == ours:
        return
    raise FlavourError(
        what,
        field,
        f"{type(obj).__module__}.{type(obj).__name__} belongs to {theirs}, but crm-ports "
        f"runs on {ours} in this process: set {ENV}={theirs} "
        "(one flavour per process and per construct tree)",
    )


def __getattr__(name: str) -> Any:
    """`from crm_ports.constructs.cdk import TerraformStack`: this process's flavour's class."""
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return getattr(module(), name)
    except AttributeError:
        raise AttributeError(
            f"module 'crm_ports.constructs.cdk' has no attribute {name!r}"
        ) from None
