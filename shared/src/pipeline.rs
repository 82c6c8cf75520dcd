//! `process_batch`: the one orchestration both functions and the CLI run.
//!
//! Per state key: one load, apply every event of the batch in event-time order, one
//! conditional save of the window together with the alerts it decided (the outbox, see
//! [`crate::outbox`]), then publish those alerts and mark them sent; a batch deciding more than
//! the outbox holds ([`MAX_PENDING`]) is applied and published in as many rounds. On a version
//! conflict it backs off (jittered, exponential, capped, within a budget), reloads and
//! re-applies.
//! Out-of-scope events cause no store request at all, and a batch of pure duplicates causes no
//! write. An account that learns from its first event ([`crate::engine::ObservedSince`]) costs
//! one more read per container before its first decision, and one conditional create ever.
//!
//! Delivery guarantee: a decision is saved before it is published, and published by the one
//! invocation that claimed it (a random claim, see [`crate::outbox`]). Racing writers, the same
//! records delivered twice at once among them, carry it forward without publishing it; each
//! alert is marked sent as soon as it is out, renewing the lease on the rest. A sink failure
//! releases the claim, so the retry publishes at once; a crash leaves the decision pending,
//! and once the lease ran out the retry (or the next invocation for the key) publishes it.
//! Until then an invocation holding the deciding event fails that key retryably
//! ([`PipelineError::OutboxHeld`]) rather than acknowledge an event whose alert is not out.
//! So a decision is published once; only a writer dying after the publish and before marking
//! it sent can repeat it, with the same `dedup_key`.

use crate::alert::Alert;
use crate::decision;
use crate::engine::{Engine, Scored, Skip, StateKey};
use crate::event::{Cloud, ComputeEvent};
use crate::finding;
use crate::outbox::{self, Pending};
use crate::ports::{AlertSink, SaveOutcome, SinkError, StateStore, StoreError, Version};
use crate::settings::Mode;
use crate::window::{Applied, WindowState};
use futures::stream::{self, StreamExt};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use xxhash_rust::xxh3::xxh3_64;

/// Waits between conflicting attempts on one key: "full jitter" exponential backoff, so racing
/// writers spread out instead of colliding again in lockstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Upper bound of the first wait.
    pub base: Duration,
    /// Upper bound of any one wait.
    pub cap: Duration,
    /// Total waiting per key and phase; past it the key fails with a retryable error.
    pub budget: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(10),
            cap: Duration::from_secs(1),
            budget: Duration::from_secs(15),
        }
    }
}

impl Backoff {
    /// The wait after failed attempt `attempt` (0-based): uniform in `[0, min(cap, base * 2^attempt)]`.
    /// `seed` tells racing writers apart; the clock's nanoseconds vary it between calls.
    pub fn delay(&self, attempt: u32, seed: u64) -> Duration {
        let ceiling = self.base.saturating_mul(1u32 << attempt.min(20)).min(self.cap);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&seed.to_le_bytes());
        b[8..12].copy_from_slice(&attempt.to_le_bytes());
        b[12..].copy_from_slice(&nanos.to_le_bytes());
        let r = xxh3_64(&b);
        let ms = ceiling.as_micros() as u64;
        Duration::from_micros(if ms == 0 { 0 } else { r % (ms + 1) })
    }
}

/// Wall-clock epoch milliseconds, the default [`PipelineOptions::clock`].
pub fn system_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Knobs of the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    /// Evaluate and record, but send nothing (roll-out mode).
    pub shadow: bool,
    /// Conditional-save attempts per key before giving up with a retryable error.
    pub max_attempts: u32,
    /// Waits between those attempts.
    pub backoff: Backoff,
    /// How long a writer owns the alerts it saved as pending; a longer publish (or a dead
    /// writer) lets another writer publish them. Must exceed the sink's worst-case send time.
    pub outbox_lease: Duration,
    /// Epoch milliseconds, for outbox leases (tests move it).
    pub clock: fn() -> i64,
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
            backoff: Backoff::default(),
            outbox_lease: Duration::from_secs(60),
            clock: system_clock,
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
    /// An alert decided by an event of this batch is being published by another invocation:
    /// the event is kept (retried) until its alert is out or that invocation's lease ran out.
    #[error("an alert this batch decided is being published by another invocation (retryable)")]
    OutboxHeld,
    /// The key's outbox is full ([`MAX_PENDING`]) of alerts other invocations are publishing:
    /// the events are kept (retried) until it drains, rather than grow the item past its store's
    /// limit.
    #[error("the outbox of this key is full of alerts another invocation is publishing (retryable)")]
    OutboxFull,
}

impl PipelineError {
    /// Would a retry of the invocation help?
    pub fn retryable(&self) -> bool {
        match self {
            PipelineError::Store(StoreError::Transient(_)) | PipelineError::Sink(SinkError::Transient(_)) => {
                true
            }
            PipelineError::Conflicts(_) | PipelineError::OutboxHeld | PipelineError::OutboxFull => true,
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
    /// Alerts published whose outbox entry could not be marked sent: once their lease ran out
    /// they are published again (same `dedup_key`) by the retry or the next writer of the key.
    pub unmarked: usize,
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
    unmarked: usize,
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
    let unknown = if opts.windows_only {
        Unknown::new()
    } else {
        // Boxed: rarely more than a read, and inline it deepens every caller's future type
        // past what the compiler lays out by default.
        Box::pin(first_events(engine, store, &scored, opts, &mut report)).await
    };
    let mut groups: BTreeMap<StateKey, Vec<(usize, Scored)>> = BTreeMap::new();
    for (i, s) in scored {
        groups.entry(s.key.clone()).or_default().push((i, s));
    }
    report.keys = groups.len();
    // Deciding for an account whose start could not be read would decide on the wrong basis
    // (new instead of learning): its keys fail, retryably, and nothing of theirs is applied.
    groups.retain(|key, items| {
        let acct = (items[0].1.ctx.cloud, items[0].1.ctx.account.as_str());
        match unknown.iter().find(|(c, a, _)| (*c, a.as_str()) == acct) {
            None => true,
            Some((_, _, error)) => {
                report.failures.push(KeyFailure {
                    key: key.clone(),
                    events: items.iter().map(|(i, _)| *i).collect(),
                    error: error.clone(),
                });
                false
            }
        }
    });
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
        report.unmarked += r.unmarked;
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

/// An account whose first event could not be read or recorded, and why.
type Unknown = Vec<(Cloud, String, PipelineError)>;

/// Read, or record, the first event of every account of the batch that learns from it
/// ([`crate::engine::ObservedSince::FirstEvent`]) and whose start the engine has not seen yet.
/// The batch's earliest event of the account is the candidate; a conditional create makes the
/// first writer's the one every writer uses.
async fn first_events<S: StateStore>(
    engine: &Engine,
    store: &S,
    scored: &[(usize, Scored)],
    opts: &PipelineOptions,
    report: &mut BatchReport,
) -> Unknown {
    // Per account of the batch, asked once: its earliest event if it needs a start.
    let mut earliest: BTreeMap<(Cloud, &str), Option<i64>> = BTreeMap::new();
    for (_, s) in scored {
        let (c, a, t) = (s.ctx.cloud, s.ctx.account.as_str(), s.ctx.time_ms);
        let e = earliest
            .entry((c, a))
            .or_insert_with(|| engine.needs_first_event(c, a).then_some(t));
        if let Some(e) = e {
            *e = (*e).min(t);
        }
    }
    let mut unknown = Vec::new();
    for ((cloud, account), t) in earliest.into_iter().filter_map(|(k, t)| Some((k, t?))) {
        match first_event(store, (cloud, account), t, opts, report).await {
            Ok(ms) => engine.record_first_event(cloud, account, ms),
            Err(e) => unknown.push((cloud, account.to_string(), e)),
        }
    }
    unknown
}

/// The recorded first event of one account, recorded as `t` if there is none yet.
async fn first_event<S: StateStore>(
    store: &S,
    (cloud, account): (Cloud, &str),
    t: i64,
    opts: &PipelineOptions,
    report: &mut BatchReport,
) -> Result<i64, PipelineError> {
    let key = Engine::first_event_key(cloud, account);
    let mut slept = Duration::ZERO;
    for attempt in 0.. {
        report.store_reads += 1;
        let stored = store.load(&key).await?;
        let version = match stored {
            None => None,
            Some(s) => match decode_first_event(&s.bytes) {
                Some(ms) => return Ok(ms),
                // Like a window that cannot be read: restarted (from this batch), counted,
                // rather than blocking the account for good.
                None => {
                    report.corrupt_states += 1;
                    Some(s.version)
                }
            },
        };
        report.store_writes += 1;
        // Kept as long as a store keeps anything: a start that expired would start learning
        // again, and the principals met then would be taken for old ones.
        let expires_at = (t / 1000).saturating_add(FIRST_EVENT_KEPT_S);
        let bytes = t.to_string();
        match store
            .save(&key, bytes.as_bytes(), expires_at, version.as_ref())
            .await?
        {
            SaveOutcome::Saved => return Ok(t),
            SaveOutcome::Conflict => {
                report.conflicts += 1;
                if !back_off(store, opts, attempt, xxh3_64(key.0.as_bytes()), &mut slept).await {
                    break;
                }
            }
        }
    }
    Err(PipelineError::Conflicts(opts.max_attempts))
}

/// How long a recorded first event is kept: 100 years.
const FIRST_EVENT_KEPT_S: i64 = 100 * 365 * 86_400;

/// How long an item holding unsent alerts is kept at least: as long as SQS can keep a message
/// (its longest retention), so the records a long sink outage parked can still be redriven
/// before the alerts they decided are forgotten. A short window (the seed's 24 h) would let
/// the store drop them first.
const PENDING_KEPT_S: i64 = 14 * 86_400;

/// When the store may forget a key's item: the window's own expiry on the wall clock, and not
/// before [`PENDING_KEPT_S`] from now while alerts wait in its outbox.
fn expiry(
    state: &WindowState,
    eff: &crate::tuning::Effective<'_>,
    pending: &[Pending],
    opts: &PipelineOptions,
) -> i64 {
    let now = (opts.clock)();
    let window = state.store_expiry(eff, now);
    if pending.is_empty() {
        window
    } else {
        window.max((now / 1000).saturating_add(PENDING_KEPT_S))
    }
}

fn decode_first_event(bytes: &[u8]) -> Option<i64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// A window as loaded: decoded (or restarted), its pending alerts, the stored value and version.
struct Loaded {
    state: WindowState,
    pending: Vec<Pending>,
    raw: Vec<u8>,
    version: Option<Version>,
}

async fn load<S: StateStore>(store: &S, key: &StateKey, r: &mut KeyResult) -> Result<Loaded, PipelineError> {
    r.reads += 1;
    let Some(stored) = store.load(key).await? else {
        return Ok(Loaded {
            state: WindowState::new(key),
            pending: Vec::new(),
            raw: Vec::new(),
            version: None,
        });
    };
    let decoded = outbox::split(&stored.bytes)
        .map_err(|e| e.to_string())
        .and_then(|(w, p)| Ok((WindowState::decode(w, key).map_err(|e| e.to_string())?, p)));
    let (state, pending) = decoded.unwrap_or_else(|_| {
        // A window that cannot be read is restarted rather than blocking the key forever;
        // the count is reported so it gets noticed.
        r.corrupt = 1;
        (WindowState::new(key), Vec::new())
    });
    Ok(Loaded {
        state,
        pending,
        raw: stored.bytes,
        version: Some(stored.version),
    })
}

/// Pause before the next conflicting attempt; `false` when the budget is spent.
async fn back_off<S: StateStore>(
    store: &S,
    opts: &PipelineOptions,
    attempt: u32,
    seed: u64,
    slept: &mut Duration,
) -> bool {
    let d = opts.backoff.delay(attempt, seed);
    if attempt + 1 >= opts.max_attempts.max(1) || *slept + d > opts.backoff.budget {
        return false;
    }
    *slept += d;
    store.pause(d).await;
    true
}

/// A decided alert, the destinations of the event that decided it (for its guide) and that
/// event's id.
struct Decided {
    alert: Alert,
    destinations: Vec<String>,
    event: String,
}

/// What [`save_decisions`] saved.
struct Saved {
    /// The entries this writer must publish, in the order they were decided.
    mine: Vec<Pending>,
    /// The items applied and every alert they decided (for shadow mode's report).
    applying: Applying,
    /// Another invocation's live lease holds an alert decided by one of the items.
    held: bool,
}

/// Most alerts the outbox holds (give or take the decisions of one event). The outbox shares
/// the window's item, which Table Storage bounds at 64 KiB (one property) and DynamoDB at
/// 400 KB: a burst of new criticals decides a report per event (260 gallery shares were 88 KB
/// deflated), and reports a failing sink left pending would pile up with every retry. So a
/// write applies events only until the outbox holds this many, and none while it is full: the
/// writer publishes what it holds, then applies the rest; with the sink down the rest is
/// retried later. A report without its guide deflates to a few KB, the window to 16 KiB.
pub const MAX_PENDING: usize = 8;

/// The items applied to `state` in order, and the alerts they decided: up to the first item
/// whose decisions fill the outbox's `room`; none when it is full (the writer first publishes
/// what it took over, see [`process_key`]).
struct Applying {
    alerts: Vec<Decided>,
    /// How many of the items were applied (the rest waits for the outbox to drain).
    applied: usize,
    /// Of those, re-deliveries and events older than their window.
    duplicates: usize,
    too_late: usize,
}

fn apply_items(
    engine: &Engine,
    state: &mut WindowState,
    items: &[(usize, Scored)],
    opts: &PipelineOptions,
    eff: &crate::tuning::Effective<'_>,
    room: Option<usize>,
) -> Applying {
    let mut out = Applying {
        alerts: Vec::new(),
        applied: 0,
        duplicates: 0,
        too_late: 0,
    };
    if room == Some(0) {
        return out;
    }
    for (_, s) in items {
        let (applied, decided) = if opts.windows_only {
            (state.apply(s, eff), 0)
        } else {
            let (applied, verdicts) = decision::step(state, engine, s);
            out.alerts.extend(verdicts.iter().map(|v| Decided {
                alert: finding::build(engine, eff, state, v, &s.ctx),
                destinations: s.ctx.destinations.clone(),
                event: s.ctx.event_id.clone(),
            }));
            (applied, verdicts.len())
        };
        match applied {
            Applied::Duplicate => out.duplicates += 1,
            Applied::TooLate => out.too_late += 1,
            Applied::Counted => {}
        }
        out.applied += 1;
        if decided > 0 && room.is_some_and(|room| out.alerts.len() >= room) {
            break;
        }
    }
    out
}

/// Claim for this writer what it may publish of the loaded outbox and add the new decisions
/// under its claim. Returns whether another invocation's live lease holds an alert decided by
/// one of `items` (the writer must not acknowledge that event yet).
fn take_over(
    pending: &mut Vec<Pending>,
    alerts: &[Decided],
    items: &[(usize, Scored)],
    claim: u64,
    opts: &PipelineOptions,
) -> bool {
    let now = (opts.clock)();
    let lease = now.saturating_add(opts.outbox_lease.as_millis() as i64);
    let mut held = false;
    for p in pending.iter_mut() {
        if outbox::may_publish(p, claim, now) {
            p.claim = claim;
            p.lease_until = lease;
        } else {
            // An entry written before entries named their event (claimed by a hash of its
            // batch, which a new writer cannot match) may be this batch's: kept too, for at
            // most its lease, rather than risk acknowledging its event.
            held |= p.event.is_empty() || items.iter().any(|(_, s)| s.ctx.event_id == p.event);
        }
    }
    for d in alerts {
        if !pending.iter().any(|p| p.alert.dedup_key() == d.alert.dedup_key()) {
            pending.push(Pending {
                claim,
                lease_until: lease,
                alert: d.alert.clone(),
                destinations: d.destinations.clone(),
                event: d.event.clone(),
            });
        }
    }
    held
}

/// Apply the items (as many as the outbox has room for, see [`MAX_PENDING`]), add the new
/// decisions to the outbox under a new claim and take over what this writer may publish, then
/// save window and outbox in one conditional write. The alerts are still without their guide.
#[allow(clippy::too_many_arguments)]
async fn save_decisions<S: StateStore>(
    engine: &Engine,
    store: &S,
    key: &StateKey,
    items: &[(usize, Scored)],
    opts: &PipelineOptions,
    eff: &crate::tuning::Effective<'_>,
    publish: bool,
    r: &mut KeyResult,
) -> Result<Saved, PipelineError> {
    let claim = outbox::new_claim();
    let mut slept = Duration::ZERO;
    for attempt in 0.. {
        let Loaded {
            mut state,
            mut pending,
            raw,
            version,
        } = load(store, key, r).await?;
        // Only what is published is stored pending, so only then is the outbox bounded.
        let room = publish.then(|| MAX_PENDING.saturating_sub(pending.len()));
        let a = apply_items(engine, &mut state, items, opts, eff, room);
        let held = publish && take_over(&mut pending, &a.alerts, &items[..a.applied], claim, opts);
        let mine: Vec<Pending> = pending.iter().filter(|p| p.claim == claim).cloned().collect();
        let bytes = outbox::join(state.encode(), &pending);
        let saved = |mine, applying| Saved { mine, applying, held };
        if bytes == raw {
            return Ok(saved(mine, a));
        }
        r.writes += 1;
        match store
            .save(key, &bytes, expiry(&state, eff, &pending, opts), version.as_ref())
            .await?
        {
            SaveOutcome::Saved => return Ok(saved(mine, a)),
            SaveOutcome::Conflict => {
                r.conflicts += 1;
                if !back_off(store, opts, attempt, claim, &mut slept).await {
                    break;
                }
            }
        }
    }
    Err(PipelineError::Conflicts(opts.max_attempts))
}

/// After `sent` (if any) is out: remove it from the outbox, and renew the lease of this
/// writer's other entries from the time of the write (so a slow sink never outlasts it), or
/// release them (`renew` false: lease 0, after a failure). Returns the entries still this writer's, in
/// order (another may have taken some over); `None` when nothing is stored for the key any
/// more, so no one else holds its entries either.
#[allow(clippy::too_many_arguments)]
async fn settle<S: StateStore>(
    store: &S,
    key: &StateKey,
    claim: u64,
    sent: Option<&Pending>,
    renew: bool,
    opts: &PipelineOptions,
    eff: &crate::tuning::Effective<'_>,
    r: &mut KeyResult,
) -> Result<Option<Vec<Pending>>, PipelineError> {
    let mut slept = Duration::ZERO;
    for attempt in 0.. {
        let Loaded {
            state,
            mut pending,
            raw,
            version,
        } = load(store, key, r).await?;
        if version.is_none() {
            return Ok(None);
        }
        pending.retain(|p| {
            !sent.is_some_and(|s| s.claim == p.claim && s.alert.dedup_key() == p.alert.dedup_key())
        });
        // From each attempt's time: a conflict's back-off must not eat into the lease.
        let lease_until = if renew {
            (opts.clock)().saturating_add(opts.outbox_lease.as_millis() as i64)
        } else {
            0
        };
        for p in pending.iter_mut().filter(|p| p.claim == claim) {
            p.lease_until = lease_until;
        }
        let mine = pending.iter().filter(|p| p.claim == claim).cloned().collect();
        let bytes = outbox::join(state.encode(), &pending);
        if bytes == raw {
            return Ok(Some(mine));
        }
        r.writes += 1;
        match store
            .save(key, &bytes, expiry(&state, eff, &pending, opts), version.as_ref())
            .await?
        {
            SaveOutcome::Saved => return Ok(Some(mine)),
            SaveOutcome::Conflict => {
                r.conflicts += 1;
                if !back_off(store, opts, attempt, claim, &mut slept).await {
                    break;
                }
            }
        }
    }
    Err(PipelineError::Conflicts(opts.max_attempts))
}

/// One key: save the window with its decisions pending, publish what this writer owns, marking
/// each sent; again with the items the outbox had no room for ([`MAX_PENDING`]). A crash
/// before the publish leaves the decision pending: once the lease ran out the retry or any
/// later writer of the key publishes it (until then the retry is told
/// [`PipelineError::OutboxHeld`]); a sink failure releases it to the retry at once, and the
/// items not applied yet are retried with the key.
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
    let publish = !shadow && !opts.windows_only;
    let mut rest = items;
    let mut held = false;
    while !rest.is_empty() {
        let saved = match save_decisions(engine, store, key, rest, opts, &eff, publish, &mut r).await {
            Ok(x) => x,
            Err(e) => {
                r.error = Some(e);
                return r;
            }
        };
        r.duplicates += saved.applying.duplicates;
        r.too_late += saved.applying.too_late;
        held |= saved.held;
        if saved.applying.applied == 0 && saved.mine.is_empty() {
            // Full of entries other invocations hold: no room until they publish them.
            r.error = Some(PipelineError::OutboxFull);
            break;
        }
        rest = &rest[saved.applying.applied.min(rest.len())..];
        if !publish {
            // Nothing is sent, so nothing else holds the decided alerts: guided in place.
            r.alerts.extend(saved.applying.alerts.into_iter().map(|mut d| {
                crate::guide::attach(&mut d.alert, engine, &d.destinations);
                d.alert
            }));
            continue;
        }
        let sent = publish_mine(engine, store, sink, key, saved.mine, opts, &eff, &mut r).await;
        r.alerts.extend(sent);
        if r.error.is_some() {
            // The failed key's records are all retried: the applied ones count once.
            break;
        }
    }
    if held {
        r.error.get_or_insert(PipelineError::OutboxHeld);
    }
    r
}

/// Publish this writer's entries in the order they were decided (the outbox keeps it), each
/// with its guide, marking each sent as soon as it is out. Returns what was published.
#[allow(clippy::too_many_arguments)]
async fn publish_mine<S: StateStore, A: AlertSink>(
    engine: &Engine,
    store: &S,
    sink: &A,
    key: &StateKey,
    mine: Vec<Pending>,
    opts: &PipelineOptions,
    eff: &crate::tuning::Effective<'_>,
    r: &mut KeyResult,
) -> Vec<Alert> {
    let mut queue = std::collections::VecDeque::from(mine);
    let mut sent = Vec::new();
    while let Some(p) = queue.pop_front() {
        let mut alert = p.alert.clone();
        crate::guide::attach(&mut alert, engine, &p.destinations);
        if let Err(e) = sink.send(&alert).await {
            // Released, so the platform's retry publishes at once rather than after the lease
            // (if this write fails too, the lease runs out as after a crash).
            let _ = settle(store, key, p.claim, None, false, opts, eff, r).await;
            r.error = Some(e.into());
            break;
        }
        sent.push(alert);
        match settle(store, key, p.claim, Some(&p), true, opts, eff, r).await {
            Ok(Some(still)) => queue = still.into(),
            Ok(None) => {}
            Err(e) => {
                // Published but still pending: after the lease it is published again, with the
                // same dedup_key. Reported so the platform retries the cleanup.
                r.unmarked = 1;
                r.error.get_or_insert(e);
                break;
            }
        }
    }
    sent
}
