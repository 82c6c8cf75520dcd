data "aws_caller_identity" "current" {}

locals {
  table_name = coalesce(var.dynamodb_table_name, "${var.name}-state")

  # The EventBridge patterns are data owned by the Rust catalog: `t1578 event-pattern` writes
  # event-patterns.json (a JSON array of patterns, one rule each, each <= 4096 characters).
  event_patterns = jsondecode(file("${path.module}/event-patterns.json"))

  # Rule key "00", "01", ... -> pattern; with source_account_ids set, an `account` filter is added.
  rule_patterns = {
    for index, pattern in local.event_patterns :
    format("%02d", index) => length(var.source_account_ids) > 0 ? merge(pattern, { account = var.source_account_ids }) : pattern
  }

  sns_kms_master_key_id = coalesce(var.sns_kms_master_key_id, var.kms_key_arn, "alias/aws/sns")

  # Customer managed keys the function encrypts/decrypts with (table, DLQ, environment, topic).
  # Aliases cannot be used as IAM resources, so only key ARNs are listed.
  kms_key_arns = distinct(compact([
    var.kms_key_arn,
    can(regex("^arn:[^:]+:kms:[^:]+:[0-9]{12}:key/", local.sns_kms_master_key_id)) ? local.sns_kms_master_key_id : null,
  ]))

  alarm_actions = var.alarm_actions != null ? var.alarm_actions : [aws_sns_topic.this.arn]
}

################################################################################
# Lambda function
################################################################################

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.cloudwatch_logs_kms_key_arn

  tags = var.tags
}

resource "aws_lambda_function" "this" {
  function_name = var.name
  description   = "MITRE ATT&CK T1578 (Modify Cloud Compute Infrastructure) detector"
  role          = aws_iam_role.this.arn

  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]

  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions
  kms_key_arn                    = var.kms_key_arn

  tracing_config {
    mode = "Active"
  }

  # AWS's published ranges (ranges.tf), when the module fetches them.
  layers = aws_lambda_layer_version.aws_ip_ranges[*].arn

  # Exactly the variables the function's Config::from_env() reads.
  environment {
    variables = {
      T1578_STATE_TABLE     = aws_dynamodb_table.this.name
      T1578_ALERT_TOPIC_ARN = aws_sns_topic.this.arn
      T1578_PROFILE         = var.profile
      T1578_WINDOW          = var.window
      T1578_MODE            = var.mode
      T1578_CONFIG          = var.config_toml
      T1578_OBSERVED_SINCE  = var.observed_since
      T1578_AWS_IP_RANGES   = local.fetch_aws_ip_ranges ? "/opt/${local.aws_ip_ranges_file}" : ""
      RUST_LOG              = var.log_level
    }
  }

  tags = var.tags

  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.this,
  ]
}

# EventBridge invokes the function asynchronously: bounded retries, then the DLQ.
resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_event_age_in_seconds = var.lambda_maximum_event_age_in_seconds
  maximum_retry_attempts       = var.lambda_maximum_retry_attempts

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq.arn
    }
  }
}
