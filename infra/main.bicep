// scim-functions in Azure: `azd up` (or `az deployment sub create`) creates the resource group and
// everything in it. Local modules only, so the whole template can be checked offline (make check-infra).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the environment; used to name the resource group and to derive a unique token.')
param environmentName string

// Regions that offer Flex Consumption, as listed by Azure-Samples/functions-quickstart-python-http-azd
// (less eastus2euap, a canary region ordinary subscriptions cannot use). A region Microsoft adds later
// shows in `az functionapp list-flexconsumption-locations -o table`; add it here.
@minLength(1)
@description('Region for every resource; it must offer Flex Consumption.')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the deploying user or pipeline; azd fills it in. Empty: no role for the deployer.')
param principalId string = ''

@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string = 'User'

@description('Let the deployer create and rotate tenant tokens in the Key Vault (Key Vault Secrets Officer).')
param grantDeployerSecretsOfficer bool = false

@description('Refuse users without an e-mail address (SCIM_REQUIRE_EMAIL).')
param requireEmail bool = true

@description('Accept HTTPS only from Entra\'s provisioning service (the AzureActiveDirectory service tag); operators then cannot reach the endpoint directly.')
param restrictInboundToEntra bool = false

@description('Always-ready instances for HTTP, against cold starts during Test Connection or a cycle start.')
@minValue(0)
param alwaysReadyInstances int = 0

@description('Most on-demand instances the HTTP functions scale out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

// Issue #11: 8 is the knee `make bench-concurrency` measured for sync handlers on threads (docs/performance.md,
// "Concurrency: sync threads or async"); modules/functionapp.bicep gives the figures next to each setting.
@description('HTTP requests one instance serves at once (Flex perInstanceConcurrency), each on its own thread of the Python worker (PYTHON_THREADPOOL_THREAD_COUNT, at most 32).')
@minValue(1)
@maxValue(32)
param httpConcurrency int = 8

@description('Lifetime in seconds of the OAuth2 access tokens /oauth2/token issues (SCIM_OAUTH_TOKEN_SECONDS).')
@minValue(60)
@maxValue(86400)
param oauthTokenSeconds int = 3600

@description('Purge protection on the Key Vault (README: "Take it down and bring it back"). Off only for throwaway environments.')
param keyVaultPurgeProtection bool = true

@description('Recover this environment\'s soft-deleted Key Vault, with its tokens, instead of creating one. Only for the first `azd up` after `azd down`.')
param keyVaultRecover bool = false

// SCIM_TABLE_PREFIX in scim/settings.py must be a letter, then letters or digits, 1 to 50 in all. The
// decorators hold the length. The characters are held by Storage itself: a table name must start with a
// letter and hold only letters and digits, so `<prefix>Users` is a valid name exactly when the prefix
// keeps the rule, and the data storage module fails before the app exists otherwise. (Bicep's fail()
// could say it sooner, but checkov's parser, pycep 0.5.1, cannot read fail() and would stop scanning.)
@description('Prefix of the SCIM table names (SCIM_TABLE_PREFIX): a letter, then letters or digits.')
@minLength(1)
@maxLength(50)
param tablePrefix string = 'scim'

param resourceGroupName string = ''

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = '${abbrs.webSitesFunctions}scim-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var tableNames = ['${tablePrefix}Users', '${tablePrefix}Groups', '${tablePrefix}Tenants', '${tablePrefix}Activity']
// Provisioning changes for the platform (README: Platform delivery); the name is SCIM_CHANGES_QUEUE's default.
var changesQueueName = 'scim-changes'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}scim-${resourceToken}'
    location: location
    tags: tags
  }
}

// Two storage accounts. The host's (AzureWebJobsStorage, deployment package) needs table access on the
// whole account for the host's diagnostic events; the SCIM data's account grants access table by table.
module hostStorage 'modules/storage.bicep' = {
  name: 'host-storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}host${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

module dataStorage 'modules/storage.bicep' = {
  name: 'data-storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}data${resourceToken}'
    location: location
    tags: tags
    tableNames: tableNames
    queueNames: [changesQueueName]
  }
}


module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    purgeProtection: keyVaultPurgeProtection
    recover: keyVaultRecover
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    hostStorageAccountName: hostStorage.outputs.name
    dataStorageAccountName: dataStorage.outputs.name
    tableNames: tableNames
    changesQueueName: changesQueueName
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    appPrincipalId: identity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    grantDeployerSecretsOfficer: grantDeployerSecretsOfficer
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    hostStorageAccountName: hostStorage.outputs.name
    hostStorageBlobEndpoint: hostStorage.outputs.blobEndpoint
    dataStorageTableEndpoint: dataStorage.outputs.tableEndpoint
    dataStorageQueueEndpoint: dataStorage.outputs.queueEndpoint
    changesQueueName: changesQueueName
    deploymentContainerName: deploymentContainerName
    keyVaultUri: keyVault.outputs.uri
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    tablePrefix: tablePrefix
    requireEmail: requireEmail
    oauthTokenSeconds: oauthTokenSeconds
    restrictInboundToEntra: restrictInboundToEntra
    alwaysReadyInstances: alwaysReadyInstances
    maximumInstanceCount: maximumInstanceCount
    httpConcurrency: httpConcurrency
  }
  // The app must not start before its identity can reach storage and the vault.
  dependsOn: [rbac]
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.uri
output AZURE_STORAGE_ACCOUNT_NAME string = dataStorage.outputs.name
output AZURE_FUNCTIONS_STORAGE_ACCOUNT_NAME string = hostStorage.outputs.name
output SCIM_CHANGES_QUEUE_URL string = '${dataStorage.outputs.queueEndpoint}${changesQueueName}'
output SCIM_BASE_URL string = 'https://${functionApp.outputs.defaultHostName}/scim/v2'
output SCIM_OAUTH_TOKEN_ENDPOINT string = 'https://${functionApp.outputs.defaultHostName}/oauth2/token'
