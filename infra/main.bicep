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

@description('Give the deployer the roles of the README\'s operator steps (scim-admin): Storage Table Data Contributor on each SCIM table and Key Vault Secrets Officer.')
param grantDeployerOperatorRoles bool = true

@description('Give those roles to a ServicePrincipal deployer (a CI pipeline) too. Off: a pipeline that runs azd holds no standing access to tenant data or tokens.')
param operatorRolesForServicePrincipal bool = false

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

// The management API (README: "The management API for the platform"): the platform's backend calls /manage/v1/
// with a Microsoft Entra ID access token for an app registration of its own; empty issuer: the API is off.
@description('Issuer of the management API\'s access tokens, exactly as their iss claim: https://login.microsoftonline.com/<tenant id>/v2.0 (SCIM_MANAGE_ISSUER). Empty: the management API refuses every request.')
param manageIssuer string = ''

@description('Accepted audiences of those tokens, comma-separated: the management API app registration\'s client id and/or App ID URI (SCIM_MANAGE_AUDIENCE).')
param manageAudience string = ''

@description('App role that allows reading tenants (SCIM_MANAGE_READ_ROLE).')
param manageReadRole string = 'Tenants.Read'

@description('App role that allows creating and changing tenants (SCIM_MANAGE_WRITE_ROLE).')
param manageWriteRole string = 'Tenants.ReadWrite'

@description('Purge protection on the Key Vault (README: "Take it down and bring it back"). Off only for throwaway environments.')
param keyVaultPurgeProtection bool = true

@description('Recover this environment\'s soft-deleted Key Vault, with its tokens, instead of creating one. Only for the first `azd up` after `azd down`.')
param keyVaultRecover bool = false

@description('Days a deleted Key Vault and its tokens stay recoverable (7 to 90); fixed when the vault is created, whatever purge protection is.')
@minValue(7)
@maxValue(90)
param keyVaultRetentionDays int = 90

// Storage redundancy per region (make check-infra holds this map to infra/azure_reference.py): geo-redundant
// where the region has a pair, zone-redundant where it has none (italynorth and spaincentral refuse GRS). A
// region added to `location`'s @allowed list needs its entry here too.
var storageSkuByRegion = {
  australiaeast: 'Standard_GRS'
  australiasoutheast: 'Standard_GRS'
  brazilsouth: 'Standard_GRS'
  canadacentral: 'Standard_GRS'
  centralindia: 'Standard_GRS'
  centralus: 'Standard_GRS'
  eastasia: 'Standard_GRS'
  eastus: 'Standard_GRS'
  eastus2: 'Standard_GRS'
  francecentral: 'Standard_GRS'
  germanywestcentral: 'Standard_GRS'
  italynorth: 'Standard_ZRS'
  japaneast: 'Standard_GRS'
  koreacentral: 'Standard_GRS'
  northcentralus: 'Standard_GRS'
  northeurope: 'Standard_GRS'
  norwayeast: 'Standard_GRS'
  southafricanorth: 'Standard_GRS'
  southcentralus: 'Standard_GRS'
  southeastasia: 'Standard_GRS'
  southindia: 'Standard_GRS'
  spaincentral: 'Standard_ZRS'
  swedencentral: 'Standard_GRS'
  uaenorth: 'Standard_GRS'
  uksouth: 'Standard_GRS'
  ukwest: 'Standard_GRS'
  westcentralus: 'Standard_GRS'
  westeurope: 'Standard_GRS'
  westus: 'Standard_GRS'
  westus2: 'Standard_GRS'
  westus3: 'Standard_GRS'
}

@description('Storage redundancy of both accounts; empty: the region\'s entry in storageSkuByRegion. A GRS/GZRS SKU fails in a region without a pair, ZRS/GZRS in one without zones.')
@allowed(['', 'Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS'])
param storageSku string = ''

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

// Tenants spread over several data accounts (README: Several data accounts): the first is the primary (the
// tenants table and every tenant from before), each more one holds the Users, Groups and Activity tables of
// the tenants `scim-admin tenant create` places there; each has its own changes queue for its tenants' changes. Raising the count adds accounts
// (new tenants go to the emptiest); lowering it would strand the tenants placed on the accounts it drops.
@description('Storage accounts for the SCIM data (SCIM_DATA_ACCOUNTS): 1 is the primary alone.')
@minValue(1)
@maxValue(50)
param dataAccountCount int = 1

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = '${abbrs.webSitesFunctions}scim-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var tableNames = ['${tablePrefix}Users', '${tablePrefix}Groups', '${tablePrefix}Tenants', '${tablePrefix}Activity']
// A tenant's whole data (resources, memberships, change records, activity); the tenants table stays on the primary.
var moreDataTableNames = ['${tablePrefix}Users', '${tablePrefix}Groups', '${tablePrefix}Activity']
// Provisioning changes for the platform (README: Platform delivery); the name is SCIM_CHANGES_QUEUE's default.
var changesQueueName = 'scim-changes'
var storageSkuName = empty(storageSku) ? storageSkuByRegion[location] : storageSku

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
    skuName: storageSkuName
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
    skuName: storageSkuName
  }
}


// The data accounts after the primary, named data2, data3, ... in SCIM_DATA_ACCOUNTS (the primary is `primary`).
module moreDataStorage 'modules/storage.bicep' = [
  for n in range(2, dataAccountCount - 1): {
    name: 'data-storage-${n}'
    scope: rg
    params: {
      name: '${abbrs.storageStorageAccounts}data${n}${resourceToken}'
      location: location
      tags: tags
      tableNames: moreDataTableNames
      queueNames: [changesQueueName]
      skuName: storageSkuName
    }
  }
]

// Each gets the grants the primary's tables get in rbac.bicep: the app's identity (and the operator) on each table.
module moreDataRoles 'modules/data-roles.bicep' = [
  for (n, i) in range(2, dataAccountCount - 1): {
    name: 'data-roles-${n}'
    scope: rg
    params: {
      storageAccountName: moreDataStorage[i].outputs.name
      tableNames: moreDataTableNames
      changesQueueName: changesQueueName
      appPrincipalId: identity.outputs.principalId
      deployerPrincipalId: principalId
      deployerPrincipalType: principalType
      grantDeployerOperatorRoles: grantDeployerOperatorRoles
      operatorRolesForServicePrincipal: operatorRolesForServicePrincipal
    }
  }
]

var moreDataAccountList = [
  for (n, i) in range(2, dataAccountCount - 1): 'data${n}=${moreDataStorage[i].outputs.tableEndpoint}'
]
var moreDataAccounts = join(moreDataAccountList, ',')
// Every data account's changes queue, the primary's first: the platform's consumer reads them all.
var moreChangesQueueUrlList = [
  for (n, i) in range(2, dataAccountCount - 1): '${moreDataStorage[i].outputs.queueEndpoint}${changesQueueName}'
]
var changesQueueUrls = join(concat(['${dataStorage.outputs.queueEndpoint}${changesQueueName}'], moreChangesQueueUrlList), ',')

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    purgeProtection: keyVaultPurgeProtection
    recover: keyVaultRecover
    softDeleteRetentionDays: keyVaultRetentionDays
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
    grantDeployerOperatorRoles: grantDeployerOperatorRoles
    operatorRolesForServicePrincipal: operatorRolesForServicePrincipal
    manageApiEnabled: !empty(manageIssuer)
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
    moreDataAccounts: moreDataAccounts
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
    manageIssuer: manageIssuer
    manageAudience: manageAudience
    manageReadRole: manageReadRole
    manageWriteRole: manageWriteRole
  }
  // The app must not start before its identity can reach storage and the vault.
  dependsOn: [rbac, moreDataRoles]
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
output SCIM_CHANGES_QUEUE_URLS string = changesQueueUrls
output SCIM_BASE_URL string = 'https://${functionApp.outputs.defaultHostName}/scim/v2'
// The operator CLI's settings, named as scim/settings.py reads them: `azd env get-values > .env` and
// scim-admin works against this deployment (README, "Against Azure"; tests/unit/test_azd_outputs.py).
output SCIM_STORAGE_TABLE_ENDPOINT string = dataStorage.outputs.tableEndpoint
output SCIM_STORAGE_QUEUE_ENDPOINT string = dataStorage.outputs.queueEndpoint
output SCIM_DATA_ACCOUNTS string = moreDataAccounts
output SCIM_CHANGES_QUEUE string = changesQueueName
output SCIM_TABLE_PREFIX string = tablePrefix
output SCIM_SECRET_SOURCE string = 'keyvault'
output SCIM_KEY_VAULT_URL string = keyVault.outputs.uri
output SCIM_PUBLIC_BASE_URL string = 'https://${functionApp.outputs.defaultHostName}'
output SCIM_OAUTH_TOKEN_ENDPOINT string = 'https://${functionApp.outputs.defaultHostName}/oauth2/token'
