################################################################################
# General
################################################################################

variable "name" {
  description = "Short prefix of every resource name (lowercase letters and digits, 2-10 characters). Globally unique names get a deterministic 8-character suffix."
  type        = string
  default     = "t1578"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.name))
    error_message = "The name must be 2-10 lowercase letters or digits, starting with a letter (it is embedded in storage account names)."
  }
}

variable "location" {
  description = "Azure region of all resources. The subscriptions' Activity Log can be exported to an Event Hub in any region."
  type        = string
}

variable "resource_group_name" {
  description = "Name of the resource group holding the detector."
  type        = string
}

variable "create_resource_group" {
  description = "Whether to create the resource group (true) or use an existing one named resource_group_name (false)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource that supports them."
  type        = map(string)
  default     = {}
}

################################################################################
# Function app (Flex Consumption, custom handler)
################################################################################

variable "function_zip_path" {
  description = "Path to the custom-handler zip built by `make build-azure` (handler binary, host.json, <Function>/function.json)."
  type        = string
}

variable "deploy_package" {
  description = "Whether Terraform deploys function_zip_path with the Azure CLI (`az functionapp deployment source config-zip`, Entra ID auth) after every change. Needs `az` logged in on the machine running Terraform; false leaves deployment to you."
  type        = bool
  default     = true
}

variable "custom_runtime_version" {
  description = "Runtime version of the Flex Consumption \"custom\" stack (see `az functionapp list-flexconsumption-runtimes`)."
  type        = string
  default     = "1.0"
}

variable "maximum_instance_count" {
  description = "Maximum number of Flex Consumption instances (40-1000); Event Hubs scaling never exceeds one instance per partition."
  type        = number
  default     = 40
}

variable "instance_memory_in_mb" {
  description = "Memory of a Flex Consumption instance: 512, 2048 or 4096 MB."
  type        = number
  default     = 2048

  validation {
    condition     = contains([512, 2048, 4096], var.instance_memory_in_mb)
    error_message = "The instance memory must be 512, 2048 or 4096."
  }
}

variable "function_public_network_access_enabled" {
  description = "Whether the function app's endpoints (including the SCM/deployment endpoint) are reachable publicly. The Event Hub trigger does not need inbound access, but deploying without a private network does."
  type        = bool
  default     = true
}

################################################################################
# Detector settings (app settings read by the handler)
################################################################################

variable "mode" {
  description = "T1578_MODE: \"alert\" posts alerts to the Logic App; \"shadow\" scores and records state but only logs what it would have alerted on."
  type        = string
  default     = "alert"

  validation {
    condition     = contains(["alert", "shadow"], var.mode)
    error_message = "The mode must be \"alert\" or \"shadow\"."
  }
}

variable "profile" {
  description = "T1578_PROFILE: scoring profile of the operations catalog, \"default\" or \"seed-kql\"."
  type        = string
  default     = "default"

  validation {
    condition     = contains(["default", "seed-kql"], var.profile)
    error_message = "The profile must be \"default\" or \"seed-kql\"."
  }
}

variable "window" {
  description = "T1578_WINDOW: length of the rolling per-principal scoring window, e.g. \"24h\", \"90m\", \"7d\"."
  type        = string
  default     = "24h"

  validation {
    condition     = can(regex("^[1-9][0-9]*[smhd]$", var.window))
    error_message = "The window must be a positive integer followed by s, m, h or d (e.g. \"24h\")."
  }
}

variable "config_toml" {
  description = "T1578_CONFIG: the TOML tuning document (allowlists, change windows, IaC user agents, unfamiliar IPs, per-subscription mode, overrides; see README \"Tuning\"), usually file(\"tuning.toml\"): the same file `t1578 replay --config` reads. Empty uses the built-in defaults."
  type        = string
  default     = ""
}

variable "observed_since" {
  description = "T1578_OBSERVED_SINCE: when the detector started seeing the subscriptions, for the baselines' learning period. \"first\" (the default) records each subscription's first event in the state table, so principals first seen in the first min_history_days (3) are learned instead of meeting the seed's thresholds as new ones: without it, a cold start alerts for about half the principals on its first day (BENCHMARKS, issue 11). A date (YYYY-MM-DD) or RFC 3339 time gives the start instead; empty turns the learning period off. A tuning document's baseline.observed_since wins for the accounts it names."
  type        = string
  default     = "first"

  validation {
    condition     = var.observed_since == "" || var.observed_since == "first" || can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}($|T)", var.observed_since))
    error_message = "observed_since must be \"first\", a date (YYYY-MM-DD), an RFC 3339 time, or empty."
  }
}

variable "log_level" {
  description = "RUST_LOG of the handler (a tracing-subscriber EnvFilter, e.g. \"info\")."
  type        = string
  default     = "info"
}

variable "logic_app_trigger_url" {
  description = "HTTP trigger URL (with SAS signature) of the alerting Logic App. Stored only in Key Vault (write-only, never in state); the function reads it through a Key Vault reference."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "logic_app_trigger_url_version" {
  description = "Increment to write a new value of logic_app_trigger_url to Key Vault (write-only arguments are not compared)."
  type        = number
  default     = 1
}

################################################################################
# State storage
################################################################################

variable "dead_letter_container_name" {
  description = "Blob container in the state account for parked records (T1578_DEADLETTER_CONTAINER)."
  type        = string
  default     = "t1578-deadletter"

  validation {
    condition     = can(regex("^[a-z0-9](-?[a-z0-9])+$", var.dead_letter_container_name)) && length(var.dead_letter_container_name) <= 63
    error_message = "A container name is 3-63 lowercase letters, digits and single hyphens."
  }
}

variable "state_table_name" {
  description = "Name of the Table Storage table holding the rolling state (T1578_STATE_TABLE)."
  type        = string
  default     = "t1578state"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9]{2,62}$", var.state_table_name))
    error_message = "A table name is 3-63 letters or digits and starts with a letter."
  }
}

variable "storage_replication_type" {
  description = "Replication of the state and host storage accounts (GRS, RAGRS, GZRS, RAGZRS, ZRS or LRS)."
  type        = string
  default     = "GRS"
}

variable "blob_soft_delete_retention_days" {
  description = "Soft-delete retention for blobs and containers of both storage accounts, in days."
  type        = number
  default     = 7
}

################################################################################
# Event Hubs
################################################################################

variable "eventhub_name" {
  description = "Name of the hub the subscriptions' Activity Log is streamed to."
  type        = string
  default     = "insights-activity-logs"
}

variable "eventhub_consumer_group_name" {
  description = "Dedicated consumer group of the detector (T1578_EVENTHUB_CONSUMER_GROUP)."
  type        = string
  default     = "t1578"
}

variable "eventhub_partition_count" {
  description = "Partitions of the hub (1-32 on Standard); bounds the function's parallelism. Cannot be changed later on Standard."
  type        = number
  default     = 4
}

variable "eventhub_message_retention_days" {
  description = "Days events stay in the hub (1-7 on Standard): how long the detector can be down without losing Activity Log records."
  type        = number
  default     = 7
}

variable "eventhub_capacity" {
  description = "Throughput units of the Standard namespace."
  type        = number
  default     = 1
}

variable "eventhub_local_authentication_enabled" {
  description = "Whether the namespace accepts SAS keys. False (Entra ID only) per policy; the diagnostic settings still reference the Send-only rule. If Activity Log records never arrive, set true (MicrosoftDocs/azure-docs#119932 reports that streaming needs local auth)."
  type        = bool
  default     = false
}

################################################################################
# Key Vault, monitoring
################################################################################

variable "key_vault_soft_delete_retention_days" {
  description = "Soft-delete retention of the Key Vault, in days (7-90)."
  type        = number
  default     = 90
}

variable "grant_deployer_key_vault_access" {
  description = "Whether to give the identity running Terraform \"Key Vault Secrets Officer\" on the vault so it can write the Logic App URL secret."
  type        = bool
  default     = true
}

variable "log_analytics_retention_in_days" {
  description = "Retention of the Log Analytics workspace behind Application Insights, in days."
  type        = number
  default     = 90
}
