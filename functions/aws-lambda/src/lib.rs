//! # t1578-aws-lambda: the AWS Lambda of the T1578 detector
//!
//! CloudTrail events arrive from EventBridge (one envelope per invocation) or from an SQS queue
//! fed by EventBridge (batches, for busy accounts); rolling windows live in DynamoDB; alerts go
//! to SNS. All scoring is the core's [`t1578_core::process_batch`]; this crate is adapters.
//!
//! ## Design decisions
//! - **The payload is a `serde_json::Value`**, read by the core's lenient normalizer, not a
//!   typed `EventBridgeEvent`/`AWSAPICall`: a strict type that fails to deserialize is an
//!   invocation error, and Lambda would retry a malformed event. Here a malformed record is
//!   logged with its id and reason, counted (`ParseErrors`) and parked: the invocation fails
//!   `NonRetryable` (EventBridge) or lists its message (SQS), so the DLQ keeps it.
//! - **Only retryable failures fail** ([`handler::HandlerError`]). Throttling, 5xx, timeouts,
//!   network failures and too many concurrent writers on one key fail the invocation (EventBridge
//!   path) or list the affected messages in `batchItemFailures` (SQS path); other messages of
//!   the batch are not redelivered. A permanent failure (access denied, missing table) is logged
//!   at error level and counted (`KeyFailures`): retrying it cannot help.
//! - **Retries are safe.** A counted event is a unit in the window and is never counted again;
//!   an alert is published *before* the state that records it is saved, so a failure between
//!   the two re-publishes it on retry with the same `dedup_key`: never lost, rarely repeated.
//! - **DynamoDB, one item per state key** ([`store::DynamoStore`]): one consistent read and one
//!   conditional `UpdateItem` per key per invocation (the core's budget). The key is the core's
//!   64-hex SHA-256 storage id, so attacker strings never reach a key or an expression; the readable key
//!   is a clipped data attribute. Items carry a TTL (`expires_at`) and reads ignore expired
//!   items, because TTL deletion runs late.
//! - **SNS** ([`sink::SnsSink`]): the alert document as the message (the same JSON the Azure
//!   side sends), a subject of at most 100 ASCII characters, and `severity`, `technique`,
//!   `account`, `tier` message attributes for subscription filter policies.
//! - **Built once, borrowed per event**: configuration ([`config::Config`]), catalog, engine
//!   and SDK clients are made at cold start in `main`; [`handler::handle`] takes them as
//!   [`handler::Deps`], generic over the core's ports, and is tested directly.
//! - **Observability without clients**: JSON logs (one line per alert, per rejected record, per
//!   failed key) and one CloudWatch Embedded Metric Format line per invocation on stdout
//!   ([`metrics`]).
#![deny(missing_docs)]

pub mod aws_error;
pub mod config;
pub mod handler;
pub mod metrics;
pub mod setup;
pub mod sink;
pub mod store;

pub use config::{Config, ConfigError};
pub use handler::{handle, Deps, HandlerError, Response, Summary};
pub use sink::SnsSink;
pub use store::DynamoStore;
