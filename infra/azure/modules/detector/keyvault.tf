################################################################################
# Key Vault: holds the Logic App trigger URL, read by the app through a Key Vault reference
################################################################################

resource "azurerm_key_vault" "this" {
  name                       = local.names.key_vault
  location                   = var.location
  resource_group_name        = local.resource_group_name
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  sku_name                   = "standard"
  rbac_authorization_enabled = true
  purge_protection_enabled   = true
  soft_delete_retention_days = var.key_vault_soft_delete_retention_days
  # App Service resolves Key Vault references over the public endpoint unless the app is
  # VNet-integrated, and it is not a "trusted service" for the vault firewall.
  public_network_access_enabled = true

  network_acls {
    default_action = "Allow"
    bypass         = "AzureServices"
  }

  tags = var.tags
}

resource "azurerm_role_assignment" "deployer_key_vault" {
  count = var.grant_deployer_key_vault_access ? 1 : 0

  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
}

resource "azurerm_key_vault_secret" "logic_app_url" {
  name         = "${var.name}-logic-app-trigger-url"
  key_vault_id = azurerm_key_vault.this.id
  content_type = "text/uri-list"

  # Write-only: the URL (it carries a SAS signature) is sent to Key Vault but never stored in
  # the plan or the state.
  value_wo         = var.logic_app_trigger_url
  value_wo_version = var.logic_app_trigger_url_version

  depends_on = [azurerm_role_assignment.deployer_key_vault]
}
