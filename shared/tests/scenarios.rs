//! The seed's Atomic Red Team tests (and a rotation scenario) with their expected alerts in
//! both profiles, from `events/scenarios/*/expected.toml`.

mod common;

use common::{engine, events_dir, load, replay};
use serde::Deserialize;
use t1578_core::engine::ProfileName;

#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct Expected {
    profile: String,
    tier: String,
    principal: String,
    total_risk: u32,
    trigger: Option<String>,
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

#[test]
fn scenarios_raise_exactly_their_expected_alerts() {
    let dir = events_dir().join("scenarios");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let exp: File =
            toml::from_str(&std::fs::read_to_string(path.join("expected.toml")).unwrap()).unwrap();
        let events = load(&path.join("events.json"));
        for profile in [ProfileName::Default, ProfileName::SeedKql] {
            let (_, alerts) = replay(&engine(profile), &events);
            let name = profile.as_str();
            if let Some(c) = exp.count.iter().find(|c| c.profile == name) {
                assert_eq!(alerts.len(), c.alerts, "{} {name}", path.display());
                continue;
            }
            let got: Vec<Expected> = alerts
                .iter()
                .map(|a| Expected {
                    profile: name.into(),
                    tier: a.tier.as_str().into(),
                    principal: a.principal.name.clone(),
                    total_risk: a.total_risk,
                    trigger: a.trigger_catalog_id.clone(),
                })
                .collect();
            let want: Vec<&Expected> = exp.alert.iter().filter(|e| e.profile == name).collect();
            assert_eq!(got.iter().collect::<Vec<_>>(), want, "{} {name}", path.display());
        }
        seen += 1;
    }
    assert_eq!(seen, 5);
}
