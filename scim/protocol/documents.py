"""What a request's document and a resource id must look like before any service reads storage."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from scim2_models import Error, InvalidSyntaxException, InvalidValueException, SCIMException


def scim_error_from_validation(exc: ValidationError) -> SCIMException:
    errors = Error.from_validation_errors(exc)
    return SCIMException.from_error(errors[0]) if errors else InvalidValueException()


def require_schema(payload: dict[str, Any], schema: str) -> None:
    schemas = payload.get("schemas")
    if not isinstance(schemas, list) or schema.lower() not in {str(s).lower() for s in schemas}:
        raise InvalidSyntaxException(detail=f"'schemas' must be a list that includes {schema}")


def require_object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidSyntaxException(detail="The request body must be a JSON object")
    return payload


def plausible_id(resource_id: str) -> bool:
    """Our ids are uuid4 hex; anything else cannot exist, and must never reach a storage key."""
    return len(resource_id) == 32 and all(c in "0123456789abcdef" for c in resource_id)
