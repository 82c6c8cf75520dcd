# One diagnostic setting per subscription. The target is addressed by its full id, so a single
# azurerm provider can configure any subscription the caller may write diagnostic settings on
# (Monitoring Contributor) - no provider alias per subscription is needed.

resource "azurerm_monitor_diagnostic_setting" "this" {
  name                           = var.name
  target_resource_id             = "/subscriptions/${var.subscription_id}"
  eventhub_name                  = var.eventhub_name
  eventhub_authorization_rule_id = var.eventhub_authorization_rule_id

  dynamic "enabled_log" {
    for_each = toset(var.log_categories)

    content {
      category = enabled_log.value
    }
  }
}
