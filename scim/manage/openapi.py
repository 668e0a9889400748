"""The OpenAPI 3.1 document of the management API, built from the endpoint table and the handlers' own models.

Served at /manage/v1/openapi.json. Schemas are pydantic's JSON Schema (2020-12, which OpenAPI 3.1 uses as
is) of the very models the handlers parse and answer, under components/schemas; the paths are the rows of
scim.manage.endpoints. Nothing here is written by hand twice.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from scim.manage.endpoints import BASE_PATH, ENDPOINTS, OPENAPI_PATH, Endpoint
from scim.manage.models import REQUEST_MODELS, RESPONSE_MODELS
from scim.manage.problems import PROBLEM_CONTENT_TYPE, Problem

API_VERSION = "1.0.0"
_REF = "#/components/schemas/{model}"
_ERRORS = {
    "400": "The request is malformed (body, query or header); the detail says which part",
    "401": "No valid Microsoft Entra ID access token for this API",
    "403": "The token lacks the app role this operation needs",
    "404": "No such tenant (or setup link)",
    "409": "The tenant's state does not allow this (e.g. two valid tokens already), or it changed meanwhile",
    "429": "Too many requests from this caller: wait Retry-After seconds",
    "503": "Storage, the secret store or the token issuer did not answer: retry after Retry-After seconds",
}


def _schema_name(model: type[BaseModel]) -> str:
    return model.__name__


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=_schema_name(model))}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_CONTENT_TYPE: {"schema": _ref(Problem)}}}


def _operation(endpoint: Endpoint, read_role: str, write_role: str) -> dict[str, Any]:
    role = write_role if endpoint.role == "write" else f"{read_role} or {write_role}"
    parameters: list[dict[str, Any]] = []
    if "{tenantId}" in endpoint.path:
        parameters.append(
            {
                "name": "tenantId",
                "in": "path",
                "required": True,
                "description": "The tenant id (what follows /scim/v2/ in its Tenant URL).",
                "schema": {"type": "string", "pattern": "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"},
            }
        )
    if "{linkId}" in endpoint.path:
        parameters.append(
            {
                "name": "linkId",
                "in": "path",
                "required": True,
                "description": "A setup link's id (linkId in the list and the create's answer).",
                "schema": {"type": "string", "pattern": "^[0-9a-f]{12}$"},
            }
        )
    parameters += [
        {"name": q.name, "in": "query", "required": False, "description": q.description, "schema": {"type": q.kind}}
        for q in endpoint.query
    ]
    if endpoint.idempotency_key:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "description": "A new UUID per create. A retry with the same key and body answers what the first "
                "request created (200, replayed, no secret or link URL); the same key with another body answers 422.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }
        )
    responses: dict[str, Any] = {
        str(endpoint.status): {
            "description": "Success",
            "content": {"application/json": {"schema": _ref(endpoint.answer)}},
        }
    }
    if endpoint.idempotency_key:
        responses["200"] = {
            "description": "A replayed create: what was created earlier with this Idempotency-Key, no secret",
            "content": {"application/json": {"schema": _ref(endpoint.answer)}},
        }
        responses["422"] = _problem("This Idempotency-Key was used for another request")
        responses["428"] = _problem("No Idempotency-Key")
    if endpoint.body is not None:
        responses["415"] = _problem("The body is not application/json")
    responses.update({status: _problem(text) for status, text in _ERRORS.items()})
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "description": f"Needs the app role {role}.",
        "tags": ["tenants"],
        "parameters": parameters,
        "responses": responses,
        "security": [{"entra": []}],
    }
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": endpoint.method != "POST" or endpoint.idempotency_key,
            "content": {"application/json": {"schema": _ref(endpoint.body)}},
        }
    return operation


def _schemas() -> dict[str, Any]:
    models: list[type[BaseModel]] = [*REQUEST_MODELS, *RESPONSE_MODELS, Problem]
    pairs = [(model, "validation" if model in REQUEST_MODELS else "serialization") for model in models]
    _, top = models_json_schema(pairs, ref_template=_REF)  # type: ignore[arg-type]
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    return schemas


@cache
def openapi_document(read_role: str = "Tenants.Read", write_role: str = "Tenants.ReadWrite") -> dict[str, Any]:
    """The document (cached: it depends only on the code and the role names)."""
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, read_role, write_role)
    paths[OPENAPI_PATH] = {
        "get": {
            "operationId": "openapiDocument",
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {"description": "The OpenAPI 3.1 document", "content": {"application/json": {"schema": {}}}},
                "429": _problem("Too many requests from this address"),
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "scim-functions management API",
            "version": API_VERSION,
            "description": "Create and look after the platform's customer tenants (Tenant URL, Secret Token or "
            "OAuth2 client, license cap), and read what Entra did. Every call but this document needs a "
            "Microsoft Entra ID access token for the management API app with an app role; errors are RFC 9457 "
            "problem details.",
        },
        "servers": [{"url": BASE_PATH}],
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "entra": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": f"A Microsoft Entra ID access token for this API's app registration, with the "
                    f"app role {read_role} (reads) or {write_role} (everything).",
                }
            },
        },
    }


@cache
def openapi_bytes(read_role: str, write_role: str) -> bytes:
    return json.dumps(openapi_document(read_role, write_role), separators=(",", ":")).encode("utf-8")
