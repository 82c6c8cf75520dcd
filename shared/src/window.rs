//! The rolling window of one state key: pure, bounded, idempotent.
//!
//! It keeps at most [`MAX_UNITS`] units, newest by event time, so aggregates are exact while a
//! key sees fewer units than that inside the window. Past that the window *saturates*: counts
//! and sums become lower bounds (flagged in alerts) and a re-delivered unit older than every
//! kept unit is ignored, so it still cannot count twice. Every thresholds is far below the cap
//! (the configuration refuses one that is not), so alert decisions stay right.

use crate::alert::{
    rfc3339, technique_name, Actor, Alert, AllowlistNote, Analytic, Api, AttackMapping, CloudAccount,
    CloudInfo, Decision, Endpoint, EvidenceArtifact, EvidenceData, FindingInfo, Metadata, Named, Product,
    RelatedEvent, Request, ResourceRef, Session, SourceIp, Tier, TuningApplied, User, ATTACK_VERSION,
    OCSF_VERSION,
};
use crate::catalog::{Catalog, OpType};
use crate::engine::{flags, Engine, EventContext, ProfileName, Scored, StateKey, Thresholds, Unit};
use crate::event::{clip, Cloud, PrincipalKind};
use crate::schedule::WindowPosition;
use crate::settings::Mode;
use crate::tuning::{Effective, Unfamiliar};
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
/// Addresses (or networks) remembered per principal for the unfamiliar-IP rule.
pub const MAX_SEEN: usize = 32;
/// 2: units carry tuning flags, evidence its address, the principal its address history.
const FORMAT: u8 = 2;

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
    flags: u8,
    ip: Option<String>,
}

/// One address or network in a principal's history: hash, first and last use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    h: u64,
    first: i64,
    last: i64,
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
    /// Hashes of the `ips` values that were unfamiliar when used.
    unfamiliar: Vec<u64>,
    /// Address history, outliving the window (the unfamiliar-IP memory).
    seen: Vec<Seen>,
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

/// What the unfamiliar-IP rule compares: the /24 (IPv4) or /48 (IPv6) network, or the whole
/// address; a value that is not an address (a service DNS name) is compared as written.
fn address_key(ip: &str, by_prefix: bool) -> u64 {
    let key = match (ip.trim().parse::<std::net::IpAddr>(), by_prefix) {
        (Ok(std::net::IpAddr::V4(a)), true) => {
            let [x, y, z, _] = a.octets();
            format!("{x}.{y}.{z}.0/24")
        }
        (Ok(std::net::IpAddr::V6(a)), true) => {
            let s = a.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
        (Ok(a), false) => a.to_string(),
        (Err(_), _) => ip.trim().to_ascii_lowercase(),
    };
    xxh3_64(key.as_bytes())
}

/// Keep `value` in a bounded most-recent list; returns its hash (the list's identity for it).
fn remember(list: &mut Vec<Listed>, value: &str, t: i64, cap: usize) -> u64 {
    let h = xxh3_64(value.as_bytes());
    if let Some(x) = list.iter_mut().find(|x| x.h == h) {
        x.t = x.t.max(t);
        return h;
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
            return h;
        }
        list.remove(i);
    }
    list.push(Listed {
        h,
        value: clip(value, crate::event::MAX_FIELD),
        t,
    });
    h
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
            unfamiliar: Vec::new(),
            seen: Vec::new(),
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

    /// When the store may forget this state (epoch seconds): the window end of the newest unit,
    /// or the end of the address memory when that is later.
    pub fn expires_at(&self, eff: &Effective) -> i64 {
        let memory = eff.unfamiliar_ip.map_or(i64::MIN, |u| {
            self.seen
                .iter()
                .map(|x| x.last)
                .max()
                .unwrap_or(i64::MIN)
                .saturating_add(u.days_ms)
        });
        self.max_t.saturating_add(eff.window_ms).max(memory) / 1000 + 1
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

    fn prune(&mut self, window_ms: i64, memory_ms: i64) {
        let floor = self.max_t.saturating_sub(window_ms);
        let memory_floor = self.max_t.saturating_sub(memory_ms);
        self.seen.retain(|x| x.last >= memory_floor);
        self.units.retain(|u| u.t >= floor);
        let live: BTreeSet<u64> = self.units.iter().map(|u| u.res).collect();
        self.resources.retain(|r| r.t >= floor && live.contains(&r.h));
        self.evidence.retain(|e| e.t >= floor);
        self.ips.retain(|x| x.t >= floor);
        let ips = &self.ips;
        self.unfamiliar.retain(|h| ips.iter().any(|x| x.h == *h));
        self.scopes.retain(|x| x.t >= floor);
        self.fired.retain(|f| f.t >= floor);
    }

    /// Is this event's address new for the principal? Only once the principal has a history:
    /// the first address ever seen is the baseline, not a surprise.
    fn unfamiliar_points(&self, rule: Option<Unfamiliar>, ip: Option<&str>, t: i64) -> (u32, Option<u64>) {
        let (Some(u), Some(ip)) = (rule, ip) else {
            return (0, None);
        };
        let h = address_key(ip, u.by_prefix);
        let since = t.saturating_sub(u.days_ms);
        let mut known = self
            .seen
            .iter()
            .filter(|x| x.first <= t && x.last >= since)
            .peekable();
        let has_history = known.peek().is_some();
        let familiar = known.any(|x| x.h == h);
        (if has_history && !familiar { u.points } else { 0 }, Some(h))
    }

    fn remember_address(&mut self, h: u64, t: i64) {
        if let Some(x) = self.seen.iter_mut().find(|x| x.h == h) {
            x.first = x.first.min(t);
            x.last = x.last.max(t);
            return;
        }
        if self.seen.len() >= MAX_SEEN {
            let Some((i, oldest)) = self.seen.iter().enumerate().min_by_key(|(_, x)| x.last) else {
                return;
            };
            if oldest.last > t {
                return;
            }
            self.seen.remove(i);
        }
        self.seen.push(Seen { h, first: t, last: t });
    }

    /// Add one event's units. Pure: the same event applied twice changes nothing.
    pub fn apply(&mut self, s: &Scored, eff: &Effective) -> Applied {
        let window_ms = eff.window_ms;
        let t = s.ctx.time_ms;
        if self.max_t != i64::MIN && t < self.max_t.saturating_sub(window_ms) {
            return Applied::TooLate;
        }
        let (bonus, address) = self.unfamiliar_points(eff.unfamiliar_ip, s.ctx.source_ip.as_deref(), t);
        let mut counted = Vec::new();
        let mut gained = 0u32;
        for (i, u) in s.units.iter().enumerate() {
            if self.units.iter().any(|x| x.id == u.id) {
                continue;
            }
            let mut u = *u;
            if counted.is_empty() && bonus > 0 {
                u.risk = u.risk.saturating_add(bonus.min(255) as u8);
                u.flags |= flags::UNFAMILIAR_IP;
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
            self.units.insert(at, u);
            gained += u32::from(u.risk);
            counted.push((i, u.flags));
        }
        if counted.is_empty() {
            return Applied::Duplicate;
        }
        self.max_t = self.max_t.max(t);
        let c = &s.ctx;
        for &(i, _) in &counted {
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
                risk: gained,
                flags: counted.iter().fold(0, |f, &(_, x)| f | x),
                ip: c.source_ip.as_deref().map(|ip| clip(ip, 64)),
            });
            self.evidence
                .sort_by(|a, b| b.risk.cmp(&a.risk).then(b.t.cmp(&a.t)));
            self.evidence.truncate(MAX_LISTED);
        }
        if let Some(ip) = &c.source_ip {
            let h = remember(&mut self.ips, ip, t, MAX_LISTED);
            if bonus > 0 && !self.unfamiliar.contains(&h) {
                self.unfamiliar.push(h);
            }
        }
        if let Some(a) = address {
            self.remember_address(a, t);
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
        self.prune(window_ms, eff.unfamiliar_ip.map_or(0, |u| u.days_ms));
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
        let applied = self.apply(s, &eff);
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
                out.push(self.alert(engine, &eff, &agg, Tier::Critical, disc, &s.ctx));
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
                out.push(self.alert(engine, &eff, &agg, t, 0, &s.ctx));
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
        eff: &Effective,
        agg: &Aggregate,
        tier: Tier,
        disc: u32,
        trigger: &EventContext,
    ) -> Alert {
        // Recorded now so a later event of the same batch does not fire it again; the pipeline
        // only saves this state after the sink accepted the alert.
        self.record_fired(tier, disc, trigger.time_ms);
        let profile = engine.profile.name;
        let window = eff.window_ms.max(1);
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
        let (severity_id, severity) = tier.severity().ocsf();
        let named = |id: &str| Named {
            uid: id.to_string(),
            name: technique_name(id).to_string(),
        };
        let mapping = |sub: Option<&String>| AttackMapping {
            tactic: Named {
                uid: "TA0005".into(),
                name: "Defense Evasion".into(),
            },
            technique: named("T1578"),
            sub_technique: sub.map(|s| named(s)),
            version: ATTACK_VERSION.into(),
        };
        let attacks = if subs.is_empty() {
            vec![mapping(None)]
        } else {
            subs.iter().map(|s| mapping(Some(s))).collect()
        };
        // Every kept unit is in the window the aggregate summed (it was pruned to it).
        let flagged = |bit: u8| self.units.iter().filter(|u| u.flags & bit != 0).count() as u32;
        let flag_names = |f: u8| {
            [
                (flags::IAC_IN_WINDOW, "iac_in_change_window"),
                (flags::OUTSIDE_WINDOW, "outside_change_window"),
                (flags::UNFAMILIAR_IP, "unfamiliar_ip"),
            ]
            .iter()
            .filter(|(b, _)| f & b != 0)
            .map(|(_, n)| n.to_string())
            .collect()
        };
        let (provider, account_type, account_type_id) = match trigger.cloud {
            Cloud::Aws => ("AWS", "AWS Account", 10),
            Cloud::Azure => ("Azure", "Azure Subscription", 13),
        };
        let user_type_id = match self.who.kind {
            PrincipalKind::User => 1,
            PrincipalKind::Root => 2,
            PrincipalKind::AwsService | PrincipalKind::ManagedIdentity | PrincipalKind::ServicePrincipal => 3,
            _ => 99,
        };
        let title = format!(
            "{} by {}: {} operations on {} resources, risk {}",
            match tier {
                Tier::Critical => "Critical compute change",
                Tier::HighRisk => "High-risk compute activity",
                Tier::Elevated => "Elevated compute activity",
                Tier::Bulk => "Bulk compute activity",
                Tier::Suspicious => "Suspicious compute activity",
            },
            self.who.name,
            agg.operation_count,
            agg.unique_resources,
            agg.total_risk
        );
        Alert {
            class_uid: 2004,
            class_name: "Detection Finding".into(),
            category_uid: 2,
            category_name: "Findings".into(),
            activity_id: 1,
            activity_name: "Create".into(),
            type_uid: 200401,
            type_name: "Detection Finding: Create".into(),
            time: trigger.time_ms,
            time_dt: rfc3339(trigger.time_ms),
            severity_id,
            severity: severity.into(),
            status_id: 1,
            status: "New".into(),
            // A decision in a shadow-mode account is a finding nobody is asked to act on.
            is_alert: eff.mode == Mode::Alert,
            message: format!("{title} in {} {}", provider, self.who.account),
            risk_score: agg.total_risk,
            risk_level_id: severity_id - 1,
            risk_level: severity.into(),
            metadata: Metadata {
                version: OCSF_VERSION.into(),
                uid: alert_id,
                correlation_uid: dedup.clone(),
                product: Product {
                    name: "t1578".into(),
                    vendor_name: "t1578 detector".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                },
                profiles: vec!["cloud".into(), "datetime".into()],
            },
            finding_info: FindingInfo {
                uid: dedup,
                title,
                desc: reason,
                types: vec![tier.as_str().into()],
                first_seen_time: agg.first_seen,
                first_seen_time_dt: rfc3339(agg.first_seen),
                last_seen_time: agg.last_seen,
                last_seen_time_dt: rfc3339(agg.last_seen),
                related_events_count: agg.operation_count,
                attacks,
                analytic: Analytic {
                    uid: format!("t1578/{}", profile.as_str()),
                    name: format!(
                        "T1578 Modify Cloud Compute Infrastructure ({} profile)",
                        profile.as_str()
                    ),
                    type_id: 1,
                    kind: "Rule".into(),
                    version: engine.catalog.version.clone(),
                },
                related_events: self
                    .evidence
                    .iter()
                    .map(|e| RelatedEvent {
                        uid: e.event_id.clone(),
                        kind: e.operation.clone(),
                        product_uid: e.catalog_id.clone(),
                        created_time: e.t,
                        created_time_dt: rfc3339(e.t),
                    })
                    .collect(),
            },
            cloud: CloudInfo {
                provider: provider.into(),
                account: CloudAccount {
                    uid: self.who.account.clone(),
                    kind: account_type.into(),
                    type_id: account_type_id,
                },
                region: scopes.first().map(|x| x.value.clone()),
            },
            actor: Actor {
                user: User {
                    uid: self.who.key.clone(),
                    name: self.who.name.clone(),
                    kind: self.who.kind.as_str().into(),
                    type_id: user_type_id,
                },
                session: self.who.session.clone().map(|uid| Session { uid }),
            },
            resources: agg
                .resources
                .iter()
                .map(|r| ResourceRef { uid: r.clone() })
                .collect(),
            evidences: self
                .evidence
                .iter()
                .map(|e| EvidenceArtifact {
                    api: Api {
                        operation: e.operation.clone(),
                        request: Request {
                            uid: e.event_id.clone(),
                        },
                    },
                    src_endpoint: e.ip.as_deref().map(Endpoint::of),
                    data: EvidenceData {
                        catalog_id: e.catalog_id.clone(),
                        risk: e.risk,
                        time_dt: rfc3339(e.t),
                        tuning: flag_names(e.flags),
                    },
                })
                .collect(),
            unmapped: Decision {
                tier,
                profile: profile.as_str().into(),
                catalog_version: engine.catalog.version.clone(),
                operation_count: agg.operation_count,
                unique_resources: agg.unique_resources,
                counts_are_lower_bounds: agg.lower_bound,
                operation_types: agg
                    .operation_types
                    .iter()
                    .map(|t| t.as_str().to_string())
                    .collect(),
                source_ips: ips
                    .into_iter()
                    .map(|x| SourceIp {
                        ip: x.value.clone(),
                        unfamiliar: self.unfamiliar.contains(&x.h),
                    })
                    .collect(),
                scopes: scopes.into_iter().map(|x| x.value.clone()).collect(),
                user_agent: self.who.user_agent.clone(),
                trigger_catalog_id: (tier == Tier::Critical).then(|| trigger.catalog_id.clone()),
                related_techniques: related.into_iter().collect(),
                tuning: TuningApplied {
                    config: engine.tuning.source_name.clone(),
                    change_window: match trigger.change_window {
                        None => "none",
                        Some(WindowPosition::Inside) => "inside",
                        Some(WindowPosition::Outside) => "outside",
                    }
                    .into(),
                    iac_in_window_operations: flagged(flags::IAC_IN_WINDOW),
                    outside_window_operations: flagged(flags::OUTSIDE_WINDOW),
                    unfamiliar_ip_operations: flagged(flags::UNFAMILIAR_IP),
                    allowlist: engine
                        .tuning
                        .allow_notes(&self.who.key, &self.who.account, trigger.time_ms)
                        .into_iter()
                        .map(|(a, status)| AllowlistNote {
                            principal: a.pattern.clone(),
                            reason: a.reason.clone(),
                            status: status.into(),
                        })
                        .collect(),
                },
                guide: None,
            },
            remediation: None,
        }
    }
}
