// A storage account, used twice by main.bicep: once for the Functions host (AzureWebJobsStorage and
// the Flex deployment package) and once for the SCIM data (tables). Shared-key access is off: every
// client authenticates with Entra ID.
param name string
param location string
param tags object
@description('Blob container for the Flex deployment package; empty for none.')
param deploymentContainerName string = ''
@description('Tables to create (SCIM data: <prefix>Users, <prefix>Groups, <prefix>Tenants, <prefix>Activity); empty for none.')
param tableNames array = []
@description('Queues to create (SCIM data: scim-changes); empty for none.')
param queueNames array = []
@description('Redundancy SKU; main.bicep picks one the region offers (storageSkuByRegion).')
@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS'])
param skuName string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: Flex Consumption reaches storage over the public endpoint unless VNet-integrated with private endpoints; access is Entra-only (shared keys off)
  // checkov:skip=CKV_AZURE_206: the SKU is a parameter checkov cannot evaluate; main.bicep gives GRS, or ZRS where the region has no pair (storageSkuByRegion, held by the storage_redundancy rule); LRS only when the operator sets SCIM_STORAGE_SKU
  // checkov:skip=CKV_AZURE_59: same as CKV_AZURE_35: the public endpoint is needed without VNet integration; every request must carry an Entra token
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: { enabled: true, keyType: 'Account' }
        file: { enabled: true, keyType: 'Account' }
        table: { enabled: true, keyType: 'Account' }
        queue: { enabled: true, keyType: 'Account' }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = if (!empty(deploymentContainerName)) {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for tableName in tableNames: {
    parent: tableService
    name: tableName
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = if (!empty(queueNames)) {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queueName in queueNames: {
    parent: queueService
    name: queueName
  }
]

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output tableEndpoint string = storage.properties.primaryEndpoints.table
output queueEndpoint string = storage.properties.primaryEndpoints.queue
