//! CloudWatch Embedded Metric Format: one JSON line per invocation on stdout, which the Lambda
//! log agent turns into metrics with no API call, no client and no added latency.

use serde_json::{json, Value};

/// Namespace of every metric.
pub const NAMESPACE: &str = "T1578/Detector";

/// Counters of one invocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Records received (after unwrapping containers and SQS bodies).
    pub records: usize,
    /// Events in the catalog and counted (scored).
    pub events_in_scope: usize,
    /// Alerts decided (published, or only logged in shadow mode).
    pub alerts: usize,
    /// Records rejected as malformed.
    pub parse_errors: usize,
    /// Conditional writes that lost to a concurrent writer.
    pub store_conflicts: usize,
    /// DynamoDB reads plus conditional writes.
    pub store_requests: usize,
    /// Re-deliveries of events already counted.
    pub duplicates: usize,
    /// State keys that failed (retryable or not).
    pub key_failures: usize,
}

impl Metrics {
    /// The EMF document. `profile` is the one dimension, so a shadow roll-out of another
    /// profile next to the live one stays apart.
    pub fn emf(&self, timestamp_ms: i64, profile: &str) -> Value {
        let names = [
            ("Records", self.records),
            ("EventsInScope", self.events_in_scope),
            ("Alerts", self.alerts),
            ("ParseErrors", self.parse_errors),
            ("StoreConflicts", self.store_conflicts),
            ("StoreRequests", self.store_requests),
            ("Duplicates", self.duplicates),
            ("KeyFailures", self.key_failures),
        ];
        let mut doc = json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Profile"]],
                    "Metrics": names.iter().map(|(n, _)| json!({"Name": n, "Unit": "Count"})).collect::<Vec<_>>(),
                }],
            },
            "Profile": profile,
        });
        for (n, v) in names {
            doc[n] = json!(v);
        }
        doc
    }

    /// Print the EMF line to stdout as one line (stdout is line-buffered, so it does not
    /// interleave with a log line).
    pub fn emit(&self, timestamp_ms: i64, profile: &str) {
        println!("{}", self.emf(timestamp_ms, profile));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_declares_every_metric_it_carries() {
        let m = Metrics {
            events_in_scope: 3,
            alerts: 1,
            parse_errors: 2,
            store_conflicts: 4,
            store_requests: 5,
            ..Default::default()
        };
        let doc = m.emf(1_700_000_000_000, "default");
        let decl = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(decl["Namespace"], NAMESPACE);
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000i64);
        assert_eq!(doc["Profile"], "default");
        // Declared both ways: every metric named in the declaration is set, and every value
        // the document carries (but the declaration and the dimension) is declared.
        let declared: std::collections::BTreeSet<&str> = decl["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        let carried: std::collections::BTreeSet<&str> = doc
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|k| !["_aws", "Profile"].contains(k))
            .collect();
        assert_eq!(declared, carried);
        assert!(declared.len() >= 5, "{declared:?}");
        for name in &declared {
            assert!(doc[name].is_u64(), "{name} declared but not a count");
        }
        assert_eq!(doc["EventsInScope"], 3);
        assert_eq!(doc["Alerts"], 1);
        assert_eq!(doc["ParseErrors"], 2);
        assert_eq!(doc["StoreConflicts"], 4);
        assert_eq!(doc["StoreRequests"], 5);
        assert!(!doc.to_string().contains('\n'));
    }
}
