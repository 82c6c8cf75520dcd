//! The alert document: one JSON shape for SNS, the Logic App and the CLI.

use crate::event::Cloud;
use crate::kql;
use serde::{Deserialize, Serialize};

/// Alert tiers. The first four are the seed's `AlertReason` values, ranked; a higher tier
/// inside the same window alerts again. `Critical` is a single event that alerts on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// `TotalRiskScore >= 3`, nothing more.
    Suspicious,
    /// `OperationCount >= 5 and UniqueResources >= 3`.
    Bulk,
    /// `TotalRiskScore >= 3 and OperationCount >= 5`.
    Elevated,
    /// `TotalRiskScore >= 6`.
    HighRisk,
    /// One event that is enough on its own (share, public, export).
    Critical,
}

impl Tier {
    /// The seed's `AlertReason` string for the four threshold tiers.
    pub fn seed_reason(self) -> &'static str {
        match self {
            Tier::HighRisk => kql::REASON_HIGH_RISK,
            Tier::Elevated => kql::REASON_ELEVATED,
            Tier::Bulk => kql::REASON_BULK,
            Tier::Suspicious | Tier::Critical => kql::REASON_SUSPICIOUS,
        }
    }

    /// Severity label.
    pub fn severity(self) -> Severity {
        match self {
            Tier::Critical => Severity::Critical,
            Tier::HighRisk | Tier::Elevated => Severity::High,
            Tier::Bulk | Tier::Suspicious => Severity::Medium,
        }
    }

    /// Snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Suspicious => "suspicious",
            Tier::Bulk => "bulk",
            Tier::Elevated => "elevated",
            Tier::HighRisk => "high_risk",
            Tier::Critical => "critical",
        }
    }
}

/// Severity of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// ATT&CK mapping of an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attack {
    /// TA0005.
    pub tactic: String,
    /// Defense Evasion.
    pub tactic_name: String,
    /// T1578.
    pub technique: String,
    /// Sub-techniques of the operations in the window.
    pub sub_techniques: Vec<String>,
    /// Other techniques the operations map to.
    pub related: Vec<String>,
}

/// The principal, as the alert reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertPrincipal {
    /// Stable key.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Latest session name.
    pub session: Option<String>,
}

/// One event behind an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertEvidence {
    /// Record id.
    pub event_id: String,
    /// RFC 3339 time.
    pub time: String,
    /// Operation as logged.
    pub operation: String,
    /// Catalog row.
    pub catalog_id: String,
    /// Points.
    pub risk: u32,
}

/// The alert document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Document schema id.
    pub schema: String,
    /// Unique id of this alert.
    pub alert_id: String,
    /// Deterministic: the same decision always has the same key, so a re-delivered alert can be
    /// dropped downstream.
    pub dedup_key: String,
    /// Time of the event that fired it (RFC 3339).
    pub time: String,
    /// Severity.
    pub severity: Severity,
    /// Tier.
    pub tier: Tier,
    /// Seed `AlertReason`, or the critical event's description.
    pub reason: String,
    /// Profile that decided.
    pub profile: String,
    /// Catalog version.
    pub catalog_version: String,
    /// ATT&CK mapping.
    pub attack: Attack,
    /// Cloud.
    pub cloud: Cloud,
    /// AWS account / Azure subscription.
    pub account: String,
    /// Regions / resource groups seen.
    pub scopes: Vec<String>,
    /// Who.
    pub principal: AlertPrincipal,
    /// Source IPs seen in the window (at most 10).
    pub source_ips: Vec<String>,
    /// Latest user agent.
    pub user_agent: Option<String>,
    /// Sum of points in the window.
    pub total_risk: u32,
    /// Units in the window.
    pub operation_count: u32,
    /// Distinct resources in the window.
    pub unique_resources: u32,
    /// Counts are lower bounds: the window held more units than state keeps.
    pub counts_are_lower_bounds: bool,
    /// Distinct operation types.
    pub operation_types: Vec<String>,
    /// First event in the window (RFC 3339).
    pub first_seen: String,
    /// Last event in the window (RFC 3339).
    pub last_seen: String,
    /// Up to 10 resources.
    pub resources: Vec<String>,
    /// Up to 10 events, highest risk first.
    pub evidence: Vec<AlertEvidence>,
    /// The catalog row that triggered a critical alert.
    pub trigger_catalog_id: Option<String>,
}

/// RFC 3339 (UTC, milliseconds) of an epoch-ms time.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

impl Alert {
    /// A subject line for SNS / mail: ASCII-safe, at most `max` characters.
    pub fn subject(&self, max: usize) -> String {
        let raw = format!(
            "[T1578 {}] {} by {} in {}",
            self.severity.as_str(),
            self.tier.as_str(),
            self.principal.name,
            self.account
        );
        let clean: String = raw
            .chars()
            .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' })
            .collect();
        crate::event::clip(&clean, max)
    }
}
