################################################################################
# Application Insights (workspace-based)
################################################################################

resource "azurerm_log_analytics_workspace" "this" {
  name                = local.names.log_analytics
  location            = var.location
  resource_group_name = local.resource_group_name
  sku                 = "PerGB2018"
  retention_in_days   = var.log_analytics_retention_in_days

  tags = var.tags
}

resource "azurerm_application_insights" "this" {
  name                = local.names.app_insights
  location            = var.location
  resource_group_name = local.resource_group_name
  workspace_id        = azurerm_log_analytics_workspace.this.id
  application_type    = "other"

  tags = var.tags
}
