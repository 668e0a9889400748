"""infra/rules.py finds each mistake of issue #14 when it is planted, and nothing in what we deploy.

Two layers. The first runs everywhere: small templates in the shape pycep-parser gives, each with one
mistake. The second plants each mistake into a copy of the real Bicep and parses it with pycep; it
needs `.venv-pycep` (built by `make check-infra`, which CI runs before `make test`) and skips without.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra import check_infra, rules

ROOT = Path(__file__).resolve().parents[2]
PYCEP_PYTHON = ROOT / ".venv-pycep" / "bin" / "python"

OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"  # built-in Owner: real, and deliberately not allowed
BLOB_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
TABLE_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"


# --- templates in pycep's shape ----------------------------------------------------------------------


def accessor(owner: Any, member: str) -> dict[str, Any]:
    return {"operator": {"type": "property_accessor", "operands": {"operand_1": owner, "operand_2": member}}}


def conditional(condition: Any, true_value: Any, false_value: Any) -> dict[str, Any]:
    operands = {"condition": condition, "true_value": true_value, "false_value": false_value}
    return {"operator": {"type": "conditional", "operands": operands}}


def to_string(value: Any) -> dict[str, Any]:
    return {"function": {"type": "string", "parameters": {"value_to_convert": value}}}


def role_definition_id(name: Any) -> dict[str, Any]:
    parameters = {
        "resource_type": "Microsoft.Authorization/roleDefinitions",
        "resource_name_1": name,
        "resource_name_2": None,
        "subscription_id": None,
    }
    return {"function": {"type": "subscription_resource_id", "parameters": parameters}}


def resource(kind: str, config: dict[str, Any], existing: bool = False) -> dict[str, Any]:
    return {"decorators": [], "type": kind, "api_version": "2024-04-01", "existing": existing, "config": config}


def assignment(role: Any) -> dict[str, Any]:
    body = {"scope": "storage", "properties": {"principalId": "appPrincipalId", "roleDefinitionId": role}}
    return resource("Microsoft.Authorization/roleAssignments", body)


def good_templates() -> dict[str, dict[str, Any]]:
    """A small deployment that keeps every rule, shaped as pycep parses ours."""
    location = {
        "decorators": [
            {"type": "allowed", "argument": ["eastus", "westeurope"]},
            {"type": "min_length", "argument": 1},
        ],
        "type": "string",
        "default": None,
    }
    site = resource(
        "Microsoft.Web/sites",
        {
            "name": "name",
            "properties": {
                "httpsOnly": True,
                "siteConfig": {
                    "minTlsVersion": "1.2",
                    "appSettings": [
                        {"name": "AzureWebJobsStorage__accountName", "value": "hostStorageAccountName"},
                        {"name": "SCIM_TABLE_PREFIX", "value": "tablePrefix"},
                        {"name": "PYTHON_THREADPOOL_THREAD_COUNT", "value": to_string("httpConcurrency")},
                    ],
                },
                "functionAppConfig": {
                    "runtime": {"name": "python", "version": "3.11"},
                    "scaleAndConcurrency": {
                        "instanceMemoryMB": 2048,
                        "triggers": {"http": {"perInstanceConcurrency": "httpConcurrency"}},
                    },
                },
            },
        },
    )
    concurrency = {
        "decorators": [{"type": "min_value", "argument": 1}, {"type": "max_value", "argument": 32}],
        "type": "int",
        "default": None,
    }
    vault = resource(
        "Microsoft.KeyVault/vaults",
        {
            "name": "name",
            "properties": {
                "createMode": conditional("recover", "recover", "default"),
                "enableSoftDelete": True,
                "enablePurgeProtection": conditional("purgeProtection", True, None),
            },
        },
    )
    looped_assignment = {
        "decorators": [],
        "type": "Microsoft.Authorization/roleAssignments",
        "api_version": "2022-04-01",
        "existing": False,
        "config": {
            "loop_type": {"type": "array", "detail": {"item_name": "t", "array_name": "tableNames"}},
            "condition": None,
            "config": {
                "properties": {"roleDefinitionId": role_definition_id(accessor("roles", "storageTableDataContributor"))}
            },
        },
    }
    roles = {"storageBlobDataOwner": BLOB_OWNER, "storageTableDataContributor": TABLE_CONTRIBUTOR}
    return {
        "infra/main.bicep": {"parameters": {"location": location}, "variables": {}, "resources": {}, "modules": {}},
        "infra/modules/functionapp.bicep": {
            "parameters": {"httpConcurrency": concurrency},
            "resources": {"site": site},
        },
        "infra/modules/keyvault.bicep": {"resources": {"vault": vault}},
        "infra/modules/rbac.bicep": {
            "variables": {"roles": {"decorators": [], "value": roles}},
            "resources": {
                "storage": resource("Microsoft.Storage/storageAccounts", {"name": "n"}, existing=True),
                "blobOwner": assignment(role_definition_id(accessor("roles", "storageBlobDataOwner"))),
                "tables": looped_assignment,
            },
        },
    }


def findings(templates: rules.Templates) -> dict[str, list[str]]:
    return {rule: found for rule, found in rules.check_templates(templates).items() if found}


def only(templates: rules.Templates, rule: str, *fragments: str) -> None:
    """Exactly `rule` finds something, and its messages mention every fragment."""
    found = findings(templates)
    assert set(found) == {rule}, found
    text = "\n".join(found[rule])
    for fragment in fragments:
        assert fragment in text, text


def site_properties(templates: dict[str, Any]) -> dict[str, Any]:
    site = templates["infra/modules/functionapp.bicep"]["resources"]["site"]
    properties: dict[str, Any] = site["config"]["properties"]
    return properties


def test_the_good_templates_keep_every_rule() -> None:
    assert findings(good_templates()) == {}


@pytest.mark.parametrize("prop", ["ftpsState", "alwaysOn", "linuxFxVersion", "use32BitWorkerProcess", "javaVersion"])
def test_a_site_config_property_flex_rejects_is_found(prop: str) -> None:
    templates = good_templates()
    site_properties(templates)["siteConfig"][prop] = "x"
    only(templates, "flex_site_properties", f"siteConfig.{prop}")


def test_a_site_property_is_found_in_any_case_and_outside_site_config() -> None:
    templates = good_templates()
    site_properties(templates)["IsXenon"] = False
    templates["infra/main.bicep"]["modules"]["app"] = {"config": {"params": {"siteConfig": {"LinuxFxVersion": "x"}}}}
    only(templates, "flex_site_properties", "IsXenon", "module app.params.siteConfig.LinuxFxVersion")


@pytest.mark.parametrize(
    "setting",
    ["FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_CONTENTSHARE"],
)
def test_an_app_setting_flex_rejects_is_found_in_site_config(setting: str) -> None:
    templates = good_templates()
    site_properties(templates)["siteConfig"]["appSettings"].append({"name": setting, "value": "x"})
    only(templates, "flex_app_settings", setting)


def test_an_app_setting_is_found_as_a_key_of_an_appsettings_resource() -> None:
    templates = good_templates()
    config = resource(
        "Microsoft.Web/sites/config", {"name": "appsettings", "properties": {"ENABLE_ORYX_BUILD": "true"}}
    )
    templates["infra/modules/functionapp.bicep"]["resources"]["settings"] = config
    only(templates, "flex_app_settings", "ENABLE_ORYX_BUILD")


def test_location_without_allowed_regions_is_found() -> None:
    templates = good_templates()
    templates["infra/main.bicep"]["parameters"]["location"]["decorators"] = []
    only(templates, "allowed_locations", "accepts any region")


@pytest.mark.parametrize("region", ["East US", "eastus2euap"])
def test_location_allowing_something_not_an_ordinary_region_is_found(region: str) -> None:
    templates = good_templates()
    templates["infra/main.bicep"]["parameters"]["location"]["decorators"][0]["argument"].append(region)
    only(templates, "allowed_locations", repr(region))


def test_a_role_outside_the_built_in_list_is_found() -> None:
    templates = good_templates()
    templates["infra/modules/rbac.bicep"]["variables"]["roles"]["value"]["storageBlobDataOwner"] = OWNER_ROLE
    only(templates, "built_in_roles", "blobOwner", OWNER_ROLE)


def test_swapped_role_guids_are_found_by_their_keys() -> None:
    templates = good_templates()
    roles = templates["infra/modules/rbac.bicep"]["variables"]["roles"]["value"]
    roles["storageBlobDataOwner"], roles["storageTableDataContributor"] = TABLE_CONTRIBUTOR, BLOB_OWNER
    only(templates, "built_in_roles", "'storageBlobDataOwner' holds the GUID of 'Storage Table Data Contributor'")


def test_a_role_that_cannot_be_resolved_is_found() -> None:
    templates = good_templates()
    rbac = templates["infra/modules/rbac.bicep"]["resources"]
    rbac["blobOwner"] = assignment(role_definition_id("roleFromAParameter"))
    only(templates, "built_in_roles", "blobOwner", "cannot tell which role")


@pytest.mark.parametrize("form", ["literal", "path", "interpolated", "interpolated key", "existing definition"])
def test_every_way_of_naming_a_role_is_read(form: str) -> None:
    for guid, expected in ((BLOB_OWNER, set()), (OWNER_ROLE, {"built_in_roles"})):
        templates = good_templates()
        rbac = templates["infra/modules/rbac.bicep"]
        rbac["variables"]["picked"] = {"decorators": [], "value": guid}
        rbac["variables"]["roles"]["value"]["storageBlobDataOwner"] = guid
        definition = resource("Microsoft.Authorization/roleDefinitions", {"name": "picked"}, existing=True)
        rbac["resources"]["pickedDefinition"] = definition
        path = "${subscription().id}/providers/Microsoft.Authorization/roleDefinitions/"
        role = {
            "literal": role_definition_id(guid),
            "path": f"/providers/Microsoft.Authorization/roleDefinitions/{guid}",
            "interpolated": path + "${picked}",
            "interpolated key": path + "${roles.storageBlobDataOwner}",
            "existing definition": accessor("pickedDefinition", "id"),
        }[form]
        rbac["resources"]["blobOwner"] = assignment(role)
        assert set(findings(templates)) == expected, (guid, findings(templates))


def test_a_vault_without_a_switchable_create_mode_is_found() -> None:
    templates = good_templates()
    vault = templates["infra/modules/keyvault.bicep"]["resources"]["vault"]["config"]["properties"]
    del vault["createMode"]
    only(templates, "key_vault_lifecycle", "createMode is absent")
    vault["createMode"] = "default"
    only(templates, "key_vault_lifecycle", "createMode is 'default'")
    vault["createMode"] = "vaultCreateMode"  # a parameter: switchable
    assert findings(templates) == {}


def test_a_vault_asking_arm_to_turn_purge_protection_off_is_found() -> None:
    templates = good_templates()
    templates["infra/modules/keyvault.bicep"]["resources"]["vault"]["config"]["properties"]["enablePurgeProtection"] = (
        False
    )
    only(templates, "key_vault_lifecycle", "enablePurgeProtection false")


def test_a_key_vault_reference_identity_without_a_reference_is_found() -> None:
    templates = good_templates()
    site_properties(templates)["keyVaultReferenceIdentity"] = "identityId"
    only(templates, "key_vault_references", "keyVaultReferenceIdentity")
    site_properties(templates)["siteConfig"]["appSettings"].append(
        {"name": "SCIM_SOMETHING", "value": "@Microsoft.KeyVault(SecretUri=${uri})"}
    )
    assert findings(templates) == {}


def http_settings(templates: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The site's triggers.http object and its app settings list."""
    properties = site_properties(templates)
    http: dict[str, Any] = properties["functionAppConfig"]["scaleAndConcurrency"]["triggers"]["http"]
    return http, properties["siteConfig"]["appSettings"]


def drop_threads(settings: list[dict[str, Any]]) -> None:
    settings[:] = [entry for entry in settings if entry["name"] != "PYTHON_THREADPOOL_THREAD_COUNT"]


def test_http_concurrency_without_worker_threads_is_found() -> None:
    templates = good_templates()
    drop_threads(http_settings(templates)[1])
    only(templates, "python_http_concurrency", "without PYTHON_THREADPOOL_THREAD_COUNT")


def test_worker_threads_without_http_concurrency_are_found() -> None:
    templates = good_templates()
    del site_properties(templates)["functionAppConfig"]["scaleAndConcurrency"]["triggers"]
    only(templates, "python_http_concurrency", "without triggers.http.perInstanceConcurrency", "idle")


def test_neither_setting_is_the_platform_default_and_passes() -> None:
    templates = good_templates()
    drop_threads(http_settings(templates)[1])
    del site_properties(templates)["functionAppConfig"]["scaleAndConcurrency"]["triggers"]
    assert findings(templates) == {}


@pytest.mark.parametrize(
    ("concurrency", "threads"),
    [("httpConcurrency", "8"), (8, to_string("otherParameter")), (8, "16"), ("httpConcurrency", "threadCount")],
)
def test_concurrency_and_threads_that_may_differ_are_found(concurrency: Any, threads: Any) -> None:
    templates = good_templates()
    http, settings = http_settings(templates)
    http["perInstanceConcurrency"] = concurrency
    next(e for e in settings if e["name"] == "PYTHON_THREADPOOL_THREAD_COUNT")["value"] = threads
    only(templates, "python_http_concurrency", "not visibly the same number")


@pytest.mark.parametrize(("concurrency", "threads"), [(8, "8"), (8, to_string(8)), ("eight", to_string("eight"))])
def test_equal_literals_or_one_variable_pass(concurrency: Any, threads: Any) -> None:
    templates = good_templates()
    templates["infra/modules/functionapp.bicep"]["variables"] = {"eight": {"decorators": [], "value": 8}}
    http, settings = http_settings(templates)
    http["perInstanceConcurrency"] = concurrency
    next(e for e in settings if e["name"] == "PYTHON_THREADPOOL_THREAD_COUNT")["value"] = threads
    assert findings(templates) == {}


def test_more_threads_than_the_worker_takes_are_found() -> None:
    templates = good_templates()
    http, settings = http_settings(templates)
    http["perInstanceConcurrency"] = 64
    next(e for e in settings if e["name"] == "PYTHON_THREADPOOL_THREAD_COUNT")["value"] = "64"
    only(templates, "python_http_concurrency", "64 threads", "at most 32")
    templates = good_templates()
    templates["infra/modules/functionapp.bicep"]["parameters"]["httpConcurrency"]["decorators"] = []
    only(templates, "python_http_concurrency", "@maxValue(32)")


def test_a_site_of_another_language_is_left_alone() -> None:
    templates = good_templates()
    site_properties(templates)["functionAppConfig"]["runtime"]["name"] = "dotnet-isolated"
    drop_threads(http_settings(templates)[1])
    assert findings(templates) == {}


def test_funcignore_must_leave_out_what_gitignore_ignores() -> None:
    gaps = rules.funcignore_gaps("# comment\n.venv/\n__pycache__/\n*.egg-info/\n", ".venv/\n# __pycache__/\n")
    assert gaps == [
        ".funcignore: does not leave out '*.egg-info/', which .gitignore ignores, so azd would package it",
        ".funcignore: does not leave out '__pycache__/', which .gitignore ignores, so azd would package it",
    ]


def test_our_funcignore_leaves_out_what_our_gitignore_ignores() -> None:
    assert rules.funcignore_gaps((ROOT / ".gitignore").read_text(), (ROOT / ".funcignore").read_text()) == []


# --- storage redundancy per region, and the operator's roles (issue #21) -------------------------------

SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
TABLE_READER = "76199698-9eea-4c19-bc75-cec21354c6b6"


def with_regions(templates: dict[str, Any], *regions: str) -> dict[str, Any]:
    templates["infra/main.bicep"]["parameters"]["location"]["decorators"][0]["argument"] = list(regions)
    return templates


def storage_account(sku: Any) -> dict[str, Any]:
    return resource("Microsoft.Storage/storageAccounts", {"name": "n", "sku": {"name": sku}})


def test_a_geo_redundant_sku_in_a_region_without_a_pair_is_found() -> None:
    templates = with_regions(good_templates(), "westeurope", "italynorth")
    templates["infra/modules/storage.bicep"] = {"resources": {"storage": storage_account("Standard_GRS")}}
    only(templates, "storage_redundancy", "Standard_GRS in italynorth", "no pair")


def test_a_zone_redundant_sku_in_a_region_without_zones_is_found() -> None:
    templates = with_regions(good_templates(), "westus")
    templates["infra/modules/storage.bicep"] = {"resources": {"storage": storage_account("Standard_ZRS")}}
    only(templates, "storage_redundancy", "Standard_ZRS in westus", "availability zones")


def test_a_sku_by_region_must_cover_every_allowed_region_with_a_sku_it_offers() -> None:
    templates = with_regions(good_templates(), "westeurope", "italynorth", "spaincentral")
    by_region = {"westeurope": "Standard_GRS", "italynorth": "Standard_GRS"}
    templates["infra/main.bicep"]["variables"][rules.STORAGE_SKU_MAP] = {"decorators": [], "value": by_region}
    only(templates, "storage_redundancy", "gives italynorth Standard_GRS", "gives spaincentral nothing")
    by_region.update(italynorth="Standard_ZRS", spaincentral="Standard_LRS")
    assert findings(templates) == {}


def deployer_templates(table_role: str | None, vault_role: str | None) -> dict[str, Any]:
    """main.bicep passes azd's principalId to an rbac module, which grants the roles given on a table and the vault."""
    templates = good_templates()
    main = templates["infra/main.bicep"]
    main["parameters"]["principalId"] = {"decorators": [], "type": "string", "default": ""}
    main["modules"]["rbac"] = {
        "type": "local",
        "detail": {"full": "modules/operator.bicep", "path": "modules/operator.bicep"},
        "config": {"name": "rbac", "params": {"deployerPrincipalId": "principalId"}},
    }
    resources: dict[str, Any] = {
        "tables": resource("Microsoft.Storage/storageAccounts/tableServices/tables", {"name": "t"}, existing=True),
        "vault": resource("Microsoft.KeyVault/vaults", {"name": "v"}, existing=True),
    }
    for name, role, scope in (("onTables", table_role, accessor_index("tables")), ("onVault", vault_role, "vault")):
        if role:
            body = {"scope": scope, "properties": {"principalId": "deployerPrincipalId"}}
            body["properties"]["roleDefinitionId"] = role_definition_id(role)
            resources[name] = resource("Microsoft.Authorization/roleAssignments", body)
    templates["infra/modules/operator.bicep"] = {"resources": resources}
    return templates


def accessor_index(owner: str) -> dict[str, Any]:
    return {"operator": {"type": "index_accessor", "operands": {"operand_1": owner, "operand_2": "i"}}}


def test_a_deployer_with_table_and_vault_roles_may_run_every_operator_step() -> None:
    assert findings(deployer_templates(TABLE_CONTRIBUTOR, SECRETS_OFFICER)) == {}


def test_a_deployer_with_only_the_vault_role_is_found_naming_the_commands_that_would_403() -> None:
    # issue #21 as it was: Key Vault Secrets Officer alone, so every tenant command failed on the tenants table
    only(
        deployer_templates(None, SECRETS_OFFICER),
        "operator_roles",
        "tables/entities/read on table <prefix>Tenants",
        "`scim-admin tenant create`",
        "Storage Table Data Contributor",
    )


def test_a_reader_role_on_the_tables_is_not_enough_for_the_steps_that_write() -> None:
    only(deployer_templates(TABLE_READER, SECRETS_OFFICER), "operator_roles", "entities/add/action", "tenant create")


def test_a_deployer_without_the_vault_role_is_found() -> None:
    only(deployer_templates(TABLE_CONTRIBUTOR, None), "operator_roles", "the Key Vault", "rotate-token")


def test_a_role_on_another_principal_does_not_count_for_the_deployer() -> None:
    templates = deployer_templates(TABLE_CONTRIBUTOR, SECRETS_OFFICER)
    templates["infra/main.bicep"]["modules"]["rbac"]["config"]["params"] = {"appPrincipalId": "principalId"}
    assert "operator_roles" in findings(templates)


# --- the real Bicep, with each mistake planted, parsed by pycep --------------------------------------

Plant = Callable[[str], str]


def insert_after(anchor: str, text: str) -> Plant:
    def plant(source: str) -> str:
        assert anchor in source, f"anchor {anchor!r} is gone: update this test's plant"
        return source.replace(anchor, anchor + text, 1)

    return plant


def append(text: str) -> Plant:
    def plant(source: str) -> str:
        return source + "\n" + text

    return plant


def substitute(pattern: str, replacement: str) -> Plant:
    def plant(source: str) -> str:
        planted, count = re.subn(pattern, replacement, source, count=1, flags=re.MULTILINE | re.DOTALL)
        assert count == 1, f"pattern {pattern!r} is gone: update this test's plant"
        return planted

    return plant


FUNCTION_APP = "infra/modules/functionapp.bicep"
PLANTED: dict[str, tuple[str, Plant, str, str]] = {
    # name: (file, plant, rule that must fire, fragment of its message)
    "ftpsState": (
        FUNCTION_APP,
        insert_after("siteConfig: {\n", "      ftpsState: 'Disabled'\n"),
        "flex_site_properties",
        "ftpsState",
    ),
    "alwaysOn": (
        FUNCTION_APP,
        insert_after("siteConfig: {\n", "      alwaysOn: false\n"),
        "flex_site_properties",
        "alwaysOn",
    ),
    "linuxFxVersion": (
        FUNCTION_APP,
        insert_after("siteConfig: {\n", "      linuxFxVersion: 'Python|3.11'\n"),
        "flex_site_properties",
        "linuxFxVersion",
    ),
    "FUNCTIONS_WORKER_RUNTIME": (
        FUNCTION_APP,
        insert_after("appSettings: [\n", "        { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'python' }\n"),
        "flex_app_settings",
        "FUNCTIONS_WORKER_RUNTIME",
    ),
    "WEBSITE_RUN_FROM_PACKAGE": (
        FUNCTION_APP,
        insert_after("appSettings: [\n", "        { name: 'WEBSITE_RUN_FROM_PACKAGE', value: '1' }\n"),
        "flex_app_settings",
        "WEBSITE_RUN_FROM_PACKAGE",
    ),
    "appsettings resource": (
        FUNCTION_APP,
        append(
            "resource extraSettings 'Microsoft.Web/sites/config@2024-04-01' = {\n  parent: site\n"
            "  name: 'appsettings'\n  properties: {\n    WEBSITE_CONTENTSHARE: 'share'\n  }\n}\n"
        ),
        "flex_app_settings",
        "WEBSITE_CONTENTSHARE",
    ),
    "any location": (
        "infra/main.bicep",
        substitute(r"@allowed\(\[\n  'australiaeast'.*?\]\)\n", ""),
        "allowed_locations",
        "any region",
    ),
    "unknown role": (
        "infra/modules/rbac.bicep",
        substitute(r"storageBlobDataOwner: '[0-9a-f-]{36}'", f"storageBlobDataOwner: '{OWNER_ROLE}'"),
        "built_in_roles",
        OWNER_ROLE,
    ),
    "swapped roles": (
        "infra/modules/rbac.bicep",
        substitute(
            r"keyVaultSecretsUser: '[0-9a-f-]{36}'", "keyVaultSecretsUser: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'"
        ),
        "built_in_roles",
        "'keyVaultSecretsUser' holds the GUID of 'Key Vault Secrets Officer'",
    ),
    "role from a parameter": (
        "infra/modules/rbac.bicep",
        substitute(
            r"(resource appSecretsUser .*?roleDefinitionId: )[^\n]*\n",
            r"\1subscriptionResourceId('Microsoft.Authorization/roleDefinitions', deployerPrincipalType)\n",
        ),
        "built_in_roles",
        "appSecretsUser: cannot tell",
    ),
    "fixed createMode": (
        "infra/modules/keyvault.bicep",
        substitute(r"^\s*createMode:[^\n]*\n", ""),
        "key_vault_lifecycle",
        "createMode is absent",
    ),
    "purge protection false": (
        "infra/modules/keyvault.bicep",
        substitute(r"enablePurgeProtection:[^\n]*", "enablePurgeProtection: false"),
        "key_vault_lifecycle",
        "enablePurgeProtection false",
    ),
    "retention tied to purge protection": (
        "infra/modules/keyvault.bicep",
        substitute(r"softDeleteRetentionInDays:[^\n]*", "softDeleteRetentionInDays: purgeProtection ? 90 : 7"),
        "key_vault_lifecycle",
        "softDeleteRetentionInDays is chosen by a condition",
    ),
    "keyVaultReferenceIdentity": (
        FUNCTION_APP,
        insert_after("httpsOnly: true\n", "    keyVaultReferenceIdentity: identityId\n"),
        "key_vault_references",
        "keyVaultReferenceIdentity",
    ),
    "no worker threads": (
        FUNCTION_APP,
        substitute(r"^\s*\{ name: 'PYTHON_THREADPOOL_THREAD_COUNT'[^\n]*\n", ""),
        "python_http_concurrency",
        "without PYTHON_THREADPOOL_THREAD_COUNT",
    ),
    "concurrency apart from threads": (
        FUNCTION_APP,
        substitute(r"perInstanceConcurrency: \w+", "perInstanceConcurrency: 16"),
        "python_http_concurrency",
        "not visibly the same number",
    ),
    "deployer without table roles": (
        "infra/modules/rbac.bicep",
        substitute(r"resource deployerTableContributor .*?\n\]\n", ""),
        "operator_roles",
        "table <prefix>Tenants",
    ),
    "deployer with Table Data Reader": (
        "infra/modules/rbac.bicep",
        substitute(
            r"(resource deployerTableContributor .*?roleDefinitionId: )[^\n]*\n",
            rf"\1subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '{TABLE_READER}')\n",
        ),
        "operator_roles",
        "entities/add/action",
    ),
    "deployer without the vault role": (
        "infra/modules/rbac.bicep",
        substitute(r"resource deployerSecretsOfficer .*?\n\}\n", ""),
        "operator_roles",
        "the Key Vault",
    ),
    "a data account's tables without the app's role": (
        "infra/modules/data-roles.bicep",
        substitute(r"resource appTableContributor .*?\n\]\n", ""),
        "data_account_roles",
        "the app's identity gets no Storage Table Data Contributor on the tables of data account moreDataStorage",
    ),
    "a data account without the operator's role": (
        "infra/modules/data-roles.bicep",
        substitute(r"resource deployerTableContributor .*?\n\]\n", ""),
        "data_account_roles",
        "the operator gets no Storage Table Data Contributor on the tables of data account moreDataStorage",
    ),
    "a data account's queue without the app's sender role": (
        "infra/modules/data-roles.bicep",
        substitute(r"resource appQueueSender .*?\n\}\n", ""),
        "data_account_roles",
        "the app's identity gets no Storage Queue Data Message Sender on the changes queue of data account "
        "moreDataStorage",
    ),
    "a data account's sender role on the whole account": (
        "infra/modules/data-roles.bicep",
        substitute(r"(resource appQueueSender .*?scope: )changesQueue", r"\1dataStorage"),
        "data_account_roles",
        "Storage Queue Data Message Sender on the changes queue of data account moreDataStorage",
    ),
    "a data account without its changes queue": (
        "infra/main.bicep",
        substitute(r"(tableNames: moreDataTableNames\n)      queueNames: \[changesQueueName\]\n", r"\1"),
        "data_account_roles",
        "data account module moreDataStorage creates no changes queue",
    ),
    "the primary's queue without the app's sender role": (
        "infra/modules/rbac.bicep",
        substitute(r"resource appQueueSender .*?\n\}\n", ""),
        "data_account_roles",
        "changes queue of data account dataStorage",
    ),
    "the primary data account without the app's role": (
        "infra/modules/rbac.bicep",
        substitute(r"resource dataTableContributor .*?\n\]\n", ""),
        "data_account_roles",
        "data account dataStorage",
    ),
    "more data accounts handed to no roles module": (
        "infra/main.bicep",
        substitute(r"^module moreDataRoles .*?\n\]\n", ""),
        "data_account_roles",
        "module moreDataStorage is handed to no roles module",
    ),
    "roles over fewer data accounts than there are": (
        "infra/main.bicep",
        substitute(
            r"range\(2, dataAccountCount - 1\): \{\n    name: 'data-roles",
            "range(2, dataAccountCount - 2): {\n    name: 'data-roles",
        ),
        "data_account_roles",
        "does not loop over what moreDataStorage loops over",
    ),
    "GRS where there is no pair": (
        "infra/main.bicep",
        substitute(r"italynorth: 'Standard_ZRS'", "italynorth: 'Standard_GRS'"),
        "storage_redundancy",
        "gives italynorth Standard_GRS",
    ),
    "an allowed region without a SKU": (
        "infra/main.bicep",
        substitute(r"^  spaincentral: 'Standard_ZRS'\n", ""),
        "storage_redundancy",
        "gives spaincentral nothing",
    ),
    "GRS on every account": (
        "infra/modules/storage.bicep",
        substitute(r"name: skuName", "name: 'Standard_GRS'"),
        "storage_redundancy",
        "Standard_GRS in italynorth",
    ),
}

needs_pycep = pytest.mark.skipif(not PYCEP_PYTHON.exists(), reason="needs .venv-pycep (make check-infra builds it)")


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The real templates, and each planted file, all parsed in one pycep process: {variant: templates}."""
    base = tmp_path_factory.mktemp("infra")
    shutil.copytree(ROOT / "infra", base / "infra", ignore=shutil.ignore_patterns("__pycache__"))
    originals = sorted((base / "infra").rglob("*.bicep"))
    planted_paths: dict[str, Path] = {}
    for index, (name, (file, plant, _, _)) in enumerate(PLANTED.items()):
        path = base / f"planted{index}" / file
        path.parent.mkdir(parents=True)
        path.write_text(plant((ROOT / file).read_text()))
        planted_paths[name] = path
    outcome = check_infra.parse_bicep(str(PYCEP_PYTHON), [*originals, *planted_paths.values()])
    errors = {path: result["error"] for path, result in outcome.items() if "error" in result}
    assert not errors, errors
    real = {path.relative_to(base).as_posix(): outcome[str(path)]["template"] for path in originals}
    variants = {"real": real}
    for name, path in planted_paths.items():
        variants[name] = {**real, PLANTED[name][0]: outcome[str(path)]["template"]}
    return variants


@needs_pycep
def test_the_real_templates_keep_every_rule(parsed: dict[str, dict[str, Any]]) -> None:
    templates = parsed["real"]
    assert findings(templates) == {}
    role_assignments = [
        n for t in templates.values() for n, _ in rules._resources(t, "Microsoft.Authorization/roleAssignments")
    ]
    assert len(role_assignments) >= 6, role_assignments  # every assignment was read, loops and conditions too


@needs_pycep
@pytest.mark.parametrize("mistake", list(PLANTED))
def test_each_planted_mistake_fails_its_rule(parsed: dict[str, dict[str, Any]], mistake: str) -> None:
    _, _, rule, fragment = PLANTED[mistake]
    only(parsed[mistake], rule, fragment)
