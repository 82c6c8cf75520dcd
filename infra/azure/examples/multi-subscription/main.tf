# The detector runs in the security subscription; every monitored subscription gets a
# diagnostic setting that streams its Activity Log to the detector's hub. Diagnostic settings
# are addressed by the full "/subscriptions/<id>" scope, so one provider (whose identity has
# Monitoring Contributor on each monitored subscription, and listkeys on the Send rule)
# configures them all with for_each - no provider alias per subscription.

provider "azurerm" {
  features {}

  subscription_id     = var.security_subscription_id
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
}

module "activity_log" {
  source   = "../../modules/subscription-diagnostics"
  for_each = toset(var.monitored_subscription_ids)

  subscription_id                = each.value
  eventhub_name                  = module.detector.eventhub_name
  eventhub_authorization_rule_id = module.detector.diagnostics_authorization_rule_id
}
