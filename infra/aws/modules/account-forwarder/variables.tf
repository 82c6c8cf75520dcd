variable "name" {
  description = "Prefix of the forwarding rules and of the IAM role."
  type        = string
  default     = "t1578-forwarder"

  validation {
    condition     = can(regex("^[A-Za-z0-9-_]{1,48}$", var.name))
    error_message = "The name must be 1-48 characters of letters, digits, '-' and '_'."
  }
}

variable "central_event_bus_arn" {
  description = "ARN of the central event bus (in the security account) that receives the forwarded events."
  type        = string

  validation {
    condition     = can(regex("^arn:[^:]+:events:[^:]+:[0-9]{12}:event-bus/.+$", var.central_event_bus_arn))
    error_message = "The central_event_bus_arn must be an EventBridge event bus ARN."
  }
}

variable "event_bus_name" {
  description = "Bus of this (member) account the forwarding rules listen on; CloudTrail events arrive on \"default\"."
  type        = string
  default     = "default"
}

variable "event_patterns_path" {
  description = "Path of the JSON array of event patterns. Null uses the detector module's event-patterns.json, so both sides always match the same events."
  type        = string
  default     = null
}

variable "dead_letter_queue_arn" {
  description = "ARN of an SQS queue in this account for events that could not be forwarded, or null for none."
  type        = string
  default     = null
}

variable "role_permissions_boundary" {
  description = "ARN of an IAM permissions boundary attached to the forwarding role, or null for none."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource that supports them."
  type        = map(string)
  default     = {}
}
