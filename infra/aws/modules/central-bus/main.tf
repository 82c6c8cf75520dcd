# Central side of the multi-account rollout (security account): the custom bus the member
# accounts forward to, and its resource policy. Kept out of the detector module so the
# detector stays usable on the default bus of a single account.

data "aws_partition" "current" {}

data "aws_cloudwatch_event_bus" "existing" {
  count = var.create_event_bus ? 0 : 1

  name = var.event_bus_name
}

resource "aws_cloudwatch_event_bus" "this" {
  count = var.create_event_bus ? 1 : 0

  name               = var.event_bus_name
  kms_key_identifier = var.kms_key_identifier

  tags = var.tags
}

locals {
  event_bus_name = var.create_event_bus ? aws_cloudwatch_event_bus.this[0].name : data.aws_cloudwatch_event_bus.existing[0].name
  event_bus_arn  = var.create_event_bus ? aws_cloudwatch_event_bus.this[0].arn : data.aws_cloudwatch_event_bus.existing[0].arn
}

data "aws_iam_policy_document" "this" {
  dynamic "statement" {
    for_each = length(var.member_account_ids) > 0 ? [1] : []

    content {
      sid       = "AllowMemberAccountsPutEvents"
      actions   = ["events:PutEvents"]
      resources = [local.event_bus_arn]

      principals {
        type        = "AWS"
        identifiers = [for id in var.member_account_ids : "arn:${data.aws_partition.current.partition}:iam::${id}:root"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.organization_id == null ? [] : [var.organization_id]

    content {
      sid       = "AllowOrganizationPutEvents"
      actions   = ["events:PutEvents"]
      resources = [local.event_bus_arn]

      principals {
        type        = "*"
        identifiers = ["*"]
      }

      condition {
        test     = "StringEquals"
        variable = "aws:PrincipalOrgID"
        values   = [statement.value]
      }
    }
  }
}

resource "aws_cloudwatch_event_bus_policy" "this" {
  event_bus_name = local.event_bus_name
  policy         = data.aws_iam_policy_document.this.json

  lifecycle {
    precondition {
      condition     = length(var.member_account_ids) > 0 || var.organization_id != null
      error_message = "Set member_account_ids, organization_id, or both: the bus policy needs at least one allowed sender."
    }
  }
}
