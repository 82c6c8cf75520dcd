output "central_event_bus_arn" {
  description = "ARN of the central bus in the security account."
  value       = module.central_bus.event_bus_arn
}

output "lambda_function_name" {
  description = "Name of the detector Lambda in the security account."
  value       = module.detector.lambda_function_name
}

output "alert_topic_arn" {
  description = "ARN of the SNS alert topic."
  value       = module.detector.alert_topic_arn
}

output "forwarder_role_arns" {
  description = "Map of account id to the ARN of its forwarding role."
  value = {
    (module.forwarder_security.account_id) = module.forwarder_security.role_arn
    (module.forwarder_member_a.account_id) = module.forwarder_member_a.role_arn
    (module.forwarder_member_b.account_id) = module.forwarder_member_b.role_arn
  }
}
