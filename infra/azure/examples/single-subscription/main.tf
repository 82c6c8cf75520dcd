provider "azurerm" {
  features {}

  subscription_id = var.subscription_id
  # Both storage accounts have shared keys disabled: data-plane calls must use Entra ID.
  storage_use_azuread = true
}

module "detector" {
  source = "../../modules/detector"

  location              = var.location
  resource_group_name   = var.resource_group_name
  function_zip_path     = var.function_zip_path
  logic_app_trigger_url = var.logic_app_trigger_url
  mode                  = var.mode
  tags                  = var.tags
  # The tuning file the team backtests with `t1578 replay --config` on last month's logs.
  config_toml = var.tuning_file == null ? "" : file(var.tuning_file)
}

module "activity_log" {
  source = "../../modules/subscription-diagnostics"

  subscription_id                = var.subscription_id
  eventhub_name                  = module.detector.eventhub_name
  eventhub_authorization_rule_id = module.detector.diagnostics_authorization_rule_id
}
