variable "region" {
  description = "Region of the rollout. EventBridge cross-account forwarding is per region: repeat the deployment for every region you monitor."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the detector (Lambda function name and resource prefix)."
  type        = string
  default     = "t1578-detector"
}

variable "lambda_zip_path" {
  description = "Path to the Lambda zip built by `make build-aws`."
  type        = string
}

variable "architecture" {
  description = "Architecture the zip was built for: \"x86_64\" or \"arm64\"."
  type        = string
  default     = "x86_64"
}

variable "mode" {
  description = "\"shadow\" during the rollout, \"alert\" once the noise has been tuned."
  type        = string
  default     = "shadow"
}

variable "alert_email" {
  description = "E-mail address subscribed to the alert topic, or null for no subscription."
  type        = string
  default     = null
}

variable "member_a_account_id" {
  description = "Account id of member account A."
  type        = string
}

variable "member_a_role_arn" {
  description = "Role Terraform assumes in member account A (e.g. arn:aws:iam::111111111111:role/OrganizationAccountAccessRole)."
  type        = string
}

variable "member_b_account_id" {
  description = "Account id of member account B."
  type        = string
}

variable "member_b_role_arn" {
  description = "Role Terraform assumes in member account B."
  type        = string
}

variable "organization_id" {
  description = "Optional AWS Organizations id; when set, the whole organization may put events on the central bus (in addition to the listed accounts)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = { project = "t1578-detector" }
}
