variable "subscription_id" {
  description = "Id (GUID) of the subscription whose Activity Log is streamed to the detector's hub."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.subscription_id))
    error_message = "The subscription_id must be a GUID."
  }
}

variable "name" {
  description = "Name of the diagnostic setting on the subscription."
  type        = string
  default     = "t1578-activity-log"
}

variable "eventhub_name" {
  description = "Hub receiving the Activity Log (detector output eventhub_name)."
  type        = string
}

variable "eventhub_authorization_rule_id" {
  description = "Namespace-level Send-only authorization rule id (detector output diagnostics_authorization_rule_id)."
  type        = string
}

variable "log_categories" {
  description = "Activity Log categories to stream. The detector needs Administrative (create/update/delete/action operations); others only add volume."
  type        = list(string)
  default     = ["Administrative"]

  validation {
    condition     = contains(var.log_categories, "Administrative")
    error_message = "The Administrative category must be enabled: it carries the compute write/delete/action operations."
  }
}
