//! EventBridge event patterns generated from the catalog, so the rule that feeds the Lambda
//! and the catalog cannot drift apart. Terraform consumes exactly this output.

use crate::catalog::Catalog;
use crate::event::Cloud;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// EventBridge's limit on one pattern.
pub const MAX_PATTERN_CHARS: usize = 4096;

/// CloudTrail detail types that carry API calls and service events (shared-snapshot copies).
pub const DETAIL_TYPES: [&str; 2] = ["AWS API Call via CloudTrail", "AWS Service Event via CloudTrail"];

fn pattern(service: &str, names: &[&String]) -> Value {
    json!({
        "source": [format!("aws.{service}")],
        "detail-type": DETAIL_TYPES,
        "detail": {
            "eventSource": [format!("{service}.amazonaws.com")],
            "eventName": names,
            "errorCode": [{"exists": false}]
        }
    })
}

/// One pattern per AWS service in the catalog, split further where one would pass
/// [`MAX_PATTERN_CHARS`].
pub fn event_patterns(catalog: &Catalog) -> Vec<Value> {
    let mut by_service: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in catalog.for_cloud(Cloud::Aws) {
        if let Some((svc, name)) = e.operation.split_once(':') {
            by_service
                .entry(svc.to_string())
                .or_default()
                .insert(name.to_string());
        }
    }
    let mut out = Vec::new();
    for (svc, names) in by_service {
        let names: Vec<&String> = names.iter().collect();
        let mut chunk: Vec<&String> = Vec::new();
        for n in names {
            chunk.push(n);
            if pattern(&svc, &chunk).to_string().len() > MAX_PATTERN_CHARS {
                chunk.pop();
                out.push(pattern(&svc, &chunk));
                chunk = vec![n];
            }
        }
        if !chunk.is_empty() {
            out.push(pattern(&svc, &chunk));
        }
    }
    out
}
