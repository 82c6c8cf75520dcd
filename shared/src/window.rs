//! The rolling window of one state key: pure, bounded, idempotent.
//!
//! It keeps at most [`MAX_UNITS`] units, newest by event time, so aggregates are exact while a
//! key sees fewer units than that inside the window. Past that the window *saturates*: counts
//! and sums become lower bounds (flagged in alerts) and a re-delivered unit older than every
//! kept unit is ignored, so it still cannot count twice. Every thresholds is far below the cap
//! (the configuration refuses one that is not), so alert decisions stay right.

use crate::alert::{rfc3339, Alert, AlertEvidence, AlertPrincipal, Attack, Tier};
use crate::catalog::{Catalog, OpType};
use crate::engine::{Engine, EventContext, ProfileName, Scored, StateKey, Thresholds, Unit};
use crate::event::{clip, PrincipalKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

/// Units kept per window.
pub const MAX_UNITS: usize = 200;
/// Resources, evidence events and IPs kept for the alert.
pub const MAX_LISTED: usize = 10;
/// Regions / resource groups kept.
const MAX_SCOPES: usize = 5;
/// Fired-alert records kept (tiers plus one per critical catalog row).
const MAX_FIRED: usize = 32;
const FORMAT: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Listed {
    h: u64,
    value: String,
    t: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Evidence {
    event_id: String,
    t: i64,
    operation: String,
    catalog_id: String,
    risk: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Fired {
    tier: Tier,
    disc: u32,
    t: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
struct Who {
    key: String,
    name: String,
    kind: PrincipalKind,
    session: Option<String>,
    user_agent: Option<String>,
    account: String,
    t: i64,
}

/// Serialized state of one window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowState {
    format: u8,
    key: String,
    max_t: i64,
    saturated_until: i64,
    units: Vec<Unit>,
    resources: Vec<Listed>,
    evidence: Vec<Evidence>,
    ips: Vec<Listed>,
    scopes: Vec<Listed>,
    who: Who,
    fired: Vec<Fired>,
}

/// The seed's `summarize` columns for one window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Aggregate {
    /// `OperationCount`.
    pub operation_count: u32,
    /// `UniqueResources`.
    pub unique_resources: u32,
    /// `TotalRiskScore` (with sequence boosts in the default profile).
    pub total_risk: u32,
    /// `OperationTypes`, sorted.
    pub operation_types: Vec<OpType>,
    /// `FirstSeen` (ms).
    pub first_seen: i64,
    /// `LastSeen` (ms).
    pub last_seen: i64,
    /// `Resources` (at most 10).
    pub resources: Vec<String>,
    /// The counts are lower bounds (saturated window).
    pub lower_bound: bool,
}

/// Who and where a window is about: the seed's grouping columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowSummary {
    /// Stable principal key.
    pub principal_key: String,
    /// `PrincipalName` (the Azure caller / AWS principal name).
    pub principal_name: String,
    /// Principal kind.
    pub principal_kind: PrincipalKind,
    /// `SubscriptionId` / AWS account.
    pub account: String,
    /// `CallerIp` values, most recent first.
    pub source_ips: Vec<String>,
    /// `ResourceGroup` / region values, most recent first.
    pub scopes: Vec<String>,
}

/// Could not read stored state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored window state is unreadable: {0}")]
pub struct StateDecodeError(pub String);

/// What applying one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// New units counted.
    Counted,
    /// Every unit was already counted (a re-delivery).
    Duplicate,
    /// Older than the window: outside what the window can still contain.
    TooLate,
}

impl Thresholds {
    /// The seed's `where` and `AlertReason` `case()`, in its order.
    pub fn tier(&self, a: &Aggregate) -> Option<Tier> {
        let risky = a.total_risk >= self.risk;
        let bulk = a.operation_count >= self.bulk_operations && a.unique_resources >= self.bulk_resources;
        if !(risky || bulk) {
            return None;
        }
        Some(if a.total_risk >= self.high_risk {
            Tier::HighRisk
        } else if risky && a.operation_count >= self.bulk_operations {
            Tier::Elevated
        } else if bulk {
            Tier::Bulk
        } else {
            Tier::Suspicious
        })
    }
}

fn remember(list: &mut Vec<Listed>, value: &str, t: i64, cap: usize) {
    let h = xxh3_64(value.as_bytes());
    if let Some(x) = list.iter_mut().find(|x| x.h == h) {
        x.t = x.t.max(t);
        return;
    }
    if list.len() >= cap {
        // Keep the most recent ones.
        let (i, oldest) = list
            .iter()
            .enumerate()
            .min_by_key(|(_, x)| x.t)
            .map(|(i, x)| (i, x.t))
            .unwrap_or((0, 0));
        if oldest > t {
            return;
        }
        list.remove(i);
    }
    list.push(Listed {
        h,
        value: clip(value, crate::event::MAX_FIELD),
        t,
    });
}

impl WindowState {
    /// Empty window for a key.
    pub fn new(key: &StateKey) -> WindowState {
        WindowState {
            format: FORMAT,
            key: key.0.clone(),
            max_t: i64::MIN,
            saturated_until: i64::MIN,
            units: Vec::new(),
            resources: Vec::new(),
            evidence: Vec::new(),
            ips: Vec::new(),
            scopes: Vec::new(),
            who: Who::default(),
            fired: Vec::new(),
        }
    }

    /// Compact binary encoding for the stores.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// Decode; a window from another key (hash collision) or another format is refused.
    pub fn decode(bytes: &[u8], key: &StateKey) -> Result<WindowState, StateDecodeError> {
        let s: WindowState = postcard::from_bytes(bytes).map_err(|e| StateDecodeError(e.to_string()))?;
        if s.format != FORMAT {
            return Err(StateDecodeError(format!(
                "format {} (expected {FORMAT})",
                s.format
            )));
        }
        if s.key != key.0 {
            return Err(StateDecodeError("state belongs to another key".into()));
        }
        Ok(s)
    }

    /// When the store may forget this window (epoch seconds): window end of the newest unit.
    pub fn expires_at(&self, window_ms: i64) -> i64 {
        self.max_t.saturating_add(window_ms) / 1000 + 1
    }

    /// Grouping columns and principal of this window.
    pub fn summary(&self) -> WindowSummary {
        let recent = |l: &[Listed]| {
            let mut v: Vec<&Listed> = l.iter().collect();
            v.sort_by_key(|x| std::cmp::Reverse(x.t));
            v.into_iter().map(|x| x.value.clone()).collect()
        };
        WindowSummary {
            principal_key: self.who.key.clone(),
            principal_name: self.who.name.clone(),
            principal_kind: self.who.kind,
            account: self.who.account.clone(),
            source_ips: recent(&self.ips),
            scopes: recent(&self.scopes),
        }
    }

    /// Units currently held.
    pub fn unit_count(&self) -> usize {
        self.units.len()
    }

    fn prune(&mut self, window_ms: i64) {
        let floor = self.max_t.saturating_sub(window_ms);
        self.units.retain(|u| u.t >= floor);
        let live: BTreeSet<u64> = self.units.iter().map(|u| u.res).collect();
        self.resources.retain(|r| r.t >= floor && live.contains(&r.h));
        self.evidence.retain(|e| e.t >= floor);
        self.ips.retain(|x| x.t >= floor);
        self.scopes.retain(|x| x.t >= floor);
        self.fired.retain(|f| f.t >= floor);
    }

    /// Add one event's units. Pure: the same event applied twice changes nothing.
    pub fn apply(&mut self, s: &Scored, window_ms: i64) -> Applied {
        let t = s.ctx.time_ms;
        if self.max_t != i64::MIN && t < self.max_t.saturating_sub(window_ms) {
            return Applied::TooLate;
        }
        let mut counted = Vec::new();
        for (i, u) in s.units.iter().enumerate() {
            if self.units.iter().any(|x| x.id == u.id) {
                continue;
            }
            if self.units.len() >= MAX_UNITS {
                if u.t <= self.units[0].t {
                    self.saturated_until = self.saturated_until.max(u.t.saturating_add(window_ms));
                    continue;
                }
                let evicted = self.units.remove(0);
                self.saturated_until = self.saturated_until.max(evicted.t.saturating_add(window_ms));
            }
            let at = self.units.partition_point(|x| x.t <= u.t);
            self.units.insert(at, *u);
            counted.push(i);
        }
        if counted.is_empty() {
            return Applied::Duplicate;
        }
        self.max_t = self.max_t.max(t);
        let c = &s.ctx;
        for &i in &counted {
            let r = &s.resources[i];
            if self.resources.len() < MAX_LISTED && !self.resources.iter().any(|x| x.h == s.units[i].res) {
                self.resources.push(Listed {
                    h: s.units[i].res,
                    value: clip(r, crate::event::MAX_FIELD),
                    t,
                });
            } else if let Some(x) = self.resources.iter_mut().find(|x| x.h == s.units[i].res) {
                x.t = x.t.max(t);
            }
        }
        if !self.evidence.iter().any(|e| e.event_id == c.event_id) {
            self.evidence.push(Evidence {
                event_id: clip(&c.event_id, 128),
                t,
                operation: c.operation.clone(),
                catalog_id: c.catalog_id.clone(),
                risk: c.risk * counted.len() as u32,
            });
            self.evidence
                .sort_by(|a, b| b.risk.cmp(&a.risk).then(b.t.cmp(&a.t)));
            self.evidence.truncate(MAX_LISTED);
        }
        if let Some(ip) = &c.source_ip {
            remember(&mut self.ips, ip, t, MAX_LISTED);
        }
        if !c.scope.is_empty() {
            remember(&mut self.scopes, &c.scope, t, MAX_SCOPES);
        }
        if t >= self.who.t {
            self.who = Who {
                key: c.principal_key.clone(),
                name: c.principal_name.clone(),
                kind: c.principal_kind,
                session: c.session.clone(),
                user_agent: c.user_agent.clone(),
                account: c.account.clone(),
                t,
            };
        }
        self.prune(window_ms);
        Applied::Counted
    }

    /// The seed's summarize over the window ending at the latest event.
    pub fn aggregate(&self, catalog: &Catalog, profile: ProfileName) -> Aggregate {
        self.aggregate_at(catalog, profile, self.max_t, i64::MAX / 4)
    }

    /// The summarize over `[now - window_ms, now]`: what the seed's scheduled query returns
    /// when it runs at `now`.
    pub fn aggregate_at(
        &self,
        catalog: &Catalog,
        profile: ProfileName,
        now: i64,
        window_ms: i64,
    ) -> Aggregate {
        let floor = now.saturating_sub(window_ms);
        let live = |t: i64| t >= floor && t <= now;
        let mut types = BTreeSet::new();
        let mut distinct = BTreeSet::new();
        let mut risk = 0u32;
        let mut count = 0u32;
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        for u in self.units.iter().filter(|u| live(u.t)) {
            count += 1;
            types.insert(u.kind);
            distinct.insert(u.res);
            risk += u32::from(u.risk);
            if profile == ProfileName::Default {
                risk += self.boost(catalog, u);
            }
            first = first.min(u.t);
            last = last.max(u.t);
        }
        Aggregate {
            operation_count: count,
            unique_resources: distinct.len() as u32,
            total_risk: risk,
            operation_types: types.into_iter().collect(),
            first_seen: if count > 0 { first } else { 0 },
            last_seen: if count > 0 { last } else { 0 },
            resources: self
                .resources
                .iter()
                .filter(|r| live(r.t))
                .map(|r| r.value.clone())
                .collect(),
            lower_bound: self.saturated_until >= now,
        }
    }

    /// Sequence bonus of one unit: its catalog row's `boost` when the same principal did the
    /// `after` operation on the same resource within the allowed time before it. Computed at
    /// aggregation, not at insertion, so the order events arrive in does not matter.
    fn boost(&self, catalog: &Catalog, u: &Unit) -> u32 {
        let Some(b) = catalog.by_id_hash(u.op).and_then(|e| e.boost.as_ref()) else {
            return 0;
        };
        // The catalog checked at load that `after` names a row; its hash is the row's op.
        let after = crate::catalog::id_hash(&b.after);
        let within = i64::from(b.within_minutes) * 60_000;
        let hit = self
            .units
            .iter()
            .any(|v| v.op == after && v.res == u.res && v.t <= u.t && u.t - v.t <= within);
        if hit {
            b.points
        } else {
            0
        }
    }

    /// Apply one event and decide its alerts. Alerts already fired for this key in the window
    /// (the same tier or a higher one; the same critical row) are not repeated.
    pub fn step(&mut self, engine: &Engine, s: &Scored) -> (Applied, Vec<Alert>) {
        let eff = engine.effective(&s.ctx.account);
        let applied = self.apply(s, eff.window_ms);
        if applied != Applied::Counted {
            return (applied, Vec::new());
        }
        let agg = self.aggregate(&engine.catalog, engine.profile.name);
        let mut out = Vec::new();
        let tier = eff.thresholds.tier(&agg);
        let tier_new = tier.filter(|&t| !self.fired.iter().any(|f| f.tier != Tier::Critical && f.tier >= t));
        let mut critical_fired = false;
        if s.ctx.critical {
            let disc = s.units[0].op;
            if !self
                .fired
                .iter()
                .any(|f| f.tier == Tier::Critical && f.disc == disc)
            {
                out.push(self.alert(engine, &agg, Tier::Critical, disc, &s.ctx));
                critical_fired = true;
            }
        }
        if let Some(t) = tier_new {
            if critical_fired {
                // The critical alert already carries this window's totals: record the tier it
                // reached instead of sending a second alert for the same event. A later
                // escalation to a higher tier still alerts.
                self.record_fired(t, 0, s.ctx.time_ms);
            } else {
                out.push(self.alert(engine, &agg, t, 0, &s.ctx));
            }
        }
        (applied, out)
    }

    /// Remember a decision, keeping at most [`MAX_FIRED`] (oldest dropped first).
    fn record_fired(&mut self, tier: Tier, disc: u32, t: i64) {
        if self.fired.len() >= MAX_FIRED {
            self.fired.remove(0);
        }
        self.fired.push(Fired { tier, disc, t });
    }

    fn alert(
        &mut self,
        engine: &Engine,
        agg: &Aggregate,
        tier: Tier,
        disc: u32,
        trigger: &EventContext,
    ) -> Alert {
        // Recorded now so a later event of the same batch does not fire it again; the pipeline
        // only saves this state after the sink accepted the alert.
        self.record_fired(tier, disc, trigger.time_ms);
        let profile = engine.profile.name;
        let window = engine.effective(&trigger.account).window_ms.max(1);
        let bucket = trigger.time_ms.div_euclid(window);
        let dedup = format!(
            "{:032x}",
            xxh3_128(
                format!(
                    "{}\u{1f}{}\u{1f}{}\u{1f}{disc}\u{1f}{bucket}",
                    profile.as_str(),
                    self.key,
                    tier.as_str()
                )
                .as_bytes()
            )
        );
        let alert_id = {
            let h = xxh3_128(format!("{dedup}\u{1f}{}", trigger.event_id).as_bytes());
            let s = format!("{h:032x}");
            format!(
                "{}-{}-{}-{}-{}",
                &s[0..8],
                &s[8..12],
                &s[12..16],
                &s[16..20],
                &s[20..32]
            )
        };
        let mut subs = BTreeSet::new();
        let mut related = BTreeSet::new();
        for e in self
            .evidence
            .iter()
            .filter_map(|e| engine.catalog.get(&e.catalog_id))
        {
            if e.technique != "T1578" {
                subs.insert(e.technique.clone());
            }
            related.extend(e.related.iter().cloned());
        }
        let reason = match (tier, profile) {
            (Tier::Critical, _) => engine
                .catalog
                .get(&trigger.catalog_id)
                .map(|e| format!("Critical single event: {}", e.description))
                .unwrap_or_else(|| "Critical single event".into()),
            _ => tier.seed_reason().to_string(),
        };
        let mut ips: Vec<&Listed> = self.ips.iter().collect();
        ips.sort_by_key(|x| std::cmp::Reverse(x.t));
        let mut scopes: Vec<&Listed> = self.scopes.iter().collect();
        scopes.sort_by_key(|x| std::cmp::Reverse(x.t));
        Alert {
            schema: "t1578.alert/v1".into(),
            alert_id,
            dedup_key: dedup,
            time: rfc3339(trigger.time_ms),
            severity: tier.severity(),
            tier,
            reason,
            profile: profile.as_str().into(),
            catalog_version: engine.catalog.version.clone(),
            attack: Attack {
                tactic: "TA0005".into(),
                tactic_name: "Defense Evasion".into(),
                technique: "T1578".into(),
                sub_techniques: subs.into_iter().collect(),
                related: related.into_iter().collect(),
            },
            cloud: trigger.cloud,
            account: self.who.account.clone(),
            scopes: scopes.into_iter().map(|x| x.value.clone()).collect(),
            principal: AlertPrincipal {
                key: self.who.key.clone(),
                name: self.who.name.clone(),
                kind: self.who.kind.as_str().into(),
                session: self.who.session.clone(),
            },
            source_ips: ips.into_iter().map(|x| x.value.clone()).collect(),
            user_agent: self.who.user_agent.clone(),
            total_risk: agg.total_risk,
            operation_count: agg.operation_count,
            unique_resources: agg.unique_resources,
            counts_are_lower_bounds: agg.lower_bound,
            operation_types: agg
                .operation_types
                .iter()
                .map(|t| t.as_str().to_string())
                .collect(),
            first_seen: rfc3339(agg.first_seen),
            last_seen: rfc3339(agg.last_seen),
            resources: agg.resources.clone(),
            evidence: self
                .evidence
                .iter()
                .map(|e| AlertEvidence {
                    event_id: e.event_id.clone(),
                    time: rfc3339(e.t),
                    operation: e.operation.clone(),
                    catalog_id: e.catalog_id.clone(),
                    risk: e.risk,
                })
                .collect(),
            trigger_catalog_id: (tier == Tier::Critical).then(|| trigger.catalog_id.clone()),
        }
    }
}
