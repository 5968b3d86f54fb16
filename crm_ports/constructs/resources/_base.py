"""Shared plumbing for the hand-written Terraform resource classes.

The prebuilt ``cdktf-cdktf-provider-*`` packages keep every attribute on the
Node side and cost one jsii round trip per property plus a very large
assembly load.  Here each resource keeps its attributes as a plain Python
dict and hands the whole dict to Node in a single callback when cdktf asks
for ``synthesizeAttributes``; construction itself is a single ``create``
message.  Attribute *references* (``.id``) still go through cdktf tokens so
dependency ordering and cross-stack references keep working.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from constructs import Construct

from crm_ports.constructs.cdk import (
    IResolvable,
    ITerraformDependable,
    TerraformElement,
    TerraformProvider,
    TerraformProviderGeneratorMetadata,
    TerraformResource,
    TerraformResourceLifecycle,
    Token,
)

__all__ = [
    "NULL",
    "JsonResource",
    "ResourceBatch",
    "compact",
    "validate_logical_id",
]

# Terraform identifiers: a letter or underscore, then letters, digits,
# underscores and hyphens (hclsyntax.ValidIdentifier also allows non-ASCII
# letters, which we refuse so names stay greppable and portable).
_LOGICAL_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_MAX_LOGICAL_ID = 255


def validate_logical_id(logical_id: str) -> str:
    """Reject ids Terraform would refuse, before cdktf silently emits them.

    ``override_logical_id`` performs no check at all, and two resources of
    one type given the same logical id are *merged* by cdktf's deep merge
    rather than reported, so callers must also keep ids unique per type.
    """
    if len(logical_id) > _MAX_LOGICAL_ID or not _LOGICAL_ID.match(logical_id):
        raise ValueError(
            f"invalid Terraform logical id {logical_id!r}: use [A-Za-z_][A-Za-z0-9_-]*, "
            f"at most {_MAX_LOGICAL_ID} characters"
        )
    return logical_id


class _Null:
    """JSON `null` in an attribute body: Python's None reaches Node as `undefined`, which
    drops the key, but a nested block written in attribute syntax (an NSG's inline
    `security_rule`) must name every attribute, unset ones as null, as the generated
    provider bindings write them."""

    def __repr__(self) -> str:
        return "NULL"

    def __copy__(self) -> _Null:
        return self  # one NULL: `with_nulls` finds it by identity

    def __deepcopy__(self, memo: dict[int, Any]) -> _Null:
        return self


NULL = _Null()


_null_token: list[IResolvable] = []  # one token for every NULL: each new one is a jsii call


def with_nulls(value: Any) -> Any:
    """`value` with each NULL replaced by cdktf's null token, just before it goes to Node."""
    if value is NULL:
        if not _null_token:
            _null_token.append(Token.null_value())
        return _null_token[0]
    if isinstance(value, dict):
        return {k: with_nulls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [with_nulls(v) for v in value]
    return value


def compact(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Drop unset attributes and turn tuples/mappings into JSON-shaped values.

    Unset values are left out rather than sent as ``null`` so the JSON only
    names what the caller chose, which keeps snapshots small and readable.
    """
    result: dict[str, Any] = {}
    for key, value in attributes.items():
        if value is None:
            continue
        result[key] = _plain(value)
    return result


def _plain(value: Any) -> Any:
    if isinstance(value, str | bool | int | float) or value is NULL:
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, Sequence):
        return [_plain(v) for v in value]
    raise TypeError(f"cannot render {type(value).__name__} as a Terraform value")


class TerraformConfig(Protocol):
    """A frozen config dataclass that checks itself and renders its JSON body."""

    def to_terraform(self) -> dict[str, Any]: ...


C = TypeVar("C", bound=TerraformConfig)


class JsonResource(TerraformResource, Generic[C]):
    """A Terraform resource whose attributes come from a typed config, rendered once.

    Subclasses set ``TERRAFORM_TYPE`` and ``GENERATOR_METADATA`` and name their config
    type (``class Vpc(JsonResource[VpcConfig])``); construction is the same for all.
    Attribute getters are cached because each ``get_string_attribute`` is a jsii round
    trip and consumers (rules referencing a group id) ask for the same attribute often.
    """

    TERRAFORM_TYPE: ClassVar[str]
    GENERATOR_METADATA: ClassVar[TerraformProviderGeneratorMetadata]

    def __init__(
        self,
        scope: Construct,
        id: str,
        config: C,
        *,
        provider: TerraformProvider | None = None,
        depends_on: Sequence[ITerraformDependable] | None = None,
        lifecycle: TerraformResourceLifecycle | None = None,
        logical_id: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        if logical_id is not None:
            validate_logical_id(logical_id)
        self.config = config
        # Set before the jsii create: Node may call back into us as soon as
        # the object exists (validations, aspects).
        self._crm_attributes: dict[str, Any] = compact(config.to_terraform())
        self._crm_attribute_cache: dict[str, str] = {}
        super().__init__(
            scope,
            id,
            terraform_resource_type=self.TERRAFORM_TYPE,
            terraform_generator_metadata=self.GENERATOR_METADATA,
            provider=provider,
            depends_on=depends_on,
            lifecycle=lifecycle,
        )
        if logical_id is not None:
            self.override_logical_id(logical_id)
        # Meta-arguments (`count`, `for_each` as raw Terraform expressions): cdktf
        # drops them from synthesized attributes and rebuilds them from its own
        # properties, so they go in as overrides, one round trip each.
        for key, value in compact(meta or {}).items():
            self.add_override(key, value)

    @property
    def attributes(self) -> Mapping[str, Any]:
        """The attributes this resource will synthesize (no jsii call)."""
        return self._crm_attributes

    def _synthesize_attributes(self) -> Mapping[str, Any]:
        attributes: Mapping[str, Any] = with_nulls(self._crm_attributes)
        return attributes

    def _synthesize_hcl_attributes(self) -> Mapping[str, Any]:
        # cdktf's HCL renderer wants typed attribute descriptors that we do
        # not produce; failing loudly beats emitting resources with no body
        # when someone sets SYNTH_HCL_OUTPUT=true.
        raise NotImplementedError(
            f"{type(self).__name__} supports JSON synthesis only (unset SYNTH_HCL_OUTPUT)"
        )

    def _string_attribute(self, name: str) -> str:
        cached = self._crm_attribute_cache.get(name)
        if cached is None:
            cached = self.get_string_attribute(name)
            self._crm_attribute_cache[name] = cached
        return cached

    @property
    def id(self) -> str:
        """Token for the provider-assigned id (resolves to ``${type.name.id}``)."""
        return self._string_attribute("id")


class ResourceBatch(TerraformElement):
    """Many resources of one provider, rendered by one jsii object.

    Every `TerraformResource` costs a create, a logical-id override and two synthesis
    callbacks, about 0.5 ms each over the Python-Node pipe. A lab's rules are nine in ten
    of its resources and nobody holds a reference to one, so they are rendered here:
    attributes are plain Python dicts (cdktf tokens inside them resolve as usual), and
    the whole batch reaches Node once: the first synthesis pass hands it over as one
    `Token.as_any` value, which lives on the Node side, and every later pass (cdktf
    resolves each element twice) answers with a reference to it, until the batch changes.
    Resources other code refers to (security groups, ASGs, the NSG) stay `JsonResource`s.
    """

    def __init__(
        self, scope: Construct, id: str, *, provider: TerraformProvider | None = None
    ) -> None:
        super().__init__(scope, id, "resource")
        self._crm_provider = None if provider is None else provider.fqn
        self._crm_resources: dict[str, dict[str, dict[str, Any]]] = {}
        self._crm_overrides: list[tuple[str, str, list[str], Any]] = []
        self._crm_on_node: IResolvable | None = None  # the batch as last sent to Node

    def add(
        self,
        terraform_type: str,
        logical_id: str,
        attributes: Mapping[str, Any],
        *,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        """Add one resource; `meta` holds meta-arguments (`for_each`, `count`)."""
        validate_logical_id(logical_id)
        bucket = self._crm_resources.setdefault(terraform_type, {})
        if logical_id in bucket:
            raise ValueError(f"duplicate resource {terraform_type}.{logical_id}")
        body = {**compact(attributes), **compact(meta or {})}
        if self._crm_provider is not None:
            body["provider"] = self._crm_provider
        bucket[logical_id] = body
        self._crm_on_node = None

    def override_resource(
        self, terraform_type: str, logical_id: str, path: str, value: Any
    ) -> None:
        """What cdktf's `add_override` does, for one resource of the batch: `path` is dotted
        (`tags.Owner`, `lifecycle.ignore_changes`); applied when the batch synthesizes,
        after every resource was added, so overrides may come in any order."""
        if not path or any(not part for part in path.split(".")):
            raise ValueError(f"invalid override path {path!r}")
        self._crm_overrides.append((terraform_type, logical_id, path.split("."), value))
        self._crm_on_node = None

    @property
    def resources(self) -> Mapping[str, Mapping[str, Mapping[str, Any]]]:
        """type -> logical id -> body, as synthesized (no jsii call)."""
        return self._crm_resources

    def rendered(self) -> dict[str, dict[str, dict[str, Any]]]:
        """type -> logical id -> body with the overrides applied (no jsii call)."""
        resources = self._crm_resources
        if self._crm_overrides:
            resources = copy.deepcopy(resources)
            for terraform_type, logical_id, parts, value in self._crm_overrides:
                body = resources.get(terraform_type, {}).get(logical_id)
                if body is None:
                    raise KeyError(f"override of unknown resource {terraform_type}.{logical_id}")
                for part in parts[:-1]:
                    body = body.setdefault(part, {})
                body[parts[-1]] = _plain(value)
        return resources

    def to_terraform(self) -> Any:
        if self._crm_on_node is None:
            self._crm_on_node = Token.as_any(self.rendered())
        return {"resource": self._crm_on_node}
