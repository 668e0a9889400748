"""The management API's OpenAPI 3.1 document: valid (openapi-spec-validator), built from the handlers' models,
and one-to-one with the endpoint table the dispatcher serves (tests/e2e/test_manage_http.py then checks every
documented operation answers on the running host)."""

from __future__ import annotations

from openapi_spec_validator import validate
from openapi_spec_validator.versions import consts, get_spec_version

from scim.manage import handlers
from scim.manage.endpoints import ENDPOINTS, OPENAPI_PATH
from scim.manage.models import ActivityItem, TenantCreate, TenantCreated
from scim.manage.openapi import openapi_document


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    assert get_spec_version(document) == consts.OPENAPIV31
    validate(document)


def test_every_served_endpoint_is_documented_and_every_documented_one_is_served() -> None:
    document = openapi_document()
    documented = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    served = {(e.path, e.method) for e in ENDPOINTS} | {(OPENAPI_PATH, "GET")}
    assert documented == served
    for endpoint in ENDPOINTS:
        assert callable(getattr(handlers.ManageHandlers, endpoint.handler))
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_the_schemas_are_the_handlers_own_models() -> None:
    schemas = openapi_document()["components"]["schemas"]
    create = schemas["TenantCreate"]
    assert set(create["properties"]) == {f.alias or n for n, f in TenantCreate.model_fields.items()}
    assert create["additionalProperties"] is False
    created = schemas["TenantCreated"]
    assert set(created["properties"]) == {f.alias or n for n, f in TenantCreated.model_fields.items()}
    post = openapi_document()["paths"]["/tenants"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TenantCreate"}
    assert {"200", "201", "401", "403", "422", "428", "429"} <= set(post["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in post["parameters"])
    problem = post["responses"]["401"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}


def test_only_create_and_rotate_answers_can_hold_a_secret() -> None:
    schemas = openapi_document()["components"]["schemas"]
    holding = {
        name for name, schema in schemas.items() if {"secretToken", "clientSecret"} & set(schema.get("properties", {}))
    }
    assert holding == {"TenantCreated", "TokenIssued", "OAuthClient"}


def test_the_activity_item_documents_the_custom_attributes_a_change_set() -> None:
    item = openapi_document()["components"]["schemas"]["ActivityItem"]
    assert set(item["properties"]) == {f.alias or n for n, f in ActivityItem.model_fields.items()}
    assert {"customAttributes", "customAttributesOmitted"} <= set(item["properties"])
