//! Documents to records: recognises every container the detector reads and yields each record
//! with its position, so one bad record is reported by place and the others still flow.
//!
//! Containers: a CloudTrail S3 log file `{"Records":[...]}`, an Event Hub body
//! `{"records":[...]}`, a JSON array of records (or of Event Hub bodies, or of strings holding
//! them, as the Functions host sends a batch), JSON lines (storage exports, CloudTrail lines),
//! and a single record or EventBridge envelope.

use crate::event::ComputeEvent;
use crate::normalize::{normalize, NormalizeError};
use serde_json::Value;

/// Where a record sits in its document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 0-based record index in the document.
    pub index: usize,
    /// 1-based line, for JSON-lines documents.
    pub line: Option<usize>,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}"),
            None => write!(f, "record {}", self.index),
        }
    }
}

/// A document that cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// Zero bytes or only whitespace.
    #[error("empty input")]
    Empty,
    /// Not UTF-8 text.
    #[error("not UTF-8 text (binary input?) at byte {0}")]
    NotText(usize),
    /// Not JSON and not JSON lines.
    #[error("not JSON: {0}")]
    NotJson(String),
}

/// Why one record was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The line is not valid JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// Valid JSON, not a usable record.
    #[error(transparent)]
    Normalize(#[from] NormalizeError),
    /// The input ends inside a record (a cut file): the whole records before it were read.
    #[error("truncated: {0}")]
    Truncated(String),
}

impl RecordError {
    /// Short stable name for counting by kind.
    pub fn kind(&self) -> &'static str {
        match self {
            RecordError::Json(_) => "invalid_json",
            RecordError::Normalize(e) => e.kind(),
            RecordError::Truncated(_) => "truncated",
        }
    }
}

/// Raw records of a document with their positions.
pub type RawRecords = Vec<(Position, Result<Value, RecordError>)>;

/// Normalized records of a document with their positions.
pub type Records = Vec<(Position, Result<ComputeEvent, RecordError>)>;

/// Flatten containers into records, in order.
pub fn expand(v: Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(items) => {
            for it in items {
                expand(it, out);
            }
        }
        Value::String(s) => {
            let t = s.trim_start();
            if t.starts_with('{') || t.starts_with('[') {
                match serde_json::from_str::<Value>(&s) {
                    Ok(inner) => expand(inner, out),
                    Err(_) => out.push(Value::String(s)),
                }
            } else {
                out.push(Value::String(s));
            }
        }
        Value::Object(mut map) => {
            if let Some(events) = subscription_events(&mut map) {
                for e in events {
                    expand(e, out);
                }
                return;
            }
            let wrapper = ["Records", "records"]
                .into_iter()
                .find(|k| map.get(*k).is_some_and(|x| x.is_array() || x.is_string()))
                .or_else(|| lookup_events_key(&map));
            match wrapper.and_then(|k| map.remove(k)) {
                Some(inner) => expand(inner, out),
                None => out.push(Value::Object(map)),
            }
        }
        other => out.push(other),
    }
}

/// `aws cloudtrail lookup-events` output, `{"Events": [{"EventId": ..., "CloudTrailEvent":
/// "<the record as a JSON string>"}, ...]}`, the way to read the last 90 days of management
/// events without a trail: the key holding what to expand instead of the object itself. The
/// container is taken only when it has no record keys of its own; an item by its
/// `CloudTrailEvent` string, which no record has at its top level. The summary fields beside it
/// (`EventName`, `Username`...) repeat the record's: it is read from the string alone.
fn lookup_events_key(map: &serde_json::Map<String, Value>) -> Option<&'static str> {
    if map.get("CloudTrailEvent").is_some_and(Value::is_string) {
        return Some("CloudTrailEvent");
    }
    let own_record = ["eventName", "eventSource", "operationName"]
        .iter()
        .any(|k| map.keys().any(|m| m.eq_ignore_ascii_case(k)));
    (!own_record && map.get("Events").is_some_and(Value::is_array)).then_some("Events")
}

/// A CloudWatch Logs subscription payload (`{"messageType": "DATA_MESSAGE", "logGroup": ...,
/// "logEvents": [{"id", "timestamp", "message"}]}`), as Firehose stores it in S3 for a trail
/// that sends CloudTrail to CloudWatch Logs: the messages, each a record as a JSON string. A
/// `CONTROL_MESSAGE` is the service checking its destination and carries no record. `None`: not
/// such a payload.
fn subscription_events(map: &mut serde_json::Map<String, Value>) -> Option<Vec<Value>> {
    let kind = map.get("messageType")?.as_str()?;
    if !map.get("logEvents").is_some_and(Value::is_array) {
        return None;
    }
    if kind == "CONTROL_MESSAGE" {
        return Some(Vec::new());
    }
    let Some(Value::Array(items)) = map.remove("logEvents") else {
        return None;
    };
    // An event without a message stays whole, to be reported as what it is.
    Some(
        items
            .into_iter()
            .map(|mut it| match it.get_mut("message") {
                Some(m) => m.take(),
                None => it,
            })
            .collect(),
    )
}

/// JSON values written one after another with no separator, as Firehose appends the payloads
/// it delivers into one S3 object. `None` unless there are at least two and they run to the
/// end; a last value cut short is kept as that record's error.
fn concatenated(text: &str) -> Option<RawRecords> {
    let mut values = Vec::new();
    let mut cut = None;
    for v in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        match v {
            Ok(v) => values.push(v),
            Err(e) if e.is_eof() && !values.is_empty() => {
                cut = Some(e.to_string());
                break;
            }
            Err(_) => return None,
        }
    }
    if values.len() + usize::from(cut.is_some()) < 2 {
        return None;
    }
    let mut records = numbered(values);
    if let Some(why) = cut {
        let index = records.len();
        records.push((Position { index, line: None }, Err(RecordError::Truncated(why))));
    }
    Some(records)
}

/// The records of whole JSON values, expanded out of their containers and numbered in order.
fn numbered(values: impl IntoIterator<Item = Value>) -> RawRecords {
    let mut out = Vec::new();
    for v in values {
        expand(v, &mut out);
    }
    out.into_iter()
        .enumerate()
        .map(|(index, v)| (Position { index, line: None }, Ok(v)))
        .collect()
}

/// Split a document into raw records with positions.
pub fn split(bytes: &[u8]) -> Result<RawRecords, DocumentError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| DocumentError::NotText(e.valid_up_to()))?;
    let trimmed = text.trim_start();
    if trimmed.trim_end().is_empty() {
        return Err(DocumentError::Empty);
    }
    if !(trimmed.starts_with('{') || trimmed.starts_with('[') || trimmed.starts_with('"')) {
        return Err(DocumentError::NotJson(
            "does not start with '{', '[' or '\"'".into(),
        ));
    }
    let whole = serde_json::from_str::<Value>(text);
    let whole_err = match whole {
        Err(e) if e.is_eof() => match salvage(text) {
            Some(records) => return Ok(records),
            None => e,
        },
        Ok(v) => return Ok(numbered([v])),
        Err(e) => e,
    };
    // JSON lines: records one per line; a bad line is that record's error. A document that is
    // one truncated JSON value has a single line and fails as a whole.
    let lines: Vec<&str> = text.lines().collect();
    if lines.iter().filter(|l| !l.trim().is_empty()).count() < 2 {
        return concatenated(text).ok_or_else(|| DocumentError::NotJson(whole_err.to_string()));
    }
    let mut out = Vec::new();
    let mut index = 0;
    for (n, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(v) => {
                let mut recs = Vec::new();
                expand(v, &mut recs);
                for r in recs {
                    out.push((
                        Position {
                            index,
                            line: Some(n + 1),
                        },
                        Ok(r),
                    ));
                    index += 1;
                }
            }
            Err(e) => {
                out.push((
                    Position {
                        index,
                        line: Some(n + 1),
                    },
                    Err(RecordError::Json(e.to_string())),
                ));
                index += 1;
            }
        }
    }
    // Not one line parsed: a multi-line document broken as a whole (a truncated
    // pretty-printed file), not JSON lines with a few bad lines.
    if out.iter().all(|(_, r)| r.is_err()) {
        return concatenated(text).ok_or_else(|| DocumentError::NotJson(whole_err.to_string()));
    }
    Ok(out)
}

/// The whole records of a document cut short (a truncated `{"Records":[...]}` file or JSON
/// array), then a [`RecordError::Truncated`] where the cut is. `None` when it is not such a
/// container.
fn salvage(text: &str) -> Option<RawRecords> {
    let b = text.as_bytes();
    let ws = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let first = ws(0);
    let open = if b.get(first) == Some(&b'[') {
        first
    } else {
        // The records key of a CloudTrail file or an Event Hub body, then `:` and `[`.
        let key = ["\"Records\"", "\"records\""]
            .iter()
            .filter_map(|k| memchr::memmem::find(b, k.as_bytes()).map(|i| i + k.len()))
            .min()?;
        let colon = ws(key);
        (b.get(colon) == Some(&b':')).then_some(())?;
        let open = ws(colon + 1);
        (b.get(open) == Some(&b'[')).then_some(open)?
    };
    let mut out: RawRecords = Vec::new();
    let mut i = open + 1;
    loop {
        i = ws(i);
        let mut values = serde_json::Deserializer::from_str(&text[i..]).into_iter::<Value>();
        let Some(Ok(v)) = values.next() else { break };
        i += values.byte_offset();
        let mut recs = Vec::new();
        expand(v, &mut recs);
        for r in recs {
            out.push((
                Position {
                    index: out.len(),
                    line: None,
                },
                Ok(r),
            ));
        }
        i = ws(i);
        if b.get(i) != Some(&b',') {
            break;
        }
        i += 1;
    }
    let index = out.len();
    out.push((
        Position { index, line: None },
        Err(RecordError::Truncated(format!(
            "input ends inside record {index} (at byte {i} of {}); the {index} records before it were read",
            b.len()
        ))),
    ));
    Some(out)
}

/// Split and normalize a document.
pub fn normalize_document(bytes: &[u8]) -> Result<Records, DocumentError> {
    Ok(split(bytes)?
        .into_iter()
        .map(|(p, r)| (p, r.and_then(|v| normalize(v).map_err(RecordError::from))))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_flattened() {
        let doc = br#"{"Records":[{"a":1},{"a":2}]}"#;
        assert_eq!(split(doc).unwrap().len(), 2);
        let hub = br#"["{\"records\":[{\"a\":1},{\"a\":2}]}", {"records":[{"a":3}]}]"#;
        assert_eq!(split(hub).unwrap().len(), 3);
        let lines = b"{\"a\":1}\n\n{\"a\":2}\n{bad\n";
        let recs = split(lines).unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[2].0.line, Some(4));
        assert!(matches!(recs[2].1, Err(RecordError::Json(_))));
    }

    #[test]
    fn unreadable_documents_are_errors() {
        assert_eq!(split(b"  \n").unwrap_err(), DocumentError::Empty);
        assert!(matches!(
            split(&[0xff, 0xfe, 0x00]).unwrap_err(),
            DocumentError::NotText(_)
        ));
        assert!(matches!(split(b"hello").unwrap_err(), DocumentError::NotJson(_)));
        assert!(matches!(
            split(br#"{"a":"#).unwrap_err(),
            DocumentError::NotJson(_)
        ));
    }

    #[test]
    fn a_cut_container_yields_its_whole_records_then_the_truncation() {
        for doc in [
            &br#"{"Records":[{"a":1},{"a":2},{"a":"#[..],
            b"{\n  \"Records\": [\n    {\"a\": 1},\n    {\"a\": 2},\n",
            br#"[{"a":1}, {"a":2}, {"#,
        ] {
            let recs = split(doc).unwrap();
            let ok: Vec<&Value> = recs.iter().filter_map(|(_, r)| r.as_ref().ok()).collect();
            assert_eq!(ok, [&serde_json::json!({"a":1}), &serde_json::json!({"a":2})]);
            let (pos, last) = recs.last().unwrap();
            assert_eq!(pos.index, 2);
            assert_eq!(last.as_ref().unwrap_err().kind(), "truncated");
        }
    }
}
