// Key Vault holding one secret per SCIM tenant (scim-token-<tenant>). RBAC authorization only, soft
// delete and purge protection on, so a deleted tenant token can be recovered and never silently purged.
param name string
param location string
param tags object

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: a Flex Consumption app without VNet integration is not a trusted service, so a deny-by-default firewall would lock it out; access is RBAC-only
  // checkov:skip=CKV_AZURE_189: same as CKV_AZURE_109: the app reaches the vault over its public endpoint; the operator creates tokens from outside too
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
