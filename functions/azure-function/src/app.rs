//! The custom handler's HTTP surface: `fn app(state) -> Router`, tested with `oneshot`.
//!
//! - `GET /`: readiness; the host treats any answer as "the worker is up".
//! - `POST /ActivityLog`: one Event Hub batch, mapped through the core's edge contract
//!   ([`t1578_core::delivery`]): every record ends Done, Retry or Park. Parked records (bad
//!   records, keys the store or the Logic App refuse, and, on the policy's last attempt, keys
//!   still failing) are written to the dead-letter container first. Then 500 if any record is
//!   still to be retried, so the host's retry policy re-drives the batch before it
//!   checkpoints (re-driving is idempotent), else 200. 500 as well when the dead letters
//!   cannot be written: a 200 would let the checkpoint pass records kept nowhere. 400 when the
//!   body is not an invocation request at all; 413 above [`MAX_BODY_BYTES`].
//! - `POST /Cleanup`: the timer function; deletes expired windows.

use crate::deadletter::{DeadLetters, Parking};
use crate::invoke::{records, InvokeRequest, InvokeResponse, Place};
use crate::table::Sweep;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;
use std::time::Duration;
use t1578_core::delivery::{Ledger, Outcome};
use t1578_core::pipeline::{process_batch, BatchReport, PipelineOptions};
use t1578_core::ports::{AlertSink, StateStore};
use t1578_core::{normalize, Engine};
use tracing::Instrument;

/// Function (folder) name of the Event Hub function; the host POSTs to `/ActivityLog`.
pub const ACTIVITY_LOG: &str = "ActivityLog";
/// Function name of the timer-triggered cleanup.
pub const CLEANUP: &str = "Cleanup";
/// Binding name of the Event Hub trigger in `ActivityLog/function.json`.
pub const EVENTS_BINDING: &str = "events";
/// Per-record lines in `Logs` before the rest are summarized in one line.
pub const MAX_RECORD_LOG_LINES: usize = 50;
/// `maxEventBatchSize` in host.json.
pub const HOST_MAX_BATCH: usize = 100;
/// The largest Event Hub message (1 MB on the Standard and Premium tiers).
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;
/// `maxRetryCount` in `ActivityLog/function.json`, for a host that sends no `MaxRetryCount`.
pub const HOST_MAX_RETRIES: u64 = 8;
/// Largest request body: a full batch of the largest messages, each escaped twice (the host
/// sends the batch as JSON text inside a JSON string, and every message is itself a string),
/// which at most doubles then doubles again its quotes and backslashes.
pub const MAX_BODY_BYTES: usize = HOST_MAX_BATCH * MAX_EVENT_BYTES * 4 + 64 * 1024;
const MAX_LOG_LINE: usize = 400;
/// Waits between further dead-letter writes on the retry policy's last attempt, after which
/// the host checkpoints past the batch whatever the answer: about 21 s of the 5-minute
/// `functionTimeout`.
pub const LAST_PARK_BACKOFF: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(15),
];
/// Largest part of a dead-letter line written to `Logs` when the blob cannot be: well under
/// Application Insights' 32,768 characters per trace.
pub const LOG_FALLBACK_PART: usize = 16_000;

/// Everything the handlers need, built once in `main` (or a test).
pub struct AppState<S, A, D> {
    /// Catalog and profile.
    pub engine: Engine,
    /// Window state.
    pub store: S,
    /// Alert destination.
    pub sink: A,
    /// Where parked records go.
    pub dead_letters: D,
    /// Shadow mode, concurrency, conflict retries.
    pub options: PipelineOptions,
    /// Waits between dead-letter writes on the last attempt ([`LAST_PARK_BACKOFF`]).
    pub last_park_backoff: Vec<Duration>,
}

/// The router.
pub fn app<S, A, D>(state: Arc<AppState<S, A, D>>) -> Router
where
    S: StateStore + Sweep + 'static,
    A: AlertSink + 'static,
    D: DeadLetters + 'static,
{
    Router::new()
        .route("/", get(|| async { "ready" }))
        .route(&format!("/{ACTIVITY_LOG}"), post(activity_log::<S, A, D>))
        .route(&format!("/{CLEANUP}"), post(cleanup::<S, A, D>))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// One `Logs` line: control characters escaped, so a principal name or an error message from
/// the input cannot start a line of its own in the host's log, then clipped.
fn clip(s: String) -> String {
    t1578_core::event::clip(&escape_breaks(s, false), MAX_LOG_LINE)
}

/// Control characters and the Unicode line and paragraph separators escaped: as Rust writes
/// them (`\n`), or with `json` as JSON's `\uXXXX`, which inside the JSON lines of a dead letter
/// (where they can only stand in strings) keeps each line valid JSON of the same value.
fn escape_breaks(s: String, json: bool) -> String {
    use std::fmt::Write;
    let breaks = |c: char| c.is_control() || c == '\u{2028}' || c == '\u{2029}';
    if !s.chars().any(breaks) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match (breaks(c), json) {
            (false, _) => out.push(c),
            // Every such character is in the Basic Multilingual Plane: one escape each.
            (true, true) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            (true, false) => out.extend(c.escape_debug()),
        }
    }
    out
}

fn answer(status: StatusCode, logs: Vec<String>) -> Response {
    (
        status,
        Json(InvokeResponse {
            logs,
            ..Default::default()
        }),
    )
        .into_response()
}

/// The invocation, or the 400 answer for a body that is not one.
fn parse_request(body: &[u8]) -> Result<InvokeRequest, Box<Response>> {
    serde_json::from_slice::<InvokeRequest>(body).map_err(|e| {
        tracing::error!(error = %e, "request is not a custom-handler invocation");
        Box::new(answer(
            StatusCode::BAD_REQUEST,
            vec![format!("request is not a custom-handler invocation: {e}")],
        ))
    })
}

async fn activity_log<S, A, D>(
    State(st): State<Arc<AppState<S, A, D>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response
where
    S: StateStore + Sweep + 'static,
    A: AlertSink + 'static,
    D: DeadLetters + 'static,
{
    let invocation: String = headers
        .get("x-azure-functions-invocationid")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect();
    let span = tracing::info_span!("activity_log", invocation = %invocation);
    process(&st, &body, &invocation).instrument(span).await
}

async fn process<S, A, D>(st: &AppState<S, A, D>, body: &[u8], invocation: &str) -> Response
where
    S: StateStore + Sweep + 'static,
    A: AlertSink + 'static,
    D: DeadLetters + 'static,
{
    let mut req = match parse_request(body) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let Some(binding) = req.data.remove(EVENTS_BINDING) else {
        let msg = format!("Data.{EVENTS_BINDING} is missing (binding name in function.json?)");
        tracing::error!("{msg}");
        return answer(StatusCode::BAD_REQUEST, vec![msg]);
    };
    let retry = req.retry_count();
    let budget_spent = retry.unwrap_or(0) >= req.max_retry_count().unwrap_or(HOST_MAX_RETRIES);
    let mut ledger: Ledger<Place> = Ledger::received_at((st.options.clock)());
    let mut raw_rejected = Vec::new();
    for (place, item) in records(binding) {
        match item {
            Ok(v) => ledger.record(place, normalize(v)),
            Err(u) => {
                raw_rejected.push((place, u.raw));
                ledger.reject(place, u.kind, u.reason);
            }
        }
    }
    let report = process_batch(&st.engine, &st.store, &st.sink, ledger.events(), &st.options).await;
    ledger.settle(&report, budget_spent);
    let mut logs = Vec::new();
    let (done, retrying, parked) = ledger.counts();
    summarize(&report, &ledger, retry, st.options.shadow, &mut logs);
    let mut status = if retrying > 0 {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    // While anything is retried the host re-drives the whole batch: park on the attempt that
    // settles it, so a record is parked once.
    let mut kept = "";
    if parked > 0 && retrying == 0 {
        let (lines, key) = dead_letter_lines(&ledger, body, raw_rejected, invocation, retry);
        let name = blob_name(&key);
        kept = match park(st, &name, lines, budget_spent, &mut logs).await {
            Parked::Blob => "",
            Parked::Log => " in this invocation's log (the dead-letter write failed)",
            Parked::No => " not yet (the dead-letter write failed; the host re-drives the batch)",
        };
        if !kept.is_empty() {
            status = StatusCode::INTERNAL_SERVER_ERROR;
        }
    }
    tracing::info!(
        records = ledger.len(),
        done,
        retrying,
        parked,
        status = status.as_u16(),
        "outcomes"
    );
    logs.push(format!(
        "outcomes: {} records, done {done}, retry {retrying}, parked {parked}{kept}{}",
        ledger.len(),
        if budget_spent { " (retry budget spent)" } else { "" }
    ));
    answer(status, logs)
}

/// Where parked records went.
enum Parked {
    /// The dead-letter container.
    Blob,
    /// This invocation's `Logs` (Application Insights): the last attempt, the blob refused.
    Log,
    /// Nowhere yet: the host re-drives the batch (answered 500).
    No,
}

/// Write the dead-letter blob. Before the last attempt a failure answers 500 and the host
/// re-drives the batch. On the last attempt the host checkpoints past it whatever the answer,
/// so the write is tried again after each of [`AppState::last_park_backoff`], and if the
/// account still refuses (it holds the state table too, whose outage likely spent the retry
/// budget) the lines are written to `Logs`, which the host keeps in another service.
async fn park<S, A, D: DeadLetters>(
    st: &AppState<S, A, D>,
    name: &str,
    lines: Vec<u8>,
    last: bool,
    logs: &mut Vec<String>,
) -> Parked {
    let waits: &[Duration] = if last { &st.last_park_backoff } else { &[] };
    let mut tries = 0;
    let failure = loop {
        match st.dead_letters.park(name, lines.clone()).await {
            Ok(Parking::Written) => {
                tracing::warn!(blob = %name, "records parked in the dead-letter container");
                logs.push(format!("parked records in dead-letter blob {name}"));
                return Parked::Blob;
            }
            Ok(Parking::AlreadyThere) => {
                tracing::warn!(blob = %name, "records already parked by an earlier delivery of the batch");
                logs.push(format!(
                    "records already parked in dead-letter blob {name} (an earlier delivery of this batch)"
                ));
                return Parked::Blob;
            }
            Err(e) => match waits.get(tries) {
                Some(wait) => {
                    tracing::warn!(error = %e, ?wait, "dead-letter write failed on the last attempt; trying again");
                    tries += 1;
                    tokio::time::sleep(*wait).await;
                }
                None => break e,
            },
        }
    };
    logs.push(clip(format!(
        "parking records in dead-letter blob {name} failed after {} tries: {failure}",
        tries + 1
    )));
    if !last {
        tracing::error!(error = %failure, "parking failed; the batch will be re-driven");
        return Parked::No;
    }
    tracing::error!(error = %failure, "parking failed on the last attempt; the records go to the invocation's log");
    log_lines(name, &lines, logs);
    Parked::Log
}

/// Each dead-letter line into `Logs`, in parts of at most [`LOG_FALLBACK_PART`] bytes, each
/// saying which line and part it is, so the blob can be put together again from the log.
fn log_lines(name: &str, lines: &[u8], logs: &mut Vec<String>) {
    let text = String::from_utf8_lossy(lines);
    let all: Vec<&str> = text.lines().collect();
    for (i, line) in all.iter().enumerate() {
        let parts = split_at_chars(line, LOG_FALLBACK_PART);
        for (j, part) in parts.iter().enumerate() {
            logs.push(format!(
                "dead letter {name} line {}/{} part {}/{}: {}",
                i + 1,
                all.len(),
                j + 1,
                parts.len(),
                escape_breaks(part.to_string(), true)
            ));
        }
    }
}

/// `s` in pieces of at most `max` bytes, cut at character boundaries.
fn split_at_chars(s: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out.push(rest);
    out
}

/// The records of the batch as received, by place: only on the rare path that parks, the
/// request is read a second time rather than every record copied on the common path.
fn raw_records(body: &[u8]) -> std::collections::HashMap<Place, serde_json::Value> {
    let mut out = std::collections::HashMap::new();
    if let Ok(mut req) = serde_json::from_slice::<InvokeRequest>(body) {
        if let Some(binding) = req.data.remove(EVENTS_BINDING) {
            for (place, item) in records(binding) {
                if let Ok(v) = item {
                    out.insert(place, v);
                }
            }
        }
    }
    out
}

/// The dead-letter lines of the parked records, and a hash of those records alone (not of
/// the attempt, position or time the lines also say), which names the blob.
fn dead_letter_lines(
    ledger: &Ledger<Place>,
    body: &[u8],
    rejected: Vec<(Place, serde_json::Value)>,
    invocation: &str,
    retry: Option<u64>,
) -> (Vec<u8>, [u8; 16]) {
    use sha2::Digest;
    let mut raw = raw_records(body);
    raw.extend(rejected);
    let at = t1578_core::alert::rfc3339(chrono::Utc::now().timestamp_millis());
    let mut out = Vec::new();
    let mut key = sha2::Sha256::new();
    for (place, outcome) in ledger.outcomes() {
        let Outcome::Park(reason) = outcome else {
            continue;
        };
        let record = raw.remove(place).unwrap_or(serde_json::Value::Null);
        if let Ok(bytes) = serde_json::to_vec(&record) {
            key.update(&bytes);
            key.update(b"\n");
        }
        let line = serde_json::json!({
            "parked": {
                "reason": reason, "position": place.to_string(), "event": place.event,
                "record": place.record, "invocation": invocation, "retry": retry.unwrap_or(0), "at": at,
            },
            "records": [record],
        });
        if serde_json::to_writer(&mut out, &line).is_ok() {
            out.push(b'\n');
        }
    }
    let mut short = [0u8; 16];
    short.copy_from_slice(&key.finalize()[..16]);
    (out, short)
}

/// `yyyy/mm/dd/<hash of the parked records>.jsonl`: sorted by day, and the same for every
/// delivery of a batch that parks the same records on the same day, so the blob is written once
/// ([`crate::deadletter::DeadLetters::park`]). A redelivery after midnight, or one the host
/// cut into other batches, can still park a record a second time: a replay of both blobs
/// counts each event once (windows are idempotent).
fn blob_name(key: &[u8; 16]) -> String {
    let day = chrono::Utc::now().format("%Y/%m/%d");
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    format!("{day}/{hex}.jsonl")
}

/// The invocation's account of a batch, in `Logs` and traces: records parked or retried,
/// alerts, failed keys, and the batch's counts.
fn summarize(
    report: &BatchReport,
    ledger: &Ledger<Place>,
    retry: Option<u64>,
    shadow: bool,
    logs: &mut Vec<String>,
) {
    log_records(ledger, logs);
    log_alerts(report, shadow, logs);
    log_failures(report, logs);
    log_counts(report, ledger.len() - report.events, retry, logs);
}

/// Each parked record in the traces; a sample of those parked or retried in `Logs`.
fn log_records(ledger: &Ledger<Place>, logs: &mut Vec<String>) {
    for (place, outcome) in ledger.outcomes() {
        if let Outcome::Park(reason) = outcome {
            tracing::warn!(%place, reason = %reason, "record parked");
        }
    }
    let tally = ledger.tally(MAX_RECORD_LOG_LINES);
    logs.extend(tally.samples().iter().cloned());
    if tally.unsampled() > 0 {
        logs.push(format!("{} more records parked or retried", tally.unsampled()));
    }
}

fn log_alerts(report: &BatchReport, shadow: bool, logs: &mut Vec<String>) {
    for a in &report.alerts {
        tracing::info!(
            dedup_key = %a.dedup_key(), tier = a.tier().as_str(), severity = a.severity_level().as_str(),
            principal = %a.principal_name(), account = %a.account(), shadow,
            "{}", if shadow { "alert decided (shadow mode: not sent)" } else { "alert sent" }
        );
        logs.push(clip(format!(
            "{} {} alert {} for {} in {}",
            if shadow { "shadow" } else { "sent" },
            a.tier().as_str(),
            a.dedup_key(),
            a.principal_name(),
            a.account()
        )));
    }
}

fn log_failures(report: &BatchReport, logs: &mut Vec<String>) {
    for f in &report.failures {
        let retryable = f.error.retryable();
        tracing::error!(key = %f.key.storage_id(), records = f.events.len(), retryable, error = %f.error, "state key failed");
        logs.push(clip(format!(
            "{} failure on key {} ({} records): {}",
            if retryable { "retryable" } else { "permanent" },
            f.key.storage_id(),
            f.events.len(),
            f.error
        )));
    }
}

/// The batch's counts; `bad`: records that were not events.
fn log_counts(report: &BatchReport, bad: usize, retry: Option<u64>, logs: &mut Vec<String>) {
    tracing::info!(
        records = report.events + bad,
        scored = report.scored,
        bad,
        out_of_scope = report.out_of_scope,
        not_counted = report.not_counted,
        duplicates = report.duplicates,
        too_late = report.too_late,
        keys = report.keys,
        alerts = report.alerts.len(),
        store_reads = report.store_reads,
        store_writes = report.store_writes,
        conflicts = report.conflicts,
        corrupt_states = report.corrupt_states,
        failures = report.failures.len(),
        unmarked = report.unmarked,
        retry = retry.unwrap_or(0),
        "batch processed"
    );
    logs.push(format!(
        "records {} (bad {bad}): scored {}, out of scope {}, not counted {}, duplicates {}, too late {}; keys {}, \
         alerts {}, store reads {}, writes {}, conflicts {}, corrupt states {}, failed keys {}, \
         published but not marked sent {}{}",
        report.events + bad,
        report.scored,
        report.out_of_scope,
        report.not_counted,
        report.duplicates,
        report.too_late,
        report.keys,
        report.alerts.len(),
        report.store_reads,
        report.store_writes,
        report.conflicts,
        report.corrupt_states,
        report.failures.len(),
        report.unmarked,
        retry.map(|n| format!(", retry {n}")).unwrap_or_default()
    ));
}

async fn cleanup<S, A, D>(State(st): State<Arc<AppState<S, A, D>>>, body: Bytes) -> Response
where
    S: StateStore + Sweep + 'static,
    A: AlertSink + 'static,
    D: DeadLetters + 'static,
{
    // The timer payload (schedule status, past due) changes nothing, but a body that is not an
    // invocation is still a caller error worth a 400.
    if let Err(resp) = parse_request(&body) {
        return *resp;
    }
    let now = chrono::Utc::now().timestamp();
    match st.store.sweep_expired(now).await {
        Ok(r) => {
            tracing::info!(
                deleted = r.deleted,
                skipped = r.skipped,
                pages = r.pages,
                complete = r.complete,
                "cleanup done"
            );
            let more = if r.complete {
                ""
            } else {
                "; time budget reached, the next run continues"
            };
            answer(
                StatusCode::OK,
                vec![format!(
                    "deleted {} expired windows, skipped {} written since, {} pages{more}",
                    r.deleted, r.skipped, r.pages
                )],
            )
        }
        Err(e) => {
            let retryable = matches!(e, t1578_core::ports::StoreError::Transient(_));
            tracing::error!(error = %e, retryable, "cleanup failed");
            // The next timer run retries anyway; 500 only makes the failure visible.
            answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                vec![format!("cleanup failed: {e}")],
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadletter::MemoryDeadLetters;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use t1578_core::memory::{MemorySink, MemoryStore};
    use t1578_core::{Catalog, Profile, ProfileName};
    use tower::ServiceExt;

    type Mem = AppState<MemoryStore, MemorySink, MemoryDeadLetters>;

    fn state() -> Arc<Mem> {
        Arc::new(AppState {
            engine: Engine::new(Catalog::builtin().unwrap(), Profile::named(ProfileName::Default)),
            store: MemoryStore::new(),
            sink: MemorySink::new(),
            dead_letters: MemoryDeadLetters::default(),
            options: PipelineOptions::default(),
            last_park_backoff: vec![Duration::from_millis(1); 2],
        })
    }

    async fn call(st: &Arc<Mem>, path: &str, body: &str) -> (StatusCode, InvokeResponse) {
        let resp = app(st.clone())
            .oneshot(
                Request::post(path)
                    .header("content-type", "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    fn sas_record(upn: &str) -> serde_json::Value {
        serde_json::json!({
            "time": t1578_core::alert::rfc3339(chrono::Utc::now().timestamp_millis() - 60_000),
            "resourceId": "/SUBSCRIPTIONS/AAAAAAAA-1111-2222-3333-444444444444/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COMPUTE/DISKS/D1",
            "operationName": "MICROSOFT.COMPUTE/DISKS/BEGINGETACCESS/ACTION",
            "category": "Administrative", "resultType": "Success", "correlationId": "c-1",
            "callerIpAddress": "203.0.113.10",
            "identity": {"claims": {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": upn}}
        })
    }

    #[tokio::test]
    async fn both_data_shapes_reach_the_pipeline() {
        let body = |upn: &str| serde_json::json!({"records": [sas_record(upn)]}).to_string();
        let st = state();
        let as_text = serde_json::json!({"Data": {"events": serde_json::to_string(&[body("a@x.com")]).unwrap()}, "Metadata": {}});
        let as_array = serde_json::json!({"Data": {"events": [body("b@x.com")]}, "Metadata": {}});
        let (s1, r1) = call(&st, "/ActivityLog", &as_text.to_string()).await;
        let (s2, r2) = call(&st, "/ActivityLog", &as_array.to_string()).await;
        assert_eq!(
            (s1, s2),
            (StatusCode::OK, StatusCode::OK),
            "{:?} {:?}",
            r1.logs,
            r2.logs
        );
        let names: Vec<String> = st
            .sink
            .alerts()
            .iter()
            .map(|a| a.principal_name().to_string())
            .collect();
        assert_eq!(names, ["a@x.com", "b@x.com"]);
    }

    #[tokio::test]
    async fn transient_store_failures_answer_500_and_the_retry_200() {
        let st = state();
        st.store.fail_next.store(1, std::sync::atomic::Ordering::SeqCst);
        let req = serde_json::json!({"Data": {"events": [serde_json::json!({"records": [sas_record("c@x.com")]}).to_string()]}, "Metadata": {}});
        let (s, r) = call(&st, "/ActivityLog", &req.to_string()).await;
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            r.logs.iter().any(|l| l.starts_with("retryable failure on key")),
            "{:?}",
            r.logs
        );
        let (s, _) = call(&st, "/ActivityLog", &req.to_string()).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(st.sink.alerts().len(), 1);
    }

    fn last_attempt(events: &[&str]) -> String {
        serde_json::json!({"Data": {"events": events}, "Metadata": {"RetryContext": {"RetryCount": 8, "MaxRetryCount": 8}}})
            .to_string()
    }

    /// A handler whose dead-letter container refuses the next `n` writes.
    fn dead_letters_refusing(n: usize) -> Arc<Mem> {
        let st = state();
        st.dead_letters
            .fail_next
            .store(n, std::sync::atomic::Ordering::SeqCst);
        st
    }

    fn outcomes(r: &InvokeResponse) -> &str {
        r.logs.iter().find(|l| l.starts_with("outcomes:")).unwrap()
    }

    #[tokio::test]
    async fn the_last_attempt_tries_the_dead_letter_write_again() {
        let st = dead_letters_refusing(2);
        let (s, r) = call(&st, "/ActivityLog", &last_attempt(&["{not json"])).await;
        assert_eq!(s, StatusCode::OK, "{:?}", r.logs);
        assert_eq!(st.dead_letters.blobs.lock().unwrap().len(), 1);
        assert!(
            outcomes(&r).ends_with("parked 1 (retry budget spent)"),
            "{:?}",
            r.logs
        );
    }

    /// The host checkpoints past its last attempt whatever the answer: with the storage
    /// account down (dead letters and state share it), the records go to the invocation's log
    /// instead, each line whole once its parts are put together, and the answer is 500.
    #[tokio::test]
    async fn the_last_attempt_with_the_dead_letters_down_writes_the_records_to_the_log() {
        let st = dead_letters_refusing(100);
        let big = format!("{{\"records\": [{{\"note\": \"{}\u{2028}é\"", "x".repeat(40_000));
        let (s, r) = call(&st, "/ActivityLog", &last_attempt(&["{not json", &big])).await;
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(st.dead_letters.blobs.lock().unwrap().is_empty());
        assert!(
            outcomes(&r).contains("parked 2 in this invocation's log"),
            "{:?}",
            r.logs
        );
        let mut lines: std::collections::BTreeMap<usize, String> = Default::default();
        for l in r.logs.iter().filter(|l| l.starts_with("dead letter ")) {
            assert!(
                l.len() <= LOG_FALLBACK_PART + 200 && !l.contains('\u{2028}'),
                "{}",
                l.len()
            );
            let (head, part) = l.split_once(": ").unwrap();
            let line: usize = head
                .split(" line ")
                .nth(1)
                .unwrap()
                .split('/')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            lines.entry(line).or_default().push_str(part);
        }
        assert_eq!(lines.len(), 2);
        let raw: Vec<String> = lines
            .values()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["records"][0].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(raw, ["{not json".to_string(), big], "each record whole, in order");
    }

    #[tokio::test]
    async fn before_the_last_attempt_a_failed_dead_letter_write_is_left_to_the_host() {
        let st = dead_letters_refusing(1);
        let req = serde_json::json!({"Data": {"events": ["{not json"]}, "Metadata": {"RetryContext": {"RetryCount": 2, "MaxRetryCount": 8}}});
        let (s, r) = call(&st, "/ActivityLog", &req.to_string()).await;
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(outcomes(&r).contains("parked 1 not yet"), "{:?}", r.logs);
        assert!(!r.logs.iter().any(|l| l.starts_with("dead letter ")));
        let (s, _) = call(&st, "/ActivityLog", &req.to_string()).await;
        assert_eq!(
            (s, st.dead_letters.blobs.lock().unwrap().len()),
            (StatusCode::OK, 1)
        );
    }

    #[tokio::test]
    async fn a_principal_name_cannot_forge_a_log_line() {
        let st = state();
        let upn = "mallory@x.com\n[Information] Executed 'Functions.ActivityLog' (Succeeded)";
        let req = serde_json::json!({"Data": {"events": [serde_json::json!({"records": [sas_record(upn)]}).to_string()]}, "Metadata": {}});
        let (s, r) = call(&st, "/ActivityLog", &req.to_string()).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(st.sink.alerts().len(), 1, "{:?}", r.logs);
        assert!(
            r.logs.iter().any(|l| l.contains("mallory@x.com\\n[Information]")),
            "{:?}",
            r.logs
        );
        let forged: Vec<&String> = r.logs.iter().filter(|l| l.contains('\n')).collect();
        assert!(forged.is_empty(), "Logs lines with a line break: {forged:?}");
    }

    #[tokio::test]
    async fn readiness_answers() {
        let resp = app(state())
            .oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn non_invocations_are_400_and_empty_batches_200() {
        let st = state();
        assert_eq!(call(&st, "/ActivityLog", "nope").await.0, StatusCode::BAD_REQUEST);
        let (s, r) = call(&st, "/ActivityLog", r#"{"Data":{"other":[]},"Metadata":{}}"#).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(r.logs[0].contains("Data.events"));
        let (s, r) = call(&st, "/ActivityLog", r#"{"Data":{"events":"[]"},"Metadata":{}}"#).await;
        assert_eq!(s, StatusCode::OK);
        assert!(r.return_value.is_none() && r.outputs.is_empty());
        let (s, _) = call(&st, "/Cleanup", r#"{"Data":{"timer":{}},"Metadata":{}}"#).await;
        assert_eq!(s, StatusCode::OK);
    }
}
