################################################################################
# Event Hubs: the subscriptions' Activity Log arrives here
################################################################################

resource "azurerm_eventhub_namespace" "this" {
  name                          = local.names.eventhub_ns
  location                      = var.location
  resource_group_name           = local.resource_group_name
  sku                           = "Standard"
  capacity                      = var.eventhub_capacity
  minimum_tls_version           = "1.2"
  local_authentication_enabled  = var.eventhub_local_authentication_enabled
  public_network_access_enabled = true

  tags = var.tags
}

resource "azurerm_eventhub" "this" {
  name              = var.eventhub_name
  namespace_id      = azurerm_eventhub_namespace.this.id
  partition_count   = var.eventhub_partition_count
  message_retention = var.eventhub_message_retention_days
}

resource "azurerm_eventhub_consumer_group" "this" {
  name                = var.eventhub_consumer_group_name
  namespace_name      = azurerm_eventhub_namespace.this.name
  eventhub_name       = azurerm_eventhub.this.name
  resource_group_name = local.resource_group_name
}

# Referenced by every subscription's diagnostic setting (modules/subscription-diagnostics).
# Send only: a diagnostic setting that names its hub does not need Manage.
resource "azurerm_eventhub_namespace_authorization_rule" "diagnostics_send" {
  name                = "${var.name}-activity-log-send"
  namespace_name      = azurerm_eventhub_namespace.this.name
  resource_group_name = local.resource_group_name
  listen              = false
  send                = true
  manage              = false
}
