################################################################################
# State storage account + table (rolling per-principal state)
################################################################################

resource "azurerm_storage_account" "state" {
  name                     = local.names.state_storage
  resource_group_name      = local.resource_group_name
  location                 = var.location
  account_kind             = "StorageV2"
  account_tier             = "Standard"
  account_replication_type = var.storage_replication_type

  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  infrastructure_encryption_enabled = true
  cross_tenant_replication_enabled  = false
  local_user_enabled                = false
  # No VNet in this design: the function reaches storage over its public endpoint, with Entra ID only.
  public_network_access_enabled = true

  blob_properties {
    delete_retention_policy {
      days = var.blob_soft_delete_retention_days
    }

    container_delete_retention_policy {
      days = var.blob_soft_delete_retention_days
    }
  }

  sas_policy {
    expiration_period = "00.01:00:00"
  }

  tags = var.tags
}

resource "azurerm_storage_table" "state" {
  name               = var.state_table_name
  storage_account_id = azurerm_storage_account.state.id
}

# Dead letters: records the function could not process (malformed, refused by the store or the
# Logic App, or still failing when the retry policy gives up), parked with reason and position.
# `t1578 replay` reads the downloaded blobs back to redrive them.
resource "azurerm_storage_container" "dead_letter" {
  name                  = var.dead_letter_container_name
  storage_account_id    = azurerm_storage_account.state.id
  container_access_type = "private"
}

################################################################################
# Host storage account (AzureWebJobsStorage: leases, Event Hubs checkpoints, deployment package)
################################################################################

resource "azurerm_storage_account" "host" {
  name                     = local.names.host_storage
  resource_group_name      = local.resource_group_name
  location                 = var.location
  account_kind             = "StorageV2"
  account_tier             = "Standard"
  account_replication_type = var.storage_replication_type

  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  infrastructure_encryption_enabled = true
  cross_tenant_replication_enabled  = false
  local_user_enabled                = false
  public_network_access_enabled     = true

  blob_properties {
    delete_retention_policy {
      days = var.blob_soft_delete_retention_days
    }

    container_delete_retention_policy {
      days = var.blob_soft_delete_retention_days
    }
  }

  sas_policy {
    expiration_period = "00.01:00:00"
  }

  tags = var.tags
}

# Flex Consumption deployment container (the app pulls its package from here with its identity).
resource "azurerm_storage_container" "deployment" {
  name                  = "app-package"
  storage_account_id    = azurerm_storage_account.host.id
  container_access_type = "private"
}
