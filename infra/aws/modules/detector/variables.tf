################################################################################
# General
################################################################################

variable "name" {
  description = "Name of the detector. Used for the Lambda function and as the prefix of every other resource name."
  type        = string
  default     = "t1578-detector"

  validation {
    condition     = can(regex("^[A-Za-z0-9-_]{1,48}$", var.name))
    error_message = "The name must be 1-48 characters of letters, digits, '-' and '_' (it prefixes queue, rule and alarm names)."
  }
}

variable "tags" {
  description = "Tags added to every resource that supports them."
  type        = map(string)
  default     = {}
}

################################################################################
# Function
################################################################################

variable "lambda_zip_path" {
  description = "Path to the Lambda deployment zip that contains the `bootstrap` binary (`make build-aws`)."
  type        = string
}

variable "architecture" {
  description = "Instruction set of the Lambda function. Must match the target the zip was built for (`x86_64` or `arm64`)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "The architecture must be \"x86_64\" or \"arm64\"."
  }
}

variable "memory_size" {
  description = "Memory of the Lambda function, in MB."
  type        = number
  default     = 128
}

variable "timeout" {
  description = "Timeout of one Lambda invocation, in seconds."
  type        = number
  default     = 30
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency of the Lambda function. Bounds DynamoDB contention and cost; throttled asynchronous events are retried by Lambda for up to 6 hours. Set -1 to reserve nothing (needed in accounts whose concurrency limit is 10)."
  type        = number
  default     = 10
}

variable "role_permissions_boundary" {
  description = "ARN of an IAM permissions boundary attached to the Lambda execution role, or null for none."
  type        = string
  default     = null
}

################################################################################
# Detector settings (passed to the function as environment variables)
################################################################################

variable "mode" {
  description = "T1578_MODE: \"alert\" publishes alerts to SNS; \"shadow\" scores and records state but only logs what it would have alerted on."
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
  description = "T1578_CONFIG: the TOML tuning document (allowlists, change windows, IaC user agents, unfamiliar IPs, per-account mode, overrides; see README \"Tuning\"), usually file(\"tuning.toml\"): the same file `t1578 replay --config` reads. Empty uses the built-in defaults."
  type        = string
  default     = ""

  # Lambda allows 4 KB for all environment variables together.
  validation {
    condition     = length(var.config_toml) <= 3072
    error_message = "config_toml must be at most 3072 characters (Lambda's 4 KB environment limit, shared with the other settings): drop comments or split accounts across detectors."
  }
}

variable "observed_since" {
  description = "T1578_OBSERVED_SINCE: when the detector started seeing the accounts, for the baselines' learning period. \"first\" (the default) records each account's first event in the state table, so principals first seen in the first min_history_days (3) are learned instead of meeting the seed's thresholds as new ones: without it, a cold start alerts for about half the principals on its first day (BENCHMARKS, issue 11). A date (YYYY-MM-DD) or RFC 3339 time gives the start instead; empty turns the learning period off. A tuning document's baseline.observed_since wins for the accounts it names."
  type        = string
  default     = "first"

  validation {
    condition     = var.observed_since == "" || var.observed_since == "first" || can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}($|T)", var.observed_since))
    error_message = "observed_since must be \"first\", a date (YYYY-MM-DD), an RFC 3339 time, or empty."
  }
}

variable "aws_ip_ranges_url" {
  description = "Where the module fetches AWS's published ranges (ip-ranges.json) each time it is applied, for the sign instance_credentials_outside_aws: an EC2 instance's role credentials used from a routable address outside them alert on one call (GuardDuty's InstanceCredentialExfiltration.OutsideAWS). The copy reaches the function as a Lambda layer (T1578_AWS_IP_RANGES). AWS adds ranges every week or so and announces each change on the SNS topic arn:aws:sns:us-east-1:806199016981:AmazonIpSpaceChanged: apply the module at least weekly, or on that notification, or a newer range's instances that call from their public address will alert. A mirror of the file (https) may be given instead; empty fetches nothing and turns the sign off."
  type        = string
  default     = "https://ip-ranges.amazonaws.com/ip-ranges.json"

  validation {
    condition     = var.aws_ip_ranges_url == "" || startswith(var.aws_ip_ranges_url, "https://")
    error_message = "aws_ip_ranges_url must be an https:// URL, or empty."
  }
}

variable "log_level" {
  description = "RUST_LOG of the function (a tracing-subscriber EnvFilter, e.g. \"info\" or \"info,t1578=debug\")."
  type        = string
  default     = "info"
}

################################################################################
# Logs and encryption
################################################################################

variable "log_retention_in_days" {
  description = "Retention of the function's CloudWatch log group, in days."
  type        = number
  default     = 365
}

variable "cloudwatch_logs_kms_key_arn" {
  description = "ARN of a customer managed KMS key for the log group, or null for CloudWatch Logs' default encryption. The key policy must allow logs.<region>.amazonaws.com."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "ARN of a customer managed KMS key used for the state table, the DLQ, the Lambda environment and (unless sns_kms_master_key_id is set) the alert topic. Null uses AWS owned/managed keys. Its key policy must allow events.amazonaws.com (DLQ) and cloudwatch.amazonaws.com (alarms publishing to the topic)."
  type        = string
  default     = null
}

variable "sns_kms_master_key_id" {
  description = "KMS key for the alert topic. Null uses kms_key_arn, or \"alias/aws/sns\" when that is null too. Note: CloudWatch alarms cannot publish to a topic encrypted with alias/aws/sns; use a CMK or set alarm_actions."
  type        = string
  default     = null
}

################################################################################
# State table
################################################################################

variable "dynamodb_table_name" {
  description = "Name of the DynamoDB state table. Null uses \"<name>-state\"."
  type        = string
  default     = null
}

variable "dynamodb_deletion_protection" {
  description = "Whether deletion protection is enabled on the state table."
  type        = bool
  default     = true
}

################################################################################
# Alerts
################################################################################

variable "sns_subscriptions" {
  description = "Subscriptions added to the alert topic, e.g. [{ protocol = \"email\", endpoint = \"soc@example.com\" }]. With new_findings_only = true a subscription receives only new findings (message attribute activity = create), not the updates of an open finding."
  type = list(object({
    protocol          = string
    endpoint          = string
    new_findings_only = optional(bool, false)
  }))
  default = []
}

################################################################################
# EventBridge
################################################################################

variable "event_bus_name" {
  description = "Name of the event bus the rules are created on: \"default\" for a single account, or the custom central bus in a multi-account rollout."
  type        = string
  default     = "default"
}

variable "source_account_ids" {
  description = "When non-empty, an `account` filter with these ids is added to every pattern (recommended on a central bus). Empty adds no filter."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.source_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "Every source account id must be 12 digits."
  }
}

variable "eventbridge_maximum_event_age_in_seconds" {
  description = "How long EventBridge keeps retrying delivery to the Lambda before sending the event to the DLQ (60-86400)."
  type        = number
  default     = 86400
}

variable "eventbridge_maximum_retry_attempts" {
  description = "How many times EventBridge retries delivery to the Lambda before sending the event to the DLQ (0-185)."
  type        = number
  default     = 185
}

variable "lambda_maximum_event_age_in_seconds" {
  description = "Maximum age of an asynchronous event Lambda keeps retrying (60-21600) before the on-failure destination."
  type        = number
  default     = 21600
}

variable "lambda_maximum_retry_attempts" {
  description = "Retries Lambda makes when the function returns an error (0-2) before the on-failure destination."
  type        = number
  default     = 2
}

variable "dlq_message_retention_seconds" {
  description = "Retention of messages in the dead-letter queue, in seconds (max 1209600 = 14 days)."
  type        = number
  default     = 1209600
}

################################################################################
# Alarms
################################################################################

variable "create_alarms" {
  description = "Whether to create the CloudWatch alarms on Lambda Errors and on DLQ depth."
  type        = bool
  default     = true
}

variable "alarm_actions" {
  description = "ARNs notified by the alarms (alarm and OK). Null sends them to the alert topic."
  type        = list(string)
  default     = null
}

variable "lambda_errors_alarm_threshold" {
  description = "Number of Lambda Errors in 5 minutes that raises the errors alarm."
  type        = number
  default     = 1
}
