################################################################################
# Alert topic
################################################################################

resource "aws_sns_topic" "this" {
  name              = "${var.name}-alerts"
  kms_master_key_id = local.sns_kms_master_key_id

  tags = var.tags
}

resource "aws_sns_topic_subscription" "this" {
  for_each = { for subscription in var.sns_subscriptions : "${subscription.protocol}:${subscription.endpoint}" => subscription }

  topic_arn = aws_sns_topic.this.arn
  protocol  = each.value.protocol
  endpoint  = each.value.endpoint
  # Every alert carries the message attribute `activity`: create (a new finding) or update.
  filter_policy = each.value.new_findings_only ? jsonencode({ activity = ["create"] }) : null
}
