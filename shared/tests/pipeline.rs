//! `process_batch` over the in-memory adapters: request budget, retries, idempotency,
//! concurrency, shadow mode.

mod common;

use common::{engine, events_dir, load};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use t1578_core::engine::ProfileName;
use t1578_core::memory::{MemorySink, MemoryStore};
use t1578_core::pipeline::{process_batch, BatchReport, PipelineOptions};
use t1578_core::window::WindowState;
use t1578_core::Tier;
use t1578_core::{ComputeEvent, Engine};

fn run(
    e: &Engine,
    store: &MemoryStore,
    sink: &MemorySink,
    events: &[ComputeEvent],
    shadow: bool,
) -> BatchReport {
    let opts = PipelineOptions {
        shadow,
        ..PipelineOptions::default()
    };
    futures::executor::block_on(process_batch(e, store, sink, events, &opts))
}

fn share() -> Vec<ComputeEvent> {
    load(&events_dir().join("aws/ec2-modify-snapshot-attribute-share.json"))
}

/// The same record under `n` different event ids (distinct events, one principal).
fn copies(n: usize) -> Vec<ComputeEvent> {
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

#[test]
fn one_load_and_one_save_per_key_and_nothing_for_out_of_scope() {
    let e = engine(ProfileName::Default);
    let (store, sink) = (MemoryStore::new(), MemorySink::new());
    let mut events = copies(30);
    events.extend(
        load(&events_dir().join("formats/cloudtrail.jsonl"))
            .into_iter()
            .filter(|ev| e.score(ev).is_err()),
    );
    let r = run(&e, &store, &sink, &events, false);
    assert_eq!(r.keys, 1);
    assert_eq!((r.store_reads, r.store_writes), (1, 1));
    assert!(r.out_of_scope > 0);
    let noise: Vec<ComputeEvent> = events.into_iter().filter(|ev| e.score(ev).is_err()).collect();
    let before = (
        store.reads.load(Ordering::SeqCst),
        store.writes.load(Ordering::SeqCst),
    );
    let r = run(&e, &store, &sink, &noise, false);
    assert_eq!((r.store_reads, r.store_writes), (0, 0));
    assert_eq!(
        before,
        (
            store.reads.load(Ordering::SeqCst),
            store.writes.load(Ordering::SeqCst)
        )
    );
}

#[test]
fn a_redelivered_batch_counts_once_and_alerts_once() {
    let e = engine(ProfileName::Default);
    let (store, sink) = (MemoryStore::new(), MemorySink::new());
    for _ in 0..3 {
        run(&e, &store, &sink, &share(), false);
    }
    assert_eq!(sink.alerts().len(), 1);
    let again = run(&e, &store, &sink, &share(), false);
    assert_eq!((again.duplicates, again.store_writes), (1, 0));
}

#[test]
fn a_failing_sink_fails_retryably_and_the_retry_alerts_once() {
    let e = engine(ProfileName::Default);
    let (store, sink) = (MemoryStore::new(), MemorySink::new());
    sink.fail_next.store(1, Ordering::SeqCst);
    let r = run(&e, &store, &sink, &share(), false);
    assert!(r.has_retryable_failure());
    assert!(sink.alerts().is_empty());
    assert!(
        store.is_empty(),
        "state is not saved when the alert could not be sent"
    );
    let r = run(&e, &store, &sink, &share(), false);
    assert!(r.failures.is_empty());
    assert_eq!(sink.alerts().len(), 1);
}

#[test]
fn a_failing_store_fails_retryably_and_loses_nothing() {
    let e = engine(ProfileName::Default);
    let (store, sink) = (MemoryStore::new(), MemorySink::new());
    store.fail_next.store(1, Ordering::SeqCst);
    let r = run(&e, &store, &sink, &copies(3), false);
    assert!(r.has_retryable_failure());
    assert_eq!(r.failures[0].events, vec![0, 1, 2]);
    let r = run(&e, &store, &sink, &copies(3), false);
    assert!(r.failures.is_empty());
    let key = e.score(&copies(1)[0]).unwrap().key;
    assert_eq!(
        WindowState::decode(&store.get_bytes(&key).unwrap(), &key)
            .unwrap()
            .unit_count(),
        3
    );
}

#[test]
fn sixteen_concurrent_writers_on_one_key_lose_no_update() {
    let e = Arc::new(engine(ProfileName::Default));
    let store = Arc::new(MemoryStore::new());
    let sink = Arc::new(MemorySink::new());
    let all = copies(16 * 5);
    let threads: Vec<_> = all
        .chunks(5)
        .map(|chunk| {
            let (e, store, sink, chunk) = (e.clone(), store.clone(), sink.clone(), chunk.to_vec());
            std::thread::spawn(move || run(&e, &store, &sink, &chunk, false))
        })
        .collect();
    let mut conflicts = 0;
    for t in threads {
        let r = t.join().unwrap();
        assert!(r.failures.is_empty());
        conflicts += r.conflicts;
    }
    let key = e.score(&all[0]).unwrap().key;
    let state = WindowState::decode(&store.get_bytes(&key).unwrap(), &key).unwrap();
    assert_eq!(state.unit_count(), 80);
    // However the writers interleave, the decisions are those of one sequential writer: the
    // same reports of the same finding under the same keys. A writer that lost a conditional
    // write may have published before it lost (publish-then-save is what makes delivery
    // at-least-once), but only ever the same decision under the same key, which downstream
    // drops.
    let concurrent: std::collections::BTreeSet<(Tier, String)> = sink
        .alerts()
        .iter()
        .map(|a| (a.tier(), a.dedup_key().to_string()))
        .collect();
    let (seq_store, seq_sink) = (MemoryStore::new(), MemorySink::new());
    run(&e, &seq_store, &seq_sink, &all, false);
    let sequential: std::collections::BTreeSet<(Tier, String)> = seq_sink
        .alerts()
        .iter()
        .map(|a| (a.tier(), a.dedup_key().to_string()))
        .collect();
    assert_eq!(seq_sink.alerts().len(), sequential.len(), "one report per key");
    assert_eq!(concurrent, sequential, "({conflicts} conflicts)");
    let findings: std::collections::BTreeSet<String> =
        sink.alerts().iter().map(|a| a.finding_info.uid.clone()).collect();
    assert_eq!(findings.len(), 1, "one finding, created once and then updated");
}

#[test]
fn shadow_mode_records_decisions_but_sends_nothing() {
    let e = engine(ProfileName::Default);
    let (store, sink) = (MemoryStore::new(), MemorySink::new());
    let r = run(&e, &store, &sink, &share(), true);
    assert_eq!(r.alerts.len(), 1);
    assert!(sink.alerts().is_empty());
    // The decision is recorded: switching to alert mode later does not replay old alerts.
    run(&e, &store, &sink, &share(), false);
    assert!(sink.alerts().is_empty());
}

#[test]
fn a_corrupt_stored_window_is_restarted_not_fatal() {
    use t1578_core::ports::StateStore;
    let e = engine(ProfileName::Default);
    let (store, sink) = (MemoryStore::new(), MemorySink::new());
    let key = e.score(&share()[0]).unwrap().key;
    futures::executor::block_on(store.save(&key, b"\xff\xff garbage", 0, None)).unwrap();
    let r = run(&e, &store, &sink, &share(), false);
    assert_eq!(r.corrupt_states, 1);
    assert!(r.failures.is_empty());
    assert_eq!(sink.alerts().len(), 1);
}
