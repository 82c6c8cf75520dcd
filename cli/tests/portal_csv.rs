//! Portal CSV exports of `AzureActivity`: the same rows as CSV (current and legacy column sets)
//! and as JSON replay to the same alerts and query to the same rows.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn t1578(args: &[&str], path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_t1578"))
        .args(args)
        .arg(path)
        .output()
        .expect("run t1578")
}

const OPS: [(&str, &str); 4] = [
    (
        "Microsoft.Compute/virtualMachines/delete",
        "Delete Virtual Machine",
    ),
    ("Microsoft.Compute/snapshots/write", "Create or Update Snapshot"),
    ("Microsoft.Compute/disks/delete", "Delete Disk"),
    (
        "Microsoft.Storage/storageAccounts/write",
        "Create/Update Storage Account",
    ),
];

/// Log Analytics rows: three callers (a user, an application, a managed identity), every
/// operation Started then Succeeded, some outside the catalog, over two hours.
fn rows() -> Vec<Value> {
    let mut out = Vec::new();
    for i in 0..60u32 {
        let (op, _) = OPS[(i % 4) as usize];
        let who = i % 3;
        let caller = match who {
            0 => "alice@contoso.com".to_string(),
            _ => format!("{who:08}-0000-4000-8000-000000000000"),
        };
        let claims = match who {
            0 => {
                json!({"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "alice@contoso.com", "ipaddr": "203.0.113.5"})
            }
            1 => {
                json!({"appid": "app-1", "idtyp": "app", "http://schemas.microsoft.com/identity/claims/objectidentifier": caller})
            }
            _ => {
                json!({"appid": "app-2", "idtyp": "app", "xms_mirid": "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi", "http://schemas.microsoft.com/identity/claims/objectidentifier": caller})
            }
        };
        for (j, status) in ["Started", "Succeeded"].iter().enumerate() {
            let ms = 1_000 * (i as i64 * 97 + j as i64) + (i as i64 % 1000);
            let t = t1578_core::alert::rfc3339(1_790_000_000_000 + ms);
            out.push(json!({
                "TimeGenerated": t,
                "OperationNameValue": op,
                "ActivityStatusValue": status,
                "Caller": caller,
                "CallerIpAddress": "203.0.113.5",
                "ResourceGroup": "RG-PROD",
                "SubscriptionId": "aaaaaaaa-1111-2222-3333-444444444444",
                "ResourceId": format!("/subscriptions/aaaaaaaa-1111-2222-3333-444444444444/resourceGroups/RG-PROD/providers/{}/r{}", op.rsplit_once('/').unwrap().0, i % 7),
                "ResourceProviderValue": op.split('/').next().unwrap(),
                "EventDataId": format!("ed-{i}-{j}"),
                "CorrelationId": format!("corr-{i}"),
                "Claims": claims,
                "Authorization": {"action": op, "scope": "/subscriptions/aaaaaaaa-1111-2222-3333-444444444444"},
                "Properties": {"eventCategory": "Administrative", "message": op},
            }));
        }
    }
    out
}

/// The portal's spelling of an RFC 3339 UTC time: `4/28/2021, 2:32:14.029 PM`.
fn portal(t: &str) -> String {
    let d = chrono::DateTime::parse_from_rfc3339(t).unwrap();
    d.format("%-m/%-d/%Y, %-I:%M:%S%.3f %p").to_string()
}

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The rows as the portal exports them; `legacy`: the old column set, whose operation is only in
/// `Authorization.action` (`OperationName` is its display name).
fn csv(rows: &[Value], legacy: bool) -> Vec<u8> {
    let cols: Vec<(&str, &str)> = if legacy {
        vec![
            ("TimeGenerated [UTC]", "TimeGenerated"),
            ("OperationName", ""),
            ("ActivityStatus", "ActivityStatusValue"),
            ("Caller", "Caller"),
            ("CallerIpAddress", "CallerIpAddress"),
            ("ResourceGroup", "ResourceGroup"),
            ("SubscriptionId", "SubscriptionId"),
            ("ResourceId", "ResourceId"),
            ("ResourceProvider", "ResourceProviderValue"),
            ("EventDataId", "EventDataId"),
            ("CorrelationId", "CorrelationId"),
            ("Claims", "Claims"),
            ("Authorization", "Authorization"),
            ("Properties", "Properties"),
        ]
    } else {
        let mut c: Vec<(&str, &str)> = rows[0]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| (k.as_str(), k.as_str()))
            .collect();
        for col in &mut c {
            if col.1 == "TimeGenerated" {
                col.0 = "TimeGenerated [UTC]";
            }
        }
        c
    };
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    w.write_record(cols.iter().map(|c| c.0)).unwrap();
    for r in rows {
        let rec: Vec<String> = cols
            .iter()
            .map(|(name, src)| match *src {
                "TimeGenerated" => portal(r["TimeGenerated"].as_str().unwrap()),
                "" => OPS
                    .iter()
                    .find(|o| o.0 == r["OperationNameValue"])
                    .unwrap()
                    .1
                    .to_string(),
                src => {
                    assert!(!name.is_empty());
                    cell(&r[src])
                }
            })
            .collect();
        w.write_record(&rec).unwrap();
    }
    w.into_inner().unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn a_portal_csv_replays_and_queries_as_the_same_rows_as_json_in_both_column_sets() {
    let dir = tempfile::tempdir().unwrap();
    let rows = rows();
    let json_path = dir.path().join("rows.json");
    let lines: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
    std::fs::write(&json_path, lines.join("\n")).unwrap();
    let replay = ["replay", "--format", "json"];
    let query = ["query", "--profile", "seed-kql", "--format", "json"];
    let want_alerts = stdout(&t1578(&replay, &json_path));
    let want_rows = stdout(&t1578(&query, &json_path));
    assert!(want_alerts.lines().count() >= 3, "{want_alerts}");
    // Every caller kind alerts, the application and the managed identity under their object id.
    for who in [
        "alice@contoso.com",
        "00000001-0000-4000-8000",
        "00000002-0000-4000-8000",
    ] {
        assert!(want_rows.contains(who), "{who} not in {want_rows}");
    }
    for (legacy, name) in [(false, "export.csv"), (true, "legacy-export.csv")] {
        let p: PathBuf = dir.path().join(name);
        std::fs::write(&p, csv(&rows, legacy)).unwrap();
        let out = t1578(&replay, &p);
        assert_eq!(stdout(&out), want_alerts, "{name}: alerts");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("120 records read") && err.contains("0 parse errors"),
            "{name}: {err}"
        );
        assert_eq!(stdout(&t1578(&query, &p)), want_rows, "{name}: query rows");
    }
}

#[test]
fn a_csv_that_is_not_an_activity_export_is_refused_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("other.csv");
    std::fs::write(&p, "Name,Value\nx,1\n").unwrap();
    let out = t1578(&["replay"], &p);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("other.csv: a CSV but not an AzureActivity export") && err.contains("Name, Value"),
        "{err}"
    );
}
