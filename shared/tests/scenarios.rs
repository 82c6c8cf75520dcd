//! The seed's Atomic Red Team tests, a rotation scenario and the tuning scenarios, with their
//! expected alerts in both profiles, from `events/scenarios/*/expected.toml`. A scenario with a
//! `config.toml` runs under that tuning document (as `t1578 replay --config` would).

mod common;

use common::{events_dir, load, replay};
use serde::Deserialize;
use t1578_core::engine::{Engine, Profile, ProfileName};
use t1578_core::tuning::Tuning;
use t1578_core::Catalog;

#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct Expected {
    profile: String,
    tier: String,
    principal: String,
    total_risk: u32,
    trigger: Option<String>,
    /// False for a decision in a shadow-mode account: logged, never sent.
    #[serde(default = "sent")]
    sent: bool,
    /// The alert's tuning summary, when the scenario is about it.
    #[serde(default)]
    change_window: Option<String>,
    /// Source addresses the alert marks unfamiliar.
    #[serde(default)]
    unfamiliar: Vec<String>,
    /// `create` a finding, or `update` the open one.
    #[serde(default = "create")]
    activity: String,
}

fn create() -> String {
    "create".into()
}

fn sent() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Count {
    profile: String,
    alerts: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    alert: Vec<Expected>,
    #[serde(default)]
    count: Vec<Count>,
}

/// Dedup keys, sorted: which decisions, whatever order they came in.
fn dedup_keys<'a>(alerts: impl Iterator<Item = &'a t1578_core::Alert>) -> Vec<String> {
    let mut k: Vec<String> = alerts.map(|a| a.dedup_key().to_string()).collect();
    k.sort();
    k
}

#[test]
fn scenarios_raise_exactly_their_expected_alerts() {
    let dir = events_dir().join("scenarios");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        // `baseline/` holds the multi-day scenarios (tests/baseline.rs).
        if !path.join("expected.toml").is_file() {
            continue;
        }
        let exp: File =
            toml::from_str(&std::fs::read_to_string(path.join("expected.toml")).unwrap()).unwrap();
        let events = load(&path.join("events.json"));
        let config = std::fs::read_to_string(path.join("config.toml")).unwrap_or_default();
        for profile in [ProfileName::Default, ProfileName::SeedKql] {
            let catalog = Catalog::builtin().unwrap();
            let tuning = Tuning::from_toml(&config, "config.toml", &catalog).unwrap();
            let engine = Engine::with_tuning(catalog, Profile::named(profile), tuning);
            let (report, sent_alerts) = replay(&engine, &events);
            // Every decision, sent or not; the sink holds exactly the ones meant to be sent.
            let alerts = report.alerts;
            assert_eq!(
                dedup_keys(sent_alerts.iter()),
                dedup_keys(alerts.iter().filter(|a| a.is_alert)),
                "{} {}",
                path.display(),
                profile.as_str()
            );
            let name = profile.as_str();
            if let Some(c) = exp.count.iter().find(|c| c.profile == name) {
                assert_eq!(alerts.len(), c.alerts, "{} {name}", path.display());
                continue;
            }
            let got: Vec<Expected> = alerts
                .iter()
                .map(|a| Expected {
                    profile: name.into(),
                    tier: a.tier().as_str().into(),
                    principal: a.actor.user.name.clone(),
                    total_risk: a.risk_score,
                    trigger: a.unmapped.trigger_catalog_id.clone(),
                    sent: a.is_alert,
                    change_window: (!config.is_empty()).then(|| a.unmapped.tuning.change_window.clone()),
                    unfamiliar: a
                        .unmapped
                        .source_ips
                        .iter()
                        .filter(|x| x.unfamiliar)
                        .map(|x| x.ip.clone())
                        .collect(),
                    activity: a.unmapped.finding.activity.clone(),
                })
                .collect();
            let want: Vec<&Expected> = exp.alert.iter().filter(|e| e.profile == name).collect();
            assert_eq!(got.iter().collect::<Vec<_>>(), want, "{} {name}", path.display());
        }
        seen += 1;
    }
    assert_eq!(seen, 8);
}
