//! The alert document under hostile input: attacker-controlled strings (principal names, user
//! agents, addresses, resource ids) with quotes, newlines, control characters, bidirectional
//! overrides and very long values. The document must stay valid JSON that follows the committed
//! schema, keep every value bounded, and round-trip exactly.

mod common;

use common::{engine, events_dir};
use serde_json::{json, Value};
use t1578_core::engine::ProfileName;
use t1578_core::source::normalize_document;
use t1578_core::ComputeEvent;

const NASTY: &str = "ev\"il\"},\"injected\":{\"x\":\"\n\r\t\u{0}\u{7}\u{1b}[31mRED\u{1b}[0m \u{202e}gnp.exe \\\\ ' </script> 🦀";

fn share_with(f: impl Fn(&mut Value)) -> Vec<ComputeEvent> {
    let text =
        std::fs::read_to_string(events_dir().join("aws/ec2-modify-snapshot-attribute-share.json")).unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    f(&mut doc["detail"]);
    normalize_document(serde_json::to_string(&doc).unwrap().as_bytes())
        .unwrap()
        .into_iter()
        .map(|(_, r)| r.unwrap())
        .collect()
}

#[test]
fn hostile_strings_stay_escaped_bounded_and_schema_valid() {
    let long = format!("{NASTY}{}", "A".repeat(100_000));
    // Five records (the seed profile needs several to alert), each hostile everywhere.
    let events: Vec<ComputeEvent> = (0..5)
        .flat_map(|i| {
            share_with(|d| {
                d["userIdentity"] = json!({
                    "type": "IAMUser",
                    "arn": format!("arn:aws:iam::111122223333:user/{long}"),
                    "userName": long,
                    "accountId": "111122223333",
                });
                d["userAgent"] = json!(long);
                d["sourceIPAddress"] = json!("198.51.100.7\r\nX-Forwarded-For: 1.2.3.4");
                d["eventID"] = json!(format!("{i}{long}"));
                d["requestParameters"]["snapshotId"] = json!(format!("{NASTY}{i}"));
            })
        })
        .collect();
    for p in [ProfileName::Default, ProfileName::SeedKql] {
        let (_, alerts) = common::replay(&engine(p), &events);
        assert!(!alerts.is_empty(), "{p:?}");
        for a in &alerts {
            // Schema-valid and round-tripping: checked by the replay helper for every alert.
            let text = serde_json::to_string(a).unwrap();
            assert!(
                !text.bytes().any(|b| b < 0x20),
                "raw control byte in the document"
            );
            assert!(
                !text.contains("\"injected\":{"),
                "a quote broke out of its string"
            );
            let v: Value = serde_json::from_str(&text).unwrap();
            let name = v["actor"]["user"]["name"].as_str().unwrap();
            assert!(name.len() <= 256 && name.ends_with("..."), "{} bytes", name.len());
            assert!(name.starts_with(NASTY), "the value is kept, escaped, not mangled");
            assert!(v["unmapped"]["user_agent"].as_str().unwrap().len() <= 256);
            assert!(v["actor"]["user"]["uid"].as_str().unwrap().len() <= 512);
            assert!(v["evidences"][0]["api"]["request"]["uid"].as_str().unwrap().len() <= 128);
            // Not an address: reported as a host name, never as `ip`.
            assert!(v["evidences"][0]["src_endpoint"]["ip"].is_null());
            // The decision itself stays small; the guide repeats the hostile values in every
            // command and query (quoted), and the whole stays far inside an SNS message.
            let mut bare = a.clone();
            bare.unmapped.guide = None;
            bare.remediation = None;
            let bare_len = serde_json::to_string(&bare).unwrap().len();
            assert!(bare_len < 16 * 1024, "{bare_len} bytes");
            assert!(
                text.len() < t1578_core::guide::SNS_BODY_BUDGET / 4,
                "{} bytes",
                text.len()
            );
            assert!(!text.contains("\"injected\":{"));
            let subject = a.subject(100);
            assert!(
                subject.len() <= 100 && subject.bytes().all(|b| (0x20..0x7f).contains(&b)),
                "{subject:?}"
            );
        }
    }
}

#[test]
fn state_keys_are_fixed_length_hashes_whatever_the_principal() {
    let e = engine(ProfileName::Default);
    let k = e
        .score(&share_with(|d| d["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = json!(NASTY))[0])
        .unwrap()
        .key;
    let id = k.storage_id();
    assert_eq!(id.len(), 64);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    // SHA-256 of the canonical key, checked against the standard's own test vector shape:
    // the empty key hashes to the well-known empty-input digest.
    assert_eq!(
        t1578_core::StateKey(String::new()).storage_id(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    // The readable key is a JSON array: no principal can forge another key's parts.
    let parts: Vec<String> = serde_json::from_str(&k.0).unwrap();
    assert_eq!(parts.len(), 5);
}

/// The schema is what keeps the documents' shape: a real alert passes it, and the same alert
/// with a field it does not declare (at the top, or inside a nested object), or without one it
/// requires, does not.
#[test]
fn the_schema_refuses_a_real_alert_with_an_undeclared_or_missing_field() {
    let (_, alerts) = common::replay(
        &engine(ProfileName::Default),
        &common::load(&events_dir().join("aws/ec2-modify-snapshot-attribute-share.json")),
    );
    let alert = serde_json::to_value(alerts.first().expect("a share alerts")).unwrap();
    assert_eq!(t1578_testkit::alert_errors(&alert), Vec::<String>::new());
    let changed = |f: fn(&mut Value)| {
        let mut a = alert.clone();
        f(&mut a);
        t1578_testkit::alert_errors(&a)
    };
    type Change = (&'static str, fn(&mut Value));
    let changes: [Change; 4] = [
        ("top-level extra", |a| a["injected"] = json!(1)),
        ("extra in actor.user", |a| {
            a["actor"]["user"]["injected"] = json!(1)
        }),
        ("extra in finding_info", |a| {
            a["finding_info"]["injected"] = json!("x")
        }),
        ("severity_id missing", |a| {
            a.as_object_mut().unwrap().remove("severity_id");
        }),
    ];
    for (what, f) in changes {
        assert!(!changed(f).is_empty(), "{what} passed the schema");
    }
}
