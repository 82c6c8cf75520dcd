################################################################################
# AWS's published ranges, for the sign `instance_credentials_outside_aws`
################################################################################

# An EC2 instance calls the API from its own address, a NAT gateway's or a VPC endpoint's: all
# of them AWS's or private. Its role's credentials used from anywhere else were taken off the
# machine. The ranges are fetched when the module is applied, not built into the function: AWS
# adds prefixes every week or so, and a stale copy would turn a newer range's instances into
# alerts. The function reads the copy once per cold start from its layer.

locals {
  fetch_aws_ip_ranges = var.aws_ip_ranges_url != ""
  # Where the layer's file lands in the function (layers are extracted under /opt).
  aws_ip_ranges_file = "t1578/aws-ip-ranges.json"
}

data "http" "aws_ip_ranges" {
  count = local.fetch_aws_ip_ranges ? 1 : 0

  url             = var.aws_ip_ranges_url
  request_headers = { Accept = "application/json" }

  lifecycle {
    postcondition {
      condition     = self.status_code == 200 && length(try(jsondecode(self.response_body).prefixes, [])) > 0
      error_message = "aws_ip_ranges_url did not return AWS's ip-ranges.json (HTTP 200 with a non-empty `prefixes` list)."
    }
  }
}

data "archive_file" "aws_ip_ranges" {
  count = local.fetch_aws_ip_ranges ? 1 : 0

  type        = "zip"
  output_path = "${path.root}/.terraform/t1578-${var.name}-aws-ip-ranges.zip"

  source {
    content  = data.http.aws_ip_ranges[0].response_body
    filename = local.aws_ip_ranges_file
  }
}

# A new syncToken is a new layer version, and the function moves to it on the same apply.
resource "aws_lambda_layer_version" "aws_ip_ranges" {
  count = local.fetch_aws_ip_ranges ? 1 : 0

  layer_name          = "${var.name}-aws-ip-ranges"
  description         = "AWS ip-ranges.json, syncToken ${try(jsondecode(data.http.aws_ip_ranges[0].response_body).syncToken, "unknown")}"
  filename            = data.archive_file.aws_ip_ranges[0].output_path
  source_code_hash    = data.archive_file.aws_ip_ranges[0].output_base64sha256
  compatible_runtimes = ["provided.al2023"]
}
