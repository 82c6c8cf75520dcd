//! Tuning without recompiling: one TOML document, the same for the CLI, the Lambda and the
//! Azure Function. Read once, validated whole: one error naming the source, the key and the
//! reason, and nothing half-applied.
//!
//! ```toml
//! [defaults]                      # every account
//! window = "24h"
//! mode = "alert"                  # or "shadow": evaluate and record, send nothing
//! count_service_callers = false   # AWS Backup, DLM, Auto Scaling... (invokedBy / AWSService)
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
//! ```
//!
//! Decisions: allowlists key on the stable principal plus account, never on user agents (which
//! callers choose); expiry is judged by event time so a backtest of last month gives what
//! production gave then; an allowlisted event is counted as such, never silently dropped.

use crate::catalog::Catalog;
use crate::engine::{StateKey, Thresholds};
use crate::settings::{parse_duration_ms, Mode, WINDOW_RANGE_MS};
use crate::window::MAX_UNITS;
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

/// The effective settings for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    /// Window (ms).
    pub window_ms: i64,
    /// Alert or shadow.
    pub mode: Mode,
    /// Count AWS service callers.
    pub count_service_callers: bool,
    /// Thresholds.
    pub thresholds: Thresholds,
}

fn is_account_id(s: &str) -> bool {
    let aws = s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit());
    let guid = s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| {
            if [8, 13, 18, 23].contains(&i) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        });
    aws || guid
}

impl Tuning {
    /// Parse and validate a tuning document. `source_name` names it in errors.
    pub fn from_toml(text: &str, source_name: &str, catalog: &Catalog) -> Result<Tuning, TuningError> {
        let err = |key: &str, reason: String| TuningError {
            source_name: source_name.to_string(),
            key: key.to_string(),
            reason,
        };
        let doc: TuningDoc = toml::from_str(text).map_err(|e| {
            let (key, line) = e
                .span()
                .map(|sp| key_at(text, sp.start))
                .unwrap_or_else(|| ("document".into(), 0));
            err(&key, format!("line {line}: {}", e.message()))
        })?;
        let scope = |prefix: &str, d: &ScopeDoc| -> Result<Scope, TuningError> {
            let window_ms = d
                .window
                .as_deref()
                .map(|w| {
                    let ms = parse_duration_ms(w).map_err(|r| err(&format!("{prefix}.window"), r))?;
                    if !(WINDOW_RANGE_MS.0..=WINDOW_RANGE_MS.1).contains(&ms) {
                        return Err(err(
                            &format!("{prefix}.window"),
                            format!("`{w}` is outside 1m..30d"),
                        ));
                    }
                    Ok(ms)
                })
                .transpose()?;
            let mode = match d.mode.as_deref() {
                None => None,
                Some("alert") => Some(Mode::Alert),
                Some("shadow") => Some(Mode::Shadow),
                Some(m) => {
                    return Err(err(
                        &format!("{prefix}.mode"),
                        format!("`{m}` is not `alert` or `shadow`"),
                    ))
                }
            };
            let limit = |name: &str, v: Option<i64>| -> Result<Option<u32>, TuningError> {
                match v {
                    None => Ok(None),
                    Some(x) if x >= 1 && (x as usize) < MAX_UNITS => Ok(Some(x as u32)),
                    Some(x) => Err(err(
                        &format!("{prefix}.thresholds.{name}"),
                        format!("{x} is outside 1..{}", MAX_UNITS - 1),
                    )),
                }
            };
            let t = &d.thresholds;
            let thresholds = PartialThresholds {
                risk: limit("risk", t.risk)?,
                high_risk: limit("high_risk", t.high_risk)?,
                bulk_operations: limit("bulk_operations", t.bulk_operations)?,
                bulk_resources: limit("bulk_resources", t.bulk_resources)?,
            };
            let mut scores = BTreeMap::new();
            for (id, pts) in &d.scores {
                let key = format!("{prefix}.scores.{id}");
                if catalog.get(id).is_none() {
                    return Err(err(&key, "not a catalog id (see `t1578 catalog`)".into()));
                }
                if !(0..=20).contains(pts) {
                    return Err(err(&key, format!("{pts} is outside 0..20")));
                }
                scores.insert(id.clone(), *pts as u32);
            }
            Ok(Scope {
                window_ms,
                mode,
                count_service_callers: d.count_service_callers,
                thresholds,
                scores,
            })
        };
        let defaults = scope("defaults", &doc.defaults)?;
        let mut accounts = BTreeMap::new();
        for (acct, d) in &doc.accounts {
            if !is_account_id(acct) {
                return Err(err(
                    &format!("accounts.{acct}"),
                    "not a 12-digit AWS account id nor a subscription GUID".into(),
                ));
            }
            accounts.insert(acct.to_ascii_lowercase(), scope(&format!("accounts.{acct}"), d)?);
        }
        let mut allow = Vec::new();
        for (i, a) in doc.allow.iter().enumerate() {
            let key = format!("allow[{i}]");
            if a.principal.trim().is_empty() {
                return Err(err(&format!("{key}.principal"), "empty pattern".into()));
            }
            if let Some(c) = a.principal.chars().find(|c| "[]{}\\".contains(*c)) {
                return Err(err(
                    &format!("{key}.principal"),
                    format!("bad glob: `{c}` is not supported (use * for any run of characters, ? for one)"),
                ));
            }
            let glob = a.principal.to_ascii_lowercase().into_bytes();
            if a.reason.trim().is_empty() {
                return Err(err(
                    &format!("{key}.reason"),
                    "say why this principal is trusted".into(),
                ));
            }
            if let Some(acct) = &a.account {
                if !is_account_id(acct) {
                    return Err(err(
                        &format!("{key}.account"),
                        "not a 12-digit AWS account id nor a subscription GUID".into(),
                    ));
                }
            }
            let expires_ms = a
                .expires
                .as_deref()
                .map(|d| {
                    chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                        .map(|day| {
                            day.and_hms_milli_opt(23, 59, 59, 999)
                                .unwrap_or_default()
                                .and_utc()
                                .timestamp_millis()
                        })
                        .map_err(|e| err(&format!("{key}.expires"), format!("`{d}` is not YYYY-MM-DD: {e}")))
                })
                .transpose()?;
            allow.push(AllowEntry {
                pattern: a.principal.clone(),
                glob,
                account: a.account.as_ref().map(|s| s.to_ascii_lowercase()),
                reason: a.reason.clone(),
                expires_ms,
            });
        }
        let t = Tuning {
            source_name: source_name.to_string(),
            defaults: Some(defaults),
            allow,
            accounts,
        };
        // Every scope's layered thresholds must stay ordered: `defaults`, then each account on top.
        let scopes = std::iter::once(("", "defaults".to_string()))
            .chain(t.accounts.keys().map(|k| (k.as_str(), format!("accounts.{k}"))));
        for (acct, prefix) in scopes {
            let e = t.effective(acct, Thresholds::default(), 0, true);
            if e.thresholds.high_risk < e.thresholds.risk {
                return Err(err(
                    &format!("{prefix}.thresholds.high_risk"),
                    format!("{} is below risk {}", e.thresholds.high_risk, e.thresholds.risk),
                ));
            }
        }
        Ok(t)
    }

    /// The allowlist entry that covers this principal in this account at this time, if any.
    pub fn allowed(&self, principal_key: &str, account: &str, time_ms: i64) -> Option<&AllowEntry> {
        let key = principal_key.to_ascii_lowercase();
        self.allow.iter().find(|a| {
            a.account
                .as_deref()
                .is_none_or(|x| x == account.to_ascii_lowercase())
                && a.expires_ms.is_none_or(|e| time_ms <= e)
                && glob_match(&a.glob, key.as_bytes())
        })
    }

    fn layers<'a>(&'a self, account: &str) -> impl Iterator<Item = &'a Scope> {
        self.accounts
            .get(&account.to_ascii_lowercase())
            .into_iter()
            .chain(self.defaults.iter())
    }

    /// Points for a catalog row in an account: account override, then global, then `base`.
    pub fn score(&self, account: &str, catalog_id: &str, base: u32) -> u32 {
        self.layers(account)
            .find_map(|s| s.scores.get(catalog_id).copied())
            .unwrap_or(base)
    }

    /// Effective settings for an account over the profile's.
    pub fn effective(
        &self,
        account: &str,
        base: Thresholds,
        window_ms: i64,
        count_service_callers: bool,
    ) -> Effective {
        let mut thresholds = base;
        for s in self.layers(account).collect::<Vec<_>>().into_iter().rev() {
            thresholds = s.thresholds.over(thresholds);
        }
        Effective {
            window_ms: self
                .layers(account)
                .find_map(|s| s.window_ms)
                .unwrap_or(window_ms),
            mode: self.layers(account).find_map(|s| s.mode).unwrap_or(Mode::Alert),
            count_service_callers: self
                .layers(account)
                .find_map(|s| s.count_service_callers)
                .unwrap_or(count_service_callers),
            thresholds,
        }
    }
}

/// `*` matches any run of bytes (including `/` and `:`, which ARNs are full of), `?` one byte.
/// Iterative with one backtrack point: linear in practice, no recursion on hostile input.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
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
        assert!(!m("user:*@contoso.com", "user:alice@contoso.com.evil"));
        assert!(m("a?c", "abc") && !m("a?c", "ac"));
        assert!(m("*", "") && m("**", "x") && !m("", "x"));
        assert!(!m(&"*a".repeat(20), &"a".repeat(19)));
    }
}
