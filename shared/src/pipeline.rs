//! `process_batch`: the one orchestration both functions and the CLI run.
//!
//! Per state key: one load, apply every event of the batch in event-time order, publish new
//! alerts, one conditional save. On a version conflict it reloads and re-applies; alerts it
//! already published in this invocation are not published again. Out-of-scope events cause
//! no store request at all, and a batch of pure duplicates causes no write.
//!
//! Delivery guarantee: an alert is recorded in state only after the sink accepted it. If the
//! invocation fails between the two, the retry publishes it again with the same `dedup_key`:
//! alerts are never lost, and a rare repeat carries the key a consumer can drop it by.

use crate::alert::Alert;
use crate::decision;
use crate::engine::{Engine, Scored, Skip, StateKey};
use crate::event::ComputeEvent;
use crate::finding;
use crate::ports::{AlertSink, SaveOutcome, SinkError, StateStore, StoreError, Version};
use crate::settings::Mode;
use crate::window::{Applied, WindowState};
use futures::stream::{self, StreamExt};
use std::collections::{BTreeMap, HashSet};

/// Knobs of the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    /// Evaluate and record, but send nothing (roll-out mode).
    pub shadow: bool,
    /// Conditional-save attempts per key before giving up with a retryable error.
    pub max_attempts: u32,
    /// Keys processed concurrently.
    pub concurrency: usize,
    /// Update the windows and decide nothing: for readers of the windows themselves (the seed
    /// query's summarize), which would build and drop every alert otherwise.
    pub windows_only: bool,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            shadow: false,
            max_attempts: 40,
            concurrency: 8,
            windows_only: false,
        }
    }
}

/// Why a key could not be processed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The alert sink failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// Too many concurrent writers on one key.
    #[error("state key still conflicting after {0} attempts (retryable)")]
    Conflicts(u32),
}

impl PipelineError {
    /// Would a retry of the invocation help?
    pub fn retryable(&self) -> bool {
        match self {
            PipelineError::Store(StoreError::Transient(_)) | PipelineError::Sink(SinkError::Transient(_)) => {
                true
            }
            PipelineError::Conflicts(_) => true,
            PipelineError::Store(StoreError::Permanent(_)) | PipelineError::Sink(SinkError::Permanent(_)) => {
                false
            }
        }
    }
}

/// A key that failed, and which input events it held.
#[derive(Debug, Clone)]
pub struct KeyFailure {
    /// The key.
    pub key: StateKey,
    /// Indexes into the batch of the events routed to it.
    pub events: Vec<usize>,
    /// The error.
    pub error: PipelineError,
}

/// What a batch did.
#[derive(Debug, Clone, Default)]
pub struct BatchReport {
    /// Events given.
    pub events: usize,
    /// Events that scored (in scope and counted).
    pub scored: usize,
    /// Events whose operation is not in the catalog.
    pub out_of_scope: usize,
    /// Failed, dry-run or uncounted phases.
    pub not_counted: usize,
    /// Calls by AWS services, not counted.
    pub service_callers: usize,
    /// Calls by allowlisted principals, not counted.
    pub allowlisted: usize,
    /// Events already counted before (re-deliveries).
    pub duplicates: usize,
    /// Events older than their window.
    pub too_late: usize,
    /// Distinct keys touched.
    pub keys: usize,
    /// Alerts decided (sent, or only logged in shadow mode).
    pub alerts: Vec<Alert>,
    /// Store loads.
    pub store_reads: usize,
    /// Store conditional saves.
    pub store_writes: usize,
    /// Save conflicts retried.
    pub conflicts: usize,
    /// Stored windows that could not be decoded and were restarted.
    pub corrupt_states: usize,
    /// Keys that failed.
    pub failures: Vec<KeyFailure>,
}

impl BatchReport {
    /// True when a failure is worth retrying the whole invocation for.
    pub fn has_retryable_failure(&self) -> bool {
        self.failures.iter().any(|f| f.error.retryable())
    }
}

#[derive(Default)]
struct KeyResult {
    alerts: Vec<Alert>,
    duplicates: usize,
    too_late: usize,
    reads: usize,
    writes: usize,
    conflicts: usize,
    corrupt: usize,
    error: Option<PipelineError>,
}

/// Score, group by key and run every key through its window.
pub async fn process_batch<S: StateStore, A: AlertSink>(
    engine: &Engine,
    store: &S,
    sink: &A,
    events: &[ComputeEvent],
    opts: &PipelineOptions,
) -> BatchReport {
    let mut report = BatchReport::default();
    let mut scored = Vec::with_capacity(events.len());
    for (i, ev) in events.iter().enumerate() {
        match engine.score(ev) {
            Ok(s) => scored.push((i, s)),
            Err(Skip::NotInCatalog) => report.out_of_scope += 1,
            Err(Skip::NotCounted) => report.not_counted += 1,
            Err(Skip::ServiceCaller) => report.service_callers += 1,
            Err(Skip::Allowlisted) => report.allowlisted += 1,
        }
    }
    let mut r = process_scored(engine, store, sink, scored, opts).await;
    r.events = events.len();
    r.out_of_scope = report.out_of_scope;
    r.not_counted = report.not_counted;
    r.service_callers = report.service_callers;
    r.allowlisted = report.allowlisted;
    r
}

/// Run events already scored by [`Engine::score`] (each with the index it had in the caller's
/// batch) through their windows. For callers that score while reading, to score only once.
pub async fn process_scored<S: StateStore, A: AlertSink>(
    engine: &Engine,
    store: &S,
    sink: &A,
    scored: Vec<(usize, Scored)>,
    opts: &PipelineOptions,
) -> BatchReport {
    let mut report = BatchReport {
        events: scored.len(),
        scored: scored.len(),
        ..Default::default()
    };
    let mut groups: BTreeMap<StateKey, Vec<(usize, Scored)>> = BTreeMap::new();
    for (i, s) in scored {
        groups.entry(s.key.clone()).or_default().push((i, s));
    }
    report.keys = groups.len();
    let results: Vec<(StateKey, Vec<usize>, KeyResult)> = stream::iter(groups)
        .map(|(key, mut items)| async move {
            items.sort_by(|a, b| {
                a.1.ctx
                    .time_ms
                    .cmp(&b.1.ctx.time_ms)
                    .then_with(|| a.1.ctx.event_id.cmp(&b.1.ctx.event_id))
            });
            let r = process_key(engine, store, sink, &key, &items, opts).await;
            (key, items.iter().map(|(i, _)| *i).collect(), r)
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    for (key, idx, r) in results {
        report.duplicates += r.duplicates;
        report.too_late += r.too_late;
        report.store_reads += r.reads;
        report.store_writes += r.writes;
        report.conflicts += r.conflicts;
        report.corrupt_states += r.corrupt;
        report.alerts.extend(r.alerts);
        if let Some(error) = r.error {
            report.failures.push(KeyFailure {
                key,
                events: idx,
                error,
            });
        }
    }
    // Keys first, then a permutation: an alert document is large to move around.
    report
        .alerts
        .sort_by_cached_key(|a| (a.time, a.dedup_key().to_string()));
    report
}

async fn process_key<S: StateStore, A: AlertSink>(
    engine: &Engine,
    store: &S,
    sink: &A,
    key: &StateKey,
    items: &[(usize, Scored)],
    opts: &PipelineOptions,
) -> KeyResult {
    let mut r = KeyResult::default();
    let eff = engine.effective(items.first().map_or("", |(_, s)| s.ctx.account.as_str()));
    let shadow = opts.shadow || eff.mode == Mode::Shadow;
    let mut published: HashSet<String> = HashSet::new();
    let mut sent: Vec<Alert> = Vec::new();
    for _ in 0..opts.max_attempts.max(1) {
        r.reads += 1;
        let loaded = match store.load(key).await {
            Ok(l) => l,
            Err(e) => {
                r.error = Some(e.into());
                return r;
            }
        };
        let (mut state, version, before): (WindowState, Option<Version>, Vec<u8>) = match loaded {
            Some(stored) => match WindowState::decode(&stored.bytes, key) {
                Ok(s) => (s, Some(stored.version), stored.bytes),
                Err(_) => {
                    // A window that cannot be read is restarted rather than blocking the key
                    // forever; the count is reported so it gets noticed.
                    r.corrupt = 1;
                    (WindowState::new(key), Some(stored.version), Vec::new())
                }
            },
            None => (WindowState::new(key), None, Vec::new()),
        };
        let mut alerts = Vec::new();
        let (mut dups, mut late) = (0, 0);
        for (_, s) in items {
            let (applied, a) = if opts.windows_only {
                (state.apply(s, &eff), Vec::new())
            } else {
                let (applied, verdicts) = decision::step(&mut state, engine, s);
                let mut alerts: Vec<Alert> = verdicts
                    .iter()
                    .map(|v| finding::build(engine, &eff, &state, v, &s.ctx))
                    .collect();
                // Every decided alert carries its guide, whichever sink or printer gets it.
                for a in &mut alerts {
                    crate::guide::attach(a, engine, &s.ctx.destinations);
                }
                (applied, alerts)
            };
            match applied {
                Applied::Duplicate => dups += 1,
                Applied::TooLate => late += 1,
                Applied::Counted => {}
            }
            alerts.extend(a);
        }
        r.duplicates = dups;
        r.too_late = late;
        let bytes = state.encode();
        if bytes == before {
            return r;
        }
        if !shadow {
            for a in &alerts {
                if published.contains(a.dedup_key()) {
                    continue;
                }
                if let Err(e) = sink.send(a).await {
                    r.error = Some(e.into());
                    return r;
                }
                published.insert(a.dedup_key().to_string());
                sent.push(a.clone());
            }
        }
        r.writes += 1;
        match store
            .save(key, &bytes, state.expires_at(&eff), version.as_ref())
            .await
        {
            Ok(SaveOutcome::Saved) => {
                r.alerts = if shadow { alerts } else { sent };
                return r;
            }
            Ok(SaveOutcome::Conflict) => {
                // Alerts this attempt published stay in `published`: the re-applied window
                // decides them again and records them without resending.
                r.conflicts += 1;
            }
            Err(e) => {
                r.error = Some(e.into());
                return r;
            }
        }
    }
    r.error = Some(PipelineError::Conflicts(opts.max_attempts));
    r
}
