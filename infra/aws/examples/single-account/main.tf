provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}

module "detector" {
  source = "../../modules/detector"

  name            = var.name
  lambda_zip_path = var.lambda_zip_path
  architecture    = var.architecture
  mode            = var.mode
  # The tuning file the team backtests with `t1578 replay --config` on last month's logs.
  config_toml = var.tuning_file == null ? "" : file(var.tuning_file)

  sns_subscriptions = var.alert_email == null ? [] : [{ protocol = "email", endpoint = var.alert_email }]
}
