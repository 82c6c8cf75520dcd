//! Helpers shared by the core's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use t1578_core::engine::{Engine, Profile, ProfileName};
use t1578_core::memory::{MemorySink, MemoryStore};
use t1578_core::pipeline::{process_batch, BatchReport, PipelineOptions};
use t1578_core::source::normalize_document;
use t1578_core::{Alert, Catalog, ComputeEvent};

/// What the CLI does for a JSON line without a fast path: the whole line into `Value`, the
/// record out of its container, then normalize.
pub fn whole(line: &str) -> Option<Result<ComputeEvent, t1578_core::NormalizeError>> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let mut recs = Vec::new();
    t1578_core::source::expand(v, &mut recs);
    assert_eq!(recs.len(), 1, "{line}");
    Some(t1578_core::normalize(recs.pop().unwrap()))
}

pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

pub fn stratus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/stratus-red-team")
}

pub fn engine(p: ProfileName) -> Engine {
    Engine::new(Catalog::builtin().unwrap(), Profile::named(p))
}

/// The same record under `n` different event ids (distinct events, one principal).
pub fn copies(n: usize) -> Vec<ComputeEvent> {
    let base = load(&events_dir().join("aws/ec2-delete-snapshot.json")).remove(0);
    (0..n)
        .map(|i| {
            let mut e = base.clone();
            e.event_id = format!("evt-{i}");
            e.resources = vec![format!("arn:aws:ec2:us-east-1:111122223333:snapshot/snap-{i}")];
            e.time_ms += i as i64;
            e
        })
        .collect()
}

/// `n` snapshot shares by one user, each with another account: a new critical each, so a
/// report each.
pub fn shares_to_new_accounts(from: usize, n: usize) -> Vec<ComputeEvent> {
    let t0 = 1_790_000_000_000i64;
    (from..from + n)
        .map(|i| {
            t1578_core::normalize(serde_json::json!({
                "eventVersion": "1.08", "eventSource": "ec2.amazonaws.com", "eventName": "ModifySnapshotAttribute",
                "eventTime": t1578_core::alert::rfc3339(t0 + i as i64 * 1000), "eventID": format!("share-{i}"),
                "awsRegion": "us-east-1", "recipientAccountId": "111122223333", "sourceIPAddress": "203.0.113.7",
                "userIdentity": {"type": "IAMUser", "userName": "u", "accountId": "111122223333",
                                 "arn": "arn:aws:iam::111122223333:user/u"},
                "requestParameters": {"snapshotId": format!("snap-{i:05}"), "attributeType": "CREATE_VOLUME_PERMISSION",
                    "createVolumePermission": {"add": {"items": [{"userId": format!("{:012}", 400_000_000_000u64 + i as u64)}]}}}
            }))
            .unwrap()
        })
        .collect()
}

/// Every record of a file, normalized; panics on any bad record (fixtures must be clean).
pub fn load(path: &std::path::Path) -> Vec<ComputeEvent> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    normalize_document(&bytes)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .map(|(pos, r)| r.unwrap_or_else(|e| panic!("{} {pos}: {e}", path.display())))
        .collect()
}

/// The events of a document (an Activity Log export, CloudTrail records), every record read.
pub fn events_of(doc: &serde_json::Value) -> Vec<ComputeEvent> {
    normalize_document(&serde_json::to_vec(doc).unwrap())
        .unwrap()
        .into_iter()
        .map(|(_, r)| r.unwrap())
        .collect()
}

/// Processes the batches in order under the default profile, none failing: every alert.
pub fn alerts_of(batches: &[Vec<ComputeEvent>]) -> Vec<Alert> {
    let e = engine(ProfileName::Default);
    let (store, sink) = (MemoryStore::new(), MemorySink::new());
    for b in batches {
        let r = futures::executor::block_on(process_batch(&e, &store, &sink, b, &PipelineOptions::default()));
        assert!(r.failures.is_empty(), "{:?}", r.failures);
    }
    sink.alerts()
}

/// Replay events through a fresh in-memory pipeline.
pub fn replay(engine: &Engine, events: &[ComputeEvent]) -> (BatchReport, Vec<Alert>) {
    let store = MemoryStore::new();
    let sink = MemorySink::new();
    let r = futures::executor::block_on(process_batch(
        engine,
        &store,
        &sink,
        events,
        &PipelineOptions::default(),
    ));
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    let alerts = sink.alerts();
    for a in alerts.iter().chain(&r.alerts) {
        check_document(a);
    }
    (r, alerts)
}

/// Every alert a test produces follows the committed schema and survives a JSON round trip.
pub fn check_document(a: &Alert) {
    let text = serde_json::to_string(a).unwrap();
    t1578_testkit::assert_valid_alert_text(&text);
    let back: Alert = serde_json::from_str(&text).unwrap();
    assert_eq!(&back, a, "the document round-trips");
}

/// A store whose first `n` loads (of `only`, or of any key) all return before any of them goes
/// on: `n` racing writers all read the same version, so all but one of their first saves
/// conflict.
pub struct Gated {
    pub inner: MemoryStore,
    gate: std::sync::Barrier,
    gated: std::sync::atomic::AtomicUsize,
    n: usize,
    only: Option<t1578_core::StateKey>,
}

impl Gated {
    pub fn new(n: usize, only: Option<t1578_core::StateKey>) -> Gated {
        Gated {
            inner: MemoryStore::new(),
            gate: std::sync::Barrier::new(n),
            gated: Default::default(),
            n,
            only,
        }
    }
}

impl t1578_core::StateStore for Gated {
    async fn load(
        &self,
        key: &t1578_core::StateKey,
    ) -> Result<Option<t1578_core::ports::Stored>, t1578_core::ports::StoreError> {
        let r = self.inner.load(key).await;
        let gated = self.only.as_ref().is_none_or(|k| k == key);
        if gated && self.gated.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < self.n {
            self.gate.wait();
        }
        r
    }

    async fn save(
        &self,
        key: &t1578_core::StateKey,
        bytes: &[u8],
        expires_at: i64,
        expected: Option<&t1578_core::ports::Version>,
    ) -> Result<t1578_core::ports::SaveOutcome, t1578_core::ports::StoreError> {
        self.inner.save(key, bytes, expires_at, expected).await
    }
}
