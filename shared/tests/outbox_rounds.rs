//! The outbox's rounds (`pipeline::MAX_PENDING`): a batch deciding more alerts than the outbox
//! holds is applied and published in rounds, and a failure in a later round loses and doubles
//! nothing. And the services whose shares stay service calls (`Engine::carried_critical`).

mod common;

use common::shares_to_new_accounts;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use t1578_core::alert::Alert;
use t1578_core::engine::{Engine, Profile, ProfileName, StateKey};
use t1578_core::memory::{MemorySink, MemoryStore};
use t1578_core::pipeline::{process_batch, BatchReport, PipelineOptions};
use t1578_core::ports::{AlertSink, SaveOutcome, SinkError, StateStore, StoreError, Stored, Version};
use t1578_core::{Catalog, ComputeEvent};

const T0: i64 = 1_790_000_000_000;
const DAY: i64 = 86_400_000;

fn engine() -> Engine {
    Engine::new(Catalog::builtin().unwrap(), Profile::named(ProfileName::Default))
}

/// A sink that accepts `ok` sends, then fails every send while `failing` is set.
#[derive(Default)]
struct FlakySink {
    inner: MemorySink,
    ok: AtomicUsize,
}

impl AlertSink for FlakySink {
    async fn send(&self, alert: &Alert) -> Result<(), SinkError> {
        let n = self.ok.load(Ordering::SeqCst);
        if n == 0 {
            return Err(SinkError::Transient("down".into()));
        }
        self.ok.store(n - 1, Ordering::SeqCst);
        self.inner.send(alert).await
    }
}

/// A store whose saves conflict (without saving) once `saves_ok` saves went through.
#[derive(Default)]
struct ConflictingStore {
    inner: MemoryStore,
    saves_ok: AtomicUsize,
}

impl StateStore for ConflictingStore {
    async fn load(&self, key: &StateKey) -> Result<Option<Stored>, StoreError> {
        self.inner.load(key).await
    }
    async fn save(
        &self,
        key: &StateKey,
        bytes: &[u8],
        expires_at: i64,
        expected: Option<&Version>,
    ) -> Result<SaveOutcome, StoreError> {
        let n = self.saves_ok.load(Ordering::SeqCst);
        if n == 0 {
            return Ok(SaveOutcome::Conflict);
        }
        self.saves_ok.store(n - 1, Ordering::SeqCst);
        self.inner.save(key, bytes, expires_at, expected).await
    }
}

fn opts() -> PipelineOptions {
    PipelineOptions {
        max_attempts: 3,
        ..PipelineOptions::default()
    }
}

fn run<S: StateStore, A: AlertSink>(e: &Engine, s: &S, a: &A, evs: &[ComputeEvent]) -> BatchReport {
    futures::executor::block_on(process_batch(e, s, a, evs, &opts()))
}

fn once(alerts: &[Alert]) {
    let keys: std::collections::BTreeSet<&str> = alerts.iter().map(|a| a.dedup_key()).collect();
    assert_eq!(keys.len(), alerts.len(), "a report published twice");
}

/// Round 1 publishes 8, round 2's first send fails: the key is retried whole, round-1 events
/// are duplicates on the retry, nothing is published twice, nothing lost.
#[test]
fn a_sink_failure_in_round_two_loses_and_doubles_nothing() {
    let e = engine();
    let evs = shares_to_new_accounts(0, 20);
    let (store, sink) = (MemoryStore::new(), FlakySink::default());
    sink.ok.store(8, Ordering::SeqCst);
    let r = run(&e, &store, &sink, &evs);
    assert!(r.has_retryable_failure());
    assert_eq!(
        r.failures[0].events.len(),
        20,
        "every record of the key is retried"
    );
    assert_eq!(r.alerts.len(), 8);
    assert_eq!(sink.inner.alerts().len(), 8);
    sink.ok.store(usize::MAX, Ordering::SeqCst);
    let r2 = run(&e, &store, &sink, &evs);
    assert!(r2.failures.is_empty(), "{:?}", r2.failures);
    let all = sink.inner.alerts();
    once(&all);
    assert_eq!(all.len(), r.alerts.len() + r2.alerts.len());
    // Events applied in rounds 1 and 2 of the failed run are duplicates now.
    assert_eq!(r2.duplicates, 16, "{r2:?}");
    let r3 = run(&e, &store, &sink, &evs);
    assert_eq!((r3.duplicates, r3.alerts.len(), r3.store_writes), (20, 0, 0));
}

/// Round 2's save keeps conflicting: the key fails retryably with round 1 published; the
/// retry counts round 1 as duplicates and publishes the rest once.
#[test]
fn a_conflict_in_round_two_loses_and_doubles_nothing() {
    let e = engine();
    let evs = shares_to_new_accounts(0, 20);
    let (store, sink) = (ConflictingStore::default(), MemorySink::new());
    // Round 1: one save plus 8 settles.
    store.saves_ok.store(9, Ordering::SeqCst);
    let r = run(&e, &store, &sink, &evs);
    assert!(r.has_retryable_failure(), "{r:?}");
    assert_eq!(sink.alerts().len(), 8);
    assert_eq!(r.alerts.len(), 8);
    store.saves_ok.store(usize::MAX, Ordering::SeqCst);
    let r2 = run(&e, &store, &sink, &evs);
    assert!(r2.failures.is_empty());
    once(&sink.alerts());
    assert_eq!(r2.duplicates, 8);
    let r3 = run(&e, &store, &sink, &evs);
    assert_eq!((r3.duplicates, r3.alerts.len(), r3.store_writes), (20, 0, 0));
}

/// A CloudTrail share made by a service for a role (`invokedBy`).
fn service_share(role_arn: &str, invoked_by: &str, id: &str, t: i64, to: &[String]) -> ComputeEvent {
    let items: Vec<serde_json::Value> = to.iter().map(|a| serde_json::json!({"userId": a})).collect();
    t1578_core::normalize(serde_json::json!({
        "eventVersion": "1.08", "eventSource": "ec2.amazonaws.com", "eventName": "ModifySnapshotAttribute",
        "eventTime": t1578_core::alert::rfc3339(t), "eventID": id,
        "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
        "sourceIPAddress": invoked_by, "userAgent": invoked_by,
        "userIdentity": {"type": "AssumedRole", "accountId": "111122223333", "invokedBy": invoked_by,
            "arn": format!("{}/session", role_arn.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/")),
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role_arn, "accountId": "111122223333"}}},
        "requestParameters": {"snapshotId": format!("snap-{id}"), "attributeType": "CREATE_VOLUME_PERMISSION",
            "createVolumePermission": {"add": {"items": items}}}
    }))
    .unwrap()
}

/// Days (from 0) on which something was published, and how many reports.
fn pages(
    e: &Engine,
    days: i64,
    per_day: usize,
    ev: impl Fn(i64, usize) -> ComputeEvent,
) -> BTreeMap<i64, usize> {
    let (store, sink) = (MemoryStore::new(), MemorySink::new());
    let mut out = BTreeMap::new();
    for d in 0..days {
        let evs: Vec<ComputeEvent> = (0..per_day).map(|i| ev(d, i)).collect();
        let r = run(e, &store, &sink, &evs);
        assert!(r.failures.is_empty());
        assert_eq!(r.service_callers, evs.len(), "the service's own calls");
        if !r.alerts.is_empty() {
            out.insert(d, r.alerts.len());
        }
    }
    out
}

/// AWS Backup's cross-account copy: its service-linked role shares each day's recovery points
/// with the same vault account. Judged as a principal's, the role would be new (its calls were
/// never counted) and a known-destination share still carries 5 points: paged daily.
#[test]
fn backup_cross_account_copies_stay_service_calls_and_page_no_day() {
    // A deployment that has watched the account for months.
    let e = engine().observed_since(T0 - 200 * DAY);
    let role = "arn:aws:iam::111122223333:role/aws-service-role/backup.amazonaws.com/AWSServiceRoleForBackup";
    let vault = vec!["999988887777".to_string()];
    let p = pages(&e, 21, 3, |d, i| {
        service_share(
            role,
            "backup.amazonaws.com",
            &format!("bk-{d}-{i}"),
            T0 + d * DAY + 7_200_000 + i as i64 * 60_000,
            &vault,
        )
    });
    assert!(p.is_empty(), "paged on {} of 21 days: {p:?}", p.len());
}

/// EC2 Image Builder's distribution shares each new AMI's snapshot with the organisation's
/// accounts: more than a baseline remembers (16) is never a known destination, so judged, it
/// would page every run.
#[test]
fn image_builder_distribution_to_twenty_accounts_pages_no_run() {
    let e = engine().observed_since(T0 - 200 * DAY);
    let role = "arn:aws:iam::111122223333:role/aws-service-role/imagebuilder.amazonaws.com/AWSServiceRoleForImageBuilder";
    let accounts: Vec<String> = (0..20)
        .map(|i| format!("{:012}", 500_000_000_000u64 + i))
        .collect();
    let p = pages(&e, 21, 1, |d, i| {
        service_share(
            role,
            "imagebuilder.amazonaws.com",
            &format!("ib-{d}-{i}"),
            T0 + d * DAY + 3_600_000,
            &accounts,
        )
    });
    assert!(p.is_empty(), "paged on {} of 21 days: {p:?}", p.len());
}
