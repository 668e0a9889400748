// Key Vault holding the SCIM secrets, each with versions: a tenant's Secret Token (scim-token-<tenant>),
// its OAuth2 client secret (scim-client-secret-<tenant>) and the deployment's access-token signing keys
// (scim-oauth-signing-key, RSA private JWKs). RBAC authorization only. The template creates none of
// them: Bicep cannot generate an RSA key, and a value written here would stay in the deployment history.
// `scim-admin tenant create` / `add-client` create them (the first add-client creates the signing key).
//
// Lifecycle (README, "Take it down and bring it back"): the name is fixed per environment, so after
// `azd down` the vault waits soft-deleted under that name. With purge protection on (the default) it
// can only be recovered, tokens and all: `recover` switches createMode for that one `azd up`. With
// purge protection off (dev environments) `azd down --purge` frees the name for a fresh, empty vault.
param name string
param location string
param tags object
@description('Purge protection: a deleted vault and its tokens cannot be purged before retention ends. It can be switched on later, never off.')
param purgeProtection bool
@description('Days a deleted vault (and its tokens) stays recoverable, 7 to 90. Fixed when the vault is created, whatever purge protection is then or later.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionDays int
@description('Recover the soft-deleted vault of this name instead of creating one; only for the first deployment after `azd down`.')
param recover bool

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: a Flex Consumption app without VNet integration is not a trusted service, so a deny-by-default firewall would lock it out; access is RBAC-only
  // checkov:skip=CKV_AZURE_189: same as CKV_AZURE_109: the app reaches the vault over its public endpoint; the operator creates tokens from outside too
  // checkov:skip=CKV_AZURE_110: purge protection is on unless keyVaultPurgeProtection is false, which the README reserves for throwaway environments; checkov cannot evaluate the parameter
  // checkov:skip=CKV_AZURE_42: same as CKV_AZURE_110: soft delete is always on, purge protection by default
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    // 'recover' fails when no soft-deleted vault has this name: it is for one deployment, never left on.
    createMode: recover ? 'recover' : 'default'
    enableRbacAuthorization: true
    enableSoftDelete: true
    // Fixed at creation, and not tied to purge protection: switching protection on later (README) changes
    // no retention, so a later `azd provision` sends the value the vault was created with.
    softDeleteRetentionInDays: softDeleteRetentionDays
    // ARM accepts true or no value here, never false: purge protection cannot be switched off.
    enablePurgeProtection: purgeProtection ? true : null
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
