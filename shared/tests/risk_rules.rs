//! The risk rules of the tuning document: change windows, IaC user agents, unfamiliar source
//! addresses, each with the case where it applies and the cases where it must not.

mod common;

use common::{events_dir, load, replay};
use t1578_core::engine::{Engine, Profile, ProfileName};
use t1578_core::memory::{MemorySink, MemoryStore};
use t1578_core::pipeline::{process_batch, PipelineOptions};
use t1578_core::tuning::Tuning;
use t1578_core::window::WindowState;
use t1578_core::{Alert, Catalog, ComputeEvent};
// These rules add and remove points on the seed's lowest tier, one operation at a time: new
// principals alert on it here from the seed's 3 points (by default from 4).
use t1578_testkit::SEED_TIERS as EVERY_TIER;

const TERRAFORM: &str =
    "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.80.0";
const CLI: &str = "aws-cli/2.18.5 md/command#ec2.delete-snapshot";
/// Saturday 2026-11-28 02:00 UTC, inside the Saturday 00:00-06:00 window below.
const INSIDE: &str = "2026-11-28T02:00:00Z";
/// Wednesday 2026-11-25 14:00 UTC, outside it.
const OUTSIDE: &str = "2026-11-25T14:00:00Z";
const WINDOWS: &str = "[accounts.\"111122223333\".change_windows]\ntime_zone = \"UTC\"\nweekly = [{ days = [\"sat\"], start = \"00:00\", end = \"06:00\" }]\noutside_points = 2\n";

fn tuned(doc: &str) -> Engine {
    let catalog = Catalog::builtin().unwrap();
    let doc = if doc.contains("[defaults.baseline]") {
        doc.to_string()
    } else {
        format!("{EVERY_TIER}{doc}")
    };
    let tuning = Tuning::from_toml(&doc, "risk.toml", &catalog).unwrap_or_else(|e| panic!("{e}"));
    Engine::with_tuning(catalog, Profile::named(ProfileName::Default), tuning)
}

fn ms(rfc: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc)
        .unwrap()
        .timestamp_millis()
}

/// The delete-snapshot fixture (3 points, account 111122223333) at another time, address and
/// user agent, on its own snapshot.
fn delete(n: usize, at: i64, ip: &str, ua: &str) -> ComputeEvent {
    let mut e = load(&events_dir().join("aws/ec2-delete-snapshot.json")).remove(0);
    e.event_id = format!("evt-{n}");
    e.time_ms = at;
    e.source_ip = Some(ip.into());
    e.user_agent = Some(ua.into());
    e.resources = vec![format!("arn:aws:ec2:us-east-1:111122223333:snapshot/snap-{n}")];
    e
}

fn risks(alerts: &[Alert]) -> Vec<u32> {
    alerts.iter().map(|a| a.risk_score).collect()
}

#[test]
fn activity_outside_a_change_window_adds_risk_and_inside_does_not() {
    // One point per delete: alone below the threshold of 3.
    let quiet = "[defaults.scores]\n\"aws.ec2.delete_snapshot\" = 1\n";
    let e = tuned(&format!("{quiet}{WINDOWS}"));
    let out = replay(&e, &[delete(1, ms(OUTSIDE), "203.0.113.10", CLI)]).1;
    assert_eq!(risks(&out), vec![3], "1 point + 2 outside the window");
    let t = &out[0].unmapped.tuning;
    assert_eq!(
        (t.change_window.as_str(), t.outside_window_operations),
        ("outside", 1)
    );
    assert_eq!(out[0].evidences[0].data.tuning, vec!["outside_change_window"]);
    // Inside the window, or in an account that declares no window: nothing added.
    assert!(replay(&e, &[delete(1, ms(INSIDE), "203.0.113.10", CLI)])
        .1
        .is_empty());
    assert!(
        replay(&tuned(quiet), &[delete(1, ms(OUTSIDE), "203.0.113.10", CLI)])
            .1
            .is_empty()
    );
    let elsewhere = WINDOWS.replace("111122223333", "999988887777");
    assert!(replay(
        &tuned(&format!("{quiet}{elsewhere}")),
        &[delete(1, ms(OUTSIDE), "203.0.113.10", CLI)]
    )
    .1
    .is_empty());
}

#[test]
fn iac_user_agents_lower_risk_only_inside_a_declared_window() {
    let e = tuned(WINDOWS);
    // Terraform inside the window: 3 points lowered to 0, nothing alerts.
    let (r, out) = replay(&e, &[delete(1, ms(INSIDE), "203.0.113.10", TERRAFORM)]);
    assert!(out.is_empty());
    assert_eq!(r.scored, 1, "still counted, only its points lowered");
    // The same user agent outside the window changes nothing, and the window adds its points.
    assert_eq!(
        risks(&replay(&e, &[delete(1, ms(OUTSIDE), "203.0.113.10", TERRAFORM)]).1),
        vec![5]
    );
    // Another user agent inside the window keeps its points.
    assert_eq!(
        risks(&replay(&e, &[delete(1, ms(INSIDE), "203.0.113.10", CLI)]).1),
        vec![3]
    );
    // A stack's call names CloudFormation as `invokedBy`, source address and user agent: the
    // deployer's, and CloudFormation is on the built-in list, so it goes as Terraform does.
    const STACK: &str = "cloudformation.amazonaws.com";
    let stack = |at| {
        let mut d = delete(1, at, STACK, STACK);
        d.invoked_by = Some(STACK.into());
        d
    };
    let (r, out) = replay(&e, &[stack(ms(INSIDE))]);
    assert_eq!((r.scored, out.len()), (1, 0));
    assert_eq!(risks(&replay(&e, &[stack(ms(OUTSIDE))]).1), vec![5]);
    // No window declared: a user agent alone never lowers anything (anyone can send one).
    assert_eq!(
        risks(&replay(&tuned(""), &[delete(1, ms(INSIDE), "203.0.113.10", TERRAFORM)]).1),
        vec![3]
    );
    // A configured share of the points, and a configured list of user agents.
    let half = tuned(&format!(
        "{WINDOWS}[accounts.\"111122223333\".iac]\nuser_agents = [\"*my-pipeline/*\"]\nrisk_percent = 50\n"
    ));
    let custom = delete(1, ms(INSIDE), "203.0.113.10", "my-pipeline/3.1 boto3/1.35");
    let mut events: Vec<ComputeEvent> = (0..2)
        .map(|i| {
            let mut e = custom.clone();
            e.event_id = format!("c-{i}");
            e.resources = vec![format!("snap-{i}")];
            e
        })
        .collect();
    assert_eq!(
        risks(&replay(&half, &events).1),
        Vec::<u32>::new(),
        "1 + 1 points"
    );
    events.push(delete(9, ms(INSIDE), "203.0.113.10", TERRAFORM));
    let out = replay(&half, &events).1;
    assert_eq!(
        risks(&out),
        vec![5],
        "Terraform is not on this account's list: 1 + 1 + 3"
    );
    assert_eq!(out[0].unmapped.tuning.iac_in_window_operations, 2);
}

#[test]
fn a_forged_iac_user_agent_in_a_window_still_trips_the_bulk_rule() {
    let e = tuned(WINDOWS);
    let burst: Vec<ComputeEvent> = (0..5)
        .map(|i| delete(i, ms(INSIDE) + i as i64 * 60_000, "203.0.113.10", TERRAFORM))
        .collect();
    let out = replay(&e, &burst).1;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].tier().as_str(), "bulk");
    assert_eq!(out[0].risk_score, 0);
    assert_eq!(out[0].unmapped.tuning.iac_in_window_operations, 5);
    assert_eq!(out[0].unmapped.tuning.change_window, "inside");
}

#[test]
fn an_unfamiliar_network_adds_risk_once_the_principal_has_a_history() {
    // One point per delete and a threshold of 4: three deletes alert only with the extra point.
    let base = "[defaults.scores]\n\"aws.ec2.delete_snapshot\" = 1\n[defaults.thresholds]\nrisk = 4\nhigh_risk = 8\n";
    let t0 = ms(OUTSIDE);
    let h = 3_600_000;
    let events = [
        delete(1, t0, "203.0.113.10", CLI),
        delete(2, t0 + h, "203.0.113.99", CLI),
        delete(3, t0 + 2 * h, "198.51.100.7", CLI),
    ];
    let out = replay(&tuned(base), &events).1;
    assert_eq!(risks(&out), vec![4], "1 + 1 (same /24) + 1 + 1 (new network)");
    let ips: Vec<(&str, bool)> = out[0]
        .unmapped
        .source_ips
        .iter()
        .map(|x| (x.ip.as_str(), x.unfamiliar))
        .collect();
    assert_eq!(
        ips,
        vec![
            ("198.51.100.7", true),
            ("203.0.113.99", false),
            ("203.0.113.10", false)
        ]
    );
    assert_eq!(out[0].unmapped.tuning.unfamiliar_ip_operations, 1);
    // By address, the second host of the first /24 is new too.
    let by_address = tuned(&format!("{base}[defaults.unfamiliar_ip]\nmatch = \"address\"\n"));
    assert_eq!(risks(&replay(&by_address, &events[..2]).1), Vec::<u32>::new());
    let out = replay(&by_address, &events).1;
    assert_eq!(risks(&out), vec![5]);
    assert_eq!(
        out[0].unmapped.tuning.unfamiliar_ip_operations, 2,
        "both later addresses are new"
    );
    // Turned off, or one address only: nothing added.
    assert!(replay(
        &tuned(&format!("{base}[defaults.unfamiliar_ip]\ndays = 0\n")),
        &events
    )
    .1
    .is_empty());
    let same: Vec<ComputeEvent> = (0..3)
        .map(|i| delete(i, t0 + i as i64 * h, "203.0.113.10", CLI))
        .collect();
    assert!(replay(&tuned(base), &same).1.is_empty());
    // The seed profile never adds it (its windows are per address anyway).
    let seed = Engine::with_tuning(
        Catalog::builtin().unwrap(),
        Profile::named(ProfileName::SeedKql),
        Tuning::default(),
    );
    assert!(seed.effective("111122223333").unfamiliar_ip.is_none());
}

#[test]
fn the_address_memory_outlives_the_window_and_then_forgets() {
    // The baseline (14 days) would keep the state longer than the address memory: off here.
    let base = "[defaults.scores]\n\"aws.ec2.delete_snapshot\" = 3\n[defaults.unfamiliar_ip]\ndays = 10\n[defaults.baseline]\ndays = 0\n";
    let e = tuned(base);
    let day = 86_400_000;
    let t0 = ms(OUTSIDE);
    let (store, sink) = (MemoryStore::new(), MemorySink::new());
    let run = |evs: &[ComputeEvent]| {
        let r =
            futures::executor::block_on(process_batch(&e, &store, &sink, evs, &PipelineOptions::default()));
        assert!(r.failures.is_empty(), "{:?}", r.failures);
        let last = sink.alerts().last().cloned().unwrap();
        common::check_document(&last);
        last
    };
    run(&[delete(1, t0, "203.0.113.10", CLI)]);
    // Five days later, the 24 h window is long gone but the address is remembered.
    let key = e.score(&delete(1, t0, "203.0.113.10", CLI)).unwrap().key;
    let state = WindowState::decode(&store.get_bytes(&key).unwrap(), &key).unwrap();
    let eff = e.effective("111122223333");
    let ends = state.expires_at(&eff);
    assert_eq!(ends, (t0 + 10 * day) / 1000 + 1);
    // On the store's clock a backlog is kept as long as it lags; live or early events move nothing.
    assert_eq!(state.store_expiry(&eff, t0 + 3 * day), ends + 3 * 86_400);
    assert_eq!(state.store_expiry(&eff, t0 + 500), ends);
    assert_eq!(state.store_expiry(&eff, t0 - day), ends);
    let a = run(&[delete(2, t0 + 5 * day, "198.51.100.7", CLI)]);
    assert_eq!((a.risk_score, a.unmapped.source_ips[0].unfamiliar), (4, true));
    // Twelve days after that, the memory has expired: no history, no surprise.
    let a = run(&[delete(3, t0 + 17 * day, "192.0.2.1", CLI)]);
    assert_eq!((a.risk_score, a.unmapped.source_ips[0].unfamiliar), (3, false));
}

#[test]
fn the_address_memory_stays_bounded() {
    let e = tuned("");
    let events: Vec<ComputeEvent> = (0..2000)
        .map(|i| {
            delete(
                i,
                ms(OUTSIDE) + i as i64 * 1000,
                &format!("10.{}.{}.1", i / 250, i % 250),
                CLI,
            )
        })
        .collect();
    let (store, sink) = (MemoryStore::new(), MemorySink::new());
    for chunk in events.chunks(100) {
        let r = futures::executor::block_on(process_batch(
            &e,
            &store,
            &sink,
            chunk,
            &PipelineOptions::default(),
        ));
        assert!(r.failures.is_empty(), "{:?}", r.failures);
        assert_eq!(r.scored, chunk.len());
    }
    let key = e.score(&events[0]).unwrap().key;
    let bytes = store.get_bytes(&key).unwrap();
    assert!(bytes.len() < 24 * 1024, "{} bytes", bytes.len());
    sink.alerts().iter().for_each(common::check_document);
}
