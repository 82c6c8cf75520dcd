//! The shapes the cloud APIs print and log pipelines store, as analysts save them: `aws
//! cloudtrail lookup-events` output, the Activity Log's REST shape (`az monitor activity-log
//! list`, `Get-AzActivityLog | ConvertTo-Json`), and CloudWatch Logs subscription payloads as
//! Firehose writes them to S3. Each must normalize to exactly what the same records give in the
//! shape the trail or the diagnostic setting writes.

use serde_json::{json, Map, Value};
use std::path::Path;
use t1578_core::normalize::normalize;
use t1578_core::source::split;

fn fixture_lines(rel: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn normalized(doc: &[u8]) -> Vec<String> {
    split(doc)
        .unwrap()
        .into_iter()
        .map(|(pos, r)| {
            let v = r.unwrap_or_else(|e| panic!("{pos}: {e}"));
            format!("{:?}", normalize(v).unwrap_or_else(|e| panic!("{pos}: {e}")))
        })
        .collect()
}

#[test]
fn lookup_events_output_reads_as_the_records_it_carries() {
    let records = fixture_lines("events/formats/cloudtrail.jsonl");
    assert!(records.len() >= 4);
    let want = normalized(
        records
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join("\n")
            .as_bytes(),
    );
    // As the CLI prints it: summary fields (repeating the record's, here deliberately wrong, so
    // a reader taking them would differ) and the record as a JSON string.
    let events: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({"EventId": r["eventID"], "EventName": "DescribeInstances", "ReadOnly": "true",
                   "EventTime": "2020-01-01T00:00:00+00:00", "EventSource": "s3.amazonaws.com",
                   "Username": "someone-else", "Resources": [],
                   "CloudTrailEvent": r.to_string()})
        })
        .collect();
    let doc = serde_json::to_vec_pretty(&json!({"Events": events, "NextToken": "abc"})).unwrap();
    assert_eq!(normalized(&doc), want);
    // `jq -c '.Events[]'`: one item a line.
    let lines: Vec<String> = events.iter().map(Value::to_string).collect();
    assert_eq!(normalized(lines.join("\n").as_bytes()), want);
}

#[test]
fn a_lookup_item_whose_record_is_not_json_is_that_records_error() {
    let doc = br#"{"Events":[{"EventId":"1","CloudTrailEvent":"{not json"},{"EventId":"2","CloudTrailEvent":"{\"eventVersion\":\"1.08\"}"}]}"#;
    let recs = split(doc).unwrap();
    assert_eq!(recs.len(), 2);
    let errors: Vec<String> = recs
        .into_iter()
        .map(|(_, r)| normalize(r.unwrap()).unwrap_err().kind().to_string())
        .collect();
    assert_eq!(errors, ["not_an_object", "unknown_shape"]);
}

#[test]
fn an_object_with_its_own_record_keys_is_never_taken_for_a_lookup_container() {
    // A CloudTrail record that happens to carry an `Events` array stays one record.
    let rec = json!({"eventName": "DeleteSnapshot", "eventSource": "ec2.amazonaws.com",
                     "eventTime": "2026-11-01T00:00:00Z", "Events": [{"a": 1}],
                     "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/a",
                                      "accountId": "111122223333"},
                     "recipientAccountId": "111122223333", "eventID": "x"});
    let recs = split(rec.to_string().as_bytes()).unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].1.as_ref().unwrap()["eventName"], "DeleteSnapshot");
}

/// One diagnostic-settings export record in the REST API's shape: localized objects for names
/// and status, `eventTimestamp`, claims and authorization at the top, the address in
/// `httpRequest`, no `identity`, `resultType` or `callerIpAddress`.
fn rest_shape(export: &Value) -> Value {
    let e = export.as_object().unwrap();
    let loc = |v: &Value| json!({"value": v, "localizedValue": v});
    let mut r = Map::new();
    r.insert("eventName".into(), loc(&json!("EndRequest")));
    r.insert("operationName".into(), loc(&e["operationName"]));
    r.insert("status".into(), loc(&e["resultType"]));
    r.insert(
        "subStatus".into(),
        loc(e.get("resultSignature").unwrap_or(&json!(""))),
    );
    r.insert("category".into(), loc(&e["category"]));
    r.insert("eventTimestamp".into(), e["time"].clone());
    r.insert("resourceId".into(), e["resourceId"].clone());
    r.insert("correlationId".into(), e["correlationId"].clone());
    r.insert(
        "httpRequest".into(),
        json!({"clientIpAddress": e["callerIpAddress"], "method": "PUT"}),
    );
    let identity = &e["identity"];
    r.insert("claims".into(), identity["claims"].clone());
    r.insert("authorization".into(), identity["authorization"].clone());
    for k in ["level", "properties", "caller", "eventDataId"] {
        if let Some(v) = e.get(k) {
            r.insert(k.into(), v.clone());
        }
    }
    Value::Object(r)
}

#[test]
fn the_activity_logs_rest_shape_reads_as_its_export_records() {
    let export = fixture_lines("events/formats/azure-storage-export-PT1H.json");
    assert!(export.len() >= 3);
    let want: Vec<String> = export
        .iter()
        .map(|r| format!("{:?}", normalize(r.clone()).unwrap()))
        .collect();
    let rest: Vec<Value> = export.iter().map(rest_shape).collect();
    for r in &rest {
        assert!(r["eventName"].is_object() && r.get("resultType").is_none() && r.get("identity").is_none());
    }
    // `az monitor activity-log list` prints a JSON array.
    assert_eq!(normalized(&serde_json::to_vec_pretty(&rest).unwrap()), want);
}

/// CloudWatch Logs subscription payloads carrying `records` (as a trail sent to CloudWatch Logs
/// does), two events a payload, after the check message the service sends first.
fn subscription_payloads(records: &[Value]) -> Vec<String> {
    let control = json!({"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "",
                         "logStream": "", "subscriptionFilters": [],
                         "logEvents": [{"id": "", "timestamp": 1, "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}]});
    let mut out = vec![control.to_string()];
    for (k, chunk) in records.chunks(2).enumerate() {
        let events: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, r)| json!({"id": format!("{k}{i}"), "timestamp": 1_793_491_805_123_i64, "message": r.to_string()}))
            .collect();
        out.push(
            json!({"messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": "aws-cloudtrail-logs",
                   "logStream": "111122223333_CloudTrail_us-east-1", "subscriptionFilters": ["all"],
                   "logEvents": events})
            .to_string(),
        );
    }
    out
}

#[test]
fn firehose_objects_of_subscription_payloads_read_as_their_records() {
    let records = fixture_lines("events/formats/cloudtrail.jsonl");
    let lines: Vec<String> = records.iter().map(Value::to_string).collect();
    let want = normalized(lines.join("\n").as_bytes());
    let payloads = subscription_payloads(&records);
    assert!(payloads.len() >= 3);
    // Firehose appends payloads with no separator; with its newline option, one a line.
    assert_eq!(normalized(payloads.concat().as_bytes()), want);
    assert_eq!(normalized(payloads.join("\n").as_bytes()), want);
    // An object cut short at the end: every whole payload's records, then the cut.
    let all = payloads.concat();
    let recs = split(&all.as_bytes()[..all.len() - 10]).unwrap();
    let (cut, whole) = recs.split_last().unwrap();
    assert_eq!(cut.1.as_ref().unwrap_err().kind(), "truncated");
    let got: Vec<String> = whole
        .iter()
        .map(|(_, r)| format!("{:?}", normalize(r.clone().unwrap()).unwrap()))
        .collect();
    assert_eq!(got, want[..want.len() - records.chunks(2).last().unwrap().len()]);
}

#[test]
fn a_subscription_event_that_is_no_record_is_that_events_error() {
    let records = fixture_lines("events/formats/cloudtrail.jsonl");
    let mut payloads = subscription_payloads(&records[..2]);
    let mut odd: Value = serde_json::from_str(&payloads[1]).unwrap();
    odd["logEvents"][0]["message"] = json!("START RequestId: 1 Version: $LATEST");
    odd["logEvents"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "9", "timestamp": 1}));
    payloads[1] = odd.to_string();
    let recs = split(payloads.concat().as_bytes()).unwrap();
    let kinds: Vec<String> = recs
        .into_iter()
        .map(|(_, r)| match normalize(r.unwrap()) {
            Ok(_) => "ok".to_string(),
            Err(e) => e.kind().to_string(),
        })
        .collect();
    assert_eq!(kinds, ["not_an_object", "ok", "unknown_shape"]);
}
