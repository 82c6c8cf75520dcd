//! The edge contract: records come in with their positions, and each leaves with one
//! [`Outcome`]. The Lambda, the Function and the CLI keep their record bookkeeping here and only
//! map the outcomes to their platform (a partial-batch response, a status code plus dead
//! letters, an exit summary).
//!
//! - [`Outcome::Done`]: processed (counted, a duplicate, out of scope, or too late), nothing owed.
//! - [`Outcome::Retry`]: a transient failure of its state key; the platform should deliver it
//!   again. Safe, because windows are idempotent and alerts go through the outbox.
//! - [`Outcome::Park`]: retrying cannot help (the record is malformed, the store or sink refuses,
//!   or the platform's retry budget is spent): keep it, with its reason, where an operator can
//!   redrive it.
//!
//! Every outcome carries a short `kind` (`invalid_json`, `missing_field`, `state_transient`,
//! ...) beside its reason, so every edge counts and reports them the same way through one
//! [`Tally`]: a [`Ledger`] holds one delivery's records (a Lambda or Function batch) and makes
//! its tally, while the CLI, which streams millions of records and cannot keep a per-record
//! ledger, adds each record's outcome to a tally as it goes. A tally is bounded: counts by
//! outcome and by kind, and the first few records that did not end `Done`, with position.

use crate::event::ComputeEvent;
use crate::pipeline::{BatchReport, KeyFailure};
use std::collections::BTreeMap;
use std::fmt::Display;

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Processed.
    Done,
    /// Deliver again later (transient failure).
    Retry(String),
    /// Keep aside with the reason (permanent failure).
    Park(String),
}

impl Outcome {
    /// Short name for logs and tables.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Retry(_) => "retry",
            Outcome::Park(_) => "park",
        }
    }
}

/// How far ahead of the clock an event may be dated: service clocks differ by seconds, so an
/// event an hour ahead is bad input (a wrong clock or zone, a test record, a damaged export).
/// Counted, it would make the principal's real events "too late" for a window and be kept
/// until its own time: parked instead, with the reason.
pub const MAX_AHEAD_MS: i64 = 3_600_000;

/// The kind of a record parked for its time ([`MAX_AHEAD_MS`]).
pub const TIME_AHEAD: &str = "time_ahead";

/// Records of one delivery, with positions, the events they became and their outcomes.
#[derive(Debug, Clone)]
pub struct Ledger<P> {
    /// Events dated after this (epoch ms) are parked, not counted.
    not_after: i64,
    positions: Vec<P>,
    /// For each record, its outcome and the outcome's kind (`done` until rejected or settled).
    outcomes: Vec<(&'static str, Outcome)>,
    events: Vec<ComputeEvent>,
    /// For each event, the record it came from.
    origin: Vec<usize>,
}

impl<P> Default for Ledger<P> {
    fn default() -> Self {
        Ledger {
            not_after: i64::MAX,
            positions: Vec::new(),
            outcomes: Vec::new(),
            events: Vec::new(),
            origin: Vec::new(),
        }
    }
}

impl<P: Display> Ledger<P> {
    /// An empty ledger.
    pub fn new() -> Ledger<P> {
        Ledger::default()
    }

    /// An empty ledger of a delivery received at `now_ms` (epoch ms): events dated more than
    /// [`MAX_AHEAD_MS`] after it are parked as `time_ahead`.
    pub fn received_at(now_ms: i64) -> Ledger<P> {
        Ledger {
            not_after: now_ms.saturating_add(MAX_AHEAD_MS),
            ..Ledger::default()
        }
    }

    /// Why `ev` would be parked as [`TIME_AHEAD`], if it would: for an edge that logs its
    /// rejections as it reads (the Lambda); [`Ledger::event`] applies it anyway.
    pub fn ahead(&self, ev: &ComputeEvent) -> Option<String> {
        if ev.time_ms <= self.not_after {
            return None;
        }
        let ahead_h = ev
            .time_ms
            .saturating_sub(self.not_after)
            .saturating_add(MAX_AHEAD_MS) as f64
            / 3_600_000.0;
        Some(format!(
            "event time {} is {ahead_h:.1} h ahead of the clock (more than {} h): not counted, so it cannot hold back the principal's window",
            crate::alert::rfc3339(ev.time_ms),
            MAX_AHEAD_MS / 3_600_000
        ))
    }

    /// A record that became an event; its outcome is settled by [`Ledger::settle`]. One dated
    /// too far ahead is parked instead ([`Ledger::ahead`]).
    pub fn event(&mut self, at: P, ev: ComputeEvent) {
        if let Some(reason) = self.ahead(&ev) {
            return self.reject(at, TIME_AHEAD, reason);
        }
        self.origin.push(self.positions.len());
        self.positions.push(at);
        self.outcomes.push((DONE, Outcome::Done));
        self.events.push(ev);
    }

    /// A record that cannot be processed: parked with its kind and reason.
    pub fn reject(&mut self, at: P, kind: &'static str, reason: impl Into<String>) {
        self.positions.push(at);
        self.outcomes.push((kind, Outcome::Park(reason.into())));
    }

    /// A record, or why it was rejected.
    pub fn record<E: Display + Kind>(&mut self, at: P, r: Result<ComputeEvent, E>) {
        match r {
            Ok(ev) => self.event(at, ev),
            Err(e) => self.reject(at, e.kind(), e.to_string()),
        }
    }

    /// The events to run through the pipeline.
    pub fn events(&self) -> &[ComputeEvent] {
        &self.events
    }

    /// Apply a pipeline report: the records of a failed state key are retried when the failure
    /// is transient and parked when it is not. With `budget_spent` (the platform will not
    /// deliver again), a retry becomes a park that says so.
    pub fn settle(&mut self, report: &BatchReport, budget_spent: bool) {
        for f in &report.failures {
            let settled = failure_outcome(f, budget_spent);
            for &e in &f.events {
                if let Some(&rec) = self.origin.get(e) {
                    self.outcomes[rec] = settled.clone();
                }
            }
        }
    }

    /// Every record with its position and outcome, in input order.
    pub fn outcomes(&self) -> impl Iterator<Item = (&P, &Outcome)> {
        self.positions.iter().zip(self.outcomes.iter().map(|(_, o)| o))
    }

    /// The record an event came from.
    pub fn origin_of(&self, event: usize) -> Option<&P> {
        self.origin.get(event).map(|&r| &self.positions[r])
    }

    /// Records in.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// No records.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Records with each outcome: (done, retry, park).
    pub fn counts(&self) -> (usize, usize, usize) {
        self.outcomes.iter().fold((0, 0, 0), |(d, r, p), (_, o)| match o {
            Outcome::Done => (d + 1, r, p),
            Outcome::Retry(_) => (d, r + 1, p),
            Outcome::Park(_) => (d, r, p + 1),
        })
    }

    /// The delivery's tally, keeping the first `samples` records that did not end `Done`.
    pub fn tally(&self, samples: usize) -> Tally {
        let mut t = Tally::new(samples);
        for (at, (kind, o)) in self.positions.iter().zip(&self.outcomes) {
            t.add(at, kind, o);
        }
        t
    }
}

/// What becomes of the records of a failed state key: retried when the failure is transient
/// and the platform will deliver again, else parked with the reason.
fn failure_outcome(f: &KeyFailure, budget_spent: bool) -> (&'static str, Outcome) {
    let reason = format!("state key {}: {}", f.key.storage_id(), f.error);
    match (f.error.retryable(), budget_spent) {
        (true, false) => (STATE_TRANSIENT, Outcome::Retry(reason)),
        (true, true) => (
            RETRY_BUDGET_SPENT,
            Outcome::Park(format!("retry budget spent; last error: {reason}")),
        ),
        (false, _) => (STATE_PERMANENT, Outcome::Park(reason)),
    }
}

/// The kind of a record that ended `Done`.
pub const DONE: &str = "done";
/// The kind of a record whose state key failed transiently.
pub const STATE_TRANSIENT: &str = "state_transient";
/// The kind of a record whose state key failed permanently.
pub const STATE_PERMANENT: &str = "state_permanent";
/// The kind of a record parked because the platform will not deliver it again.
pub const RETRY_BUDGET_SPENT: &str = "retry_budget_spent";

/// A short, stable name for why a record was rejected, for counting by kind.
pub trait Kind {
    /// The kind, e.g. `invalid_json`.
    fn kind(&self) -> &'static str;
}

impl Kind for crate::normalize::NormalizeError {
    fn kind(&self) -> &'static str {
        crate::normalize::NormalizeError::kind(self)
    }
}

impl Kind for crate::source::RecordError {
    fn kind(&self) -> &'static str {
        crate::source::RecordError::kind(self)
    }
}

/// A bounded summary of outcomes: counts by outcome and by kind, and the first few records
/// that did not end `Done` with their position and reason (escaped and clipped, so a hostile
/// reason cannot forge a log line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    done: u64,
    retry: u64,
    park: u64,
    kinds: BTreeMap<&'static str, u64>,
    samples: Vec<String>,
    max_samples: usize,
}

/// Longest reason kept in a sample, in characters.
const SAMPLE_REASON: usize = 160;

impl Tally {
    /// An empty tally keeping up to `max_samples` samples.
    pub fn new(max_samples: usize) -> Tally {
        Tally {
            max_samples,
            ..Tally::default()
        }
    }

    /// `n` records processed.
    pub fn done(&mut self, n: u64) {
        self.done += n;
    }

    /// One record parked at `at`, with its kind and reason.
    pub fn park(&mut self, at: impl Display, kind: &'static str, reason: &str) {
        self.park += 1;
        self.note("parked", at, kind, reason);
    }

    /// One record to be delivered again.
    pub fn retry(&mut self, at: impl Display, kind: &'static str, reason: &str) {
        self.retry += 1;
        self.note("retry", at, kind, reason);
    }

    /// One record's outcome.
    pub fn add(&mut self, at: impl Display, kind: &'static str, outcome: &Outcome) {
        match outcome {
            Outcome::Done => self.done(1),
            Outcome::Retry(r) => self.retry(at, kind, r),
            Outcome::Park(r) => self.park(at, kind, r),
        }
    }

    fn note(&mut self, outcome: &str, at: impl Display, kind: &'static str, reason: &str) {
        *self.kinds.entry(kind).or_default() += 1;
        if self.samples.len() < self.max_samples {
            let at = crate::event::clip(&at.to_string(), SAMPLE_REASON);
            let reason = crate::event::clip(reason, SAMPLE_REASON);
            self.samples.push(format!(
                "{outcome} {}: {kind}: {}",
                at.escape_debug(),
                reason.escape_debug()
            ));
        }
    }

    /// The records of a pipeline report's failed keys, as [`Ledger::settle`] settles them, for
    /// an edge that streams rather than keeping a ledger; positions are the events' indexes in
    /// the batch.
    pub fn settle(&mut self, report: &BatchReport, budget_spent: bool) {
        for f in &report.failures {
            let (kind, outcome) = failure_outcome(f, budget_spent);
            for e in &f.events {
                self.add(format_args!("batch event {e}"), kind, &outcome);
            }
        }
    }

    /// Add another tally (of a later part of the same input).
    pub fn merge(&mut self, other: Tally) {
        self.done += other.done;
        self.retry += other.retry;
        self.park += other.park;
        for (k, n) in other.kinds {
            *self.kinds.entry(k).or_default() += n;
        }
        let room = self.max_samples.saturating_sub(self.samples.len());
        self.samples.extend(other.samples.into_iter().take(room));
    }

    /// Records with each outcome: (done, retry, park).
    pub fn counts(&self) -> (u64, u64, u64) {
        (self.done, self.retry, self.park)
    }

    /// Records that did not end `Done`, by kind, in name order.
    pub fn kinds(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.kinds.iter().map(|(k, n)| (*k, *n))
    }

    /// The first records that did not end `Done`: `parked|retry POSITION: KIND: REASON`.
    pub fn samples(&self) -> &[String] {
        &self.samples
    }

    /// Records that did not end `Done` beyond the samples.
    pub fn unsampled(&self) -> u64 {
        (self.retry + self.park).saturating_sub(self.samples.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::StateKey;
    use crate::pipeline::{KeyFailure, PipelineError};
    use crate::ports::StoreError;

    fn event(id: &str) -> ComputeEvent {
        let v = serde_json::json!({
            "eventVersion": "1.08", "eventSource": "ec2.amazonaws.com", "eventName": "CreateSnapshot",
            "eventTime": "2026-11-06T10:00:00Z", "eventID": id, "awsRegion": "us-east-1",
            "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "userName": "u", "accountId": "111122223333", "arn": "arn:aws:iam::111122223333:user/u"},
            "requestParameters": {"volumeId": "vol-1"}
        });
        crate::normalize(v).unwrap()
    }

    #[test]
    fn an_event_dated_over_an_hour_ahead_of_the_clock_is_parked_and_the_rest_kept() {
        let t = event("x").time_ms;
        let mut l: Ledger<usize> = Ledger::received_at(t - 2 * MAX_AHEAD_MS);
        l.event(0, event("ahead"));
        let mut now = Ledger::received_at(t - MAX_AHEAD_MS + 1);
        now.event(0, event("skewed"));
        l.event(1, event("ahead-too"));
        assert_eq!(l.events().len(), 0);
        assert_eq!(l.counts(), (0, 0, 2));
        let tally = l.tally(2);
        assert_eq!(tally.kinds().collect::<Vec<_>>(), [("time_ahead", 2)]);
        assert!(
            tally.samples()[0].contains("2026-11-06T10:00:00") && tally.samples()[0].contains("2.0 h ahead"),
            "{:?}",
            tally.samples()
        );
        assert_eq!(
            now.events().len(),
            1,
            "less than an hour ahead is clock skew, counted"
        );
        assert_eq!(
            Ledger::<usize>::new().not_after,
            i64::MAX,
            "no clock, no limit (the CLI's backtests)"
        );
    }

    #[test]
    fn failures_map_to_retry_park_and_spent_budgets_park() {
        let mut l: Ledger<usize> = Ledger::new();
        l.event(0, event("a"));
        l.reject(1, "invalid_json", "invalid JSON");
        l.event(2, event("b"));
        l.event(3, event("c"));
        let fail = |events, error| KeyFailure {
            key: StateKey("k".into()),
            events,
            error,
        };
        let report = BatchReport {
            failures: vec![
                fail(vec![1], PipelineError::Store(StoreError::Transient("503".into()))),
                fail(vec![2], PipelineError::Store(StoreError::Permanent("403".into()))),
            ],
            ..Default::default()
        };
        let mut spent = l.clone();
        l.settle(&report, false);
        let got: Vec<&str> = l.outcomes().map(|(_, o)| o.as_str()).collect();
        assert_eq!(got, ["done", "park", "retry", "park"]);
        assert_eq!(l.counts(), (1, 1, 2));
        assert_eq!(l.origin_of(2), Some(&3));
        spent.settle(&report, true);
        let (_, o) = spent.outcomes().nth(2).unwrap();
        assert!(matches!(o, Outcome::Park(r) if r.starts_with("retry budget spent") && r.contains("503")));

        let t = l.tally(2);
        assert_eq!(t.counts(), (1, 1, 2));
        let kinds: Vec<_> = t.kinds().collect();
        assert_eq!(
            kinds,
            [
                ("invalid_json", 1),
                ("state_permanent", 1),
                ("state_transient", 1)
            ]
        );
        assert_eq!(t.samples()[0], "parked 1: invalid_json: invalid JSON");
        assert!(
            t.samples()[1].starts_with("retry 2: state_transient: state key ")
                && t.samples()[1].ends_with("503")
        );
        assert_eq!(t.unsampled(), 1);
        let spent_kinds: Vec<_> = spent.tally(0).kinds().collect();
        assert_eq!(
            spent_kinds,
            [
                ("invalid_json", 1),
                ("retry_budget_spent", 1),
                ("state_permanent", 1)
            ]
        );

        // A streaming edge settles the same report the same way, without a ledger.
        let mut streamed = Tally::new(1);
        streamed.settle(&report, false);
        assert_eq!(streamed.counts(), (0, 1, 1));
        assert!(streamed.samples()[0].starts_with("retry batch event 1: state_transient: state key "));
        let mut spent_stream = Tally::new(0);
        spent_stream.settle(&report, true);
        assert_eq!(spent_stream.counts(), (0, 0, 2));
    }

    #[test]
    fn tallies_merge_bound_their_samples_and_escape_hostile_text() {
        let mut a = Tally::new(2);
        a.done(3);
        a.park("f.jsonl:1", "invalid_json", "expected value\n\u{1b}[31m");
        let mut b = Tally::new(5);
        b.park("f.jsonl:9", "truncated", "cut");
        b.retry("f.jsonl:10", "state_transient", "503");
        b.done(1);
        a.merge(b);
        assert_eq!(a.counts(), (4, 1, 2));
        assert_eq!(a.samples().len(), 2, "bounded by the first tally's limit");
        assert_eq!(a.unsampled(), 1);
        let line = &a.samples()[0];
        assert!(!line.contains('\n') && !line.contains('\u{1b}'), "{line}");
        assert!(
            line.starts_with("parked f.jsonl:1: invalid_json: expected value"),
            "{line}"
        );
        assert_eq!(a.kinds().map(|(_, n)| n).sum::<u64>(), 3);
        let long = "x".repeat(10_000);
        let mut c = Tally::new(1);
        c.park(&long, "invalid_json", &long);
        assert!(c.samples()[0].len() < 400, "clipped: {}", c.samples()[0].len());
    }
}
