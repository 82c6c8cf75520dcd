output "role_arn" {
  description = "ARN of the role EventBridge uses to put events on the central bus (allowed only events:PutEvents on it)."
  value       = aws_iam_role.this.arn
}

output "event_rule_arns" {
  description = "Map of rule key (\"00\", \"01\", ...) to forwarding rule ARN."
  value       = { for key, rule in aws_cloudwatch_event_rule.this : key => rule.arn }
}

output "account_id" {
  description = "Account the forwarding rules were created in."
  value       = data.aws_caller_identity.current.account_id
}
