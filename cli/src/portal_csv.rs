//! Portal CSV exports of `AzureActivity` (Log Analytics and Sentinel "Export to CSV").
//!
//! The portal writes time columns with a ` [UTC]` suffix and as `4/28/2021, 2:32:14.029 PM`,
//! dynamic columns (`Authorization`, `Claims`, `Properties`) as JSON in quoted text, and, in the
//! legacy column set, the operation only in `Authorization.action` (`OperationName` holding its
//! display name). Each row becomes the Log Analytics row the core's normalizer reads, so a CSV
//! row and the same row as JSON give the same event.

use serde_json::{Map, Value};

/// Why a CSV cannot be read as an activity export.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The header lacks the columns every AzureActivity export has.
    #[error("a CSV but not an AzureActivity export: it needs TimeGenerated and OperationNameValue (or the legacy Authorization); columns: {0}")]
    NotActivity(String),
    /// The CSV itself is broken (unbalanced quotes, not UTF-8).
    #[error("CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// Column names, cleaned, and which of them the portal marked as UTC times.
pub struct Header {
    names: Vec<String>,
    times: Vec<bool>,
}

const UTC_SUFFIX: &str = " [UTC]";

impl Header {
    /// Read and check the header row.
    pub fn new(row: &csv::StringRecord) -> Result<Header, CsvError> {
        let mut names = Vec::new();
        let mut times = Vec::new();
        for raw in row.iter() {
            let n = raw.trim().trim_start_matches('\u{feff}').trim();
            let time = n.ends_with(UTC_SUFFIX);
            let n = n.trim_end_matches(UTC_SUFFIX).trim().to_string();
            times.push(time || n.eq_ignore_ascii_case("TimeGenerated"));
            names.push(n);
        }
        let has = |c: &str| names.iter().any(|n| n.eq_ignore_ascii_case(c));
        if !(has("TimeGenerated") && (has("OperationNameValue") || has("Authorization"))) {
            let list = crate::escape(&names.join(", "), 200);
            return Err(CsvError::NotActivity(list));
        }
        Ok(Header { names, times })
    }

    /// One row as the Log Analytics row it was exported from.
    pub fn row(&self, rec: &csv::StringRecord) -> Value {
        let mut m = Map::new();
        for ((name, &time), v) in self.names.iter().zip(&self.times).zip(rec.iter()) {
            if v.is_empty() {
                continue;
            }
            let v = match time.then(|| portal_time(v)).flatten() {
                Some(t) => t,
                None => v.to_string(),
            };
            m.insert(name.clone(), Value::String(v));
        }
        legacy_columns(&mut m);
        Value::Object(m)
    }
}

/// The legacy column set: the operation only in `Authorization.action`, status and provider
/// under their old names. Filled in as the current columns, which the normalizer reads.
fn legacy_columns(m: &mut Map<String, Value>) {
    let text = |m: &Map<String, Value>, k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
    };
    if text(m, "OperationNameValue").is_none() {
        let action = text(m, "Authorization")
            .and_then(|a| serde_json::from_str::<Value>(&a).ok())
            .and_then(|a| a.get("action").and_then(Value::as_str).map(str::to_string));
        if let Some(a) = action {
            m.insert("OperationNameValue".into(), Value::String(a));
        }
    }
    for (new, old) in [
        ("ActivityStatusValue", "ActivityStatus"),
        ("ActivitySubstatusValue", "ActivitySubstatus"),
        ("ResourceProviderValue", "ResourceProvider"),
    ] {
        if text(m, new).is_none() {
            if let Some(v) = text(m, old) {
                m.insert(new.into(), Value::String(v));
            }
        }
    }
}

/// `4/28/2021, 2:32:14.029 PM` (the portal's UTC display) as RFC 3339.
pub fn portal_time(s: &str) -> Option<String> {
    let s = s.trim();
    ["%m/%d/%Y, %I:%M:%S%.f %p", "%m/%d/%Y, %I:%M:%S %p"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| t.and_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

/// Whether a file whose start is `head` is a CSV: named so, or a first line that is not JSON
/// but has commas.
pub fn looks_like_csv(name: &str, head: &[u8]) -> bool {
    if name.ends_with(".csv") || name.ends_with(".csv.gz") {
        return true;
    }
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    // memchr: a CloudTrail file of the S3 layout is one line, and this runs on every file.
    let first = memchr::memchr(b'\n', head)
        .map_or(head, |i| &head[..i])
        .trim_ascii();
    !first.starts_with(b"{")
        && !first.starts_with(b"[")
        && first.contains(&b',')
        && serde_json::from_slice::<serde::de::IgnoredAny>(first).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portal_times_read_as_utc() {
        assert_eq!(
            portal_time("4/28/2021, 2:32:14.029 PM").as_deref(),
            Some("2021-04-28T14:32:14.029Z")
        );
        assert_eq!(
            portal_time("12/1/2026, 12:05:00 AM").as_deref(),
            Some("2026-12-01T00:05:00.000Z")
        );
        assert_eq!(portal_time("2021-04-28T14:32:14Z"), None);
    }

    #[test]
    fn a_csv_without_activity_columns_is_refused_by_name() {
        let h = csv::StringRecord::from(vec!["Name", "Value"]);
        let e = Header::new(&h).err().unwrap().to_string();
        assert!(
            e.contains("not an AzureActivity export") && e.contains("Name, Value"),
            "{e}"
        );
    }

    #[test]
    fn legacy_rows_take_the_operation_from_authorization() {
        let h = Header::new(&csv::StringRecord::from(vec![
            "TimeGenerated [UTC]",
            "OperationName",
            "Authorization",
            "ActivityStatus",
        ]))
        .unwrap();
        let row = h.row(&csv::StringRecord::from(vec![
            "4/28/2021, 2:32:14.029 PM",
            "Delete Virtual Machine",
            r#"{"action":"Microsoft.Compute/virtualMachines/delete","scope":"/subscriptions/s"}"#,
            "Succeeded",
        ]));
        assert_eq!(row["TimeGenerated"], "2021-04-28T14:32:14.029Z");
        assert_eq!(
            row["OperationNameValue"],
            "Microsoft.Compute/virtualMachines/delete"
        );
        assert_eq!(row["ActivityStatusValue"], "Succeeded");
    }
}
