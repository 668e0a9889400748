// The roles on one more SCIM data account (main.bicep's dataAccountCount): the same least-privilege grants the
// primary's tables get in rbac.bicep. The app's identity reads and writes entities of this account's SCIM
// tables only and sends messages to this account's changes queue only (no role on the account itself: the
// changes of the tenants placed here go to this account's queue, as on the primary); the operator gets the
// same per-table role when the deployer is the operator, as on the primary (no queue role: the CLI sends none).
param storageAccountName string
@description('The SCIM tables of this account (<prefix>Users, <prefix>Groups, <prefix>Activity; the tenants table is on the primary).')
param tableNames array
@description('This account\'s changes queue (SCIM_CHANGES_QUEUE), where its tenants\' changes are published.')
param changesQueueName string
param appPrincipalId string
@description('Deploying user or pipeline principal; empty to grant nothing.')
param deployerPrincipalId string = ''
@allowed(['User', 'ServicePrincipal', 'Group'])
param deployerPrincipalType string = 'User'
@description('Give the deployer the operator\'s table role here too (see rbac.bicep).')
param grantDeployerOperatorRoles bool
@description('Give it to a ServicePrincipal deployer (a CI pipeline) too.')
param operatorRolesForServicePrincipal bool = false

// Parenthesised as in rbac.bicep: pycep gets `!` and `!=` precedence wrong without them.
var deployerIsOperator = grantDeployerOperatorRoles && (!empty(deployerPrincipalId)) && ((deployerPrincipalType != 'ServicePrincipal') || operatorRolesForServicePrincipal)

var roles = {
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
}

resource dataStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
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

// The app: read and write entities of this account's SCIM tables, table by table.
resource appTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
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

resource dataQueueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: dataStorage
  name: 'default'
}

resource changesQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' existing = {
  parent: dataQueueService
  name: changesQueueName
}

// Provisioning changes of this account's tenants: add messages to its changes queue, nothing else (not read,
// peek or delete them: that is the platform's consumer, with its own identity and Message Processor).
resource appQueueSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(changesQueue.id, appPrincipalId, roles.storageQueueDataMessageSender)
  scope: changesQueue
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
  }
}

// The operator: `scim-admin tenant show`, `status`, `check`, `changes`, `delete`, `export`, `import` of the
// tenants placed here read and write these tables (infra/operator_access.py).
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
