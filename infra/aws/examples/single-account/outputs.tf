output "lambda_function_name" {
  description = "Name of the detector Lambda (for `aws logs tail /aws/lambda/<name>`)."
  value       = module.detector.lambda_function_name
}

output "alert_topic_arn" {
  description = "ARN of the SNS alert topic."
  value       = module.detector.alert_topic_arn
}

output "state_table_name" {
  description = "Name of the DynamoDB state table."
  value       = module.detector.state_table_name
}

output "dlq_url" {
  description = "URL of the dead-letter queue to inspect failed events."
  value       = module.detector.dlq_url
}
