output "event_bus_name" {
  description = "Name of the central bus (pass it to the detector module's event_bus_name)."
  value       = local.event_bus_name
}

output "event_bus_arn" {
  description = "ARN of the central bus (pass it to account-forwarder's central_event_bus_arn)."
  value       = local.event_bus_arn
}

output "event_bus_policy" {
  description = "JSON resource policy attached to the bus."
  value       = data.aws_iam_policy_document.this.json
}
