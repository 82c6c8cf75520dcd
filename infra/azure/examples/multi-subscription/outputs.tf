output "function_app_name" {
  description = "Name of the function app."
  value       = module.detector.function_app_name
}

output "resource_group_name" {
  description = "Resource group of the detector."
  value       = module.detector.resource_group_name
}

output "monitored_subscriptions" {
  description = "Map of subscription id to the id of its Activity Log diagnostic setting."
  value       = { for id, setting in module.activity_log : id => setting.diagnostic_setting_id }
}
