//! `process_batch` over the in-memory adapters: request budget, retries, idempotency,
//! concurrency, shadow mode.

mod common;

use common::{copies, engine, events_dir, load, shares_to_new_accounts};
use std::sync::atomic::Ordering;
use t1578_core::engine::ProfileName;
use t1578_core::memory::{MemorySink, MemoryStore};
use t1578_core::outbox::split;
use t1578_core::pipeline::{process_batch, BatchReport, PipelineError, PipelineOptions};
use t1578_core::window::WindowState;
use t1578_core::AlertSink;
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
    assert!(!r.alerts.is_empty());
    // One load and one save, and since alerts were decided, one more of each per alert to mark
    // it sent as soon as it is out.
    let marks = r.alerts.len();
    assert_eq!((r.store_reads, r.store_writes), (1 + marks, 1 + marks));
    assert!(r.out_of_scope > 0);
    let mut quiet = copies(31).split_off(30);
    quiet[0].event_id = "evt-quiet".into();
    let r = run(&e, &store, &sink, &quiet, false);
    assert!(r.alerts.is_empty());
    assert_eq!(
        (r.store_reads, r.store_writes),
        (1, 1),
        "no alert: one load, one save"
    );
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
    let key = e.score(&share()[0]).unwrap().key;
    let (_, pending) = split(&store.get_bytes(&key).unwrap()).unwrap();
    assert_eq!(pending.len(), 1, "the decision is saved as pending");
    let r = run(&e, &store, &sink, &share(), false);
    assert!(r.failures.is_empty());
    assert_eq!(sink.alerts().len(), 1);
    let (_, pending) = split(&store.get_bytes(&key).unwrap()).unwrap();
    assert!(pending.is_empty(), "and marked sent once published");
    run(&e, &store, &sink, &share(), false);
    assert_eq!(sink.alerts().len(), 1, "published exactly once");
}

/// The seed's window is 24 h, and its item would expire a day after its event. With an alert
/// still unsent (the sink down past the platform's retries, the records parked) the item is
/// kept 14 days, so a redrive of the parked records finds the alert owed; once it is sent the
/// window's own expiry applies again.
#[test]
fn an_item_with_unsent_alerts_outlives_a_short_window() {
    let e = engine(ProfileName::SeedKql);
    let (store, sink) = (MemoryStore::new(), MemorySink::new());
    let now = t1578_core::pipeline::system_clock();
    let mut ev = copies(10);
    for x in &mut ev {
        x.time_ms = now - 60_000;
    }
    let key = e.score(&ev[0]).unwrap().key;
    let now_s = now / 1000;
    sink.fail_next.store(1, Ordering::SeqCst);
    assert!(run(&e, &store, &sink, &ev, false).has_retryable_failure());
    assert!(store.pending() >= 1);
    let kept = store.expires_at(&key).unwrap();
    assert!(kept >= now_s + 14 * 86_400, "kept {} s from now", kept - now_s);
    assert!(run(&e, &store, &sink, &ev, false).failures.is_empty());
    assert_eq!(store.pending(), 0);
    assert!(!sink.alerts().is_empty());
    let window = store.expires_at(&key).unwrap();
    assert!(
        (now_s + 86_000..now_s + 2 * 86_400).contains(&window),
        "a day after the event once sent: {} s from now",
        window - now_s
    );
}

/// A sink whose first send never completes: the invocation dies between save and publish.
#[derive(Default)]
struct Crashing {
    crashed: std::sync::atomic::AtomicBool,
    inner: MemorySink,
}

impl AlertSink for Crashing {
    async fn send(&self, alert: &t1578_core::Alert) -> Result<(), t1578_core::ports::SinkError> {
        if !self.crashed.swap(true, Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.inner.send(alert).await
    }
}

#[test]
fn pending_decisions_are_stored_without_their_guide_and_published_with_it() {
    // A burst decides several reports of one finding in one batch; the outbox keeps them all
    // in the window's item, which Table Storage bounds at 64 KiB. A guide is 10 to 20 KB of
    // text, so it is attached when the alert is published, not stored; the rest is deflated.
    // With the window, the item stays within the 16 KiB a principal's state may take.
    let e = engine(ProfileName::Default);
    let (store, sink) = (MemoryStore::new(), MemorySink::new());
    let burst = copies(120);
    let key = e.score(&burst[0]).unwrap().key;
    sink.fail_next.store(1, Ordering::SeqCst);
    let r = run(&e, &store, &sink, &burst, false);
    assert!(r.has_retryable_failure());
    let stored = store.get_bytes(&key).unwrap();
    let (_, pending) = split(&stored).unwrap();
    assert!(pending.len() >= 3, "{} reports decided", pending.len());
    assert!(stored.len() <= 16 * 1024, "{} bytes stored", stored.len());
    assert!(pending
        .iter()
        .all(|p| p.alert.unmapped.guide.is_none() && p.alert.remediation.is_none()));
    let r = run(&e, &store, &sink, &burst, false);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    let published = sink.alerts();
    assert_eq!(published.len(), pending.len());
    for (a, p) in published.iter().zip(&pending) {
        assert_eq!(a.dedup_key(), p.alert.dedup_key(), "in decided order");
        let mut want = p.alert.clone();
        t1578_core::guide::attach(&mut want, &e, &p.destinations);
        assert!(a.unmapped.guide.as_ref().is_some_and(|g| !g.steps.is_empty()));
        assert_eq!(a, &want, "the guide the alert would have carried when decided");
    }
}

fn poll_once<F: std::future::Future>(f: F) {
    let mut f = std::pin::pin!(f);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    assert!(
        f.as_mut().poll(&mut cx).is_pending(),
        "the crash hook did not stop it"
    );
    // Dropped here: no code after the save runs, as in a killed process.
}

#[test]
fn a_crash_between_save_and_publish_is_published_exactly_once_on_retry() {
    let e = engine(ProfileName::Default);
    let (store, sink) = (MemoryStore::new(), Crashing::default());
    let opts = PipelineOptions::default();
    poll_once(process_batch(&e, &store, &sink, &share(), &opts));
    assert!(sink.inner.alerts().is_empty());
    let key = e.score(&share()[0]).unwrap().key;
    assert_eq!(split(&store.get_bytes(&key).unwrap()).unwrap().1.len(), 1);
    held_until_the_lease_runs_out(&e, &store, &sink);
}

/// The platform retries the share while a dead writer's lease on its alert runs: it may yet be
/// sending, so the retry keeps the records (retryable) and publishes nothing. Once the lease ran
/// out, the next retry publishes it, and later ones nothing more.
fn held_until_the_lease_runs_out(e: &Engine, store: &MemoryStore, sink: &Crashing) {
    let r = futures::executor::block_on(process_batch(
        e,
        store,
        sink,
        &share(),
        &PipelineOptions::default(),
    ));
    let errors: Vec<_> = r.failures.iter().map(|f| f.error.clone()).collect();
    assert_eq!(errors, vec![PipelineError::OutboxHeld]);
    assert!(sink.inner.alerts().is_empty());
    let later = PipelineOptions {
        clock: far_future,
        ..PipelineOptions::default()
    };
    let r = futures::executor::block_on(process_batch(e, store, sink, &share(), &later));
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_eq!(sink.inner.alerts().len(), 1);
    futures::executor::block_on(process_batch(e, store, sink, &share(), &later));
    assert_eq!(sink.inner.alerts().len(), 1, "exactly once");
}

/// An entry a build before entries named their event left pending (its claim a hash of its
/// batch, which no writer now draws) while its lease runs: the retry of its records keeps them
/// (retryable) rather than acknowledge them, and publishes it once the lease ran out.
#[test]
fn an_entry_of_the_previous_format_is_not_let_go_during_its_lease() {
    use t1578_core::StateStore;
    let e = engine(ProfileName::Default);
    let (store, sink) = (MemoryStore::new(), Crashing::default());
    let opts = PipelineOptions::default();
    poll_once(process_batch(&e, &store, &sink, &share(), &opts));
    let key = e.score(&share()[0]).unwrap().key;
    let stored = futures::executor::block_on(store.load(&key)).unwrap().unwrap();
    let (window, mut pending) = split(&stored.bytes).unwrap();
    assert_eq!(pending.len(), 1);
    pending[0].event.clear();
    let old = t1578_core::outbox::join(window.to_vec(), &pending);
    let saved = futures::executor::block_on(store.save(&key, &old, i64::MAX, Some(&stored.version)));
    assert_eq!(saved.unwrap(), t1578_core::ports::SaveOutcome::Saved);
    held_until_the_lease_runs_out(&e, &store, &sink);
}

fn far_future() -> i64 {
    t1578_core::pipeline::system_clock() + 3_600_000
}

#[test]
fn another_writer_publishes_a_dead_writers_alert_only_after_its_lease() {
    let e = engine(ProfileName::Default);
    let (store, sink) = (MemoryStore::new(), Crashing::default());
    let opts = PipelineOptions::default();
    poll_once(process_batch(&e, &store, &sink, &share(), &opts));
    let key = e.score(&share()[0]).unwrap().key;
    let owed = split(&store.get_bytes(&key).unwrap()).unwrap().1[0]
        .alert
        .dedup_key()
        .to_string();
    let sent = |k: &str| sink.inner.alerts().iter().filter(|a| a.dedup_key() == k).count();
    // Another record of the same principal, while the dead writer's lease runs: carried, not sent.
    let mut other = copies(1);
    other[0].principal = share()[0].principal.clone();
    other[0].account = share()[0].account.clone();
    assert_eq!(e.score(&other[0]).unwrap().key, e.score(&share()[0]).unwrap().key);
    let r = futures::executor::block_on(process_batch(&e, &store, &sink, &other, &opts));
    assert!(r.failures.is_empty());
    assert_eq!(sent(&owed), 0, "the claimant's lease still runs");
    assert!(split(&store.get_bytes(&key).unwrap())
        .unwrap()
        .1
        .iter()
        .any(|p| p.alert.dedup_key() == owed));
    // An hour later the lease has run out: the next invocation for the key publishes it.
    let later = PipelineOptions {
        clock: far_future,
        ..PipelineOptions::default()
    };
    other[0].event_id = "evt-later".into();
    let r = futures::executor::block_on(process_batch(&e, &store, &sink, &other, &later));
    assert!(r.failures.is_empty());
    assert_eq!(sent(&owed), 1);
    assert!(r.alerts.iter().any(|a| a.dedup_key() == owed));
    assert!(split(&store.get_bytes(&key).unwrap()).unwrap().1.is_empty());
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
    let e = engine(ProfileName::Default);
    let writers = 16;
    let gated = common::Gated::new(writers, None);
    let sink = MemorySink::new();
    let all = copies(writers * 5);
    let conflicts: usize = std::thread::scope(|sc| {
        let threads: Vec<_> = all
            .chunks(5)
            .map(|chunk| {
                let (e, gated, sink) = (&e, &gated, &sink);
                sc.spawn(move || {
                    futures::executor::block_on(process_batch(
                        e,
                        gated,
                        sink,
                        chunk,
                        &PipelineOptions::default(),
                    ))
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| {
                let r = t.join().unwrap();
                assert!(r.failures.is_empty(), "{:?}", r.failures);
                r.conflicts
            })
            .sum()
    });
    // All sixteen first read the same version: one first save wins, fifteen conflict.
    assert!(conflicts >= writers - 1, "{conflicts} conflicts");
    let store = &gated.inner;
    let key = e.score(&all[0]).unwrap().key;
    let state = WindowState::decode(&store.get_bytes(&key).unwrap(), &key).unwrap();
    assert_eq!(state.unit_count(), 80);
    // However the writers interleave, the decisions are those of one sequential writer: the
    // same reports of the same finding under the same keys, each published once (a decision
    // is saved before it is published, and only the writer that saved it publishes it).
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
    assert_eq!(
        sink.alerts().len(),
        sequential.len(),
        "each decision published exactly once ({conflicts} conflicts)"
    );
}

#[test]
fn shadow_mode_records_decisions_but_sends_nothing() {
    let e = engine(ProfileName::Default);
    let (store, sink) = (MemoryStore::new(), MemorySink::new());
    let r = run(&e, &store, &sink, &share(), true);
    assert_eq!(r.alerts.len(), 1);
    assert!(sink.alerts().is_empty());
    // The decision is recorded: switching to alert mode later does not replay old alerts.
    let again = run(&e, &store, &sink, &share(), false);
    assert!(again.failures.is_empty(), "{:?}", again.failures);
    assert_eq!(again.duplicates, 1, "the same share, seen again");
    assert!(again.alerts.is_empty());
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

/// The outbox shares the window's item, which the stores bound (Table Storage: 64 KiB). A burst
/// deciding a report per event, and a sink down through many retries, must not grow it past
/// [`MAX_PENDING`]: the events the outbox has no room for are retried, and once the sink is
/// back every report is published once.
#[test]
fn the_outbox_stays_bounded_through_a_burst_and_a_sink_outage() {
    use t1578_core::pipeline::MAX_PENDING;
    let e = engine(ProfileName::Default);
    let (store, sink) = (MemoryStore::new(), MemorySink::new());
    let batches: Vec<Vec<ComputeEvent>> = (0..4).map(|b| shares_to_new_accounts(b * 40, 40)).collect();
    let key = e.score(&batches[0][0]).unwrap().key;
    sink.fail_next.store(usize::MAX, Ordering::SeqCst);
    for _retry in 0..3 {
        for b in &batches {
            let r = run(&e, &store, &sink, b, false);
            assert!(r.has_retryable_failure());
            let (_, pending) = split(&store.get_bytes(&key).unwrap()).unwrap();
            assert!(pending.len() <= MAX_PENDING + 1, "{} pending", pending.len());
            assert!(store.get_bytes(&key).unwrap().len() <= 32 * 1024);
        }
    }
    sink.fail_next.store(0, Ordering::SeqCst);
    let mut sent = 0;
    for b in &batches {
        let r = run(&e, &store, &sink, b, false);
        assert!(r.failures.is_empty(), "{:?}", r.failures);
        sent += r.alerts.len();
    }
    let alerts = sink.alerts();
    assert_eq!(alerts.len(), sent);
    let keys: std::collections::BTreeSet<&str> = alerts.iter().map(|a| a.dedup_key()).collect();
    assert_eq!(keys.len(), alerts.len(), "each report published once");
    // As many as the same events decide with the sink up all along: a report per new account.
    let (fresh, up) = (MemoryStore::new(), MemorySink::new());
    for b in &batches {
        assert!(run(&e, &fresh, &up, b, false).failures.is_empty());
    }
    assert_eq!((alerts.len(), up.alerts().len()), (160, 160));
    assert_eq!(store.pending(), 0);
    for b in &batches {
        let r = run(&e, &store, &sink, b, false);
        assert_eq!((r.duplicates, r.alerts.len()), (b.len(), 0));
    }
}

/// The in-memory store keeps windows compressed (a replay holds every principal's window) and
/// gives back exactly the bytes saved, whatever they are.
#[test]
fn the_memory_store_keeps_windows_compressed_and_gives_back_what_was_saved() {
    use t1578_core::ports::{SaveOutcome, StateStore};
    let e = engine(ProfileName::Default);
    let store = MemoryStore::new();
    let sink = MemorySink::new();
    let mut events = copies(40);
    events.extend(shares_to_new_accounts(0, 20));
    assert!(run(&e, &store, &sink, &events, true).failures.is_empty());
    let entries = store.entries();
    let windows: Vec<_> = entries
        .iter()
        .filter(|(k, _)| !k.0.contains("first-event"))
        .collect();
    assert!(!windows.is_empty());
    for (k, b) in &windows {
        let (w, _) = split(b).unwrap();
        WindowState::decode(w, k).unwrap();
    }
    let raw: usize = entries.iter().map(|(_, b)| b.len()).sum();
    assert!(
        store.held_bytes() * 10 < raw * 8,
        "held {} of {raw} bytes",
        store.held_bytes()
    );

    let key = t1578_core::StateKey(r#"["v1","test","aws","1","any"]"#.into());
    let noise: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut version = None;
    for value in [&b""[..], &b"1790000000000"[..], &noise[..]] {
        let saved = futures::executor::block_on(store.save(&key, value, 0, version.as_ref())).unwrap();
        assert!(matches!(saved, SaveOutcome::Saved));
        let stored = futures::executor::block_on(store.load(&key)).unwrap().unwrap();
        assert_eq!(stored.bytes, value);
        version = Some(stored.version);
    }
}
