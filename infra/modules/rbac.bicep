// Role assignments, least privilege, named by GUID so re-deploying is idempotent. Every role is a
// built-in role named by its GUID in `roles`; `make check-infra` fails on a GUID it does not know.
//
// Two storage accounts keep the host's needs and the SCIM data apart (see main.bicep): the Functions
// host needs table access on its whole account (it creates a diagnostic-events table each month), and
// the SCIM tables stay reachable only table by table.
param hostStorageAccountName string
param dataStorageAccountName string
param tableNames array
@description('The queue the app publishes provisioning changes to.')
param changesQueueName string
param keyVaultName string
param applicationInsightsName string
param appPrincipalId string
@description('Deploying user or pipeline principal; empty to grant nothing.')
param deployerPrincipalId string = ''
@allowed(['User', 'ServicePrincipal', 'Group'])
param deployerPrincipalType string = 'User'
@description('Give the deployer the roles the README\'s operator steps (scim-admin) need: Storage Table Data Contributor on each SCIM table and Key Vault Secrets Officer.')
param grantDeployerOperatorRoles bool
@description('Give those roles to a ServicePrincipal deployer (a CI pipeline) too; off: a pipeline that deploys holds no standing access to tenant data or tokens.')
param operatorRolesForServicePrincipal bool = false
@description('The management API is on: the app creates and rotates secrets (Key Vault Secrets Officer).')
param manageApiEnabled bool = false

// The operator is a person by default: a pipeline gets the roles only when asked for them.
// Parenthesised throughout: pycep (make check-infra, tests/unit/test_operator_access.py) gets `!` and `!=`
// precedence wrong without them.
var deployerIsOperator = grantDeployerOperatorRoles && (!empty(deployerPrincipalId)) && ((deployerPrincipalType != 'ServicePrincipal') || operatorRolesForServicePrincipal)

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
}

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageAccountName
}

resource dataStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: dataStorageAccountName
}

resource dataTableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: dataStorage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = [
  for tableName in tableNames: {
    parent: dataTableService
    name: tableName
  }
]

resource dataQueueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: dataStorage
  name: 'default'
}

resource changesQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' existing = {
  parent: dataQueueService
  name: changesQueueName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Host account, blobs: the host keeps its locks and keys there, and Flex keeps the deployment package
// there. "No extension (host only)" in Microsoft's permissions table for AzureWebJobsStorage.
resource hostBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, appPrincipalId, roles.storageBlobDataOwner)
  scope: hostStorage
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
  }
}

// Host account, tables: the host writes diagnostic events to a table it creates each month
// (AzureFunctionsDiagnosticEvents<yyyyMM>), and warns in the logs when it cannot. Microsoft's table
// lists this role for "host only, with support for diagnostic events". A table that does not exist yet
// cannot be a role scope, so the scope is the account: which is why the SCIM tables live elsewhere.
resource hostTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, appPrincipalId, roles.storageTableDataContributor)
  scope: hostStorage
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
  }
}

// SCIM data: read and write entities of the SCIM tables only; no role on the data account itself.
resource dataTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (tableName, i) in tableNames: {
    name: guid(tables[i].id, appPrincipalId, roles.storageTableDataContributor)
    scope: tables[i]
    properties: {
      principalId: appPrincipalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    }
  }
]

// Provisioning changes: add messages to the changes queue, nothing else (not read, peek or delete them:
// that is the platform's consumer, with its own identity and Storage Queue Data Message Processor).
resource appQueueSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(changesQueue.id, appPrincipalId, roles.storageQueueDataMessageSender)
  scope: changesQueue
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
  }
}

// Tenant tokens, OAuth2 client secrets and signing keys: read secret values, nothing else (the app signs
// access tokens with the key it reads; it never writes a secret).
resource appSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

// The management API (on when manageIssuer is set) creates tenants' Secret Tokens and client secrets and
// rotates and retires them, as `scim-admin` does: Key Vault Secrets Officer, the narrowest built-in role
// that may set a secret. Off, the app keeps Secrets User only.
resource appSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (manageApiEnabled) {
  name: guid(vault.id, appPrincipalId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
  }
}

// Telemetry with local auth off: the identity must be allowed to publish.
resource appMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, appPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}

// The operator (README, "Operator roles"): `scim-admin tenant create`, `show`, `rotate-token`, `delete`,
// `activity`, `changes`, `export`, `import`, … read and write entities of the SCIM tables (the tenants
// table, and Users, Groups and Activity for show, status, check, delete and the transfer) and nothing else
// on the data account: the same per-table scope as the app. Table Data Reader would not do: create,
// set-limit, delete and import write. The CLI never reads or sends queue messages, so no queue role.
// When the deployer is not the operator the loop runs over no tables (pycep, behind make check-infra,
// cannot read a loop with an `if`).
resource deployerTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (tableName, i) in (deployerIsOperator ? tableNames : []): {
    name: guid(tables[i].id, deployerPrincipalId, roles.storageTableDataContributor)
    scope: tables[i]
    properties: {
      principalId: deployerPrincipalId
      principalType: deployerPrincipalType
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    }
  }
]

// Tokens, client secrets, signing keys and the operator key are secrets the CLI creates, lists, reads and
// enables or disables, by names it makes up per tenant, so the scope is the vault. Key Vault Secrets Officer
// is the narrowest built-in role that may set a secret (Secrets User only reads).
resource deployerSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (deployerIsOperator) {
  name: guid(vault.id, deployerPrincipalId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
  }
}
