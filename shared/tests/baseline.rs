//! The behaviour baseline end to end: the scenarios under `events/scenarios/baseline/` (two
//! weeks of habits, then a test day) with their expected findings in both profiles, and the
//! state bound with a full baseline.

mod common;

use common::{alerts_of, events_dir, events_of, load, replay};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use t1578_core::engine::{Engine, Profile, ProfileName};
use t1578_core::memory::{MemorySink, MemoryStore};
use t1578_core::pipeline::{process_batch, PipelineOptions};
use t1578_core::window::WindowState;
use t1578_core::{normalize, Alert, Catalog};

/// One finding reported after `from`: its principal, the tier and reasons of the report that
/// created it, and how many reports it had (1 + updates).
#[derive(Deserialize, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
struct Finding {
    profile: String,
    principal: String,
    tier: String,
    /// Reason codes of the creating report, sorted (default profile; empty for seed-kql).
    #[serde(default)]
    reasons: Vec<String>,
    reports: usize,
    /// The catalog row of a critical that created it.
    trigger: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    /// Reports before this time are the warm-up and not compared.
    from: String,
    #[serde(default)]
    finding: Vec<Finding>,
}

/// The reports of each finding (by `finding_info.uid`) from `from` on, in the order given.
fn reports_by_finding<'a>(alerts: &'a [Alert], from: &str) -> BTreeMap<&'a str, Vec<&'a Alert>> {
    let mut by: BTreeMap<&str, Vec<&Alert>> = BTreeMap::new();
    for a in alerts.iter().filter(|a| a.time_dt.as_str() >= from) {
        by.entry(a.finding_info.uid.as_str()).or_default().push(a);
    }
    by
}

fn findings(profile: &str, alerts: &[Alert], from: &str) -> Vec<Finding> {
    let mut out: Vec<Finding> = reports_by_finding(alerts, from)
        .values()
        .map(|reports| {
            let first = reports[0];
            let mut reasons: Vec<String> = first
                .unmapped
                .baseline
                .iter()
                .flat_map(|b| b.reasons.iter().map(|r| r.code.clone()))
                .collect();
            reasons.sort();
            Finding {
                profile: profile.into(),
                principal: first.actor.user.name.clone(),
                tier: first.tier().as_str().into(),
                reasons,
                reports: reports.len(),
                trigger: first.unmapped.trigger_catalog_id.clone(),
            }
        })
        .collect();
    out.sort();
    out
}

#[test]
fn baseline_scenarios_raise_exactly_their_expected_findings() {
    let dir = events_dir().join("scenarios/baseline");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_dir() {
            continue;
        }
        let exp: File = toml::from_str(&std::fs::read_to_string(path.join("expected.toml")).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let events = load(&path.join("events.json"));
        for profile in [ProfileName::Default, ProfileName::SeedKql] {
            let engine = Engine::new(Catalog::builtin().unwrap(), Profile::named(profile));
            let (_, alerts) = replay(&engine, &events);
            let name = profile.as_str();
            // Every report of a finding shares its id, and only the first creates it.
            for reports in reports_by_finding(&alerts, "").values() {
                for (i, a) in reports.iter().enumerate() {
                    let at = format!(
                        "{} {name} {} report {}",
                        path.display(),
                        a.finding_info.uid,
                        i + 1
                    );
                    assert_eq!(a.is_new_finding(), i == 0, "{at}");
                    assert_eq!(a.count as usize, i + 1, "{at}");
                }
            }
            let got = findings(name, &alerts, &exp.from);
            let mut want: Vec<&Finding> = exp.finding.iter().filter(|f| f.profile == name).collect();
            want.sort();
            assert_eq!(got.iter().collect::<Vec<_>>(), want, "{} {name}", path.display());
        }
        seen += 1;
    }
    assert_eq!(seen, 15, "every baseline scenario ran");
}

/// A principal that uses every catalog row, from hundreds of regions, networks and
/// destinations, with hostile strings and attaches at root and other devices (its root-disk and
/// data-disk links full), for six weeks: the stored state stays under 16 KiB with its baseline
/// full.
#[test]
fn state_with_a_full_baseline_stays_under_16_kib() {
    let engine = Engine::new(Catalog::builtin().unwrap(), Profile::named(ProfileName::Default));
    let (store, sink) = (MemoryStore::new(), MemorySink::new());
    let catalog = Catalog::builtin().unwrap();
    let aws_ops: Vec<String> = catalog
        .entries
        .iter()
        .filter(|e| e.operation.starts_with("ec2:") && e.when.is_none())
        .map(|e| e.operation.trim_start_matches("ec2:").to_string())
        .collect();
    assert!(aws_ops.len() > 20, "{aws_ops:?}");
    let day = 86_400_000i64;
    let t0 = 1_790_000_000_000i64;
    let long = |p: &str, i: usize| format!("{p}\"\n\u{0}{}{i}", "x".repeat(300));
    let mut max_bytes = 0;
    let mut key = None;
    for d in 0..42usize {
        let events: Vec<_> = (0..400usize)
            .map(|i| {
                let t = t0 + d as i64 * day + (i as i64) * 200_000;
                normalize(json!({
                    "eventTime": t1578_core::alert::rfc3339(t),
                    "eventSource": "ec2.amazonaws.com",
                    "eventName": aws_ops[(d * 7 + i) % aws_ops.len()],
                    "awsRegion": long("region-", d * 400 + i),
                    "sourceIPAddress": format!("10.{}.{}.9", d, i % 250),
                    "userAgent": long("ua", i),
                    "eventID": format!("e-{d}-{i}"),
                    "recipientAccountId": "111122223333",
                    "requestParameters": {
                        "snapshotId": long("snap-", i),
                        // Every other attach a root one, the others on an instance: the window
                        // links every volume, as a root disk or as a data disk.
                        "device": if i % 2 == 0 { "/dev/xvda" } else { "/dev/sdf" },
                        "instanceId": long("i-", i),
                        "createVolumePermission": {"add": {"items": [{"userId": format!("{:012}", d * 1000 + i)}]}}
                    },
                    "userIdentity": {"type": "IAMUser", "arn": long("arn:aws:iam::111122223333:user/", 0), "accountId": "111122223333"}
                }))
                .unwrap()
            })
            .collect();
        let r = futures::executor::block_on(process_batch(
            &engine,
            &store,
            &sink,
            &events,
            &PipelineOptions::default(),
        ));
        assert!(r.failures.is_empty());
        let k = key
            .get_or_insert_with(|| engine.score(&events[0]).unwrap().key)
            .clone();
        let bytes = store.get_bytes(&k).unwrap();
        WindowState::decode(&bytes, &k).unwrap();
        max_bytes = max_bytes.max(bytes.len());
    }
    assert!(max_bytes <= 16 * 1024, "state reached {max_bytes} bytes");
    assert!(
        max_bytes > 4 * 1024,
        "the test fills the state ({max_bytes} bytes)"
    );
}

/// The first event of a fixture under `events/`.
fn fixture(name: &str) -> t1578_core::ComputeEvent {
    load(&events_dir().join(name))[0].clone()
}

/// A day in ms, and the midnight (UTC) that starts the day of `ev`.
fn day_of(ev: &t1578_core::ComputeEvent) -> (i64, i64) {
    let day = 86_400_000;
    (day, ev.time_ms - ev.time_ms.rem_euclid(day))
}

/// A copy of a fixture's event by another principal, at another time, on other resources.
fn by(template: &t1578_core::ComputeEvent, who: &str, t: i64, n: usize) -> t1578_core::ComputeEvent {
    let mut ev = template.clone();
    ev.principal.key = format!("arn:aws:iam::111122223333:user/{who}");
    ev.principal.name = who.to_string();
    ev.principal.arn = Some(ev.principal.key.clone());
    ev.account = "111122223333".into();
    ev.time_ms = t;
    ev.event_id = format!("{who}-{t}-{n}");
    ev.resources = vec![format!("i-{who}{n:04}")];
    ev
}

/// `ev` as made from the address `ip`.
fn from(mut ev: t1578_core::ComputeEvent, ip: &str) -> t1578_core::ComputeEvent {
    ev.source_ip = Some(ip.into());
    ev
}

/// The alerts of `events`, in time order, by the default profile observing from `start`.
fn replay_from(mut events: Vec<t1578_core::ComputeEvent>, start: i64) -> Vec<Alert> {
    events.sort_by_key(|e| e.time_ms);
    replay(
        &common::engine(ProfileName::Default).observed_since(start),
        &events,
    )
    .1
}

/// The principals alerted for, by name.
fn names(alerts: &[Alert]) -> std::collections::BTreeSet<&str> {
    alerts.iter().map(|a| a.actor.user.name.as_str()).collect()
}

/// The reason codes of an alert's baseline, in order.
fn codes(a: &Alert) -> Vec<&str> {
    a.unmapped
        .baseline
        .iter()
        .flat_map(|b| b.reasons.iter().map(|r| r.code.as_str()))
        .collect()
}

/// [`by`], as a session `session` of the role `name`.
fn as_role(
    template: &t1578_core::ComputeEvent,
    name: &str,
    session: &str,
    t: i64,
    n: usize,
) -> t1578_core::ComputeEvent {
    let mut ev = by(template, name, t, n);
    ev.principal.kind = t1578_core::PrincipalKind::Role;
    ev.principal.key = format!("arn:aws:iam::111122223333:role/{name}");
    ev.principal.session = Some(session.into());
    ev
}

/// A cold start: on the detector's first day every principal lacks history, and without
/// `observed_since` every busy one meets the seed's thresholds. With it, a principal first seen
/// within `min_history_days` of the start is learned, not new: only a critical (or a protection
/// change, a stop-then-user-data swap, a person's revert that deletes what it replaced, or a
/// mass deletion by people) alerts for it.
/// One first seen before the detector has watched the account for the baseline period may have
/// been silent all that time: only its volume against the history it has alerts (a mass action),
/// not the seed's thresholds. One first seen after that is new and meets the thresholds.
#[test]
fn principals_seen_at_the_start_are_learned_and_later_ones_are_new() {
    let terminate = load(&events_dir().join("aws/ec2-terminate-instances.json"))[0].clone();
    let public = load(&events_dir().join("aws/ec2-modify-image-attribute-public.json"))[0].clone();
    let (day, start) = day_of(&terminate);
    // (who, first event, terminations): two deletes meet the seed's thresholds, twelve are a
    // mass action against any history.
    let cast = [
        ("autoscaler", start + 3_600_000, 12),
        ("occasional", start + 5 * day, 2),
        ("returning", start + 6 * day, 12),
        ("newcomer", start + 15 * day, 2),
    ];
    let mut events: Vec<_> = cast
        .iter()
        .flat_map(|&(who, at, k)| (0..k).map(move |n| (who, at + n as i64 * 60_000, n)))
        .map(|(who, t, n)| by(&terminate, who, t, n))
        .collect();
    events.push(by(&public, "imagebuilder", start + 7_200_000, 0));
    events.sort_by_key(|e| e.time_ms);
    let created = |engine: &Engine| -> BTreeMap<String, (String, Vec<String>)> {
        let (_, alerts) = replay(engine, &events);
        alerts
            .iter()
            .filter(|a| a.activity_name == "Create")
            .map(|a| {
                let codes = a
                    .unmapped
                    .baseline
                    .iter()
                    .flat_map(|b| b.reasons.iter().map(|r| r.code.clone()));
                (
                    a.actor.user.name.clone(),
                    (a.tier().as_str().to_string(), codes.collect()),
                )
            })
            .collect()
    };
    let plain = created(&common::engine(ProfileName::Default));
    for who in ["autoscaler", "occasional", "returning", "newcomer"] {
        assert_eq!(plain[who].1, vec!["no_history".to_string()], "{plain:?}");
    }
    let learned = created(&common::engine(ProfileName::Default).observed_since(start));
    assert!(!learned.contains_key("autoscaler"), "{learned:?}");
    assert!(!learned.contains_key("occasional"), "{learned:?}");
    assert_eq!(
        learned["returning"].1,
        vec!["volume".to_string(), "short_observation".to_string()],
        "{learned:?}"
    );
    assert_eq!(
        learned["newcomer"].1,
        vec!["no_history".to_string()],
        "{learned:?}"
    );
    assert_eq!(learned["imagebuilder"].0, "critical", "{learned:?}");
    assert!(
        learned["imagebuilder"].1.contains(&"learning".to_string()),
        "{learned:?}"
    );
}

/// An agentless scanner shares each snapshot it reads with its vendor's account and takes the
/// share back when done, every day. Learned from the deployment's first day, its first share
/// with the vendor is a critical (a new destination); the vendor is known from then on, and
/// taking a share back is a modify, not a protection change, so its second and third days
/// raise nothing (each raised a finding when it was one). A protection change still alerts for
/// a learning principal, and one share taken back by a newcomer is one point, no finding.
#[test]
fn a_scanner_that_shares_and_takes_back_alerts_once_while_learned() {
    let share = fixture("aws/ec2-modify-snapshot-attribute-share.json");
    let unshare = fixture("aws/ec2-modify-snapshot-attribute-remove.json");
    let delete = fixture("aws/ec2-delete-snapshot.json");
    let serial = fixture("aws/ec2-enable-serial-console-access.json");
    let (day, start) = day_of(&share);
    let mut events = Vec::new();
    for d in 0..3 {
        for n in 0..20 {
            let t = start + d * day + 3_600_000 + n as i64 * 60_000;
            events.push(by(&share, "scanner", t, n));
            events.push(by(&unshare, "scanner", t + 1_800_000, n));
            events.push(by(&delete, "scanner", t + 1_900_000, n));
        }
    }
    events.push(by(&serial, "admin", start + day + 7_200_000, 0));
    events.push(by(&unshare, "tidier", start + 16 * day, 0));
    events.sort_by_key(|e| e.time_ms);
    let (_, alerts) = replay(
        &common::engine(ProfileName::Default).observed_since(start),
        &events,
    );
    let days = |who: &str| -> std::collections::BTreeSet<i64> {
        alerts
            .iter()
            .filter(|a| a.actor.user.name == who)
            .map(|a| (a.time - start) / day)
            .collect()
    };
    assert_eq!(days("scanner"), [0].into(), "{alerts:#?}");
    let first = alerts.iter().find(|a| a.actor.user.name == "scanner").unwrap();
    assert_eq!(first.tier().as_str(), "critical");
    assert_eq!(days("admin"), [1].into());
    assert!(days("tidier").is_empty());
}

/// A principal being learned alerts for a technique's whole shape, as for a protection change:
/// its instance stopped, its user data swapped and started again within the hour is what the
/// community rules alert on whoever does it. A user-data change on a running instance, the
/// same swap by Terraform (the way it changes user data), even with later calls of that role
/// from another agent, or a volume made from a snapshot and attached (a restore, a scanner's
/// daily work), is learned.
#[test]
fn a_user_data_swap_alerts_while_the_principal_is_learned() {
    let stop = fixture("aws/ec2-stop-instances.json");
    let user_data = fixture("aws/ec2-modify-instance-attribute-user-data.json");
    let from_snapshot = fixture("aws/ec2-create-volume-from-snapshot.json");
    let attach = fixture("aws/ec2-attach-volume.json");
    let snapshot = fixture("aws/ec2-create-snapshot.json");
    let (day, start) = day_of(&stop);
    let at = |d: i64, minutes: i64| start + d * day + 3_600_000 + minutes * 60_000;
    let mut events = swap_and_tweak(&stop, &user_data, at(1, 0));
    for n in 0..6_usize {
        let m = n as i64;
        events.push(by(&from_snapshot, "restorer", at(0, m), n));
        events.push(by(&attach, "restorer", at(0, m + 10), n));
    }
    // Terraform changes user data by stopping the instance, swapping it and starting it; the
    // same role's later calls from another agent do not make its swap the technique.
    for (i, ev) in [&stop, &user_data].into_iter().enumerate() {
        let mut ev = by(ev, "terraform", at(2, i as i64), 5);
        ev.user_agent = Some(TERRAFORM.into());
        events.push(ev);
    }
    for n in 0..3_usize {
        events.push(by(&snapshot, "terraform", at(2, 480 + n as i64), n));
    }
    events.sort_by_key(|e| e.time_ms);
    let learned = common::engine(ProfileName::Default).observed_since(start);
    let (_, alerts) = replay(&learned, &events);
    let who: std::collections::BTreeSet<&str> = alerts.iter().map(|a| a.actor.user.name.as_str()).collect();
    assert_eq!(who, ["swapper"].into(), "{alerts:#?}");
    let desc = &alerts[0].finding_info.desc;
    assert!(desc.contains("a technique's whole sequence"), "{desc}");
}

/// Azure's form of the same swap: a VM deallocated, its user data rewritten (the Start's request
/// body sets `userData`, which cloud-init runs at boot) within the hour and started again,
/// alerts for a person being learned. User data set on a running machine (deallocated only
/// later), and the same swap by a service principal (Terraform's, a pipeline's: the Activity
/// Log names no user agent to tell them by), are learned.
#[test]
fn an_azure_vm_deallocated_and_its_user_data_rewritten_alerts_while_learned() {
    let deallocate = succeeded("azure/compute-vm-deallocate.json");
    let user_data = fixture("azure/compute-vm-write-user-data.json");
    assert!(user_data.details.user_data, "the fixture's Start sets userData");
    let (day, start) = day_of(&deallocate);
    let at = |d: i64, minutes: i64| start + d * day + 3_600_000 + minutes * 60_000;
    let mut events = swap_and_tweak(&deallocate, &user_data, at(1, 0));
    for (i, ev) in [&deallocate, &user_data].into_iter().enumerate() {
        let mut ev = by(ev, "terraform", at(2, i as i64), 5);
        ev.principal.kind = t1578_core::PrincipalKind::ServicePrincipal;
        events.push(ev);
    }
    let alerts = replay_from(events, start);
    assert_eq!(names(&alerts), ["swapper"].into(), "{alerts:#?}");
    assert_eq!(alerts[0].time, at(1, 5), "the user data's write");
    let desc = &alerts[0].finding_info.desc;
    assert!(desc.contains("a technique's whole sequence"), "{desc}");
}

/// A user-data swap and its look-alike from `t`: "swapper" stops a machine and writes its user
/// data 5 minutes later (the technique); "tweaker" writes another machine's user data while it
/// runs and stops it 30 minutes later.
fn swap_and_tweak(
    stop: &t1578_core::ComputeEvent,
    user_data: &t1578_core::ComputeEvent,
    t: i64,
) -> Vec<t1578_core::ComputeEvent> {
    let minute = 60_000;
    vec![
        by(stop, "swapper", t, 7),
        by(user_data, "swapper", t + 5 * minute, 7),
        by(user_data, "tweaker", t, 3),
        by(stop, "tweaker", t + 30 * minute, 3),
    ]
}

/// The Success record of an Activity Log fixture (the first record may be its Start).
fn succeeded(name: &str) -> t1578_core::ComputeEvent {
    load(&events_dir().join(name))
        .into_iter()
        .find(|e| e.phase == t1578_core::Phase::Success)
        .unwrap_or_else(|| panic!("{name} has no Success record"))
}

/// A scale-set model written, then pushed to its instances within the hour, is the Azure form
/// of AWS's stop, user data, start (the Activity Log keeps no custom data to read). Rare users
/// (a VM change on 3 of the last 14 days) on their fourth day: the one whose first push
/// follows its own write of that model alerts, one who writes one scale set and upgrades
/// another does not. A deploy job makes the pair on every release (AKS on a node pool's image
/// upgrade): a workload's pair adds its points only, raises nothing while it is being learned,
/// and its first one after is a first execution as any (the rare "fleet" identity's is not a
/// finding), where a person pushing a fleet's model by hand in its first days alerts, as for
/// the AWS swap.
#[test]
fn a_scale_set_model_pushed_after_its_write_alerts_for_a_person_and_not_for_a_deploy_job() {
    let vm = succeeded("azure/compute-vm-write.json");
    let write = succeeded("azure/compute-vmss-write.json");
    let upgrade = succeeded("azure/compute-vmss-manual-upgrade.json");
    let (day, start) = day_of(&vm);
    let at = |d: i64, minutes: i64| start + d * day + 10 * 3_600_000 + minutes * 60_000;
    let mut events = Vec::new();
    for who in ["pusher", "upgrader"] {
        for d in [0, 4, 8] {
            events.push(by(&vm, who, at(d, 0), d as usize));
        }
    }
    events.push(by(&write, "pusher", at(12, 0), 100));
    events.push(by(&upgrade, "pusher", at(12, 20), 100));
    events.push(by(&write, "upgrader", at(12, 0), 100));
    events.push(by(&upgrade, "upgrader", at(12, 20), 101));
    events.push(by(&write, "newcomer", at(1, 0), 100));
    events.push(by(&upgrade, "newcomer", at(1, 20), 100));
    for d in 0..=12 {
        for (k, ev) in [&write, &upgrade].into_iter().enumerate() {
            let mut ev = by(ev, "deployer", at(d, 5 * k as i64), 7);
            ev.principal.kind = t1578_core::PrincipalKind::ServicePrincipal;
            ev.event_id = format!("deployer-{d}-{k}");
            events.push(ev);
        }
    }
    for d in [0, 4, 8] {
        let mut ev = by(&write, "fleet", at(d, 0), d as usize);
        ev.principal.kind = t1578_core::PrincipalKind::ManagedIdentity;
        events.push(ev);
    }
    for (k, ev) in [&write, &upgrade].into_iter().enumerate() {
        let mut ev = by(ev, "fleet", at(12, 20 * k as i64), 100);
        ev.principal.kind = t1578_core::PrincipalKind::ManagedIdentity;
        events.push(ev);
    }
    let alerts = replay_from(events, start);
    assert_eq!(names(&alerts), ["newcomer", "pusher"].into(), "{alerts:#?}");
    let newcomer = alerts.iter().find(|a| a.actor.user.name == "newcomer").unwrap();
    assert!(codes(newcomer).contains(&"learning"), "{newcomer:#?}");
    let pusher = alerts.iter().find(|a| a.actor.user.name == "pusher").unwrap();
    let why: Vec<&str> = pusher
        .unmapped
        .baseline
        .iter()
        .flat_map(|b| b.reasons.iter().map(|r| r.detail.as_str()))
        .collect();
    assert!(
        why.iter()
            .any(|r| r.starts_with("first azure.compute.vmss_manual_upgrade")
                && r.ends_with("(after azure.compute.vmss_write on the same resource within 60 minutes)")),
        "{why:?}"
    );
}

/// A security agent removed from a VM, then code run on that VM within the hour, is a defense
/// disabled to run code unseen (the twenty-fifth blind probe's W04: an admin who updates
/// monitoring extensions routinely removed Defender and pushed a CustomScript). Rare users
/// (an extension written on 3 of the last 14 days) on their fourth day, all from their usual
/// address: the one whose script runs on the VM it just took the agent off alerts; one whose
/// script runs on another VM does not, as its CustomScript is a variant of its extension
/// writes. The two calls name two resources (the agent's extension and the script's, or the
/// VM a run command is on): the sequence is on their machine.
#[test]
fn a_script_run_where_the_principal_just_removed_the_security_agent_alerts() {
    let routine = succeeded("azure/compute-vm-extension-write.json");
    let remove = succeeded("azure/compute-vm-security-extension-delete.json");
    let script = succeeded("azure/compute-vm-extension-write-custom-script.json");
    let run = from(succeeded("azure/compute-vm-run-command.json"), "198.51.100.44");
    let (day, start) = day_of(&remove);
    let at = |d: i64, minutes: i64| start + d * day + 10 * 3_600_000 + minutes * 60_000;
    let vm = |name: &str| {
        format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{name}")
    };
    // `ev` by `who` on `machine` (its `part`, or the machine itself).
    let on = |ev: &t1578_core::ComputeEvent, who: &str, t: i64, machine: &str, part: Option<&str>| {
        let mut ev = by(ev, who, t, 0);
        ev.event_id = format!("{who}-{t}-{machine}");
        ev.resources = vec![part.map_or_else(|| vm(machine), |p| format!("{}/extensions/{p}", vm(machine)))];
        ev.details.machine = part.map(|_| vm(machine));
        ev
    };
    let mut events = Vec::new();
    for who in ["remover", "elsewhere", "runner"] {
        for d in [0, 4, 8] {
            events.push(on(
                &routine,
                who,
                at(d, 0),
                &format!("vm-{d}"),
                Some("AzureMonitorLinuxAgent"),
            ));
        }
        events.push(on(&remove, who, at(12, 0), "vm-sql", Some("MDE.Windows")));
    }
    events.push(on(&script, "remover", at(12, 20), "vm-sql", Some("CustomScript")));
    events.push(on(
        &script,
        "elsewhere",
        at(12, 20),
        "vm-web",
        Some("CustomScript"),
    ));
    events.push(on(&run, "runner", at(12, 20), "vm-sql", None));
    let alerts = replay_from(events, start);
    assert!(names(&alerts).contains("remover"), "{alerts:#?}");
    assert!(!names(&alerts).contains("elsewhere"), "{alerts:#?}");
    for who in ["remover", "runner"] {
        let why: Vec<&str> = alerts
            .iter()
            .filter(|a| a.actor.user.name == who)
            .flat_map(|a| a.unmapped.baseline.iter())
            .flat_map(|b| b.reasons.iter().map(|r| r.detail.as_str()))
            .collect();
        assert!(
            why.iter().any(|r| r.ends_with(
                "(after azure.compute.vm_security_extension_delete on the same machine within 60 minutes)"
            )),
            "{who}: {why:?}"
        );
    }
}

/// A generalize alerts for a principal being learned, as a protection change does: it makes a
/// machine into an image. Not an image pipeline's (Packer, Azure Image Builder): a workload
/// that creates its build VM, then deallocates, generalizes and captures it and deletes it.
/// A workload's generalize of a machine it did not write, or a person's, still alerts.
#[test]
fn an_image_pipelines_generalize_of_its_build_vm_is_learned_and_anothers_alerts() {
    let write = succeeded("azure/compute-vm-write.json");
    let deallocate = succeeded("azure/compute-vm-deallocate.json");
    let generalize = succeeded("azure/compute-vm-generalize.json");
    let image = succeeded("azure/compute-gallery-image-version-write.json");
    let delete = succeeded("azure/compute-vm-delete.json");
    let (day, start) = day_of(&write);
    let at = |minutes: i64| start + day + 10 * 3_600_000 + minutes * 60_000;
    let as_kind = |mut ev: t1578_core::ComputeEvent, kind| {
        ev.principal.kind = kind;
        ev
    };
    let identity = t1578_core::PrincipalKind::ManagedIdentity;
    let mut events = Vec::new();
    for (m, ev, n) in [
        (0, &write, 7),
        (30, &deallocate, 7),
        (32, &generalize, 7),
        (35, &image, 8),
        (60, &delete, 7),
    ] {
        events.push(as_kind(by(ev, "builder", at(m), n), identity));
    }
    for (m, ev) in [(0, &deallocate), (2, &generalize)] {
        events.push(as_kind(
            by(ev, "thief", at(m), 9),
            t1578_core::PrincipalKind::ServicePrincipal,
        ));
    }
    for (m, ev) in [(0, &write), (30, &generalize)] {
        events.push(by(ev, "admin", at(m), 5));
    }
    let alerts = replay_from(events, start);
    assert_eq!(names(&alerts), ["admin", "thief"].into(), "{alerts:#?}");
    assert!(
        alerts.iter().all(|a| codes(a).contains(&"learning")),
        "{alerts:#?}"
    );
}

/// A person on two new networks in one window, with nothing unusual in what it does, is a sign
/// of stolen credentials once its history is settled (active on 5 of its 14 days); for a rare
/// user every network is new (a mobile or home line brings another on each active day), so
/// its two count one, and complete only a weak sign.
#[test]
fn two_new_networks_alert_for_a_settled_person_and_not_for_a_rare_user() {
    let terminate = fixture("aws/ec2-terminate-instances.json");
    let (day, start) = day_of(&terminate);
    let at = |d: i64, minutes: i64| start + d * day + 10 * 3_600_000 + minutes * 60_000;
    let mut events = Vec::new();
    for (who, days) in [("rare", vec![0, 4, 8]), ("regular", (0..12).collect())] {
        for d in days {
            events.push(from(by(&terminate, who, at(d, 0), d as usize), "203.0.113.10"));
        }
        events.push(from(by(&terminate, who, at(12, 0), 100), "198.51.100.7"));
        events.push(from(by(&terminate, who, at(12, 30), 101), "192.0.2.77"));
    }
    let alerts = replay_from(events, start);
    assert_eq!(names(&alerts), ["regular"].into(), "{alerts:#?}");
    assert_eq!(codes(&alerts[0]), ["new_network"], "{alerts:#?}");
}

/// Rare users (a VM deallocated on 3 of the last 14 days: a thin history) on their fourth day
/// remove Defender for Endpoint's extension from a VM. Disabling a defense tool names its
/// threat as a GPU size does, so a new network completes it; from the usual network it is one
/// point, no finding. Another protection change (a disk encryption set written) from a new
/// network is a rare admin's provisioning: no weak sign for a thin history.
#[test]
fn a_rare_users_security_agent_removal_from_a_new_network_alerts_and_from_home_does_not() {
    let deallocate = succeeded("azure/compute-vm-deallocate.json");
    let (day, start) = day_of(&deallocate);
    let at = |d: i64, minutes: i64| start + d * day + 10 * 3_600_000 + minutes * 60_000;
    // In the resource group of its history: a new one is a sign of its own.
    let here = |ev: t1578_core::ComputeEvent| t1578_core::ComputeEvent {
        scope: deallocate.scope.clone(),
        ..ev
    };
    let remove = here(succeeded("azure/compute-vm-security-extension-delete.json"));
    let encrypt = here(succeeded("azure/compute-disk-encryption-set-write.json"));
    let home = "203.0.113.10";
    let mut events = Vec::new();
    for (i, who) in ["away", "home", "encrypter"].iter().enumerate() {
        for d in [0, 4, 8] {
            events.push(from(by(&deallocate, who, at(d, i as i64), d as usize), home));
        }
    }
    events.push(from(by(&remove, "away", at(12, 0), 100), "198.51.100.7"));
    events.push(from(by(&remove, "home", at(12, 1), 101), home));
    events.push(from(by(&encrypt, "encrypter", at(12, 2), 102), "198.51.100.9"));
    let alerts = replay_from(events, start);
    assert_eq!(names(&alerts), ["away"].into(), "{alerts:#?}");
    assert_eq!(codes(&alerts[0]), ["new_operation", "new_network"], "{alerts:#?}");
}

/// Rare users (a troubleshooting revert or a stop on day 0: a thin history) revert again on
/// day 11. A person's first revert names its threat, as a first GPU launch does: a restore puts a
/// copy of the data, or an old machine, where the restorer chose. From a network it never used,
/// that alerts: a root volume replaced and the replaced one deleted, a plain replacement, a
/// backup restored. From its own network it does not (a DR drill from the office), nor does a
/// patching role's or a DR role's (a workload's monthly revert or restore may be its routine,
/// from a runner's new address each time), nor a rare user's first image of an instance from a
/// new network, as many points as a revert (a thin history's first capture may be any routine).
#[test]
fn a_rare_users_first_revert_from_a_new_network_alerts() {
    let keep = fixture("aws/ec2-create-replace-root-volume-task-keep-replaced.json");
    // In the region of its history: a new region is a sign of its own.
    let here = |ev: t1578_core::ComputeEvent| t1578_core::ComputeEvent {
        scope: keep.scope.clone(),
        ..ev
    };
    let discard = here(fixture(
        "aws/ec2-create-replace-root-volume-task-delete-replaced.json",
    ));
    let restore = here(fixture("aws/backup-start-restore-job.json"));
    let stop = here(fixture("aws/ec2-stop-instances.json"));
    let image = here(fixture("aws/ec2-create-image.json"));
    let (day, start) = day_of(&discard);
    let at = |d: i64, minutes: i64| start + d * day + 11 * 3_600_000 + minutes * 60_000;
    let home = "203.0.113.10";
    let mut events = Vec::new();
    for (i, who) in ["away", "home"].iter().enumerate() {
        events.push(from(by(&keep, who, at(0, i as i64), 0), home));
    }
    for (i, who) in ["plain", "restorer", "drill", "imager"].iter().enumerate() {
        events.push(from(by(&stop, who, at(0, 2 + i as i64), 0), home));
    }
    events.push(from(
        as_role(&keep, "patcher", "ssm-patch-run", at(0, 8), 0),
        home,
    ));
    events.push(from(by(&discard, "away", at(11, 0), 1), "198.51.100.7"));
    events.push(from(by(&discard, "home", at(11, 1), 1), home));
    events.push(from(by(&keep, "plain", at(11, 2), 1), "198.51.100.8"));
    events.push(from(by(&restore, "restorer", at(11, 3), 1), "198.51.100.10"));
    events.push(from(by(&restore, "drill", at(11, 4), 1), home));
    events.push(from(by(&image, "imager", at(11, 5), 1), "198.51.100.11"));
    events.push(from(as_role(&stop, "dr-bot", "dr-drill", at(0, 9), 0), home));
    for (i, (what, role)) in [(&discard, "patcher"), (&restore, "dr-bot")].iter().enumerate() {
        events.push(from(
            as_role(what, role, "scheduled-run", at(11, 6 + i as i64), 1),
            "198.51.100.9",
        ));
    }
    let alerts = replay_from(events, start);
    assert_eq!(
        names(&alerts),
        ["away", "plain", "restorer"].into(),
        "{alerts:#?}"
    );
    for a in &alerts {
        assert_eq!(codes(a), ["new_operation", "new_network"], "{alerts:#?}");
    }
    assert_eq!(alerts[0].time, at(11, 0), "the revert itself");
}

/// The account's root user has no routine to learn: a stop, a detach, a launch and an attach
/// (3 points, the seed's lowest tier) alert for it whatever its standing, on its first day while
/// it is learned as on day 14 with a settled history, with `root_user` among the reasons; an IAM
/// user with the same days is judged against its normal and raises nothing, and a root user's
/// stop and launch (1 point) are no finding.
#[test]
fn the_root_users_compute_changes_meet_the_thresholds_whatever_its_history() {
    let run = fixture("aws/ec2-run-instances.json");
    let stop = fixture("aws/ec2-stop-instances.json");
    let detach = fixture("aws/ec2-detach-volume.json");
    let attach = fixture("aws/ec2-attach-volume.json");
    let (day, start) = day_of(&run);
    let at = |d: i64, minutes: i64| start + d * day + 10 * 3_600_000 + minutes * 60_000;
    let home = "203.0.113.10";
    let as_root = |mut ev: t1578_core::ComputeEvent| {
        ev.principal.kind = t1578_core::PrincipalKind::Root;
        ev
    };
    // Each on every day up to and including day 14, its routine.
    let day_14 = 14;
    let cast: [(&str, bool, &[&t1578_core::ComputeEvent]); 3] = [
        ("root", true, &[&stop, &detach, &run, &attach]),
        ("admin", false, &[&stop, &detach, &run, &attach]),
        ("quiet-root", true, &[&stop, &run]),
    ];
    let mut events = Vec::new();
    for (i, (who, root, calls)) in cast.iter().enumerate() {
        for d in 0..=day_14 {
            for (n, ev) in calls.iter().enumerate() {
                let ev = from(by(ev, who, at(d, (i * 10 + n) as i64), n), home);
                events.push(if *root { as_root(ev) } else { ev });
            }
        }
    }
    let alerts = replay_from(events, start);
    assert_eq!(names(&alerts), ["root"].into(), "{alerts:#?}");
    let first = &alerts[0];
    assert_eq!(first.time, at(0, 3), "its first day's window, while learned");
    assert_eq!(codes(first), ["learning", "root_user"], "{alerts:#?}");
    let last = alerts.last().unwrap();
    assert!(last.time >= at(day_14, 0), "{alerts:#?}");
    assert!(codes(last).contains(&"root_user"), "{alerts:#?}");
    assert!(
        last.unmapped.baseline.as_ref().is_some_and(|b| b.established),
        "settled by day 14: {alerts:#?}"
    );
    // Nothing in its history made it unusual: its reasons are context.
    let desc = &last.finding_info.desc;
    assert!(
        desc.contains(". Context: ") && !desc.contains("Unusual for this principal"),
        "{desc}"
    );
}

/// Rare users (a run_instances on 3 of the last 14 days: a thin history) on their fourth day.
/// One launches GPU instances from a network it never used: a GPU size names its own threat
/// (resource hijacking), so a new network completes it whatever the history. The same launch
/// from the usual network is one point, no finding; another's first image from a new network
/// is no weak sign for a thin history. A VM made by hand (seven operations of two types, none
/// above the bulk count) is not a volume; twelve of points are, all types together (its stop
/// and start, of no points, are not counted).
#[test]
fn a_rare_users_gpu_launch_from_a_new_network_alerts_and_a_vm_made_by_hand_does_not() {
    let run = fixture("aws/ec2-run-instances.json");
    let gpu = fixture("aws/ec2-run-instances-gpu.json");
    let image = fixture("aws/ec2-create-image.json");
    let attach = fixture("aws/ec2-attach-volume.json");
    let stop = fixture("aws/ec2-stop-instances.json");
    let start_ = fixture("aws/ec2-start-instances.json");
    let terminate = fixture("aws/ec2-terminate-instances.json");
    let (day, start) = day_of(&run);
    let at = |d: i64, minutes: i64| start + d * day + 10 * 3_600_000 + minutes * 60_000;
    let home = "203.0.113.10";
    let mut events = Vec::new();
    let cast = ["gpu", "gpu-home", "imager", "handmade", "mass"];
    for (i, who) in cast.iter().enumerate() {
        for d in [0, 4, 8] {
            events.push(from(by(&run, who, at(d, i as i64), d as usize), home));
        }
    }
    let mut day_12 = |who: &str, evs: &[(&t1578_core::ComputeEvent, usize)], ip: &str| {
        let mut n = 100;
        for &(ev, k) in evs {
            for _ in 0..k {
                events.push(from(by(ev, who, at(12, n as i64 - 100), n), ip));
                n += 1;
            }
        }
    };
    // In the region of its history: a new region is a sign of its own.
    let gpu = t1578_core::ComputeEvent {
        scope: run.scope.clone(),
        ..gpu
    };
    day_12("gpu", &[(&gpu, 2)], "198.51.100.7");
    day_12("gpu-home", &[(&gpu, 2)], home);
    day_12("imager", &[(&image, 1)], "198.51.100.8");
    day_12(
        "handmade",
        &[(&run, 2), (&attach, 3), (&stop, 1), (&start_, 1)],
        home,
    );
    day_12(
        "mass",
        &[
            (&run, 3),
            (&attach, 3),
            (&stop, 1),
            (&start_, 1),
            (&terminate, 5),
            (&image, 1),
        ],
        home,
    );
    let alerts = replay_from(events, start);
    let who = names(&alerts);
    assert_eq!(who, ["gpu", "mass"].into(), "{alerts:#?}");
    let details = |name: &str| -> Vec<String> {
        alerts
            .iter()
            .filter(|a| a.actor.user.name == name)
            .flat_map(|a| {
                a.unmapped
                    .baseline
                    .iter()
                    .flat_map(|b| b.reasons.iter().map(|r| r.detail.clone()))
            })
            .collect()
    };
    let gpu_why = details("gpu");
    assert!(
        gpu_why
            .iter()
            .any(|r| r.starts_with("first aws.ec2.run_instances_gpu")),
        "{gpu_why:?}"
    );
    assert!(
        gpu_why
            .iter()
            .any(|r| r.starts_with("new network 198.51.100.0/24")),
        "{gpu_why:?}"
    );
    assert!(
        !gpu_why.iter().any(|r| r.starts_with("new region")),
        "{gpu_why:?}"
    );
    let mass_why = details("mass");
    assert!(
        mass_why
            .iter()
            .any(|r| r.starts_with("12 operations of all types")),
        "{mass_why:?}"
    );
}

/// A principal being learned whose people delete more than four times the seed's bulk count in
/// 24 h above their largest day before (an Owner's stolen session wiping a subscription, keys
/// deleting a fleet and its backups) alerts: nothing tells a busy day from an unusual one yet,
/// but few people's routine deletes that many. Deletes straddling midnight are one burst (the
/// day the window overlaps does not raise the bar). Twenty deletes, a person's 25 two days after
/// a day of 20, and a workload's hundred (a backup product's retention) are learned, even when a
/// person's session of the same role adds one; 21 by people's sessions of a role whose pipeline
/// deletes 50 alert.
#[test]
fn a_mass_deletion_by_people_alerts_while_learned_and_a_workloads_does_not() {
    let terminate = fixture("aws/ec2-terminate-instances.json");
    let (day, start) = day_of(&terminate);
    let at = |d: i64, n: usize| start + d * day + 3_600_000 + n as i64 * 30_000;
    let mut events = Vec::new();
    let mut add = |who: &str, t: i64, n: usize| events.push(by(&terminate, who, t, n));
    for n in 0..21 {
        add("wiper", at(1, n), n);
    }
    for n in 0..20 {
        add("tidier", at(1, n), n);
    }
    for (d, k) in [(0, 20), (2, 25)] {
        for n in 0..k {
            add("cleaner", at(d, n), 100 * d as usize + n);
        }
    }
    // 20 before midnight, 5 after: the day before is none, so 25 are over the bar.
    for n in 0..25 {
        add("night", start + 2 * day - 20 * 60_000 + n as i64 * 60_000, n);
    }
    let role = |name: &str, session: &str, t: i64, n: usize| as_role(&terminate, name, session, t, n);
    for n in 0..100 {
        events.push(role("retention", "nightly", at(1, n), n));
    }
    events.push(role("retention", "ana@example.com", at(1, 101), 101));
    for n in 0..50 {
        events.push(role("mixed", "deploy", at(1, n), n));
    }
    for n in 50..71 {
        events.push(role("mixed", "bo@example.com", at(1, n), n));
    }
    let alerts = replay_from(events, start);
    let who = names(&alerts);
    assert_eq!(who, ["mixed", "night", "wiper"].into(), "{alerts:#?}");
    let mixed = alerts.iter().find(|a| a.actor.user.name == "mixed").unwrap();
    assert_eq!(mixed.time, at(1, 70), "the 21st delete by a person");
    let first = |name: &str| alerts.iter().find(|a| a.actor.user.name == name).unwrap();
    assert_eq!(first("wiper").time, at(1, 20), "the 21st delete crosses the bar");
    let night = first("night").time;
    assert_eq!(night, start + 2 * day, "the 21st, after midnight");
    let reasons: Vec<(&str, &str)> = first("wiper")
        .unmapped
        .baseline
        .iter()
        .flat_map(|b| b.reasons.iter().map(|r| (r.code.as_str(), r.detail.as_str())))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0].0, "volume");
    assert!(
        reasons[0]
            .1
            .starts_with("21 delete operations by people in 24 h, more than 20"),
        "{reasons:?}"
    );
    assert_eq!(reasons[1].0, "learning");
}

/// A principal first seen after the learning days but before the baseline period is not known
/// to be new: a weekly job's first run may be its routine. A role's image janitor deleting 48
/// snapshots on day 6 (its session named after its function, a workload) raises nothing, nor
/// does a person's one delete beside them in the same role; a role launching 48 instances, an
/// IAM user's (a person's) 48 terminations and a role's 120 deletes (a wipe, over the mass bar
/// of 100) are judged by their volume against the history they have, and alert.
#[test]
fn a_workloads_deletes_are_not_judged_by_volume_while_it_is_not_known_to_be_new() {
    let delete = fixture("aws/ec2-delete-snapshot.json");
    let launch = fixture("aws/ec2-run-instances.json");
    let terminate = fixture("aws/ec2-terminate-instances.json");
    let (day, start) = day_of(&delete);
    let at = |n: usize| start + 6 * day + 4 * 3_600_000 + n as i64 * 2_000;
    let mut events = Vec::new();
    for n in 0..48 {
        events.push(as_role(&delete, "janitor", "ami-janitor-fn", at(n), n));
        events.push(as_role(&delete, "mixed", "ami-janitor-fn", at(n), n));
        events.push(as_role(&launch, "fleet", "fleet-scaler-fn", at(n), n));
        events.push(by(&terminate, "ops-user", at(n), n));
    }
    events.push(as_role(&delete, "mixed", "ana@example.com", at(48), 48));
    events.extend((0..120).map(|n| as_role(&delete, "wiper", "cleanup-fn", at(n), n)));
    let alerts = replay_from(events, start);
    assert_eq!(
        names(&alerts),
        ["fleet", "ops-user", "wiper"].into(),
        "{alerts:#?}"
    );
    for a in &alerts {
        assert_eq!(codes(a), ["volume", "short_observation"], "{}", a.actor.user.name);
    }
}

/// A job's schedule says when it runs more sharply than any threshold says how much. Weekly
/// jobs delete 40 snapshots every Sunday at 04:00 for four weeks: the janitor whose fifth Sunday
/// run comes at 13:00 (its code or its credentials someone else's) alerts with `off_schedule`,
/// where its volume, its weekday and its network are as always. One whose Sunday run drifts to
/// 06:00 does not, nor does a person doing the same on the same days (people keep no schedule),
/// nor a workload whose runs fell at 14:00, 16:00 and 18:00 (no schedule to be off).
#[test]
fn a_weekly_job_off_its_schedule_alerts() {
    let delete = fixture("aws/ec2-delete-snapshot.json");
    let (day, start) = day_of(&delete);
    let at = |d: i64, hour: i64, n: usize| start + d * day + hour * 3_600_000 + n as i64 * 2_000;
    let run = |who: &str, d: i64, hour: i64| -> Vec<t1578_core::ComputeEvent> {
        (0..40)
            .map(|n| {
                let t = at(d, hour, n + 40 * d as usize);
                // A person's session is named after them.
                let session = if who == "person" {
                    "ana@example.com"
                } else {
                    "snapshot-janitor-fn"
                };
                as_role(&delete, who, session, t, n + 40 * d as usize)
            })
            .collect()
    };
    let mut events = Vec::new();
    for who in ["janitor", "drifter", "person"] {
        for d in [0, 7, 14, 21] {
            events.extend(run(who, d, 4));
        }
    }
    events.extend(run("janitor", 28, 13));
    events.extend(run("drifter", 28, 6));
    events.extend(run("person", 24, 13));
    // Not on one weekday either: its days are its own, not a weekly job's.
    for (d, hour) in [(0, 14), (5, 16), (11, 18), (24, 22)] {
        events.extend(run("ci", d, hour));
    }
    let alerts: Vec<Alert> = replay_from(events, start)
        .into_iter()
        .filter(|a| a.time >= start + 22 * day)
        .collect();
    assert_eq!(names(&alerts), ["janitor"].into(), "{alerts:#?}");
    assert!(codes(&alerts[0]).contains(&"off_schedule"), "{alerts:#?}");
    assert_eq!(
        alerts[0].time,
        at(28, 13, 40 * 28 + 20),
        "its 21st delete off schedule"
    );
}

/// A weekly job's deletes on another day, at its usual hour: a governance role that deletes
/// volumes every day at 05:00 and snapshots only on its weekly run (days 0, 7, 14 and 21)
/// deletes six snapshots on day 26 at 05:00 and alerts with `off_schedule` at the fifth (the
/// seed's bulk count). These do not: four snapshots off the day (under the bulk count); a job
/// that deletes on two weekdays; a job at 00:00 whose run on the day before, at 23:00, is a
/// daylight-saving shift; a job at 23:00 whose run goes on past 01:00; a job's run on its own
/// weekday; a person's session of the weekly role deleting on another day.
#[test]
fn a_weekly_jobs_deletes_on_another_day_alert() {
    let snapshot = fixture("aws/ec2-delete-snapshot.json");
    let volume = fixture("aws/ec2-delete-volume.json");
    let (day, start) = day_of(&snapshot);
    let at = |d: i64, hour: i64, n: usize| start + d * day + hour * 3_600_000 + n as i64 * 2_000;
    let mut events = Vec::new();
    let mut n = 0usize;
    let mut run =
        |events: &mut Vec<t1578_core::ComputeEvent>, (who, session): (&str, &str), d, hour, count| {
            for i in 0..count {
                n += 1;
                events.push(as_role(&snapshot, who, session, at(d, hour, i), n));
            }
        };
    // (role, weekly days, hour, the day off its weekday and its hour, snapshots deleted then)
    let jobs = [
        ("custodian", &[0, 7, 14, 21][..], 5, (26, 5), 6),
        ("rerun", &[0, 7, 14, 21][..], 5, (26, 5), 4),
        ("twice", &[0, 3, 7, 10, 14, 17, 21, 24][..], 5, (26, 5), 6),
        ("midnight", &[0, 7, 14, 21][..], 0, (27, 23), 6),
        ("overrun", &[3, 10, 17, 24][..], 23, (25, 1), 6),
        ("steady", &[0, 7, 14, 21][..], 5, (28, 5), 30),
    ];
    for (who, days, hour, (off, off_hour), count) in jobs {
        for &d in days {
            run(&mut events, (who, "policy-run"), d, hour, 30);
        }
        run(&mut events, (who, "policy-run"), off, off_hour, count);
    }
    for d in [0, 7, 14, 21] {
        run(&mut events, ("shared", "janitor-fn"), d, 5, 30);
    }
    run(&mut events, ("shared", "ana@example.com"), 26, 5, 6);
    for d in 0..28 {
        for (i, who) in ["custodian", "rerun", "twice", "shared"].into_iter().enumerate() {
            n += 1;
            events.push(as_role(&volume, who, "policy-run", at(d, 5, 40 + i), n));
        }
    }
    let alerts: Vec<Alert> = replay_from(events, start)
        .into_iter()
        .filter(|a| a.time >= start + 25 * day)
        .collect();
    assert_eq!(names(&alerts), ["custodian"].into(), "{alerts:#?}");
    assert!(codes(&alerts[0]).contains(&"off_schedule"), "{alerts:#?}");
    assert_eq!(alerts[0].time, at(26, 5, 4), "its fifth delete on another day");
}

/// A backup product's service principal exports snapshots for an hour every night for two
/// weeks (a snapshot's SAS URL, `durationInSeconds` 3600). On day 15 the one whose export asks
/// for 24 hours alerts with `long_export`, from its usual address at its usual hour. These do
/// not: one asking for 2 hours (a large disk's copy: under four times its longest); one asking
/// for 24 hours that asked for 8 hours in its period (three times as long). A principal whose
/// first export it is has no length of its own to compare with: it is judged as a first
/// export (`new_operation`), not as a long one.
#[test]
fn an_export_far_longer_than_the_principals_usual_alerts() {
    let export = fixture("azure/compute-snapshot-begin-get-access.json");
    let snapshot = succeeded("azure/compute-snapshot-write.json");
    assert_eq!(export.details.export_seconds, Some(3600));
    let (day, start) = day_of(&export);
    let at = |d: i64, n: usize| start + d * day + 2 * 3_600_000 + n as i64 * 60_000;
    let sp = |who: &str, d: i64, n: usize, hours: i64| {
        let mut ev = from(by(&export, who, at(d, n), n + 10 * d as usize), "203.0.113.171");
        ev.principal.kind = t1578_core::PrincipalKind::ServicePrincipal;
        ev.details.export_seconds = Some(hours * 3600);
        ev
    };
    let mut events = Vec::new();
    for d in 0..15 {
        for (i, who) in ["leaker", "copier", "varied"].into_iter().enumerate() {
            let hours = if who == "varied" && d == 9 { 8 } else { 1 };
            events.push(sp(who, d, i, hours));
        }
        let mut make = from(
            by(&snapshot, "newcomer", at(d, 5), 500 + d as usize),
            "203.0.113.171",
        );
        make.principal.kind = t1578_core::PrincipalKind::ServicePrincipal;
        events.push(make);
    }
    events.push(sp("newcomer", 15, 3, 24));
    events.push(sp("leaker", 15, 0, 24));
    events.push(sp("copier", 15, 1, 2));
    events.push(sp("varied", 15, 2, 24));
    let alerts: Vec<Alert> = replay_from(events, start)
        .into_iter()
        .filter(|a| a.time >= start + 15 * day)
        .collect();
    assert_eq!(names(&alerts), ["leaker", "newcomer"].into(), "{alerts:#?}");
    for a in &alerts {
        let long = codes(a).contains(&"long_export");
        assert_eq!(long, a.actor.user.name == "leaker", "{a:#?}");
    }
    let leaker = alerts.iter().find(|a| a.actor.user.name == "leaker").unwrap();
    assert_eq!(codes(leaker), ["long_export"], "{leaker:#?}");
    assert_eq!(leaker.time, at(15, 0));
}

/// A stolen key's mining sweep: a person's instances launched by hand in three regions within
/// the hour, each region's quota fresh. On the detector's second day, while every principal is
/// being learned: the sweeper (two instances in each of three regions in 20 minutes) alerts
/// with `launch_sweep`; six instances in one region, the same sweep made with Terraform's
/// agent, three regions an hour and a half apart, and a role three people share launching in
/// their three regions from their three offices each do not.
#[test]
fn a_persons_launches_across_regions_within_the_hour_alert_while_it_is_learned() {
    let run = fixture("aws/ec2-run-instances.json");
    let (day, start) = day_of(&run);
    let at = |m: i64| start + day + 2 * 3_600_000 + m * 60_000;
    let mut events = Vec::new();
    let regions = ["us-east-1", "sa-east-1", "ap-southeast-1"];
    // (who, minutes between regions, regions used, Terraform's agent, one address per region:
    // a permission set three people share)
    for (who, gap, spread, iac, crowd) in [
        ("sweeper", 8, 3, false, false),
        ("single", 8, 1, false, false),
        ("terraform", 8, 3, true, false),
        ("slow", 90, 3, false, false),
        ("crowd", 8, 3, false, true),
    ] {
        for i in 0..6usize {
            let region = i / 2 % 3;
            // A person's session.
            let session = format!("{who}@example.com");
            let mut ev = as_role(&run, who, &session, at(region as i64 * gap + i as i64), i);
            if crowd {
                ev = from(ev, &format!("198.51.100.{}", 10 + region));
            }
            ev.scope = regions[if spread == 1 { 0 } else { region }].into();
            if iac {
                ev.user_agent = Some(TERRAFORM.into());
            }
            events.push(ev);
        }
    }
    let alerts = replay_from(events, start);
    assert_eq!(names(&alerts), ["sweeper"].into(), "{alerts:#?}");
    assert!(codes(&alerts[0]).contains(&"launch_sweep"), "{alerts:#?}");
    assert!(codes(&alerts[0]).contains(&"learning"), "{alerts:#?}");
}

/// A stolen session's GPU instances in two far regions, one call each, twenty minutes apart,
/// on the detector's first day (the twenty-eighth blind probe's P02): two launch calls whose
/// request names their threat, in two regions within the hour, from one address, are a sweep
/// while the principal is learned. A data scientist's two GPU calls in its one region, one GPU
/// call beside a general-purpose one in another region, and the two GPU calls from two
/// addresses (a permission set two people share) are not.
#[test]
fn a_persons_gpu_launches_in_two_regions_within_the_hour_alert_while_it_is_learned() {
    let gpu = fixture("aws/ec2-run-instances-gpu.json");
    let plain = fixture("aws/ec2-run-instances-gpu-general-purpose.json");
    let (_, start) = day_of(&gpu);
    let at = |m: i64| start + 23 * 3_600_000 + m * 60_000;
    let far = ["ap-southeast-1", "eu-north-1"];
    let mut events = Vec::new();
    // (who, second call a GPU one, regions, addresses)
    for (who, second_gpu, regions, addresses) in [
        ("stolen", true, 2, 1),
        ("trainer", true, 1, 1),
        ("mixed", false, 2, 1),
        ("shared", true, 2, 2),
    ] {
        for i in 0..2usize {
            let template = if i == 1 && !second_gpu { &plain } else { &gpu };
            let mut ev = as_role(template, who, &format!("{who}@example.com"), at(20 * i as i64), i);
            ev.scope = far[i % regions].into();
            events.push(from(ev, &format!("198.51.100.{}", 10 + i % addresses)));
        }
    }
    let alerts = replay_from(events, start);
    assert_eq!(names(&alerts), ["stolen"].into(), "{alerts:#?}");
    assert_eq!(codes(&alerts[0]), ["launch_sweep", "learning"], "{alerts:#?}");
    assert_eq!(alerts[0].time, at(20), "the second region's call");
}

/// Calls of no points are no volume of their own: a developer who deallocates three dev VMs
/// at the end of each weekday deallocates twelve on day 15 (the twenty-seventh blind probe's
/// benign findings: end-of-day shutdowns by the dozen, cost saving). The same count of VM
/// deletes, where the history holds a delete a day, is one.
#[test]
fn a_persons_deallocations_by_the_dozen_are_no_volume() {
    let dealloc = succeeded("azure/compute-vm-deallocate.json");
    let delete = succeeded("azure/compute-vm-delete.json");
    let (day, start) = day_of(&dealloc);
    let at = |d: i64, n: usize| start + d * day + 8 * 3_600_000 + n as i64 * 120_000;
    let office = "203.0.113.70";
    let mut events = Vec::new();
    for d in (0..15).filter(|d| d % 7 < 5) {
        for n in 0..3 {
            events.push(from(by(&dealloc, "saver", at(d, n), n), office));
        }
        events.push(from(by(&delete, "cleaner", at(d, 0), 100 + d as usize), office));
    }
    for n in 0..12 {
        events.push(from(by(&dealloc, "saver", at(15, n), 10 + n), office));
        events.push(from(by(&delete, "cleaner", at(15, n), 200 + n), office));
    }
    let alerts: Vec<Alert> = replay_from(events, start)
        .into_iter()
        .filter(|a| a.time >= start + 15 * day)
        .collect();
    assert_eq!(names(&alerts), ["cleaner"].into(), "{alerts:#?}");
    assert_eq!(codes(&alerts[0]), ["volume"], "{alerts:#?}");
}

/// A principal first seen after the learning days is not known to be new, but a window holding
/// a lifecycle call whose request names its threat meets a new principal's thresholds: two GPU
/// launches (4 points) by a person on day 6 alert, and the reason says why. One GPU launch (2
/// points), two general-purpose launches, two GPU launches by a principal first seen in the
/// learning days (it may have launched them for years before the detector looked; its two on
/// day 8, established by then, repeat what it did) and a workload's two (a weekly image
/// pipeline's GPU build) do not.
#[test]
fn a_gpu_fleet_by_a_principal_not_known_to_be_new_meets_a_new_ones_thresholds() {
    let gpu = fixture("aws/ec2-run-instances-gpu.json");
    let plain = fixture("aws/ec2-run-instances-gpu-general-purpose.json");
    let (day, start) = day_of(&gpu);
    let at = |d: i64, n: usize| start + d * day + 2 * 3_600_000 + n as i64 * 60_000;
    let mut events = Vec::new();
    for n in 0..2 {
        events.push(by(&gpu, "miner", at(6, n), n));
        events.push(by(&plain, "builder", at(6, n), n));
        events.push(by(&gpu, "trainer", at(1, n), n));
        events.push(by(&gpu, "trainer", at(8, n), n + 2));
        events.push(as_role(&gpu, "imaging", "gpu-image-build", at(6, n), n));
    }
    events.push(by(&gpu, "tester", at(7, 0), 0));
    let alerts = replay_from(events, start);
    assert_eq!(names(&alerts), ["miner"].into(), "{alerts:#?}");
    assert_eq!(codes(&alerts[0]), ["short_observation"]);
    let detail = &alerts[0].unmapped.baseline.as_ref().unwrap().reasons[0].detail;
    assert!(detail.contains("names its threat"), "{detail}");
    assert_eq!(alerts[0].time, at(6, 1), "the second launch: 4 points");
}

/// A revert that deletes the volume it replaced leaves nothing of the machine's state before it:
/// no troubleshooting needs that, so a person's alerts while the principal is being learned
/// (and while it is not known to be new), where the same revert keeping the old volume, even
/// three of them, is learned. A patching workload's reverts that delete are learned too; a
/// person's session of a role is a person's.
#[test]
fn a_persons_revert_that_deletes_what_it_replaced_alerts_while_learned() {
    let discard = fixture("aws/ec2-create-replace-root-volume-task-delete-replaced.json");
    let keep = fixture("aws/ec2-create-replace-root-volume-task-keep-replaced.json");
    let (day, start) = day_of(&discard);
    let at = |d: i64, n: usize| start + d * day + 3 * 3_600_000 + n as i64 * 60_000;
    let mut events = vec![
        by(&discard, "reverter", at(1, 0), 0),
        by(&discard, "late", at(6, 0), 0),
    ];
    events.extend((0..3).map(|n| by(&keep, "keeper", at(1, n), n)));
    events.extend((0..3).map(|n| as_role(&discard, "patcher", "ssm-patch-run", at(2, n), n)));
    events.push(as_role(&discard, "oncall", "ravi@example.com", at(2, 0), 0));
    // Every principal is seen in the first days, so none is new: "late" is first seen on day 6,
    // before the detector has watched the account for the baseline period (not known to be new).
    for who in ["reverter", "keeper"] {
        events.push(by(&keep, who, at(0, 9), 9));
    }
    events.push(as_role(&keep, "patcher", "ssm-patch-run", at(0, 9), 9));
    events.push(as_role(&keep, "oncall", "ravi@example.com", at(0, 9), 9));
    let alerts = replay_from(events, start);
    let who = names(&alerts);
    assert_eq!(who, ["late", "oncall", "reverter"].into(), "{alerts:#?}");
    let reasons = |name: &str| -> Vec<String> {
        let a = alerts.iter().find(|a| a.actor.user.name == name).unwrap();
        a.unmapped
            .baseline
            .iter()
            .flat_map(|b| b.reasons.iter().map(|r| r.code.clone()))
            .collect()
    };
    assert_eq!(reasons("reverter"), ["learning"]);
    assert_eq!(reasons("oncall"), ["learning"]);
    assert_eq!(reasons("late"), ["short_observation"]);
    let first = alerts.iter().find(|a| a.actor.user.name == "reverter").unwrap();
    assert_eq!(first.time, at(1, 0), "the revert itself");
}

/// A pooled Identity Center role (people's sessions) that takes up new operations as admins
/// do (an explorer: a first image and a first stop in its fortnight) and snapshots every
/// weekday from the office. On day 15, from the same office at the usual hour, one person's
/// session replaces a server's root volume and deletes the one it replaced: its first such
/// revert weighs in full, as while it is learned, and alerts. The same revert keeping the
/// old volume, by a twin role, is a first revert an admin may troubleshoot with, and a
/// patching role's first revert that deletes is its monthly routine: neither alerts.
#[test]
fn a_persons_first_revert_that_deletes_what_it_replaced_alerts_for_an_exploring_role() {
    let discard = fixture("aws/ec2-create-replace-root-volume-task-delete-replaced.json");
    let keep = fixture("aws/ec2-create-replace-root-volume-task-keep-replaced.json");
    let snap = fixture("aws/ec2-create-snapshot.json");
    let image = fixture("aws/ec2-create-image.json");
    let stop = fixture("aws/ec2-stop-instances.json");
    let (day, start) = day_of(&snap);
    let at = |d: i64, minutes: i64| start + d * day + 14 * 3_600_000 + minutes * 60_000;
    let office = "203.0.113.40";
    let roles = [
        ("platform", "ana@example.com"),
        ("platform-twin", "ana@example.com"),
        ("patcher", "ssm-patch-run"),
    ];
    let mut events = Vec::new();
    for (role, session) in roles {
        for d in (0..15).filter(|d| d % 7 < 5) {
            events.push(from(as_role(&snap, role, session, at(d, 0), d as usize), office));
        }
        events.push(from(as_role(&image, role, session, at(4, 5), 50), office));
        events.push(from(as_role(&stop, role, session, at(8, 5), 51), office));
    }
    events.push(from(
        as_role(&discard, "platform", "ana@example.com", at(15, 10), 90),
        office,
    ));
    events.push(from(
        as_role(&keep, "platform-twin", "ana@example.com", at(15, 10), 90),
        office,
    ));
    events.push(from(
        as_role(&discard, "patcher", "ssm-patch-run", at(15, 10), 90),
        office,
    ));
    let alerts = replay_from(events, start);
    let late: Vec<&Alert> = alerts.iter().filter(|a| a.time >= start + 15 * day).collect();
    assert_eq!(names(&alerts), ["platform"].into(), "{alerts:#?}");
    assert_eq!(late.len(), 1, "{alerts:#?}");
    assert_eq!(codes(late[0]), ["new_operation"], "{late:#?}");
    let detail = &late[0].unmapped.baseline.as_ref().unwrap().reasons[0].detail;
    assert!(detail.contains("names its threat"), "{detail}");
}

/// Another account's copies of a snapshot shared with it, while that account is being learned
/// (first seen on day 0 or day 2), are evidence: the share they use may predate the detector (a
/// scanner's vendor, a backup vault, copying every day), and a share made while the detector
/// watches is the sharer's critical, which stays one. A copy by an account first seen later
/// (not known to be new, or new) is still a critical.
#[test]
fn a_recipients_copies_are_evidence_while_it_is_learned_and_the_share_stays_critical() {
    let copy = fixture("aws/ec2-shared-snapshot-copy-initiated.json");
    let share = fixture("aws/ec2-modify-snapshot-attribute-share.json");
    let (day, start) = day_of(&copy);
    let copy_by = |acct: &str, d: i64| {
        let mut ev = copy.clone();
        ev.principal.key = format!("arn:aws:iam::{acct}:root");
        ev.principal.arn = Some(ev.principal.key.clone());
        ev.principal.name = format!("account {acct}");
        ev.time_ms = start + d * day + 6 * 3_600_000;
        ev.event_id = format!("copy-{acct}-{d}");
        ev
    };
    let mut shared = share.clone();
    shared.time_ms = start + 5 * 3_600_000;
    let events = vec![
        shared,
        copy_by("444455556666", 0),
        copy_by("333344445555", 2),
        copy_by("222233334444", 5),
        copy_by("777788889999", 20),
    ];
    let (_, alerts) = replay(
        &common::engine(ProfileName::Default).observed_since(start),
        &events,
    );
    let who: Vec<(&str, &str)> = alerts
        .iter()
        .map(|a| (a.actor.user.uid.as_str(), a.tier().as_str()))
        .collect();
    assert_eq!(
        who,
        [
            ("arn:aws:iam::111122223333:role/ci-deploy", "critical"),
            ("arn:aws:iam::222233334444:root", "critical"),
            ("arn:aws:iam::777788889999:root", "critical"),
        ],
        "{alerts:#?}"
    );
}

/// A workload's reads of snapshot data in place (here through the EBS direct APIs; Azure's
/// download URLs alike) while it is being learned (first seen in the account's first days of
/// observation) are evidence: a backup product's or a scanner's nightly reads began before the
/// detector looked, and each product's first nights in each account were criticals at every
/// deployment. So are a weekly reader's in the account's first baseline period, when the
/// detector found it at work: in its first week, or after a read on an earlier day. A person's
/// read stays a critical while it is learned, and so do a workload's image export (a copy
/// written elsewhere), the read of a workload first seen after the learning days or before the
/// account's start, a first read in the second week, and one after the first period.
#[test]
fn a_workloads_reads_are_evidence_while_it_is_learned_and_a_persons_stay_critical() {
    let read = fixture("aws/ebs-list-snapshot-blocks.json");
    let export = fixture("aws/ec2-export-image.json");
    let snapshot = fixture("aws/ec2-create-snapshot.json");
    // October's day, as the export's: the read's fixture is dated in December's first days.
    let (day, start) = day_of(&export);
    let workload = |template: &t1578_core::ComputeEvent, who: &str, d: i64, n: usize| {
        let mut ev = by(template, who, start + d * day + 3_600_000, n);
        ev.principal.kind = t1578_core::PrincipalKind::Role;
        ev.principal.session = Some("nightly".into());
        ev
    };
    let events = vec![
        workload(&read, "backup", 0, 0),
        workload(&read, "backup", 1, 1),
        workload(&read, "backup", 2, 2),
        by(&read, "admin", start + 2 * day + 7_200_000, 3),
        workload(&export, "imager", 2, 4),
        workload(&read, "scanner", 6, 5),
        // A weekly reader found at work: its second week is still the account's first period.
        workload(&read, "weekly", 0, 6),
        workload(&read, "weekly", 7, 7),
        // Found at work too, but its first read comes after the account's first 14 days.
        workload(&snapshot, "keeper", 1, 8),
        workload(&read, "keeper", 16, 9),
        // Found at work, but with no read of its own before one in its second week.
        workload(&snapshot, "idle", 0, 10),
        workload(&read, "idle", 10, 11),
        // First seen after the learning days, established when it reads.
        workload(&snapshot, "late", 4, 12),
        workload(&read, "late", 10, 13),
        // Seen before the account's start (a store continued with a later start): not found at
        // work, the detector knew it.
        workload(&snapshot, "veteran", -1, 14),
        workload(&read, "veteran", 5, 15),
    ];
    let (_, alerts) = replay(
        &common::engine(ProfileName::Default).observed_since(start),
        &events,
    );
    let mut who: Vec<(&str, &str)> = alerts
        .iter()
        .map(|a| (a.actor.user.name.as_str(), a.tier().as_str()))
        .collect();
    who.sort();
    assert_eq!(
        who,
        [
            ("admin", "critical"),
            ("idle", "critical"),
            ("imager", "critical"),
            ("keeper", "critical"),
            ("late", "critical"),
            ("scanner", "critical"),
            ("veteran", "critical")
        ],
        "{alerts:#?}"
    );
}

/// A deployment that learns from each account's first event (`observed_since = "first"`, what
/// the Terraform modules set): the start is recorded in the state store once per account and
/// read back by every later invocation, so a member account onboarded days after the first one
/// gets a learning period of its own, and a principal appearing after it is new.
#[test]
fn each_account_learns_from_the_first_event_recorded_for_it() {
    let terminate = load(&events_dir().join("aws/ec2-terminate-instances.json"))[0].clone();
    let (day, start) = day_of(&terminate);
    let burst = |acct: &str, who: &str, at: i64| -> Vec<t1578_core::ComputeEvent> {
        (0..12)
            .map(|n| {
                let mut e = by(&terminate, who, at + n as i64 * 60_000, n);
                e.account = acct.to_string();
                e.event_id = format!("{acct}-{}", e.event_id);
                e
            })
            .collect()
    };
    // One batch per invocation, in delivery order: the first account on day 0, a newcomer in
    // it on day 15, the second account's first events on day 16.
    let batches = [
        burst("111122223333", "autoscaler", start + 3_600_000),
        burst("111122223333", "newcomer", start + 15 * day),
        burst("444455556666", "autoscaler", start + 16 * day),
    ];
    let store = MemoryStore::new();
    let opts = PipelineOptions {
        shadow: true,
        ..PipelineOptions::default()
    };
    let mut alerted = BTreeMap::new();
    for batch in &batches {
        // A cold container each time: what the engine knows of the starts comes from the store.
        let engine = common::engine(ProfileName::Default).observed_from_first_event();
        let r = futures::executor::block_on(process_batch(&engine, &store, &MemorySink::new(), batch, &opts));
        assert!(r.failures.is_empty(), "{:?}", r.failures);
        for a in &r.alerts {
            let reasons = a
                .unmapped
                .baseline
                .iter()
                .flat_map(|b| b.reasons.iter().map(|r| r.code.clone()));
            let who = format!("{}/{}", a.cloud.account.uid, a.actor.user.name);
            alerted.entry(who).or_insert_with(Vec::new).extend(reasons);
        }
    }
    assert_eq!(
        alerted.keys().collect::<Vec<_>>(),
        vec!["111122223333/newcomer"],
        "{alerted:?}"
    );
    assert!(alerted["111122223333/newcomer"].contains(&"no_history".to_string()));
    let recorded = |acct: &str| {
        let key = Engine::first_event_key(t1578_core::Cloud::Aws, acct);
        String::from_utf8(store.get_bytes(&key).unwrap()).unwrap()
    };
    assert_eq!(recorded("111122223333"), (start + 3_600_000).to_string());
    assert_eq!(recorded("444455556666"), (start + 16 * day).to_string());
    // Without a start, both autoscalers meet the seed's thresholds on their first day.
    let plain = common::engine(ProfileName::Default);
    for batch in [&batches[0], &batches[2]] {
        let (_, alerts) = replay(&plain, batch);
        assert!(!alerts.is_empty(), "the bursts alone alert");
    }
}

/// The start of an account that cannot be read fails that account's keys retryably before
/// anything is applied, so the retry decides exactly as an undisturbed run; a start that is no
/// time is restarted from the batch and counted, like a corrupt window.
#[test]
fn an_unreadable_first_event_fails_the_account_retryably_and_a_corrupt_one_restarts() {
    let terminate = load(&events_dir().join("aws/ec2-terminate-instances.json"))[0].clone();
    let t0 = terminate.time_ms;
    let events: Vec<_> = (0..12)
        .map(|n| by(&terminate, "autoscaler", t0 + n as i64 * 60_000, n))
        .collect();
    let engine = || common::engine(ProfileName::Default).observed_from_first_event();
    let run = |store: &MemoryStore, e: &Engine| {
        futures::executor::block_on(process_batch(
            e,
            store,
            &MemorySink::new(),
            &events,
            &PipelineOptions::default(),
        ))
    };
    let store = MemoryStore::new();
    store.fail_next.store(1, std::sync::atomic::Ordering::SeqCst);
    let e = engine();
    let r = run(&store, &e);
    assert!(r.has_retryable_failure(), "{:?}", r.failures);
    assert_eq!(r.failures[0].events, (0..12).collect::<Vec<_>>());
    assert!(store.is_empty(), "nothing applied");
    let r = run(&store, &e);
    assert!(r.failures.is_empty() && r.alerts.is_empty(), "{:?}", r.alerts);
    // Garbage where the start should be.
    let store = MemoryStore::new();
    let key = Engine::first_event_key(t1578_core::Cloud::Aws, "111122223333");
    futures::executor::block_on(t1578_core::StateStore::save(&store, &key, b"\xff{", 0, None)).unwrap();
    let r = run(&store, &engine());
    assert_eq!(r.corrupt_states, 1);
    assert!(r.failures.is_empty() && r.alerts.is_empty(), "{:?}", r.alerts);
    assert_eq!(store.get_bytes(&key).unwrap(), t0.to_string().into_bytes());
}

/// Racing first invocations each propose their own earliest event; the conditional create
/// lets one win and every writer, the losers included, decides with the winner's start.
#[test]
fn racing_first_invocations_agree_on_one_recorded_start() {
    let terminate = load(&events_dir().join("aws/ec2-terminate-instances.json"))[0].clone();
    let n = 8;
    // Every racer reads "no start" for the account, then tries to create it.
    let store = common::Gated::new(
        n,
        Some(Engine::first_event_key(t1578_core::Cloud::Aws, "111122223333")),
    );
    let rule = t1578_core::engine::BaselineRule::DEFAULT;
    let seen: Vec<Option<i64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|w| {
                let (store, terminate) = (&store, terminate.clone());
                s.spawn(move || {
                    let engine = common::engine(ProfileName::Default).observed_from_first_event();
                    let t = terminate.time_ms + w as i64 * 60_000;
                    let batch = vec![by(&terminate, &format!("w{w}"), t, w)];
                    let opts = PipelineOptions::default();
                    let r = futures::executor::block_on(process_batch(
                        &engine,
                        store,
                        &MemorySink::new(),
                        &batch,
                        &opts,
                    ));
                    assert!(r.failures.is_empty(), "{:?}", r.failures);
                    engine.observed_since_for(&rule, t1578_core::Cloud::Aws, "111122223333")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let key = Engine::first_event_key(t1578_core::Cloud::Aws, "111122223333");
    let stored: i64 = String::from_utf8(store.inner.get_bytes(&key).unwrap())
        .unwrap()
        .parse()
        .unwrap();
    assert!(seen.iter().all(|s| *s == Some(stored)), "{seen:?} vs {stored}");
}

/// A busy role's burst compressed into minutes (the automation burst of the workloads: a day's
/// deletes spread over 24 hours, then more than a day's worth in half an hour) alerts on the
/// busiest-hour bar, though its day stays under the daily one; a nightly batch job that always
/// does its whole day in one hour, on a bigger night, does not.
#[test]
fn a_burst_within_an_hour_alerts_where_its_day_stays_under_the_bar() {
    let terminate = load(&events_dir().join("aws/ec2-terminate-instances.json"))[0].clone();
    let (day, minute) = (86_400_000i64, 60_000i64);
    let start = terminate.time_ms - terminate.time_ms.rem_euclid(day);
    let mut events = Vec::new();
    for d in 0..15i64 {
        for n in 0..40i64 {
            let at = start + d * day;
            events.push(by(
                &terminate,
                "cleaner",
                at + n * 36 * minute,
                (d * 100 + n) as usize,
            ));
            events.push(by(
                &terminate,
                "nightly",
                at + 2 * 60 * minute + n * minute,
                (d * 100 + n) as usize,
            ));
        }
    }
    let test_day = start + 15 * day;
    for n in 0..60i64 {
        events.push(by(
            &terminate,
            "cleaner",
            test_day + 2 * 60 * minute + n * 30_000,
            9_000 + n as usize,
        ));
        events.push(by(
            &terminate,
            "nightly",
            test_day + 2 * 60 * minute + n * minute,
            9_000 + n as usize,
        ));
    }
    events.sort_by_key(|e| e.time_ms);
    let (_, alerts) = replay(
        &common::engine(ProfileName::Default).observed_since(start),
        &events,
    );
    let on_test_day: Vec<_> = alerts
        .iter()
        .filter(|a| a.time >= test_day && a.activity_name == "Create")
        .collect();
    let who: Vec<&str> = on_test_day.iter().map(|a| a.actor.user.name.as_str()).collect();
    assert_eq!(who, ["cleaner"], "{who:?}");
    let reasons: Vec<&str> = on_test_day[0]
        .unmapped
        .baseline
        .iter()
        .flat_map(|b| b.reasons.iter().map(|r| r.detail.as_str()))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("delete operations within an hour; busiest hour in the last 14 days: 2")),
        "{reasons:?}"
    );
    assert!(
        on_test_day[0].time < test_day + 2 * 60 * minute + 10 * minute,
        "within minutes of the burst's start"
    );
}

/// An open finding is reported again only while its window still makes a finding. Routine work
/// later in the day of a finding, of a type the finding had not seen, does not repeat it once
/// what made the finding has left the window; growth while it is still there does, and so does
/// a critical.
#[test]
fn routine_work_after_a_finding_does_not_repeat_it() {
    let fixture = |name: &str| load(&events_dir().join(format!("aws/{name}.json")))[0].clone();
    let (create, terminate) = (fixture("ec2-run-instances"), fixture("ec2-terminate-instances"));
    let (snapshot, public) = (
        fixture("ec2-create-snapshot"),
        fixture("ec2-modify-image-attribute-public"),
    );
    let day = 86_400_000;
    let hour = 3_600_000;
    let start = terminate.time_ms - terminate.time_ms.rem_euclid(day) - 20 * day;
    let mut events = Vec::new();
    // Ten days of routine at 10:00: three launches, one termination, one snapshot.
    for d in 0..10 {
        let at = start + d * day + 10 * hour;
        events.extend((0..3).map(|n| by(&create, "ops", at + n as i64 * 60_000, n + 10 * d as usize)));
        events.push(by(&terminate, "ops", at + 5 * 60_000, d as usize));
        events.push(by(&snapshot, "ops", at + 6 * 60_000, d as usize));
    }
    // Day 10 at noon, twelve launches (four times its largest day): a finding.
    let burst = start + 10 * day + 12 * hour;
    events.extend((0..12).map(|n| by(&create, "ops", burst + n as i64 * 60_000, 500 + n)));
    // 20:00: a termination while the burst is still in the window: the finding grew.
    events.push(by(&terminate, "ops", burst + 8 * hour, 500));
    // Next day 13:00: a snapshot, routine, once the burst has left the window.
    events.push(by(&snapshot, "ops", burst + 25 * hour, 500));
    // 14:00: a public image, a critical.
    events.push(by(&public, "ops", burst + 26 * hour, 500));
    events.sort_by_key(|e| e.time_ms);
    let (_, alerts) = replay(&common::engine(ProfileName::Default), &events);
    let reports: Vec<(i64, String, Vec<String>)> = alerts
        .iter()
        .filter(|a| a.time >= burst)
        .map(|a| {
            (
                (a.time - burst) / hour,
                a.activity_name.clone(),
                a.unmapped.finding.updated_because.clone(),
            )
        })
        .collect();
    let hours: Vec<(i64, &str)> = reports.iter().map(|(h, a, _)| (*h, a.as_str())).collect();
    assert_eq!(
        hours,
        vec![(0, "Create"), (8, "Update"), (26, "Update")],
        "{reports:#?}"
    );
    assert_eq!(
        reports[1].2,
        vec!["new operation type DELETE".to_string()],
        "{reports:#?}"
    );
    assert!(
        reports[2].2.contains(&"a new single-event critical".to_string()),
        "{reports:#?}"
    );
}

/// A replay's start (the day of `template`) and a newcomer's first three days from day 15 at
/// 10:00, each 28 hours after the one before: past the window of the last report.
fn newcomer_days(template: &t1578_core::ComputeEvent) -> (i64, i64, [i64; 3]) {
    let (day, start) = day_of(template);
    let hour = 3_600_000;
    let first = start + 15 * day + 10 * hour;
    (start, first, [first, first + 28 * hour, first + 56 * hour])
}

/// Each report of `who`: create or update, hours after `first`, finding id.
fn reports_of<'a>(alerts: &'a [Alert], who: &str, first: i64) -> Vec<(&'a str, i64, &'a str)> {
    alerts
        .iter()
        .filter(|a| a.actor.user.name == who)
        .map(|a| {
            let h = (a.time - first) / 3_600_000;
            (a.activity_name.as_str(), h, a.finding_info.uid.as_str())
        })
        .collect()
}

/// A newcomer (first seen once the detector has watched its account for the baseline period)
/// terminates two test instances on each of its first three days, a day and more apart: the
/// seed's thresholds each day, one finding, as its first days are one incident. A second
/// newcomer does the same, then makes an image public on its third day: a critical is not
/// folded into the finding its first days held open (an analyst may have closed it as the new
/// hire's routine), it opens its own. Past its first days, the first newcomer's finding closes
/// as any does.
#[test]
fn a_newcomers_first_days_are_one_finding_and_a_critical_in_them_opens_its_own() {
    let terminate = fixture("aws/ec2-terminate-instances.json");
    let public = fixture("aws/ec2-modify-image-attribute-public.json");
    let day = 86_400_000;
    let (start, first, days) = newcomer_days(&terminate);
    let mut events = Vec::new();
    for who in ["newcomer", "newcomer2"] {
        for (d, &at) in days.iter().enumerate() {
            events.extend((0..2).map(|n| by(&terminate, who, at + n as i64 * 60_000, 2 * d + n)));
        }
    }
    events.push(by(&public, "newcomer2", days[2] + 2 * 60_000, 9));
    // Past the first newcomer's first days, a mass termination: a finding of its own.
    let later = first + 4 * day;
    events.extend((0..12).map(|n| by(&terminate, "newcomer", later + n as i64 * 60_000, 20 + n)));
    let alerts = replay_from(events, start);
    let of = |who: &str| reports_of(&alerts, who, first);
    let one = of("newcomer");
    let (within, past): (Vec<&(&str, i64, &str)>, Vec<_>) = one.iter().partition(|r| r.1 != 96);
    assert_eq!(within.len(), 1, "one finding in the first days: {one:#?}");
    assert_eq!(within[0].0, "Create", "{one:#?}");
    assert_eq!(past.first().map(|r| r.0), Some("Create"), "{one:#?}");
    assert_ne!(past[0].2, within[0].2, "{one:#?}");
    let two = of("newcomer2");
    let created: Vec<_> = two.iter().filter(|r| r.0 == "Create").collect();
    assert_eq!(
        created.len(),
        2,
        "the day-one finding and the critical's own: {two:#?}"
    );
    assert_ne!(created[0].2, created[1].2, "{two:#?}");
    assert_eq!(created[1].1, 56, "{two:#?}");
    assert!(
        alerts.iter().any(|a| a.actor.user.name == "newcomer2"
            && a.finding_info.uid == created[1].2
            && a.tier() == t1578_core::Tier::Critical),
        "{two:#?}"
    );
}

/// What a newcomer's held finding still reports, and where it stops: a first snapshot on its
/// second day updates it (a new operation type); on the third day, another newcomer's first
/// snapshots update its finding, and ten minutes later its public image opens its own (a
/// critical more than a window after the finding opened, however recent the update); and a
/// first day of 130 terminations, whose last report (128) could never double within the
/// window's bound, holds nothing: the second day's 130 are a finding of their own.
#[test]
fn a_newcomers_held_finding_reports_growth_and_not_past_its_bound() {
    let fixture_of = |name: &str| fixture(&format!("aws/{name}.json"));
    let (terminate, snapshot) = (
        fixture_of("ec2-terminate-instances"),
        fixture_of("ec2-create-snapshot"),
    );
    let public = fixture_of("ec2-modify-image-attribute-public");
    let (start, first, days) = newcomer_days(&terminate);
    let mut events = Vec::new();
    for who in ["grower", "sly"] {
        events.extend((0..2).map(|n| by(&terminate, who, days[0] + n as i64 * 60_000, n)));
    }
    events.extend((0..2).map(|n| by(&snapshot, "grower", days[1] + n as i64 * 60_000, n)));
    events.extend((0..2).map(|n| by(&snapshot, "sly", days[2] + n as i64 * 60_000, n)));
    events.push(by(&public, "sly", days[2] + 10 * 60_000, 9));
    for (d, &at) in days[..2].iter().enumerate() {
        events.extend((0..130).map(|n| by(&terminate, "bulky", at + n as i64 * 20_000, 1000 * d + n)));
    }
    let alerts = replay_from(events, start);
    let of = |who: &str| reports_of(&alerts, who, first);
    let grower = of("grower");
    assert_eq!(grower.len(), 2, "{grower:#?}");
    assert_eq!((grower[1].0, grower[1].1), ("Update", 28), "{grower:#?}");
    assert_eq!(grower[1].2, grower[0].2, "{grower:#?}");
    let sly = of("sly");
    let image = sly.last().unwrap();
    assert_eq!((image.0, image.1), ("Create", 56), "{sly:#?}");
    assert!(
        sly.iter().any(|r| r.0 == "Update" && r.1 == 56),
        "the snapshots update: {sly:#?}"
    );
    assert_ne!(image.2, sly[0].2, "{sly:#?}");
    let bulky: Vec<_> = of("bulky").into_iter().filter(|r| r.0 == "Create").collect();
    assert_eq!(bulky.len(), 2, "{bulky:#?}");
    assert_eq!(bulky[1].1, 28, "{bulky:#?}");
}

/// A weekly share to sixteen partner accounts is routine once known; the same share with one
/// account more, hidden at the end of the list, is a critical naming it, whatever the length of
/// the list. (Recipients past the first eight once went unjudged: the seventeenth, or a ninth,
/// passed as known.)
#[test]
fn a_recipient_added_at_the_end_of_a_long_routine_share_list_is_a_critical() {
    let partners: Vec<String> = (0..16).map(|i| format!("9999888877{i:02}")).collect();
    let run = |last: &[String]| {
        let mut events = load(&events_dir().join("scenarios/baseline/aws-partner-share/events.json"));
        let shares: Vec<usize> = (0..events.len())
            .filter(|&i| !events[i].details.share_added.is_empty())
            .collect();
        assert!(shares.len() >= 3, "weekly shares in the scenario");
        for &i in &shares {
            events[i].details.share_added = partners.clone();
        }
        let final_share = *shares.last().unwrap();
        events[final_share].details.share_added = last.to_vec();
        let at = events[final_share].time_ms;
        let (_, alerts) = replay(&common::engine(ProfileName::Default), &events);
        alerts
            .into_iter()
            .filter(|a| a.time == at && a.unmapped.tier == t1578_core::Tier::Critical)
            .collect::<Vec<_>>()
    };
    assert!(run(&partners).is_empty(), "the routine share is evidence");
    let mut with_one_more = partners.clone();
    with_one_more.push("123456789012".into());
    let criticals = run(&with_one_more);
    assert_eq!(
        criticals.len(),
        1,
        "the share with one account more is a critical"
    );
    let reason = criticals[0]
        .unmapped
        .baseline
        .as_ref()
        .expect("judged against its baseline")
        .reasons
        .iter()
        .find(|r| r.code == "new_destination")
        .expect("a new_destination reason");
    assert!(
        reason.detail.contains("1 more recipients not judged") && reason.detail.contains("16 known"),
        "{}",
        reason.detail
    );
}

/// The alerts of day 22 (of November 2026).
fn alerts_on_day_22(batches: &[Vec<t1578_core::ComputeEvent>]) -> Vec<Alert> {
    alerts_of(batches)
        .into_iter()
        .filter(|a| a.time_dt.starts_with("2026-11-22"))
        .collect()
}

/// The records of an Activity Log document moved to 02:xx on `day` (of November 2026), under
/// one correlation id.
fn at_night(doc: &serde_json::Value, day: u32, correlation: &str) -> Vec<serde_json::Value> {
    doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let time = r["time"].as_str().unwrap();
            r["time"] = json!(format!("2026-11-{day:02}T02{}", &time[13..]));
            r["correlationId"] = json!(correlation);
            r
        })
        .collect()
}

/// A gallery the image pipeline shares every week with its partner, then on day 22 a sharing
/// update of it with request `body`: the Activity Log names recipients only in the share's
/// `Start` record, from which the default profile counts this row (`on_start`), so the known
/// destinations are the recipients (and the gallery). With `success_first`, the day-22
/// Success is processed in a batch of its own before its Start (another partition, a
/// redrive). Returns the day-22 alerts.
fn gallery_on_day_22(body: &str, success_first: bool) -> Vec<Alert> {
    let path = events_dir().join("scenarios/baseline/azure-gallery-partner-share/events.json");
    let mut doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let records = doc["records"].as_array_mut().unwrap();
    let shares: Vec<serde_json::Value> = records
        .iter()
        .filter(|r| r["operationName"].as_str().unwrap().contains("SHARE"))
        .cloned()
        .collect();
    // The last share: its Start and its Success.
    let share = shares[shares.len() - 2..].to_vec();
    assert_eq!(share[0]["resultType"], "Start");
    for mut r in share {
        let t = r["time"].as_str().unwrap().replace("2026-11-15", "2026-11-22");
        r["time"] = json!(t);
        r["correlationId"] = json!("0e1f2a3b-0000-4000-8000-000000000022");
        if r["resultType"] == "Start" {
            r["properties"]["requestbody"] = json!(body);
        }
        records.push(r);
    }
    let mut events = events_of(&doc);
    assert!(events.len() > 50, "{} events", events.len());
    let start = events.remove(events.len() - 2);
    assert_eq!(start.phase, t1578_core::Phase::Start);
    let batches = if success_first {
        vec![events, vec![start]]
    } else {
        let success = events.pop().unwrap();
        vec![events, vec![start, success]]
    };
    alerts_on_day_22(&batches)
}

/// A subscription the scenarios' principals never shared to or copied from.
const RECIPIENT: &str = "dddddddd-1234-4321-8765-0123456789ab";

fn added(recipient: &str) -> String {
    format!(r#"{{"operationType": "Add", "groups": [{{"type": "Subscriptions", "ids": ["{recipient}"]}}]}}"#)
}

#[test]
fn a_new_recipient_of_a_gallery_shared_every_week_is_a_critical() {
    for success_first in [false, true] {
        let partner = gallery_on_day_22(&added("cccccccc-9999-8888-7777-666666666666"), success_first);
        assert!(partner.is_empty(), "the partner again: {partner:?}");
        // Removing or resetting the sharing of the gallery it shares is not a new destination.
        for op in ["Remove", "Reset"] {
            let body = format!(r#"{{"operationType": "{op}", "groups": []}}"#);
            let off = gallery_on_day_22(&body, success_first);
            assert!(
                off.iter().all(|a| a.tier() != t1578_core::Tier::Critical),
                "{op}: {off:?}"
            );
        }
    }
    // A new recipient, whichever of Start and Success is processed first.
    for success_first in [false, true] {
        let outsider = gallery_on_day_22(&added(RECIPIENT), success_first);
        assert_eq!(outsider.len(), 1, "{outsider:?}");
        check_new_destination(&outsider[0], "azure.compute.gallery_share", RECIPIENT);
    }
}

/// A critical of `row` whose reasons name `destination` as new.
fn check_new_destination(a: &Alert, row: &str, destination: &str) {
    assert_eq!(a.tier(), t1578_core::Tier::Critical);
    assert_eq!(a.unmapped.trigger_catalog_id.as_deref(), Some(row));
    let reasons = codes(a);
    assert!(reasons.contains(&"new_destination"), "{reasons:?}");
    assert!(
        a.finding_info.desc.contains(destination),
        "{}",
        a.finding_info.desc
    );
}

const OWN_SUB: &str = "aaaaaaaa-1111-2222-3333-444444444444";
const DR_SOURCE: &str = "cccccccc-9999-8888-7777-666666666666";

/// The Start and Success of a snapshot copied on `day` (of November 2026) into the fixture's
/// subscription from a snapshot of `from_sub`, by the fixture's caller.
fn copy_on(day: u32, from_sub: &str) -> Vec<serde_json::Value> {
    let path = events_dir().join("azure/compute-snapshot-copy-cross-subscription.json");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let name = format!("snap-dr-{day:02}");
    at_night(&doc, day, &format!("0e1f2a3b-0000-4000-8000-0000000000{day:02}"))
        .into_iter()
        .map(|mut r| {
            let id = r["resourceId"].as_str().unwrap();
            r["resourceId"] = json!(id.replace("SNAP-SQL01-OS-COPY-20260812", &name.to_uppercase()));
            if r["resultType"] == "Start" {
                let body = json!({"location": "westeurope", "properties": {"creationData": {"createOption": "Copy",
                    "sourceResourceId": format!("/subscriptions/{from_sub}/resourceGroups/rg-prod-data/providers/Microsoft.Compute/snapshots/{name}")}}});
                r["properties"]["requestbody"] = json!(body.to_string());
            }
            r
        })
        .collect()
}

/// Three weeks of nightly copies from the production subscription, then day 22's copies, in
/// event-time order or (`success_first`) day 22's Successes in a batch before their Starts;
/// the alerts of day 22.
fn dr_copies_then(day_22: &[&str], success_first: bool) -> Vec<Alert> {
    let mut records: Vec<serde_json::Value> = (1..22).flat_map(|d| copy_on(d, DR_SOURCE)).collect();
    for (k, from) in day_22.iter().enumerate() {
        let mut recs = copy_on(22, from);
        for r in &mut recs {
            r["correlationId"] = json!(format!("0e1f2a3b-0000-4000-8000-10000000002{k}"));
            let id = r["resourceId"].as_str().unwrap().to_string();
            r["resourceId"] = json!(format!("{id}-{k}"));
        }
        records.extend(recs);
    }
    let doc = json!({ "records": records });
    let events = events_of(&doc);
    // Day 22 begins at 1_795_305_600_000 ms.
    let (before, last): (Vec<_>, Vec<_>) = events.into_iter().partition(|ev| ev.time_ms < 1_795_305_600_000);
    let batches = if success_first {
        let (starts, rest): (Vec<_>, Vec<_>) = last
            .into_iter()
            .partition(|ev| ev.phase == t1578_core::Phase::Start);
        vec![before, rest, starts]
    } else {
        vec![before, last]
    };
    alerts_on_day_22(&batches)
}

/// Snapshots copied into a subscription from another one leave the source's log silent; only
/// the Start record here names the source. A principal that copies from one production
/// subscription every night (disaster recovery) is known there; a copy from another
/// subscription is a critical naming it, and a copy within the subscription is no copy out;
/// whichever of the copy's Start and Success is processed first (the Success alone is an
/// ordinary snapshot write, which the Start then replaces).
#[test]
fn a_snapshot_copied_from_a_new_subscription_is_a_critical() {
    for success_first in [false, true] {
        let again = dr_copies_then(&[DR_SOURCE], success_first);
        assert!(again.is_empty(), "the nightly source again: {again:?}");
        let local = dr_copies_then(&[OWN_SUB], success_first);
        assert!(local.is_empty(), "a copy within the subscription: {local:?}");
        let out = dr_copies_then(&[DR_SOURCE, RECIPIENT], success_first);
        assert_eq!(out.len(), 1, "{out:?}");
        check_new_destination(
            &out[0],
            "azure.compute.snapshot_copy_cross_subscription",
            RECIPIENT,
        );
        let desc = &out[0].finding_info.desc;
        assert!(desc.contains("copied from a new source"), "{desc}");
    }
}

/// The records of a download URL for a snapshot (or, `disk`, a managed disk) of subscription
/// `sub`, made at 02:13 on `day` (of November 2026) by the fixture's caller.
fn export_on(day: u32, sub: &str, disk: bool) -> Vec<serde_json::Value> {
    let path = events_dir().join("azure/compute-snapshot-begin-get-access.json");
    let mut text = std::fs::read_to_string(path).unwrap();
    text = text
        .replace(OWN_SUB, sub)
        .replace(&OWN_SUB.to_ascii_uppercase(), &sub.to_ascii_uppercase());
    if disk {
        text = text.replace("snapshots", "disks").replace("SNAPSHOTS", "DISKS");
    }
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let tag = format!("{day:02}{}{}", u8::from(disk), &sub[..4]);
    at_night(&doc, day, &format!("0e1f2a3b-0000-4000-8000-00000000{tag}"))
}

/// An export by a person is routine only after one night more than a workload's
/// (`routine_export_days` + 1): a person's exports are rarely a routine, and a stolen session
/// exporting every other night stays a critical on its third. The same image exports by a role
/// session named like a pipeline are routine after two.
#[test]
fn a_persons_exports_need_a_night_more_to_be_routine() {
    let export = fixture("aws/ec2-export-image.json");
    let (day, start) = day_of(&export);
    // Every other day, so that each export is its own finding.
    let alerts_on_last = |role: bool, days: &[i64]| -> bool {
        let events: Vec<_> = days
            .iter()
            .map(|&d| {
                let mut ev = by(&export, "exporter", start + d * day + 3_600_000, d as usize);
                if role {
                    ev.principal.kind = t1578_core::PrincipalKind::Role;
                    ev.principal.session = Some("nightly".into());
                }
                ev
            })
            .collect();
        let (_, alerts) = replay(&common::engine(ProfileName::Default), &events);
        let last = start + days[days.len() - 1] * day;
        alerts.iter().any(|a| a.time >= last)
    };
    assert!(alerts_on_last(false, &[0]), "the first export is a critical");
    assert!(alerts_on_last(false, &[0, 2, 4]), "a person's third night");
    assert!(!alerts_on_last(false, &[0, 2, 4, 6]), "a person's fourth night");
    assert!(alerts_on_last(true, &[0, 2]), "a workload's second night");
    assert!(!alerts_on_last(true, &[0, 2, 4]), "a workload's third night");
}

/// A critical the open finding has reported (the same row to the same destinations) is news
/// again only at the escalation factor cubed (8x): forty image exports in a night by a principal
/// being learned are one finding, created at the first and updated at the eighth, not updated at
/// every doubling, and they keep it open: the next night's is no new finding. A critical it has
/// not reported (a share to an account) updates it, and names what grew meanwhile. The same
/// holds for the account's root user, whose tier always fires: a repeated critical is judged
/// as anyone's.
#[test]
fn a_repeated_critical_updates_its_finding_at_eight_times_and_a_new_one_at_once() {
    let export = fixture("aws/ec2-export-image.json");
    let share = fixture("aws/ec2-modify-snapshot-attribute-share.json");
    let (day, start) = day_of(&export);
    let night = |root: bool| {
        let kind = |mut ev: t1578_core::ComputeEvent| {
            if root {
                ev.principal.kind = t1578_core::PrincipalKind::Root;
            }
            ev
        };
        let mut events: Vec<_> = (0..40)
            .map(|n| kind(by(&export, "exporter", start + 3_600_000 + n as i64 * 60_000, n)))
            .collect();
        events.push(kind(by(&share, "exporter", start + 3 * 3_600_000, 99)));
        // The exports go on through the day and into the next night, more than 24 h after the
        // last report: the finding stays open with them.
        let later = (0..10)
            .map(|n| start + (10 + n) * 3_600_000)
            .chain([start + day + 4 * 3_600_000]);
        events.extend(
            later
                .enumerate()
                .map(|(n, t)| kind(by(&export, "exporter", t, 100 + n))),
        );
        // Being learned: only its criticals make a finding (a new principal's volume would).
        replay_from(events, start)
    };
    let reports = |alerts: &[Alert]| -> Vec<(bool, u32)> {
        alerts.iter().map(|a| (a.is_new_finding(), a.count)).collect()
    };
    let root = night(true);
    assert_eq!(reports(&root), [(true, 1), (false, 2), (false, 3)], "{root:#?}");
    let alerts = night(false);
    assert_eq!(
        reports(&alerts),
        [(true, 1), (false, 2), (false, 3)],
        "{alerts:#?}"
    );
    assert!(alerts
        .iter()
        .all(|a| a.finding_info.uid == alerts[0].finding_info.uid));
    let why = |i: usize| alerts[i].unmapped.finding.updated_because.clone();
    assert!(
        why(1).iter().any(|w| w == "operations grew from 1 to 8"),
        "{:?}",
        why(1)
    );
    assert!(
        why(2).iter().any(|w| w == "a new single-event critical"),
        "{:?}",
        why(2)
    );
    assert!(
        why(2).iter().any(|w| w == "operations grew from 8 to 41"),
        "{:?}",
        why(2)
    );
}

/// A critical repeated for longer (a snapshot made public every 20 hours) keeps its finding open
/// for two windows from its opening, no longer: a finding never stays open for ever, nor is it
/// compared with a report days old. The fifth share, 40 hours after the last one that kept the
/// finding open, is a new finding.
#[test]
fn a_repeated_critical_keeps_its_finding_open_for_two_windows_at_most() {
    let public = fixture("aws/ec2-modify-snapshot-attribute-public.json");
    let (_, start) = day_of(&public);
    let hours = [0, 20, 40, 60, 80];
    let events: Vec<_> = hours
        .iter()
        .enumerate()
        .map(|(n, h)| by(&public, "publisher", start + 3_600_000 + h * 3_600_000, n))
        .collect();
    let alerts = replay_from(events, start);
    let created: Vec<i64> = alerts
        .iter()
        .filter(|a| a.is_new_finding())
        .map(|a| (a.time - start - 3_600_000) / 3_600_000)
        .collect();
    assert_eq!(created, [0, 80], "{alerts:#?}");
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
}

/// Exports on `nights`, then day 22's `(subscription, disk)` exports, in event-time order: every
/// alert, with its day of November.
fn exports_then(nights: &[u32], day_22: &[(&str, bool)]) -> Vec<(u32, Alert)> {
    let mut records: Vec<serde_json::Value> = nights
        .iter()
        .flat_map(|&d| export_on(d, OWN_SUB, false))
        .collect();
    for &(sub, disk) in day_22 {
        records.extend(export_on(22, sub, disk));
    }
    let events = events_of(&json!({ "records": records }));
    alerts_of(&[events])
        .into_iter()
        .map(|a| (a.time_dt[8..10].parse().unwrap(), a))
        .collect()
}

/// A download URL has no recipient to know, so one export makes nothing known; a backup
/// product or a scanner (a workload, as the fixture's application) that makes them every night
/// is routine after `routine_export_days` (2) of its nights, each a critical, and then only an
/// export of another kind or from another subscription is a critical. A person needs a night
/// more ([`a_persons_exports_need_a_night_more_to_be_routine`]).
#[test]
fn nightly_download_urls_become_routine_and_other_exports_stay_critical() {
    let every_night: Vec<u32> = (1..22).collect();
    let routine = exports_then(&every_night, &[(OWN_SUB, false)]);
    assert!(
        routine
            .iter()
            .any(|(d, a)| *d == 1 && a.tier() == t1578_core::Tier::Critical),
        "the first night is a critical: {routine:?}"
    );
    assert!(
        routine
            .iter()
            .any(|(d, a)| *d == 2 && a.tier() == t1578_core::Tier::Critical),
        "the second night is a critical: {routine:?}"
    );
    let late: Vec<_> = routine.iter().filter(|(d, _)| *d > 2).collect();
    assert!(late.is_empty(), "routine after 2 nights: {late:?}");

    let twice = exports_then(&[19, 20], &[(OWN_SUB, false)]);
    assert!(
        twice.iter().all(|(d, _)| *d != 22),
        "two nights are a workload's routine: {twice:?}"
    );
    let once = exports_then(&[20], &[(OWN_SUB, false)]);
    let day_22: Vec<_> = once.iter().filter(|(d, _)| *d == 22).collect();
    assert_eq!(day_22.len(), 1, "one night is not a routine: {once:?}");
    check_new_destination(&day_22[0].1, "azure.compute.snapshot_sas_export", OWN_SUB);
    let desc = &day_22[0].1.finding_info.desc;
    assert!(desc.contains("not an export it makes routinely"), "{desc}");

    for (other, row) in [
        ((OWN_SUB, true), "azure.compute.disk_sas_export"),
        ((RECIPIENT, false), "azure.compute.snapshot_sas_export"),
    ] {
        let alerts = exports_then(&every_night, &[(OWN_SUB, false), other]);
        let day_22: Vec<_> = alerts.iter().filter(|(d, _)| *d == 22).collect();
        assert_eq!(day_22.len(), 1, "{other:?}: {alerts:?}");
        check_new_destination(&day_22[0].1, row, other.0);
    }
}

/// `ev` on the resource `r`, which its call makes a machine's root disk when `root`.
fn on_disk(mut ev: t1578_core::ComputeEvent, r: &str, root: bool) -> t1578_core::ComputeEvent {
    ev.resources = vec![r.to_string()];
    ev.details.root_disk = root.then(|| r.to_string());
    ev
}

/// The stage of the snapshot-disk tests: rare users (a stop or deallocate, `template`, on days
/// 0, 4 and 8, from their office) in the template's region or resource group, whose day 11 is
/// the test's.
struct Scene {
    template: t1578_core::ComputeEvent,
    day: i64,
    start: i64,
}

impl Scene {
    /// Its office's address.
    const HOME: &'static str = "203.0.113.10";

    fn new(template: t1578_core::ComputeEvent) -> Scene {
        let (day, start) = day_of(&template);
        Scene { template, day, start }
    }

    /// 10:00 UTC plus `minutes` on day `d`.
    fn at(&self, d: i64, minutes: i64) -> i64 {
        self.start + d * self.day + 10 * 3_600_000 + minutes * 60_000
    }

    /// A fixture's event where the template's is.
    fn here(&self, name: &str) -> t1578_core::ComputeEvent {
        t1578_core::ComputeEvent {
            scope: self.template.scope.clone(),
            ..fixture(name)
        }
    }

    /// `ev` from the office; on Azure its own operation (the fixtures' Start shares its
    /// operation id), by a user, in the template's subscription, where its disks' sources are (a
    /// copy from another is a row of its own).
    fn own(&self, mut ev: t1578_core::ComputeEvent) -> t1578_core::ComputeEvent {
        if ev.cloud == t1578_core::Cloud::Azure {
            ev.operation_key = Some(ev.event_id.clone());
            ev.account = self.template.account.clone();
            ev.principal.kind = t1578_core::PrincipalKind::User;
        }
        from(ev, Self::HOME)
    }

    /// The rare users' history: the template by each of `who` on days 0, 4 and 8.
    fn history(&self, who: &[&str]) -> Vec<t1578_core::ComputeEvent> {
        let on = |w: &&str| [0, 4, 8].map(|d| self.own(by(&self.template, w, self.at(d, 0), d as usize)));
        who.iter().flat_map(on).collect()
    }

    /// A disk's resource: an EBS volume's ARN, or an Azure managed disk's id.
    fn disk(&self, who: &str, what: &str) -> String {
        match self.template.cloud {
            t1578_core::Cloud::Aws => format!(
                "arn:aws:ec2:{}:111122223333:volume/vol-{who}-{what}",
                self.template.scope
            ),
            t1578_core::Cloud::Azure => format!(
                "/subscriptions/{}/resourceGroups/rg-web/providers/Microsoft.Compute/disks/{who}-{what}",
                self.template.account
            ),
        }
    }

    /// The alerts of the scene's events, observed from day 0.
    fn alerts(&self, events: Vec<t1578_core::ComputeEvent>) -> Vec<Alert> {
        replay_from(events, self.start)
    }
}

/// Terraform's AWS provider, as CloudTrail names it.
const TERRAFORM: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 terraform-provider-aws/5.72.1";

/// A root volume swapped for one made from a snapshot: the machine boots from the snapshot's
/// state, past its patches, agents and clean-ups. Rare users (a stop on days 0, 4 and 8, from
/// their office) on day 11: the swapper, from its usual network, alerts with `snapshot_boot`, as
/// does a newcomer still being learned (a technique's whole shape). A responder's volume from a
/// snapshot attached at `/dev/sdf` (a forensic read), a repair that puts the instance's own root
/// volume back at `/dev/xvda`, and a newcomer's swap made with Terraform's agent (its way of
/// replacing a root volume; learning lets it through, a history would not) do not.
#[test]
fn a_root_volume_swapped_for_a_snapshots_alerts() {
    let scene = Scene::new(fixture("aws/ec2-stop-instances.json"));
    let (stop, at) = (&scene.template, |d, m| scene.at(d, m));
    let create = scene.here("aws/ec2-create-volume-from-snapshot.json");
    let detach = scene.here("aws/ec2-detach-volume.json");
    let attach = scene.here("aws/ec2-attach-volume.json");
    let vol = |who: &str, what: &str| scene.disk(who, what);
    let mut events = scene.history(&["swapper", "responder", "repairer"]);
    // (who, day, attached at the root device, made from a snapshot first, Terraform's agent)
    let cast = [
        ("swapper", 11, true, true, false),
        ("responder", 11, false, true, false),
        ("repairer", 11, true, false, false),
        ("newcomer", 1, true, true, false),
        ("terraform", 1, true, true, true),
    ];
    for (who, d, root, made, iac) in cast {
        let new = vol(who, if made { "restored" } else { "own" });
        let mut calls = vec![
            by(stop, who, at(d, 2), 20),
            on_disk(by(&detach, who, at(d, 4), 21), &vol(who, "own"), false),
        ];
        if made {
            calls.push(on_disk(by(&create, who, at(d, 0), 22), &new, false));
        }
        calls.push(on_disk(by(&attach, who, at(d, 6), 23), &new, root));
        for mut ev in calls {
            if iac {
                ev.user_agent = Some(TERRAFORM.into());
            }
            events.push(scene.own(ev));
        }
    }
    let alerts = scene.alerts(events);
    assert_eq!(names(&alerts), ["newcomer", "swapper"].into(), "{alerts:#?}");
    let swapper = alerts.iter().find(|a| a.actor.user.name == "swapper").unwrap();
    assert!(codes(swapper).contains(&"snapshot_boot"), "{swapper:#?}");
    assert_eq!(swapper.time, at(11, 6), "the attach at the root device");
    let newcomer = alerts.iter().find(|a| a.actor.user.name == "newcomer").unwrap();
    assert!(codes(newcomer).contains(&"learning"), "{newcomer:#?}");
}

/// Azure's form: a disk made from a snapshot, then a VM write that names it as the OS disk (an
/// OS disk swap; the Start records carry both bodies). Rare users on day 11: the one whose VM
/// now boots from the snapshot's disk alerts; one that made a disk from a snapshot and wrote a
/// VM naming that VM's own OS disk (a resize: every full update names its disk) does not, nor
/// does one whose swap comes more than an hour after the disk.
#[test]
fn an_os_disk_swapped_for_a_snapshots_disk_alerts() {
    let scene = Scene::new(succeeded("azure/compute-vm-deallocate.json"));
    let (at, id, own) = (
        |d, m| scene.at(d, m),
        |w: &str, x: &str| scene.disk(w, x),
        |e| scene.own(e),
    );
    let disk = scene.here("azure/compute-disk-from-snapshot.json");
    let vm = scene.here("azure/compute-vm-write-os-disk.json");
    assert!(disk.details.from_snapshot && vm.details.root_disk.is_some());
    let mut events = scene.history(&["swapper", "resizer", "slow"]);
    // (who, the OS disk the VM write names, minutes from the disk's creation to the write)
    for (who, named, after) in [
        ("swapper", "restored", 7),
        ("resizer", "own", 7),
        ("slow", "restored", 75),
    ] {
        events.push(own(on_disk(
            by(&disk, who, at(11, 0), 30),
            &id(who, "restored"),
            false,
        )));
        let mut write = by(&vm, who, at(11, after), 31);
        write.details.root_disk = Some(id(who, named).to_uppercase());
        events.push(own(write));
    }
    let alerts = scene.alerts(events);
    assert_eq!(names(&alerts), ["swapper"].into(), "{alerts:#?}");
    assert!(codes(&alerts[0]).contains(&"snapshot_boot"), "{alerts:#?}");
    assert_eq!(alerts[0].time, at(11, 7), "the VM write");
}

/// `ev` on the volume `vol`, which its call attaches as a data disk of `instance`.
fn mounted(mut ev: t1578_core::ComputeEvent, vol: &str, instance: &str) -> t1578_core::ComputeEvent {
    ev.resources = vec![vol.to_string()];
    ev.details.root_disk = None;
    ev.details.data_disks = vec![vol.to_string()];
    ev.details.mounted_on = Some(instance.to_string());
    ev
}

/// The mount step of snapshot theft: a volume made from a snapshot attached (at `/dev/sdf`) to
/// an instance the same principal launched minutes before. Rare users (a stop on days 0, 4 and
/// 8, from their office) on day 11: the thief, from its usual network, alerts with
/// `snapshot_mount`, as does a newcomer still being learned (a technique's whole shape). A
/// responder's volume attached to the forensic workstation it did not launch (the instance it
/// launched that day is another), a builder's volume
/// made empty, one attached more than an hour after it was made, and a newcomer's made with
/// Terraform's agent do not.
#[test]
fn a_snapshots_volume_read_on_an_instance_launched_for_it_alerts() {
    let scene = Scene::new(fixture("aws/ec2-stop-instances.json"));
    let at = |d, m| scene.at(d, m);
    let run = scene.here("aws/ec2-run-instances.json");
    let create = scene.here("aws/ec2-create-volume-from-snapshot.json");
    let attach = scene.here("aws/ec2-attach-volume.json");
    assert!(!attach.details.data_disks.is_empty() && attach.details.mounted_on.is_some());
    let mut events = scene.history(&["thief", "responder", "builder", "late"]);
    // (who, day, launched the instance attached to (else another), made the volume from a
    // snapshot, minutes from the volume to the attach, Terraform's agent)
    let cast = [
        ("thief", 11, true, true, 3, false),
        ("responder", 11, false, true, 3, false),
        ("builder", 11, true, false, 3, false),
        ("late", 11, true, true, 75, false),
        ("newcomer", 1, true, true, 3, false),
        ("terraform", 1, true, true, 3, true),
    ];
    for (who, d, launched, made, after, iac) in cast {
        let vol = scene.disk(who, "restored");
        let launch = by(&run, who, at(d, -2), 20);
        let instance = if launched {
            launch.resources[0].clone()
        } else {
            "i-forensic-ws-01".to_string()
        };
        let mut calls = vec![
            mounted(by(&attach, who, at(d, after), 21), &vol, &instance),
            launch,
        ];
        if made {
            calls.push(on_disk(by(&create, who, at(d, 0), 22), &vol, false));
        }
        for mut ev in calls {
            if iac {
                ev.user_agent = Some(TERRAFORM.into());
            }
            events.push(scene.own(ev));
        }
    }
    let alerts = scene.alerts(events);
    assert_eq!(names(&alerts), ["newcomer", "thief"].into(), "{alerts:#?}");
    let thief = alerts.iter().find(|a| a.actor.user.name == "thief").unwrap();
    assert!(codes(thief).contains(&"snapshot_mount"), "{thief:#?}");
    assert_eq!(thief.time, at(11, 3), "the attach");
    let newcomer = alerts.iter().find(|a| a.actor.user.name == "newcomer").unwrap();
    assert!(codes(newcomer).contains(&"learning"), "{newcomer:#?}");
}

/// Lightsail's form, out of sight of every EC2 rule: a disk made from a disk snapshot, attached
/// to an instance the same principal created minutes before. Rare Lightsail users (an instance
/// snapshot on days 0, 4 and 8) on day 11: the thief alerts with `snapshot_mount`; a responder
/// whose disk goes to the site's instance it did not create (it created another that day) does
/// not.
#[test]
fn a_lightsail_disk_from_a_snapshot_read_on_an_instance_made_for_it_alerts() {
    let scene = Scene::new(fixture("aws/lightsail-create-instance-snapshot.json"));
    let at = |d, m| scene.at(d, m);
    let create = scene.here("aws/lightsail-create-instances.json");
    let disk = scene.here("aws/lightsail-create-disk-from-snapshot.json");
    let attach = scene.here("aws/lightsail-attach-disk.json");
    assert!(!attach.details.data_disks.is_empty() && attach.details.mounted_on.is_some());
    let mut events = scene.history(&["thief", "responder"]);
    for (who, launched) in [("thief", true), ("responder", false)] {
        let made = format!(
            "arn:aws:lightsail:{}:111122223333:disk/{who}-restored",
            scene.template.scope
        );
        let launch = by(&create, who, at(11, -2), 20);
        let instance = if launched {
            launch.resources[0].clone()
        } else {
            format!(
                "arn:aws:lightsail:{}:111122223333:instance/wordpress-prod-1",
                scene.template.scope
            )
        };
        events.push(scene.own(launch));
        events.push(scene.own(on_disk(by(&disk, who, at(11, 0), 21), &made, false)));
        events.push(scene.own(mounted(by(&attach, who, at(11, 3), 22), &made, &instance)));
    }
    let alerts = scene.alerts(events);
    assert_eq!(names(&alerts), ["thief"].into(), "{alerts:#?}");
    assert!(codes(&alerts[0]).contains(&"snapshot_mount"), "{alerts:#?}");
    assert_eq!(alerts[0].time, at(11, 3), "the attach");
}

/// A server's data volume moved to a machine made for reading it: a volume detached (from a
/// server the principal stopped) and attached within the hour to an instance the same principal
/// launched minutes before reads the server's disk as a snapshot's copy would (the
/// twenty-third blind probe's D06: a replayed console session moving a Vault server's raft
/// volume to a helper instance). Rare users on day 11: the mover alerts with
/// `snapshot_mount`; a volume moved to a machine the principal did not launch (a repair that
/// moves a disk between two existing servers), one attached more than an hour after its
/// detach, a render farm's scheduler moving a scratch volume to a worker it launched (a
/// workload's routine), and a rescue (a broken server's root volume, detached at its root
/// device, attached to a helper launched to repair it) do not.
#[test]
fn a_volume_detached_and_read_on_an_instance_launched_for_it_alerts() {
    let scene = Scene::new(fixture("aws/ec2-stop-instances.json"));
    let at = |d, m| scene.at(d, m);
    let run = scene.here("aws/ec2-run-instances.json");
    let detach = scene.here("aws/ec2-detach-volume.json");
    let attach = scene.here("aws/ec2-attach-volume.json");
    let mut events = scene.history(&["mover", "repairer", "late", "back", "rescuer"]);
    for d in [0, 4, 8] {
        let stop = as_role(&scene.template, "scheduler", "job-4711", at(d, 0), d as usize);
        events.push(scene.own(stop));
    }
    // (who, launched the instance attached to (else the volume's own server), minutes from
    // the detach to the attach)
    // A rescuer detaches a broken server's root volume (at its root device) and attaches it to
    // a helper it launched to repair it.
    for (who, launched, after) in [
        ("mover", true, 3),
        ("repairer", false, 3),
        ("late", true, 75),
        ("back", false, 50),
        ("scheduler", true, 3),
        ("rescuer", true, 3),
    ] {
        let vol = scene.disk(who, "data");
        let instance = |launch: &t1578_core::ComputeEvent| {
            if launched {
                launch.resources[0].clone()
            } else {
                "i-vault-staging-01".to_string()
            }
        };
        // A render farm's scheduler (a role's session named by the job, not a person) moves
        // its scratch volumes between the workers it launches.
        let call = |template: &t1578_core::ComputeEvent, t: i64, n: usize| {
            if who == "scheduler" {
                as_role(template, who, "job-4711", t, n)
            } else {
                let mut ev = by(template, who, t, n);
                ev.principal.kind = t1578_core::PrincipalKind::User;
                ev
            }
        };
        let launch = call(&run, at(11, -2), 20);
        let target = instance(&launch);
        events.push(scene.own(launch));
        events.push(scene.own(on_disk(call(&detach, at(11, 0), 21), &vol, who == "rescuer")));
        events.push(scene.own(mounted(call(&attach, at(11, after), 22), &vol, &target)));
    }
    let alerts = scene.alerts(events);
    assert_eq!(names(&alerts), ["mover"].into(), "{alerts:#?}");
    assert!(codes(&alerts[0]).contains(&"snapshot_mount"), "{alerts:#?}");
    assert_eq!(alerts[0].time, at(11, 3), "the attach");
}

/// Azure's form: a disk made from a snapshot, then a VM created with it as a data disk (the
/// Start records carry both bodies). Rare users on day 11: the reader alerts with
/// `snapshot_mount`; a restorer whose full update of its own VM names the disk as a data disk
/// (the machine the snapshot came from gets its data back) does not, nor does one whose VM is
/// created more than an hour after the disk.
#[test]
fn a_snapshots_disk_read_on_a_vm_created_for_it_alerts() {
    let scene = Scene::new(succeeded("azure/compute-vm-deallocate.json"));
    let at = |d, m| scene.at(d, m);
    let disk = scene.here("azure/compute-disk-from-snapshot.json");
    let created = scene.here("azure/compute-vm-write-data-disk.json");
    let updated = scene.here("azure/compute-vm-write-os-disk.json");
    assert!(created.details.creates_machine && !created.details.data_disks.is_empty());
    let mut events = scene.history(&["reader", "restorer", "slow"]);
    // (who, a VM created with the disk or its own updated, minutes from the disk to the write)
    for (who, new_vm, after) in [("reader", true, 5), ("restorer", false, 5), ("slow", true, 75)] {
        let restored = scene.disk(who, "restored");
        events.push(scene.own(on_disk(by(&disk, who, at(11, 0), 30), &restored, false)));
        let mut write = by(if new_vm { &created } else { &updated }, who, at(11, after), 31);
        write.details.data_disks = vec![restored.to_uppercase()];
        if !new_vm {
            write.details.root_disk = Some(scene.disk(who, "os"));
        }
        events.push(scene.own(write));
    }
    let alerts = scene.alerts(events);
    assert_eq!(names(&alerts), ["reader"].into(), "{alerts:#?}");
    assert!(codes(&alerts[0]).contains(&"snapshot_mount"), "{alerts:#?}");
    assert_eq!(alerts[0].time, at(11, 5), "the VM write");
}

/// A disk copied from another subscription's snapshot is read wherever it is attached: a full
/// update of an existing VM naming it as a data disk counts in the window as a snapshot's disk
/// read (`snapshot_mount`), where a disk made from a snapshot of the VM's own subscription,
/// attached to the same existing VM, is a restore; attached more than an hour after the copy it
/// is not linked.
#[test]
fn a_disk_copied_from_another_subscription_is_read_wherever_it_is_attached() {
    let engine = common::engine(ProfileName::Default);
    let copy = fixture("azure/compute-disk-copy-cross-subscription.json");
    let same = fixture("azure/compute-disk-from-snapshot.json");
    let update = fixture("azure/compute-vm-write-os-disk.json");
    assert!(update.details.root_disk.is_some() && !update.details.creates_machine);
    for (made, minutes, want) in [(&copy, 5, 1), (&same, 5, 0), (&copy, 61, 0)] {
        let mut write = update.clone();
        write.time_ms = made.time_ms + minutes * 60_000;
        write.details.data_disks = made.resources.clone();
        write.principal = made.principal.clone();
        write.account = made.account.clone();
        write.event_id = "the-write".into();
        write.operation_key = Some("the-write".into());
        let (a, b) = (engine.score(made).unwrap(), engine.score(&write).unwrap());
        assert_eq!(a.key, b.key);
        let eff = engine.effective(&a.ctx.account);
        let mut w = WindowState::new(&a.key);
        w.apply(&a, &eff);
        w.apply(&b, &eff);
        let agg = w.aggregate(&engine.catalog, ProfileName::Default);
        assert_eq!(agg.mounted_from_snapshot, want, "{} {minutes}", a.ctx.catalog_id);
        // Applied in the other order, the window links the same.
        let mut late = WindowState::new(&a.key);
        late.apply(&b, &eff);
        late.apply(&a, &eff);
        let again = late.aggregate(&engine.catalog, ProfileName::Default);
        assert_eq!(again.mounted_from_snapshot, want);
    }
}

/// A raw CloudTrail fixture (its EventBridge envelope's `detail`) by `who`, at `t`, in
/// us-east-1, with
/// `request` and `response` merged into its parameters and elements, normalized as delivered.
fn raw(
    name: &str,
    who: &str,
    t: i64,
    request: serde_json::Value,
    response: serde_json::Value,
) -> t1578_core::ComputeEvent {
    let text = std::fs::read_to_string(events_dir().join(name)).unwrap();
    let mut env: serde_json::Value = serde_json::from_str(&text).unwrap();
    let d = &mut env["detail"];
    let at = chrono::DateTime::from_timestamp_millis(t).unwrap().to_rfc3339();
    d["eventTime"] = json!(at);
    d["eventID"] = json!(format!("{who}-{t}"));
    d["awsRegion"] = json!("us-east-1");
    d["userIdentity"] = json!({"type": "IAMUser", "arn": format!("arn:aws:iam::111122223333:user/{who}"),
        "accountId": "111122223333", "userName": who});
    for (key, patch) in [("requestParameters", request), ("responseElements", response)] {
        for (k, v) in patch.as_object().unwrap() {
            d[key][k] = v.clone();
        }
    }
    normalize(d.clone()).unwrap()
}

/// A machine refreshed from a snapshot every week is its principal's routine: a volume made
/// from a snapshot (its response names the snapshot first), attached at `/dev/xvda`. A person
/// doing it on the account's second day (being learned) alerts; a week later, with that boot in
/// its baseline period, it does not. A workload's first one while it is learned (Citrix MCS's
/// first night) is no finding, nor its second. Read from the raw records, device and all.
#[test]
fn a_weekly_boot_from_a_snapshot_is_routine_after_its_first() {
    let stop = fixture("aws/ec2-stop-instances.json");
    let (day, start) = day_of(&stop);
    let at = |d: i64, minutes: i64| start + d * day + 9 * 3_600_000 + minutes * 60_000;
    let mut events = Vec::new();
    for who in ["drill", "refresher"] {
        for d in [1, 8] {
            let vol = format!("vol-{who}{d}");
            let snap = format!("snap-{who}{d}");
            events.push(raw(
                "aws/ec2-create-volume-from-snapshot.json",
                who,
                at(d, 0),
                json!({"snapshotId": snap}),
                json!({"snapshotId": snap, "volumeId": vol}),
            ));
            let mut attach = raw(
                "aws/ec2-attach-volume.json",
                who,
                at(d, 10),
                json!({"volumeId": vol, "device": "/dev/xvda"}),
                json!({"volumeId": vol, "device": "/dev/xvda"}),
            );
            assert!(attach.details.root_disk.is_some(), "{attach:?}");
            let mut create = events.pop().unwrap();
            assert_eq!(create.resources, attach.resources, "the volume both name");
            if who == "refresher" {
                for ev in [&mut create, &mut attach] {
                    ev.principal.kind = t1578_core::PrincipalKind::Role;
                    ev.principal.session = Some("scheduled-run".into());
                }
            }
            events.push(create);
            events.push(attach);
        }
    }
    let alerts = replay_from(events, start);
    assert_eq!(names(&alerts), ["drill"].into(), "{alerts:#?}");
    assert!(
        alerts.iter().all(|a| a.time < at(2, 0)),
        "only the first week: {alerts:#?}"
    );
}

/// A contractor who scales an AKS cluster's node pool on weekdays from home (active on 11 of
/// the 14 days: settled), whose token is replayed from a VPS: a first run command on the
/// cluster (code run with the cluster's admin credentials) and a GPU node pool, from a network
/// never seen, alert. The same run command from home is the contractor's first use of a tool
/// and no finding; the usual pool write from the VPS is a new network alone, context.
#[test]
fn a_clusters_run_command_and_gpu_pool_from_a_new_network_alert_for_a_settled_person() {
    let pool = succeeded("azure/aks-agent-pool-write.json");
    let gpu_pool = fixture("azure/aks-agent-pool-write-gpu.json");
    let command = succeeded("azure/aks-run-command.json");
    assert_eq!(
        gpu_pool.details.instance_type.as_deref(),
        Some("Standard_NC24ads_A100_v4")
    );
    let (day, start) = day_of(&pool);
    let at = |d: i64, minutes: i64| start + d * day + 10 * 3_600_000 + minutes * 60_000;
    let home = "198.51.100.20";
    let mut events = Vec::new();
    for who in ["stolen", "at-home", "pool-only", "gpu"] {
        for d in (0..14).filter(|d| d % 7 < 5 || *d == 12) {
            events.push(from(by(&pool, who, at(d, 0), d as usize), home));
        }
    }
    events.push(from(by(&command, "stolen", at(14, 5), 100), "45.87.152.177"));
    events.push(from(by(&command, "at-home", at(14, 5), 100), home));
    events.push(from(by(&pool, "pool-only", at(14, 5), 100), "45.87.152.177"));
    events.push(from(by(&gpu_pool, "gpu", at(14, 5), 100), "45.87.152.177"));
    let alerts = replay_from(events, start);
    let late: Vec<&Alert> = alerts.iter().filter(|a| a.time >= start + 14 * day).collect();
    assert_eq!(
        late.iter()
            .map(|a| a.actor.user.name.as_str())
            .collect::<std::collections::BTreeSet<_>>(),
        ["gpu", "stolen"].into(),
        "{late:#?}"
    );
    for a in late {
        assert!(codes(a).contains(&"new_network"), "{a:#?}");
        assert!(codes(a).contains(&"new_operation"), "{a:#?}");
    }
}

/// An EC2 instance's role credentials used outside AWS. The node role snapshots from its
/// instance's AWS address every night for two weeks; on day 14 the same instance's session
/// creates one snapshot from a VPS address: one call, established routine, still a finding,
/// with the history's signs as context. A build role's session (not an instance's) from that
/// address at its usual hour, and the instance's session through a VPC endpoint (a private
/// address), raise nothing; neither does anything without the ranges. While learned (day 0),
/// another instance's first call from outside alerts too.
#[test]
fn an_instances_credentials_used_outside_aws_alert_on_one_call() {
    let snap = fixture("aws/ec2-create-snapshot.json");
    let (day, start) = day_of(&snap);
    let at = |d: i64, minutes: i64| start + d * day + 2 * 3_600_000 + minutes * 60_000;
    let (aws, vps) = ("52.4.10.20", "45.77.10.20");
    let node = "i-0123456789abcdef0";
    let mut events = Vec::new();
    for d in 0..14 {
        events.push(from(as_role(&snap, "node-role", node, at(d, 0), 0), aws));
        events.push(from(
            as_role(&snap, "build-role", "ci-build-42", at(d, 1), 0),
            aws,
        ));
    }
    events.push(from(as_role(&snap, "node-role", node, at(14, 0), 1), vps));
    events.push(from(
        as_role(&snap, "build-role", "ci-build-43", at(14, 1), 1),
        vps,
    ));
    events.push(from(as_role(&snap, "node-role", node, at(14, 30), 2), "10.0.3.7"));
    events.push(from(as_role(&snap, "web-role", "i-0a1b2c3d", at(0, 40), 0), vps));
    events.sort_by_key(|e| e.time_ms);
    let ranges = t1578_core::aws_ranges::AwsRanges::parse("52.4.0.0/14 3.0.0.0/9").unwrap();
    let engine = common::engine(ProfileName::Default)
        .observed_since(start)
        .with_aws_ranges(Some(std::sync::Arc::new(ranges)));
    let mut alerts = replay(&engine, &events).1;
    alerts.sort_by_key(|a| a.time);
    let who: Vec<(&str, i64)> = alerts
        .iter()
        .map(|a| (a.actor.user.name.as_str(), a.time))
        .collect();
    assert_eq!(
        who,
        [("web-role", at(0, 40)), ("node-role", at(14, 0))],
        "{alerts:#?}"
    );
    let learned = &alerts[0];
    assert_eq!(
        codes(learned),
        ["learning", "instance_credentials_outside_aws"],
        "{alerts:#?}"
    );
    let node_alert = &alerts[1];
    assert!(
        node_alert
            .unmapped
            .baseline
            .as_ref()
            .is_some_and(|b| b.established),
        "{alerts:#?}"
    );
    assert!(
        codes(node_alert).contains(&"instance_credentials_outside_aws"),
        "{alerts:#?}"
    );
    let desc = &node_alert.finding_info.desc;
    assert!(
        desc.starts_with("An EC2 instance's role credentials used from outside AWS. Context: ")
            && desc.contains(&format!("instance {node} used from {vps}")),
        "{desc}"
    );
    // The same days without the ranges: nothing can be told outside AWS.
    let plain = common::engine(ProfileName::Default).observed_since(start);
    assert!(replay(&plain, &events).1.is_empty());
}

/// An Entra ID identity has one history across the subscriptions it acts in. A function app's
/// managed identity deallocates dev VMs every day for ten days, then creates run commands on
/// two VMs of the production subscription, its first calls there: its first execution alerts,
/// judged against its history, where a window per subscription met an identity it had never
/// seen (the twenty-sixth blind probe's Q05). An identity that runs commands in both
/// subscriptions every day raises nothing on day ten.
#[test]
fn an_identitys_first_script_run_in_another_subscription_is_judged_against_its_history() {
    let routine = succeeded("azure/compute-vm-deallocate.json");
    let run = succeeded("azure/compute-vm-run-commands-write.json");
    let (day, start) = day_of(&routine);
    let at = |d: i64, minutes: i64| start + d * day + 14 * 3_600_000 + minutes * 60_000;
    let (dev, prod) = (
        "0f0f0f0f-0000-4000-8000-00000000dev0",
        "0f0f0f0f-0000-4000-8000-0000000prod0",
    );
    let as_identity = |ev: &t1578_core::ComputeEvent, who: &str, sub: &str, t: i64, n: usize| {
        let mut ev = from(by(ev, who, t, n), "20.48.1.7");
        ev.principal.kind = t1578_core::PrincipalKind::ManagedIdentity;
        ev.principal.key =
            format!("mi:/subscriptions/{dev}/resourcegroups/rg-mgmt/providers/microsoft.web/sites/{who}");
        ev.account = sub.to_string();
        ev.event_id = format!("{who}-{sub}-{t}-{n}");
        ev.operation_key = Some(ev.event_id.clone());
        ev.resources = vec![format!(
            "/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-{n}"
        )];
        ev
    };
    let mut events = Vec::new();
    for d in 0..10 {
        events.push(as_identity(&routine, "func-ops", dev, at(d, 0), 0));
        for sub in [dev, prod] {
            events.push(as_identity(&run, "func-patch", sub, at(d, 0), 0));
        }
    }
    for n in 1..=2 {
        events.push(as_identity(&run, "func-ops", prod, at(10, n as i64), n));
        events.push(as_identity(&run, "func-patch", prod, at(10, n as i64), n));
    }
    let alerts = replay_from(events, start);
    assert_eq!(names(&alerts), ["func-ops"].into(), "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a.cloud.account.uid, prod, "{alerts:#?}");
    assert!(
        a.unmapped.baseline.as_ref().is_some_and(|b| b.established),
        "{alerts:#?}"
    );
    assert!(codes(a).contains(&"new_operation"), "{alerts:#?}");
}
