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
}

impl RecordError {
    /// Short stable name for counting by kind.
    pub fn kind(&self) -> &'static str {
        match self {
            RecordError::Json(_) => "invalid_json",
            RecordError::Normalize(e) => e.kind(),
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
            let wrapper = ["Records", "records"]
                .into_iter()
                .find(|k| map.get(*k).is_some_and(|x| x.is_array() || x.is_string()));
            match wrapper.and_then(|k| map.remove(k)) {
                Some(inner) => expand(inner, out),
                None => out.push(Value::Object(map)),
            }
        }
        other => out.push(other),
    }
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
        Ok(v) => {
            let mut out = Vec::new();
            expand(v, &mut out);
            return Ok(out
                .into_iter()
                .enumerate()
                .map(|(index, v)| (Position { index, line: None }, Ok(v)))
                .collect());
        }
        Err(e) => e,
    };
    // JSON lines: records one per line; a bad line is that record's error. A document that is
    // one truncated JSON value has a single line and fails as a whole.
    let lines: Vec<&str> = text.lines().collect();
    if lines.iter().filter(|l| !l.trim().is_empty()).count() < 2 {
        return Err(DocumentError::NotJson(whole_err.to_string()));
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
        return Err(DocumentError::NotJson(whole_err.to_string()));
    }
    Ok(out)
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
        assert!(matches!(
            split(br#"{"Records":[{"a":1},"#).unwrap_err(),
            DocumentError::NotJson(_)
        ));
        assert!(matches!(split(b"hello").unwrap_err(), DocumentError::NotJson(_)));
        assert!(matches!(
            split(b"{\n  \"Records\": [\n    {\"a\": 1},\n").unwrap_err(),
            DocumentError::NotJson(_)
        ));
    }
}
