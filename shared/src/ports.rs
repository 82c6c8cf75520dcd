//! Ports: the two things the pipeline needs from the outside world, one trait per concern.
//! Adapters live at the edge (DynamoDB, Table Storage, SNS, Logic App, the CLI's embedded
//! database); [`crate::memory`] has the in-memory ones the pipeline is tested with.

use crate::alert::Alert;
use crate::engine::StateKey;
use std::future::Future;

/// Opaque version of a stored window (DynamoDB version number, Table Storage ETag...).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(pub String);

/// A loaded window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Encoded [`crate::window::WindowState`].
    pub bytes: Vec<u8>,
    /// Version to pass back to [`StateStore::save`].
    pub version: Version,
}

/// Result of a conditional save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Written.
    Saved,
    /// Someone else wrote first (or created the item first): reload and retry.
    Conflict,
}

/// A state store failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Throttling, timeouts, 5xx, network: the platform should retry the invocation.
    #[error("state store unavailable (retryable): {0}")]
    Transient(String),
    /// Misconfiguration, access denied, a request the store refuses: retrying will not help.
    #[error("state store error: {0}")]
    Permanent(String),
}

/// An alert sink failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// Throttling, timeouts, 5xx, network.
    #[error("alert sink unavailable (retryable): {0}")]
    Transient(String),
    /// Misconfiguration, access denied.
    #[error("alert sink error: {0}")]
    Permanent(String),
}

/// Window state storage with optimistic concurrency.
pub trait StateStore: Send + Sync {
    /// Load a window, if any.
    fn load(&self, key: &StateKey) -> impl Future<Output = Result<Option<Stored>, StoreError>> + Send;

    /// Save a window if the stored version is still `expected` (`None`: only if absent).
    /// `expires_at` (epoch seconds) is when the store may drop it.
    fn save(
        &self,
        key: &StateKey,
        bytes: &[u8],
        expires_at: i64,
        expected: Option<&Version>,
    ) -> impl Future<Output = Result<SaveOutcome, StoreError>> + Send;

    /// Wait before retrying a conflicting save. The core has no timer; adapters on a runtime
    /// sleep here. The default returns at once (single-writer stores never conflict).
    fn pause(&self, wait: std::time::Duration) -> impl Future<Output = ()> + Send {
        let _ = wait;
        std::future::ready(())
    }
}

/// Where alerts go.
pub trait AlertSink: Send + Sync {
    /// Deliver one alert. Returns only once the destination accepted it.
    fn send(&self, alert: &Alert) -> impl Future<Output = Result<(), SinkError>> + Send;
}
