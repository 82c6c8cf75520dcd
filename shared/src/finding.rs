//! Builds the alert document (an OCSF Detection Finding) from a decision and the window it
//! was made on. The window keeps the evidence; [`crate::decision`] says what to report and why;
//! this module only writes it down.
//!
//! Design decisions: `finding_info.uid` names the incident and stays the same across its
//! updates (`activity_id` 1 Create, 2 Update, with `count` the number of reports so far);
//! `metadata.correlation_uid` is the deterministic id of this one report, the dedup key a
//! consumer drops repeats by; `finding_info.desc` says in words why the activity is unusual for
//! its principal, and `unmapped.baseline` says the same in fields.

use crate::alert::{
    rfc3339, technique_name, Actor, Alert, AllowlistNote, Analytic, Api, AttackMapping, BaselineView,
    CloudAccount, CloudInfo, Decision, Endpoint, EvidenceArtifact, EvidenceData, FindingInfo, FindingView,
    Metadata, Named, Product, ReasonView, RelatedEvent, Request, ResourceRef, Session, SourceIp, Tier,
    TuningApplied, User, ATTACK_VERSION, OCSF_VERSION,
};
use crate::decision::{Activity, Verdict};
use crate::engine::{flags, Engine, EventContext};
use crate::event::{Cloud, PrincipalKind};
use crate::schedule::WindowPosition;
use crate::settings::Mode;
use crate::tuning::Effective;
use crate::window::{Listed, WindowState};
use std::collections::BTreeSet;
use xxhash_rust::xxh3::xxh3_128;

/// The alert for a decision, from the window state right after the event that caused it.
pub fn build(
    engine: &Engine,
    eff: &Effective,
    w: &WindowState,
    v: &Verdict,
    trigger: &EventContext,
) -> Alert {
    let (severity_id, severity) = v.tier.severity().ocsf();
    let (activity_id, activity_name) = match v.activity {
        Activity::Create => (1, "Create"),
        Activity::Update => (2, "Update"),
    };
    let provider = match trigger.cloud {
        Cloud::Aws => "AWS",
        Cloud::Azure => "Azure",
    };
    let title = title(w, v);
    Alert {
        class_uid: 2004,
        class_name: "Detection Finding".into(),
        category_uid: 2,
        category_name: "Findings".into(),
        activity_id,
        activity_name: activity_name.into(),
        type_uid: 200400 + u32::from(activity_id),
        type_name: format!("Detection Finding: {activity_name}"),
        time: trigger.time_ms,
        time_dt: rfc3339(trigger.time_ms),
        count: v.count,
        severity_id,
        severity: severity.into(),
        status_id: 1,
        status: "New".into(),
        // A decision in a shadow-mode account is a finding nobody is asked to act on.
        is_alert: eff.mode == Mode::Alert,
        message: format!("{title} in {provider} {}", w.who.account),
        risk_score: v.agg.total_risk,
        risk_level_id: severity_id - 1,
        risk_level: severity.into(),
        metadata: metadata(v, trigger),
        finding_info: finding_info(engine, w, v, title),
        cloud: cloud(w, trigger.cloud),
        actor: actor(w),
        resources: v
            .agg
            .resources
            .iter()
            .map(|r| ResourceRef { uid: r.clone() })
            .collect(),
        evidences: evidences(w),
        unmapped: unmapped(engine, eff, w, v, trigger),
        // The guide is attached by the pipeline (`guide::attach`) to every decided alert.
        remediation: None,
    }
}

fn title(w: &WindowState, v: &Verdict) -> String {
    format!(
        "{} by {}: {} operations on {} resources, risk {}",
        match v.tier {
            Tier::Critical => "Critical compute change",
            Tier::HighRisk => "High-risk compute activity",
            Tier::Elevated => "Elevated compute activity",
            Tier::Bulk => "Bulk compute activity",
            Tier::Suspicious => "Suspicious compute activity",
        },
        w.who.name,
        v.agg.operation_count,
        v.agg.unique_resources,
        v.agg.total_risk
    )
}

fn metadata(v: &Verdict, trigger: &EventContext) -> Metadata {
    let h = format!(
        "{:032x}",
        xxh3_128(format!("{}\u{1f}{}", v.decision_uid, trigger.event_id).as_bytes())
    );
    Metadata {
        version: OCSF_VERSION.into(),
        uid: format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        ),
        correlation_uid: v.decision_uid.clone(),
        product: Product {
            name: "t1578".into(),
            vendor_name: "t1578 detector".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        profiles: vec!["cloud".into(), "datetime".into()],
    }
}

/// The finding in words: what crossed which line, then why it is unusual for this principal.
fn describe(engine: &Engine, v: &Verdict) -> String {
    let head = match (&v.critical, v.tier) {
        (Some(id), _) => engine
            .catalog
            .get(id)
            .map(|e| format!("Critical single event: {}", e.description))
            .unwrap_or_else(|| "Critical single event".into()),
        (None, Tier::Critical) => "A finding opened by a single-event critical".to_string(),
        (None, _) if v.reasons.iter().any(|r| r.code == crate::decision::OUTSIDE_AWS) => {
            "An EC2 instance's role credentials used from outside AWS".to_string()
        }
        (None, t) => t.seed_reason().to_string(),
    };
    let mut out = head;
    let signs: Vec<&str> = v.reasons.iter().map(|r| r.detail.as_str()).collect();
    if !signs.is_empty() {
        // The root user's threshold tier, or an instance's credentials used outside AWS, fire
        // without the history's signs: they are context.
        let alone = v.reasons.iter().any(|r| crate::decision::fires_alone(r.code));
        let lead = if v.established && !alone {
            "Unusual for this principal"
        } else {
            "Context"
        };
        out.push_str(&format!(". {lead}: {}", signs.join("; ")));
    }
    if !v.updated_because.is_empty() {
        out.push_str(&format!(
            ". Update {} of this finding: {}",
            v.count,
            v.updated_because.join("; ")
        ));
    }
    out
}

fn attacks(engine: &Engine, w: &WindowState) -> (Vec<AttackMapping>, Vec<String>) {
    let mut subs = BTreeSet::new();
    let mut related = BTreeSet::new();
    for e in w
        .evidence
        .iter()
        .filter_map(|e| engine.catalog.get(&e.catalog_id))
    {
        if e.technique != "T1578" {
            subs.insert(e.technique.clone());
        }
        related.extend(e.related.iter().cloned());
    }
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
    let list = if subs.is_empty() {
        vec![mapping(None)]
    } else {
        subs.iter().map(|s| mapping(Some(s))).collect()
    };
    (list, related.into_iter().collect())
}

fn finding_info(engine: &Engine, w: &WindowState, v: &Verdict, title: String) -> FindingInfo {
    let profile = engine.profile.name;
    FindingInfo {
        uid: v.finding_uid.clone(),
        title,
        desc: describe(engine, v),
        types: vec![v.tier.as_str().into()],
        first_seen_time: v.agg.first_seen,
        first_seen_time_dt: rfc3339(v.agg.first_seen),
        last_seen_time: v.agg.last_seen,
        last_seen_time_dt: rfc3339(v.agg.last_seen),
        related_events_count: v.agg.operation_count,
        attacks: attacks(engine, w).0,
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
        related_events: w
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
    }
}

fn recent(list: &[Listed]) -> Vec<&Listed> {
    let mut v: Vec<&Listed> = list.iter().collect();
    v.sort_by_key(|x| std::cmp::Reverse(x.t));
    v
}

fn cloud(w: &WindowState, c: Cloud) -> CloudInfo {
    let (provider, kind, type_id) = match c {
        Cloud::Aws => ("AWS", "AWS Account", 10),
        Cloud::Azure => ("Azure", "Azure Subscription", 13),
    };
    CloudInfo {
        provider: provider.into(),
        account: CloudAccount {
            uid: w.who.account.clone(),
            kind: kind.into(),
            type_id,
        },
        region: recent(&w.scopes).first().map(|x| x.value.clone()),
    }
}

fn actor(w: &WindowState) -> Actor {
    let type_id = match w.who.kind {
        PrincipalKind::User => 1,
        PrincipalKind::Root => 2,
        PrincipalKind::AwsService | PrincipalKind::ManagedIdentity | PrincipalKind::ServicePrincipal => 3,
        _ => 99,
    };
    Actor {
        user: User {
            uid: w.who.key.clone(),
            name: w.who.name.clone(),
            kind: w.who.kind.as_str().into(),
            type_id,
        },
        session: w.who.session.clone().map(|uid| Session { uid }),
    }
}

fn flag_names(f: u8) -> Vec<String> {
    [
        (flags::IAC_IN_WINDOW, "iac_in_change_window"),
        (flags::OUTSIDE_WINDOW, "outside_change_window"),
        (flags::UNFAMILIAR_IP, "unfamiliar_ip"),
        (flags::KNOWN_DESTINATION, "known_destination"),
        (flags::OWN_DESTINATION, "own_destination"),
    ]
    .iter()
    .filter(|(b, _)| f & b != 0)
    .map(|(_, n)| n.to_string())
    .collect()
}

fn evidences(w: &WindowState) -> Vec<EvidenceArtifact> {
    w.evidence
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
        .collect()
}

fn tuning_applied(engine: &Engine, w: &WindowState, trigger: &EventContext) -> TuningApplied {
    // Every kept unit is in the window the aggregate summed (it was pruned to it).
    let flagged = |bit: u8| w.units.iter().filter(|u| u.flags & bit != 0).count() as u32;
    TuningApplied {
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
            .allow_notes(&w.who.key, &w.who.account, trigger.time_ms)
            .into_iter()
            .map(|(a, status)| AllowlistNote {
                principal: a.pattern.clone(),
                reason: a.reason.clone(),
                status: status.into(),
            })
            .collect(),
    }
}

fn baseline_view(eff: &Effective, w: &WindowState, v: &Verdict, t: i64) -> Option<BaselineView> {
    let rule = eff.baseline?;
    Some(BaselineView {
        established: v.established,
        days: rule.days,
        first_seen_dt: w.baseline.first_seen().map(rfc3339),
        active_days: w.baseline.active_days(t, &rule),
        unusual_score: v.reasons.iter().map(|r| r.weight).sum(),
        reasons: v
            .reasons
            .iter()
            .map(|r| ReasonView {
                code: r.code.into(),
                detail: r.detail.clone(),
                weight: r.weight,
            })
            .collect(),
    })
}

fn unmapped(
    engine: &Engine,
    eff: &Effective,
    w: &WindowState,
    v: &Verdict,
    trigger: &EventContext,
) -> Decision {
    let agg = &v.agg;
    Decision {
        tier: v.tier,
        profile: engine.profile.name.as_str().into(),
        catalog_version: engine.catalog.version.clone(),
        operation_count: agg.operation_count,
        unique_resources: agg.unique_resources,
        counts_are_lower_bounds: agg.lower_bound,
        operation_types: agg
            .operation_types
            .iter()
            .map(|t| t.as_str().to_string())
            .collect(),
        source_ips: recent(&w.ips)
            .into_iter()
            .map(|x| SourceIp {
                ip: x.value.clone(),
                unfamiliar: w.unfamiliar.contains(&x.h),
            })
            .collect(),
        scopes: recent(&w.scopes).into_iter().map(|x| x.value.clone()).collect(),
        user_agent: w.who.user_agent.clone(),
        trigger_catalog_id: v.critical.clone(),
        related_techniques: attacks(engine, w).1,
        tuning: tuning_applied(engine, w, trigger),
        finding: FindingView {
            activity: match v.activity {
                Activity::Create => "create",
                Activity::Update => "update",
            }
            .into(),
            count: v.count,
            updated_because: v.updated_because.clone(),
        },
        baseline: baseline_view(eff, w, v, trigger.time_ms),
        guide: None,
    }
}
