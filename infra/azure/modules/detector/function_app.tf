################################################################################
# Function app
#
# Hosting plan: Flex Consumption (FC1, azurerm_function_app_flex_consumption), not Linux
# Consumption (Y1). Reasons:
#   * Y1 on Linux is being retired (30 Sep 2028) and gets no new features; Flex is the
#     serverless plan Microsoft recommends, and it supports custom handlers (runtime "custom").
#   * Y1 on Linux can only run from a package URL, and `az functionapp deployment source
#     config-zip` / `func publish` upload that package with the AzureWebJobsStorage *connection
#     string*, i.e. with storage account keys. Flex deploys into a blob container with the app's
#     managed identity, so both storage accounts keep shared keys disabled.
#   * Flex scales per function on Event Hub partitions, has per-instance memory choice and
#     optional VNet integration if the storage/vault firewalls are tightened later.
# Known provider issue (hashicorp/terraform-provider-azurerm#29693): with an identity-based
# storage_authentication_type the provider still injects an `AzureWebJobsStorage` connection
# string with an empty AccountKey on every create/update, which the host prefers over
# AzureWebJobsStorage__accountName. terraform_data.deploy below deletes it after each change.
################################################################################

resource "azurerm_service_plan" "this" {
  name                = local.names.service_plan
  location            = var.location
  resource_group_name = local.resource_group_name
  os_type             = "Linux"
  sku_name            = "FC1"

  tags = var.tags
}

resource "azurerm_function_app_flex_consumption" "this" {
  name                = local.names.function_app
  location            = var.location
  resource_group_name = local.resource_group_name
  service_plan_id     = azurerm_service_plan.this.id

  storage_container_type      = "blobContainer"
  storage_container_endpoint  = "${azurerm_storage_account.host.primary_blob_endpoint}${azurerm_storage_container.deployment.name}"
  storage_authentication_type = "SystemAssignedIdentity"

  # Custom handler: the platform sets FUNCTIONS_WORKER_RUNTIME=custom from runtime_name.
  runtime_name           = "custom"
  runtime_version        = var.custom_runtime_version
  maximum_instance_count = var.maximum_instance_count
  instance_memory_in_mb  = var.instance_memory_in_mb

  https_only                                     = true
  public_network_access_enabled                  = var.function_public_network_access_enabled
  webdeploy_publish_basic_authentication_enabled = false

  identity {
    type = "SystemAssigned"
  }

  site_config {
    # Written by the provider as the APPLICATIONINSIGHTS_CONNECTION_STRING app setting.
    application_insights_connection_string = azurerm_application_insights.this.connection_string
  }

  app_settings = local.app_settings

  tags = var.tags
}

################################################################################
# Role assignments of the app's system-assigned identity (each scoped to one resource)
################################################################################

resource "azurerm_role_assignment" "state_table" {
  scope                = azurerm_storage_account.state.id
  role_definition_name = "Storage Table Data Contributor"
  principal_id         = azurerm_function_app_flex_consumption.this.identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

# Write parked records, in the dead-letter container only (not the account: least privilege).
resource "azurerm_role_assignment" "dead_letter" {
  scope                = "${azurerm_storage_account.state.id}/blobServices/default/containers/${azurerm_storage_container.dead_letter.name}"
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_function_app_flex_consumption.this.identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

# AzureWebJobsStorage__accountName: host leases, Event Hubs checkpoints, deployment container.
resource "azurerm_role_assignment" "host_storage" {
  scope                = azurerm_storage_account.host.id
  role_definition_name = "Storage Blob Data Owner"
  principal_id         = azurerm_function_app_flex_consumption.this.identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

# ActivityLogHub__fullyQualifiedNamespace: the Event Hub trigger and the scale controller.
resource "azurerm_role_assignment" "eventhub_receiver" {
  scope                = azurerm_eventhub.this.id
  role_definition_name = "Azure Event Hubs Data Receiver"
  principal_id         = azurerm_function_app_flex_consumption.this.identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

# Resolves the T1578_LOGIC_APP_URL Key Vault reference.
resource "azurerm_role_assignment" "key_vault_secrets_user" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_function_app_flex_consumption.this.identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

################################################################################
# Package deployment (Entra ID auth; basic publishing credentials stay disabled)
################################################################################

resource "terraform_data" "deploy" {
  count = var.deploy_package ? 1 : 0

  # Re-run after any change that makes the provider rewrite the app settings (see issue above),
  # and whenever the package changes.
  triggers_replace = {
    package  = filesha256(var.function_zip_path)
    app_id   = azurerm_function_app_flex_consumption.this.id
    settings = sha256(jsonencode(local.app_settings))
    site     = sha256(jsonencode([var.tags, var.maximum_instance_count, var.instance_memory_in_mb, var.custom_runtime_version, var.function_public_network_access_enabled]))
  }

  provisioner "local-exec" {
    interpreter = ["/bin/bash", "-c"]
    command     = <<-EOT
      set -euo pipefail
      az functionapp config appsettings delete --resource-group "$RG" --name "$APP" \
        --setting-names AzureWebJobsStorage --output none
      az functionapp deployment source config-zip --resource-group "$RG" --name "$APP" \
        --src "$PACKAGE" --output none
    EOT

    environment = {
      RG      = local.resource_group_name
      APP     = azurerm_function_app_flex_consumption.this.name
      PACKAGE = abspath(var.function_zip_path)
    }
  }

  depends_on = [
    azurerm_role_assignment.state_table,
    azurerm_role_assignment.dead_letter,
    azurerm_role_assignment.host_storage,
    azurerm_role_assignment.eventhub_receiver,
    azurerm_role_assignment.key_vault_secrets_user,
  ]
}
