//! The handler end to end against a real Azurite Table service and a local Logic App stand-in,
//! all on loopback. Each test starts its own Azurite (about a second) so tests stay
//! independent; `scripts/install-tools.sh` installs it.

mod common;

use common::*;
use futures::future::join_all;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use t1578_azure_function::table::SweepOptions;
use t1578_core::engine::StateKey;
use t1578_core::memory::{MemorySink, MemoryStore};
use t1578_core::pipeline::{process_batch, PipelineOptions};
use t1578_core::ports::{SaveOutcome, StateStore};
use t1578_core::window::WindowState;
use t1578_core::{normalize, ProfileName};

const VM_DELETE: &str = "Microsoft.Compute/virtualMachines/delete";
const DISK_WRITE: &str = "Microsoft.Compute/disks/write";
const DISK_SAS: &str = "Microsoft.Compute/disks/beginGetAccess/action";
const CAPTURE: &str = "Microsoft.Compute/virtualMachines/capture/action";

async fn setup(o: HandlerOptions) -> (Azurite, Receiver, Handler) {
    let azurite = Azurite::start();
    let receiver = Receiver::start().await;
    let handler = Handler::new(&azurite, &azurite.endpoint(), &receiver, o).await;
    (azurite, receiver, handler)
}

fn logs_have(logs: &[String], needle: &str) -> bool {
    logs.iter().any(|l| l.contains(needle))
}

/// The outbox lease of the tests that wait for it to run out.
const SHORT_LEASE: Duration = Duration::from_secs(2);

/// What a key whose alert is still leased to another invocation logs.
const HELD: &str = "being published by another invocation";

fn by_dedup(alerts: Vec<Value>) -> BTreeMap<String, Vec<Value>> {
    let mut m: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for a in alerts {
        m.entry(a["metadata"]["correlation_uid"].as_str().unwrap().to_string())
            .or_default()
            .push(a);
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_batches_reach_the_table_and_the_receiver_field_by_field() {
    let (_az, receiver, h) = setup(HandlerOptions {
        tuning: EVERY_TIER.into(),
        ..Default::default()
    })
    .await;
    let sas = fixture("azure/compute-snapshot-begin-get-access.json", 120_000);
    let capture = fixture("scenarios/atomic-azure-snapshot-capture/events.json", 60_000);
    let bodies = vec![sas.clone(), capture.clone()];
    let (status, resp) = h.batch(&bodies).await;
    assert_eq!(status, 200, "{:?}", resp.logs);
    assert!(resp.outputs.is_empty() && resp.return_value.is_none());

    // The same records through the core with in-memory adapters: the Logic App must receive
    // exactly the documents the core decides (the AWS side sends the same serde shape).
    let engine = engine_with(ProfileName::Default, EVERY_TIER);
    let events: Vec<_> = bodies
        .iter()
        .flat_map(|b| b["records"].as_array().unwrap().clone())
        .map(|r| normalize(r).unwrap())
        .collect();
    let (mstore, msink) = (MemoryStore::new(), MemorySink::new());
    process_batch(&engine, &mstore, &msink, &events, &PipelineOptions::default()).await;
    let mut expected: Vec<Value> = msink
        .alerts()
        .iter()
        .map(|a| serde_json::to_value(a).unwrap())
        .collect();
    let mut got = receiver.alerts();
    expected.sort_by_key(|a| a["metadata"]["correlation_uid"].as_str().unwrap().to_string());
    got.sort_by_key(|a| a["metadata"]["correlation_uid"].as_str().unwrap().to_string());
    assert_eq!(got, expected);
    assert_eq!(
        got.len(),
        2,
        "one critical (SAS export) and one threshold alert (snapshot + capture)"
    );

    let sas_rec = &sas["records"][2];
    let critical = got
        .iter()
        .find(|a| a["unmapped"]["tier"] == "critical")
        .expect("critical alert");
    assert_eq!(critical["class_uid"], 2004);
    assert_eq!(critical["severity"], "Critical");
    assert_eq!(critical["unmapped"]["profile"], "default");
    assert_eq!(critical["cloud"]["provider"], "Azure");
    assert_eq!(critical["cloud"]["account"]["uid"], SUB);
    assert_eq!(critical["cloud"]["account"]["type"], "Azure Subscription");
    assert_eq!(critical["unmapped"]["scopes"], json!(["RG-PROD-DATA"]));
    assert_eq!(critical["actor"]["user"]["type"], "service_principal");
    assert_eq!(
        critical["unmapped"]["user_agent"],
        "appid:3f9c2a71-5d4e-4b8a-9e61-0c7d2b5a8f14"
    );
    assert_eq!(
        critical["actor"]["user"]["uid"],
        "app:3f9c2a71-5d4e-4b8a-9e61-0c7d2b5a8f14"
    );
    assert_eq!(
        critical["actor"]["user"]["name"],
        "e2bfcf62-6e46-51c8-b074-6e21af87882f"
    );
    assert_eq!(
        critical["unmapped"]["source_ips"],
        json!([{"ip": "203.0.113.171", "unfamiliar": false}])
    );
    assert_eq!(critical["evidences"][0]["src_endpoint"]["ip"], "203.0.113.171");
    assert_eq!(
        critical["unmapped"]["trigger_catalog_id"],
        "azure.compute.snapshot_sas_export"
    );
    assert!(
        critical["finding_info"]["desc"]
            .as_str()
            .unwrap()
            .starts_with("Critical single event: SAS download URL generated for a snapshot"),
        "{}",
        critical["finding_info"]["desc"]
    );
    let attacks = critical["finding_info"]["attacks"].as_array().unwrap();
    assert_eq!(attacks.len(), 1);
    assert_eq!(attacks[0]["tactic"]["uid"], "TA0005");
    assert_eq!(attacks[0]["technique"]["uid"], "T1578");
    assert_eq!(attacks[0]["sub_technique"]["uid"], "T1578.001");
    assert_eq!(critical["unmapped"]["related_techniques"], json!(["T1537"]));
    // Start, Accept and Success of the one operation: one unit.
    assert_eq!(critical["unmapped"]["operation_count"], 1);
    assert_eq!(critical["unmapped"]["unique_resources"], 1);
    assert_eq!(critical["risk_score"], 5);
    assert_eq!(critical["unmapped"]["counts_are_lower_bounds"], false);
    assert_eq!(critical["evidences"].as_array().unwrap().len(), 1);
    assert_eq!(
        critical["evidences"][0]["data"]["catalog_id"],
        "azure.compute.snapshot_sas_export"
    );
    assert_eq!(
        critical["evidences"][0]["api"]["operation"],
        "MICROSOFT.COMPUTE/SNAPSHOTS/BEGINGETACCESS/ACTION"
    );
    assert_eq!(
        critical["resources"],
        sas_rec["resourceId"]
            .as_str()
            .map(|r| json!([{"uid": r}]))
            .unwrap()
    );
    let threshold = got
        .iter()
        .find(|a| a["unmapped"]["tier"] != "critical")
        .expect("threshold alert");
    assert_eq!(threshold["actor"]["user"]["uid"], "user:atomic@contoso.com");
    assert_eq!(threshold["unmapped"]["operation_count"], 2);
    assert_eq!(threshold["unmapped"]["unique_resources"], 2);
    assert_eq!(threshold["unmapped"]["scopes"], json!(["RG-ATOMIC"]));

    // The Table entities: hashed keys, the clipped key as data, base64 state, ExpiresAt.
    for rec in [&sas["records"][2], &capture["records"][4]] {
        let key = h.key_of(rec);
        let id = key.storage_id();
        let (entity, etag) = h
            .state
            .store
            .client()
            .get_entity(&id, &id)
            .await
            .unwrap()
            .expect("entity written");
        assert!(etag.starts_with("W/\""), "{etag}");
        assert_eq!(entity["PartitionKey"], id.as_str());
        assert_eq!(entity["RowKey"], id.as_str());
        assert_eq!(entity["Key"], key.0.as_str());
        let expires: i64 = entity["ExpiresAt"]
            .as_str()
            .map(|s| s.parse().unwrap())
            .or(entity["ExpiresAt"].as_i64())
            .unwrap();
        assert!(
            expires > chrono::Utc::now().timestamp() + 23 * 3600,
            "window end of the newest event"
        );
        assert!(h.units(&key).await >= 1);
    }
    assert!(logs_have(&resp.logs, "alerts 2"), "{:?}", resp.logs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_data_shapes_are_read() {
    let (_az, _receiver, h) = setup(HandlerOptions::default()).await;
    let t = now_ms() - 60_000;
    let a = body(vec![record(
        "shape-a@contoso.com",
        DISK_WRITE,
        &resource("disks", "d1"),
        "Success",
        "c-a",
        t,
    )]);
    let b = body(vec![record(
        "shape-b@contoso.com",
        DISK_WRITE,
        &resource("disks", "d1"),
        "Success",
        "c-b",
        t,
    )]);
    let (s1, r1) = h
        .post("/ActivityLog", invocation_text(std::slice::from_ref(&a)))
        .await;
    let (s2, r2) = h
        .post("/ActivityLog", invocation_array(std::slice::from_ref(&b)))
        .await;
    assert_eq!((s1.as_u16(), s2.as_u16()), (200, 200));
    assert!(
        logs_have(&r1.logs, "scored 1") && logs_have(&r2.logs, "scored 1"),
        "{:?} {:?}",
        r1.logs,
        r2.logs
    );
    assert_eq!(h.units(&h.key_of(&a["records"][0])).await, 1);
    assert_eq!(h.units(&h.key_of(&b["records"][0])).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_delivered_twice_is_counted_once_and_alerted_once() {
    let (_az, receiver, h) = setup(HandlerOptions {
        tuning: EVERY_TIER.into(),
        ..Default::default()
    })
    .await;
    // A guest UPN: `#` is illegal in Table keys, the hashed key is not.
    let guest = "partner_fabrikam.com#EXT#@contoso.onmicrosoft.com";
    let t = now_ms() - 300_000;
    let recs = vec![
        record(
            guest,
            VM_DELETE,
            &resource("virtualMachines", "vm1"),
            "Start",
            "c-1",
            t,
        ),
        record(
            guest,
            VM_DELETE,
            &resource("virtualMachines", "vm1"),
            "Success",
            "c-1",
            t + 1000,
        ),
        record(
            guest,
            VM_DELETE,
            &resource("virtualMachines", "vm2"),
            "Start",
            "c-2",
            t + 2000,
        ),
        record(
            guest,
            VM_DELETE,
            &resource("virtualMachines", "vm2"),
            "Success",
            "c-2",
            t + 3000,
        ),
    ];
    let batch = vec![body(recs.clone())];
    let (s1, r1) = h.batch(&batch).await;
    assert_eq!(s1, 200, "{:?}", r1.logs);
    let (s2, r2) = h.batch(&batch).await;
    assert_eq!(s2, 200, "{:?}", r2.logs);
    assert!(
        logs_have(&r2.logs, "duplicates 2") && logs_have(&r2.logs, "writes 0"),
        "{:?}",
        r2.logs
    );
    let key = h.key_of(&recs[1]);
    assert_eq!(h.units(&key).await, 2);
    let alerts = receiver.alerts();
    let tiers: BTreeSet<String> = alerts
        .iter()
        .map(|a| a["unmapped"]["tier"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        alerts.len(),
        2,
        "suspicious at 3 points, high risk at 6; nothing on the re-delivery"
    );
    assert_eq!(
        tiers,
        BTreeSet::from(["suspicious".to_string(), "high_risk".to_string()])
    );
    assert_eq!(alerts[1]["actor"]["user"]["name"], guest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_concurrent_batches_on_one_principal_count_exactly() {
    let (_az, receiver, h) = setup(HandlerOptions::default()).await;
    let who = "race@contoso.com";
    let t = now_ms() - 600_000;
    let batches: Vec<Vec<Value>> = (0..16)
        .map(|b| {
            let recs = (0..3)
                .map(|i| {
                    let n = b * 3 + i;
                    record(
                        who,
                        DISK_WRITE,
                        &resource("disks", &format!("d{n}")),
                        "Success",
                        &format!("c-{n}"),
                        t + n as i64 * 1000,
                    )
                })
                .collect();
            vec![body(recs)]
        })
        .collect();
    let key = h.key_of(&batches[0][0]["records"][0]);
    let state = h.state.clone();
    let tasks: Vec<_> = batches
        .into_iter()
        .map(|b| {
            let h = Handler { state: state.clone() };
            tokio::spawn(async move { h.batch(&b).await })
        })
        .collect();
    for r in join_all(tasks).await {
        let (status, resp) = r.unwrap();
        assert_eq!(status, 200, "{:?}", resp.logs);
        assert!(logs_have(&resp.logs, "failed keys 0"), "{:?}", resp.logs);
    }
    assert_eq!(
        h.units(&key).await,
        48,
        "16 batches x 3 distinct operations, each counted exactly once"
    );
    assert_eq!(h.pending(&key).await, 0, "nothing left in the outbox");
    // Each decision is published exactly once, and the decisions are those of one sequential
    // writer: one finding (48 disk writes of one principal), created once, then updated as it
    // escalates, each report numbered once.
    let alerts = by_dedup(receiver.alerts());
    let duplicates: usize = alerts.values().map(|v| v.len() - 1).sum();
    assert_eq!(duplicates, 0, "{:?}", alerts.keys());
    assert!(alerts.len() >= 2, "created and updated: {:?}", alerts.keys());
    let findings: BTreeSet<&str> = alerts
        .values()
        .map(|v| v[0]["finding_info"]["uid"].as_str().unwrap())
        .collect();
    assert_eq!(findings.len(), 1, "{findings:?}");
    let mut reports: Vec<(u64, u64)> = alerts
        .values()
        .map(|v| {
            let a = &v[0];
            let count = a["unmapped"]["finding"]["count"].as_u64().unwrap();
            (count, a["activity_id"].as_u64().unwrap())
        })
        .collect();
    reports.sort();
    let want: Vec<(u64, u64)> = (1..=reports.len() as u64)
        .map(|n| (n, if n == 1 { 1 } else { 2 }))
        .collect();
    assert_eq!(reports, want, "one Create, then Updates 2..n, none twice");
}

async fn failure_then_retry(fault: Fault) {
    let az = Azurite::start();
    let receiver = Receiver::start().await;
    let proxy = FaultProxy::start(&az).await;
    let o = HandlerOptions {
        table_timeout: Duration::from_millis(800),
        tuning: EVERY_TIER.into(),
        outbox_lease: SHORT_LEASE,
        ..Default::default()
    };
    let h = Handler::new(&az, &proxy.endpoint(), &receiver, o).await;
    let t = now_ms() - 120_000;
    let principals: Vec<String> = (0..10).map(|p| format!("user{p}@contoso.com")).collect();
    let recs: Vec<Value> = principals
        .iter()
        .enumerate()
        .flat_map(|(p, who)| {
            (0..2).map(move |i| {
                let n = p * 2 + i;
                record(
                    who,
                    VM_DELETE,
                    &resource("virtualMachines", &format!("vm{n}")),
                    "Success",
                    &format!("c-{n}"),
                    t + n as i64,
                )
            })
        })
        .collect();
    let batch = vec![body(recs[..10].to_vec()), body(recs[10..].to_vec())];
    // 10 keys: 20 requests when healthy. Fail from the 8th on: some keys done, some not.
    proxy.fail(7, usize::MAX, fault);
    let (s1, r1) = h.batch(&batch).await;
    assert_eq!(s1, 500, "{:?}", r1.logs);
    assert!(logs_have(&r1.logs, "retryable failure on key"), "{:?}", r1.logs);
    proxy.heal();
    let unmarked: usize = r1
        .logs
        .iter()
        .find_map(|l| l.split("published but not marked sent ").nth(1))
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .unwrap()
        .parse()
        .unwrap();
    // What the first run saved and could not settle (published but not marked sent, or a save
    // whose answer was lost) is still leased to it: those records are kept (500, retryable)
    // until the lease runs out, and then the retry takes the alerts over.
    let mut waits = 0;
    let (s2, r2) = loop {
        let (s, r) = h.batch(&batch).await;
        if s == 200 || waits == 3 {
            break (s, r);
        }
        assert!(logs_have(&r.logs, HELD), "{:?}", r.logs);
        waits += 1;
        tokio::time::sleep(SHORT_LEASE).await;
    };
    assert_eq!(s2, 200, "{:?}", r2.logs);
    assert!(
        unmarked == 0 || waits > 0,
        "an unmarked alert was taken over within its lease"
    );
    for (p, rec) in recs.iter().enumerate().step_by(2) {
        assert_eq!(
            h.units(&h.key_of(rec)).await,
            2,
            "principal {} counted once",
            p / 2
        );
    }
    let alerts = by_dedup(receiver.alerts());
    assert_eq!(
        alerts.len(),
        20,
        "suspicious and high-risk for each of the 10 principals"
    );
    // Only an alert published whose outbox entry could not be marked sent (the table failed
    // in between) is published again by the retry; every other decision exactly once.
    let repeats: usize = alerts.values().map(|v| v.len() - 1).sum();
    assert_eq!(repeats, unmarked, "{fault:?}: {:?}", r1.logs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_answering_503_mid_run_gives_500_and_the_retry_counts_once() {
    failure_then_retry(Fault::Busy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_timing_out_mid_run_gives_500_and_the_retry_counts_once() {
    failure_then_retry(Fault::Hang).await;
}

#[tokio::test]
async fn logic_app_500_then_200_delivers_once_and_the_url_is_never_logged() {
    use std::io::Write;
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (_az, receiver, h) = setup(HandlerOptions::default()).await;
    let t = now_ms() - 60_000;
    let one = vec![body(vec![record(
        "sas@contoso.com",
        DISK_SAS,
        &resource("disks", "d1"),
        "Success",
        "c-1",
        t,
    )])];
    receiver.state.fail_next.store(1, Ordering::SeqCst);
    let (s, r) = h.batch(&one).await;
    assert_eq!(s, 200, "{:?}", r.logs);
    assert_eq!(receiver.state.attempts.load(Ordering::SeqCst), 2);
    assert_eq!(receiver.alerts().len(), 1);

    // Down for longer than the sink's 3 attempts: 500, nothing saved, then the re-drive.
    let two = vec![body(vec![record(
        "sas2@contoso.com",
        DISK_SAS,
        &resource("disks", "d2"),
        "Success",
        "c-2",
        t,
    )])];
    receiver.state.fail_next.store(5, Ordering::SeqCst);
    let (s, r) = h.batch(&two).await;
    assert_eq!(s, 500, "{:?}", r.logs);
    assert!(
        logs_have(&r.logs, "Logic App unavailable after 3 attempts: HTTP 500"),
        "{:?}",
        r.logs
    );
    let key = h.key_of(&two[0]["records"][0]);
    assert_eq!(h.units(&key).await, 1, "counted, and");
    assert_eq!(h.pending(&key).await, 1, "the decision is pending in the outbox");
    receiver.state.fail_next.store(0, Ordering::SeqCst);
    let (s, r) = h.batch(&two).await;
    assert_eq!(s, 200, "{:?}", r.logs);
    assert_eq!(h.units(&key).await, 1);
    assert_eq!(h.pending(&key).await, 0);
    let alerts = by_dedup(receiver.alerts());
    assert_eq!(alerts.len(), 2);
    assert!(alerts.values().all(|v| v.len() == 1), "each alert accepted once");
    assert!(
        receiver
            .state
            .queries
            .lock()
            .unwrap()
            .iter()
            .all(|q| q.contains(SIG)),
        "the sink used the full URL"
    );

    let logged = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("alert delivery failed"), "warnings were captured");
    for text in [logged.as_str(), &r.logs.join("\n")] {
        assert!(
            !text.contains(SIG) && !text.contains("sig="),
            "the Logic App URL leaked: {text}"
        );
    }
}

/// A readable record (a disk SAS by a user) to send beside unreadable ones.
fn good_sas_record(t: i64) -> serde_json::Value {
    record(
        "good@contoso.com",
        DISK_SAS,
        &resource("disks", "d1"),
        "Success",
        "c-1",
        t,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_records_are_named_in_logs_and_the_good_ones_processed() {
    let (_az, receiver, h) = setup(HandlerOptions::default()).await;
    let t = now_ms() - 60_000;
    let good = good_sas_record(t);
    let mut no_time = record(
        "bad@contoso.com",
        VM_DELETE,
        &resource("virtualMachines", "v"),
        "Success",
        "c-2",
        t,
    );
    no_time.as_object_mut().unwrap().remove("time");
    let mut bad_time = record(
        "bad@contoso.com",
        VM_DELETE,
        &resource("virtualMachines", "v"),
        "Success",
        "c-3",
        t,
    );
    bad_time["time"] = json!("yesterday");
    let events = vec![
        body(vec![good.clone()]).to_string(),
        "{not json".to_string(),
        body(vec![no_time, json!(42), bad_time, json!({"foo": "bar"})]).to_string(),
    ];
    let req =
        json!({"Data": {"events": serde_json::to_string(&events).unwrap()}, "Metadata": {}}).to_string();
    let (s, r) = h.post("/ActivityLog", req).await;
    assert_eq!(s, 200, "{:?}", r.logs);
    for line in [
        "parked event 1 record 0: invalid_json: event body is not JSON",
        "parked event 2 record 0: missing_field: missing field `time`",
        "parked event 2 record 1: not_an_object: record is not a JSON object",
        "parked event 2 record 2: invalid_field: field `time` is invalid",
        "parked event 2 record 3: unknown_shape: unrecognized record",
    ] {
        assert!(logs_have(&r.logs, line), "missing {line:?} in {:?}", r.logs);
    }
    assert!(logs_have(&r.logs, "records 6 (bad 5): scored 1"), "{:?}", r.logs);
    assert!(
        logs_have(&r.logs, "outcomes: 6 records, done 1, retry 0, parked 5"),
        "{:?}",
        r.logs
    );
    // Parked, not dropped: each with its reason, its position, and the record as it came.
    let parked = h.parked().await;
    let positions: Vec<&str> = parked
        .iter()
        .map(|p| p["parked"]["position"].as_str().unwrap())
        .collect();
    assert_eq!(
        positions,
        [
            "event 1 record 0",
            "event 2 record 0",
            "event 2 record 1",
            "event 2 record 2",
            "event 2 record 3"
        ]
    );
    assert!(parked[0]["parked"]["reason"]
        .as_str()
        .unwrap()
        .contains("event body is not JSON"));
    assert_eq!(parked[2]["records"][0], json!(42), "{:?}", parked[2]);
    assert_eq!(h.units(&h.key_of(&good)).await, 1);
    assert_eq!(receiver.alerts().len(), 1);
}

/// A batch the host delivers again after parking it (its answer lost, a new partition owner,
/// or the retry policy's next attempt) finds its records parked already: the blob is named by
/// the records and written only where none has that name, so the dead letters hold each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_delivered_again_after_it_was_parked_is_not_parked_twice() {
    let (_az, receiver, h) = setup(HandlerOptions::default()).await;
    let t = now_ms() - 60_000;
    let good = good_sas_record(t);
    let bodies = vec![body(vec![good.clone(), json!(42), json!({"foo": "bar"})])];
    let (s, first) = h.batch(&bodies).await;
    assert_eq!(s, 200, "{:?}", first.logs);
    assert!(
        logs_have(&first.logs, "parked records in dead-letter blob"),
        "{:?}",
        first.logs
    );
    // Again as a plain redelivery, then as the policy's last attempt.
    for (label, (s, r)) in [
        ("redelivery", h.batch(&bodies).await),
        ("last attempt", h.batch_retry(&bodies, 8, 8).await),
    ] {
        assert_eq!(s, 200, "{label}: {:?}", r.logs);
        assert!(
            logs_have(&r.logs, "outcomes: 3 records, done 1, retry 0, parked 2"),
            "{label}: {:?}",
            r.logs
        );
        assert!(
            logs_have(&r.logs, "already parked in dead-letter blob"),
            "{label}: {:?}",
            r.logs
        );
    }
    let names = h.state.dead_letters.list("").await.unwrap();
    assert_eq!(names.len(), 1, "{names:?}");
    let parked = h.parked().await;
    let records: Vec<&Value> = parked.iter().map(|p| &p["records"][0]).collect();
    assert_eq!(records, [&json!(42), &json!({"foo": "bar"})]);
    // Other records are another blob.
    let (s, r) = h.batch(&[body(vec![json!(43)])]).await;
    assert_eq!(s, 200, "{:?}", r.logs);
    assert_eq!(h.state.dead_letters.list("").await.unwrap().len(), 2);
    assert_eq!(h.units(&h.key_of(&good)).await, 1);
    assert_eq!(receiver.alerts().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_accept_success_of_one_operation_count_once() {
    phases_split_over_two_deliveries(60_000).await;
}

/// The same from a backlog forty days late (an Event Hub read after an outage): the window is
/// kept between the deliveries, so the Success is still the Accept's duplicate and the capture
/// alerts once. Before the store's expiry counted the lag, the first delivery's entity was
/// already expired and the Success alerted a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_days_late_keeps_its_window_between_deliveries() {
    phases_split_over_two_deliveries(40 * 86_400_000).await;
}

async fn phases_split_over_two_deliveries(age_ms: i64) {
    let (_az, receiver, h) = setup(HandlerOptions {
        tuning: EVERY_TIER.into(),
        ..Default::default()
    })
    .await;
    let who = "phases@contoso.com";
    let vm = resource("virtualMachines", "vm-phases");
    let t = now_ms() - age_ms;
    let start = record(who, CAPTURE, &vm, "Start", "corr-1", t);
    let accept = record(who, CAPTURE, &vm, "Accept", "corr-1", t + 500);
    let success = record(who, CAPTURE, &vm, "Success", "corr-1", t + 40_000);
    // Split over two deliveries, as Event Hubs may do.
    let (s1, r1) = h.batch(&[body(vec![start, accept.clone()])]).await;
    let (s2, r2) = h.batch(&[body(vec![success.clone()])]).await;
    assert_eq!((s1.as_u16(), s2.as_u16()), (200, 200));
    assert!(
        logs_have(&r1.logs, "not counted 1"),
        "Start is not counted: {:?}",
        r1.logs
    );
    assert!(
        logs_have(&r2.logs, "duplicates 1"),
        "Success repeats the Accept's unit: {:?}",
        r2.logs
    );
    assert_eq!(h.units(&h.key_of(&success)).await, 1);
    let alerts = receiver.alerts();
    assert_eq!(alerts.len(), 1, "capture (3 points) alerts once: {alerts:?}");
    assert_eq!(alerts[0]["unmapped"]["operation_count"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_records_from_fifty_principals_cost_about_a_hundred_table_requests() {
    let az = Azurite::start();
    let receiver = Receiver::start().await;
    let proxy = FaultProxy::start(&az).await;
    let h = Handler::new(&az, &proxy.endpoint(), &receiver, HandlerOptions::default()).await;
    let ops = [
        DISK_WRITE,
        VM_DELETE,
        "Microsoft.Compute/snapshots/write",
        "Microsoft.Compute/virtualMachines/write",
    ];
    let make = |round: usize| -> Vec<Value> {
        let t = now_ms() - 3_600_000 + round as i64 * 1_000_000;
        let recs: Vec<Value> = (0..1000)
            .map(|n| {
                let who = format!("p{:02}@contoso.com", n % 50);
                let op = ops[n % ops.len()];
                let kind = op.split('/').nth(1).unwrap();
                record(
                    &who,
                    op,
                    &resource(kind, &format!("r{round}-{n}")),
                    "Success",
                    &format!("c{round}-{n}"),
                    t + n as i64,
                )
            })
            .collect();
        recs.chunks(100).map(|c| body(c.to_vec())).collect()
    };
    for (round, label) in [
        (0, "first write (insert)"),
        (1, "second batch (replace with If-Match)"),
    ] {
        let batch = make(round);
        let (c0, p0, a0) = (
            h.state.store.client().requests(),
            proxy.requests(),
            receiver.alerts().len(),
        );
        let (s, r) = h.batch(&batch).await;
        assert_eq!(s, 200, "{:?}", r.logs);
        let (client_requests, proxied) = (h.state.store.client().requests() - c0, proxy.requests() - p0);
        assert_eq!(client_requests as usize, proxied);
        // One read and one write per key, plus one of each per alert published, to mark it
        // sent in the outbox as soon as it is out.
        let published = receiver.alerts().len() - a0;
        let alerted: BTreeSet<String> = receiver.alerts()[a0..]
            .iter()
            .map(|a| a["actor"]["user"]["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            client_requests as usize,
            100 + 2 * published,
            "{label}: {client_requests} Table requests for 50 keys, {} alerting, {published} alerts",
            alerted.len()
        );
    }
    for p in 0..50 {
        let rec = record(
            &format!("p{p:02}@contoso.com"),
            DISK_WRITE,
            &resource("disks", "x"),
            "Success",
            "x",
            now_ms(),
        );
        assert_eq!(
            h.units(&h.key_of(&rec)).await,
            40,
            "20 units per batch per principal"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_deletes_expired_windows_page_by_page_and_spares_live_ones() {
    let sweep = SweepOptions {
        page_size: 3,
        ..Default::default()
    };
    let (_az, _receiver, h) = setup(HandlerOptions {
        sweep,
        ..Default::default()
    })
    .await;
    let store = &h.state.store;
    let now = chrono::Utc::now().timestamp();
    let key = |i: usize| StateKey(format!("[\"test\",\"{i}\"]"));
    for i in 0..13 {
        let expires = if i < 10 { now - 100 - i as i64 } else { now + 3600 };
        assert_eq!(
            store
                .save(&key(i), &WindowState::new(&key(i)).encode(), expires, None)
                .await
                .unwrap(),
            SaveOutcome::Saved
        );
    }
    let (s, r) = h
        .post(
            "/Cleanup",
            json!({"Data": {"timer": {"Schedule": {}, "IsPastDue": false}}, "Metadata": {}}).to_string(),
        )
        .await;
    assert_eq!(s, 200, "{:?}", r.logs);
    assert!(
        logs_have(&r.logs, "deleted 10 expired windows, skipped 0"),
        "{:?}",
        r.logs
    );
    let pages: usize = r.logs[0]
        .split(", ")
        .last()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(pages >= 4, "10 expired entities at 3 per page: {:?}", r.logs);
    for i in 0..13 {
        let id = key(i).storage_id();
        let present = store.client().get_entity(&id, &id).await.unwrap().is_some();
        assert_eq!(present, i >= 10, "key {i}");
    }
    // The cleanup deletes with the queried ETag: a window written after the query survives.
    let id = key(10).storage_id();
    let (_, old_etag) = store.client().get_entity(&id, &id).await.unwrap().unwrap();
    let v = store.load(&key(10)).await.unwrap().unwrap().version;
    assert_eq!(
        store
            .save(
                &key(10),
                &WindowState::new(&key(10)).encode(),
                now + 7200,
                Some(&v)
            )
            .await
            .unwrap(),
        SaveOutcome::Saved
    );
    let outcome = store.client().delete_entity(&id, &id, &old_etag).await.unwrap();
    assert_eq!(outcome, t1578_azure_function::table::Write::Conflict);
    assert!(store.client().get_entity(&id, &id).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_window_is_ignored_on_read_and_replaced_conditionally() {
    let (_az, _receiver, h) = setup(HandlerOptions::default()).await;
    let t = now_ms() - 60_000;
    let rec = record(
        "stale@contoso.com",
        DISK_WRITE,
        &resource("disks", "d1"),
        "Success",
        "c-1",
        t,
    );
    let batch = vec![body(vec![rec.clone()])];
    assert_eq!(h.batch(&batch).await.0, 200);
    let key = h.key_of(&rec);
    assert_eq!(h.units(&key).await, 1);
    // Age the stored window past its end, as if the cleanup had not run yet.
    let stored = h.state.store.load(&key).await.unwrap().unwrap();
    let past = chrono::Utc::now().timestamp() - 10;
    assert_eq!(
        h.state
            .store
            .save(&key, &stored.bytes, past, Some(&stored.version))
            .await
            .unwrap(),
        SaveOutcome::Saved
    );
    assert_eq!(h.units(&key).await, 0, "expired window reads as empty");
    // The same event is counted again into a fresh window, saved over the expired entity.
    let (s, r) = h.batch(&batch).await;
    assert_eq!(s, 200, "{:?}", r.logs);
    assert!(logs_have(&r.logs, "conflicts 0"), "{:?}", r.logs);
    assert_eq!(h.units(&key).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_mode_records_state_and_sends_nothing() {
    let (_az, receiver, h) = setup(HandlerOptions {
        shadow: true,
        ..Default::default()
    })
    .await;
    let rec = record(
        "quiet@contoso.com",
        DISK_SAS,
        &resource("disks", "d1"),
        "Success",
        "c-1",
        now_ms() - 60_000,
    );
    let (s, r) = h.batch(&[body(vec![rec.clone()])]).await;
    assert_eq!(s, 200, "{:?}", r.logs);
    assert!(logs_have(&r.logs, "shadow critical alert"), "{:?}", r.logs);
    assert_eq!(receiver.state.attempts.load(Ordering::SeqCst), 0);
    assert_eq!(h.units(&h.key_of(&rec)).await, 1);
}

/// Kills the handler process on drop, by its own handle.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handler_binary_speaks_the_host_protocol() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let az = Azurite::start();
    let receiver = Receiver::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bin = env!("CARGO_BIN_EXE_handler");

    let missing = Command::new(bin)
        .env_clear()
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .output()
        .unwrap();
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("setting T1578_STATE_TABLE: missing"), "{stderr}");

    let mut run = Running(
        Command::new(bin)
            .env_clear()
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
            .env("T1578_STATE_TABLE", "binstate")
            .env("T1578_STORAGE_CONNECTION_STRING", az.connection_string())
            .env("T1578_LOGIC_APP_URL", &receiver.url)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(&base).send().await {
            assert_eq!(r.status(), 200);
            break;
        }
        assert!(Instant::now() < deadline, "handler did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rec = record(
        "bin@contoso.com",
        DISK_SAS,
        &resource("disks", "d1"),
        "Success",
        "c-1",
        now_ms() - 60_000,
    );
    let resp = http
        .post(format!("{base}/ActivityLog"))
        .header("content-type", "application/json; charset=utf-8")
        .body(invocation_text(&[body(vec![rec])]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(answer["Outputs"], json!({}));
    assert_eq!(answer["ReturnValue"], Value::Null);
    assert!(
        answer["Logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("alerts 1")),
        "{answer}"
    );
    assert_eq!(receiver.alerts().len(), 1);

    let _ = run.0.kill();
    let _ = run.0.wait();
    let mut out = String::new();
    run.0.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON log lines"))
        .collect();
    assert!(
        lines.iter().any(|l| l["fields"]["message"] == "batch processed"),
        "{out}"
    );
    assert!(!out.contains(SIG), "the Logic App URL leaked into the logs");
}

fn sas_batch(who: &str, n: usize) -> Vec<Value> {
    let t = now_ms() - 60_000;
    let recs = (0..n)
        .map(|i| {
            record(
                who,
                DISK_SAS,
                &resource("disks", &format!("d{i}")),
                "Success",
                &format!("c-{i}"),
                t + i as i64,
            )
        })
        .collect();
    vec![body(recs)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_past_the_retry_budget_parks_the_records_and_loses_none() {
    let az = Azurite::start();
    let receiver = Receiver::start().await;
    let proxy = FaultProxy::start(&az).await;
    let o = HandlerOptions {
        table_timeout: Duration::from_millis(800),
        ..Default::default()
    };
    let h = Handler::new(&az, &proxy.endpoint(), &receiver, o).await;
    let mut batch = sas_batch("outage@contoso.com", 3);
    batch.extend(sas_batch("other@contoso.com", 2));
    batch.push(json!({"records": [{"foo": "bar"}]}));
    proxy.fail(0, usize::MAX, Fault::Busy);
    // Within the budget: 500, the host re-drives; nothing parked (the bad record included:
    // the whole batch comes back).
    let (s, r) = h.batch_retry(&batch, 3, 8).await;
    assert_eq!(s, 500, "{:?}", r.logs);
    assert!(
        logs_have(&r.logs, "outcomes: 6 records, done 0, retry 5, parked 1"),
        "{:?}",
        r.logs
    );
    // The last attempt: the records of failing keys are parked with the reason, 200.
    let (s, r) = h.batch_retry(&batch, 8, 8).await;
    assert_eq!(s, 200, "{:?}", r.logs);
    assert!(
        logs_have(
            &r.logs,
            "outcomes: 6 records, done 0, retry 0, parked 6 (retry budget spent)"
        ),
        "{:?}",
        r.logs
    );
    let parked = h.parked().await;
    let last: Vec<&Value> = parked.iter().collect();
    assert!(last.iter().all(|p| p["parked"]["retry"] == 8));
    assert_eq!(last.len(), 6, "records in = processed (0) + parked (6)");
    let spent = last
        .iter()
        .filter(|p| {
            p["parked"]["reason"]
                .as_str()
                .unwrap()
                .starts_with("retry budget spent")
        })
        .count();
    assert_eq!(spent, 5);
    assert!(
        last[0]["parked"]["reason"].as_str().unwrap().contains("503"),
        "{:?}",
        last[0]
    );
    let mut got: Vec<&Value> = last.iter().map(|p| &p["records"][0]).collect();
    let mut sent: Vec<&Value> = batch
        .iter()
        .flat_map(|b| b["records"].as_array().unwrap())
        .collect();
    got.sort_by_key(|v| v.to_string());
    sent.sort_by_key(|v| v.to_string());
    assert_eq!(got, sent, "every record kept, as it came");
    assert!(receiver.alerts().is_empty());
    // A blob reads back through the reader `t1578 replay` uses, as the records themselves
    // (cli/tests/cli.rs replays such a blob end to end).
    let dl = &h.state.dead_letters;
    let names = dl.list("").await.unwrap();
    let blob = dl.get(names.last().unwrap()).await.unwrap();
    let read: Vec<Value> = t1578_core::source::split(&blob)
        .unwrap()
        .into_iter()
        .map(|(_, r)| r.unwrap())
        .collect();
    assert_eq!(read.len(), 6);
    let ok = t1578_core::source::normalize_document(&blob)
        .unwrap()
        .into_iter()
        .filter(|(_, r)| r.is_ok())
        .count();
    assert_eq!(
        ok, 5,
        "the five Activity Log records normalize again; the bad one stays bad"
    );
}

/// A burst of criticals, each a new one (a gallery shared again and again, every time another
/// gallery), decides one report per record. Saved in one write with the window, hundreds of
/// pending reports outgrow Table Storage's 64 KiB property: the save was refused, the records
/// parked and not one alert sent, whatever the retries (the redrive overflows the same way).
/// The outbox takes a bounded number of reports per write, so the burst is sent whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_critical_shares_is_alerted_not_refused_by_the_property_limit() {
    let (_az, receiver, h) = setup(HandlerOptions::default()).await;
    const SHARE: &str = "Microsoft.Compute/galleries/share/action";
    let t = now_ms() - 600_000;
    let n = 260;
    let recs: Vec<Value> = (0..n)
        .map(|i| {
            let gallery = resource("galleries", &format!("exfil-gallery-{i:04}"));
            let at = t + i as i64 * 1000;
            // The Start record: the one that names the recipients, from which a gallery
            // share is counted.
            let mut r = record(
                "burst@contoso.com",
                SHARE,
                &gallery,
                "Start",
                &format!("c-{i}"),
                at,
            );
            // Shared with another subscription each time.
            let to = format!("{i:08}-0000-4000-8000-000000000000");
            let share = json!({"operationType": "Add", "groups": [{"type": "Subscriptions", "ids": [to]}]});
            r["properties"]["requestbody"] = share.to_string().into();
            r
        })
        .collect();
    let key = h.key_of(&recs[0]);
    let (s, r) = h.batch(&[body(recs)]).await;
    assert_eq!(s, 200, "{:?}", r.logs);
    assert!(
        logs_have(
            &r.logs,
            &format!("outcomes: {n} records, done {n}, retry 0, parked 0")
        ),
        "{:?}",
        r.logs
    );
    assert!(h.parked().await.is_empty());
    let alerts = by_dedup(receiver.alerts());
    assert!(
        alerts.len() >= n / 2,
        "{} alerts for {n} new criticals",
        alerts.len()
    );
    assert!(alerts.values().all(|v| v.len() == 1), "each report sent once");
    assert_eq!(h.pending(&key).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_logic_app_failure_parks_the_records() {
    let (_az, receiver, h) = setup(HandlerOptions::default()).await;
    receiver.state.refuse.store(true, Ordering::SeqCst);
    let batch = sas_batch("refused@contoso.com", 2);
    let (s, r) = h.batch(&batch).await;
    assert_eq!(s, 200, "{:?}", r.logs);
    assert!(logs_have(&r.logs, "done 0, retry 0, parked 2"), "{:?}", r.logs);
    let parked = h.parked().await;
    assert_eq!(parked.len(), 2);
    for p in &parked {
        let reason = p["parked"]["reason"].as_str().unwrap();
        assert!(
            reason.contains("Logic App refused the alert: HTTP 403"),
            "{reason}"
        );
    }
    // The decision stays in the outbox: once the Logic App is fixed, redriving the parked
    // records (or any later record of the principal) publishes it, once.
    let key = h.key_of(&batch[0]["records"][0]);
    assert_eq!(h.pending(&key).await, 2);
    receiver.state.refuse.store(false, Ordering::SeqCst);
    let redrive: Vec<Value> = parked.iter().map(|p| json!({"records": p["records"]})).collect();
    let (s, r) = h.batch(&redrive).await;
    assert_eq!(s, 200, "{:?}", r.logs);
    assert_eq!(h.pending(&key).await, 0);
    let alerts = by_dedup(receiver.alerts());
    assert_eq!(alerts.len(), 2);
    assert!(alerts.values().all(|v| v.len() == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_megabyte_batch_is_accepted() {
    let (_az, receiver, h) = setup(HandlerOptions::default()).await;
    let t = now_ms() - 60_000;
    let filler = "x".repeat(900);
    // 100 Event Hub messages of ~100 KB: storage reads (out of scope, no store request) and
    // one SAS download per message.
    let batch: Vec<Value> = (0..100)
        .map(|m| {
            let mut recs: Vec<Value> = (0..100)
                .map(|i| {
                    let mut r = record(
                        "bulk@contoso.com",
                        "Microsoft.Storage/storageAccounts/read",
                        &format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/s{m}"),
                        "Success",
                        &format!("r-{m}-{i}"),
                        t,
                    );
                    r["properties"]["filler"] = json!(filler);
                    r
                })
                .collect();
            recs.push(record(
                &format!("bulk{m}@contoso.com"),
                DISK_SAS,
                &resource("disks", "d"),
                "Success",
                &format!("sas-{m}"),
                t,
            ));
            body(recs)
        })
        .collect();
    let text = invocation_text(&batch);
    assert!(text.len() > 10 * 1024 * 1024, "{} bytes", text.len());
    let (s, r) = h.post("/ActivityLog", text).await;
    assert_eq!(s, 200, "{:?}", r.logs);
    assert!(
        logs_have(&r.logs, "outcomes: 10100 records, done 10100, retry 0, parked 0"),
        "{:?}",
        r.logs
    );
    assert_eq!(receiver.alerts().len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_save_and_publish_is_published_exactly_once_on_retry() {
    let (_az, receiver, h) = setup(HandlerOptions {
        outbox_lease: SHORT_LEASE,
        ..Default::default()
    })
    .await;
    let batch = sas_batch("crash@contoso.com", 1);
    let key = h.key_of(&batch[0]["records"][0]);
    receiver.state.hang_next.store(1, Ordering::SeqCst);
    // The invocation dies while the Logic App holds the request: after the save, before the
    // publish completed (the host kills a worker that overruns its timeout the same way).
    let crashed = tokio::time::timeout(Duration::from_millis(1500), h.batch(&batch)).await;
    assert!(crashed.is_err(), "the invocation was not cut short");
    assert_eq!(h.units(&key).await, 1);
    assert_eq!(h.pending(&key).await, 1);
    assert!(receiver.alerts().is_empty());
    // The dead invocation's lease still runs: the retry keeps the record (500) and publishes
    // nothing, for the dead one may yet be sending it.
    let (s, r) = h.batch_retry(&batch, 1, 8).await;
    assert_eq!(s, 500, "{:?}", r.logs);
    assert!(logs_have(&r.logs, HELD), "{:?}", r.logs);
    assert_eq!((h.pending(&key).await, receiver.alerts().len()), (1, 0));
    // Once it ran out, the next retry publishes it.
    tokio::time::sleep(SHORT_LEASE).await;
    let (s, r) = h.batch_retry(&batch, 2, 8).await;
    assert_eq!(s, 200, "{:?}", r.logs);
    assert_eq!(h.pending(&key).await, 0);
    let (s, _) = h.batch_retry(&batch, 3, 8).await;
    assert_eq!(s, 200);
    let alerts = by_dedup(receiver.alerts());
    assert_eq!(alerts.len(), 1);
    assert!(alerts.values().all(|v| v.len() == 1), "published exactly once");
}

/// `observed_since = "first"` (what the Terraform module sets, as `T1578_OBSERVED_SINCE`): the
/// subscription's first event is recorded in the table by the first invocation and read back
/// by a cold instance, so a principal first seen in the first days is learned and one appearing
/// sixteen days later, once the subscription has been watched for the baseline period, is new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_event_is_recorded_in_the_table_and_read_back_by_a_cold_instance() {
    let learning = || HandlerOptions {
        tuning: "[defaults.baseline]\nobserved_since = \"first\"".into(),
        ..Default::default()
    };
    let (az, receiver, h) = setup(learning()).await;
    let day = 86_400_000;
    let t0 = now_ms() - 16 * day;
    let first = record(
        "ops@contoso.com",
        DISK_WRITE,
        &resource("disks", "d-ops"),
        "Success",
        "c-ops",
        t0,
    );
    let (s, r) = h.batch(&[body(vec![first.clone()])]).await;
    assert_eq!(s, 200, "{:?}", r.logs);
    let account = normalize(first).unwrap().account;
    let key = t1578_core::Engine::first_event_key(t1578_core::Cloud::Azure, &account);
    let recorded = h.state.store.load(&key).await.unwrap().expect("recorded");
    assert_eq!(recorded.bytes, t0.to_string().into_bytes());
    // A cold instance: ci, first seen a day after the start, is learned; bob is new.
    let cold = Handler::new(&az, &az.endpoint(), &receiver, learning()).await;
    let deletes = |who: &str, t: i64| {
        let recs = (0..3)
            .map(|i| {
                let vm = resource("virtualMachines", &format!("vm-{who}-{i}"));
                record(
                    &format!("{who}@contoso.com"),
                    VM_DELETE,
                    &vm,
                    "Success",
                    &format!("c-{who}-{i}"),
                    t + i * 1000,
                )
            })
            .collect();
        vec![body(recs)]
    };
    for (who, t) in [("ci", t0 + day), ("bob", now_ms() - 60_000)] {
        let (s, r) = cold.batch(&deletes(who, t)).await;
        assert_eq!(s, 200, "{:?}", r.logs);
    }
    let names: BTreeSet<String> = receiver
        .alerts()
        .iter()
        .map(|a| {
            a["actor"]["user"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["bob@contoso.com".to_string()]),
        "{names:?}"
    );
    let again = cold.state.store.load(&key).await.unwrap().unwrap();
    assert_eq!(again.version, recorded.version, "read back, not written again");
}
