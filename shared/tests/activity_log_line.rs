//! The Activity Log line fast path gives exactly what normalizing the whole record gives, and
//! declines (so the caller parses the whole line) whatever it cannot give exactly.

mod common;

use common::{events_dir, whole};
use serde_json::{json, Value};
use t1578_core::normalize::activity_log_line;
use t1578_core::source::expand;

/// Taken by the fast path, and what the whole parse gives.
fn taken(line: &str) {
    let fast = activity_log_line(line.as_bytes()).unwrap_or_else(|| panic!("declined: {line}"));
    assert_eq!(Some(fast), whole(line), "{line}");
}

/// A record of every fixture, as the export writes it, one per line.
fn fixture_records() -> Vec<serde_json::Map<String, Value>> {
    let mut out = Vec::new();
    for f in std::fs::read_dir(events_dir().join("azure")).unwrap() {
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(f.unwrap().path()).unwrap()).unwrap();
        let mut recs = Vec::new();
        expand(raw, &mut recs);
        out.extend(recs.into_iter().filter_map(|r| r.as_object().cloned()));
    }
    out
}

fn upper_first(k: &str) -> String {
    let mut c = k.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[test]
fn from_line_reads_what_from_activity_log_reads() {
    let records = fixture_records();
    assert!(records.len() > 100, "{}", records.len());
    for rec in records {
        let line = Value::Object(rec.clone()).to_string();
        taken(&line);
        // Its objects as JSON strings, as some exports write them.
        for k in ["identity", "properties"] {
            let mut odd = rec.clone();
            if let Some(v) = odd.get(k).cloned() {
                odd.insert(k.into(), Value::from(v.to_string()));
                taken(&Value::Object(odd).to_string());
            }
        }
        // Keys in other casings, at the top and inside the parts read in part.
        let mut odd = serde_json::Map::new();
        for (k, v) in &rec {
            let mut v = v.clone();
            if let Some(claims) = v.pointer_mut("/claims").and_then(Value::as_object_mut) {
                *claims = claims
                    .iter()
                    .map(|(c, x)| (c.to_uppercase(), x.clone()))
                    .collect();
            }
            let k = if k == "operationName" {
                k.clone()
            } else {
                upper_first(k)
            };
            odd.insert(k, v);
        }
        taken(&Value::Object(odd).to_string());
    }
}

#[test]
fn principals_of_every_kind_are_read_as_from_the_whole_record() {
    let base = json!({"time":"2026-11-01T00:00:00Z","operationName":"MICROSOFT.COMPUTE/SNAPSHOTS/WRITE",
        "resourceId":"/SUBSCRIPTIONS/S1/RESOURCEGROUPS/G/PROVIDERS/MICROSOFT.COMPUTE/SNAPSHOTS/X",
        "resultType":"Success","category":"Administrative","level":"Informational","durationMs":"12",
        "correlationId":"c1","callerIpAddress":"203.0.113.5",
        "identity":{"claims":{},"authorization":{"action":"a","scope":"s",
            "evidence":{"role":"Owner","principalType":"User","principalId":"p1"}}},
        "properties":{"eventCategory":"Administrative","entity":"/subscriptions/s1/x",
            "hierarchy":"t/s1","statusCode":"OK"}});
    let claims = [
        json!({"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn":"a@x","appid":"app-1","ipaddr":"198.51.100.1"}),
        json!({"idtyp":"app","appid":"app-2","http://schemas.microsoft.com/identity/claims/objectidentifier":"oid-2"}),
        json!({"xms_mirid":"/subscriptions/s1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi",
               "http://schemas.microsoft.com/identity/claims/objectidentifier":"oid-3","aud":"x","iss":"y"}),
        json!({"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress":"e@x","name":"E"}),
        json!({}),
    ];
    for c in claims {
        let mut r = base.clone();
        r["identity"]["claims"] = c.clone();
        taken(&r.to_string());
        // The claims as a string inside the identity; the identity's parts at the top.
        r["identity"]["claims"] = Value::from(c.to_string());
        taken(&r.to_string());
        let mut top = base.clone();
        top.as_object_mut().unwrap().remove("identity");
        top["claims"] = c;
        top["authorization"] = base["identity"]["authorization"].clone();
        taken(&top.to_string());
    }
    // A request body with a VM size and a gallery share, at both places the normalizer looks.
    let body = json!({"properties":{"hardwareProfile":{"vmSize":"Standard_ND96"}},
        "operationType":"EnableCommunity","groups":[]})
    .to_string();
    let mut r = base.clone();
    r["properties"]["requestbody"] = Value::from(body.clone());
    taken(&r.to_string());
    let mut r = base.clone();
    r["requestbody"] = Value::from(body);
    taken(&r.to_string());
    // Repeated keys: the last wins, as in `Value`; another casing of a key is read too.
    let text = base.to_string();
    for line in [
        text.replace(
            r#""resultType":"Success""#,
            r#""resultType":"Start","resultType":"Success""#,
        ),
        text.replace(
            r#""resultType":"Success""#,
            r#""resultType":"Success","ResultType":"Failure""#,
        ),
        text.replace(
            r#""principalType":"User""#,
            r#""principalType":"User","PrincipalType":"ServicePrincipal""#,
        ),
        text.replace(r#""time":"2026-11-01T00:00:00Z""#, r#""time":"yesterday""#),
        text.replace(r#""time":"2026-11-01T00:00:00Z""#, r#""time":1793491200"#),
        text.replace(r#""correlationId":"c1""#, r#""correlationId":"c\u0031""#),
        text.replace(
            r#""level":"Informational""#,
            r#""level":{"deep":[1,2.5,null,true,{"x":[]}]}"#,
        ),
        text.replace(
            r#""resourceId":"/SUBSCRIPTIONS/S1/RESOURCEGROUPS/G/PROVIDERS/MICROSOFT.COMPUTE/SNAPSHOTS/X","#,
            "",
        ),
    ] {
        taken(&line);
    }
}

#[test]
fn other_lines_are_left_to_the_whole_parse() {
    let base = json!({"time":"2026-11-01T00:00:00Z","operationName":"MICROSOFT.COMPUTE/DISKS/DELETE",
        "resourceId":"/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/disks/d",
        "resultType":"Success","tenantId":"t","identity":{"claims":{"appid":"a"}}});
    let text = base.to_string();
    taken(&text);
    let declined = [
        // Not JSON, or JSON the whole parse refuses in a field the fast path does not keep.
        text.replace(r#""tenantId":"t""#, r#""tenantId":1e400"#),
        text.replace(r#""tenantId":"t""#, &format!("\"tenantId\":{}{}", "[".repeat(200), "]".repeat(200))),
        text.replace(r#""tenantId":"t""#, r#""tenantId":"\ud800""#),
        text[..text.len() - 1].to_string(),
        format!("{text} x"),
        // Containers and other shapes.
        json!({"records":[base]}).to_string(),
        format!("[{text}]"),
        r#""a string""#.to_string(),
        // The REST shape, a Log Analytics row, a CloudTrail record, an envelope.
        r#"{"eventName":{"value":"EndRequest"},"operationName":{"value":"Microsoft.Compute/disks/delete"},"eventTimestamp":"2026-11-01T00:00:00Z","resourceId":"/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/disks/d","status":{"value":"Succeeded"}}"#.to_string(),
        r#"{"OperationNameValue":"MICROSOFT.COMPUTE/DISKS/DELETE","operationName":"Delete Disk","TimeGenerated":"2026-11-01T00:00:00Z"}"#.to_string(),
        r#"{"eventSource":"ec2.amazonaws.com","operationName":"x","eventTime":"2026-11-01T00:00:00Z"}"#.to_string(),
        json!({"detail-type":"x","detail":base}).to_string(),
        // No operation: not an Activity Log record.
        text.replace(r#""operationName":"MICROSOFT.COMPUTE/DISKS/DELETE","#, ""),
        text.replace(r#""operationName""#, r#""OPERATIONNAME""#),
    ];
    for line in &declined {
        assert!(activity_log_line(line.as_bytes()).is_none(), "{line}");
    }
    let mut bytes = text
        .replace(r#""tenantId":"t""#, "\"tenantId\":\"\u{e9}\"")
        .into_bytes();
    let at = bytes.iter().position(|&b| b == 0xc3).unwrap();
    bytes.remove(at);
    assert!(activity_log_line(&bytes).is_none());
}
