//! Events delivered out of order (a late record, a retry behind newer ones): the decisions
//! equal those of the same events in order, so a late event neither repeats a report nor
//! opens a second finding.

mod common;

use common::{copies, shares_to_new_accounts};
use t1578_core::engine::{Engine, Profile, ProfileName};
use t1578_core::memory::{MemorySink, MemoryStore};
use t1578_core::pipeline::{process_batch, system_clock, PipelineOptions};
use t1578_core::tuning::Tuning;
use t1578_core::{Alert, Catalog, ComputeEvent};
use t1578_testkit::SEED_TIERS as EVERY_TIER;

const H: i64 = 3_600_000;
const DAY: i64 = 24 * H;

fn tuned(profile: ProfileName, doc: &str) -> Engine {
    let catalog = Catalog::builtin().unwrap();
    let doc = format!("{EVERY_TIER}{doc}");
    let tuning = Tuning::from_toml(&doc, "t.toml", &catalog).unwrap_or_else(|e| panic!("{e}"));
    Engine::with_tuning(catalog, Profile::named(profile), tuning)
}

/// The `n`th of the common snapshot deletes, at `at`.
fn delete(n: usize, at: i64) -> ComputeEvent {
    let mut e = copies(n + 1).remove(n);
    e.time_ms = at;
    e
}

/// Each inner slice is one batch (one invocation), processed in turn on one store: the alerts.
fn batches(e: &Engine, bs: &[Vec<ComputeEvent>]) -> Vec<Alert> {
    let (store, sink) = (MemoryStore::new(), MemorySink::new());
    for b in bs {
        let r = futures::executor::block_on(process_batch(e, &store, &sink, b, &PipelineOptions::default()));
        assert!(r.failures.is_empty(), "{:?}", r.failures);
    }
    sink.alerts()
}

/// Seed profile: a late event that crosses the threshold records the tier as fired at the
/// window's newest time, not its own: dated back, the record left the window early and the
/// same activity fired again.
#[test]
fn seed_a_late_event_crossing_the_threshold_reports_the_tier_once() {
    let e = tuned(
        ProfileName::SeedKql,
        "[defaults.scores]\n\"aws.ec2.delete_snapshot\" = 1\n",
    );
    let t0 = (system_clock() / DAY - 10) * DAY;
    let a = delete(1, t0 + DAY);
    let a2 = delete(2, t0 + DAY + 1_000);
    let b = delete(3, t0 + 30 * 60_000);
    let c = delete(4, t0 + DAY + 40 * 60_000);
    let in_order = batches(
        &e,
        &[vec![b.clone()], vec![a.clone(), a2.clone()], vec![c.clone()]],
    );
    assert_eq!(in_order.len(), 1, "in order: one Suspicious report");
    let late = batches(&e, &[vec![a, a2], vec![b], vec![c]]);
    assert_eq!(late.len(), 1, "b delivered late: still one report");
}

/// Default profile: an update decided by a late event keeps the finding's `last` time: set back
/// to the late event's time, the finding was pruned early and the next event opened a second
/// finding for the same activity.
#[test]
fn default_a_late_update_keeps_one_finding() {
    let e = tuned(ProfileName::Default, "");
    let t0 = (system_clock() / DAY - 10) * DAY;
    let a = delete(1, t0 + 20 * H);
    let b = delete(2, t0 + H);
    let c = delete(3, t0 + 26 * H);
    let uids = |bs: &[Vec<ComputeEvent>]| {
        let mut u: Vec<String> = batches(&e, bs)
            .iter()
            .map(|a| a.finding_info.uid.clone())
            .collect();
        let n = u.len();
        u.dedup();
        (n, u.len())
    };
    let in_order = uids(&[vec![b.clone()], vec![a.clone()], vec![c.clone()]]);
    assert_eq!(in_order.1, 1, "in order: one finding {in_order:?}");
    let late = uids(&[vec![a], vec![b], vec![c]]);
    assert_eq!(late.1, 1, "b late: still one finding {late:?}");
    // And as many reports of it: the late event changes no decision.
    assert!(in_order.0 >= 1);
    assert_eq!(
        late.0, in_order.0,
        "reports: late {late:?}, in order {in_order:?}"
    );
}

/// Default profile: a finding is kept while an event the window still accepts (one window late)
/// could find it open. A user known for days shares a snapshot with a new account at 01:00 (a
/// critical: a finding); at 01:30 the next day it shares with an account it shared with before
/// (evidence), which moves the window on; a share with another new account made at 02:00 the
/// first day, delivered after it, updates the finding. Were the finding dropped with the 01:30
/// event, the late one would open it again in the same bucket: a second create with the same
/// finding id and report id.
#[test]
fn default_a_late_event_finds_the_finding_it_belongs_to() {
    let e = common::engine(ProfileName::Default);
    let t0 = (system_clock() / DAY - 10) * DAY;
    let at = |mut ev: ComputeEvent, t: i64| {
        ev.time_ms = t;
        ev
    };
    let shares = shares_to_new_accounts(0, 3);
    let mut again = shares[0].clone();
    again.event_id = "share-again".into();
    again.resources = vec!["arn:aws:ec2:us-east-1:111122223333:snapshot/snap-again".into()];
    let known = at(shares[0].clone(), t0 - 5 * DAY);
    let opening = at(shares[1].clone(), t0 + H);
    let next_day = at(again, t0 + 24 * H + 90 * 60_000);
    let late = at(shares[2].clone(), t0 + 2 * H);
    let alerts = batches(&e, &[vec![known], vec![opening], vec![next_day], vec![late]]);
    let reports: Vec<(&str, &str, u32)> = alerts
        .iter()
        .filter(|a| a.time >= t0)
        .map(|a| (a.activity_name.as_str(), a.finding_info.uid.as_str(), a.count))
        .collect();
    assert_eq!(reports.len(), 2, "{reports:#?}");
    assert_eq!((reports[0].0, reports[1].0), ("Create", "Update"), "{reports:#?}");
    assert_eq!(reports[0].1, reports[1].1, "{reports:#?}");
}
