"""PATCH for any resource type: Entra's dialects rewritten into RFC 7644 shapes, checked, then applied by scim2-models.

What scim2-models lacks, and this module adds:
- a path-less add/replace whose value keys are value-path expressions (``emails[type eq "work"].value``,
  Entra's flag dialect) is split into one operation per such key; scim2-models silently ignores those keys;
- an operation whose path names nothing the resource type has answers 400 ``invalidPath`` instead of a
  silent no-op (Entra would believe the change was made);
- the number of operations per request is capped (RFC 7644 has no field for it; see the README);
- the pydantic adapter scim2-models builds for every filter comparison is cached (see ``_cached_adapter``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import scim2_models.path.resolution as _resolution
from pydantic import TypeAdapter, ValidationError
from scim2_models import Context, InvalidPathException, PatchOp, Path, PayloadTooLargeException, Resource, ScimPolicy

from scim.protocol import entra
from scim.protocol.documents import require_object, scim_error_from_validation
from scim.protocol.expressions import MAX_PATH_CHARS, check_path

DROPPED_ON_PURPOSE = frozenset({"schemas", "meta"})
"""Keys Entra may put in a path-less value that are not attributes: accepted and ignored, never invalidPath."""


@functools.lru_cache(maxsize=512)
def _adapter(annotated_type: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotated_type)


def _cached_adapter(annotated_type: Any) -> TypeAdapter[Any]:
    """scim2-models 0.12.3 builds a TypeAdapter per comparison (path.resolution.coerce_value): about 0.7 ms each.

    A PATCH with n filtered operations on a list of n entries made n² of them (250 e-mail adds took 12 s of
    CPU). The types are the models' own field types, so a bounded cache holds them all.
    """
    try:
        return _adapter(annotated_type)
    except TypeError:  # an unhashable type: build it as the library would
        return TypeAdapter(annotated_type)


_resolution.TypeAdapter = _cached_adapter  # type: ignore[attr-defined,assignment]


def _has_value_path(key: object) -> bool:
    return isinstance(key, str) and "[" in key


def _split_value_paths(operation: dict[str, Any]) -> list[dict[str, Any]]:
    """A path-less add/replace: value-path keys become operations of their own, the rest stays one operation."""
    value = operation.get("value")
    if operation.get("path") is not None or not isinstance(value, dict):
        return [operation]
    if not any(_has_value_path(key) for key in value):
        return [operation]
    plain = {key: val for key, val in value.items() if not _has_value_path(key)}
    split = [
        {"op": operation.get("op"), "path": key, "value": val} for key, val in value.items() if _has_value_path(key)
    ]
    return ([{**operation, "value": plain}] if plain else []) + split


@functools.cache
def _patch_type(model: type[Resource[Any]]) -> type[PatchOp[Any]]:
    """PatchOp[model], built once (pydantic keeps parametrized classes only weakly)."""
    return PatchOp[model]  # type: ignore[valid-type]


class PatchPlan:
    """A PATCH body parsed for one resource model: rewritten, checked and validated, ready to apply."""

    def __init__(
        self,
        model: type[Resource[Any]],
        payload: Any,
        *,
        policy: ScimPolicy,
        max_operations: int,
        rewrite: Callable[[dict[str, Any]], dict[str, Any]] = entra.normalise_patch,
        describe_unknown: Callable[[str], str | None] = lambda path: None,
    ) -> None:
        self._describe_unknown = describe_unknown
        body = require_object(payload)
        operations = body.get("Operations")
        if isinstance(operations, list) and len(operations) > max_operations:
            raise PayloadTooLargeException(
                detail=f"A PATCH may carry at most {max_operations} operations; this one has {len(operations)}"
            )
        body = rewrite(body)
        if isinstance(body.get("Operations"), list):
            expanded: list[Any] = []
            for operation in body["Operations"]:
                expanded += _split_value_paths(operation) if isinstance(operation, dict) else [operation]
            body = {**body, "Operations": expanded}
            for operation in expanded:
                if isinstance(operation, dict):
                    self._check_paths(model, operation)
        self.model = model
        self.policy = policy
        try:
            self.patch: PatchOp[Any] = _patch_type(model).model_validate(
                body, scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_policy=policy
            )
        except ValidationError as exc:
            raise scim_error_from_validation(exc) from exc
        self.operations: list[dict[str, Any]] = [op for op in body.get("Operations") or [] if isinstance(op, dict)]

    def _unknown(self, path: str, default: str) -> InvalidPathException:
        return InvalidPathException(detail=self._describe_unknown(path) or default)

    def _check_paths(self, model: type[Resource[Any]], operation: dict[str, Any]) -> None:
        """400 invalidPath for a path (or path-less value key) that names no attribute of the resource type,
        including an attribute inside an extension's object (``{"urn:…:2.0:User": {"name": …}}``)."""
        path = operation.get("path")
        value = operation.get("value")
        if isinstance(path, str):
            check_path(path)
            if _is_schema_key(model, path):
                self._check_extension_keys(model, path, value)
            elif not _resolves(model, path):
                raise self._unknown(_named(path, value), f"The path {path!r} names no attribute of this resource type")
            return
        if path is None and isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str) or key in DROPPED_ON_PURPOSE:
                    continue
                if _is_schema_key(model, key):
                    self._check_extension_keys(model, key, item)
                    continue
                check_path(key)
                if not _resolves(model, key):
                    raise self._unknown(
                        _named(key, item),
                        f"The attribute {key!r} in the PATCH value names no attribute of this resource type",
                    )

    def _check_extension_keys(self, model: type[Resource[Any]], schema: str, value: Any) -> None:
        if schema.lower() == str(model.__schema__).lower() or not isinstance(value, dict):
            return
        for key in value:
            qualified = f"{schema}:{key}"
            if isinstance(key, str) and len(qualified) <= MAX_PATH_CHARS and not _resolves(model, qualified):
                raise self._unknown(qualified, f"The attribute {qualified!r} names no attribute of this resource type")

    def apply(self, resource: Resource[Any]) -> bool:
        """Apply every operation to the resource in place, all or none; True if anything changed."""
        with self.policy:
            return bool(self.patch.patch(resource))


def _named(path: str, value: Any) -> str:
    """What an unknown path stands for: an unknown extension's URN with an object names its first attribute."""
    if isinstance(value, dict) and value and path.lower().startswith("urn:"):
        return f"{path}:{next(iter(value))}"
    return path


def _resolves(model: type[Resource[Any]], path: str) -> bool:
    try:
        return Path[model](path).resolve() is not None  # type: ignore[valid-type]
    except Exception:  # a malformed path: let PatchOp validation give its precise error
        return True


def _is_schema_key(model: type[Resource[Any]], key: str) -> bool:
    """A path-less value may nest an extension's attributes under the extension's schema URN."""
    schemas = {str(model.__schema__).lower()}
    schemas |= {str(ext.__schema__).lower() for ext in model.get_extension_models().values()}
    return key.lower() in schemas
