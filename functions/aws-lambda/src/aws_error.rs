//! Classifying AWS SDK failures as worth a retry or not, once for both adapters.
//!
//! The SDK has already retried transient failures itself (standard mode, 3 attempts) by the
//! time an error reaches here; what is still transient is handed to Lambda/EventBridge/SQS,
//! whose retries are minutes apart and outlast a short throttling or network blip.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Service error codes that mean "later", whatever the HTTP status says.
const TRANSIENT_CODES: [&str; 15] = [
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "InternalServerError",
    "InternalFailure",
    "InternalErrorException",
    "ServiceUnavailable",
    "TransactionConflictException",
    "KMSThrottlingException",
    // SNS's code for KMS throttling on an encrypted topic (HTTP 400).
    "KMSThrottling",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Would retrying the whole invocation help?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Throttling, 5xx, timeouts, dispatch (network) failures.
    Transient,
    /// Access denied, missing table/topic, invalid request: needs a human.
    Permanent,
}

/// Classify an SDK error.
pub fn classify<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Class {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Class::Transient
        }
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let code = ctx.err().code().unwrap_or_default();
            if status >= 500 || status == 429 || TRANSIENT_CODES.contains(&code) {
                Class::Transient
            } else {
                Class::Permanent
            }
        }
        // Construction failures are our own bad requests; unknown future variants are treated
        // as transient so an event is retried rather than dropped.
        SdkError::ConstructionFailure(_) => Class::Permanent,
        _ => Class::Transient,
    }
}

/// The error with its source chain, bounded so a verbose service message cannot flood logs.
pub fn describe<E: std::error::Error + 'static>(err: &SdkError<E, HttpResponse>) -> String {
    t1578_core::event::clip(&DisplayErrorContext(err).to_string(), 512)
}
