//! The guide every alert carries: filled in from the alert, quoted for the shell whatever the
//! logs hold, and cut in a defined order when a delivery limit would be exceeded.

mod common;

use common::{check_document, engine, events_dir, load, replay};
use serde_json::{json, Value};
use t1578_core::engine::ProfileName;
use t1578_core::guide::{fit, shell_quote, Dialect, QueryName, CUT_ORDER, SNS_BODY_BUDGET};
use t1578_core::source::normalize_document;
use t1578_core::Alert;

fn alerts_of(file: &str) -> Vec<Alert> {
    let (_, alerts) = replay(&engine(ProfileName::Default), &load(&events_dir().join(file)));
    assert!(!alerts.is_empty(), "{file} raised no alert");
    alerts
}

fn commands(a: &Alert) -> Vec<String> {
    let g = a.unmapped.guide.as_ref().expect("every alert carries its guide");
    g.steps.iter().map(|s| s.command.clone()).collect()
}

#[test]
fn a_snapshot_share_alert_says_how_to_unshare_it_and_where_to_look() {
    let a = &alerts_of("aws/ec2-modify-snapshot-attribute-share.json")[0];
    let snap = a.resources[0].uid.rsplit('/').next().unwrap().to_string();
    assert!(snap.starts_with("snap-"), "{snap}");
    let region = a.cloud.region.clone().unwrap();
    let cmds = commands(a);
    let reset = format!(
        "aws ec2 reset-snapshot-attribute --region {region} --snapshot-id {snap} --attribute createVolumePermission"
    );
    assert!(cmds.contains(&reset), "{cmds:#?}");
    assert!(cmds
        .iter()
        .any(|c| c.starts_with("aws iam put-role-policy") || c.starts_with("aws iam update-access-key")));
    let g = a.unmapped.guide.as_ref().unwrap();
    assert!(g.questions.iter().any(|q| q.ask.contains("one of ours")));
    // The account the snapshot was shared with, from the request, looked up in the organization.
    assert!(g.questions.iter().any(
        |q| q.command.as_deref() == Some("aws organizations describe-account --account-id 444455556666")
    ));
    assert!(g
        .questions
        .iter()
        .any(|q| q.command.as_deref() == Some(&format!("aws ec2 describe-snapshot-attribute --region {region} --snapshot-id {snap} --attribute createVolumePermission"))));
    // One hour either side of the events.
    assert_eq!(a.finding_info.first_seen_time - 3_600_000, parse(&g.start_dt));
    assert_eq!(a.finding_info.last_seen_time + 3_600_000, parse(&g.end_dt));
    let names: Vec<(QueryName, Dialect)> = g.queries.iter().map(|q| (q.name, q.dialect)).collect();
    for d in [Dialect::CloudtrailLakeSql, Dialect::AthenaSql] {
        for n in [
            QueryName::PrincipalActivity,
            QueryName::ResourceActivity,
            QueryName::SameAddresses,
        ] {
            assert!(names.contains(&(n, d)), "{n:?} {d:?} missing");
        }
    }
    let athena = &g
        .queries
        .iter()
        .find(|q| q.dialect == Dialect::AthenaSql)
        .unwrap()
        .query;
    assert!(
        athena.contains(&format!("recipientaccountid = '{}'", a.account())),
        "{athena}"
    );
    assert!(athena.contains(&format!(
        "useridentity.sessioncontext.sessionissuer.arn = '{}'",
        a.actor.user.uid
    )));
    let r = a.remediation.as_ref().unwrap();
    assert!(
        r.desc.starts_with("1. Remove every createVolumePermission"),
        "{}",
        r.desc
    );
    assert!(!r.references.is_empty());
}

fn parse(dt: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(dt)
        .unwrap()
        .timestamp_millis()
}

#[test]
fn a_disk_sas_alert_says_how_to_revoke_the_sas() {
    let a = alerts_of("azure/compute-disk-begin-get-access.json")
        .into_iter()
        .find(|a| a.unmapped.trigger_catalog_id.as_deref() == Some("azure.compute.disk_sas_export"))
        .expect("a critical alert for the SAS");
    let disk = &a.resources[0].uid;
    let cmds = commands(&a);
    assert!(
        cmds.contains(&format!("az disk revoke-access --ids {disk}")),
        "{cmds:#?}"
    );
    assert!(cmds.iter().any(|c| c.starts_with("az ad user update --id ")));
    let g = a.unmapped.guide.as_ref().unwrap();
    let kql = g
        .queries
        .iter()
        .find(|q| q.dialect == Dialect::KqlAzureActivity && q.name == QueryName::ResourceActivity)
        .unwrap();
    assert!(
        kql.query.contains(&format!("_ResourceId in~ ('{disk}')")),
        "{}",
        kql.query
    );
    assert!(g.queries.iter().any(|q| q.dialect == Dialect::KqlActivityExport));
}

/// What bash makes of a word: the value `printf` receives.
fn through_bash(word: &str) -> Vec<u8> {
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("printf '%s' {word}"))
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{word}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn shell_quoting_gives_bash_back_exactly_the_value() {
    let values = [
        "snap-0123",
        "it's; rm -rf / #",
        "a\"b`c`$(id)$HOME\\n\\",
        "line1\nline2\r\t\u{1b}[31m",
        "\u{202e}gnp.exe ' \u{200b}",
        "🦀 -- /* */ ' OR '1'='1",
        "",
    ];
    for v in values {
        let q = shell_quote(v);
        assert_eq!(through_bash(&q), v.as_bytes(), "{v:?} quoted as {q}");
        assert!(
            !q.chars().any(|c| c.is_control()),
            "raw control character in {q:?}"
        );
    }
}

const NASTY: &str = "ev'il\"; $(touch /tmp/pwned) `id` \\ \n-- /* ' OR 1=1 --";

fn hostile_share() -> Vec<t1578_core::ComputeEvent> {
    let text =
        std::fs::read_to_string(events_dir().join("aws/ec2-modify-snapshot-attribute-share.json")).unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    let d = &mut doc["detail"];
    d["userIdentity"] = json!({
        "type": "IAMUser",
        "arn": format!("arn:aws:iam::111122223333:user/{NASTY}"),
        "userName": NASTY,
        "accountId": "111122223333",
    });
    d["requestParameters"]["snapshotId"] = json!(NASTY);
    normalize_document(serde_json::to_string(&doc).unwrap().as_bytes())
        .unwrap()
        .into_iter()
        .map(|(_, r)| r.unwrap())
        .collect()
}

#[test]
fn hostile_names_and_ids_reach_every_command_as_one_exact_word() {
    let (_, alerts) = replay(&engine(ProfileName::Default), &hostile_share());
    let a = &alerts[0];
    let cmds = commands(a);
    let reset = cmds
        .iter()
        .find(|c| c.starts_with("aws ec2 reset-snapshot-attribute"))
        .unwrap();
    // Run the command with `aws` replaced by a function printing its arguments one per line:
    // the hostile id arrives whole, and nothing else runs.
    let script = format!("aws() {{ for a in \"$@\"; do printf '<%s>' \"$a\"; done; }}; {reset}");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(
        printed.contains(&format!("<--snapshot-id><{NASTY}>")),
        "{printed}"
    );
    assert!(!std::path::Path::new("/tmp/pwned").exists());
    let user = cmds
        .iter()
        .find(|c| c.starts_with("aws iam attach-user-policy"))
        .unwrap();
    assert!(user.contains(&shell_quote(NASTY)), "{user}");
}

#[test]
fn a_document_too_large_for_sns_is_cut_in_the_documented_order() {
    let mut a = alerts_of("aws/ec2-modify-snapshot-attribute-share.json").remove(0);
    let full = serde_json::to_string(&a).unwrap();
    let (text, cut) = fit(&a, SNS_BODY_BUDGET).unwrap();
    assert!(cut.is_empty() && text == full, "a normal alert fits whole");
    // One byte short at each stage: exactly the next part of CUT_ORDER goes, and every stage
    // is still a valid alert that names what it lost.
    // (The last stage, evidence beyond the first, cannot shrink a one-event alert.)
    let mut limit = full.len() - 1;
    for (i, part) in CUT_ORDER[..CUT_ORDER.len() - 1].iter().enumerate() {
        let (text, cut) = fit(&a, limit).unwrap();
        assert_eq!(cut, CUT_ORDER[..=i].to_vec(), "limit {limit}");
        assert!(text.len() <= limit);
        let v = t1578_testkit::assert_valid_alert_text(&text);
        let omitted: Vec<&str> = v["unmapped"]["guide"]["omitted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        assert_eq!(omitted.last(), Some(part));
        limit = text.len() - 1;
    }
    assert!(fit(&a, limit).is_err(), "nothing left to cut");
    // A document really above the SNS limit (a guide bloated past it) comes out under it,
    // queries first.
    let g = a.unmapped.guide.as_mut().unwrap();
    let q = g.queries[0].clone();
    g.queries = vec![q; 2_000];
    let (text, cut) = fit(&a, SNS_BODY_BUDGET).unwrap();
    assert!(text.len() <= SNS_BODY_BUDGET && !cut.is_empty());
    check_document(&serde_json::from_str(&text).unwrap());
}

/// An alert holding a GPU row and its plain row (one family, one resource kind) lists each
/// containment step once, under the first row that gave it.
#[test]
fn a_familys_steps_are_listed_once_whatever_rows_gave_them() {
    let gpu = load(&events_dir().join("aws/batch-create-compute-environment-gpu.json")).remove(0);
    let plain = load(&events_dir().join("aws/batch-create-compute-environment.json")).remove(0);
    let events: Vec<_> = (0..8)
        .map(|i| {
            let mut ev = if i % 2 == 0 { gpu.clone() } else { plain.clone() };
            ev.principal = gpu.principal.clone();
            ev.account = gpu.account.clone();
            ev.scope = gpu.scope.clone();
            ev.source_ip = gpu.source_ip.clone();
            ev.time_ms = gpu.time_ms + i * 60_000;
            ev.event_id = format!("batch-{i}");
            ev.resources = vec![format!("{}-{}", gpu.resources[0], i % 2)];
            ev
        })
        .collect();
    let (_, alerts) = replay(&engine(ProfileName::Default), &events);
    let a = alerts.last().expect("eight environments raise an alert");
    let g = a.unmapped.guide.as_ref().unwrap();
    // Both rows are in the alert; the plain row's steps are the GPU row's, so none is its own.
    let rows = &a.unmapped.guide.as_ref().unwrap().rows;
    assert!(
        rows.iter()
            .any(|r| r == "aws.batch.create_compute_environment_gpu")
            && rows.iter().any(|r| r == "aws.batch.create_compute_environment"),
        "{rows:?}"
    );
    let sources: Vec<&str> = g.steps.iter().map(|s| s.source.as_str()).collect();
    assert!(
        !sources.contains(&"aws.batch.create_compute_environment"),
        "{sources:?}"
    );
    let mut seen = Vec::new();
    for s in &g.steps {
        let key = (s.action.as_str(), s.command.as_str());
        assert!(!seen.contains(&key), "listed twice: {key:?}");
        seen.push(key);
    }
}
