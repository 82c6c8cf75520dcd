//! The alert document: one JSON shape for SNS, the Logic App and the CLI.

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

    /// OCSF `severity_id` and its caption.
    pub fn ocsf(self) -> (u8, &'static str) {
        match self {
            Severity::Medium => (3, "Medium"),
            Severity::High => (4, "High"),
            Severity::Critical => (5, "Critical"),
        }
    }
}

/// OCSF version the document follows.
pub const OCSF_VERSION: &str = "1.4.0";

/// ATT&CK release the names below come from.
pub const ATTACK_VERSION: &str = "18";

/// ATT&CK name of T1578 and its sub-techniques.
pub fn technique_name(id: &str) -> &'static str {
    match id {
        "T1578.001" => "Create Snapshot",
        "T1578.002" => "Create Cloud Instance",
        "T1578.003" => "Delete Cloud Instance",
        "T1578.004" => "Revert Cloud Instance",
        "T1578.005" => "Modify Cloud Compute Configurations",
        _ => "Modify Cloud Compute Infrastructure",
    }
}

/// OCSF `metadata.product`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// `t1578`.
    pub name: String,
    /// Who ships it.
    pub vendor_name: String,
    /// Detector version.
    pub version: String,
}

/// OCSF `metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// OCSF schema version.
    pub version: String,
    /// Unique id of this emission of the finding.
    pub uid: String,
    /// The deterministic dedup key: equal for the same decision, whatever the delivery.
    pub correlation_uid: String,
    /// Producer.
    pub product: Product,
    /// OCSF profiles used (`cloud`, `datetime`).
    pub profiles: Vec<String>,
}

/// An OCSF `{uid, name}` pair (tactic, technique, sub-technique).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    /// ATT&CK id.
    pub uid: String,
    /// ATT&CK name.
    pub name: String,
}

/// OCSF `attack`: one ATT&CK mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttackMapping {
    /// TA0005 Defense Evasion.
    pub tactic: Named,
    /// T1578.
    pub technique: Named,
    /// T1578.00x, when the operations map to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_technique: Option<Named>,
    /// ATT&CK version of the names.
    pub version: String,
}

/// OCSF `analytic`: the rule that decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Analytic {
    /// `t1578/<profile>`.
    pub uid: String,
    /// Readable name.
    pub name: String,
    /// 1 = Rule.
    pub type_id: u8,
    /// `Rule`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Catalog version.
    pub version: String,
}

/// OCSF `related_event`: one event behind the finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelatedEvent {
    /// Record id (CloudTrail `eventID`, Activity Log `eventDataId`).
    pub uid: String,
    /// Operation as logged.
    #[serde(rename = "type")]
    pub kind: String,
    /// Catalog row.
    pub product_uid: String,
    /// Event time (epoch ms).
    pub created_time: i64,
    /// Event time (RFC 3339).
    pub created_time_dt: String,
}

/// OCSF `finding_info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingInfo {
    /// The finding: the dedup key, so a re-delivered alert updates rather than duplicates.
    pub uid: String,
    /// One line for a queue.
    pub title: String,
    /// The seed's `AlertReason`, or the critical event's description.
    pub desc: String,
    /// The tier (`suspicious`, `bulk`, `elevated`, `high_risk`, `critical`).
    pub types: Vec<String>,
    /// First event in the window (epoch ms).
    pub first_seen_time: i64,
    /// First event (RFC 3339).
    pub first_seen_time_dt: String,
    /// Last event in the window (epoch ms).
    pub last_seen_time: i64,
    /// Last event (RFC 3339).
    pub last_seen_time_dt: String,
    /// Operations in the window.
    pub related_events_count: u32,
    /// ATT&CK mappings: one per sub-technique, or the technique alone.
    pub attacks: Vec<AttackMapping>,
    /// The rule.
    pub analytic: Analytic,
    /// Up to 10 events, highest risk first.
    pub related_events: Vec<RelatedEvent>,
}

/// OCSF `account`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudAccount {
    /// Account id / subscription id.
    pub uid: String,
    /// `AWS Account` or `Azure Subscription`.
    #[serde(rename = "type")]
    pub kind: String,
    /// OCSF account type id: 10 AWS Account, 13 Azure Subscription.
    pub type_id: u8,
}

/// OCSF `cloud`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudInfo {
    /// `AWS` or `Azure`.
    pub provider: String,
    /// Account or subscription.
    pub account: CloudAccount,
    /// Most recent region (AWS) or resource group (Azure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// OCSF `user`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Stable principal key (role ARN for assumed roles, `upn:`/`app:`... for Azure).
    pub uid: String,
    /// Display name.
    pub name: String,
    /// Principal kind (`user`, `role`, `root`, `service_principal`...).
    #[serde(rename = "type")]
    pub kind: String,
    /// OCSF user type: 1 User, 2 Admin, 3 System, 99 Other.
    pub type_id: u8,
}

/// OCSF `session`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Session name of the assumed role (it rotates; context only).
    pub uid: String,
}

/// OCSF `actor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Who.
    pub user: User,
    /// Latest session, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<Session>,
}

/// OCSF `resource_details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRef {
    /// Resource id (instance, snapshot, ARM id...).
    pub uid: String,
}

/// OCSF `api` of an evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Api {
    /// Operation as logged.
    pub operation: String,
    /// `{uid}` of the request: the record id.
    pub request: Request,
}

/// OCSF `request`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Record id.
    pub uid: String,
}

/// OCSF `network_endpoint`: an address, or a name when the log gives a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// IP address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Host name (AWS logs service DNS names in `sourceIPAddress`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

impl Endpoint {
    /// An address when the value parses as one, a host name otherwise.
    pub fn of(value: &str) -> Endpoint {
        if value.parse::<std::net::IpAddr>().is_ok() {
            Endpoint {
                ip: Some(value.to_string()),
                hostname: None,
            }
        } else {
            Endpoint {
                ip: None,
                hostname: Some(value.to_string()),
            }
        }
    }
}

/// What t1578 adds to an evidence: scoring and tuning of that one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceData {
    /// Catalog row.
    pub catalog_id: String,
    /// Points the event added (tuning included).
    pub risk: u32,
    /// Event time (RFC 3339).
    pub time_dt: String,
    /// Tuning that changed its points: `iac_in_change_window`, `outside_change_window`,
    /// `unfamiliar_ip`.
    pub tuning: Vec<String>,
}

/// OCSF `evidences[]`: one event behind the finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceArtifact {
    /// The call.
    pub api: Api,
    /// Where it came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_endpoint: Option<Endpoint>,
    /// Scoring of this event.
    pub data: EvidenceData,
}

/// A source address of the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceIp {
    /// As logged.
    pub ip: String,
    /// Not used by the principal in the configured memory (unfamiliar-IP rule).
    pub unfamiliar: bool,
}

/// An allowlist entry that names the principal but did not apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowlistNote {
    /// The glob.
    pub principal: String,
    /// Its reason.
    pub reason: String,
    /// `expired` or `other_account`.
    pub status: String,
}

/// What tuning did to this finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TuningApplied {
    /// Where the tuning document came from (empty: none).
    pub config: String,
    /// The firing event against the account's change windows: `inside`, `outside` or `none`
    /// (no windows declared).
    pub change_window: String,
    /// Operations in the window whose points an IaC user agent inside a change window lowered.
    pub iac_in_window_operations: u32,
    /// Operations in the window outside every change window.
    pub outside_window_operations: u32,
    /// Operations in the window from an unfamiliar address.
    pub unfamiliar_ip_operations: u32,
    /// Allowlist entries that name this principal but did not apply.
    pub allowlist: Vec<AllowlistNote>,
}

/// The detector's own fields (OCSF `unmapped`): the seed's summarize columns and the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Tier.
    pub tier: Tier,
    /// Profile that decided.
    pub profile: String,
    /// Catalog version.
    pub catalog_version: String,
    /// Operations (units) in the window.
    pub operation_count: u32,
    /// Distinct resources in the window.
    pub unique_resources: u32,
    /// The counts are lower bounds: the window held more units than state keeps.
    pub counts_are_lower_bounds: bool,
    /// Distinct operation types.
    pub operation_types: Vec<String>,
    /// Source addresses in the window, most recent first (at most 10).
    pub source_ips: Vec<SourceIp>,
    /// Regions / resource groups seen, most recent first.
    pub scopes: Vec<String>,
    /// Latest user agent (attacker-controlled; Azure: none).
    pub user_agent: Option<String>,
    /// The catalog row that triggered a critical alert.
    pub trigger_catalog_id: Option<String>,
    /// Other ATT&CK techniques the operations map to.
    pub related_techniques: Vec<String>,
    /// Tuning.
    pub tuning: TuningApplied,
    /// Questions, steps with their commands, and hunting queries ([`crate::guide`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guide: Option<crate::guide::Guide>,
    /// Create or update of the finding.
    pub finding: FindingView,
    /// The principal against its own baseline (default profile; `null` in `seed-kql`).
    pub baseline: Option<BaselineView>,
}

/// Where this report stands in its finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingView {
    /// `create` or `update`.
    pub activity: String,
    /// Reports of this finding so far, this one included.
    pub count: u32,
    /// For an update: what changed since the last report.
    pub updated_because: Vec<String>,
}

/// The principal judged against its own history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineView {
    /// Enough history: thresholds fired only for what is unusual for it.
    pub established: bool,
    /// Days of history compared with.
    pub days: u32,
    /// First event of this principal the detector counted.
    pub first_seen_dt: Option<String>,
    /// Days with activity in the baseline period.
    pub active_days: u32,
    /// Sum of the weights of the reasons (a tier needs 2 for an established principal).
    pub unusual_score: u32,
    /// Why, one entry per sign.
    pub reasons: Vec<ReasonView>,
}

/// One reason an activity is unusual, or why plain thresholds applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonView {
    /// `volume`, `new_operation`, `new_network`, `unusual_hour`, `new_scope`,
    /// `outside_change_window`, `new_destination`, `no_history`, `learning`, `short_observation`,
    /// `root_user`, `snapshot_boot` or `snapshot_mount`.
    pub code: String,
    /// In words.
    pub detail: String,
    /// Weight towards the score (0: context).
    pub weight: u32,
}

/// The alert document: an OCSF Detection Finding (class 2004), the same for SNS, the Logic App
/// and the CLI. `schema/alert.schema.json` describes it; tests validate every alert against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// 2004.
    pub class_uid: u32,
    /// `Detection Finding`.
    pub class_name: String,
    /// 2.
    pub category_uid: u32,
    /// `Findings`.
    pub category_name: String,
    /// 1 = Create.
    pub activity_id: u8,
    /// `Create`.
    pub activity_name: String,
    /// 200401.
    pub type_uid: u32,
    /// `Detection Finding: Create`.
    pub type_name: String,
    /// Time of the event that fired it (epoch ms).
    pub time: i64,
    /// The same, RFC 3339.
    pub time_dt: String,
    /// Reports of this finding so far, this one included (1 for a new finding).
    pub count: u32,
    /// OCSF severity id.
    pub severity_id: u8,
    /// OCSF severity caption.
    pub severity: String,
    /// 1 = New.
    pub status_id: u8,
    /// `New`.
    pub status: String,
    /// True: this document asks for attention. False: decided in a shadow-mode account, so
    /// logged (and printed by the CLI) but never sent.
    pub is_alert: bool,
    /// One readable sentence.
    pub message: String,
    /// Total risk in the window.
    pub risk_score: u32,
    /// OCSF risk level id (2 Medium, 3 High, 4 Critical).
    pub risk_level_id: u8,
    /// Its caption.
    pub risk_level: String,
    /// Producer and ids.
    pub metadata: Metadata,
    /// The finding.
    pub finding_info: FindingInfo,
    /// Where.
    pub cloud: CloudInfo,
    /// Who.
    pub actor: Actor,
    /// Up to 10 resources.
    pub resources: Vec<ResourceRef>,
    /// Up to 10 events, highest risk first.
    pub evidences: Vec<EvidenceArtifact>,
    /// What to do: the steps in words and where to read more ([`crate::guide`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<crate::guide::Remediation>,
    /// The detector's own fields.
    pub unmapped: Decision,
}

/// RFC 3339 (UTC, milliseconds) of an epoch-ms time: `2026-11-26T17:03:09.042Z`.
///
/// Written by hand because an alert carries a few dozen of them and a replay builds thousands
/// of alerts; years outside 0..=9999 go through chrono.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_else(|| ms.to_string());
    }
    let mut out = String::with_capacity(24);
    let mut num = |v: i64, width: usize, sep: char| {
        let mut digits = [b'0'; 4];
        let mut v = v;
        for d in digits[..width].iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
        out.extend(digits[..width].iter().map(|&b| b as char));
        out.push(sep);
    };
    num(year, 4, '-');
    num(month, 2, '-');
    num(day, 2, 'T');
    num(sod / 3600, 2, ':');
    num(sod % 3600 / 60, 2, ':');
    num(sod % 60, 2, '.');
    num(ms.rem_euclid(1000), 3, 'Z');
    out
}

impl Alert {
    /// Tier of the decision.
    pub fn tier(&self) -> Tier {
        self.unmapped.tier
    }

    /// Severity of the decision.
    pub fn severity_level(&self) -> Severity {
        self.unmapped.tier.severity()
    }

    /// Is this a new finding (not an update of one already reported)?
    pub fn is_new_finding(&self) -> bool {
        self.activity_id == 1
    }

    /// Deterministic dedup key of this report.
    pub fn dedup_key(&self) -> &str {
        &self.metadata.correlation_uid
    }

    /// Unique id of this alert.
    pub fn alert_id(&self) -> &str {
        &self.metadata.uid
    }

    /// Account or subscription.
    pub fn account(&self) -> &str {
        &self.cloud.account.uid
    }

    /// Principal display name.
    pub fn principal_name(&self) -> &str {
        &self.actor.user.name
    }

    /// A subject line for SNS / mail: ASCII-safe, at most `max` characters.
    pub fn subject(&self, max: usize) -> String {
        let raw = format!(
            "[T1578 {}] {} by {} in {}",
            self.severity_level().as_str(),
            self.tier().as_str(),
            self.principal_name(),
            self.account()
        );
        let clean: String = raw
            .chars()
            .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' })
            .collect();
        crate::event::clip(&clean, max)
    }
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_matches_chrono() {
        let chrono_fmt = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        let mut ms: i64 = -62_135_596_800_000; // 0001-01-01
        let mut step: i64 = 1;
        while ms < 253_402_300_799_999 {
            assert_eq!(rfc3339(ms), chrono_fmt(ms), "{ms}");
            ms += step;
            step = step * 3 + 7919;
        }
        // Every ~day from 1900 to 2100 at a drifting time of day, leap days included.
        for i in 0..73_000i64 {
            let ms = -2_208_988_800_000 + i * 86_400_777;
            assert_eq!(rfc3339(ms), chrono_fmt(ms), "{ms}");
        }
        for ms in [0, -1, 951_782_400_000, 1_709_164_800_123, 253_402_300_799_999] {
            assert_eq!(rfc3339(ms), chrono_fmt(ms), "{ms}");
        }
        assert_eq!(rfc3339(i64::MAX), i64::MAX.to_string());
    }
}
