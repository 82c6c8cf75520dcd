data "azurerm_client_config" "current" {}

resource "azurerm_resource_group" "this" {
  count = var.create_resource_group ? 1 : 0

  name     = var.resource_group_name
  location = var.location

  tags = var.tags
}

data "azurerm_resource_group" "existing" {
  count = var.create_resource_group ? 0 : 1

  name = var.resource_group_name
}

locals {
  resource_group_name = var.create_resource_group ? azurerm_resource_group.this[0].name : data.azurerm_resource_group.existing[0].name

  # Deterministic suffix for globally unique names (storage, vault, namespace, app host name).
  suffix = substr(sha1("${data.azurerm_client_config.current.subscription_id}/${var.resource_group_name}/${var.name}"), 0, 8)

  names = {
    state_storage = "${var.name}st${local.suffix}"
    host_storage  = "${var.name}fn${local.suffix}"
    key_vault     = "${var.name}-kv-${local.suffix}"
    eventhub_ns   = "${var.name}-ehns-${local.suffix}"
    service_plan  = "${var.name}-plan-${local.suffix}"
    function_app  = "${var.name}-func-${local.suffix}"
    log_analytics = "${var.name}-log-${local.suffix}"
    app_insights  = "${var.name}-appi-${local.suffix}"
  }

  # Exactly the settings the custom handler and the Functions host read. Not listed here because
  # the resource sets them itself: FUNCTIONS_WORKER_RUNTIME (runtime_name = "custom" on Flex
  # Consumption) and APPLICATIONINSIGHTS_CONNECTION_STRING (site_config). Never set:
  # T1578_STORAGE_CONNECTION_STRING (Azurite/dev only) and any plain Logic App URL.
  app_settings = {
    AzureWebJobsStorage__accountName        = azurerm_storage_account.host.name
    ActivityLogHub__fullyQualifiedNamespace = "${azurerm_eventhub_namespace.this.name}.servicebus.windows.net"
    T1578_EVENTHUB_NAME                     = azurerm_eventhub.this.name
    T1578_EVENTHUB_CONSUMER_GROUP           = azurerm_eventhub_consumer_group.this.name
    T1578_TABLE_ENDPOINT                    = trimsuffix(azurerm_storage_account.state.primary_table_endpoint, "/")
    T1578_STATE_TABLE                       = azurerm_storage_table.state.name
    T1578_BLOB_ENDPOINT                     = trimsuffix(azurerm_storage_account.state.primary_blob_endpoint, "/")
    T1578_DEADLETTER_CONTAINER              = azurerm_storage_container.dead_letter.name
    T1578_LOGIC_APP_URL                     = "@Microsoft.KeyVault(SecretUri=${azurerm_key_vault_secret.logic_app_url.versionless_id})"
    T1578_PROFILE                           = var.profile
    T1578_WINDOW                            = var.window
    T1578_MODE                              = var.mode
    T1578_CONFIG                            = var.config_toml
    T1578_OBSERVED_SINCE                    = var.observed_since
    RUST_LOG                                = var.log_level
  }
}
