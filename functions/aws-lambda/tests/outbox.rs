//! The outbox through the handler, with the core's in-memory adapters (no moto): no SQS message
//! is acknowledged before its alert is out. (Overlapping invocations: the core's
//! `outbox_races` tests.)

mod common;

use common::*;
use std::sync::atomic::Ordering;
use t1578_aws_lambda::Deps;
use t1578_core::memory::{MemorySink, MemoryStore};
use t1578_core::settings::CommonSettings;
use t1578_core::{Catalog, Engine};

fn engine() -> Engine {
    let settings = CommonSettings::from_lookup(|_| None).unwrap();
    Engine::new(Catalog::builtin().unwrap(), settings.profile)
}

/// SNS fails once: both of hank's messages are reported failed, and the two decisions wait in
/// the outbox, released. SQS redelivers the messages one per batch (it does not keep a batch
/// together) well before the 60 s lease would have run out: each batch publishes what is owed.
#[tokio::test]
async fn sqs_redelivery_in_other_batches_publishes_what_a_failed_send_left_pending() {
    let deps = Deps::new(engine(), MemoryStore::new(), MemorySink::new(), false);
    let bodies = vec![
        share_snapshot("hank", "split-e1").to_string(),
        share_snapshot("hank", "split-e2").to_string(),
    ];
    deps.sink.fail_next.store(1, Ordering::SeqCst);
    let failed = batch_failures(invoke(&deps, sqs_event(&bodies)).await);
    assert_eq!(failed, vec!["m0", "m1"], "both messages go back to the queue");
    assert_eq!(deps.store.pending(), 2, "two decisions wait in the outbox");
    assert!(deps.sink.alerts().is_empty());

    // Redelivered one per batch; each acknowledged only with its alert out.
    let f0 = batch_failures(invoke(&deps, sqs_event(&bodies[..1])).await);
    let f1 = batch_failures(invoke(&deps, sqs_event(&bodies[1..])).await);
    assert!(f0.is_empty() && f1.is_empty(), "{f0:?} {f1:?}");
    assert_eq!((deps.sink.alerts().len(), deps.store.pending()), (2, 0));
}
