data "aws_caller_identity" "current" {}

locals {
  # Same patterns as the detector: by default the detector module's own file.
  event_patterns_path = coalesce(var.event_patterns_path, "${path.module}/../detector/event-patterns.json")
  event_patterns      = jsondecode(file(local.event_patterns_path))
  rule_patterns       = { for index, pattern in local.event_patterns : format("%02d", index) => pattern }
}

################################################################################
# Role EventBridge assumes to put events on the central bus
################################################################################

data "aws_iam_policy_document" "assume_role" {
  statement {
    sid     = "EventBridgeAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = "${var.name}-put-events"
  description          = "Lets EventBridge forward T1578-relevant CloudTrail events to the central bus"
  assume_role_policy   = data.aws_iam_policy_document.assume_role.json
  permissions_boundary = var.role_permissions_boundary

  tags = var.tags
}

data "aws_iam_policy_document" "put_events" {
  statement {
    sid       = "PutEventsOnCentralBus"
    actions   = ["events:PutEvents"]
    resources = [var.central_event_bus_arn]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.name}-put-events"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.put_events.json
}

################################################################################
# Rules: same patterns as the detector, target = central bus
################################################################################

resource "aws_cloudwatch_event_rule" "this" {
  for_each = local.rule_patterns

  name           = "${var.name}-${each.key}"
  description    = "Forwards T1578-relevant CloudTrail events (pattern ${each.key}) to the central bus"
  event_bus_name = var.event_bus_name
  event_pattern  = jsonencode(each.value)
  state          = "ENABLED"

  tags = var.tags

  lifecycle {
    precondition {
      condition     = length(jsonencode(each.value)) <= 4096
      error_message = "Pattern ${each.key} of event-patterns.json exceeds EventBridge's 4096-character limit: split it."
    }
  }
}

resource "aws_cloudwatch_event_target" "this" {
  for_each = aws_cloudwatch_event_rule.this

  rule           = each.value.name
  event_bus_name = var.event_bus_name
  target_id      = "t1578-central-bus"
  arn            = var.central_event_bus_arn
  role_arn       = aws_iam_role.this.arn

  dynamic "dead_letter_config" {
    for_each = var.dead_letter_queue_arn == null ? [] : [var.dead_letter_queue_arn]

    content {
      arn = dead_letter_config.value
    }
  }
}
