//! The invocation handler: payload in, records out, one [`process_batch`], and an answer that
//! makes the platform retry exactly what is worth retrying.
//!
//! Two payload shapes arrive: an EventBridge envelope (one per asynchronous invocation; bare
//! CloudTrail records and `{"Records":[...]}` log files are read too) and an SQS batch whose
//! bodies are EventBridge envelopes. The payload is taken as a `serde_json::Value`, not a typed
//! event, so every record, readable or not, gets its own outcome from the core's edge contract
//! ([`t1578_core::delivery`]), mapped here to the platform:
//!
//! - SQS: a record to retry or to park fails its message in the partial-batch response; the
//!   queue redelivers it and, after `maxReceiveCount`, its redrive policy parks it in the
//!   dead-letter queue. Records done leave with their message.
//! - EventBridge (asynchronous invocation): a record to retry fails the invocation as
//!   `Retryable`, one to park as `NonRetryable`; after Lambda's retries the on-failure
//!   destination (the dead-letter queue) keeps the event.

use crate::metrics::Metrics;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsMessage};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};
use t1578_core::delivery::{Ledger, Outcome};
use t1578_core::json::text_at;
use t1578_core::pipeline::PipelineError;
use t1578_core::source::expand;
use t1578_core::{normalize, process_batch, AlertSink, BatchReport, Engine, PipelineOptions, StateStore};

/// What a handler needs; built once at cold start, borrowed by every invocation.
#[derive(Debug)]
pub struct Deps<S, A> {
    /// Catalog and profile.
    pub engine: Engine,
    /// Window state.
    pub store: S,
    /// Where alerts go.
    pub sink: A,
    /// Shadow mode, conflict budget, concurrency.
    pub options: PipelineOptions,
}

impl<S: StateStore, A: AlertSink> Deps<S, A> {
    /// Dependencies with the pipeline's default budgets.
    pub fn new(engine: Engine, store: S, sink: A, shadow: bool) -> Deps<S, A> {
        Deps {
            engine,
            store,
            sink,
            options: PipelineOptions {
                shadow,
                ..Default::default()
            },
        }
    }
}

/// Why an invocation failed: some record is to be retried, or to be parked (malformed, or its
/// state key failed permanently), so the event is retried and, if that cannot help, lands in
/// the on-failure destination (the dead-letter queue) instead of being lost.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Some state keys could not be processed for now (throttling, network, 5xx, too many
    /// concurrent writers). Re-delivery is safe: counted events are not counted again.
    #[error("{failed_keys} state key(s) failed with a retryable error, retry the invocation: {first}")]
    Retryable {
        /// Keys that failed.
        failed_keys: usize,
        /// The first retryable failure.
        first: PipelineError,
    },
    /// Records that retrying cannot help: malformed, or the store or the sink refuses (access
    /// denied, missing table or topic). The invocation fails so the event is kept by the
    /// on-failure destination.
    #[error("{parked} record(s) to park (fix the cause, then replay the dead-letter queue); first: {first}")]
    Permanent {
        /// Records parked.
        parked: usize,
        /// The first one's position and reason.
        first: String,
    },
}

impl HandlerError {
    /// Would retrying the invocation help?
    pub fn retryable(&self) -> bool {
        matches!(self, HandlerError::Retryable { .. })
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Diagnostic {
        Diagnostic {
            error_type: if e.retryable() {
                "Retryable"
            } else {
                "NonRetryable"
            }
            .into(),
            error_message: e.to_string(),
        }
    }
}

/// Counts of an EventBridge (or direct) invocation, returned for `cargo lambda invoke` and
/// synchronous callers; asynchronous invocations ignore it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Records received.
    pub records: usize,
    /// Records rejected as malformed.
    pub rejected: usize,
    /// Events scored.
    pub in_scope: usize,
    /// Events already counted before.
    pub duplicates: usize,
    /// Alerts decided.
    pub alerts: usize,
    /// Alerts were only logged.
    pub shadow: bool,
}

/// The function's answer.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// For SQS: the messages to redeliver (needs `ReportBatchItemFailures` on the mapping).
    Sqs(SqsBatchResponse),
    /// For anything else.
    Summary(Summary),
}

/// Where a record came from: the SQS message (if any) and its index in the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Index of the SQS message in the batch.
    pub message: Option<usize>,
    /// 0-based record in the message or payload.
    pub record: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.message {
            Some(m) => write!(f, "message {m} record {}", self.record),
            None => write!(f, "record {}", self.record),
        }
    }
}

/// Unwrap containers, normalize each record; a malformed one is logged and parked.
fn take(ledger: &mut Ledger<Origin>, payload: Value, message: Option<usize>, message_id: Option<&str>) {
    let mut records = Vec::new();
    expand(payload, &mut records);
    for (record, value) in records.into_iter().enumerate() {
        let at = Origin { message, record };
        let id = record_id(&value);
        match normalize(value) {
            Ok(ev) => match ledger.ahead(&ev) {
                Some(why) => reject(
                    ledger,
                    at,
                    &id,
                    t1578_core::delivery::TIME_AHEAD,
                    &why,
                    message_id,
                ),
                None => ledger.event(at, ev),
            },
            Err(e) => reject(ledger, at, &id, e.kind(), &e.to_string(), message_id),
        }
    }
}

fn reject(
    ledger: &mut Ledger<Origin>,
    at: Origin,
    event_id: &str,
    kind: &'static str,
    reason: &str,
    message_id: Option<&str>,
) {
    // Attacker-controlled text goes in fields, which the JSON formatter escapes.
    tracing::warn!(event_id, kind, reason, message_id, %at, "rejected record");
    ledger.reject(at, kind, reason);
}

/// The id to name a record by in logs: envelope id, else CloudTrail eventID; clipped.
fn record_id(v: &Value) -> String {
    text_at(v, &["id"])
        .or_else(|| text_at(v, &["detail", "eventID"]))
        .or_else(|| text_at(v, &["eventID"]))
        .map(|s| t1578_core::event::clip(&s, 128))
        .unwrap_or_else(|| "-".into())
}

fn is_sqs(payload: &Value) -> bool {
    payload
        .get("Records")
        .and_then(Value::as_array)
        .is_some_and(|rs| {
            rs.iter()
                .any(|r| text_at(r, &["eventSource"]).is_some_and(|s| s.eq_ignore_ascii_case("aws:sqs")))
        })
}

/// An SQS body: the EventBridge envelope, or an SNS notification wrapping one (a queue
/// subscribed to a topic without raw delivery).
fn sqs_body(body: &str) -> Result<Value, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let is_sns = text_at(&v, &["Type"]).is_some_and(|t| t == "Notification") && v.get("TopicArn").is_some();
    match (is_sns, v.get("Message").and_then(Value::as_str)) {
        (true, Some(msg)) => serde_json::from_str(msg).map_err(|e| format!("SNS Message: {e}")),
        _ => Ok(v),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Handle one invocation.
pub async fn handle<S: StateStore, A: AlertSink>(
    event: LambdaEvent<Value>,
    deps: &Deps<S, A>,
) -> Result<Response, HandlerError> {
    let payload = event.payload;
    if is_sqs(&payload) {
        return Ok(Response::Sqs(handle_sqs(payload, deps).await));
    }
    let mut ledger = Ledger::received_at((deps.options.clock)());
    take(&mut ledger, payload, None, None);
    let rejected = ledger.counts().2;
    let report = run(&ledger, deps).await;
    ledger.settle(&report, false);
    let summary = Summary {
        records: ledger.len(),
        rejected,
        in_scope: report.scored,
        duplicates: report.duplicates,
        alerts: report.alerts.len(),
        shadow: deps.options.shadow,
    };
    if let Some(f) = report.failures.iter().find(|f| f.error.retryable()) {
        return Err(HandlerError::Retryable {
            failed_keys: report.failures.len(),
            first: f.error.clone(),
        });
    }
    // Retryable failures returned above: what did not end Done is parked.
    let tally = ledger.tally(1);
    match tally.samples().first() {
        None => Ok(Response::Summary(summary)),
        Some(first) => Err(HandlerError::Permanent {
            parked: tally.counts().2 as usize,
            first: first.clone(),
        }),
    }
}

async fn handle_sqs<S: StateStore, A: AlertSink>(payload: Value, deps: &Deps<S, A>) -> SqsBatchResponse {
    let mut ledger = Ledger::received_at((deps.options.clock)());
    let mut ids: Vec<String> = Vec::new();
    let records = match payload {
        Value::Object(mut m) => match m.remove("Records") {
            Some(Value::Array(rs)) => rs,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    for record in records {
        let message_id = text_at(&record, &["messageId"]).map(|s| s.into_owned());
        let origin = ids.len();
        ids.push(message_id.clone().unwrap_or_default());
        let at = Origin {
            message: Some(origin),
            record: 0,
        };
        let msg: SqsMessage = match serde_json::from_value(record) {
            Ok(m) => m,
            Err(e) => {
                reject(
                    &mut ledger,
                    at,
                    "-",
                    "invalid_sqs_record",
                    &e.to_string(),
                    message_id.as_deref(),
                );
                continue;
            }
        };
        match sqs_body(msg.body.as_deref().unwrap_or_default()) {
            Ok(body) => take(&mut ledger, body, Some(origin), msg.message_id.as_deref()),
            Err(reason) => reject(
                &mut ledger,
                at,
                "-",
                "invalid_json",
                &reason,
                msg.message_id.as_deref(),
            ),
        }
    }
    let report = run(&ledger, deps).await;
    ledger.settle(&report, false);
    // A message with a record to retry or to park goes back to the queue: redelivered, and
    // after maxReceiveCount parked in the queue's dead-letter queue by its redrive policy.
    let failed: BTreeSet<usize> = ledger
        .outcomes()
        .filter(|(_, o)| **o != Outcome::Done)
        .filter_map(|(at, _)| at.message)
        .collect();
    let mut response = SqsBatchResponse::default();
    for origin in failed {
        // A message without an id makes Lambda retry the whole batch: safe, since re-delivered
        // events are recognised as duplicates.
        response.add_failure(ids[origin].clone());
    }
    response
}

/// Run the pipeline, then log alerts and failures and print the metric line.
async fn run<S: StateStore, A: AlertSink>(ledger: &Ledger<Origin>, deps: &Deps<S, A>) -> BatchReport {
    let report = process_batch(
        &deps.engine,
        &deps.store,
        &deps.sink,
        ledger.events(),
        &deps.options,
    )
    .await;
    for a in &report.alerts {
        tracing::info!(
            alert_id = %a.alert_id(),
            dedup_key = %a.dedup_key(),
            severity = a.severity_level().as_str(),
            tier = a.tier().as_str(),
            account = %a.account(),
            principal = %a.principal_name(),
            operation_count = a.unmapped.operation_count,
            total_risk = a.risk_score,
            shadow = deps.options.shadow,
            "alert"
        );
    }
    for f in &report.failures {
        let event_ids: Vec<&str> = f
            .events
            .iter()
            .take(10)
            .map(|&i| ledger.events()[i].event_id.as_str())
            .collect();
        if f.error.retryable() {
            tracing::warn!(key = %f.key.storage_id(), events = f.events.len(), ?event_ids, error = %f.error, "state key failed, will be retried");
        } else {
            tracing::error!(key = %f.key.storage_id(), events = f.events.len(), ?event_ids, error = %f.error, "state key failed permanently; its records are parked (dead-letter queue)");
        }
    }
    if report.corrupt_states > 0 {
        tracing::error!(
            count = report.corrupt_states,
            "unreadable stored windows were restarted"
        );
    }
    Metrics {
        records: ledger.len(),
        events_in_scope: report.scored,
        alerts: report.alerts.len(),
        parse_errors: ledger.len() - ledger.events().len(),
        store_conflicts: report.conflicts,
        store_requests: report.store_reads + report.store_writes,
        duplicates: report.duplicates,
        key_failures: report.failures.len(),
    }
    .emit(now_ms(), deps.engine.profile.name.as_str());
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sqs_batches_are_told_apart_from_envelopes() {
        assert!(is_sqs(
            &json!({"Records":[{"messageId":"m1","eventSource":"aws:sqs","body":"{}"}]})
        ));
        assert!(!is_sqs(
            &json!({"Records":[{"eventName":"RunInstances","eventSource":"ec2.amazonaws.com"}]})
        ));
        assert!(!is_sqs(
            &json!({"detail-type":"AWS API Call via CloudTrail","detail":{}})
        ));
        assert!(!is_sqs(&json!("Records")));
    }

    #[test]
    fn sns_wrapped_bodies_are_unwrapped() {
        let inner = json!({"id":"e1","detail-type":"AWS API Call via CloudTrail"});
        let sns =
            json!({"Type":"Notification","TopicArn":"arn:aws:sns:us-east-1:1:t","Message":inner.to_string()});
        assert_eq!(sqs_body(&sns.to_string()).unwrap(), inner);
        assert_eq!(sqs_body(&inner.to_string()).unwrap(), inner);
        assert!(sqs_body("{not json").is_err());
    }

    #[test]
    fn records_are_named_by_envelope_or_event_id() {
        assert_eq!(
            record_id(&json!({"id":"env-1","detail":{"eventID":"ct-1"}})),
            "env-1"
        );
        assert_eq!(record_id(&json!({"detail":{"eventID":"ct-1"}})), "ct-1");
        assert_eq!(record_id(&json!({"eventID":"ct-2"})), "ct-2");
        assert_eq!(record_id(&json!(7)), "-");
        assert!(record_id(&json!({"id":"x".repeat(10_000)})).len() <= 128);
    }

    #[test]
    fn retryable_errors_become_retryable_diagnostics() {
        let e = HandlerError::Retryable {
            failed_keys: 1,
            first: PipelineError::Conflicts(40),
        };
        assert!(e.retryable());
        let d: Diagnostic = e.into();
        assert_eq!(d.error_type, "Retryable");
        assert!(d.error_message.contains("40 attempts"));
    }
}
