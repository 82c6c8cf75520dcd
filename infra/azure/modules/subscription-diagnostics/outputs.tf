output "diagnostic_setting_id" {
  description = "Id of the subscription's diagnostic setting."
  value       = azurerm_monitor_diagnostic_setting.this.id
}

output "subscription_id" {
  description = "Subscription whose Activity Log is streamed."
  value       = var.subscription_id
}
