output "lambda_function_arn" {
  description = "ARN of the detector Lambda function."
  value       = aws_lambda_function.this.arn
}

output "lambda_function_name" {
  description = "Name of the detector Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "lambda_role_arn" {
  description = "ARN of the Lambda execution role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "Name of the function's CloudWatch log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "state_table_name" {
  description = "Name of the DynamoDB state table (T1578_STATE_TABLE)."
  value       = aws_dynamodb_table.this.name
}

output "state_table_arn" {
  description = "ARN of the DynamoDB state table."
  value       = aws_dynamodb_table.this.arn
}

output "alert_topic_arn" {
  description = "ARN of the SNS alert topic (T1578_ALERT_TOPIC_ARN)."
  value       = aws_sns_topic.this.arn
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue (EventBridge target DLQ and Lambda on-failure destination)."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.id
}

output "event_rule_arns" {
  description = "Map of rule key (\"00\", \"01\", ...) to EventBridge rule ARN, one rule per pattern of event-patterns.json."
  value       = { for key, rule in aws_cloudwatch_event_rule.this : key => rule.arn }
}

output "event_bus_name" {
  description = "Event bus the rules were created on."
  value       = var.event_bus_name
}

output "alarm_arns" {
  description = "ARNs of the CloudWatch alarms (empty when create_alarms is false)."
  value       = concat(aws_cloudwatch_metric_alarm.lambda_errors[*].arn, aws_cloudwatch_metric_alarm.dlq_messages[*].arn)
}
