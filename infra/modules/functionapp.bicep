// The SCIM endpoint: a Python 3.11 Function App on Flex Consumption (FC1), running as the user-assigned
// identity. Storage, Key Vault and Application Insights are reached with that identity; no secret is
// kept in app settings.
//
// Flex Consumption rejects or ignores many site properties and app settings that other plans use
// (ftpsState, alwaysOn, linuxFxVersion, FUNCTIONS_WORKER_RUNTIME, WEBSITE_RUN_FROM_PACKAGE, ...): the
// runtime, scale and deployment live in functionAppConfig instead. `make check-infra` fails on any of
// them; the list and its source are in infra/azure_reference.py. Inside an object or array, keep a comment to
// four lines at most: checkov's older pycep parser rejects a fifth in a row (a "parsing error" in check-infra).
param name string
param planName string
param location string
param tags object
param identityId string
param identityClientId string
@description('Account behind AzureWebJobsStorage and the deployment container.')
param hostStorageAccountName string
param hostStorageBlobEndpoint string
@description('Table endpoint of the account holding the SCIM tables.')
param dataStorageTableEndpoint string
@description('Queue endpoint of the same account, and the queue the platform reads changes from.')
param dataStorageQueueEndpoint string
@description('SCIM_DATA_ACCOUNTS: the data accounts after the primary, data2=<table endpoint>,... (empty: none).')
param moreDataAccounts string = ''
param changesQueueName string
param deploymentContainerName string
param keyVaultUri string
param applicationInsightsConnectionString string
param tablePrefix string
param requireEmail bool
@description('Lifetime of OAuth2 access tokens in seconds; the app refuses more than a day.')
@minValue(60)
@maxValue(86400)
param oauthTokenSeconds int
@description('Allow inbound HTTPS only from the AzureActiveDirectory service tag (Entra\'s provisioning service).')
param restrictInboundToEntra bool = false
// Always-ready instances are not capped by maximumInstanceCount: that limit applies to on-demand
// instances only, and always-ready ones do not count toward it (Microsoft Learn, "Event-driven
// scaling in Azure Functions", Flex Consumption: limit scale-out).
@minValue(0)
param alwaysReadyInstances int
// Flex Consumption accepts 1 to 1000 (same source); 40 was the lowest value in early releases.
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int
// Concurrency (issue #11): our handlers stay synchronous and run on the Python worker's thread pool, so an
// instance takes this many HTTP requests at once (perInstanceConcurrency) and the worker has one thread for
// each (PYTHON_THREADPOOL_THREAD_COUNT): one number, so that no thread idles and no request waits inside the
// worker for one (`make check-infra` holds them together). Flex gives a Python app 1 by default whatever the
// instance size (Microsoft Learn, "Concurrency in Azure Functions", HTTP trigger concurrency), and the worker
// takes at most 32 threads (Learn, "App settings reference", PYTHON_THREADPOOL_THREAD_COUNT). host.json has no
// setting for either on Flex: the HTTP limit lives in functionAppConfig, the thread count in an app setting.
// Measured by `make bench-concurrency` (bench/concurrency.py; docs/performance.md, "Concurrency: sync threads
// or async"), a PATCH's storage calls through an 8 ms-round-trip proxy plus 2.5 ms of model work, one core.
@minValue(1)
@maxValue(32)
param httpConcurrency int
@description('Issuer of the management API\'s access tokens (SCIM_MANAGE_ISSUER); empty: the API is off.')
param manageIssuer string = ''
@description('Accepted audiences of the management API\'s tokens, comma-separated (SCIM_MANAGE_AUDIENCE).')
param manageAudience string = ''
param manageReadRole string = 'Tenants.Read'
param manageWriteRole string = 'Tenants.ReadWrite'

var entraOnly = [
  {
    name: 'entra-provisioning'
    action: 'Allow'
    tag: 'ServiceTag'
    ipAddress: 'AzureActiveDirectory'
    priority: 100
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy on Flex Consumption is offered only in some regions; turn it on where the region has it
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: Entra ID's provisioning service calls the endpoint over the internet (AzureActiveDirectory service tag); a private endpoint would cut it off
  // checkov:skip=CKV_AZURE_17: Entra's provisioning service authenticates with a bearer token and cannot present a client certificate
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales out on demand; failover capacity is maximumInstanceCount, and alwaysReadyInstances keeps warm instances
  // checkov:skip=CKV_AZURE_213: Flex Consumption has no App Service health check; the platform replaces unhealthy instances itself
  // checkov:skip=CKV_AZURE_78: Flex Consumption has no FTP(S) endpoint and rejects siteConfig.ftpsState (error 51021); basic publishing credentials are off below
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      http20Enabled: true
      // Off by default: the admin's own curl, make-run-style checks and the operator pages need the endpoint
      // too. On, only Entra's provisioning service (its service tag) reaches the app.
      ipSecurityRestrictionsDefaultAction: restrictInboundToEntra ? 'Deny' : 'Allow'
      ipSecurityRestrictions: restrictInboundToEntra ? entraOnly : []
      // Names match scim/settings.py and local.settings.sample.json.
      appSettings: [
        { name: 'AzureWebJobsStorage__accountName', value: hostStorageAccountName }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: applicationInsightsConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
        { name: 'AZURE_CLIENT_ID', value: identityClientId }
        { name: 'SCIM_STORAGE_TABLE_ENDPOINT', value: dataStorageTableEndpoint }
        { name: 'SCIM_TABLE_PREFIX', value: tablePrefix }
        { name: 'SCIM_STORAGE_QUEUE_ENDPOINT', value: dataStorageQueueEndpoint }
        { name: 'SCIM_DATA_ACCOUNTS', value: moreDataAccounts }
        { name: 'SCIM_CHANGES_QUEUE', value: changesQueueName }
        { name: 'SCIM_SECRET_SOURCE', value: 'keyvault' }
        { name: 'SCIM_KEY_VAULT_URL', value: keyVaultUri }
        { name: 'SCIM_PUBLIC_BASE_URL', value: 'https://${name}.azurewebsites.net' }
        { name: 'SCIM_REQUIRE_EMAIL', value: requireEmail ? 'true' : 'false' }
        // OAuth2 client credentials: signing keys and client secrets are Key Vault secrets, never settings.
        { name: 'SCIM_OAUTH_TOKEN_SECONDS', value: string(oauthTokenSeconds) }
        { name: 'SCIM_OAUTH_LEEWAY_SECONDS', value: '30' }
        // The management API: Entra access tokens of this issuer and audience, with these app roles.
        { name: 'SCIM_MANAGE_ISSUER', value: manageIssuer }
        { name: 'SCIM_MANAGE_AUDIENCE', value: manageAudience }
        { name: 'SCIM_MANAGE_READ_ROLE', value: manageReadRole }
        { name: 'SCIM_MANAGE_WRITE_ROLE', value: manageWriteRole }
        // The host's own body limit (default 100 MB): a little above SCIM_MAX_BODY_BYTES (1 MiB), so larger
        // bodies are refused before they are read into memory, and those in between get the SCIM 413.
        { name: 'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT', value: '2097152' }
        // A thread per concurrent request (httpConcurrency, above). `make bench-concurrency` at 8: threads and
        // async tasks both 51 req/s; CPU ms a request: sync 9.2, the SDK's aio clients 11.6, an async port with
        // our lean $batch envelope 6.8 (aiohttp against requests): a rewrite for a fifth of the CPU, no throughput.
        // (Keep 10 or fewer, or widen requests' pool of 10 connections: past it each request may open a new one.)
        { name: 'PYTHON_THREADPOOL_THREAD_COUNT', value: string(httpConcurrency) }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostStorageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: 2048
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: (alwaysReadyInstances > 0) ? [{ name: 'http', instanceCount: alwaysReadyInstances }] : []
        triggers: {
          http: {
            // Requests per instance (httpConcurrency; Python's default is 1). `make bench-concurrency`, threads
            // 1/4/8/16/32: 15/36/51/55/58 req/s, p99 167/219/308/746/1,400 ms: the knee, 8 in 3 runs of 4 (16 once).
            // In Azure (reads ~10 ms, transactions ~20, ~9 CPU ms a PATCH) the instance's one core is busy from
            // about 4 requests on; 8 keeps it busy through slow calls, at ~75 ms a request when full.
            perInstanceConcurrency: httpConcurrency
          }
        }
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
