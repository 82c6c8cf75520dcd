//! Malformed input: logged with its id and reason, never a panic, never a retry.

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::Write;
use std::sync::{Arc, Mutex};
use t1578_aws_lambda::{HandlerError, Response};

/// Captures what the production JSON log format writes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("every log line is JSON"))
            .collect()
    }
    fn raw(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn subscriber(cap: &Capture) -> impl tracing::Subscriber + Send + Sync {
    let cap = cap.clone();
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_target(false)
        .with_writer(move || cap.clone())
        .finish()
}

fn ct(overrides: Value) -> Value {
    let mut d = record("mallory", "CreateSnapshot", "bad-1", json!({"volumeId": "vol-1"}));
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            d.as_object_mut().unwrap().remove(k);
        } else {
            d[k] = v.clone();
        }
    }
    d
}

#[tokio::test]
async fn malformed_events_are_logged_and_parked_through_the_on_failure_destination() {
    let env = Env::start().await;
    let (deps, counter) = env.deps().await;
    let huge = "\"\n\u{0}<script>".repeat(100_000);
    let cases: Vec<(&str, Value)> = vec![
        ("number", json!(42)),
        ("string", json!("hello")),
        ("null", Value::Null),
        ("array of junk", json!([1, "x", null, [true]])),
        ("empty object", json!({})),
        (
            "envelope without detail",
            json!({"version": "0", "id": "env-no-detail", "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2"}),
        ),
        (
            "detail not an object",
            json!({"id": "env-detail-num", "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2", "detail": 7}),
        ),
        (
            "detail is broken JSON text",
            json!({"id": "env-detail-str", "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2", "detail": "{\"eventName\":"}),
        ),
        ("missing eventName", envelope(ct(json!({"eventName": null})))),
        ("missing eventTime", envelope(ct(json!({"eventTime": null})))),
        (
            "eventTime garbage",
            envelope(ct(json!({"eventTime": "yesterday-ish"}))),
        ),
        (
            "eventTime an object",
            envelope(ct(json!({"eventTime": {"at": 1}}))),
        ),
        ("userIdentity a number", envelope(ct(json!({"userIdentity": 5})))),
        (
            "requestParameters a list",
            envelope(ct(json!({"requestParameters": [1, 2, 3]}))),
        ),
        (
            "huge strings",
            envelope(ct(
                json!({"userAgent": huge, "eventID": huge, "userIdentity": {"type": "IAMUser", "arn": huge}}),
            )),
        ),
        (
            "huge envelope id",
            json!({"id": huge, "detail-type": huge, "source": "aws.ec2", "detail": {"eventName": huge}}),
        ),
    ];
    let cap = Capture::default();
    let _guard = tracing::subscriber::set_default(subscriber(&cap));
    // A malformed one is parked: the invocation fails as NonRetryable, naming the record and
    // why, so after Lambda's own retries the on-failure destination keeps the event. Lenient
    // parsing reads the rest (a number where an object was expected is ignored).
    // Read leniently: a field of the wrong type the detector does not need is ignored, and a
    // huge string is clipped.
    let lenient = [
        "userIdentity a number",
        "requestParameters a list",
        "huge strings",
    ];
    let mut parked = Vec::new();
    let total = cases.len();
    for (name, payload) in cases {
        match invoke(&deps, payload).await {
            Ok(Response::Summary(s)) => {
                assert_eq!(s.rejected, 0, "{name}: rejected but not parked");
                assert!(lenient.contains(&name), "{name}: read, not parked");
            }
            Err(e @ HandlerError::Permanent { .. }) => {
                parked.push(name);
                assert!(!e.retryable());
                let diag: lambda_runtime::Diagnostic = e.clone().into();
                assert_eq!(diag.error_type, "NonRetryable", "{name}");
                assert!(
                    diag.error_message.contains("record 0: "),
                    "{name}: {}",
                    diag.error_message
                );
                assert!(diag.error_message.len() < 600, "{name}: the message is clipped");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    assert_eq!(
        (total, parked.len()),
        (16, total - lenient.len()),
        "parked: {parked:?}"
    );
    assert!(!parked.iter().any(|p| lenient.contains(p)), "parked: {parked:?}");
    // Numbers as strings are lenient, not malformed: this one is read and counted.
    let stringly = envelope(ct(
        json!({"eventTime": chrono::Utc::now().timestamp().to_string(), "recipientAccountId": 111122223333u64, "eventID": "stringly-1"}),
    ));
    let s = summary(invoke(&deps, stringly).await);
    assert_eq!((s.rejected, s.in_scope), (0, 1));

    let lines = cap.lines();
    let rejected: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "rejected record")
        .collect();
    assert!(
        rejected.len() >= 12,
        "{} rejected-record lines:\n{}",
        rejected.len(),
        cap.raw()
    );
    for l in &rejected {
        assert_eq!(l["level"], "WARN");
        assert!(
            l["event_id"].is_string() && l["kind"].is_string() && l["reason"].is_string(),
            "{l}"
        );
    }
    assert!(rejected
        .iter()
        .any(|l| l["event_id"] == "env-no-detail" && l["reason"] == "missing field `detail`"));
    assert!(rejected.iter().any(|l| l["kind"] == "not_an_object"));
    // Attacker strings are clipped and escaped: no line is huge, none carries a raw newline
    // or NUL (every line parsed as JSON above).
    assert!(
        cap.raw().lines().all(|l| l.len() < 4096),
        "a log line carries an unclipped string"
    );
    assert!(!cap.raw().contains('\u{0}'));
    // Rejected records never reach the store: every request belongs to a record that was read.
    assert_eq!(counter.get("GetItem"), counter.get("UpdateItem"));
}

#[tokio::test]
async fn malformed_sqs_messages_are_parked_through_the_redrive_policy() {
    let env = Env::start().await;
    let (deps, _) = env.deps().await;
    let good = share_snapshot("oscar", "sqs-good-1");
    let mut batch = sqs_event(&[
        "{not json".to_string(),
        "".to_string(),
        "42".to_string(),
        json!({"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": "{broken"})
            .to_string(),
        good.to_string(),
    ]);
    let records = batch["Records"].as_array_mut().unwrap();
    records.push(json!(17));
    records.push(json!({"messageId": "m-nobody", "eventSource": "aws:sqs"}));
    records.push(json!({"messageId": "m-typed-wrong", "eventSource": "aws:sqs", "body": {"an": "object"}}));

    let cap = Capture::default();
    let _guard = tracing::subscriber::set_default(subscriber(&cap));
    let failures = batch_failures(invoke(&deps, batch).await);
    // Parked: each malformed message fails, so the queue's redrive policy moves it to the
    // dead-letter queue after maxReceiveCount receives; the good one is done. The record with
    // no message id fails as "" (Lambda then retries the whole batch: safe, idempotent).
    assert_eq!(
        failures,
        ["m0", "m1", "m2", "m3", "", "m-nobody", "m-typed-wrong"],
        "malformed messages are parked, the good one is done"
    );
    let rejected = cap
        .lines()
        .into_iter()
        .filter(|l| l["message"] == "rejected record")
        .count();
    assert!(rejected >= 6, "{}", cap.raw());
    let alerts = env.alerts().await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["actor"]["user"]["name"], "oscar");
}

/// A record dated two days ahead of the clock (a wrong clock or zone, a damaged export) is
/// parked with its reason, not counted: counted, it would make the principal's real events
/// "too late" for a day. The live record beside it is processed.
#[tokio::test]
async fn a_record_dated_days_ahead_is_parked_and_the_live_one_processed() {
    let deps = t1578_aws_lambda::Deps::new(
        t1578_core::Engine::new(
            t1578_core::Catalog::builtin().unwrap(),
            t1578_core::settings::CommonSettings::from_lookup(|_| None)
                .unwrap()
                .profile,
        ),
        t1578_core::memory::MemoryStore::new(),
        t1578_core::memory::MemorySink::new(),
        false,
    );
    let ahead = fresh(share_snapshot("uma", "ahead-1"), "ahead-1", -2 * 86_400);
    let live = fresh(share_snapshot("uma", "live-1"), "live-1", 60);
    let cap = Capture::default();
    let _guard = tracing::subscriber::set_default(subscriber(&cap));
    let failures = batch_failures(invoke(&deps, sqs_event(&[ahead.to_string(), live.to_string()])).await);
    assert_eq!(
        failures,
        ["m0"],
        "the record dated ahead goes to the dead-letter queue"
    );
    assert!(
        cap.raw().contains("time_ahead") && cap.raw().contains("h ahead of the clock"),
        "{}",
        cap.raw()
    );
    let alerts = deps.sink.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].finding_info.related_events[0].uid, "live-1");
}
