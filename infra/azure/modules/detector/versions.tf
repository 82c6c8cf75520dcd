terraform {
  # 1.11: write-only `value_wo` keeps the Logic App URL out of plan and state.
  required_version = ">= 1.11.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 4.50.0, < 5.0.0"
    }
  }
}
