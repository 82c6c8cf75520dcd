//! Scoring an event the caller is done with ([`Engine::score_owned`], which moves its strings)
//! gives exactly what scoring a borrowed event gives, under both profiles.

mod common;

use common::{alerts_of, engine, events_dir, events_of, load};
use t1578_core::engine::ProfileName;

#[test]
fn an_owned_event_scores_as_a_borrowed_one() {
    let mut events = Vec::new();
    for cloud in ["aws", "azure"] {
        for f in std::fs::read_dir(events_dir().join(cloud)).unwrap() {
            events.extend(load(&f.unwrap().path()));
        }
    }
    for p in [ProfileName::Default, ProfileName::SeedKql] {
        let e = engine(p);
        let (mut scored, mut skipped) = (0, 0);
        for ev in &events {
            let borrowed = e.score(ev);
            assert_eq!(e.score_owned(ev.clone()), borrowed, "{p:?} {}", ev.event_id);
            match borrowed {
                Ok(_) => scored += 1,
                Err(_) => skipped += 1,
            }
        }
        // Both outcomes are exercised, on a folder of fixtures.
        assert!(
            scored > 100 && skipped > 10,
            "{p:?}: {scored} scored, {skipped} skipped"
        );
    }
}

/// The records of `file` for `n` machines (each its own correlation id and resource), normalized.
fn machines(file: &str, n: usize) -> Vec<t1578_core::ComputeEvent> {
    let text = std::fs::read_to_string(events_dir().join(file)).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut records = Vec::new();
    for k in 0..n {
        for r in doc["records"].as_array().unwrap() {
            let mut r = r.clone();
            let corr = r["correlationId"].as_str().unwrap().to_string();
            r["correlationId"] = serde_json::json!(format!("{}{k}", &corr[..corr.len() - 1]));
            let id = r["resourceId"].as_str().unwrap().to_string();
            r["resourceId"] = serde_json::json!(format!("{id}-{k}"));
            records.push(r);
        }
    }
    events_of(&serde_json::json!({ "records": records }))
}

/// The catalog row an event counts for; `None`: not counted.
fn row_of(e: &t1578_core::engine::Engine, ev: &t1578_core::ComputeEvent) -> Option<String> {
    e.score(ev)
        .ok()
        .map(|s| e.catalog.by_id_hash(s.units[0].op).map(|r| r.id.clone()).unwrap())
}

/// The row each record of a machine's create counts for, by phase.
fn rows_by_phase(
    e: &t1578_core::engine::Engine,
    evs: &[t1578_core::ComputeEvent],
) -> Vec<(t1578_core::Phase, Option<String>)> {
    evs.iter().map(|ev| (ev.phase, row_of(e, ev))).collect()
}

/// An Azure VM or scale set of an N-series (GPU) size counts for its GPU row from the first
/// record that carries its size: the Start's request body, or, where an export has none, the
/// Accept's response body. Its Success (no body) counts for the plain row, which the GPU row
/// then replaces in the window, whatever the order. A general-purpose size is the plain row.
#[test]
fn a_gpu_machine_counts_for_its_gpu_row_from_whichever_record_carries_the_size() {
    use t1578_core::Phase::{Accept, Start, Success};
    let e = engine(ProfileName::Default);
    for (file, gpu, plain) in [
        (
            "azure/compute-vm-write-gpu.json",
            "azure.compute.vm_write_gpu",
            "azure.compute.vm_write",
        ),
        (
            "azure/compute-vmss-write-gpu.json",
            "azure.compute.vmss_write_gpu",
            "azure.compute.vmss_write",
        ),
    ] {
        let evs = machines(file, 1);
        let want = |a: &str, b: &str| {
            vec![
                (Start, Some(gpu.to_string())),
                (Accept, Some(a.to_string())),
                (Success, Some(b.to_string())),
            ]
        };
        assert_eq!(rows_by_phase(&e, &evs), want(gpu, plain), "{file}");
        // Without the request body, the Start is the plain row's, which does not count a Start.
        let mut no_body = evs.clone();
        no_body[0].details = Default::default();
        let rows = rows_by_phase(&e, &no_body);
        assert_eq!(rows[0], (Start, None), "{file}");
        assert_eq!(rows[1..], want(gpu, plain)[1..], "{file}");
        let look = machines(&file.replace(".json", "-general-purpose.json"), 1);
        assert_eq!(
            rows_by_phase(&e, &look),
            vec![
                (Start, None),
                (Accept, Some(plain.to_string())),
                (Success, Some(plain.to_string()))
            ],
            "{file}"
        );
    }
    // Three machines: 2 points each as GPU, 1 as plain. The Success first (another partition),
    // then the records with the size: the window ends with the GPU row's points.
    for (first, then) in [
        (vec![Success], vec![Start, Accept]),
        (vec![Success], vec![Accept]),
        (vec![Start, Accept, Success], vec![]),
    ] {
        let evs = machines("azure/compute-vm-write-gpu.json", 3);
        let pick = |ps: &[t1578_core::Phase]| {
            evs.iter()
                .filter(|ev| ps.contains(&ev.phase))
                .cloned()
                .collect::<Vec<_>>()
        };
        let alerts = alerts_of(&[pick(&first), pick(&then)]);
        let last = alerts.last().cloned().expect("three machines alert");
        assert_eq!(last.risk_score, 6, "{first:?} then {then:?}: {last:?}");
    }
}

/// A response body holds the resource's whole state: a snapshot copied from another
/// subscription names its source there on every later update (its tags), so the source of a
/// copy is read from the request body only; the size of a machine from either.
#[test]
fn a_response_body_does_not_make_an_update_a_copy() {
    let e = engine(ProfileName::Default);
    let row = |r: &serde_json::Value| row_of(&e, &events_of(&serde_json::json!({ "records": [r] }))[0]);
    let text =
        std::fs::read_to_string(events_dir().join("azure/compute-snapshot-copy-cross-subscription.json"))
            .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let records = doc["records"].as_array().unwrap();
    let start = records.iter().find(|r| r["resultType"] == "Start").unwrap();
    assert_eq!(
        row(start).as_deref(),
        Some("azure.compute.snapshot_copy_cross_subscription")
    );
    let mut update = records
        .iter()
        .find(|r| r["resultType"] == "Success")
        .unwrap()
        .clone();
    update["properties"]["responseBody"] = start["properties"]["requestbody"].clone();
    assert_eq!(row(&update).as_deref(), Some("azure.compute.snapshot_write"));
}
