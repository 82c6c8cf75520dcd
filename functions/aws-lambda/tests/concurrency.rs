//! Concurrent writers and the request budget, against a real moto server.

mod common;

use common::*;
use serde_json::json;
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_invocations_on_one_principal_lose_no_update() {
    let env = Env::start().await;
    let serial = Proxy::start_serial(env.moto.port).await;
    let counter = std::sync::Arc::new(Counter::default());
    let deps = env
        .deps_via(&serial.url(), &env.moto.url(), counter.clone(), false)
        .await;
    let events: Vec<_> = (0..16).map(|n| create_snapshot("carol", n)).collect();
    let key = key_of(&deps, &events[0]);

    let results = futures::future::join_all(events.iter().map(|e| invoke(&deps, e.clone()))).await;
    let (mut alerts, mut publishers) = (0, 0);
    for r in results {
        let s = summary(r);
        assert_eq!((s.in_scope, s.duplicates), (1, 0));
        alerts += s.alerts;
        publishers += usize::from(s.alerts > 0);
    }
    let window = env.window(&key).await.unwrap();
    assert_eq!(window.unit_count(), 16, "every event counted exactly once");
    let reads = counter.get("GetItem");
    let writes = counter.get("UpdateItem");
    // Every lost race costs one more read and write; the version counts successful saves:
    // one per invocation, plus one per invocation that published, marking its alerts sent.
    assert_eq!(
        env.item(&key).await.unwrap()["version"].as_n().unwrap(),
        &(16 + publishers).to_string()
    );
    assert_eq!(
        reads, writes,
        "each read is followed by exactly one conditional write"
    );
    assert!(reads >= 16 + publishers, "{reads} reads");
    assert!(env.pending(&key).await.is_empty(), "nothing left in the outbox");

    // Escalations are never lost: 16 snapshots x 2 points pass every threshold. And none is
    // published twice: a decision is saved before it is published, by the writer that saved it.
    let published = env.alerts().await;
    assert_eq!(published.len(), alerts);
    let tiers: BTreeSet<&str> = published
        .iter()
        .map(|a| a["unmapped"]["tier"].as_str().unwrap())
        .collect();
    assert!(tiers.contains("high_risk"), "{tiers:?}");
    // One finding, created once and updated as it escalates; each report has one dedup key
    // and a repeat of it is the same report.
    let findings: BTreeSet<&str> = published
        .iter()
        .map(|a| a["finding_info"]["uid"].as_str().unwrap())
        .collect();
    assert_eq!(findings.len(), 1, "{findings:?}");
    let mut reports: std::collections::BTreeMap<&str, BTreeSet<String>> = Default::default();
    for a in &published {
        let k = a["metadata"]["correlation_uid"].as_str().unwrap();
        reports.entry(k).or_default().insert(format!(
            "{} {} {}",
            a["unmapped"]["tier"], a["count"], a["activity_id"]
        ));
    }
    assert!(
        reports.values().all(|r| r.len() == 1),
        "one dedup_key per decision: {reports:?}"
    );
    let creates = reports
        .values()
        .filter(|r| r.iter().any(|x| x.ends_with(" 1")))
        .count();
    assert_eq!(creates, 1, "{reports:?}");
    assert_eq!(
        published.len(),
        reports.len(),
        "0 duplicate publishes: {reports:?}"
    );
}

#[tokio::test]
async fn request_budget_is_one_read_and_one_write_per_key_and_none_out_of_scope() {
    let env = Env::start().await;
    let (deps, counter) = env.deps().await;

    // Out of scope (not in the catalog), a dry run, and an AWS service call: no store request.
    let mut describe = record("dave", "DescribeInstances", "oos-1", json!({}));
    describe["readOnly"] = json!(true);
    let mut dry = record("dave", "CreateSnapshot", "dry-1", json!({"volumeId": "vol-1"}));
    dry["errorCode"] = json!("Client.DryRunOperation");
    let mut svc = record("dave", "CreateSnapshot", "svc-1", json!({"volumeId": "vol-1"}));
    svc["userIdentity"] = json!({"type": "AWSService", "invokedBy": "dlm.amazonaws.com"});
    for r in [describe, dry, svc] {
        let s = summary(invoke(&deps, envelope(r)).await);
        assert_eq!(s.in_scope, 0);
    }
    assert_eq!(counter.total(), 0, "out-of-scope events caused store requests");

    // A CloudTrail log file: three events of two principals → two keys.
    let file = json!({"Records": [
        create_snapshot("erin", 1)["detail"].clone(),
        create_snapshot("erin", 2)["detail"].clone(),
        create_snapshot("frank", 3)["detail"].clone(),
    ]});
    let s = summary(invoke(&deps, file.clone()).await);
    assert_eq!(s.in_scope, 3);
    // Two keys: a read and a write each, and for the one that alerted, one more of each to
    // mark its alert sent in the outbox.
    assert_eq!(s.alerts, 1);
    assert_eq!((counter.get("GetItem"), counter.get("UpdateItem")), (3, 3));

    // The same file again: one read per key, no write (pure duplicates).
    counter.reset();
    let s = summary(invoke(&deps, file).await);
    assert_eq!(s.duplicates, 3);
    assert_eq!((counter.get("GetItem"), counter.get("UpdateItem")), (2, 0));

    // An SQS batch of four messages for one principal: one read, one write, and (4 snapshots
    // alert) one more of each per alert, to mark it sent as soon as it is out (renewing the
    // lease on the rest).
    counter.reset();
    env.alerts().await;
    let bodies: Vec<String> = (10..14).map(|n| create_snapshot("gina", n).to_string()).collect();
    assert!(batch_failures(invoke(&deps, sqs_event(&bodies)).await).is_empty());
    let sent = env.alerts().await.len();
    assert!(sent >= 1);
    assert_eq!(
        (counter.get("GetItem"), counter.get("UpdateItem")),
        (1 + sent, 1 + sent)
    );
    assert_eq!(counter.total(), 2 + 2 * sent);
}
