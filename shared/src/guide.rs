//! What the analyst does next: the investigation guide and hunting queries of an alert.
//!
//! The text is data (`catalog/guides.toml`, one entry per catalog row, shared per family); this
//! module fills it in from the alert alone (principal, account, resources, addresses, times), so
//! the Lambda, the Function and the CLI attach the same guide. Every value that reaches a command
//! or a query comes from logs and is attacker-controlled: commands quote it for a POSIX shell,
//! SQL and KQL escape it per dialect ([`sql_str`], [`kql_str`]).

mod book;
mod queries;
mod render;

pub use book::{GuideBook, GuideError, QuestionTpl, RowGuide, Section, StepTpl, BUILTIN_GUIDES};
pub use queries::{kql_str, sql_str, Dialect, QueryName};
pub use render::shell_quote;

use crate::alert::{rfc3339, Alert};
use crate::catalog::{Catalog, OpType};
use crate::engine::Engine;
use serde::{Deserialize, Serialize};

/// OCSF `remediation`: what to do, in a sentence per step, and where to read more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remediation {
    /// The containment and revert steps, numbered, without their commands.
    pub desc: String,
    /// Documentation of the steps.
    pub references: Vec<String>,
}

/// A question the analyst answers, with the command that answers it when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// The question.
    pub ask: String,
    /// AWS CLI or Azure CLI command, filled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// A containment or revert step and the command that does it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Catalog row the step belongs to, or `principal` for containing the identity.
    pub source: String,
    /// What and why.
    pub action: String,
    /// AWS CLI or Azure CLI command, filled in.
    pub command: String,
}

/// A hunting query, ready to paste.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HuntingQuery {
    /// What it looks for.
    pub name: QueryName,
    /// Where it runs.
    pub dialect: Dialect,
    /// The query text.
    pub query: String,
}

/// The guide of one alert (OCSF `unmapped.guide`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guide {
    /// Catalog rows the guide covers: the trigger first, then the evidence rows.
    pub rows: Vec<String>,
    /// Start of the hunting range: one hour before the first event (RFC 3339).
    pub start_dt: String,
    /// End of the hunting range: one hour after the last event (RFC 3339).
    pub end_dt: String,
    /// Questions to answer.
    pub questions: Vec<Question>,
    /// Containment and revert steps, in order.
    pub steps: Vec<Step>,
    /// Hunting queries.
    pub queries: Vec<HuntingQuery>,
    /// Parts cut to fit a delivery size limit, in the order they were cut.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub omitted: Vec<String>,
}

/// Most catalog rows one guide covers (an alert lists at most 10 evidences).
const MAX_ROWS: usize = 6;
/// Most steps one guide lists; the rest is counted in `omitted`.
const MAX_STEPS: usize = 40;
/// Most questions one guide lists.
const MAX_QUESTIONS: usize = 30;
const HOUR_MS: i64 = 3_600_000;

/// What the guide needs beyond the alert: the text, and the accounts the detector is configured
/// for (its own accounts, to answer "is the destination one of ours").
#[derive(Debug, Clone, Copy)]
pub struct GuideInputs<'a> {
    /// The catalog (row types) and its guides.
    pub catalog: &'a Catalog,
    /// Account or subscription ids named in the tuning document.
    pub known_accounts: &'a [String],
    /// Where the event that decided sent data: accounts, organizations, `all` (from the
    /// request; empty when it names none).
    pub destinations: &'a [String],
}

/// Build the guide and attach it to the alert: `remediation` and `unmapped.guide`.
/// `destinations` are those of the event that decided (`EventContext::destinations`).
pub fn attach(alert: &mut Alert, engine: &Engine, destinations: &[String]) {
    let known: Vec<String> = engine.tuning.accounts.keys().cloned().collect();
    let inputs = GuideInputs {
        catalog: &engine.catalog,
        known_accounts: &known,
        destinations,
    };
    let (remediation, guide) = build(alert, inputs);
    alert.remediation = Some(remediation);
    alert.unmapped.guide = Some(guide);
}

/// The rows an alert's guide covers: the critical trigger first, then the evidence rows by
/// risk, each once.
fn rows_of(alert: &Alert) -> Vec<String> {
    let mut rows: Vec<String> = Vec::new();
    let evidence = alert.evidences.iter().map(|e| &e.data.catalog_id);
    for id in alert.unmapped.trigger_catalog_id.iter().chain(evidence) {
        if rows.len() < MAX_ROWS && !rows.contains(id) {
            rows.push(id.clone());
        }
    }
    rows
}

/// Build the guide of an alert. Pure: the same alert and inputs give the same guide.
pub fn build(alert: &Alert, inputs: GuideInputs<'_>) -> (Remediation, Guide) {
    let ctx = render::Context::of(alert);
    let book = &inputs.catalog.guides;
    let rows = rows_of(alert);
    let mut questions = Vec::new();
    let mut steps = Vec::new();
    let mut references: Vec<String> = Vec::new();
    let mut sections: Vec<(&str, &Section)> = Vec::new();
    if let Some(s) = book.common.get(ctx.cloud) {
        sections.push(("common", s));
    }
    let principal = book.principal_section(ctx.cloud, &alert.actor.user.kind);
    for id in &rows {
        for s in book.sections_of(id, inputs.catalog) {
            sections.push((id.as_str(), s));
        }
    }
    for (source, s) in &sections {
        questions.extend(s.questions.iter().flat_map(|q| ctx.questions(q)));
        steps.extend(s.steps.iter().flat_map(|t| ctx.steps(source, t)));
        references.extend(s.references.iter().cloned());
    }
    if let Some(p) = principal {
        questions.extend(p.questions.iter().flat_map(|q| ctx.questions(q)));
        steps.extend(p.steps.iter().flat_map(|t| ctx.steps("principal", t)));
    }
    if let Some(q) = destination_question(&rows, inputs) {
        questions.push(q);
    }
    questions.extend(destination_checks(ctx.cloud, inputs.destinations));
    dedup(&mut questions);
    // Two rows of one family (a GPU row and its plain row) give the same steps: each is listed
    // once, under the first row that gave it, so the cap keeps room for other rows' steps.
    dedup_by(&mut steps, |s| (s.action.clone(), s.command.clone()));
    references.sort();
    references.dedup();
    let mut omitted = Vec::new();
    if questions.len() > MAX_QUESTIONS {
        omitted.push(format!("questions:{}", questions.len() - MAX_QUESTIONS));
        questions.truncate(MAX_QUESTIONS);
    }
    if steps.len() > MAX_STEPS {
        omitted.push(format!("steps:{}", steps.len() - MAX_STEPS));
        steps.truncate(MAX_STEPS);
    }
    let remediation = Remediation {
        desc: describe(&steps),
        references,
    };
    let guide = Guide {
        rows,
        start_dt: rfc3339(ctx.start_ms),
        end_dt: rfc3339(ctx.end_ms),
        questions,
        steps,
        queries: queries::all(&ctx),
        omitted,
    };
    (remediation, guide)
}

/// "Is the destination one of ours", for alerts about shares (and uses of a share), naming the accounts
/// the tuning document configures.
fn destination_question(rows: &[String], inputs: GuideInputs<'_>) -> Option<Question> {
    let outward = rows.iter().any(|id| {
        inputs
            .catalog
            .get(id)
            .is_some_and(|e| e.op_type == OpType::Share || e.when.as_ref().is_some_and(|w| w.share.is_some()))
    });
    if !outward {
        return None;
    }
    let known = if inputs.known_accounts.is_empty() {
        "none are configured in the tuning document".to_string()
    } else {
        format!(
            "configured in the tuning document: {}",
            inputs.known_accounts.join(", ")
        )
    };
    Some(Question {
        ask: format!(
            "Is the destination account, subscription or tenant one of ours? Compare it with the organization's accounts and with the accounts this detector knows ({known})."
        ),
        command: None,
    })
}

/// One question per destination the event named: an AWS account is looked up in the
/// organization, a public share is said to be one, the source of a copy is asked about.
fn destination_checks(cloud: &str, destinations: &[String]) -> Vec<Question> {
    destinations
        .iter()
        .map(|d| {
            let account = d.len() == 12 && d.bytes().all(|b| b.is_ascii_digit());
            use crate::engine::Destination;
            if let Destination::ExportedFrom(account) = Destination::of(d) {
                return Question {
                    ask: format!(
                        "The principal does not export this kind of data from {} routinely: is the export part of its job (a backup product, a scanner, a migration), and who holds the download URL or the exported file?",
                        render::shell_quote(account)
                    ),
                    command: None,
                };
            }
            if let Destination::CopiedFrom(sub) = Destination::of(d) {
                return Question {
                    ask: format!(
                        "The data was copied from subscription {}: is it one of ours, and should this principal copy from it into this subscription?",
                        render::shell_quote(sub)
                    ),
                    command: Some(format!(
                        "az account show --subscription {}",
                        render::shell_quote(sub)
                    )),
                };
            }
            match (cloud, d.as_str()) {
                ("aws", "all") => Question {
                    ask: "The share is public (all): anyone can copy it. Contain first, then find who used it (resource_activity).".into(),
                    command: None,
                },
                ("aws", _) if account => Question {
                    ask: format!("The event shared with account {d}: is it in the organization (or one of the configured accounts)?"),
                    command: Some(format!("aws organizations describe-account --account-id {d}")),
                },
                _ => Question {
                    ask: format!(
                        "The event named the destination {}: is it ours?",
                        render::shell_quote(d)
                    ),
                    command: None,
                },
            }
        })
        .collect()
}

fn dedup_by<T, K: PartialEq>(items: &mut Vec<T>, key: impl Fn(&T) -> K) {
    let mut seen: Vec<K> = Vec::with_capacity(items.len());
    items.retain(|x| {
        let k = key(x);
        if seen.contains(&k) {
            false
        } else {
            seen.push(k);
            true
        }
    });
}

fn dedup<T: PartialEq + Clone>(items: &mut Vec<T>) {
    dedup_by(items, T::clone);
}

/// The steps as numbered sentences: the OCSF `remediation.desc`.
fn describe(steps: &[Step]) -> String {
    let mut actions: Vec<&str> = Vec::new();
    for s in steps {
        if !actions.contains(&s.action.as_str()) {
            actions.push(&s.action);
        }
    }
    actions
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{}. {a}", i + 1))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The hunting range of an alert: one hour before its first event to one hour after its last.
pub fn hunting_range(alert: &Alert) -> (i64, i64) {
    (
        alert.finding_info.first_seen_time.saturating_sub(HOUR_MS),
        alert.finding_info.last_seen_time.saturating_add(HOUR_MS),
    )
}

/// Why an alert document cannot be made to fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    /// Even with every optional part cut, the document is larger than the limit.
    #[error("alert document is {bytes} bytes after every cut, above the {limit}-byte limit")]
    TooLarge {
        /// Size after every cut.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
}

/// SNS refuses messages above 256 KiB (message, subject and attributes together).
pub const SNS_MAX_BYTES: usize = 262_144;
/// What the SNS sink allows the JSON body: the limit less room for the 100-character subject
/// and the four message attributes.
pub const SNS_BODY_BUDGET: usize = SNS_MAX_BYTES - 4_096;
/// What the Logic App sink allows the JSON body. Logic Apps accept far larger requests, but the
/// body usually goes on to mail or chat: the same budget keeps both channels' documents equal.
pub const LOGIC_APP_BODY_BUDGET: usize = SNS_BODY_BUDGET;

/// Parts of the document cut, in this order, when it does not fit: the broad pivots before the
/// principal's own activity, queries before questions before steps (the steps stay in words in
/// `remediation.desc`), and the evidence last. The guide object itself stays, naming the cuts.
pub const CUT_ORDER: [&str; 7] = [
    "queries:same_addresses",
    "queries:resource_activity",
    "queries:principal_activity",
    "questions",
    "steps",
    "remediation.references",
    "evidence",
];

/// The alert as JSON within `limit` bytes: whole when it fits, otherwise with parts cut in
/// [`CUT_ORDER`] until it does. What was cut is named in `unmapped.guide.omitted`.
pub fn fit(alert: &Alert, limit: usize) -> Result<(String, Vec<&'static str>), FitError> {
    let text = to_json(alert);
    if text.len() <= limit {
        return Ok((text, Vec::new()));
    }
    let mut a = alert.clone();
    let mut cut = Vec::new();
    let mut bytes = text.len();
    for part in CUT_ORDER {
        cut_part(&mut a, part);
        cut.push(part);
        if let Some(g) = a.unmapped.guide.as_mut() {
            g.omitted.push(part.to_string());
        }
        let text = to_json(&a);
        bytes = text.len();
        if bytes <= limit {
            return Ok((text, cut));
        }
    }
    Err(FitError::TooLarge { bytes, limit })
}

fn to_json(alert: &Alert) -> String {
    // Serializing plain structs with string keys cannot fail.
    serde_json::to_string(alert).unwrap_or_default()
}

fn cut_part(a: &mut Alert, part: &str) {
    if let Some(name) = part.strip_prefix("queries:") {
        if let Some(g) = a.unmapped.guide.as_mut() {
            g.queries.retain(|q| q.name.as_str() != name);
        }
        return;
    }
    match part {
        "questions" => {
            if let Some(g) = a.unmapped.guide.as_mut() {
                g.questions.clear();
            }
        }
        "steps" => {
            if let Some(g) = a.unmapped.guide.as_mut() {
                g.steps.clear();
            }
        }
        "guide" => {
            a.unmapped.guide = None;
            if let Some(r) = a.remediation.as_mut() {
                r.desc
                    .push_str(" [guide omitted: size limit; run `t1578 show` for it]");
            }
        }
        "remediation.references" => {
            if let Some(r) = a.remediation.as_mut() {
                r.references.clear();
            }
        }
        _ => {
            a.evidences.truncate(1);
            a.finding_info.related_events.truncate(1);
            a.resources.truncate(1);
        }
    }
}
