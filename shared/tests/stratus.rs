//! Real CloudTrail captures (DataDog/stratus-red-team detonation logs).

mod common;

use common::{engine, load, replay, stratus_dir};
use t1578_core::alert::Tier;
use t1578_core::engine::ProfileName;

#[test]
fn every_capture_parses_without_error() {
    let mut records = 0;
    for entry in std::fs::read_dir(stratus_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "json") {
            records += load(&path).len();
        }
    }
    assert_eq!(records, 310);
}

/// Each record written as a JSON line, as a trail exported to lines holds it: the line fast path
/// takes it and gives what normalizing the whole record gives. These are captures of real
/// calls, so they hold shapes the project's own fixtures may not (other services' identities,
/// nested requests, odd fields).
#[test]
fn every_capture_line_reads_as_its_whole_record() {
    let mut taken = 0;
    for entry in std::fs::read_dir(stratus_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut records = Vec::new();
        t1578_core::source::expand(doc, &mut records);
        for r in records {
            let line = serde_json::to_string(&r).unwrap();
            let fast = t1578_core::normalize::cloudtrail_line(line.as_bytes())
                .unwrap_or_else(|| panic!("{}: declined {line}", path.display()));
            assert_eq!(fast, t1578_core::normalize(r), "{}: {line}", path.display());
            taken += 1;
        }
    }
    assert_eq!(taken, 310);
}

#[test]
fn default_profile_alerts_on_exactly_the_t1578_detonations() {
    let e = engine(ProfileName::Default);
    let expect = [
        (
            "aws.exfiltration.ec2-share-ebs-snapshot.json",
            "aws.ec2.snapshot_shared",
        ),
        ("aws.exfiltration.ec2-share-ami.json", "aws.ec2.image_shared"),
        (
            "aws.exfiltration.rds-share-snapshot.json",
            "aws.rds.db_snapshot_shared",
        ),
    ];
    let mut alerting = Vec::new();
    for entry in std::fs::read_dir(stratus_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let (_, alerts) = replay(&e, &load(&path));
        if !alerts.is_empty() {
            alerting.push(name.clone());
        }
        if let Some((_, id)) = expect.iter().find(|(f, _)| *f == name) {
            let critical = alerts
                .iter()
                .find(|a| a.tier() == Tier::Critical)
                .unwrap_or_else(|| panic!("{name}: no critical"));
            assert_eq!(critical.unmapped.trigger_catalog_id.as_deref(), Some(*id));
            assert_eq!(critical.actor.user.name, "christophe");
            assert!(critical
                .finding_info
                .attacks
                .iter()
                .any(|m| m.sub_technique.as_ref().is_some_and(|x| x.uid == "T1578.001")));
        }
        if name == "aws.lateral-movement.ec2-serial-console-send-ssh-public-key.json" {
            // Console enabled (3), then SSH keys pushed for serial sessions on three instances
            // (issue 14's row, 2 each): one finding, created on the console change and updated
            // as the keys arrive, up to high risk on the second key; the third adds nothing new
            // enough to report again.
            assert_eq!(alerts.len(), 3, "{alerts:?}");
            let uid = &alerts[0].finding_info.uid;
            assert!(alerts.iter().all(|a| &a.finding_info.uid == uid), "one finding");
            let activity: Vec<(u8, &str, u32)> = alerts
                .iter()
                .map(|a| {
                    (
                        a.activity_id,
                        a.unmapped.finding.activity.as_str(),
                        a.unmapped.finding.count,
                    )
                })
                .collect();
            assert_eq!(activity, [(1, "create", 1), (2, "update", 2), (2, "update", 3)]);
            let ids = |a: &t1578_core::Alert| -> Vec<String> {
                a.evidences.iter().map(|e| e.data.catalog_id.clone()).collect()
            };
            assert_eq!(ids(&alerts[0]), ["aws.ec2.enable_serial_console"]);
            assert_eq!(alerts[0].tier(), Tier::Suspicious);
            let risks: Vec<u32> = alerts.iter().map(|a| a.risk_score).collect();
            assert_eq!(risks, [3, 5, 7]);
            let last = &alerts[2];
            assert_eq!(last.tier(), Tier::HighRisk);
            assert!(
                last.unmapped
                    .finding
                    .updated_because
                    .iter()
                    .any(|r| r.contains("high_risk")),
                "{:?}",
                last.unmapped.finding.updated_because
            );
            let keys: Vec<&str> = last
                .evidences
                .iter()
                .filter(|e| e.data.catalog_id == "aws.ec2.serial_console_ssh_key_sent")
                .map(|e| e.api.request.uid.as_str())
                .collect();
            assert_eq!(keys.len(), 2, "{keys:?}");
            assert_ne!(keys[0], keys[1], "two distinct key pushes, not one counted twice");
            assert!(ids(last).contains(&"aws.ec2.enable_serial_console".to_string()));
            let instances = last
                .resources
                .iter()
                .filter(|r| r.uid.contains(":instance/"))
                .count();
            assert_eq!(instances, 2, "{:?}", last.resources);
        }
        if name == "aws.execution.ec2-user-data.json" {
            // Stop, then user data changed on the same instance: 2 points + 2 for the sequence.
            assert_eq!(alerts.len(), 1, "{alerts:?}");
            assert_eq!(alerts[0].tier(), Tier::Suspicious);
            assert_eq!(alerts[0].risk_score, 4);
            assert_eq!(
                alerts[0].actor.user.uid,
                "arn:aws:iam::309303190113:user/christophe"
            );
        }
    }
    alerting.sort();
    assert_eq!(
        alerting,
        vec![
            "aws.execution.ec2-user-data.json",
            "aws.exfiltration.ec2-share-ami.json",
            "aws.exfiltration.ec2-share-ebs-snapshot.json",
            "aws.exfiltration.rds-share-snapshot.json",
            // Not in the capture README's T1578 list, but its first record is
            // EnableSerialConsoleAccess: an account-wide T1578.005 change (Elastic tags it so).
            "aws.lateral-movement.ec2-serial-console-send-ssh-public-key.json",
        ]
    );
    for f in alerting.iter() {
        assert!(
            !["iam", "secretsmanager", "ssm"]
                .iter()
                .any(|s| f.contains(&format!(".{s}-"))),
            "{f}"
        );
    }
}
