variable "subscription_id" {
  description = "Subscription that hosts the detector and whose Activity Log it watches."
  type        = string
}

variable "location" {
  description = "Azure region of the detector."
  type        = string
  default     = "westeurope"
}

variable "resource_group_name" {
  description = "Resource group created for the detector."
  type        = string
  default     = "rg-t1578-detector"
}

variable "function_zip_path" {
  description = "Path to the custom-handler zip built by `make build-azure`."
  type        = string
}

variable "logic_app_trigger_url" {
  description = "HTTP trigger URL of the alerting Logic App (kept out of state; stored in Key Vault only)."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "mode" {
  description = "\"shadow\" to only log would-be alerts, \"alert\" to post them to the Logic App."
  type        = string
  default     = "shadow"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = { project = "t1578-detector" }
}

variable "tuning_file" {
  description = "Path to the TOML tuning document (see README \"Tuning\"), or null for the built-in defaults."
  type        = string
  default     = null
}
