//! The outbox under overlapping invocations: a decision is published once when a second writer
//! of the same key runs while the first is still publishing (the same records delivered twice
//! at once, or a slow sink past the lease), and it is not let go when its records come back in
//! other batches.

mod common;

use common::{copies, engine, events_dir, load};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Mutex;
use t1578_core::engine::ProfileName;
use t1578_core::memory::{MemorySink, MemoryStore};
use t1578_core::pipeline::{process_batch, system_clock, BatchReport, PipelineError, PipelineOptions};
use t1578_core::ports::SinkError;
use t1578_core::{Alert, AlertSink, ComputeEvent, Engine};

fn counts(sink: &MemorySink) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for a in sink.alerts() {
        *m.entry(a.dedup_key().to_string()).or_default() += 1;
    }
    m
}

/// The clock of the slow-sink test, moved on by each send.
static ELAPSED_MS: AtomicI64 = AtomicI64::new(0);
fn test_clock() -> i64 {
    system_clock() + ELAPSED_MS.load(Ordering::SeqCst)
}

/// A sink that takes `per_send_ms` per alert; while the first writer is in its `at`-th send,
/// another invocation (`other` records, same store, same inner sink) runs to completion.
struct SlowSink<'a> {
    e: &'a Engine,
    store: &'a MemoryStore,
    inner: &'a MemorySink,
    other: Vec<ComputeEvent>,
    at: usize,
    per_send_ms: i64,
    calls: AtomicUsize,
    opts: PipelineOptions,
    /// What the other invocation reported.
    other_report: Mutex<Option<BatchReport>>,
}

impl<'a> SlowSink<'a> {
    fn new(e: &'a Engine, store: &'a MemoryStore, inner: &'a MemorySink, other: Vec<ComputeEvent>) -> Self {
        SlowSink {
            e,
            store,
            inner,
            other,
            at: 0,
            per_send_ms: 0,
            calls: AtomicUsize::new(0),
            opts: PipelineOptions::default(),
            other_report: Mutex::new(None),
        }
    }

    fn other_failures(&self) -> Vec<PipelineError> {
        let report = self.other_report.lock().unwrap();
        let report = report.as_ref().expect("the other invocation ran");
        report.failures.iter().map(|f| f.error.clone()).collect()
    }
}

impl AlertSink for SlowSink<'_> {
    async fn send(&self, alert: &Alert) -> Result<(), SinkError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        ELAPSED_MS.fetch_add(self.per_send_ms, Ordering::SeqCst);
        if n == self.at {
            let r = Box::pin(process_batch(
                self.e,
                self.store,
                self.inner,
                &self.other,
                &self.opts,
            ))
            .await;
            *self.other_report.lock().unwrap() = Some(r);
        }
        self.inner.send(alert).await
    }
}

/// A burst that decides several alerts on one key, sent to a sink that needs 25 s per alert:
/// the first writer passes the 60 s lease of its first save before its last send, and another
/// invocation for the principal runs meanwhile. Marking each alert sent renews the lease on
/// the rest, so the other invocation takes none of them over.
#[test]
fn a_slow_multi_alert_publish_is_not_repeated_by_a_concurrent_writer() {
    ELAPSED_MS.store(0, Ordering::SeqCst);
    let e = engine(ProfileName::Default);
    let (store, inner) = (MemoryStore::new(), MemorySink::new());
    let burst = copies(120);
    let mut other = copies(1);
    other[0].event_id = "evt-other".into();
    other[0].resources = vec!["arn:aws:ec2:us-east-1:111122223333:snapshot/snap-other".into()];
    assert_eq!(e.score(&other[0]).unwrap().key, e.score(&burst[0]).unwrap().key);
    let opts = PipelineOptions {
        clock: test_clock,
        ..PipelineOptions::default()
    };
    let sink = SlowSink {
        at: 2,
        per_send_ms: 25_000,
        opts: opts.clone(),
        ..SlowSink::new(&e, &store, &inner, other)
    };
    let r = futures::executor::block_on(process_batch(&e, &store, &sink, &burst, &opts));
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert!(
        r.alerts.len() >= 3,
        "the burst decides several alerts: {}",
        r.alerts.len()
    );
    assert!(sink.other_failures().is_empty(), "{:?}", sink.other_failures());
    let repeated: Vec<_> = counts(&inner).into_iter().filter(|(_, n)| *n > 1).collect();
    assert!(
        repeated.is_empty(),
        "alerts published more than once: {repeated:?}"
    );
    assert_eq!(counts(&inner).len(), r.alerts.len());
    assert_eq!(store.pending(), 0);
}

/// The same record delivered to two live invocations (at-least-once delivery; an Event Hubs
/// partition handed to a new owner mid-batch): the one that saved the decision publishes it,
/// the other fails retryably instead of acknowledging the record, and its retry, once the
/// alert is out, publishes nothing more.
#[test]
fn the_same_records_in_two_live_invocations_publish_once() {
    let e = engine(ProfileName::Default);
    let (store, inner) = (MemoryStore::new(), MemorySink::new());
    let share = load(&events_dir().join("aws/ec2-modify-snapshot-attribute-share.json"));
    let sink = SlowSink::new(&e, &store, &inner, share.clone());
    let opts = PipelineOptions::default();
    let r = futures::executor::block_on(process_batch(&e, &store, &sink, &share, &opts));
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_eq!(sink.other_failures(), vec![PipelineError::OutboxHeld]);
    assert!(PipelineError::OutboxHeld.retryable());
    let retry = futures::executor::block_on(process_batch(&e, &store, &inner, &share, &opts));
    assert!(retry.failures.is_empty(), "{:?}", retry.failures);
    let c = counts(&inner);
    assert_eq!(c.len(), 1);
    assert!(c.values().all(|n| *n == 1), "published {c:?}");
}

/// The sink fails: the records go back to the platform and the decisions stay pending,
/// released. The platform brings the records back one per batch (SQS does not keep a batch
/// together), before the lease would have run out: each is published at once.
#[test]
fn a_failed_publish_is_released_to_the_retry_in_any_batch() {
    let e = engine(ProfileName::Default);
    let (store, sink) = (MemoryStore::new(), MemorySink::new());
    // One principal shares two snapshots, a minute apart: two decisions on one key.
    let share = load(&events_dir().join("aws/ec2-modify-snapshot-attribute-share.json")).remove(0);
    let shares: Vec<ComputeEvent> = (0..2)
        .map(|i| {
            let mut e = share.clone();
            e.event_id = format!("share-{i}");
            e.resources = vec![format!("arn:aws:ec2:us-east-1:111122223333:snapshot/snap-s{i}")];
            e.time_ms += 60_000 * i as i64;
            e
        })
        .collect();
    let opts = PipelineOptions::default();
    sink.fail_next.store(1, Ordering::SeqCst);
    let first = futures::executor::block_on(process_batch(&e, &store, &sink, &shares, &opts));
    let decided = first.alerts.len() + store.pending();
    assert!(!first.failures.is_empty() && sink.alerts().is_empty());
    assert!(store.pending() >= 2, "the decisions wait in the outbox");
    for one in shares.chunks(1) {
        let r = futures::executor::block_on(process_batch(&e, &store, &sink, one, &opts));
        assert!(r.failures.is_empty(), "{:?}", r.failures);
    }
    assert_eq!((sink.alerts().len(), store.pending()), (decided, 0));
    assert!(counts(&sink).values().all(|n| *n == 1));
}
