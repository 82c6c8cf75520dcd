//! Decisions: when a principal's window becomes a finding, and when a finding is updated.
//!
//! Design decisions:
//! - **The seed profile decides as the seed does**: one alert per (state key, tier) per window,
//!   again when a higher tier is reached. Its output must not change.
//! - **The default profile judges a principal against its own normal** ([`crate::baseline`]).
//!   A principal without enough history (first seen less than `min_history_days` ago, or
//!   silent for the whole baseline period) meets the seed thresholds as they are. An
//!   established one reaches a threshold tier only with activity that is unusual *for it*,
//!   scored as below; routine work at its usual volume, hours and places stays quiet.
//!
//!   | what is unusual | weight |
//!   |---|---|
//!   | an operation type's volume above `volume_factor` x its largest day (and above that day plus the seed's bulk count or high-risk points) | 2 |
//!   | a catalog row of at least `new_operation_min_points` it did not use in the baseline period | 2 |
//!   | operations outside the account's declared change windows | 2 |
//!   | each network (/24, /48) it has not used lately, at most 2 | 1 |
//!   | an hour (±1) it is never active at | 1 |
//!   | a region or resource group it did not act in | 1 |
//!
//!   A tier fires at [`UNUSUAL_SCORE`] (2): one strong sign, or two weak ones. A traveller's
//!   hotel network or an on-call night alone is not a finding; the same night with a new
//!   network, or three times the usual deletes, is.
//! - **Single-event criticals fire at once**, except a share to a destination the principal
//!   already shared to in the baseline period: that is evidence, marked as a known destination.
//!   A public share, a new destination or an export is always critical.
//! - **One finding per incident.** The first decision creates a finding; while the principal
//!   keeps acting within the window of the last report, later decisions update the same
//!   finding (same `finding_info.uid`, a running count) when the activity grows by
//!   `escalation_factor`, a higher tier is reached, a new critical or a new operation type
//!   appears. Deduplication can therefore never hide a new burst, and routine activity after a
//!   finding does not repeat it.
//! - **Deterministic ids.** The finding id hashes the profile, the state key and the window
//!   bucket it opened in; each report's id hashes the finding id and its count. Re-applying the
//!   same events after a save conflict or a retry, in any order, gives the same ids.

use crate::alert::Tier;
use crate::baseline::{self, describe_hours, NoveltyKind, ALL_TYPES};
use crate::catalog::OpType;
use crate::engine::{flags, Engine, ProfileName, Scored};
use crate::incident::Incident;
use crate::profile::{BaselineRule, Thresholds};
use crate::tuning::Effective;
use crate::window::{Aggregate, Applied, WindowState};
use std::borrow::Cow;
use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

/// Unusualness a threshold tier needs for an established principal.
pub const UNUSUAL_SCORE: u32 = 2;

/// Create a finding, or update the open one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// A new finding (OCSF activity 1).
    Create,
    /// The open finding grew (OCSF activity 2).
    Update,
}

/// One sign of why activity is unusual for its principal, or why it is judged as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// Machine-readable: `volume`, `new_operation`, `new_network`, `unusual_hour`, `new_scope`,
    /// `outside_change_window`, `new_destination`, `no_history`.
    pub code: &'static str,
    /// What an analyst reads.
    pub detail: String,
    /// Its weight towards [`UNUSUAL_SCORE`] (0: context only).
    pub weight: u32,
}

/// A decision to report.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Tier reported.
    pub tier: Tier,
    /// Create or update.
    pub activity: Activity,
    /// `finding_info.uid`.
    pub finding_uid: String,
    /// This report's deterministic id (`metadata.correlation_uid`, the dedup key).
    pub decision_uid: String,
    /// Reports of this finding so far, this one included.
    pub count: u32,
    /// The window's totals.
    pub agg: Aggregate,
    /// The principal had enough history to be judged against its baseline.
    pub established: bool,
    /// Why it is unusual (established) or why plain thresholds applied (not).
    pub reasons: Vec<Reason>,
    /// For an update: what changed since the last report.
    pub updated_because: Vec<String>,
    /// The catalog row of a single-event critical in this report.
    pub critical: Option<String>,
}

fn hex128(parts: &str) -> String {
    format!("{:032x}", xxh3_128(parts.as_bytes()))
}

/// Apply one event to its window and decide what to report.
pub fn step(state: &mut WindowState, engine: &Engine, s: &Scored) -> (Applied, Vec<Verdict>) {
    let eff = engine.effective(&s.ctx.account);
    match engine.profile.name {
        ProfileName::SeedKql => {
            let applied = state.apply(s, &eff);
            let out = if applied == Applied::Counted {
                seed_step(state, engine, &eff, s)
            } else {
                Vec::new()
            };
            (applied, out)
        }
        ProfileName::Default => {
            let s = mark_known_destination(state, &eff, s);
            let applied = state.apply(&s, &eff);
            let out = if applied == Applied::Counted {
                baseline_step(state, engine, &eff, &s)
            } else {
                Vec::new()
            };
            (applied, out)
        }
    }
}

/// The seed's decision: one report per tier per window, as the scheduled rule would.
fn seed_step(state: &mut WindowState, engine: &Engine, eff: &Effective, s: &Scored) -> Vec<Verdict> {
    let agg = state.aggregate(&engine.catalog, engine.profile.name);
    let Some(tier) = eff.thresholds.tier(&agg).filter(|&t| !state.fired_at_or_above(t)) else {
        return Vec::new();
    };
    state.record_fired(tier, 0, s.ctx.time_ms);
    let bucket = s.ctx.time_ms.div_euclid(eff.window_ms.max(1));
    let uid = hex128(&format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}0\u{1f}{bucket}",
        engine.profile.name.as_str(),
        state.key,
        tier.as_str()
    ));
    vec![Verdict {
        tier,
        activity: Activity::Create,
        finding_uid: uid.clone(),
        decision_uid: uid,
        count: 1,
        agg,
        established: false,
        reasons: Vec::new(),
        updated_because: Vec::new(),
        critical: None,
    }]
}

/// A critical share to destinations the principal already shared to in the baseline period
/// is marked, so it counts as evidence and not as a critical.
fn mark_known_destination<'a>(state: &WindowState, eff: &Effective, s: &'a Scored) -> Cow<'a, Scored> {
    let c = &s.ctx;
    let Some(rule) = eff.baseline.filter(|r| r.known_destinations) else {
        return Cow::Borrowed(s);
    };
    let known = c.critical
        && !c.public
        && !c.destinations.is_empty()
        && c.destinations.iter().all(|d| {
            state
                .baseline
                .knows_destination(baseline::place_hash(d), c.time_ms, &rule)
        });
    if !known {
        return Cow::Borrowed(s);
    }
    let mut s = s.clone();
    for u in &mut s.units {
        u.flags |= flags::KNOWN_DESTINATION;
    }
    Cow::Owned(s)
}

fn type_mask(agg: &Aggregate) -> u16 {
    (0..baseline::TYPES)
        .filter(|&i| agg.type_points[i] > 0)
        .fold(0u16, |m, i| m | (1 << i))
}

fn baseline_step(state: &mut WindowState, engine: &Engine, eff: &Effective, s: &Scored) -> Vec<Verdict> {
    let c = &s.ctx;
    let t = c.time_ms;
    let agg = state.aggregate(&engine.catalog, engine.profile.name);
    let tier = eff.thresholds.tier(&agg);
    let established = eff.baseline.is_some_and(|r| state.baseline.established(t, &r));
    let critical = c.critical && s.units[0].flags & flags::KNOWN_DESTINATION == 0;
    let reasons = match eff.baseline {
        Some(rule) if established => unusual(state, &agg, &rule, t, &eff.thresholds),
        _ => no_history(state, eff.baseline.as_ref(), t),
    };
    let score: u32 = reasons.iter().map(|r| r.weight).sum();
    let fires = tier.filter(|_| !established || score >= UNUSUAL_SCORE);
    let disc =
        critical.then(|| xxh3_64(format!("{}\u{1f}{:?}", c.catalog_id, c.destinations).as_bytes()) as u32);
    let escalation = eff.baseline.map_or(200, |r| r.escalation_percent);
    let open = state
        .incident
        .as_ref()
        .filter(|i| i.open_at(t, eff.window_ms))
        .cloned();
    let (activity, inc, updated_because) = match open {
        Some(mut inc) => {
            let why = growth(&inc, &agg, fires, disc, escalation);
            if why.is_empty() {
                return Vec::new();
            }
            inc.count += 1;
            (Activity::Update, inc, why)
        }
        None if critical || fires.is_some() => {
            // The window bucket, not the event: writers that race on one key open the same
            // finding whichever of their events crossed first. Two findings of one principal
            // never open in one bucket (the first stays open past its end).
            let bucket = t.div_euclid(eff.window_ms.max(1));
            let uid = hex128(&format!(
                "{}\u{1f}{}\u{1f}finding\u{1f}{bucket}",
                engine.profile.name.as_str(),
                state.key
            ));
            let inc = Incident {
                uid,
                opened: t,
                last: t,
                count: 1,
                tier: Tier::Suspicious,
                operations: 0,
                risk: 0,
                types: 0,
                criticals: Vec::new(),
            };
            (Activity::Create, inc, Vec::new())
        }
        None => return Vec::new(),
    };
    let now = if critical {
        Tier::Critical
    } else {
        fires.or(tier).unwrap_or(Tier::Suspicious)
    };
    let tier = match activity {
        Activity::Create => now,
        Activity::Update => now.max(inc.tier),
    };
    let mut reasons = reasons;
    if critical && !c.destinations.is_empty() {
        reasons.push(Reason {
            code: "new_destination",
            detail: format!(
                "{} {}",
                if c.public {
                    "public share; also to"
                } else {
                    "new destination"
                },
                c.destinations.join(", ")
            ),
            weight: 0,
        });
    }
    let mut inc = inc;
    inc.last = t;
    inc.tier = inc.tier.max(tier);
    inc.operations = agg.operation_count;
    inc.risk = agg.total_risk;
    inc.types |= type_mask(&agg);
    if let Some(d) = disc {
        inc.add_critical(d);
    }
    let verdict = Verdict {
        tier,
        activity,
        finding_uid: inc.uid.clone(),
        decision_uid: hex128(&format!("{}\u{1f}{}", inc.uid, inc.count)),
        count: inc.count,
        agg,
        established,
        reasons,
        updated_because,
        critical: critical.then(|| c.catalog_id.clone()),
    };
    state.incident = Some(inc);
    vec![verdict]
}

/// Why an open finding should be reported again, if it should.
fn growth(inc: &Incident, agg: &Aggregate, fires: Option<Tier>, disc: Option<u32>, pct: u32) -> Vec<String> {
    let mut why = Vec::new();
    if let Some(f) = fires.filter(|&f| f > inc.tier) {
        why.push(format!("reached the {} tier", f.as_str()));
    }
    let grew = |now: u32, then: u32| now > then && u64::from(now) * 100 >= u64::from(then) * u64::from(pct);
    if grew(agg.operation_count, inc.operations) {
        why.push(format!(
            "operations grew from {} to {}",
            inc.operations, agg.operation_count
        ));
    }
    if grew(agg.total_risk, inc.risk) {
        why.push(format!("risk grew from {} to {}", inc.risk, agg.total_risk));
    }
    let new_types = type_mask(agg) & !inc.types;
    for i in (0..baseline::TYPES).filter(|i| new_types & (1 << i) != 0) {
        why.push(format!("new operation type {}", ALL_TYPES[i].as_str()));
    }
    if disc.is_some_and(|d| !inc.criticals.contains(&d)) {
        why.push("a new single-event critical".into());
    }
    why
}

fn type_label(t: OpType, n: u32) -> String {
    let word = match t {
        OpType::Delete => "delete",
        OpType::CreateOrModify => "create/modify",
        OpType::Capture => "capture",
        OpType::Generalize => "generalize",
        OpType::Deallocate => "stop/deallocate",
        OpType::ExtensionChange => "extension change",
        OpType::Share => "share",
        OpType::Exfil => "export",
        OpType::Impair => "protection change",
        OpType::Revert => "revert",
        OpType::Exec => "code execution",
        OpType::Other => "other",
    };
    format!("{n} {word} operation{}", if n == 1 { "" } else { "s" })
}

/// Volume of each operation type against the principal's largest day.
fn volume_reasons(
    state: &WindowState,
    agg: &Aggregate,
    rule: &BaselineRule,
    t: i64,
    th: &Thresholds,
) -> Vec<Reason> {
    let mut out = Vec::new();
    for (i, kind) in ALL_TYPES.iter().enumerate() {
        if agg.type_counts[i] == 0 {
            continue;
        }
        let v = state.baseline.volume(*kind, t, rule);
        let count = agg.type_counts[i].max(v.today_count);
        let points = agg.type_points[i].max(v.today_points);
        let bar = |max: u32, floor: u32| {
            let scaled = (u64::from(max) * u64::from(rule.volume_percent)).div_ceil(100);
            scaled.max(u64::from(max) + u64::from(floor))
        };
        let by_count = u64::from(count) > bar(v.max_count, th.bulk_operations);
        let by_points = u64::from(points) > bar(v.max_points, th.high_risk);
        if by_count || by_points {
            out.push(Reason {
                code: "volume",
                detail: format!(
                    "{} ({points} points) in 24 h; largest day in the last {}: {} ({} points)",
                    type_label(*kind, count),
                    rule.days,
                    v.max_count,
                    v.max_points
                ),
                weight: 2,
            });
        }
    }
    out
}

/// Everything unusual in the window of an established principal, with its weight.
fn unusual(
    state: &WindowState,
    agg: &Aggregate,
    rule: &BaselineRule,
    t: i64,
    th: &Thresholds,
) -> Vec<Reason> {
    let mut out = volume_reasons(state, agg, rule, t, th);
    // One reason per kind of novelty (per operation for new operations): networks weigh one
    // each up to two, hours and scopes one however many.
    let of = |kind: NoveltyKind| state.novel.iter().filter(move |n| n.kind == kind);
    for n in of(NoveltyKind::Operation) {
        out.push(Reason {
            code: "new_operation",
            detail: format!("first {} by this principal in {} days", n.value, rule.days),
            weight: 2,
        });
    }
    let list = |kind| of(kind).map(|n| n.value.as_str()).collect::<Vec<_>>();
    let networks = list(NoveltyKind::Network);
    if !networks.is_empty() {
        out.push(Reason {
            code: "new_network",
            detail: format!("new network{} {}", plural(networks.len()), networks.join(", ")),
            weight: networks.len().min(2) as u32,
        });
    }
    if let Some(first) = of(NoveltyKind::Hour).next() {
        out.push(Reason {
            code: "unusual_hour",
            detail: format!(
                "{}; this at {}",
                describe_hours(state.baseline.usual_hours(first.t, rule)),
                list(NoveltyKind::Hour).join(", ")
            ),
            weight: 1,
        });
    }
    let scopes = list(NoveltyKind::Scope);
    if !scopes.is_empty() {
        out.push(Reason {
            code: "new_scope",
            detail: format!("new region or resource group {}", scopes.join(", ")),
            weight: 1,
        });
    }
    let outside = state
        .units
        .iter()
        .filter(|u| u.flags & flags::OUTSIDE_WINDOW != 0)
        .count();
    if outside > 0 {
        out.push(Reason {
            code: "outside_change_window",
            detail: format!("{outside} operations outside the declared change windows"),
            weight: 2,
        });
    }
    out
}

/// Why the plain thresholds apply to this principal.
fn no_history(state: &WindowState, rule: Option<&BaselineRule>, t: i64) -> Vec<Reason> {
    let mut out = Vec::new();
    if let Some(rule) = rule {
        let detail = match state.baseline.first_seen() {
            Some(f) if f <= t.saturating_sub(i64::from(rule.min_history_days) * baseline::DAY_MS) => {
                format!(
                    "no activity in the last {} days: plain thresholds apply",
                    rule.days
                )
            }
            Some(f) => format!(
                "first seen {} ago (less than {} days): plain thresholds apply",
                describe_age(t - f),
                rule.min_history_days
            ),
            None => "never seen before: plain thresholds apply".into(),
        };
        out.push(Reason {
            code: "no_history",
            detail,
            weight: 0,
        });
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn describe_age(ms: i64) -> String {
    let h = ms.max(0) / 3_600_000;
    if h < 48 {
        format!("{h} h")
    } else {
        format!("{} days", h / 24)
    }
}
