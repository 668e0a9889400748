"""The project's own offline checks of infra/ and of the deployment package, run beside checkov's.

Each Bicep rule reads the templates as pycep-parser parses them (one dict per file, keyed by the file's
path from the repository root) and returns one message per mistake found. Together they keep the
mistakes of issue #14 from coming back: a site property or app setting that Flex Consumption rejects,
a region without Flex Consumption, a role that is not a known built-in role, a Key Vault with no way
back after `azd down`; and, from issue #11, a Python app whose HTTP concurrency and worker threads
differ. Plain Python with no dependencies, so `make test` runs them without pycep.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from infra.azure_reference import (
    BUILT_IN_ROLES,
    FLEX_UNSUPPORTED_APP_SETTINGS,
    FLEX_UNSUPPORTED_SITE_PROPERTIES,
    GEO_REDUNDANT_SKUS,
    REGIONS_WITHOUT_PAIR,
    REGIONS_WITHOUT_ZONES,
    ZONE_REDUNDANT_SKUS,
)
from infra.bicep_reading import (
    ENTRY_TEMPLATE,
    Template,
    Templates,
    _bare,
    _declarations,
    _is_expression,
    _keys,
    _resolve,
    _resources,
    _role_definition,
    _squash,
    _strings,
)
from infra.data_accounts import data_account_roles
from infra.operator_access import operator_roles

_REGION = re.compile(r"^[a-z][a-z0-9]*$")
_CREATE_MODES = {"default", "recover"}


# --- rules ------------------------------------------------------------------------------------------


def flex_site_properties(templates: Templates) -> list[str]:
    """No site property that Flex Consumption rejects or ignores, anywhere in any template.

    Scans every key, not only sites' siteConfig, so a property passed through a module parameter or a
    variable is caught too. This repository deploys only Flex Consumption apps; a site on another plan
    would need this rule scoped to Flex sites.
    """
    banned = {name.lower(): (name, why) for name, why in FLEX_UNSUPPORTED_SITE_PROPERTIES.items()}
    found = []
    for file, template in templates.items():
        for label, root in _declarations(template):
            for path, key, _ in _keys(root, label):
                hit = banned.get(_bare(key).lower())
                if hit:
                    found.append(f"{file}: {path}.{_bare(key)}: Flex Consumption does not take {hit[0]} ({hit[1]})")
    return found


def flex_app_settings(templates: Templates) -> list[str]:
    """No app setting that Flex Consumption sets itself, ignores or replaced, anywhere in any template.

    Finds a setting both as `{ name: 'SETTING', value: ... }` (siteConfig.appSettings) and as an object
    key (a `config` resource named appsettings, or settings passed to a module).
    """
    banned = {name.upper(): (name, why) for name, why in FLEX_UNSUPPORTED_APP_SETTINGS.items()}
    found = []
    for file, template in templates.items():
        for label, root in _declarations(template):
            for path, key, value in _keys(root, label):
                setting = _bare(key)
                if key == "name" and isinstance(value, str):
                    setting = value
                hit = banned.get(setting.upper())
                if hit:
                    found.append(f"{file}: {path}: Flex Consumption does not take app setting {hit[0]} ({hit[1]})")
    return found


def _allowed_regions(template: Template | None) -> list[str]:
    parameter = (template or {}).get("parameters", {}).get("location") or {}
    allowed = next((d.get("argument") for d in parameter.get("decorators", []) if d.get("type") == "allowed"), None)
    return [region for region in allowed or [] if isinstance(region, str)]


def _sku_refused(sku: str, region: str) -> str | None:
    """Why a region refuses a storage SKU, or None if it offers it."""
    if sku in GEO_REDUNDANT_SKUS and region in REGIONS_WITHOUT_PAIR:
        return "the region has no pair, so no geo-redundant storage"
    if sku in ZONE_REDUNDANT_SKUS and region in REGIONS_WITHOUT_ZONES:
        return "the region has no availability zones"
    return None


STORAGE_SKU_MAP = "storageSkuByRegion"
"""The entry template's variable of storage SKUs by region: the SKU each allowed region gets by default."""


def storage_redundancy(templates: Templates) -> list[str]:
    """Every region `location` allows can take the storage SKU the templates give it.

    A literal SKU on a storage account must be offered in every allowed region (Standard_GRS is refused in
    italynorth and spaincentral, which have no pair); a SKU chosen per region from the entry template's
    `storageSkuByRegion` must have an entry for each allowed region, offered there.
    """
    entry = templates.get(ENTRY_TEMPLATE)
    regions = _allowed_regions(entry)
    found = []
    for file, template in templates.items():
        for name, body in _resources(template, "Microsoft.Storage/storageAccounts"):
            sku = _resolve((body.get("sku") or {}).get("name"), template)
            if not isinstance(sku, str) or not sku.startswith(("Standard_", "Premium_")):
                continue
            for region in regions:
                why = _sku_refused(sku, region)
                if why:
                    found.append(f"{file}: resource {name}: {sku} in {region}, which `location` allows: {why}")
    by_region = ((entry or {}).get("variables", {}).get(STORAGE_SKU_MAP) or {}).get("value")
    if isinstance(by_region, dict):
        for region in regions:
            sku = by_region.get(region)
            why = _sku_refused(sku, region) if isinstance(sku, str) else "it has no entry"
            if why:
                found.append(f"{ENTRY_TEMPLATE}: var {STORAGE_SKU_MAP} gives {region} {sku or 'nothing'}: {why}")
    return found


def allowed_locations(templates: Templates) -> list[str]:
    """The entry template's `location` is restricted with @allowed to region names."""
    template = templates.get(ENTRY_TEMPLATE)
    if template is None:
        return [f"{ENTRY_TEMPLATE}: not among the parsed templates, so its location cannot be checked"]
    parameter = template.get("parameters", {}).get("location")
    if parameter is None:
        return [f"{ENTRY_TEMPLATE}: has no `location` parameter"]
    allowed = next((d.get("argument") for d in parameter.get("decorators", []) if d.get("type") == "allowed"), None)
    if not allowed:
        return [
            f"{ENTRY_TEMPLATE}: param location accepts any region; restrict it with @allowed([...]) to the regions "
            "that offer Flex Consumption (az functionapp list-flexconsumption-locations)"
        ]
    return [
        f"{ENTRY_TEMPLATE}: param location allows {region!r}, which is not a region name of an ordinary subscription"
        for region in allowed
        if not isinstance(region, str) or not _REGION.match(region) or region.endswith("euap")
    ]


def built_in_roles(templates: Templates) -> list[str]:
    """Every role assignment grants a built-in role known by GUID, and a named GUID carries its role's name.

    The GUID may be literal or read from a variable (`roles.storageBlobDataOwner`); when it is read from
    an object key, the key must be the role's name in camel case, so that two swapped GUIDs show.
    """
    found = []
    for file, template in templates.items():
        for name, body in _resources(template, "Microsoft.Authorization/roleAssignments"):
            expression = (body.get("properties") or {}).get("roleDefinitionId")
            guid, key = _role_definition(expression, template)
            where = f"{file}: resource {name}"
            if guid is None:
                found.append(
                    f"{where}: cannot tell which role it grants; give the role's GUID as a literal or in a variable"
                )
            elif guid not in BUILT_IN_ROLES:
                found.append(
                    f"{where}: grants role {guid}, which is not a built-in role listed in infra/azure_reference.py"
                )
            elif key is not None and _squash(key) != _squash(BUILT_IN_ROLES[guid]):
                found.append(
                    f"{where}: key {key!r} holds the GUID of {BUILT_IN_ROLES[guid]!r}; name keys after their role"
                )
    return found


def key_vault_lifecycle(templates: Templates) -> list[str]:
    """A Key Vault can come back after `azd down`, and never asks ARM to switch purge protection off.

    Soft delete keeps a deleted vault's name for its retention days, so a vault named the same on every
    deployment needs a `createMode` that can be switched to 'recover'; a fixed createMode leaves the
    second `azd up` failing with "A vault with the same name already exists in deleted state". Its soft-delete
    retention is fixed at creation, so it must not follow another setting (issue #21: it followed purge
    protection, and switching protection on later failed).
    """
    found = []
    for file, template in templates.items():
        for name, body in _resources(template, "Microsoft.KeyVault/vaults"):
            properties = body.get("properties") or {}
            where = f"{file}: resource {name}"
            if properties.get("enablePurgeProtection") is False:
                found.append(
                    f"{where}: enablePurgeProtection false is rejected by ARM; leave it out (null) to keep it off"
                )
            retention = properties.get("softDeleteRetentionInDays")
            if _is_expression(retention) and retention.get("operator", {}).get("type") == "conditional":
                found.append(
                    f"{where}: softDeleteRetentionInDays is chosen by a condition; it cannot change after the vault "
                    "is made, so switching that condition later fails the deployment: give it its own parameter"
                )
            mode = properties.get("createMode")
            if mode is None or (isinstance(mode, str) and mode.lower() in _CREATE_MODES):
                found.append(
                    f"{where}: createMode is {'absent' if mode is None else repr(mode)}; make it switchable to "
                    "'recover' so the vault soft-deleted by `azd down` can be brought back"
                )
    return found


def key_vault_references(templates: Templates) -> list[str]:
    """A site names a keyVaultReferenceIdentity only when some value in its template is a Key Vault reference."""
    found = []
    for file, template in templates.items():
        for name, body in _resources(template, "Microsoft.Web/sites"):
            if "keyVaultReferenceIdentity" not in (body.get("properties") or {}):
                continue
            if not any("@Microsoft.KeyVault(" in text for text in _strings(template)):
                found.append(
                    f"{file}: resource {name}: keyVaultReferenceIdentity is set but no setting is a Key Vault reference"
                )
    return found


THREADPOOL_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"
THREADPOOL_MAX = 32
"""The largest PYTHON_THREADPOOL_THREAD_COUNT the Python worker takes (Microsoft Learn, "App settings reference
for Azure Functions", PYTHON_THREADPOOL_THREAD_COUNT)."""


def _app_setting(properties: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    """(found, value) of a `{ name: ..., value: ... }` entry of siteConfig.appSettings."""
    for entry in (properties.get("siteConfig") or {}).get("appSettings") or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return True, entry.get("value")
    return False, None


def _setting_operand(node: Any) -> Any:
    """What an app setting's value stands for: `string(x)` is x, a literal '8' is 8."""
    if _is_expression(node) and node.get("function", {}).get("type") == "string":
        return node["function"].get("parameters", {}).get("value_to_convert")
    if isinstance(node, str) and node.isdigit():
        return int(node)
    return node


def _count(node: Any, template: Template) -> int | str | None:
    """An int literal (or a variable holding one), else the parameter's name, else None."""
    value = _resolve(node, template)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(node, str) and node in template.get("parameters", {}):
        return node
    return None


def python_http_concurrency(templates: Templates) -> list[str]:
    """A Python site's HTTP concurrency on Flex Consumption and its worker's thread pool are one number.

    Flex sends a Python app one HTTP request per instance at a time unless
    functionAppConfig.scaleAndConcurrency.triggers.http.perInstanceConcurrency says more, and the Python
    worker runs sync handlers on PYTHON_THREADPOOL_THREAD_COUNT threads (on Python 3.11 by default
    min(32, cores + 4): 5 on a one-core instance). Set one without the other and either the threads idle or
    requests wait inside the worker for a thread; so both are set, from the same parameter or to the same
    literal, and never above the worker's 32 (a parameter says so with @maxValue).
    """
    found = []
    for file, template in templates.items():
        for name, body in _resources(template, "Microsoft.Web/sites"):
            properties = body.get("properties") or {}
            app_config = properties.get("functionAppConfig") or {}
            runtime = (app_config.get("runtime") or {}).get("name")
            if not isinstance(runtime, str) or runtime.lower() != "python":
                continue
            scale = app_config.get("scaleAndConcurrency") or {}
            concurrency = ((scale.get("triggers") or {}).get("http") or {}).get("perInstanceConcurrency")
            has_threads, threads = _app_setting(properties, THREADPOOL_SETTING)
            where = f"{file}: resource {name}"
            if concurrency is None and not has_threads:
                continue  # the platform's pair: one request per instance, on the default pool
            if concurrency is None:
                found.append(
                    f"{where}: sets {THREADPOOL_SETTING} without triggers.http.perInstanceConcurrency; Flex sends "
                    "a Python app one request per instance at a time, so the extra threads idle"
                )
                continue
            if not has_threads:
                found.append(
                    f"{where}: sets triggers.http.perInstanceConcurrency without {THREADPOOL_SETTING}; requests "
                    "past the worker's default pool (5 threads on one core) wait inside the worker"
                )
                continue
            wanted, given = _count(concurrency, template), _count(_setting_operand(threads), template)
            if wanted is None or wanted != given:
                found.append(
                    f"{where}: {THREADPOOL_SETTING} and triggers.http.perInstanceConcurrency are not visibly the "
                    "same number; set both from one parameter or to the same literal"
                )
            elif isinstance(wanted, int) and wanted > THREADPOOL_MAX:
                found.append(f"{where}: {wanted} threads; {THREADPOOL_SETTING} takes at most {THREADPOOL_MAX}")
            elif isinstance(wanted, str):
                decorators = template["parameters"][wanted].get("decorators") or []
                ceiling = next((d.get("argument") for d in decorators if d.get("type") == "max_value"), None)
                if not isinstance(ceiling, int) or ceiling > THREADPOOL_MAX:
                    found.append(
                        f"{where}: param {wanted} sets {THREADPOOL_SETTING}; give it @maxValue({THREADPOOL_MAX}) "
                        "or lower, the most the worker takes"
                    )
    return found


BICEP_RULES: tuple[Callable[[Templates], list[str]], ...] = (
    flex_site_properties,
    flex_app_settings,
    allowed_locations,
    built_in_roles,
    key_vault_lifecycle,
    key_vault_references,
    python_http_concurrency,
    storage_redundancy,
    operator_roles,
    data_account_roles,
)


def check_templates(templates: Templates) -> dict[str, list[str]]:
    """Every Bicep rule's findings, by rule name."""
    return {rule.__name__: rule(templates) for rule in BICEP_RULES}


def funcignore_gaps(gitignore: str, funcignore: str) -> list[str]:
    """Patterns .gitignore has and .funcignore lacks.

    azd packages the project with .funcignore alone once it exists (its own Python defaults, which skip
    __pycache__ and virtual environments, then no longer apply), so whatever git ignores as local state
    or build leftovers must be listed there too, or it ships.
    """

    def patterns(text: str) -> set[str]:
        return {line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")}

    return [
        f".funcignore: does not leave out {pattern!r}, which .gitignore ignores, so azd would package it"
        for pattern in sorted(patterns(gitignore) - patterns(funcignore))
    ]
