//! The custom-handler wire format: the host's `{"Data", "Metadata"}` request, our
//! `{"Outputs", "Logs", "ReturnValue"}` answer, and the unwrapping of an Event Hub batch into
//! records, each named by its place so a bad one can be reported and skipped.
//!
//! The host serializes a `string[]` batch as a JSON *text* inside a JSON string; it is read as
//! a plain array as well, because that shape is inferred from the host's source, not observed.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// What the Functions host POSTs to `/<FunctionName>`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvokeRequest {
    /// Trigger and input bindings by name.
    #[serde(default)]
    pub data: Map<String, Value>,
    /// Trigger metadata (partition context, sequence numbers, `RetryContext`...).
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

impl InvokeRequest {
    /// `Metadata.RetryContext.RetryCount`: how many times the host's retry policy re-drove this
    /// batch (values may arrive as JSON text, like every binding value).
    pub fn retry_count(&self) -> Option<u64> {
        self.retry_field("RetryCount")
    }

    /// `Metadata.RetryContext.MaxRetryCount`: the policy's budget.
    pub fn max_retry_count(&self) -> Option<u64> {
        self.retry_field("MaxRetryCount")
    }

    fn retry_field(&self, name: &str) -> Option<u64> {
        let ctx = unstring(self.metadata.get("RetryContext")?.clone());
        unstring(ctx.get(name)?.clone()).as_u64()
    }
}

/// What the handler answers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct InvokeResponse {
    /// Output bindings: none.
    pub outputs: Map<String, Value>,
    /// Lines the host adds to the invocation log (Application Insights).
    pub logs: Vec<String>,
    /// `$return` binding: none.
    pub return_value: Option<Value>,
}

/// Where a record sat in the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Place {
    /// 0-based Event Hub event in the batch.
    pub event: usize,
    /// 0-based record inside the event's `records`.
    pub record: usize,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "event {} record {}", self.event, self.record)
    }
}

/// A record that cannot be used, and what it was (kept so it can be parked as it came).
#[derive(Debug, Clone, PartialEq)]
pub struct Unusable {
    /// The kind of reason, for counting (`invalid_json`, `not_an_object`).
    pub kind: &'static str,
    /// Why.
    pub reason: String,
    /// The event body or record as received.
    pub raw: Value,
}

/// A record, or why the event or record holding it is unusable.
pub type Item = (Place, Result<Value, Unusable>);

fn unstring(v: Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        other => other,
    }
}

/// Split a batch binding value into records. Never fails: anything unreadable becomes an
/// `Err` item with its place, so the rest of the batch still flows.
pub fn records(binding: Value) -> Vec<Item> {
    let events = match binding {
        Value::String(s) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Array(a)) => a,
            Ok(other) => vec![other],
            // Not JSON at all: one opaque event (cardinality `one` with a non-JSON body).
            Err(_) => vec![Value::String(s)],
        },
        Value::Array(a) => a,
        Value::Null => Vec::new(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for (event, body) in events.into_iter().enumerate() {
        let body = match body {
            Value::String(s) => match serde_json::from_str::<Value>(&s) {
                Ok(v) => v,
                Err(e) => {
                    out.push((
                        Place { event, record: 0 },
                        Err(Unusable {
                            kind: "invalid_json",
                            reason: format!("event body is not JSON: {e}"),
                            raw: Value::String(s),
                        }),
                    ));
                    continue;
                }
            },
            other => other,
        };
        let mut recs = Vec::new();
        t1578_core::source::expand(body, &mut recs);
        for (record, r) in recs.into_iter().enumerate() {
            let place = Place { event, record };
            let (kind, reason) = match r {
                Value::Object(_) => {
                    out.push((place, Ok(r)));
                    continue;
                }
                Value::String(_) => ("invalid_json", "record is a string that is not JSON"),
                _ => ("not_an_object", "record is not a JSON object"),
            };
            out.push((
                place,
                Err(Unusable {
                    kind,
                    reason: reason.into(),
                    raw: r,
                }),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_batch_shapes_give_the_same_records() {
        let bodies = vec![
            r#"{"records":[{"a":1},{"a":2}]}"#.to_string(),
            r#"{"records":[{"a":3}]}"#.to_string(),
        ];
        let as_text = Value::String(serde_json::to_string(&bodies).unwrap());
        let as_array = json!(bodies);
        let a = records(as_text);
        let b = records(as_array);
        assert_eq!(a, b);
        assert_eq!(a.len(), 3);
        assert_eq!(a[2].0, Place { event: 1, record: 0 });
        let objects = records(json!([{"records":[{"a":1}]}]));
        assert_eq!(objects.len(), 1);
    }

    #[test]
    fn bad_events_and_records_are_named_not_fatal() {
        let batch = json!(["{not json", r#"{"records":[7,{"a":1},"plain"]}"#]);
        let items = records(batch);
        assert_eq!(items.len(), 4);
        assert!(items[0].1.as_ref().unwrap_err().reason.contains("not JSON"));
        assert_eq!(items[0].1.as_ref().unwrap_err().raw, json!("{not json"));
        assert_eq!(items[1].0.to_string(), "event 1 record 0");
        assert!(items[1].1.is_err() && items[2].1.is_ok() && items[3].1.is_err());
    }

    #[test]
    fn retry_count_reads_text_or_numbers() {
        let r: InvokeRequest =
            serde_json::from_value(json!({"Data":{},"Metadata":{"RetryContext":"{\"RetryCount\":2}"}}))
                .unwrap();
        assert_eq!(r.retry_count(), Some(2));
        let r: InvokeRequest =
            serde_json::from_value(json!({"Data":{},"Metadata":{"RetryContext":{"RetryCount":1}}})).unwrap();
        assert_eq!(r.retry_count(), Some(1));
    }
}
