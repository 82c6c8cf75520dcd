//! Normalization at the edge: every input shape becomes a [`ComputeEvent`] here, once.
//!
//! A record is recognised by its keys, not by where it came from, so the same code reads a
//! CloudTrail record from an S3 log file, an EventBridge envelope, an Activity Log record from
//! Event Hub or a storage export, and a Log Analytics `AzureActivity` row.
//!
//! A JSON line holding one bare CloudTrail or Activity Log record may instead be parsed into
//! only the fields its normalizer reads ([`cloudtrail_line`], [`activity_log_line`], over
//! `project`): the same event, without building and dropping the fields nobody reads.

mod azure;
mod cloudtrail;
mod node;
mod project;

pub(crate) use azure::phase_of;

use crate::event::ComputeEvent;
use crate::json;
use serde_json::Value;
use xxhash_rust::xxh3::Xxh3;

/// Why one record could not be normalized. The rest of the batch is unaffected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    /// The record is not a JSON object.
    #[error("record is not a JSON object")]
    NotAnObject,
    /// A required field is absent or empty.
    #[error("missing field `{0}`")]
    Missing(&'static str),
    /// A field is present but unusable.
    #[error("field `{field}` is invalid: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// Neither a CloudTrail record nor an Activity Log record.
    #[error("unrecognized record: no eventName/eventSource (CloudTrail) nor operationName (Activity Log)")]
    UnknownShape,
}

impl NormalizeError {
    /// Short stable name for counting errors by kind.
    pub fn kind(&self) -> &'static str {
        match self {
            NormalizeError::NotAnObject => "not_an_object",
            NormalizeError::Missing(_) => "missing_field",
            NormalizeError::Invalid { .. } => "invalid_field",
            NormalizeError::UnknownShape => "unknown_shape",
        }
    }
}

/// Normalize one record of any supported shape.
pub fn normalize(mut v: Value) -> Result<ComputeEvent, NormalizeError> {
    if !v.is_object() {
        return Err(NormalizeError::NotAnObject);
    }
    if json::get(&v, "detail-type").is_some()
        || (json::get(&v, "detail").is_some() && json::get(&v, "source").is_some())
    {
        return cloudtrail::from_envelope(v);
    }
    // The Activity Log's REST shape (`az monitor activity-log list`, `Get-AzActivityLog`) has an
    // `eventName` too, but an object (`{"value": "EndRequest", ...}`) beside `operationName`;
    // CloudTrail's is a string, and CloudTrail has no `operationName`.
    let event_name = json::get(&v, "eventName");
    let rest_activity_log =
        event_name.is_some_and(Value::is_object) && json::get(&v, "operationName").is_some();
    if !rest_activity_log && (event_name.is_some() || json::get(&v, "eventSource").is_some()) {
        return cloudtrail::from_record(&mut v, None);
    }
    if json::get(&v, "OperationNameValue").is_some() {
        return azure::from_log_analytics(&mut v);
    }
    if json::get(&v, "operationName").is_some() {
        return azure::from_activity_log(&mut v);
    }
    Err(NormalizeError::UnknownShape)
}

/// Fast path for one JSON line holding a bare CloudTrail record: parses only the fields the
/// normalizer reads. `None` when the line is anything else: parse it whole then, as before.
/// `Some` is exactly what [`normalize`] gives for the whole record.
pub fn cloudtrail_line(line: &[u8]) -> Option<Result<ComputeEvent, NormalizeError>> {
    cloudtrail::from_line(line)
}

/// Fast path for one JSON line holding an Activity Log record (export or Event Hub shape):
/// parses only the fields the normalizer reads. `None` when the line is anything else.
/// `Some` is exactly what [`normalize`] gives for the whole record.
pub fn activity_log_line(line: &[u8]) -> Option<Result<ComputeEvent, NormalizeError>> {
    azure::from_line(line)
}

/// The time a record's time field holding the string `text` gives, exactly as the normalizers
/// read it; `None` when that would be an error (the full path reports it). For the prefilter's
/// time window, which must never disagree with what normalizing the record gives.
pub fn time_of_text(text: &str) -> Option<i64> {
    parse_time(&Value::String(text.to_owned()), "time").ok()
}

/// Latest time the detector represents: 9999-12-31T23:59:59.999Z (RFC 3339 has four-digit
/// years), in epoch milliseconds.
pub const MAX_TIME_MS: i64 = 253_402_300_799_999;

/// Parse a time: RFC 3339 (or without its zone, as UTC), the Java SDK's `Jun 30, 2027, 2:41:00
/// PM` (UTC) that CloudTrail writes in some responses, or an epoch number (seconds, or
/// milliseconds when large).
/// Times before 1970 or after 9999 are errors naming the field: an event cannot predate the
/// logs, and an extreme number must not become a 1970 alert or overflow.
pub(crate) fn parse_time<J: json::Json>(v: &J, field: &'static str) -> Result<i64, NormalizeError> {
    let ms = parse_time_unchecked(v, field)?;
    if (0..=MAX_TIME_MS).contains(&ms) {
        Ok(ms)
    } else {
        Err(NormalizeError::Invalid {
            field,
            reason: "time outside 1970-01-01..9999-12-31".into(),
        })
    }
}

fn parse_time_unchecked<J: json::Json>(v: &J, field: &'static str) -> Result<i64, NormalizeError> {
    if let Some(n) = json::int(v).filter(|_| !v.as_str().is_some_and(|s| s.contains('-'))) {
        // Seconds unless too large to be seconds before the year 5138. `unsigned_abs` cannot
        // overflow on i64::MIN (`abs` does), and the product is bounded by that test.
        return Ok(if n.unsigned_abs() < 100_000_000_000 {
            n * 1000
        } else {
            n
        });
    }
    let s = v.as_str().ok_or(NormalizeError::Invalid {
        field,
        reason: "not a time".into(),
    })?;
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    // Log Analytics exports sometimes drop the zone: read it as UTC. CloudTrail writes some
    // services' response times as the Java SDK prints them (`Jun 30, 2027, 2:41:00 PM`), in UTC.
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%b %d, %Y, %I:%M:%S %p",
        "%b %d, %Y %I:%M:%S %p",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    Err(NormalizeError::Invalid {
        field,
        reason: format!("not a time (RFC 3339 or epoch): {:?}", crate::event::clip(s, 64)),
    })
}

#[cfg(test)]
mod time_tests {
    use super::*;

    #[test]
    fn times_outside_the_range_are_errors_naming_the_field() {
        for v in [
            serde_json::json!(i64::MIN),
            serde_json::json!(i64::MAX),
            serde_json::json!(-1),
            serde_json::json!("-9223372036854775808"),
            serde_json::json!("0001-01-01T00:00:00Z"),
            serde_json::json!(u64::MAX),
        ] {
            let e = parse_time(&v, "eventTime").unwrap_err();
            assert!(e.to_string().contains("`eventTime`"), "{v}: {e}");
        }
        assert_eq!(
            parse_time(&serde_json::json!(1_700_000_000), "t").unwrap(),
            1_700_000_000_000
        );
        assert_eq!(
            parse_time(&serde_json::json!(MAX_TIME_MS), "t").unwrap(),
            MAX_TIME_MS
        );
        assert_eq!(
            parse_time(&serde_json::json!("9999-12-31T23:59:59.999Z"), "t").unwrap(),
            MAX_TIME_MS
        );
    }
}

/// Stable 64-bit hash as hex of the parts, each followed by U+001F, for synthetic ids.
/// The parts go to the hasher as they are rather than joined first: an Azure record with a
/// correlation id is hashed for its operation key, and again for its id when it has no event
/// id, so the joined string would be built up to twice per record.
pub(crate) fn hash_hex(parts: &[&str]) -> String {
    let mut h = Xxh3::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(b"\x1f");
    }
    format!("{:016x}", h.digest())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn synthetic_ids_hash_the_parts_each_ended_by_a_unit_separator() {
        // Stored ids and dedup keys are derived from these: the value must never change.
        assert_eq!(
            hash_hex(&["corr", "microsoft.compute/snapshots/write", ""]),
            format!(
                "{:016x}",
                xxhash_rust::xxh3::xxh3_64(b"corr\x1fmicrosoft.compute/snapshots/write\x1f\x1f")
            )
        );
        assert_eq!(hash_hex(&[]), format!("{:016x}", xxhash_rust::xxh3::xxh3_64(b"")));
        assert_ne!(hash_hex(&["ab", "c"]), hash_hex(&["a", "bc"]));
    }

    #[test]
    fn times_parse_in_every_spelling() {
        let want = 1_722_515_282_000;
        for v in [
            json!("2024-08-01T12:28:02Z"),
            json!("2024-08-01T12:28:02.000+00:00"),
            json!(1_722_515_282),
            json!("1722515282"),
            json!(want),
            json!("2024-08-01 12:28:02"),
            json!("Aug 1, 2024, 12:28:02 PM"),
            json!("Aug 1, 2024 12:28:02 PM"),
        ] {
            assert_eq!(parse_time(&v, "t").unwrap(), want, "{v}");
        }
        // The Java SDK's twelve-hour clock: 12 AM is midnight, 2 PM is 14:00.
        let midnight = parse_time(&json!("Aug 1, 2024, 12:28:02 AM"), "t").unwrap();
        assert_eq!(midnight, want - 12 * 3_600_000);
        let two = parse_time(&json!("Aug 1, 2024, 2:28:02 PM"), "t").unwrap();
        assert_eq!(two, want + 2 * 3_600_000);
        assert!(parse_time(&json!("yesterday"), "t").is_err());
        assert!(parse_time(&json!({"a": 1}), "t").is_err());
    }

    #[test]
    fn unknown_shapes_are_typed_errors() {
        assert_eq!(normalize(json!([1])).unwrap_err(), NormalizeError::NotAnObject);
        assert_eq!(
            normalize(json!({"foo": 1})).unwrap_err(),
            NormalizeError::UnknownShape
        );
    }
}
