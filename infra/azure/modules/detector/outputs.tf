output "resource_group_name" {
  description = "Resource group holding the detector."
  value       = local.resource_group_name
}

output "function_app_name" {
  description = "Name of the Flex Consumption function app (for `az functionapp deployment source config-zip`)."
  value       = azurerm_function_app_flex_consumption.this.name
}

output "function_app_id" {
  description = "Resource id of the function app."
  value       = azurerm_function_app_flex_consumption.this.id
}

output "function_app_principal_id" {
  description = "Object id of the function app's system-assigned identity."
  value       = azurerm_function_app_flex_consumption.this.identity[0].principal_id
}

output "eventhub_namespace_name" {
  description = "Name of the Event Hubs namespace."
  value       = azurerm_eventhub_namespace.this.name
}

output "eventhub_name" {
  description = "Name of the hub the Activity Log is streamed to (pass it to subscription-diagnostics)."
  value       = azurerm_eventhub.this.name
}

output "eventhub_consumer_group_name" {
  description = "Consumer group the detector reads with."
  value       = azurerm_eventhub_consumer_group.this.name
}

output "diagnostics_authorization_rule_id" {
  description = "Id of the namespace-level Send-only authorization rule (pass it to subscription-diagnostics as eventhub_authorization_rule_id)."
  value       = azurerm_eventhub_namespace_authorization_rule.diagnostics_send.id
}

output "state_storage_account_name" {
  description = "Name of the storage account holding the state table."
  value       = azurerm_storage_account.state.name
}

output "state_table_name" {
  description = "Name of the state table (T1578_STATE_TABLE)."
  value       = azurerm_storage_table.state.name
}

output "state_table_endpoint" {
  description = "Table service endpoint of the state account (T1578_TABLE_ENDPOINT)."
  value       = trimsuffix(azurerm_storage_account.state.primary_table_endpoint, "/")
}

output "host_storage_account_name" {
  description = "Name of the Functions host storage account (AzureWebJobsStorage__accountName)."
  value       = azurerm_storage_account.host.name
}

output "key_vault_id" {
  description = "Resource id of the Key Vault."
  value       = azurerm_key_vault.this.id
}

output "logic_app_url_secret_id" {
  description = "Versionless id of the Key Vault secret holding the Logic App URL (the id, not the URL)."
  value       = azurerm_key_vault_secret.logic_app_url.versionless_id
}

output "application_insights_id" {
  description = "Resource id of the Application Insights component."
  value       = azurerm_application_insights.this.id
}
