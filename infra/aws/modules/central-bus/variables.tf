variable "event_bus_name" {
  description = "Name of the central event bus in the security account."
  type        = string
  default     = "t1578-central"
}

variable "create_event_bus" {
  description = "Whether to create the bus. False attaches the policy to an existing bus named event_bus_name."
  type        = bool
  default     = true
}

variable "member_account_ids" {
  description = "Account ids allowed to put events on the bus. Combine with or replace by organization_id."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.member_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "Every member account id must be 12 digits."
  }
}

variable "organization_id" {
  description = "AWS Organizations id (o-...). When set, any principal of the organization may put events on the bus (condition aws:PrincipalOrgID)."
  type        = string
  default     = null

  validation {
    condition     = var.organization_id == null || can(regex("^o-[a-z0-9]{10,32}$", var.organization_id))
    error_message = "The organization_id must look like o-xxxxxxxxxx."
  }
}

variable "kms_key_identifier" {
  description = "KMS key (ARN, id or alias) encrypting events on the bus, or null for an AWS owned key."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to the bus."
  type        = map(string)
  default     = {}
}
