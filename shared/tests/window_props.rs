//! The rolling window against a plain batch computation of the seed's KQL, and its bounds.

use proptest::prelude::*;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use t1578_core::alert::Tier;
use t1578_core::engine::{Engine, Profile, ProfileName};
use t1578_core::kql;
use t1578_core::memory::{MemorySink, MemoryStore};
use t1578_core::pipeline::{process_batch, BatchReport, PipelineOptions};
use t1578_core::window::WindowState;
use t1578_core::{normalize, Catalog, ComputeEvent};

/// One delivery through the pipeline, on a store and sink that outlive it.
fn deliver(engine: &Engine, store: &MemoryStore, sink: &MemorySink, events: &[ComputeEvent]) -> BatchReport {
    futures::executor::block_on(process_batch(
        engine,
        store,
        sink,
        events,
        &PipelineOptions::default(),
    ))
}

const DAY: i64 = 86_400_000;
const T0: i64 = 1_790_000_000_000;

const OPS: [&str; 15] = [
    "MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE",
    "MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE",
    "MICROSOFT.COMPUTE/SNAPSHOTS/WRITE",
    "MICROSOFT.COMPUTE/SNAPSHOTS/DELETE",
    "microsoft.compute/disks/write",
    "MICROSOFT.COMPUTE/DISKS/DELETE",
    "MICROSOFT.COMPUTE/VIRTUALMACHINES/DEALLOCATE/ACTION",
    "MICROSOFT.COMPUTE/VIRTUALMACHINES/GENERALIZE/ACTION",
    "MICROSOFT.COMPUTE/VIRTUALMACHINES/CAPTURE/ACTION",
    "MICROSOFT.COMPUTE/VIRTUALMACHINES/EXTENSIONS/WRITE",
    "MICROSOFT.COMPUTE/VIRTUALMACHINESCALESETS/WRITE",
    "MICROSOFT.COMPUTE/VIRTUALMACHINESCALESETS/DELETE",
    "MICROSOFT.COMPUTE/RESTOREPOINTCOLLECTIONS/WRITE",
    "MICROSOFT.COMPUTE/DISKS/BEGINGETACCESS/ACTION",
    "MICROSOFT.STORAGE/STORAGEACCOUNTS/DELETE",
];
const STATUSES: [&str; 6] = ["Start", "Success", "Started", "Succeeded", "Accept", "Failure"];
const CALLERS: [&str; 3] = [
    "alice@contoso.com",
    "bob@contoso.com",
    "11111111-2222-3333-4444-555555555555",
];
const IPS: [&str; 2] = ["203.0.113.10", "198.51.100.7"];
const RGS: [&str; 2] = ["RG-PROD", "RG-DEV"];

#[derive(Debug, Clone)]
struct Gen {
    op: usize,
    status: usize,
    caller: usize,
    ip: usize,
    rg: usize,
    resource: usize,
    minute: i64,
}

fn gen_event() -> impl Strategy<Value = Gen> {
    (
        0..OPS.len(),
        0..STATUSES.len(),
        0..CALLERS.len(),
        0..IPS.len(),
        0..RGS.len(),
        0..6usize,
        0..(3 * 24 * 60i64),
    )
        .prop_map(|(op, status, caller, ip, rg, resource, minute)| Gen {
            op,
            status,
            caller,
            ip,
            rg,
            resource,
            minute,
        })
}

fn la_row(g: &Gen, n: usize) -> serde_json::Value {
    let op = OPS[g.op];
    let provider = op.split('/').next().unwrap();
    json!({
        "TimeGenerated": t1578_core::alert::rfc3339(T0 + g.minute * 60_000),
        "OperationNameValue": op,
        "ActivityStatusValue": STATUSES[g.status],
        "Caller": CALLERS[g.caller],
        "CallerIpAddress": IPS[g.ip],
        "ResourceGroup": RGS[g.rg],
        "SubscriptionId": "aaaaaaaa-1111-2222-3333-444444444444",
        "ResourceId": format!("/subscriptions/aaaaaaaa-1111-2222-3333-444444444444/resourceGroups/{}/providers/Microsoft.Compute/disks/d{}", RGS[g.rg], g.resource),
        "ResourceProviderValue": provider,
        "EventDataId": format!("ed-{n}"),
        "CorrelationId": format!("corr-{n}"),
    })
}

/// What the KQL returns for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    count: u32,
    unique: u32,
    types: BTreeSet<String>,
    risk: u32,
    first: i64,
    last: i64,
    resources: BTreeSet<String>,
    reason: Option<&'static str>,
}

/// The seed's grouping columns: PrincipalName, CallerIp, ResourceGroup, SubscriptionId.
type Group = (String, String, String, String);

/// A direct transcription of the seed's query over distinct records, run at `now`.
fn kql_batch(
    events: &[ComputeEvent],
    now: i64,
) -> BTreeMap<(String, String, String, String), (Row, ComputeEvent)> {
    let mut seen = HashSet::new();
    let mut groups: BTreeMap<Group, (Vec<&ComputeEvent>, ComputeEvent)> = BTreeMap::new();
    for e in events {
        if !seen.insert(e.event_id.clone()) || e.time_ms < now - DAY || e.time_ms > now {
            continue;
        }
        if e.provider != "microsoft.compute"
            || kql::has_any(&e.operation_raw, &kql::SEED_OPERATIONS).is_none()
        {
            continue;
        }
        let status = match e.phase {
            t1578_core::Phase::Start => "start",
            t1578_core::Phase::Success => "success",
            _ => "other",
        };
        if !kql::SEED_STATUSES.contains(&status) {
            continue;
        }
        let key = (
            e.principal.name.clone(),
            e.source_ip.clone().unwrap_or_default(),
            e.scope.clone(),
            e.account.clone(),
        );
        groups
            .entry(key)
            .or_insert_with(|| (Vec::new(), e.clone()))
            .0
            .push(e);
    }
    groups
        .into_iter()
        .map(|(k, (rows, rep))| {
            let types: BTreeSet<String> = rows
                .iter()
                .map(|e| kql::operation_type(&e.operation_raw).as_str().to_string())
                .collect();
            let risk = rows
                .iter()
                .map(|e| kql::risk_points(kql::operation_type(&e.operation_raw)))
                .sum::<u32>();
            let resources: BTreeSet<String> = rows.iter().map(|e| e.resources[0].clone()).collect();
            let count = rows.len() as u32;
            let unique = resources.len() as u32;
            let alert = risk >= 3 || (count >= 5 && unique >= 3);
            let reason = if !alert {
                None
            } else if risk >= 6 {
                Some(kql::REASON_HIGH_RISK)
            } else if risk >= 3 && count >= 5 {
                Some(kql::REASON_ELEVATED)
            } else if count >= 5 && unique >= 3 {
                Some(kql::REASON_BULK)
            } else {
                Some(kql::REASON_SUSPICIOUS)
            };
            let row = Row {
                count,
                unique,
                types,
                risk,
                first: rows.iter().map(|e| e.time_ms).min().unwrap(),
                last: rows.iter().map(|e| e.time_ms).max().unwrap(),
                resources,
                reason,
            };
            (k, (row, rep))
        })
        .collect()
}

fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        v.swap(i, (seed >> 33) as usize % (i + 1));
    }
}

fn seed_engine() -> Engine {
    Engine::new(Catalog::builtin().unwrap(), Profile::named(ProfileName::SeedKql))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Streaming == batch, whatever the arrival order, batch split and duplicates.
    #[test]
    fn streaming_seed_kql_equals_the_batch_query(
        gens in prop::collection::vec(gen_event(), 1..70),
        order in any::<u64>(),
        dups in prop::collection::vec(0..70usize, 0..20),
        batch in 1usize..12,
    ) {
        let engine = seed_engine();
        let events: Vec<ComputeEvent> = gens.iter().enumerate().map(|(n, g)| normalize(la_row(g, n)).unwrap()).collect();
        let now = events.iter().map(|e| e.time_ms).max().unwrap();
        let expected = kql_batch(&events, now);

        let mut delivered = events.clone();
        delivered.extend(dups.iter().filter(|&&i| i < events.len()).map(|&i| events[i].clone()));
        shuffle(&mut delivered, order);
        let store = MemoryStore::new();
        let sink = MemorySink::new();
        for chunk in delivered.chunks(batch) {
            let r = deliver(&engine, &store, &sink, chunk);
            prop_assert!(r.failures.is_empty());
        }

        let mut checked = HashSet::new();
        for (row, rep) in expected.values() {
            let key = engine.score(rep).unwrap().key;
            checked.insert(key.clone());
            let state = WindowState::decode(&store.get_bytes(&key).unwrap(), &key).unwrap();
            let got = state.aggregate_at(&engine.catalog, ProfileName::SeedKql, now, DAY);
            prop_assert_eq!(got.operation_count, row.count);
            prop_assert_eq!(got.unique_resources, row.unique);
            prop_assert_eq!(got.total_risk, row.risk);
            prop_assert_eq!(got.first_seen, row.first);
            prop_assert_eq!(got.last_seen, row.last);
            let types: BTreeSet<String> = got.operation_types.iter().map(|t| t.as_str().to_string()).collect();
            prop_assert_eq!(&types, &row.types);
            let res: BTreeSet<String> = got.resources.iter().cloned().collect();
            prop_assert!(res.is_subset(&row.resources));
            prop_assert_eq!(res.len(), row.resources.len().min(10));
            let reason = engine.profile.thresholds.tier(&got).map(Tier::seed_reason);
            prop_assert_eq!(reason, row.reason);
        }
        // Every other window holds nothing inside the query's day.
        for e in &events {
            if let Ok(s) = engine.score(e) {
                if !checked.contains(&s.key) {
                    let state = WindowState::decode(&store.get_bytes(&s.key).unwrap(), &s.key).unwrap();
                    prop_assert_eq!(state.aggregate_at(&engine.catalog, ProfileName::SeedKql, now, DAY).operation_count, 0);
                }
            }
        }
    }
}

fn long(prefix: &str, n: usize) -> String {
    format!("{prefix}{}", "x".repeat(400 + n % 7))
}

/// One principal, 1,000,000 events over ten days: state stays under 16 KiB, duplicates change
/// nothing, and the alerts are the ones the tiers call for.
#[test]
fn a_million_events_keep_state_bounded_and_alerts_right() {
    let engine = Engine::new(Catalog::builtin().unwrap(), Profile::named(ProfileName::Default));
    let store = MemoryStore::new();
    let sink = MemorySink::new();
    let total = 1_000_000i64;
    let step = 10 * DAY / total;
    let caller = long("attacker\"\n\u{0}", 0);
    let mut max_bytes = 0;
    let mut key = None;
    let chunk = 20_000;
    for start in (0..total).step_by(chunk) {
        let events: Vec<ComputeEvent> = (start..(start + chunk as i64).min(total))
            .map(|i| {
                normalize(json!({
                    "time": t1578_core::alert::rfc3339(T0 + i * step),
                    "resourceId": format!("/subscriptions/s/resourceGroups/{}/providers/Microsoft.Compute/virtualMachines/{}", long("rg", i as usize), long("vm", i as usize) + &i.to_string()),
                    "operationName": "MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE",
                    "resultType": "Success",
                    "correlationId": format!("c-{i}"),
                    "callerIpAddress": format!("2001:db8::{:x}:{}", i % 50, "f".repeat(30)),
                    "identity": {"claims": {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": caller}}
                }))
                .unwrap()
            })
            .collect();
        let r = deliver(&engine, &store, &sink, &events);
        assert!(r.failures.is_empty());
        let k = key
            .get_or_insert_with(|| engine.score(&events[0]).unwrap().key)
            .clone();
        let bytes = store.get_bytes(&k).unwrap();
        max_bytes = max_bytes.max(bytes.len());
        if start == 200_000 {
            // Re-deliver the whole chunk: nothing changes, nothing alerts.
            let before = sink.alerts().len();
            let again = deliver(&engine, &store, &sink, &events);
            assert_eq!(store.get_bytes(&k).unwrap(), bytes);
            assert_eq!(again.store_writes, 0);
            assert_eq!(sink.alerts().len(), before);
        }
    }
    assert!(max_bytes <= 16 * 1024, "state reached {max_bytes} bytes");
    let alerts = sink.alerts();
    // First event: 3 points, the seed's lowest tier: evidence for a new principal, no finding;
    // second: 6 (high risk), a new finding; then an update each time the activity doubles until
    // the window holds its 200 units. The principal is new, so the seed's thresholds apply: a
    // new finding each day once the last report has left the window (its first days do not hold
    // a finding whose report, 128 operations, could never double within the bound: days of mass
    // activity do not pass as one report). From the third day it is established, and the same
    // volume at the same hours is its routine: only the rotating networks keep it alerting,
    // once its history is settled (active on `settled_days`, 5, of its last 14 days: from the
    // fifth calendar day it acts on): a thin history's networks are all new, and weigh one at
    // most.
    let day1: Vec<_> = alerts.iter().filter(|a| a.time < T0 + DAY).collect();
    assert_eq!(
        day1[0].tier(),
        Tier::HighRisk,
        "{:?}",
        alerts
            .iter()
            .take(3)
            .map(|a| (&a.time_dt, a.tier(), &a.finding_info.desc))
            .collect::<Vec<_>>()
    );
    assert!(day1[0].is_new_finding());
    assert!(day1[1..]
        .iter()
        .all(|a| a.tier() == Tier::HighRisk && !a.is_new_finding()));
    assert!(day1
        .iter()
        .all(|a| a.finding_info.uid == day1[0].finding_info.uid));
    let counts: Vec<u32> = day1.iter().map(|a| a.unmapped.operation_count).collect();
    assert!(counts.windows(2).all(|w| w[1] >= 2 * w[0]), "{counts:?}");
    let later: Vec<_> = alerts.iter().filter(|a| a.time >= T0 + DAY).collect();
    assert!(later
        .iter()
        .all(|a| a.is_new_finding() && a.tier() == Tier::HighRisk));
    let days: Vec<i64> = later.iter().map(|a| (a.time - T0) / DAY).collect();
    assert_eq!(&days[..6], &[1, 2, 4, 5, 6, 7], "one finding a day");
    // The 50 "addresses" are not addresses, so each is its own network, and 50 rotate through
    // a memory of 32: an established principal still alerts, for that reason alone.
    for a in &later {
        let b = a.unmapped.baseline.as_ref().unwrap();
        let established = a.time >= T0 + 3 * DAY;
        assert_eq!(b.established, established, "{}", a.time_dt);
        if established {
            assert!(b.unusual_score >= 2, "{b:?}");
            let mut signs = b.reasons.iter().filter(|r| r.weight > 0);
            assert!(signs.clone().any(|r| r.code == "new_network"), "{b:?}");
            assert!(
                signs.all(|r| r.code == "new_network" || r.code == "new_scope"),
                "{b:?}"
            );
        }
    }
    assert!(alerts.iter().any(|a| a.unmapped.counts_are_lower_bounds));
    assert!(alerts.iter().all(|a| a.actor.user.name.len() <= 256
        && a.resources.len() <= 10
        && a.unmapped.source_ips.len() <= 10));
}

/// Every string a record brings at its longest (principal, resource group and names, event
/// ids, addresses that are not addresses, user agents, sessions), a new one per event, over
/// more days than the baseline keeps and every operation type: the encoded window still stays
/// within 16 KiB, on both clouds and both profiles.
#[test]
fn adversarial_strings_keep_state_under_16_kib() {
    const AZ_OPS: [&str; 10] = [
        "MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE",
        "MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE",
        "MICROSOFT.COMPUTE/SNAPSHOTS/WRITE",
        "MICROSOFT.COMPUTE/DISKS/DELETE",
        "MICROSOFT.COMPUTE/VIRTUALMACHINES/GENERALIZE/ACTION",
        "MICROSOFT.COMPUTE/VIRTUALMACHINES/CAPTURE/ACTION",
        "MICROSOFT.COMPUTE/VIRTUALMACHINES/EXTENSIONS/WRITE",
        "MICROSOFT.COMPUTE/DISKS/BEGINGETACCESS/ACTION",
        "MICROSOFT.COMPUTE/VIRTUALMACHINES/EXTENSIONS/DELETE",
        "MICROSOFT.COMPUTE/VIRTUALMACHINES/RUNCOMMANDS/WRITE",
    ];
    const AWS_OPS: [&str; 6] = [
        "RunInstances",
        "TerminateInstances",
        "CreateSnapshot",
        "DeleteSnapshot",
        "CreateImage",
        "StopInstances",
    ];
    let l = |p: &str, i: i64| format!("{p}{i}-{}", "\u{e9}\"\n".repeat(300));
    let azure = |i: i64, t: i64| {
        let op = AZ_OPS[(i % AZ_OPS.len() as i64) as usize];
        // A VM part's id names its machine, which the window links for the machine sequences.
        let part = match op.split('/').nth(3) {
            Some("EXTENSIONS") if op.ends_with("DELETE") => format!("/extensions/{}", l("mde.", i)),
            Some("EXTENSIONS") => format!("/extensions/{}", l("customscript", i)),
            Some("RUNCOMMANDS") => format!("/runCommands/{}", l("rc", i)),
            _ => String::new(),
        };
        json!({
            "time": t1578_core::alert::rfc3339(t),
            "resourceId": format!("/subscriptions/s/resourceGroups/{}/providers/Microsoft.Compute/virtualMachines/{}{part}", l("rg", i), l("vm", i)),
            "operationName": op, "resultType": "Success",
            "correlationId": l("corr", i), "eventDataId": l("ed", i), "callerIpAddress": l("ip", i),
            "identity": {"claims": {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": l("mallory", 0)}}
        })
    };
    let aws = |i: i64, t: i64| {
        json!({
            "eventVersion": "1.08", "eventSource": "ec2.amazonaws.com", "eventName": AWS_OPS[(i % 6) as usize],
            "eventTime": t1578_core::alert::rfc3339(t), "eventID": l("ev", i), "awsRegion": l("region", i),
            "recipientAccountId": "111122223333", "sourceIPAddress": l("ip", i), "userAgent": l("ua", i),
            "userIdentity": {"type": "AssumedRole", "accountId": "111122223333",
                "arn": format!("arn:aws:sts::111122223333:assumed-role/{}/{}", l("role", 0), l("s", i)),
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::111122223333:role/{}", l("role", 0))}}},
            "requestParameters": {"instancesSet": {"items": [{"instanceId": l("i-", i)}, {"instanceId": l("i-b", i)}]},
                "volumeId": l("vol-", i), "snapshotId": l("snap-", i), "instanceId": l("i-c", i)},
            "responseElements": {"snapshotId": l("snap-r", i), "imageId": l("ami-", i)}
        })
    };
    for make in [&azure as &dyn Fn(i64, i64) -> serde_json::Value, &aws] {
        for profile in [ProfileName::Default, ProfileName::SeedKql] {
            let engine = Engine::new(Catalog::builtin().unwrap(), Profile::named(profile));
            let (store, sink) = (MemoryStore::new(), MemorySink::new());
            let mut max_bytes = 0;
            for day in 0..20i64 {
                let events: Vec<ComputeEvent> = (0..300i64)
                    .map(|j| normalize(make(day * 1000 + j, T0 + day * DAY + j * 250_000)).unwrap())
                    .collect();
                let r = deliver(&engine, &store, &sink, &events);
                assert!(r.failures.is_empty(), "{:?}", r.failures);
                let key = engine.score(&events[0]).unwrap().key;
                let bytes = store.get_bytes(&key).unwrap();
                let (window, pending) = t1578_core::outbox::split(&bytes).unwrap();
                assert!(pending.is_empty());
                // Read back and written again unchanged: a re-delivery rewrites nothing.
                let read = WindowState::decode(window, &key).unwrap();
                assert_eq!(read.encode(), window);
                max_bytes = max_bytes.max(window.len());
            }
            assert!(
                max_bytes <= 16 * 1024,
                "{profile:?}: state reached {max_bytes} bytes"
            );
        }
    }
}
