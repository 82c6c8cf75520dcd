//! The CloudTrail line fast path gives exactly what normalizing the whole record gives, and
//! declines (so the caller parses the whole line) whatever it cannot give exactly.

mod common;

use common::{events_dir, whole};
use serde_json::{json, Value};
use t1578_core::normalize::cloudtrail_line;
use t1578_core::source::expand;

/// The fast path agrees with the whole parse, or declines; whether it took the line.
fn same(line: &str) -> bool {
    let fast = cloudtrail_line(line.as_bytes());
    let taken = fast.is_some();
    if let Some(fast) = fast {
        assert_eq!(Some(fast), whole(line), "{line}");
    }
    taken
}

#[test]
fn from_line_reads_what_from_record_reads() {
    let mut taken = 0;
    let mut odd_taken = 0;
    for f in std::fs::read_dir(events_dir().join("aws")).unwrap() {
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(f.unwrap().path()).unwrap()).unwrap();
        let mut recs = Vec::new();
        expand(raw, &mut recs);
        for r in recs {
            // Fixtures are EventBridge envelopes or bare records; a JSON line holds the record.
            let rec = r.get("detail").cloned().unwrap_or(r);
            let line = serde_json::to_string(&rec).unwrap();
            let fast = cloudtrail_line(line.as_bytes()).expect("a bare record with an eventID");
            assert_eq!(Some(fast), whole(&line), "{line}");
            taken += 1;
            // The same record with its keys in other casings, and a stringified request.
            let mut odd = rec.as_object().unwrap().clone();
            for k in ["eventName", "userIdentity", "awsRegion"] {
                if let Some(v) = odd.remove(k) {
                    odd.insert(k.to_uppercase(), v);
                }
            }
            if let Some(p) = odd.get("requestParameters").cloned() {
                odd.insert("requestParameters".into(), Value::from(p.to_string()));
            }
            let odd = Value::Object(odd).to_string();
            odd_taken += usize::from(same(&odd));
            assert_eq!(
                whole(&odd),
                whole(&line),
                "the whole parse reads it as the record: {odd}"
            );
        }
    }
    assert!(taken > 100, "{taken}");
    // Other casings and stringified requests are left to the whole parse, which reads them
    // (above): the fast path takes only the shape CloudTrail writes. Were it to take some,
    // `same` checks they agree, and this count says so.
    assert_eq!(odd_taken, 0, "odd variants the fast path took");
}

#[test]
fn odd_lines_are_left_to_the_whole_parse_or_agree_with_it() {
    let base = json!({"eventVersion":"1.08","eventTime":"2026-01-01T00:00:00Z","eventSource":"ec2.amazonaws.com",
        "eventName":"CreateSnapshot","awsRegion":"us-east-1","recipientAccountId":"111122223333","eventID":"e1",
        "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a","userName":"a"},
        "requestParameters":{"volumeId":"vol-1"},"responseElements":{"snapshotId":"snap-1"},
        "tlsDetails":{"tlsVersion":"TLSv1.3"}});
    let text = base.to_string();
    assert!(same(&text), "a plain line is taken");
    let declined = [
        // No eventID: its stand-in hashes the whole record.
        text.replace(r#""eventID":"e1","#, ""),
        // Not JSON, or JSON the whole parse refuses in a field the fast path does not keep.
        text.replace(r#""tlsVersion":"TLSv1.3""#, r#""tlsVersion":1e400"#),
        text.replace(
            r#""tlsVersion":"TLSv1.3""#,
            &format!("\"tlsVersion\":{}{}", "[".repeat(200), "]".repeat(200)),
        ),
        text.replace(r#""tlsVersion":"TLSv1.3""#, r#""tlsVersion":"\ud800""#),
        text[..text.len() - 1].to_string(),
        format!("{text} x"),
        // Other shapes: an envelope, a container, an array.
        json!({"detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","detail":base}).to_string(),
        json!({"Records":[base]}).to_string(),
        format!("[{text}]"),
        // Not CloudTrail.
        r#"{"operationName":"MICROSOFT.COMPUTE/DISKS/DELETE"}"#.to_string(),
        // The Activity Log's REST shape: `eventName` is an object there (an `eventID` or not).
        r#"{"eventName":{"value":"EndRequest"},"eventID":"1","operationName":{"value":"Microsoft.Compute/disks/delete"},"eventTimestamp":"2026-11-01T00:00:00Z","resourceId":"/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/disks/d","status":{"value":"Succeeded"}}"#.to_string(),
    ];
    for line in &declined {
        assert!(cloudtrail_line(line.as_bytes()).is_none(), "{line}");
    }
    let not_utf8 = text.replace("TLSv1.3", "TLS\u{1}").replace('\u{1}', "\u{80}");
    let mut bytes = not_utf8.into_bytes();
    let at = bytes.iter().position(|&b| b == 0xc2).unwrap();
    bytes.remove(at);
    assert!(std::str::from_utf8(&bytes).is_err());
    assert!(cloudtrail_line(&bytes).is_none());
    // Repeated keys: the last wins, as in `Value`; any casing of a key is read.
    for line in [
        text.replace(
            r#""eventName":"CreateSnapshot""#,
            r#""eventName":"DeleteSnapshot","eventName":"CreateSnapshot""#,
        ),
        text.replace(
            r#""eventName":"CreateSnapshot""#,
            r#""eventName":"CreateSnapshot","EventName":"DeleteSnapshot""#,
        ),
        text.replace(
            r#""eventTime":"2026-01-01T00:00:00Z""#,
            r#""eventTime":"yesterday""#,
        ),
        text.replace(
            r#""eventTime":"2026-01-01T00:00:00Z""#,
            r#""eventtime":1767225600"#,
        ),
        text.replace(r#""volumeId":"vol-1""#, r#""volumeId":"vol-\u0031""#),
        // No exact key, two casings: `Value` reads the least in byte order, its last value.
        text.replace(
            r#""awsRegion":"us-east-1""#,
            r#""AwsRegion":"eu-west-1","AWSREGION":"us-east-2","AwsRegion":"us-west-2""#,
        ),
        text.replace(
            r#""awsRegion":"us-east-1""#,
            r#""AWSREGION":"eu-west-1","awsregion":"ap-south-1","AWSREGION":"us-west-2""#,
        ),
        // The identity as JSON text, escapes in it; a repeated one, the first of them text.
        text.replace(
            r#""userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a","userName":"a"}"#,
            r#""userIdentity":" {\"type\":\"IAMUser\",\"arn\":\"arn:aws:iam::111122223333:user/\\u00e9\"}""#,
        ),
        text.replace(
            r#""userIdentity":{"type":"IAMUser""#,
            r#""userIdentity":"{\"type\":\"Root\"}","USERIDENTITY":"[1]","userIdentity":{"type":"IAMUser""#,
        ),
        text.replace(
            r#""requestParameters":{"volumeId":"vol-1"}"#,
            r#""requestParameters":"{\"volumeId\":","RequestParameters":"{\"volumeId\":\"vol-2\"}""#,
        ),
    ] {
        assert!(same(&line), "{line}");
    }
}
