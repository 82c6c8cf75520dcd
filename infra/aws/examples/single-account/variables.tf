variable "region" {
  description = "AWS region to deploy the detector in (CloudTrail events arrive on the default bus of the region where the API call happened)."
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
  description = "\"shadow\" to only log would-be alerts, \"alert\" to publish them."
  type        = string
  default     = "shadow"
}

variable "alert_email" {
  description = "E-mail address subscribed to the alert topic, or null for no subscription."
  type        = string
  default     = null
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
