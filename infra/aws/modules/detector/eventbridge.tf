################################################################################
# EventBridge: one rule per pattern of event-patterns.json -> the Lambda
################################################################################

resource "aws_cloudwatch_event_rule" "this" {
  for_each = local.rule_patterns

  name           = "${var.name}-${each.key}"
  description    = "T1578 detector: CloudTrail management events, pattern ${each.key} of event-patterns.json"
  event_bus_name = var.event_bus_name
  event_pattern  = jsonencode(each.value)
  state          = "ENABLED"

  tags = var.tags

  lifecycle {
    precondition {
      condition     = length(jsonencode(each.value)) <= 4096
      error_message = "Pattern ${each.key} of event-patterns.json (plus the account filter) exceeds EventBridge's 4096-character limit: split it."
    }
  }
}

resource "aws_cloudwatch_event_target" "this" {
  for_each = aws_cloudwatch_event_rule.this

  rule           = each.value.name
  event_bus_name = var.event_bus_name
  target_id      = "t1578-lambda"
  arn            = aws_lambda_function.this.arn

  retry_policy {
    maximum_event_age_in_seconds = var.eventbridge_maximum_event_age_in_seconds
    maximum_retry_attempts       = var.eventbridge_maximum_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }
}

resource "aws_lambda_permission" "eventbridge" {
  for_each = aws_cloudwatch_event_rule.this

  statement_id   = "AllowEventBridgeRule${each.key}"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this.function_name
  principal      = "events.amazonaws.com"
  source_arn     = each.value.arn
  source_account = data.aws_caller_identity.current.account_id
}
