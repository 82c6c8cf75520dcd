# Security account (default provider) runs the detector on a custom central bus; every member
# account forwards the same CloudTrail events to that bus. Terraform cannot iterate over
# providers, so each member account is one provider alias plus one module block: copy the
# member_b pair to add accounts.

provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}

provider "aws" {
  alias  = "member_a"
  region = var.region

  assume_role {
    role_arn = var.member_a_role_arn
  }

  default_tags {
    tags = var.tags
  }
}

provider "aws" {
  alias  = "member_b"
  region = var.region

  assume_role {
    role_arn = var.member_b_role_arn
  }

  default_tags {
    tags = var.tags
  }
}

data "aws_caller_identity" "security" {}

locals {
  member_account_ids = [var.member_a_account_id, var.member_b_account_id]
}

################################################################################
# Security account
################################################################################

module "central_bus" {
  source = "../../modules/central-bus"

  event_bus_name     = "${var.name}-central"
  member_account_ids = local.member_account_ids
  organization_id    = var.organization_id
}

module "detector" {
  source = "../../modules/detector"

  name            = var.name
  lambda_zip_path = var.lambda_zip_path
  architecture    = var.architecture
  mode            = var.mode
  event_bus_name  = module.central_bus.event_bus_name

  # Only accept events that originate in the accounts of this rollout.
  source_account_ids = concat([data.aws_caller_identity.security.account_id], local.member_account_ids)

  sns_subscriptions = var.alert_email == null ? [] : [{ protocol = "email", endpoint = var.alert_email }]

  # The rollout's accounts and organization are the organization's own: a snapshot or AMI
  # shared to one (a backup or DR account, the workload accounts of an image pipeline) is
  # evidence, not a critical; a share anywhere else still is (README, Tuning: own_accounts).
  config_toml = "own_accounts = ${jsonencode(compact(concat([data.aws_caller_identity.security.account_id], local.member_account_ids, [var.organization_id])))}\n"
}

# The security account's own API calls land on its default bus: forward them too.
module "forwarder_security" {
  source = "../../modules/account-forwarder"

  central_event_bus_arn = module.central_bus.event_bus_arn
}

################################################################################
# Member accounts
################################################################################

module "forwarder_member_a" {
  source = "../../modules/account-forwarder"

  providers = {
    aws = aws.member_a
  }

  central_event_bus_arn = module.central_bus.event_bus_arn
}

module "forwarder_member_b" {
  source = "../../modules/account-forwarder"

  providers = {
    aws = aws.member_b
  }

  central_event_bus_arn = module.central_bus.event_bus_arn
}
