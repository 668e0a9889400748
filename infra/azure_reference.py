"""Facts about Azure that `make check-infra` holds the Bicep to, each list in one place with its source.

The lists follow the December 2025 revisions of their sources; when Microsoft changes one, change it here.
"""

from __future__ import annotations

# Microsoft Learn, "App settings reference for Azure Functions", section "Flex Consumption plan
# deprecations" (https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations).
# Site properties: ARM rejects some outright (ftpsState fails the deployment with error 51021); the
# runtime, scale and deployment they used to configure live in properties.functionAppConfig instead.
# Compared case-insensitively: the table itself writes `LinuxFxVersion` and `IsXenon`.
FLEX_UNSUPPORTED_SITE_PROPERTIES: dict[str, str] = {
    "alwaysOn": "not valid on Flex Consumption",
    "containerSize": "renamed functionAppConfig.scaleAndConcurrency.instanceMemoryMB",
    "dnsConfiguration": "custom DNS comes from the integrated virtual network",
    "ftpsState": "FTPS is not supported; ARM fails the deployment (error 51021)",
    "isReserved": "not valid on Flex Consumption",
    "isXenon": "not valid on Flex Consumption",
    "javaVersion": "replaced by functionAppConfig.runtime.version",
    "linuxFxVersion": "replaced by functionAppConfig.runtime",
    "netFrameworkVersion": "replaced by functionAppConfig.runtime.version",
    "powerShellVersion": "replaced by functionAppConfig.runtime.version",
    "functionAppScaleLimit": "renamed functionAppConfig.scaleAndConcurrency.maximumInstanceCount",
    "preWarmedInstanceCount": "renamed always-ready instances (functionAppConfig.scaleAndConcurrency.alwaysReady)",
    "use32BitWorkerProcess": "32-bit is not supported",
    "vnetBackupRestoreEnabled": "not used for networking on Flex Consumption",
    "vnetContentShareEnabled": "not used for networking on Flex Consumption",
    "vnetImagePullEnabled": "not used for networking on Flex Consumption",
    "vnetRouteAllEnabled": "not used for networking on Flex Consumption",
    "windowsFxVersion": "not valid on Flex Consumption",
}

# Same source and section: app settings Flex Consumption sets itself, ignores, or replaced.
FLEX_UNSUPPORTED_APP_SETTINGS: dict[str, str] = {
    "ENABLE_ORYX_BUILD": "replaced by the remoteBuild deployment parameter",
    "FUNCTIONS_EXTENSION_VERSION": "set by the platform",
    "FUNCTIONS_WORKER_RUNTIME": "replaced by functionAppConfig.runtime.name",
    "FUNCTIONS_WORKER_RUNTIME_VERSION": "replaced by functionAppConfig.runtime.version",
    "FUNCTIONS_MAX_HTTP_CONCURRENCY": "replaced by the trigger section of functionAppConfig.scaleAndConcurrency",
    "FUNCTIONS_WORKER_PROCESS_COUNT": "not valid on Flex Consumption",
    "FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED": "not valid on Flex Consumption",
    "SCM_DO_BUILD_DURING_DEPLOYMENT": "replaced by the remoteBuild deployment parameter",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING": "replaced by functionAppConfig.deployment",
    "WEBSITE_CONTENTOVERVNET": "not used for networking on Flex Consumption",
    "WEBSITE_CONTENTSHARE": "replaced by functionAppConfig.deployment",
    "WEBSITE_DNS_SERVER": "DNS comes from the integrated virtual network",
    "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT": "replaced by scaleAndConcurrency.maximumInstanceCount",
    "WEBSITE_NODE_DEFAULT_VERSION": "replaced by functionAppConfig.runtime.version",
    "WEBSITE_RUN_FROM_PACKAGE": "not used for deployments on Flex Consumption",
    "WEBSITE_SKIP_CONTENTSHARE_VALIDATION": "Flex Consumption has no content share",
    "WEBSITE_VNET_ROUTE_ALL": "not used for networking on Flex Consumption",
}

# Built-in roles a role assignment here may grant, by GUID: the data-plane roles this app, its
# operator and the planned change queue need (Microsoft Learn, "Azure built-in roles"; the GUIDs are
# the same in every tenant). Broad roles (Owner, Contributor, User Access Administrator, Storage Account
# Contributor) are deliberately absent: granting one should be a decision written down here first.
BUILT_IN_ROLES: dict[str, str] = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "76199698-9eea-4c19-bc75-cec21354c6b6": "Storage Table Data Reader",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a": "Storage Queue Data Message Sender",
    "8a0f0c08-91a1-4084-bc3d-661d67233fed": "Storage Queue Data Message Processor",
    "19e7f393-937e-4f77-808e-94535e297925": "Storage Queue Data Reader",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
}

# Data actions of the built-in roles above that the operator's and the app's data access rest on (Microsoft
# Learn, "Azure built-in roles" for Storage and Security; patterns as the role definitions write them, `*`
# included). Roles with no data action on tables, queues or secrets are left out: they grant none of those.
ROLE_DATA_ACTIONS: dict[str, tuple[str, ...]] = {
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": (  # Storage Table Data Contributor
        "Microsoft.Storage/storageAccounts/tableServices/tables/entities/read",
        "Microsoft.Storage/storageAccounts/tableServices/tables/entities/write",
        "Microsoft.Storage/storageAccounts/tableServices/tables/entities/delete",
        "Microsoft.Storage/storageAccounts/tableServices/tables/entities/add/action",
        "Microsoft.Storage/storageAccounts/tableServices/tables/entities/update/action",
    ),
    "76199698-9eea-4c19-bc75-cec21354c6b6": (  # Storage Table Data Reader
        "Microsoft.Storage/storageAccounts/tableServices/tables/entities/read",
    ),
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": (  # Storage Queue Data Contributor
        "Microsoft.Storage/storageAccounts/queueServices/queues/messages/delete",
        "Microsoft.Storage/storageAccounts/queueServices/queues/messages/read",
        "Microsoft.Storage/storageAccounts/queueServices/queues/messages/write",
        "Microsoft.Storage/storageAccounts/queueServices/queues/messages/add/action",
        "Microsoft.Storage/storageAccounts/queueServices/queues/messages/process/action",
    ),
    "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a": (  # Storage Queue Data Message Sender
        "Microsoft.Storage/storageAccounts/queueServices/queues/messages/add/action",
    ),
    "8a0f0c08-91a1-4084-bc3d-661d67233fed": (  # Storage Queue Data Message Processor
        "Microsoft.Storage/storageAccounts/queueServices/queues/messages/read",
        "Microsoft.Storage/storageAccounts/queueServices/queues/messages/process/action",
    ),
    "19e7f393-937e-4f77-808e-94535e297925": (  # Storage Queue Data Reader
        "Microsoft.Storage/storageAccounts/queueServices/queues/messages/read",
    ),
    "4633458b-17de-408a-b874-0445c86b69e6": (  # Key Vault Secrets User
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",
        "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    ),
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": ("Microsoft.KeyVault/vaults/secrets/*",),  # Key Vault Secrets Officer
}

# Storage redundancy a region offers (Microsoft Learn, "Azure regions list": regions with no pair cannot take
# the geo-redundant SKUs, GRS and GZRS; regions without availability zones cannot take ZRS or GZRS). Only the
# regions that lack something are listed: every other region offers LRS, ZRS, GRS and GZRS.
REGIONS_WITHOUT_PAIR: frozenset[str] = frozenset(
    {
        "austriaeast",
        "belgiumcentral",
        "chilecentral",
        "indonesiacentral",
        "israelcentral",
        "italynorth",
        "malaysiawest",
        "mexicocentral",
        "newzealandnorth",
        "polandcentral",
        "qatarcentral",
        "spaincentral",
    }
)
REGIONS_WITHOUT_ZONES: frozenset[str] = frozenset(
    {
        "australiasoutheast",
        "canadaeast",
        "francesouth",
        "germanynorth",
        "japanwest",
        "koreasouth",
        "northcentralus",
        "norwaywest",
        "southafricawest",
        "southindia",
        "uaecentral",
        "ukwest",
        "westcentralus",
        "westindia",
        "westus",
    }
)
GEO_REDUNDANT_SKUS = frozenset({"Standard_GRS", "Standard_RAGRS", "Standard_GZRS", "Standard_RAGZRS"})
ZONE_REDUNDANT_SKUS = frozenset({"Standard_ZRS", "Standard_GZRS", "Standard_RAGZRS", "Premium_ZRS"})
