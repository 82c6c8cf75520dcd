//! The organization's own accounts (`own_accounts`, or the accounts an archive's layout names):
//! a share to one is evidence, not a critical; one outside is a critical naming it.

mod common;

use common::shares_to_new_accounts;
use t1578_core::engine::{Engine, Profile, ProfileName};
use t1578_core::tuning::Tuning;
use t1578_core::{Alert, Catalog, ComputeEvent, Tier};

/// The first share's recipient in [`shares_to_new_accounts`] (the second's is ...01).
const OWN: &str = "400000000000";
const OUTSIDE: &str = "400000000001";

fn engine(tuning: &str) -> Engine {
    let catalog = Catalog::builtin().unwrap();
    let t = Tuning::from_toml(tuning, "tune.toml", &catalog).unwrap();
    Engine::with_tuning(catalog, Profile::named(ProfileName::Default), t)
}

/// Two shares of one principal, to OWN then to OUTSIDE: its alerts.
fn alerts(e: &Engine) -> Vec<Alert> {
    common::replay(e, &shares_to_new_accounts(0, 2)).1
}

/// The critical alerts' texts.
fn criticals(alerts: &[Alert]) -> Vec<String> {
    alerts
        .iter()
        .filter(|a| a.tier() == Tier::Critical)
        .map(|a| a.finding_info.desc.clone())
        .collect()
}

#[test]
fn a_share_to_an_own_account_is_evidence_and_one_outside_is_a_critical() {
    // Neither is ours: two criticals, the first naming OWN as a new destination.
    let plain = criticals(&alerts(&engine("")));
    assert_eq!(plain.len(), 2, "{plain:?}");
    assert!(plain[0].contains(&format!("new destination {OWN}")), "{plain:?}");
    // OWN is ours, by the tuning or by the archive's layout: one critical, for OUTSIDE, with
    // the share to OWN as evidence marked as the organization's.
    let tuned = engine(&format!("own_accounts = [\"{OWN}\"]"));
    let layout = engine("").with_own_accounts([OWN]);
    for e in [&tuned, &layout] {
        let got = alerts(e);
        let c = criticals(&got);
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(c[0].contains(&format!("new destination {OUTSIDE}")), "{c:?}");
        assert!(!c[0].contains(&format!("new destination {OWN}")), "{c:?}");
        let doc = serde_json::to_string(got.last().unwrap()).unwrap();
        assert!(doc.contains("own_destination"), "{doc}");
    }
    // `known_destinations = false` makes every share a critical, ours or not.
    let strict = engine(&format!(
        "own_accounts = [\"{OWN}\"]\n[defaults.baseline]\nknown_destinations = false"
    ));
    assert_eq!(criticals(&alerts(&strict)).len(), 2);
}

/// How many critical alerts `events` raise, replayed alone.
fn criticals_of(e: &Engine, events: &[ComputeEvent]) -> usize {
    criticals(&common::replay(e, events).1).len()
}

/// The same, for a fixture of `events/`.
fn fixture_criticals(e: &Engine, path: &str) -> usize {
    criticals_of(e, &common::load(&common::events_dir().join(path)))
}

#[test]
fn an_azure_share_to_own_subscriptions_and_tenants_or_a_copy_from_one_is_evidence() {
    const SUB: &str = "cccccccc-9999-8888-7777-666666666666";
    const TENANT: &str = "ace7dbb0-2234-53fb-ad5e-fdcc7623100e";
    let share = "azure/compute-gallery-share.json";
    let copy = "azure/compute-snapshot-copy-cross-subscription.json";
    let plain = engine("");
    assert_eq!(fixture_criticals(&plain, share), 1);
    assert_eq!(fixture_criticals(&plain, copy), 1);
    // The gallery is shared with a subscription and a tenant: both must be ours (the shared
    // gallery itself, kept beside them, is no recipient).
    let sub_only = engine(&format!("own_accounts = [\"{SUB}\"]"));
    assert_eq!(fixture_criticals(&sub_only, share), 1);
    let both = engine(&format!(
        "own_accounts = [\"{SUB}\", \"{}\"]",
        TENANT.to_uppercase()
    ));
    assert_eq!(fixture_criticals(&both, share), 0);
    // The snapshot is copied from SUB.
    assert_eq!(fixture_criticals(&sub_only, copy), 0);
}

/// The fixture's records, the first one's request (or identity) edited by `edit`.
fn edited(path: &str, edit: impl Fn(&mut serde_json::Value)) -> Vec<ComputeEvent> {
    let text = std::fs::read_to_string(common::events_dir().join(path)).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    edit(&mut doc);
    common::events_of(&doc)
}

#[test]
fn what_stays_a_critical_with_own_accounts() {
    let ours = engine("own_accounts = [\"444455556666\", \"111122223333\"]");
    let with_org = engine("own_accounts = [\"444455556666\", \"o-4k2h8q1xzm\"]");
    // An AMI shared with an own account and with an organization: both must be ours.
    let image = "aws/ec2-modify-image-attribute-share.json";
    assert_eq!(fixture_criticals(&ours, image), 1);
    assert_eq!(fixture_criticals(&with_org, image), 0);
    // A snapshot shared with an own account and an outsider.
    let both = edited("aws/ec2-modify-snapshot-attribute-share.json", |d| {
        d["detail"]["requestParameters"]["createVolumePermission"]["add"]["items"] =
            serde_json::json!([{"userId": "444455556666"}, {"userId": "999988887777"}]);
    });
    assert_eq!(criticals_of(&ours, &both), 1);
    // Made public beside an own account.
    let public = edited("aws/ec2-modify-snapshot-attribute-share.json", |d| {
        d["detail"]["requestParameters"]["createVolumePermission"]["add"]["items"] =
            serde_json::json!([{"userId": "444455556666"}, {"group": "all"}]);
    });
    assert_eq!(criticals_of(&ours, &public), 1);
    // More recipients than a baseline keeps, all ours: never judged known, nor ours.
    let ids: Vec<String> = (0..20).map(|i| format!("4444555566{i:02}")).collect();
    let many = edited("aws/ec2-modify-snapshot-attribute-share.json", |d| {
        let items: Vec<_> = ids.iter().map(|id| serde_json::json!({"userId": id})).collect();
        d["detail"]["requestParameters"]["createVolumePermission"]["add"]["items"] = items.into();
    });
    let all_ours = engine(&format!("own_accounts = {ids:?}"));
    assert_eq!(criticals_of(&all_ours, &many), 1);
    let few = edited("aws/ec2-modify-snapshot-attribute-share.json", |d| {
        let items: Vec<_> = ids[..3]
            .iter()
            .map(|id| serde_json::json!({"userId": id}))
            .collect();
        d["detail"]["requestParameters"]["createVolumePermission"]["add"]["items"] = items.into();
    });
    assert_eq!(criticals_of(&all_ours, &few), 0);
    // An export from an own account: no recipient to be ours.
    assert_eq!(fixture_criticals(&ours, "aws/ec2-export-image.json"), 1);
    // An own account's copy of a snapshot shared with it (its identity is the account).
    let copy = "aws/ec2-shared-snapshot-copy-initiated.json";
    assert_eq!(fixture_criticals(&engine(""), copy), 1);
    assert_eq!(fixture_criticals(&ours, copy), 0);
}

#[test]
fn an_azure_gallery_share_logged_without_its_recipients_stays_a_critical() {
    let own = engine(
        "own_accounts = [\"cccccccc-9999-8888-7777-666666666666\", \"ace7dbb0-2234-53fb-ad5e-fdcc7623100e\"]",
    );
    let bare = edited("azure/compute-gallery-share.json", |d| {
        for r in d["records"].as_array_mut().unwrap() {
            if let Some(p) = r["properties"].as_object_mut() {
                p.remove("requestbody");
            }
        }
    });
    assert_eq!(criticals_of(&own, &bare), 1);
}
