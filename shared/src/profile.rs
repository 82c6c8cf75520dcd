//! What a profile is: its name, window, thresholds and built-in rules, the state key, and the
//! few settings types every layer shares. It depends on nothing else in the crate, so the
//! engine, the tuning document, the settings and the window can all use it without cycles.

use serde::{Deserialize, Serialize};

/// Units kept per window (see [`crate::window`]); every count threshold must stay below it.
pub const MAX_UNITS: usize = 200;

/// The two built-in profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProfileName {
    /// Better than the seed (see the crate docs).
    #[serde(rename = "default")]
    Default,
    /// Exactly the seed KQL.
    #[serde(rename = "seed-kql")]
    SeedKql,
}

impl ProfileName {
    /// Name as used on the command line and in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileName::Default => "default",
            ProfileName::SeedKql => "seed-kql",
        }
    }

    /// Parse `default` / `seed-kql`.
    pub fn parse(s: &str) -> Option<ProfileName> {
        match s.trim() {
            "default" => Some(ProfileName::Default),
            "seed-kql" | "seed" => Some(ProfileName::SeedKql),
            _ => None,
        }
    }
}

/// The seed's `where` clause and `AlertReason` cut-offs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// `TotalRiskScore >= risk` alerts (seed: 3).
    pub risk: u32,
    /// `TotalRiskScore >= high_risk` is the high-risk reason (seed: 6).
    pub high_risk: u32,
    /// `OperationCount >= bulk_operations` (seed: 5) ...
    pub bulk_operations: u32,
    /// ... `and UniqueResources >= bulk_resources` (seed: 3).
    pub bulk_resources: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            risk: 3,
            high_risk: 6,
            bulk_operations: 5,
            bulk_resources: 3,
        }
    }
}

/// A scoring profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Which one.
    pub name: ProfileName,
    /// Rolling window length, milliseconds (seed: `ago(1d)`).
    pub window_ms: i64,
    /// Alert cut-offs.
    pub thresholds: Thresholds,
    /// Count calls made by AWS services (`AWSService`, `invokedBy` a service) and Azure
    /// platform identities. Default: no.
    pub count_service_callers: bool,
    /// Unfamiliar source IP rule. The seed has none; its state key holds the IP anyway.
    pub unfamiliar_ip: Option<Unfamiliar>,
    /// Per-principal behaviour baseline. The seed has none: every caller meets the same
    /// thresholds.
    pub baseline: Option<BaselineRule>,
}

impl Profile {
    /// The profile by name with its built-in settings.
    pub fn named(name: ProfileName) -> Profile {
        Profile {
            name,
            window_ms: 24 * 3600 * 1000,
            thresholds: Thresholds::default(),
            count_service_callers: name == ProfileName::SeedKql,
            unfamiliar_ip: (name == ProfileName::Default).then_some(Unfamiliar::DEFAULT),
            baseline: (name == ProfileName::Default).then_some(BaselineRule::DEFAULT),
        }
    }
}

/// The identity of one rolling window in the state store.
///
/// Canonical form is a JSON array of its parts, so no principal name can forge another key by
/// embedding separators; stores use [`StateKey::storage_id`], a fixed-length hex hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StateKey(pub String);

impl StateKey {
    pub(crate) fn from_parts(parts: &[&str]) -> StateKey {
        StateKey(serde_json::to_string(parts).unwrap_or_default())
    }

    /// 64 hex characters of SHA-256: safe as a DynamoDB key, a Table Storage
    /// PartitionKey/RowKey, a file name, and collision-resistant against principal names an
    /// attacker picks (a collision would restart another principal's window).
    pub fn storage_id(&self) -> String {
        use sha2::Digest;
        let d = sha2::Sha256::digest(self.0.as_bytes());
        d.iter().fold(String::with_capacity(64), |mut s, b| {
            use std::fmt::Write;
            let _ = write!(s, "{b:02x}");
            s
        })
    }
}

/// `alert`: send alerts. `shadow`: evaluate, log and count, send nothing (quiet roll-out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Send alerts.
    Alert,
    /// Send nothing.
    Shadow,
}

/// Shortest and longest window accepted.
pub const WINDOW_RANGE_MS: (i64, i64) = (60_000, 30 * 24 * 3600 * 1000);

/// A day (`YYYY-MM-DD`, midnight UTC) or an RFC 3339 time, in epoch milliseconds: how the
/// tuning document and the CLI's flags name a moment.
pub fn parse_day_or_time_ms(s: &str) -> Option<i64> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis());
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Parse a duration such as `24h`, `90m`, `1d`, `3600s` into milliseconds.
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 24h, 90m, 1d"))?;
    let mult = match unit.trim() {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        other => return Err(format!("unknown unit `{other}` (use s, m, h or d)")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("`{s}` is too large"))
}

/// The unfamiliar source IP rule: an address (or its /24, /48 network) that this principal has
/// not used in the last `days_ms` adds `points` to the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unfamiliar {
    /// How far back the principal's addresses are remembered (ms).
    pub days_ms: i64,
    /// Points added to an event from an unfamiliar address.
    pub points: u32,
    /// Compare /24 (IPv4) and /48 (IPv6) networks rather than whole addresses.
    pub by_prefix: bool,
}

impl Unfamiliar {
    /// The built-in rule of the default profile: 30 days, one point, by network.
    pub const DEFAULT: Unfamiliar = Unfamiliar {
        days_ms: 30 * 86_400_000,
        points: 1,
        by_prefix: true,
    };
}

/// The behaviour baseline rule (see [`crate::baseline`] and [`crate::decision`]): how much
/// history a principal needs before the thresholds fire only for what is unusual for it, and
/// how unusual "unusual" is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaselineRule {
    /// Days of history a baseline compares with (the days before the event's day).
    pub days: u32,
    /// A principal first seen fewer days ago than this meets the plain thresholds, and a finding
    /// opened in these first days is held open until they end, for work that is not a critical
    /// (`crate::decision`).
    pub min_history_days: u32,
    /// Volume is unusual above this many percent of the principal's largest day.
    pub volume_percent: u32,
    /// An open finding is updated when its count or risk grows to this many percent of what
    /// it last reported.
    pub escalation_percent: u32,
    /// A share to a destination this principal already shared to inside the baseline period
    /// is evidence, not a single-event critical.
    pub known_destinations: bool,
    /// An export (a download URL for a disk or snapshot, an image or instance export) is a
    /// single-event critical unless the principal made exports of that kind from that account on
    /// at least this many days of the baseline period: a backup product or a scanner that
    /// does it every night. A person needs one day more. 0: every export is critical.
    pub routine_export_days: u32,
    /// An operation new for the principal counts as unusual from this many points up.
    pub new_operation_min_points: u32,
    /// A principal active on fewer days than this in the baseline period has a thin history:
    /// everything it does looks new, so its new operations weigh less and its hours not at all.
    pub settled_days: u32,
    /// Points from which the seed's lowest tier (risk alone) alerts for a principal without
    /// history. One destructive operation (3) is kept as evidence: every rarely seen person
    /// deletes a VM now and then. The other tiers alert as in the seed.
    pub new_principal_risk: u32,
    /// When the detector started seeing the account's events. A principal first seen within
    /// `min_history_days` of it is not known to be new: the detector was blind before, so it is
    /// learning, not new, and only criticals (not another account's copy of a share, nor a
    /// workload's read of data in place), protection changes, a technique's whole shape (stop,
    /// then user data), a person's revert that deletes what it replaced and a mass deletion by
    /// people alert for it. One first seen
    /// later but within `days` of it is not known to be new either ([`Self::unproven`]). Unset,
    /// every principal without history is new (an incident replay of two days).
    pub observed_since: ObservedSince,
}

/// When the detector started seeing an account's events (see [`BaselineRule::observed_since`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ObservedSince {
    /// Not said here: the engine's fallback, else unknown (every principal without history is
    /// new).
    #[default]
    Unset,
    /// A known time (ms): a deployment, or an archive's first day.
    At(i64),
    /// The first event the detector processes for the account, recorded in the state store the
    /// first time and read back after: a deployment that starts learning by itself, account by
    /// account, however late each account is onboarded.
    FirstEvent,
}

impl BaselineRule {
    /// Built into the default profile: 14 days, 3 days of history, 2.5x the largest day, update
    /// at 2x, known share destinations, exports routine after 2 days (3 for a person), new
    /// operations of 2 points or more, settled after 5 active days, new principals' lowest tier
    /// from 4 points.
    pub const DEFAULT: BaselineRule = BaselineRule {
        days: 14,
        min_history_days: 3,
        volume_percent: 250,
        escalation_percent: 200,
        known_destinations: true,
        routine_export_days: 2,
        new_operation_min_points: 2,
        settled_days: 5,
        new_principal_risk: 4,
        observed_since: ObservedSince::Unset,
    };

    /// The baseline period (ms).
    pub fn days_ms(&self) -> i64 {
        i64::from(self.days) * 86_400_000
    }

    /// Whether a principal first seen at `first_seen` (ms) is still being learned: seen within
    /// `min_history_days` of `observed_since` (ms), when the detector started seeing its account.
    pub fn learning(&self, first_seen: Option<i64>, observed_since: Option<i64>) -> bool {
        seen_within(
            first_seen,
            observed_since,
            i64::from(self.min_history_days) * 86_400_000,
        )
    }

    /// Whether a principal first seen at `first_seen` (ms) was first seen before the detector
    /// had watched its account for the baseline period (`days`) since `observed_since` (ms). Such a
    /// principal is not known to be new: it may have been silent all that time, as one back
    /// from a break is.
    pub fn unproven(&self, first_seen: Option<i64>, observed_since: Option<i64>) -> bool {
        seen_within(first_seen, observed_since, self.days_ms())
    }
}

/// Whether `first_seen` falls less than `span` ms after `observed_since`; false when either is
/// unknown.
fn seen_within(first_seen: Option<i64>, observed_since: Option<i64>, span: i64) -> bool {
    match (observed_since, first_seen) {
        (Some(o), Some(f)) => f < o.saturating_add(span),
        _ => false,
    }
}
