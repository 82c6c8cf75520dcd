output "function_app_name" {
  description = "Name of the function app."
  value       = module.detector.function_app_name
}

output "resource_group_name" {
  description = "Resource group of the detector."
  value       = module.detector.resource_group_name
}

output "eventhub_namespace_name" {
  description = "Event Hubs namespace receiving the Activity Log."
  value       = module.detector.eventhub_namespace_name
}

output "state_table_endpoint" {
  description = "Table endpoint of the state storage account."
  value       = module.detector.state_table_endpoint
}
