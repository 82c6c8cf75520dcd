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

use crate::event::ComputeEvent;
use crate::pipeline::BatchReport;
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

/// Records of one delivery, with positions, the events they became and their outcomes.
#[derive(Debug, Clone)]
pub struct Ledger<P> {
    positions: Vec<P>,
    outcomes: Vec<Outcome>,
    events: Vec<ComputeEvent>,
    /// For each event, the record it came from.
    origin: Vec<usize>,
}

impl<P> Default for Ledger<P> {
    fn default() -> Self {
        Ledger {
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

    /// A record that became an event; its outcome is settled by [`Ledger::settle`].
    pub fn event(&mut self, at: P, ev: ComputeEvent) {
        self.origin.push(self.positions.len());
        self.positions.push(at);
        self.outcomes.push(Outcome::Done);
        self.events.push(ev);
    }

    /// A record that cannot be processed: parked with its reason.
    pub fn reject(&mut self, at: P, reason: impl Into<String>) {
        self.positions.push(at);
        self.outcomes.push(Outcome::Park(reason.into()));
    }

    /// A record, or why it was rejected.
    pub fn record<E: Display>(&mut self, at: P, r: Result<ComputeEvent, E>) {
        match r {
            Ok(ev) => self.event(at, ev),
            Err(e) => self.reject(at, e.to_string()),
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
            let reason = format!("state key {}: {}", f.key.storage_id(), f.error);
            let outcome = match (f.error.retryable(), budget_spent) {
                (true, false) => Outcome::Retry(reason),
                (true, true) => Outcome::Park(format!("retry budget spent; last error: {reason}")),
                (false, _) => Outcome::Park(reason),
            };
            for &e in &f.events {
                if let Some(&rec) = self.origin.get(e) {
                    self.outcomes[rec] = outcome.clone();
                }
            }
        }
    }

    /// Every record with its position and outcome, in input order.
    pub fn outcomes(&self) -> impl Iterator<Item = (&P, &Outcome)> {
        self.positions.iter().zip(&self.outcomes)
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
        self.outcomes.iter().fold((0, 0, 0), |(d, r, p), o| match o {
            Outcome::Done => (d + 1, r, p),
            Outcome::Retry(_) => (d, r + 1, p),
            Outcome::Park(_) => (d, r, p + 1),
        })
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
    fn failures_map_to_retry_park_and_spent_budgets_park() {
        let mut l: Ledger<usize> = Ledger::new();
        l.event(0, event("a"));
        l.reject(1, "invalid JSON");
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
    }
}
