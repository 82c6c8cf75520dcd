//! # t1578-azure-function: the Azure side of the T1578 detector
//!
//! An Azure Functions *custom handler*: the Functions host reads Activity Log batches from
//! Event Hubs (a subscription diagnostic setting exports them there) and POSTs each batch to
//! this HTTP server; the [`t1578_core`] pipeline scores it, keeps one rolling window per
//! principal in Table Storage and sends alerts to a Logic App.
//!
//! ## Design decisions
//! - **The status code is the delivery contract** ([`app`]). 2xx means the batch is done: bad
//!   records are named in the invocation `Logs` and skipped, so a poison record cannot block a
//!   partition. 5xx only for a transient store or sink failure: the function's retry policy
//!   re-drives the batch and holds the Event Hub checkpoint meanwhile. At-least-once delivery
//!   is made exactly-once *counting* by the core's idempotent windows (a unit already in the
//!   window is not counted again), and alerts are sent before the state recording them, so
//!   none is lost and a rare repeat carries the same `dedup_key`.
//! - **One pass per batch** (the core's `process_batch`): records grouped by state key, one
//!   read and one conditional write per key, so 1,000 records from 50 principals cost about
//!   100 Table requests.
//! - **Raw Table Storage REST** ([`table`]) with one `reqwest` client for the whole process:
//!   Insert for the first write (409 = conflict), Replace with `If-Match` afterwards (412 =
//!   conflict), both retried by the pipeline after a reload. Keys are the 64-hex SHA-256 of the
//!   state key, legal for any principal string; no entity-group transactions (one entity per
//!   partition). No TTL exists, so expired windows are ignored on read and deleted by the
//!   `Cleanup` timer function with ETag-conditional deletes (a window refreshed meanwhile
//!   survives).
//! - **Two authentications** ([`auth`]): Shared Key Lite from a connection string for Azurite
//!   and development; managed-identity bearer tokens in Azure, cached until near expiry.
//! - **Secrets never print** ([`config`]): the Logic App URL (a SAS signature) and the account
//!   key are wrapped in redacting types and no error message contains them.
//! - **Configuration is read once**, typed, in `main`; handlers receive their dependencies in
//!   [`app::AppState`], so tests build the router with real or in-memory adapters.
//! - **Typed errors, classed at the edge**: [`table::TableError::retryable`] and the sink map
//!   to the core's `Transient`/`Permanent`, which decide 5xx vs 2xx. `anyhow` only in `main`.
#![deny(missing_docs)]

pub mod app;
pub mod auth;
pub mod config;
pub mod deadletter;
pub mod invoke;
pub mod logic_app;
pub mod table;

use std::time::Duration;

/// Per-request timeout of Table Storage calls.
pub const TABLE_TIMEOUT: Duration = Duration::from_secs(10);

/// The process's one HTTP client: connection pool and TLS shared by the store, the identity
/// endpoint and the sink. Per-request timeouts are set by each caller.
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("t1578-azure-function/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The Table store described by the configuration.
pub fn table_store(
    http: reqwest::Client,
    config: &config::Config,
    timeout: Duration,
) -> Result<table::TableStore, table::TableError> {
    let client = table::TableClient::new(
        http,
        config.table.endpoint(),
        &config.table_name,
        auth::Credential::from_access(&config.table),
        timeout,
    )?;
    Ok(table::TableStore::new(client, table::SweepOptions::default()))
}
