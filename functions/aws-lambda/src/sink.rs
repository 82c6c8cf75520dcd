//! SNS adapter of [`AlertSink`]: the alert document as the message, a readable subject, and
//! message attributes subscribers can filter on without parsing the body.

use crate::aws_error::{classify, describe, Class};
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;
use t1578_core::ports::{AlertSink, SinkError};
use t1578_core::Alert;

/// SNS subjects are limited to 100 characters.
const SUBJECT_MAX: usize = 100;

/// Publishes alerts to one SNS topic.
#[derive(Debug, Clone)]
pub struct SnsSink {
    client: Client,
    topic_arn: String,
}

impl SnsSink {
    /// A sink for `topic_arn`, with a client built once at cold start.
    pub fn new(client: Client, topic_arn: impl Into<String>) -> SnsSink {
        SnsSink {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

/// The filterable attributes: `(name, value)`, empty values left out (SNS refuses them).
pub fn attributes(alert: &Alert) -> Vec<(&'static str, String)> {
    [
        ("severity", alert.severity_level().as_str().to_string()),
        ("technique", "T1578".to_string()),
        ("account", alert.account().to_string()),
        ("tier", alert.tier().as_str().to_string()),
        // `create` for a new finding, `update` when an open one grew: a subscription filter
        // policy `{"activity": ["create"]}` takes new findings only.
        ("activity", alert.unmapped.finding.activity.clone()),
        ("finding", alert.finding_info.uid.clone()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .collect()
}

impl AlertSink for SnsSink {
    async fn send(&self, alert: &Alert) -> Result<(), SinkError> {
        // SNS refuses messages above 256 KiB: cut the guide in its documented order if needed.
        let (body, cut) = t1578_core::guide::fit(alert, t1578_core::guide::SNS_BODY_BUDGET)
            .map_err(|e| SinkError::Permanent(e.to_string()))?;
        if !cut.is_empty() {
            tracing::warn!(dedup_key = %alert.dedup_key(), ?cut, "alert cut to fit SNS");
        }
        let mut req = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(body)
            .subject(alert.subject(SUBJECT_MAX));
        for (name, value) in attributes(alert) {
            let attr = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| SinkError::Permanent(format!("message attribute {name}: {e}")))?;
            req = req.message_attributes(name, attr);
        }
        req.send().await.map(|_| ()).map_err(|e| match classify(&e) {
            Class::Transient => SinkError::Transient(describe(&e)),
            Class::Permanent => SinkError::Permanent(describe(&e)),
        })
    }
}
