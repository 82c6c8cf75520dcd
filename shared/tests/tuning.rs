//! The tuning document: validation, and every knob with a positive and a negative case.

mod common;

use common::{events_dir, load, replay};
use t1578_core::engine::{Engine, ObservedSince, Profile, ProfileName};
use t1578_core::event::{Cloud, PrincipalKind};
use t1578_core::memory::{MemorySink, MemoryStore};
use t1578_core::pipeline::{process_batch, PipelineOptions};
use t1578_core::tuning::Tuning;
// Tests that move one delete (3 points) across the seed's lowest tier use it.
use t1578_core::{Catalog, ComputeEvent, Phase};
use t1578_testkit::SEED_TIERS;

fn tuned(doc: &str) -> Engine {
    tuned_as(ProfileName::Default, doc)
}

fn tuned_as(profile: ProfileName, doc: &str) -> Engine {
    let catalog = Catalog::builtin().unwrap();
    let tuning = Tuning::from_toml(doc, "test.toml", &catalog).unwrap_or_else(|e| panic!("{e}"));
    Engine::with_tuning(catalog, Profile::named(profile), tuning)
}

fn error(doc: &str) -> String {
    let catalog = Catalog::builtin().unwrap();
    Tuning::from_toml(doc, "tune.toml", &catalog)
        .unwrap_err()
        .to_string()
}

fn fixture(name: &str) -> Vec<ComputeEvent> {
    load(&events_dir().join(name))
}

/// Events as an AWS service logs the calls it made: itself as `invokedBy` and source address.
fn made_by(service: &str, mut evs: Vec<ComputeEvent>) -> Vec<ComputeEvent> {
    for e in evs.iter_mut() {
        e.invoked_by = Some(service.into());
        e.source_ip = Some(service.into());
    }
    evs
}

#[test]
fn invalid_documents_name_the_file_the_key_and_the_reason() {
    let cases = [
        ("[defaults]\ncolour = 1", "colour"),
        ("[defaults]\nwindow = \"40d\"", "defaults.window"),
        ("[defaults]\nwindow = \"soon\"", "defaults.window"),
        ("[defaults]\nmode = \"loud\"", "defaults.mode"),
        (
            "[defaults.scores]\n\"aws.ec2.run_instances\" = -1",
            "defaults.scores.aws.ec2.run_instances",
        ),
        ("[defaults.scores]\n\"aws.nope\" = 1", "defaults.scores.aws.nope"),
        ("[defaults.thresholds]\nrisk = 0", "defaults.thresholds.risk"),
        ("[defaults.thresholds]\nrisk = 500", "defaults.thresholds.risk"),
        (
            "[defaults.thresholds]\nrisk = 8\nhigh_risk = 4",
            "defaults.thresholds.high_risk",
        ),
        (
            "[[allow]]\nprincipal = \"arn:[\"\nreason = \"x\"",
            "allow[0].principal",
        ),
        ("[[allow]]\nprincipal = \"a\"\nreason = \" \"", "allow[0].reason"),
        (
            "[[allow]]\nprincipal = \"a\"\nreason = \"r\"\nexpires = \"31/12/2026\"",
            "allow[0].expires",
        ),
        (
            "[[allow]]\nprincipal = \"a\"\nreason = \"r\"\naccount = \"prod\"",
            "allow[0].account",
        ),
        ("[accounts.\"12345\"]\nmode = \"shadow\"", "accounts.12345"),
        (
            "[accounts.\"111122223333\"]\nthresholds = { risk = -2 }",
            "accounts.111122223333.thresholds.risk",
        ),
        (
            "[defaults.change_windows]\ntime_zone = \"Europe/Pariss\"",
            "defaults.change_windows.time_zone",
        ),
        (
            "[accounts.\"111122223333\".change_windows]\ntime_zone = \"UTC\"\nweekly = [{ days = [\"mon\"], start = \"22:00\", end = \"06:00\" }, { days = [\"tue\"], start = \"05:00\", end = \"07:00\" }]",
            "accounts.111122223333.change_windows.weekly",
        ),
        (
            "[defaults.change_windows]\ntime_zone = \"UTC\"\nweekly = [{ days = [\"someday\"], start = \"22:00\", end = \"06:00\" }]",
            "defaults.change_windows.weekly[0].days",
        ),
        (
            "[defaults.change_windows]\ntime_zone = \"UTC\"\nclosed = [{ start = \"2026-12-01\", end = \"2026-12-03\" }, { start = \"2026-12-02T10:00\", end = \"2026-12-05\" }]",
            "defaults.change_windows.closed[1]",
        ),
        (
            "[defaults.change_windows]\ntime_zone = \"UTC\"\noutside_points = -1",
            "defaults.change_windows.outside_points",
        ),
        (
            "[defaults.iac]\nuser_agents = [\"terraform[0-9]\"]",
            "defaults.iac.user_agents[0]",
        ),
        ("[defaults.iac]\nrisk_percent = 150", "defaults.iac.risk_percent"),
        ("[defaults.unfamiliar_ip]\ndays = 400", "defaults.unfamiliar_ip.days"),
        ("[defaults.unfamiliar_ip]\nmatch = \"subnet\"", "defaults.unfamiliar_ip.match"),
        ("[defaults.unfamiliar_ip]\npoints = -3", "defaults.unfamiliar_ip.points"),
        ("[defaults.baseline]\ndays = 45", "defaults.baseline.days"),
        ("[defaults.baseline]\nmin_history_days = 20\ndays = 10", "defaults.baseline.min_history_days"),
        ("[defaults.baseline]\nroutine_export_days = 5\ndays = 4", "defaults.baseline.routine_export_days"),
        ("[defaults.baseline]\nroutine_export_days = -1", "defaults.baseline.routine_export_days"),
        ("[defaults.baseline]\nvolume_factor = 0.5", "defaults.baseline.volume_factor"),
        ("[defaults.baseline]\nescalation_factor = nan", "defaults.baseline.escalation_factor"),
        ("[defaults.baseline]\nnew_operation_min_points = 30", "defaults.baseline.new_operation_min_points"),
        ("[defaults.baseline]\nknown_destinations = \"yes\"", "defaults.baseline.known_destinations"),
        ("[defaults.baseline]\nsettled_days = 99", "defaults.baseline.settled_days"),
        ("[defaults.baseline]\nnew_principal_risk = 101", "defaults.baseline.new_principal_risk"),
        ("[defaults.baseline]\nnew_principal_risk = \"high\"", "defaults.baseline.new_principal_risk"),
        ("[accounts.\"111122223333\".baseline]\nfactor = 2", "factor"),
        ("[defaults.baseline]\nobserved_since = \"2026-13-01\"", "defaults.baseline.observed_since"),
        ("[defaults.baseline]\nobserved_since = \"1970-01-01\"", "defaults.baseline.observed_since"),
        ("[defaults.baseline]\nobserved_since = \"First\"", "defaults.baseline.observed_since"),
        (
            "[defaults]\nazure_platform_callers = [\"app:{x}\"]",
            "defaults.azure_platform_callers[0]",
        ),
        ("own_accounts = [\"111122223333\", \"11112222333\"]", "own_accounts[1]"),
        ("own_accounts = [\"o-short\"]", "own_accounts[0]"),
        ("[defaults]\nown_accounts = [\"111122223333\"]", "own_accounts"),
    ];
    for (doc, key) in cases {
        let e = error(doc);
        assert!(e.starts_with("tune.toml: "), "{e}");
        assert!(e.contains(key), "{doc:?} -> {e}");
    }
}

#[test]
fn allowlisted_principals_are_not_counted_and_the_allowlist_is_scoped() {
    let share = fixture("aws/ec2-modify-snapshot-attribute-share.json");
    let who = share[0].principal.key.clone();
    let acct = share[0].account.clone();
    let glob = format!("{}*", &who[..who.len() - 2]);
    let allow = tuned(&format!(
        "[[allow]]\nprincipal = \"{glob}\"\nreason = \"migration\"\naccount = \"{acct}\""
    ));
    let (r, alerts) = replay(&allow, &share);
    assert!(alerts.is_empty());
    assert_eq!(r.allowlisted, 1);
    // Another account: the entry does not apply.
    let elsewhere = tuned(&format!(
        "[[allow]]\nprincipal = \"{glob}\"\nreason = \"migration\"\naccount = \"999988887777\""
    ));
    assert_eq!(replay(&elsewhere, &share).1.len(), 1);
    // Expired before the event (judged by event time): does not apply.
    let expired = tuned(&format!(
        "[[allow]]\nprincipal = \"{who}\"\nreason = \"old\"\nexpires = \"2020-01-01\""
    ));
    assert_eq!(replay(&expired, &share).1.len(), 1);
}

#[test]
fn score_overrides_apply_per_account_over_the_defaults() {
    let del = fixture("aws/ec2-delete-snapshot.json");
    let acct = del[0].account.clone();
    assert_eq!(replay(&tuned(SEED_TIERS), &del).1.len(), 1);
    let quiet = tuned(&format!(
        "{SEED_TIERS}[defaults.scores]\n\"aws.ec2.delete_snapshot\" = 1"
    ));
    assert!(replay(&quiet, &del).1.is_empty());
    let loud_here = tuned(&format!("{SEED_TIERS}[defaults.scores]\n\"aws.ec2.delete_snapshot\" = 1\n[accounts.\"{acct}\".scores]\n\"aws.ec2.delete_snapshot\" = 6"));
    let alerts = replay(&loud_here, &del).1;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].risk_score, 6);
}

#[test]
fn threshold_and_window_overrides() {
    let del = fixture("aws/ec2-delete-snapshot.json");
    let acct = del[0].account.clone();
    let strict = tuned(&format!(
        "{SEED_TIERS}[accounts.\"{acct}\"]\nthresholds = {{ risk = 4 }}"
    ));
    assert!(replay(&strict, &del).1.is_empty());
    let other = tuned(&format!(
        "{SEED_TIERS}[accounts.\"999988887777\"]\nthresholds = {{ risk = 4 }}"
    ));
    assert_eq!(replay(&other, &del).1.len(), 1);
    // Two deletes 20 minutes apart: one window of 24 h sums them, one of 10 minutes does not.
    let mut two = del.clone();
    let mut second = del[0].clone();
    second.event_id.push_str("-2");
    second.resources = vec!["arn:aws:ec2:us-east-1:111122223333:snapshot/snap-other".into()];
    second.time_ms += 20 * 60_000;
    two.push(second);
    let tiers = |e: &Engine| replay(e, &two).1.iter().map(|a| a.risk_score).collect::<Vec<_>>();
    assert_eq!(tiers(&tuned(SEED_TIERS)), vec![3, 6]);
    // With a 10-minute window the first alert has left the window: a new episode, alerted anew
    // by the seed's profile. The default holds a newcomer's finding open for its first days,
    // whatever the window: one finding, which the second delete does not grow enough to update.
    let ten_minutes = format!("[defaults]\nwindow = \"10m\"\n{SEED_TIERS}");
    assert_eq!(tiers(&tuned_as(ProfileName::SeedKql, &ten_minutes)), vec![3, 3]);
    assert_eq!(tiers(&tuned(&ten_minutes)), vec![3]);
}

#[test]
fn service_callers_are_configurable() {
    let backup = fixture("../events/scenarios/aws-backup-snapshot/events.json");
    let (r, _) = replay(&tuned(""), &backup);
    assert_eq!((r.service_callers, r.scored), (1, 0));
    let (r, _) = replay(&tuned("[defaults]\ncount_service_callers = true"), &backup);
    assert_eq!((r.service_callers, r.scored), (0, 1));
    // Azure: the same disk write by a person, by Azure Backup's first-party application, and
    // by a caller logged under a resource provider's name.
    let person = fixture("azure/compute-disk-write.json");
    let mut backup_app = person.clone();
    let mut autoscale = person.clone();
    for e in backup_app.iter_mut() {
        e.principal.key = "app:262044b1-e2ce-469f-a196-69ab7ada62d3".into();
    }
    for e in autoscale.iter_mut() {
        e.principal.key = "oid:microsoft.insights/autoscalesettings".into();
    }
    // A Backup vault's own identity (Azure Disk Backup), and a user-assigned one: a person's.
    let identity = |id: &str| {
        let mut evs = person.clone();
        for e in evs.iter_mut() {
            e.principal.key = format!("mi:/subscriptions/aaaaaaaa-1111-2222-3333-444444444444/resourcegroups/rg-backup/providers/{id}");
        }
        evs
    };
    // Azure Virtual Desktop's scaling plans, Azure Databricks' control plane, Azure VM Image
    // Builder's build VMs, Defender for Cloud's disk scans and Site Recovery's failover VMs, by
    // their first-party applications; a tenant's own application doing the same is counted.
    let app = |id: &str| {
        let mut evs = person.clone();
        for e in evs.iter_mut() {
            e.principal.key = format!("app:{id}");
        }
        evs
    };
    let avd = app("9cdead84-a844-4324-93f2-b2e6bb768d07");
    let databricks = app("2ff814a6-3304-4ab8-85cb-cd0e6f879c1d");
    let image_builder = app("cf32a0cc-373c-47c9-9156-0db11f6a6dfc");
    let defender = app("0c7668b5-3260-4ad0-9f53-34ed54fa19b2");
    let site_recovery = app("b8340c3b-9267-498f-b21a-15d5547fd85e");
    let tenant_app = app("3c9e4f1a-6b2d-4e8f-9a17-5d0c2b4e6f81");
    let vault = identity("microsoft.dataprotection/backupvaults/bv-disks");
    let assigned = identity("microsoft.managedidentity/userassignedidentities/backupvaults");
    let scored = |e: &Engine, evs: &[ComputeEvent]| {
        let (r, _) = replay(e, evs);
        (r.service_callers > 0, r.scored > 0)
    };
    assert_eq!(scored(&tuned(""), &person), (false, true));
    assert_eq!(scored(&tuned(""), &backup_app), (true, false));
    assert_eq!(scored(&tuned(""), &autoscale), (true, false));
    assert_eq!(scored(&tuned(""), &vault), (true, false));
    assert_eq!(scored(&tuned(""), &avd), (true, false));
    assert_eq!(scored(&tuned(""), &databricks), (true, false));
    assert_eq!(scored(&tuned(""), &image_builder), (true, false));
    assert_eq!(scored(&tuned(""), &defender), (true, false));
    assert_eq!(scored(&tuned(""), &site_recovery), (true, false));
    assert_eq!(scored(&tuned(""), &tenant_app), (false, true));
    assert_eq!(scored(&tuned(""), &assigned), (false, true));
    assert_eq!(
        scored(&tuned("[defaults]\ncount_service_callers = true"), &backup_app),
        (false, true)
    );
    // A configured list replaces the built-in one.
    let own = tuned("[defaults]\nazure_platform_callers = [\"app:0000*\"]");
    assert_eq!(scored(&own, &backup_app), (false, true));
}

/// A call a person makes in the AWS Management Console names the console as `invokedBy` and as
/// the user agent (as in AWS's own CloudTrail examples, and in a captured console session of a
/// root user making an image public): it is the person's, and counted. A service that
/// `invokedBy` names is not, nor is the same call with the service as its source address.
#[test]
fn a_call_made_in_the_console_is_the_persons() {
    let text =
        std::fs::read_to_string(events_dir().join("aws/ec2-modify-image-attribute-public.json")).unwrap();
    let record: serde_json::Value = serde_json::from_str(&text).unwrap();
    let by = |invoked_by: &str, root: bool| {
        let mut r = record.clone();
        let d = &mut r["detail"];
        d["userIdentity"]["invokedBy"] = serde_json::json!(invoked_by);
        d["userAgent"] = serde_json::json!(invoked_by);
        if root {
            d["userIdentity"]["type"] = serde_json::json!("Root");
            d["userIdentity"]["arn"] = serde_json::json!("arn:aws:iam::111122223333:root");
        }
        common::events_of(&r)
    };
    let e = tuned("");
    for root in [false, true] {
        let (r, alerts) = replay(&e, &by("signin.amazonaws.com", root));
        assert_eq!(
            (r.service_callers, r.scored, alerts.len()),
            (0, 1, 1),
            "root {root}"
        );
        assert_eq!(alerts[0].tier().as_str(), "critical", "root {root}");
        let (r, _) = replay(&e, &by("autoscaling.amazonaws.com", root));
        assert_eq!((r.service_callers, r.scored), (1, 0), "root {root}");
    }
    let mut from_service = record.clone();
    from_service["detail"]["sourceIPAddress"] = serde_json::json!("autoscaling.amazonaws.com");
    let (r, _) = replay(&e, &common::events_of(&from_service));
    assert_eq!((r.service_callers, r.scored), (1, 0));
}

/// A CloudTrail network activity event (`AwsVpceEvent`) is the endpoint owner's record of a call
/// that crossed a VPC endpoint: a trail that logs them holds it beside the call's own record,
/// under another event id and without the request, or holds it alone for a call another
/// account made in its own account. Counted, each call through an endpoint counted twice (six
/// snapshots for three, one with no resource) and another account's call counted here. Read as
/// a line or from an EventBridge envelope, under both profiles, it is never counted.
#[test]
fn a_network_activity_record_is_not_the_call() {
    let text = std::fs::read_to_string(events_dir().join("aws/ec2-create-snapshot.json")).unwrap();
    let call: serde_json::Value = serde_json::from_str::<serde_json::Value>(&text).unwrap()["detail"].clone();
    let seen = |id: &str, other_account: bool, error: Option<&str>| {
        let mut r = call.clone();
        let d = r.as_object_mut().unwrap();
        for k in [
            "requestParameters",
            "responseElements",
            "eventCategory",
            "managementEvent",
        ] {
            d.remove(k);
        }
        d.insert("eventID".into(), serde_json::json!(id));
        d.insert("eventType".into(), serde_json::json!("AwsVpceEvent"));
        d.insert("eventCategory".into(), serde_json::json!("NetworkActivity"));
        d.insert(
            "vpcEndpointId".into(),
            serde_json::json!("vpce-0a1b2c3d4e5f60718"),
        );
        d.insert("vpcEndpointAccountId".into(), serde_json::json!("111122223333"));
        if other_account {
            d.insert(
                "userIdentity".into(),
                serde_json::json!({"type": "AWSAccount", "principalId": "AIDAEXAMPLE", "accountId": "777788889999"}),
            );
        }
        if let Some(e) = error {
            d.insert("errorCode".into(), serde_json::json!(e));
        }
        r
    };
    let mut records = Vec::new();
    for i in 0..3 {
        let mut c = call.clone();
        c["eventID"] = serde_json::json!(format!("call-{i}"));
        c["responseElements"]["snapshotId"] = serde_json::json!(format!("snap-0000000000000000{i}"));
        records.push(c);
        records.push(seen(&format!("seen-{i}"), false, None));
    }
    records.push(seen("seen-other-account", true, None));
    records.push(seen("seen-denied", false, Some("VpceAccessDenied")));
    let events = common::events_of(&serde_json::Value::Array(records.clone()));
    let network = events.iter().filter(|e| e.phase == Phase::Network).count();
    assert_eq!((events.len(), network), (8, 5));
    // The line's fast path and an EventBridge envelope read every one the same way.
    for r in records.iter().filter(|r| r["eventType"] == "AwsVpceEvent") {
        let line = serde_json::to_vec(r).unwrap();
        let fast = t1578_core::normalize::cloudtrail_line(&line).unwrap().unwrap();
        assert_eq!(fast.phase, Phase::Network);
        let envelope = serde_json::json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2", "detail": r});
        assert_eq!(common::events_of(&envelope)[0].phase, Phase::Network);
    }
    for p in [ProfileName::Default, ProfileName::SeedKql] {
        let (r, _) = replay(&common::engine(p), &events);
        assert_eq!((r.scored, r.not_counted), (3, 5), "{p:?}");
    }
    // Without the network records the same three calls are scored: the same decisions.
    let calls: Vec<ComputeEvent> = events
        .iter()
        .filter(|e| e.phase != Phase::Network)
        .cloned()
        .collect();
    let e = tuned("");
    assert_eq!(replay(&e, &calls).1, replay(&e, &events).1);
}

/// CloudFormation makes a stack's calls with the deployer's credentials or the stack's role, and
/// names itself as `invokedBy`, source address and user agent: every call is the deployer's, as
/// Terraform's are (before, a template could create, capture and delete instances unseen). A
/// service-linked role's call stays the service's, whatever carried it.
#[test]
fn a_call_a_stack_makes_is_the_deployers() {
    let via_stack = |name: &str| {
        let mut evs = made_by("cloudformation.amazonaws.com", fixture(name));
        for e in evs.iter_mut() {
            e.user_agent = Some("cloudformation.amazonaws.com".into());
        }
        evs
    };
    let e = tuned("");
    let (r, alerts) = replay(
        &e,
        &via_stack("aws/rds-restore-db-instance-from-db-snapshot-public.json"),
    );
    assert_eq!((r.service_callers, r.scored, alerts.len()), (0, 1, 1));
    assert_eq!(
        alerts[0].unmapped.trigger_catalog_id.as_deref(),
        Some("aws.rds.restore_db_instance_public")
    );
    let snapshot = via_stack("aws/ec2-create-snapshot.json");
    let (r, _) = replay(&e, &snapshot);
    assert_eq!((r.service_callers, r.scored), (0, 1));
    // A stack's instances, launched and terminated: counted as a Terraform run's are.
    let mut run = via_stack("aws/ec2-run-instances.json");
    run.extend(via_stack("aws/ec2-terminate-instances.json"));
    let (r, _) = replay(&e, &run);
    assert_eq!((r.service_callers, r.scored), (0, run.len()));
    let mut linked = snapshot.clone();
    for ev in linked.iter_mut() {
        ev.principal.key =
            "arn:aws:iam::111122223333:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling".into();
    }
    let (r, _) = replay(&e, &linked);
    assert_eq!((r.service_callers, r.scored), (1, 0));
}

#[test]
fn a_critical_a_service_made_for_a_role_is_judged() {
    // An SSM Automation runbook's `aws:executeAwsApi` step calls EC2 with the runbook's role:
    // CloudTrail names the role, `invokedBy` the service and the service as the source address.
    let via_ssm = |name: &str| made_by("ssm.amazonaws.com", fixture(name));
    // Its share with another account is the role's critical, as a share from a laptop is.
    let share = via_ssm("aws/ec2-modify-snapshot-attribute-share.json");
    let (r, alerts) = replay(&tuned(""), &share);
    assert_eq!((r.service_callers, alerts.len()), (0, 1));
    assert_eq!(
        alerts[0].unmapped.trigger_catalog_id.as_deref(),
        Some("aws.ec2.snapshot_shared")
    );
    // Its snapshot is the runbook's routine: a service caller, not counted.
    let (r, alerts) = replay(&tuned(""), &via_ssm("aws/ec2-create-snapshot.json"));
    assert_eq!((r.service_callers, alerts.len()), (1, 0));
    // An `AWSService` identity's share stays the service's own.
    let mut service = share.clone();
    for e in service.iter_mut() {
        e.principal.kind = PrincipalKind::AwsService;
        e.principal.key = "aws-service:ssm.amazonaws.com".into();
    }
    let (r, alerts) = replay(&tuned(""), &service);
    assert_eq!((r.service_callers, alerts.len()), (1, 0));
    // AWS Backup acts on its own schedule: its cross-account copies and Image Builder's
    // distributions would page every run (more accounts than a baseline remembers are never
    // known), so a share it makes stays a service caller, as one by a service-linked role does.
    let backup = made_by("backup.amazonaws.com", share.clone());
    let (r, alerts) = replay(&tuned(""), &backup);
    assert_eq!((r.service_callers, alerts.len()), (1, 0));
    let mut linked = share.clone();
    for e in linked.iter_mut() {
        e.principal.key = format!(
            "arn:aws:iam::{}:role/aws-service-role/ssm.amazonaws.com/AWSServiceRoleForAmazonSSM",
            e.account
        );
    }
    let (r, alerts) = replay(&tuned(""), &linked);
    assert_eq!((r.service_callers, alerts.len()), (1, 0));
}

#[test]
fn a_shadow_account_records_decisions_and_sends_nothing() {
    let share = fixture("aws/ec2-modify-snapshot-attribute-share.json");
    let acct = share[0].account.clone();
    let e = tuned(&format!("[accounts.\"{acct}\"]\nmode = \"shadow\""));
    let (store, sink) = (MemoryStore::new(), MemorySink::new());
    let r = futures::executor::block_on(process_batch(
        &e,
        &store,
        &sink,
        &share,
        &PipelineOptions::default(),
    ));
    assert_eq!(r.alerts.len(), 1, "decided");
    assert!(sink.alerts().is_empty(), "not sent");
    let other = tuned("[accounts.\"999988887777\"]\nmode = \"shadow\"");
    let (store, sink) = (MemoryStore::new(), MemorySink::new());
    futures::executor::block_on(process_batch(
        &other,
        &store,
        &sink,
        &share,
        &PipelineOptions::default(),
    ));
    assert_eq!(sink.alerts().len(), 1);
}

#[test]
fn the_example_configuration_is_valid() {
    let text = std::fs::read_to_string(events_dir().join("tuning/example.toml")).unwrap();
    let catalog = Catalog::builtin().unwrap();
    let t = Tuning::from_toml(&text, "events/tuning/example.toml", &catalog).unwrap();
    let e = Engine::with_tuning(catalog, Profile::named(ProfileName::Default), t);
    let prod = e.effective("444455556666");
    assert_eq!(
        prod.change_windows.map(|w| w.time_zone.as_str()),
        Some("Europe/London")
    );
    assert_eq!(
        (prod.iac.risk_percent, prod.unfamiliar_ip.map(|u| u.points)),
        (0, Some(1))
    );
    assert!(e.effective("111122223333").change_windows.is_none());
    // Small enough for the Lambda's 4 KB environment (Terraform checks the same bound).
    assert!(text.len() <= 3072, "{} bytes", text.len());
}

/// The baseline knobs reach the decision: per account over the defaults, and `days = 0` turns
/// it off so the principal meets the plain thresholds.
#[test]
fn baseline_knobs_apply_per_account() {
    let e = tuned(
        "[defaults.baseline]\ndays = 21\nvolume_factor = 3.5\nknown_destinations = false\n\
         [accounts.\"111122223333\".baseline]\ndays = 0\n\
         [accounts.\"444455556666\".baseline]\nmin_history_days = 3\nescalation_factor = 1.5\n\
         settled_days = 2\nnew_principal_risk = 3\nroutine_export_days = 0",
    );
    let other = e.effective("999999999999").baseline.unwrap();
    assert_eq!(
        (other.days, other.volume_percent, other.known_destinations),
        (21, 350, false)
    );
    assert!(e.effective("111122223333").baseline.is_none());
    let b = e.effective("444455556666").baseline.unwrap();
    assert_eq!((b.days, b.min_history_days, b.escalation_percent), (14, 3, 150));
    assert_eq!(
        (b.settled_days, b.new_principal_risk, b.routine_export_days),
        (2, 3, 0)
    );
    assert_eq!(
        (other.new_principal_risk, other.routine_export_days),
        (4, 2),
        "the built-in defaults"
    );
    // When the detector started seeing an account: a date or a time, per account.
    let seen =
        |e: &Engine, acct: &str| e.observed_since_for(&e.effective(acct).baseline.unwrap(), Cloud::Aws, acct);
    let o = tuned(
        "[defaults.baseline]\nobserved_since = \"2026-11-01\"\n\
         [accounts.\"444455556666\".baseline]\nobserved_since = \"2026-11-20T06:00:00Z\"",
    );
    assert_eq!(seen(&o, "999999999999"), Some(1_793_491_200_000));
    assert_eq!(seen(&o, "444455556666"), Some(1_795_154_400_000));
    assert_eq!(seen(&e, "999999999999"), None, "unset: no learning period");
    // The CLI's --observed-since fills only what the document leaves unset.
    assert_eq!(
        seen(&o.clone().observed_since(7), "444455556666"),
        Some(1_795_154_400_000)
    );
    assert_eq!(seen(&e.clone().observed_since(7), "444455556666"), Some(7));
    assert_eq!(seen(&tuned("").observed_since(7), "x"), Some(7));
    // The first time given is kept.
    assert_eq!(seen(&tuned("").observed_since(5).observed_since(9), "x"), Some(5));
    // `first`: each account from the first event the pipeline records for it, which the
    // engine does not know until then; a date in the document still wins for its account.
    let f = tuned(
        "[defaults.baseline]\nobserved_since = \"first\"\n\
         [accounts.\"444455556666\".baseline]\nobserved_since = \"2026-11-20T06:00:00Z\"",
    );
    assert_eq!(
        f.observation(&f.effective("x").baseline.unwrap()),
        ObservedSince::FirstEvent
    );
    assert!(f.needs_first_event(Cloud::Aws, "x"));
    assert!(!f.needs_first_event(Cloud::Aws, "444455556666"));
    assert_eq!(seen(&f, "x"), None);
    f.record_first_event(Cloud::Aws, "x", 11);
    assert!(!f.needs_first_event(Cloud::Aws, "x"));
    assert_eq!((seen(&f, "x"), seen(&f, "y")), (Some(11), None));
    assert_eq!(seen(&f, "444455556666"), Some(1_795_154_400_000));
    // The CLI's `first` is the same, where the document is silent.
    let cli = e.clone().observed_from_first_event();
    assert!(cli.needs_first_event(Cloud::Aws, "999999999999"));
    assert!(
        !cli.needs_first_event(Cloud::Aws, "111122223333"),
        "no baseline there"
    );
    assert!(!o
        .clone()
        .observed_from_first_event()
        .needs_first_event(Cloud::Aws, "9"));
    // Retention covers the longest baseline.
    assert_eq!(
        e.retention_ms(),
        30 * 86_400_000,
        "the unfamiliar-IP memory (30 d) is longer"
    );
    let long = tuned("[defaults.baseline]\ndays = 30\n[defaults.unfamiliar_ip]\ndays = 7");
    assert_eq!(long.retention_ms(), 30 * 86_400_000);
    // Off: the routine burst scenario's role alerts on its routine day like a new principal.
    let dir = events_dir().join("scenarios/baseline/aws-routine-automation/events.json");
    let events = load(&dir);
    let day15 = |e: &Engine| {
        let (_, alerts) = replay(e, &events);
        alerts
            .iter()
            .filter(|a| a.time_dt.as_str() >= "2026-11-15")
            .count()
    };
    assert_eq!(day15(&tuned("")), 0);
    assert!(day15(&tuned("[defaults.baseline]\ndays = 0")) > 0);
}
