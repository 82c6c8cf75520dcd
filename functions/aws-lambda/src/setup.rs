//! SDK configuration and logging, set up once per cold start and shared by every invocation.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use std::time::Duration;

/// Tight timeouts: DynamoDB and SNS answer in milliseconds inside a region, and a stuck
/// connection should become a retryable error well before the function's own timeout.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(6))
        .build()
}

/// Three attempts with short backoff inside the invocation; longer outages are left to the
/// platform's retries, which are minutes apart.
pub fn retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_max_backoff(Duration::from_millis(800))
}

/// The shared SDK configuration: region, credentials and `AWS_ENDPOINT_URL` from the
/// environment (aws-config's default chain), plus [`timeouts`] and [`retries`].
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts())
        .retry_config(retries())
        .load()
        .await
}

/// JSON logs on stdout, one object per line, event fields at the top level for Logs Insights.
/// The JSON formatter escapes every string, so attacker-controlled values stay data.
/// `RUST_LOG` overrides the default `info` level.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter)
        .init();
}
