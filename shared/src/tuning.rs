//! Tuning without recompiling: one TOML document, the same for the CLI, the Lambda and the
//! Azure Function. Read once, validated whole: one error naming the source, the key and the
//! reason, and nothing half-applied.
//!
//! ```toml
//! own_accounts = ["444455556666", "o-abc123def4"]   # the organization's: a share to one is
//!                                 # evidence, not a critical (AWS accounts and organizations,
//!                                 # Azure subscriptions and tenants)
//!
//! [defaults]                      # every account
//! window = "24h"
//! mode = "alert"                  # or "shadow": evaluate and record, send nothing
//! count_service_callers = false   # AWS Backup, DLM, Auto Scaling... (invokedBy / AWSService)
//!                                 # and Azure platform identities (below); an AWS share or
//!                                 # export SSM Automation, Step Functions or EventBridge
//!                                 # Scheduler made for a role or user still counts, and a
//!                                 # CloudFormation stack's calls are its deployer's
//! azure_platform_callers = ["app:262044b1-e2ce-469f-a196-69ab7ada62d3", "oid:microsoft.*",
//!     "mi:/subscriptions/*/resourcegroups/*/providers/microsoft.dataprotection/backupvaults/*"]
//! thresholds = { risk = 3, high_risk = 6, bulk_operations = 5, bulk_resources = 3 }
//! scores = { "aws.ec2.run_instances" = 0 }   # catalog id -> points
//!
//! [[allow]]                       # allowlisted principals
//! principal = "arn:aws:iam::*:role/backup-*" # glob on the stable principal key
//! account = "111122223333"        # optional: only in this account / subscription
//! reason = "AWS Backup service role"
//! expires = "2027-01-31"          # optional: stops applying after this day (UTC, event time)
//!
//! [accounts."111122223333"]       # per account / subscription: overrides the defaults
//! mode = "shadow"
//! thresholds = { risk = 5 }
//!
//! [defaults.unfamiliar_ip]        # built in for the default profile: 30 days, 1 point, /24 /48
//! days = 30                       # 0 turns it off
//! points = 1
//! match = "prefix"                # or "address"
//!
//! [defaults.baseline]             # built in for the default profile
//! days = 14                       # history compared with; 0 turns the baseline off
//! min_history_days = 3            # younger principals meet the seed thresholds (bulk up)
//! volume_factor = 2.5             # unusual above 2.5x the principal's largest day
//! escalation_factor = 2.0         # an open finding is updated when it grows 2x
//! known_destinations = true       # a repeat share to a known destination is not critical
//! routine_export_days = 2         # exports of a kind made on 2 days (a person: 3): not critical
//! new_operation_min_points = 2    # a new operation counts as unusual from 2 points
//! settled_days = 5                # fewer active days: a thin history, novelty weighs less
//! new_principal_risk = 4          # a new principal's risk-only tier alerts from 4 points
//! observed_since = "first"        # or a date: principals seen in the first min_history_days
//!                                 # are learned (unset: every principal without history is new)
//!
//! [accounts."111122223333".change_windows]
//! time_zone = "Europe/Paris"
//! weekly = [{ days = ["sat", "sun"], start = "22:00", end = "04:00" }]
//! open = [{ start = "2026-12-02T20:00", end = "2026-12-02T22:00" }]   # a one-off window
//! closed = [{ start = "2026-12-19", end = "2027-01-03" }]              # a freeze
//! outside_points = 1              # added to each event outside every window
//!
//! [accounts."111122223333".iac]   # only ever applies inside a change window
//! user_agents = ["*terraform*", "*cloudformation*"]
//! risk_percent = 0                # share of the points an IaC event keeps
//! ```
//!
//! Tables (`change_windows`, `iac`, `unfamiliar_ip`) of an account replace the defaults' table
//! as a whole; single values (`mode`, `window`, thresholds, scores) override one by one.
//!
//! Decisions: allowlists key on the stable principal plus account, never on user agents (which
//! callers choose); expiry is judged by event time so a backtest of last month gives what
//! production gave then; an allowlisted event is counted as such, never silently dropped.

use crate::catalog::Catalog;
use crate::own::OwnAccounts;
pub use crate::profile::Unfamiliar;
use crate::profile::{
    parse_day_or_time_ms, parse_duration_ms, BaselineRule, Mode, ObservedSince, Profile, StateKey,
    Thresholds, MAX_UNITS, WINDOW_RANGE_MS,
};
use crate::schedule::{ChangeWindows, Dated, WeeklySlot};
use serde::Deserialize;
use std::collections::BTreeMap;

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {key}: {reason}")]
pub struct TuningError {
    /// File path or setting name the document came from.
    pub source_name: String,
    /// The offending key (dotted path).
    pub key: String,
    /// Why.
    pub reason: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ThresholdsDoc {
    risk: Option<i64>,
    high_risk: Option<i64>,
    bulk_operations: Option<i64>,
    bulk_resources: Option<i64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ScopeDoc {
    window: Option<String>,
    mode: Option<String>,
    count_service_callers: Option<bool>,
    #[serde(default)]
    thresholds: ThresholdsDoc,
    #[serde(default)]
    scores: BTreeMap<String, i64>,
    unfamiliar_ip: Option<UnfamiliarDoc>,
    baseline: Option<BaselineDoc>,
    iac: Option<IacDoc>,
    change_windows: Option<ChangeWindowsDoc>,
    azure_platform_callers: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnfamiliarDoc {
    days: Option<i64>,
    points: Option<i64>,
    #[serde(rename = "match")]
    granularity: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineDoc {
    days: Option<i64>,
    min_history_days: Option<i64>,
    volume_factor: Option<f64>,
    escalation_factor: Option<f64>,
    known_destinations: Option<bool>,
    routine_export_days: Option<i64>,
    new_operation_min_points: Option<i64>,
    settled_days: Option<i64>,
    new_principal_risk: Option<i64>,
    observed_since: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IacDoc {
    user_agents: Option<Vec<String>>,
    risk_percent: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotDoc {
    days: Vec<String>,
    start: String,
    end: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatedDoc {
    start: String,
    end: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeWindowsDoc {
    time_zone: String,
    #[serde(default)]
    weekly: Vec<SlotDoc>,
    #[serde(default)]
    open: Vec<DatedDoc>,
    #[serde(default)]
    closed: Vec<DatedDoc>,
    outside_points: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowDoc {
    principal: String,
    account: Option<String>,
    reason: String,
    expires: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TuningDoc {
    #[serde(default)]
    own_accounts: Vec<String>,
    #[serde(default)]
    defaults: ScopeDoc,
    #[serde(default)]
    allow: Vec<AllowDoc>,
    #[serde(default)]
    accounts: BTreeMap<String, ScopeDoc>,
}

/// One allowlist entry, compiled.
#[derive(Debug, Clone)]
pub struct AllowEntry {
    /// The glob as written.
    pub pattern: String,
    /// Lower-cased pattern.
    glob: Vec<u8>,
    /// Account / subscription it is limited to (lower-case).
    pub account: Option<String>,
    /// Why this principal is trusted.
    pub reason: String,
    /// Last day it applies, as epoch ms of the end of that day (UTC).
    pub expires_ms: Option<i64>,
}

/// Settings for one scope (defaults, or an account with the defaults underneath).
#[derive(Debug, Clone)]
pub struct Scope {
    /// Window length (ms).
    pub window_ms: Option<i64>,
    /// Alert or shadow.
    pub mode: Option<Mode>,
    /// Count AWS service callers.
    pub count_service_callers: Option<bool>,
    /// Threshold overrides.
    pub thresholds: PartialThresholds,
    /// Catalog id -> points.
    pub scores: BTreeMap<String, u32>,
    /// Unfamiliar source IP rule (`Some(None)`: turned off here).
    pub unfamiliar_ip: Option<Option<Unfamiliar>>,
    /// Behaviour baseline (`Some(None)`: turned off here).
    pub baseline: Option<Option<BaselineRule>>,
    /// Infrastructure-as-code user agents.
    pub iac: Option<Iac>,
    /// Change windows.
    pub change_windows: Option<ChangeWindows>,
    /// Azure platform identities (globs on the principal key), replacing the built-in list.
    pub azure_platform_callers: Option<Globs>,
}

/// A list of `*`/`?` globs, matched lower-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Globs {
    /// As written.
    pub patterns: Vec<String>,
    compiled: Vec<Vec<u8>>,
}

impl Globs {
    fn of(patterns: &[&str]) -> Globs {
        Globs::new(patterns.iter().map(|s| s.to_string()).collect())
    }

    fn new(patterns: Vec<String>) -> Globs {
        Globs {
            compiled: patterns
                .iter()
                .map(|g| g.to_ascii_lowercase().into_bytes())
                .collect(),
            patterns,
        }
    }

    /// Does any glob match the whole value (case-insensitive)?
    pub fn matches(&self, value: &str) -> bool {
        // Compared byte by byte in lower case rather than on a lowered copy: every in-scope
        // event's user agent is matched, and the copy was an allocation each.
        self.compiled.iter().any(|g| glob_match(g, value.as_bytes()))
    }
}

/// Azure identities that act for the platform rather than for a person: Azure Backup's
/// first-party application (Backup Management Service), a Backup vault's system-assigned
/// identity (Azure Disk Backup takes and retires disk snapshots with it, through the Disk
/// Snapshot Contributor role the vault is granted on the snapshot resource group; no code of
/// anyone's runs as it, and `xms_mirid` comes from Entra ID's token, not from the caller),
/// callers logged under a resource provider's name (`Microsoft.Insights/autoscaleSettings`
/// scaling a scale set), and five first-party applications that drive the VMs or disks of
/// their own service: Azure Virtual Desktop's (its scaling plans, Start VM on Connect and session host
/// update start, deallocate and replace session hosts; Microsoft's application id, the same in
/// every tenant), Azure Databricks' control plane (it creates and deletes the cluster VMs in
/// a workspace's managed resource group, which a deny assignment closes to everyone else) and
/// Azure VM Image Builder's (it creates the build VM in a template's staging resource group,
/// generalizes and captures it, then deletes it: the image it distributes is written by the
/// template's own user-assigned identity, which stays counted) and Microsoft Defender for
/// Cloud's agentless scanner (Servers Scanner Resource Provider, through the VM scanner operator
/// role Defender grants it: it snapshots each VM's disks, reads the copy through a download URL
/// in the same region and deletes it within minutes, every day, in every subscription with
/// Defender CSPM or Defender for Servers Plan 2), and Azure Site Recovery's (Hyper-V Recovery
/// Manager: it creates a failover's or a test failover's VMs in the target resource group and
/// deletes a test failover's at its clean-up; the failover itself, a revert, is the caller's
/// call and stays counted; the twenty-sixth to twenty-eighth blind probes' DR drills, each a
/// new principal's finding).
/// No one's code runs as these applications; a tenant's own applications and identities that
/// do the same work stay counted.
pub const DEFAULT_AZURE_PLATFORM_CALLERS: &[&str] = &[
    "app:262044b1-e2ce-469f-a196-69ab7ada62d3",
    "mi:/subscriptions/*/resourcegroups/*/providers/microsoft.dataprotection/backupvaults/*",
    "oid:microsoft.*",
    "app:9cdead84-a844-4324-93f2-b2e6bb768d07",
    "app:2ff814a6-3304-4ab8-85cb-cd0e6f879c1d",
    "app:cf32a0cc-373c-47c9-9156-0db11f6a6dfc",
    "app:0c7668b5-3260-4ad0-9f53-34ed54fa19b2",
    "app:b8340c3b-9267-498f-b21a-15d5547fd85e",
];

/// Infrastructure-as-code callers, recognised by user agent. A user agent is chosen by the
/// caller, so this only ever lowers risk inside a declared change window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iac {
    /// User-agent globs.
    pub user_agents: Globs,
    /// Share of an IaC event's points kept inside a window (0..=100).
    pub risk_percent: u32,
}

/// User agents of Terraform / OpenTofu, CloudFormation, CDK and Pulumi, matched lower-case.
pub const DEFAULT_IAC_USER_AGENTS: &[&str] = &[
    "*terraform*",
    "*opentofu*",
    "*cloudformation*",
    "*aws-cdk*",
    "*pulumi*",
];

impl Iac {
    /// The built-in list, discounting IaC events to zero points inside a window.
    pub fn builtin() -> Iac {
        Iac {
            user_agents: Globs::of(DEFAULT_IAC_USER_AGENTS),
            risk_percent: 0,
        }
    }

    /// Does a user agent look like an IaC tool?
    pub fn matches(&self, user_agent: &str) -> bool {
        self.user_agents.matches(user_agent)
    }
}

/// Thresholds where each value may be left to the layer below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartialThresholds {
    /// See [`Thresholds::risk`].
    pub risk: Option<u32>,
    /// See [`Thresholds::high_risk`].
    pub high_risk: Option<u32>,
    /// See [`Thresholds::bulk_operations`].
    pub bulk_operations: Option<u32>,
    /// See [`Thresholds::bulk_resources`].
    pub bulk_resources: Option<u32>,
}

impl PartialThresholds {
    fn over(&self, base: Thresholds) -> Thresholds {
        Thresholds {
            risk: self.risk.unwrap_or(base.risk),
            high_risk: self.high_risk.unwrap_or(base.high_risk),
            bulk_operations: self.bulk_operations.unwrap_or(base.bulk_operations),
            bulk_resources: self.bulk_resources.unwrap_or(base.bulk_resources),
        }
    }
}

/// A validated tuning document.
#[derive(Debug, Clone, Default)]
pub struct Tuning {
    /// Where it came from (for messages).
    pub source_name: String,
    /// Global settings.
    pub defaults: Option<Scope>,
    /// Allowlist.
    pub allow: Vec<AllowEntry>,
    /// Per-account settings (keys lower-case).
    pub accounts: BTreeMap<String, Scope>,
    /// IaC user agents when no scope lists its own.
    pub builtin_iac: Iac,
    /// Azure platform identities when no scope lists its own.
    pub builtin_platform_callers: Globs,
    /// The organization's own accounts, organizations, subscriptions and tenants
    /// ([`crate::own`]): a share to one is evidence, not a critical.
    pub own_accounts: OwnAccounts,
}

impl Default for Globs {
    fn default() -> Self {
        Globs::of(DEFAULT_AZURE_PLATFORM_CALLERS)
    }
}

impl Default for Iac {
    fn default() -> Self {
        Iac::builtin()
    }
}

/// The effective settings for one account.
#[derive(Debug, Clone)]
pub struct Effective<'a> {
    /// Window (ms).
    pub window_ms: i64,
    /// Alert or shadow.
    pub mode: Mode,
    /// Count AWS service callers.
    pub count_service_callers: bool,
    /// Thresholds.
    pub thresholds: Thresholds,
    /// Unfamiliar source IP rule, if on.
    pub unfamiliar_ip: Option<Unfamiliar>,
    /// Behaviour baseline, if on.
    pub baseline: Option<BaselineRule>,
    /// IaC user agents (the configured list or the built-in one).
    pub iac: &'a Iac,
    /// Change windows, if the account declares any.
    pub change_windows: Option<&'a ChangeWindows>,
    /// Azure platform identities (not counted unless `count_service_callers`).
    pub azure_platform_callers: &'a Globs,
}

fn is_account_id(s: &str) -> bool {
    crate::own::is_account_or_subscription(s)
}

impl Tuning {
    /// Parse and validate a tuning document. `source_name` names it in errors.
    pub fn from_toml(text: &str, source_name: &str, catalog: &Catalog) -> Result<Tuning, TuningError> {
        Self::build(text, source_name, catalog).map_err(|(key, reason)| TuningError {
            source_name: source_name.to_string(),
            key,
            reason,
        })
    }

    fn build(text: &str, source_name: &str, catalog: &Catalog) -> Result<Tuning, KeyError> {
        let doc: TuningDoc = toml::from_str(text).map_err(|e| {
            let (key, line) = e
                .span()
                .map(|sp| key_at(text, sp.start))
                .unwrap_or_else(|| ("document".into(), 0));
            (key, format!("line {line}: {}", e.message()))
        })?;
        let defaults = scope("defaults", &doc.defaults, catalog)?;
        let mut accounts = BTreeMap::new();
        for (acct, d) in &doc.accounts {
            if !is_account_id(acct) {
                return Err((format!("accounts.{acct}"), NOT_AN_ACCOUNT.into()));
            }
            accounts.insert(
                acct.to_ascii_lowercase(),
                scope(&format!("accounts.{acct}"), d, catalog)?,
            );
        }
        let allow = (doc.allow.iter().enumerate())
            .map(|(i, a)| allow_entry(&format!("allow[{i}]"), a))
            .collect::<Result<_, _>>()?;
        let own_accounts = OwnAccounts::parse(&doc.own_accounts).map_err(|i| {
            (
                format!("own_accounts[{i}]"),
                "not a 12-digit AWS account id, an AWS organization id (o-...) nor a subscription or tenant GUID".into(),
            )
        })?;
        let t = Tuning {
            own_accounts,
            source_name: source_name.to_string(),
            defaults: Some(defaults),
            allow,
            accounts,
            builtin_iac: Iac::builtin(),
            builtin_platform_callers: Globs::default(),
        };
        t.check_ordered()?;
        Ok(t)
    }

    /// Every scope's layered thresholds must stay ordered: `defaults`, then each account on top.
    fn check_ordered(&self) -> Result<(), KeyError> {
        let scopes = std::iter::once(("", "defaults".to_string())).chain(
            self.accounts
                .keys()
                .map(|k| (k.as_str(), format!("accounts.{k}"))),
        );
        for (acct, prefix) in scopes {
            let e = self.effective(acct, &Profile::named(crate::engine::ProfileName::Default));
            if e.thresholds.high_risk < e.thresholds.risk {
                return Err((
                    format!("{prefix}.thresholds.high_risk"),
                    format!("{} is below risk {}", e.thresholds.high_risk, e.thresholds.risk),
                ));
            }
        }
        Ok(())
    }

    /// The allowlist entry that covers this principal in this account at this time, if any.
    pub fn allowed(&self, principal_key: &str, account: &str, time_ms: i64) -> Option<&AllowEntry> {
        self.allow.iter().find(|a| {
            a.account
                .as_deref()
                .is_none_or(|x| x.eq_ignore_ascii_case(account))
                && a.expires_ms.is_none_or(|e| time_ms <= e)
                && glob_match(&a.glob, principal_key.as_bytes())
        })
    }

    /// Allowlist entries whose glob names this principal but that do not apply to this event
    /// (expired, or for another account): an analyst wants to know the principal was trusted.
    pub fn allow_notes(
        &self,
        principal_key: &str,
        account: &str,
        time_ms: i64,
    ) -> Vec<(&AllowEntry, &'static str)> {
        self.allow
            .iter()
            .filter(|a| glob_match(&a.glob, principal_key.as_bytes()))
            .filter_map(|a| {
                if a.account
                    .as_deref()
                    .is_some_and(|x| !x.eq_ignore_ascii_case(account))
                {
                    Some((a, "other_account"))
                } else if a.expires_ms.is_some_and(|e| time_ms > e) {
                    Some((a, "expired"))
                } else {
                    None
                }
            })
            .collect()
    }

    /// The account's own settings, if it has any.
    fn own(&self, account: &str) -> Option<&Scope> {
        // Called for every event: skip the lookup (and its lower-casing) when no account has
        // settings of its own.
        if self.accounts.is_empty() {
            None
        } else if account.bytes().any(|b| b.is_ascii_uppercase()) {
            self.accounts.get(&account.to_ascii_lowercase())
        } else {
            self.accounts.get(account)
        }
    }

    /// The account's settings, then the defaults: the first that sets a value wins.
    fn layers<'a>(&'a self, account: &str) -> impl Iterator<Item = &'a Scope> {
        self.own(account).into_iter().chain(self.defaults.iter())
    }

    /// Points for a catalog row in an account: account override, then global, then `base`.
    pub fn score(&self, account: &str, catalog_id: &str, base: u32) -> u32 {
        self.layers(account)
            .find_map(|s| s.scores.get(catalog_id).copied())
            .unwrap_or(base)
    }

    /// Effective settings for an account over the profile's.
    pub fn effective(&self, account: &str, profile: &Profile) -> Effective<'_> {
        // Defaults over the profile, then the account's own over those.
        let thresholds = [self.defaults.as_ref(), self.own(account)]
            .into_iter()
            .flatten()
            .fold(profile.thresholds, |t, s| s.thresholds.over(t));
        Effective {
            window_ms: self
                .layers(account)
                .find_map(|s| s.window_ms)
                .unwrap_or(profile.window_ms),
            mode: self.layers(account).find_map(|s| s.mode).unwrap_or(Mode::Alert),
            count_service_callers: self
                .layers(account)
                .find_map(|s| s.count_service_callers)
                .unwrap_or(profile.count_service_callers),
            thresholds,
            unfamiliar_ip: self
                .layers(account)
                .find_map(|s| s.unfamiliar_ip)
                .unwrap_or(profile.unfamiliar_ip),
            baseline: self
                .layers(account)
                .find_map(|s| s.baseline)
                .unwrap_or(profile.baseline),
            iac: self
                .layers(account)
                .find_map(|s| s.iac.as_ref())
                .unwrap_or(&self.builtin_iac),
            change_windows: self.layers(account).find_map(|s| s.change_windows.as_ref()),
            azure_platform_callers: self
                .layers(account)
                .find_map(|s| s.azure_platform_callers.as_ref())
                .unwrap_or(&self.builtin_platform_callers),
        }
    }

    /// The longest time any account's state must be kept after its last event: the window, or
    /// the unfamiliar-address memory when that is longer.
    pub fn retention_ms(&self, profile: &Profile) -> i64 {
        let scopes = self.defaults.iter().chain(self.accounts.values());
        let windows = scopes.clone().filter_map(|s| s.window_ms);
        let memory = scopes
            .filter_map(|s| s.unfamiliar_ip.flatten())
            .chain(profile.unfamiliar_ip)
            .map(|u| u.days_ms);
        let baselines = self
            .defaults
            .iter()
            .chain(self.accounts.values())
            .filter_map(|s| s.baseline.flatten())
            .chain(profile.baseline)
            .map(|b| b.days_ms());
        windows
            .chain(memory)
            .chain(baselines)
            .fold(profile.window_ms, i64::max)
    }
}

/// A configuration error before it names its document: (dotted key, reason).
type KeyError = (String, String);

const NOT_AN_ACCOUNT: &str = "not a 12-digit AWS account id nor a subscription GUID";

/// One scope (`defaults` or `accounts.ID`), every value checked under its dotted `prefix`.
fn scope(prefix: &str, d: &ScopeDoc, catalog: &Catalog) -> Result<Scope, KeyError> {
    let key = |k: &str| format!("{prefix}.{k}");
    Ok(Scope {
        window_ms: d
            .window
            .as_deref()
            .map(|w| window_ms(&key("window"), w))
            .transpose()?,
        mode: d.mode.as_deref().map(|m| mode(&key("mode"), m)).transpose()?,
        count_service_callers: d.count_service_callers,
        thresholds: thresholds(&key("thresholds"), &d.thresholds)?,
        scores: scores(&key("scores"), &d.scores, catalog)?,
        unfamiliar_ip: (d.unfamiliar_ip.as_ref())
            .map(|u| unfamiliar(&key("unfamiliar_ip"), u))
            .transpose()?,
        iac: d.iac.as_ref().map(|i| iac(&key("iac"), i)).transpose()?,
        change_windows: (d.change_windows.as_ref())
            .map(|c| change_windows(&key("change_windows"), c))
            .transpose()?,
        azure_platform_callers: (d.azure_platform_callers.as_ref())
            .map(|list| glob_list(&key("azure_platform_callers"), list))
            .transpose()?,
        baseline: (d.baseline.as_ref())
            .map(|b| baseline_rule(b, &key("baseline")))
            .transpose()?,
    })
}

fn window_ms(key: &str, w: &str) -> Result<i64, KeyError> {
    let ms = parse_duration_ms(w).map_err(|r| (key.to_string(), r))?;
    if !(WINDOW_RANGE_MS.0..=WINDOW_RANGE_MS.1).contains(&ms) {
        return Err((key.to_string(), format!("`{w}` is outside 1m..30d")));
    }
    Ok(ms)
}

fn mode(key: &str, m: &str) -> Result<Mode, KeyError> {
    match m {
        "alert" => Ok(Mode::Alert),
        "shadow" => Ok(Mode::Shadow),
        _ => Err((key.to_string(), format!("`{m}` is not `alert` or `shadow`"))),
    }
}

fn thresholds(prefix: &str, t: &ThresholdsDoc) -> Result<PartialThresholds, KeyError> {
    let limit = |name: &str, v: Option<i64>| match v {
        None => Ok(None),
        Some(x) if x >= 1 && (x as usize) < MAX_UNITS => Ok(Some(x as u32)),
        Some(x) => Err((
            format!("{prefix}.{name}"),
            format!("{x} is outside 1..{}", MAX_UNITS - 1),
        )),
    };
    Ok(PartialThresholds {
        risk: limit("risk", t.risk)?,
        high_risk: limit("high_risk", t.high_risk)?,
        bulk_operations: limit("bulk_operations", t.bulk_operations)?,
        bulk_resources: limit("bulk_resources", t.bulk_resources)?,
    })
}

fn scores(
    prefix: &str,
    given: &BTreeMap<String, i64>,
    catalog: &Catalog,
) -> Result<BTreeMap<String, u32>, KeyError> {
    let mut out = BTreeMap::new();
    for (id, pts) in given {
        let key = format!("{prefix}.{id}");
        if catalog.get(id).is_none() {
            return Err((key, "not a catalog id (see `t1578 catalog`)".into()));
        }
        if !(0..=20).contains(pts) {
            return Err((key, format!("{pts} is outside 0..20")));
        }
        out.insert(id.clone(), *pts as u32);
    }
    Ok(out)
}

/// `days = 0` turns the rule off.
fn unfamiliar(prefix: &str, u: &UnfamiliarDoc) -> Result<Option<Unfamiliar>, KeyError> {
    let key = |k: &str| format!("{prefix}.{k}");
    let days = u.days.unwrap_or(Unfamiliar::DEFAULT.days_ms / 86_400_000);
    if !(0..=90).contains(&days) {
        return Err((
            key("days"),
            format!("{days} is outside 0..90 (0 turns the rule off)"),
        ));
    }
    let points = u.points.unwrap_or(i64::from(Unfamiliar::DEFAULT.points));
    if !(0..=20).contains(&points) {
        return Err((key("points"), format!("{points} is outside 0..20")));
    }
    let by_prefix = match u.granularity.as_deref() {
        None | Some("prefix") => true,
        Some("address") => false,
        Some(m) => {
            return Err((
                key("match"),
                format!("`{m}` is not `prefix` (/24, /48) or `address`"),
            ))
        }
    };
    Ok((days > 0).then_some(Unfamiliar {
        days_ms: days * 86_400_000,
        points: points as u32,
        by_prefix,
    }))
}

fn iac(prefix: &str, i: &IacDoc) -> Result<Iac, KeyError> {
    let pct = i.risk_percent.unwrap_or(0);
    if !(0..=100).contains(&pct) {
        return Err((
            format!("{prefix}.risk_percent"),
            format!("{pct} is outside 0..100"),
        ));
    }
    let user_agents = match &i.user_agents {
        None => Globs::of(DEFAULT_IAC_USER_AGENTS),
        Some(list) => glob_list(&format!("{prefix}.user_agents"), list)?,
    };
    Ok(Iac {
        user_agents,
        risk_percent: pct as u32,
    })
}

fn change_windows(prefix: &str, c: &ChangeWindowsDoc) -> Result<ChangeWindows, KeyError> {
    let key = |k: &str| format!("{prefix}.{k}");
    let pts = c.outside_points.unwrap_or(1);
    if !(0..=20).contains(&pts) {
        return Err((key("outside_points"), format!("{pts} is outside 0..20")));
    }
    let weekly: Vec<WeeklySlot> = (c.weekly.iter())
        .map(|w| WeeklySlot {
            days: w.days.clone(),
            start: w.start.clone(),
            end: w.end.clone(),
        })
        .collect();
    let dated = |l: &[DatedDoc]| -> Vec<Dated> {
        l.iter()
            .map(|x| Dated {
                start: x.start.clone(),
                end: x.end.clone(),
            })
            .collect()
    };
    ChangeWindows::new(
        &c.time_zone,
        &weekly,
        &dated(&c.open),
        &dated(&c.closed),
        pts as u32,
    )
    .map_err(|(k, r)| (key(&k), r))
}

fn glob_list(key: &str, list: &[String]) -> Result<Globs, KeyError> {
    for (j, g) in list.iter().enumerate() {
        check_glob(g).map_err(|r| (format!("{key}[{j}]"), r))?;
    }
    Ok(Globs::new(list.to_vec()))
}

/// One `allow` entry under `key` (`allow[i]`); `expires` is the end of that UTC day.
fn allow_entry(key: &str, a: &AllowDoc) -> Result<AllowEntry, KeyError> {
    check_glob(&a.principal).map_err(|r| (format!("{key}.principal"), r))?;
    if a.reason.trim().is_empty() {
        return Err((
            format!("{key}.reason"),
            "say why this principal is trusted".into(),
        ));
    }
    if let Some(acct) = &a.account {
        if !is_account_id(acct) {
            return Err((format!("{key}.account"), NOT_AN_ACCOUNT.into()));
        }
    }
    let expires_ms = (a.expires.as_deref())
        .map(|d| {
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map(|day| {
                    day.and_hms_milli_opt(23, 59, 59, 999)
                        .unwrap_or_default()
                        .and_utc()
                        .timestamp_millis()
                })
                .map_err(|e| (format!("{key}.expires"), format!("`{d}` is not YYYY-MM-DD: {e}")))
        })
        .transpose()?;
    Ok(AllowEntry {
        pattern: a.principal.clone(),
        glob: a.principal.to_ascii_lowercase().into_bytes(),
        account: a.account.as_ref().map(|s| s.to_ascii_lowercase()),
        reason: a.reason.clone(),
        expires_ms,
    })
}

/// The `baseline` table: every value checked, defaults from [`BaselineRule::DEFAULT`]. `days = 0`
/// turns the baseline off. Errors are (dotted key, reason).
fn baseline_rule(b: &BaselineDoc, prefix: &str) -> Result<Option<BaselineRule>, KeyError> {
    let d = BaselineRule::DEFAULT;
    let key = |k: &str| format!("{prefix}.{k}");
    let int = |k: &str, v: Option<i64>, def: u32, lo: i64, hi: i64| match v {
        None => Ok(def),
        Some(x) if (lo..=hi).contains(&x) => Ok(x as u32),
        Some(x) => Err((key(k), format!("{x} is outside {lo}..{hi}"))),
    };
    let factor = |k: &str, v: Option<f64>, def: u32| match v {
        None => Ok(def),
        Some(x) if x.is_finite() && (1.0..=100.0).contains(&x) => Ok((x * 100.0).round() as u32),
        Some(x) => Err((key(k), format!("{x} is outside 1.0..100.0"))),
    };
    let max_days = i64::from(crate::baseline::MAX_BASELINE_DAYS);
    let days = int("days", b.days, d.days, 0, max_days)?;
    let rule = BaselineRule {
        days,
        min_history_days: int(
            "min_history_days",
            b.min_history_days,
            d.min_history_days.min(days),
            0,
            max_days,
        )?,
        volume_percent: factor("volume_factor", b.volume_factor, d.volume_percent)?,
        escalation_percent: factor("escalation_factor", b.escalation_factor, d.escalation_percent)?,
        known_destinations: b.known_destinations.unwrap_or(d.known_destinations),
        routine_export_days: int(
            "routine_export_days",
            b.routine_export_days,
            d.routine_export_days.min(days),
            0,
            max_days,
        )?,
        new_operation_min_points: int(
            "new_operation_min_points",
            b.new_operation_min_points,
            d.new_operation_min_points,
            0,
            20,
        )?,
        settled_days: int(
            "settled_days",
            b.settled_days,
            d.settled_days.min(days),
            0,
            max_days,
        )?,
        new_principal_risk: int(
            "new_principal_risk",
            b.new_principal_risk,
            d.new_principal_risk,
            0,
            100,
        )?,
        observed_since: match b.observed_since.as_deref() {
            None => ObservedSince::Unset,
            Some(v) => observed_since(v).map_err(|r| (key("observed_since"), r))?,
        },
    };
    for (k, v) in [
        ("min_history_days", rule.min_history_days),
        ("routine_export_days", rule.routine_export_days),
    ] {
        if v > rule.days {
            return Err((key(k), format!("{v} is longer than days ({})", rule.days)));
        }
    }
    Ok((days > 0).then_some(rule))
}

/// `first`, `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time, in years 2000 to 9999.
pub fn observed_since(v: &str) -> Result<ObservedSince, String> {
    if v.trim() == "first" {
        return Ok(ObservedSince::FirstEvent);
    }
    let ms = parse_day_or_time_ms(v.trim())
        .ok_or_else(|| format!("`{v}` is not `first`, YYYY-MM-DD nor an RFC 3339 time"))?;
    // 2000-01-01 to the end of 9999: what event times can be.
    if !(946_684_800_000..253_402_300_800_000).contains(&ms) {
        return Err(format!("`{v}` is outside the years 2000 to 9999"));
    }
    Ok(ObservedSince::At(ms))
}

/// Only `*` and `?` are wildcards; other glob syntax is refused rather than matched literally.
fn check_glob(g: &str) -> Result<(), String> {
    if g.trim().is_empty() {
        return Err("empty pattern".into());
    }
    match g.chars().find(|c| "[]{}\\".contains(*c)) {
        Some(c) => Err(format!(
            "bad glob: `{c}` is not supported (use * for any run of characters, ? for one)"
        )),
        None => Ok(()),
    }
}

/// `*` matches any run of bytes (including `/` and `:`, which ARNs are full of), `?` one byte.
/// Iterative with one backtrack point: linear in practice, no recursion on hostile input. The
/// pattern is lower case already; the text is compared in lower case byte by byte.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t].to_ascii_lowercase()) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// The dotted key (table header + key) and 1-based line at a byte offset of a TOML text, to
/// name what a parse error is about.
fn key_at(text: &str, offset: usize) -> (String, usize) {
    let upto = &text[..offset.min(text.len())];
    let line_no = upto.matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
    let table = upto
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().replace('"', ""))
        .filter(|_| !line.starts_with('['));
    let key = line
        .split('=')
        .next()
        .unwrap_or("")
        .trim()
        .trim_matches('"')
        .to_string();
    let dotted = match (table, key.is_empty()) {
        (Some(t), false) => format!("{t}.{key}"),
        (Some(t), true) => t,
        (None, false) => key,
        (None, true) => line.trim_matches(|c| c == '[' || c == ']').replace('"', ""),
    };
    (dotted, line_no)
}

/// Account a state key belongs to (its fourth part), for per-account settings.
pub fn account_of(key: &StateKey) -> Option<String> {
    serde_json::from_str::<Vec<String>>(&key.0)
        .ok()
        .and_then(|p| p.get(3).cloned())
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_match_whole_keys() {
        let m = |p: &str, t: &str| glob_match(p.as_bytes(), t.as_bytes());
        assert!(m(
            "arn:aws:iam::*:role/backup-*",
            "arn:aws:iam::111122223333:role/backup-nightly"
        ));
        assert!(!m(
            "arn:aws:iam::*:role/backup-*",
            "arn:aws:iam::111122223333:role/admin"
        ));
        assert!(m("user:*@contoso.com", "user:alice@contoso.com"));
        assert!(m("user:*@contoso.com", "USER:Alice@Contoso.COM"));
        assert!(!m("user:*@contoso.com", "USER:Alice@Contoso.COM.evil"));
        assert!(!m("user:*@contoso.com", "user:alice@contoso.com.evil"));
        assert!(m("a?c", "abc") && !m("a?c", "ac"));
        assert!(m("*", "") && m("**", "x") && !m("", "x"));
        assert!(!m(&"*a".repeat(20), &"a".repeat(19)));
    }
}
